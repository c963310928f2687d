/**
 * `Deno.bench` groups: for each scenario the package (the target) and both
 * baselines, the original package's request path (`baseline: true`) and
 * the bare cryptography. Run with `deno task bench`. For ratios that hold
 * up on a machine whose speed swings, use `ratios.ts`.
 *
 * @module
 */

import { buildScenarios } from "./_scenarios.ts";

const scenarios = await buildScenarios();

for (const scenario of scenarios) {
  for (const [name, op] of scenario.impls) {
    Deno.bench({
      name: `${scenario.id}: ${name}`,
      group: scenario.title,
      baseline: name === "original",
      async fn() {
        await op();
      },
    });
  }
}
