/**
 * A one-line description of the machine a benchmark ran on.
 *
 * @module
 */

/**
 * Describes the machine: CPU model and count, OS release, Deno and V8.
 *
 * @returns A line such as `Intel(R) Xeon(R) Processor x2, linux 6.1.0, Deno
 * 2.9.6 (V8 ...)`.
 */
export function describeMachine(): string {
  const cores = navigator.hardwareConcurrency;
  let cpu =
    `${cores} cores (CPU model unreadable: Deno needs -A for /proc/cpuinfo)`;
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1];
    if (model !== undefined) cpu = `${model} x${cores}`;
  } catch {
    // Not Linux, or not run with -A: leave the model out.
  }
  let os = Deno.build.os as string;
  try {
    os = `${Deno.build.os} ${Deno.osRelease()}`;
  } catch {
    // No --allow-sys.
  }
  return `${cpu}, ${os}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
}
