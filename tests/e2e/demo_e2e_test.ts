// deno-lint-ignore-file no-console -- the test explains skips and where screenshots went
/**
 * The demo in a real headless Chromium against a real local PLC directory
 * and PDS (dev/pds/): AT Protocol OAuth through the PDS's own sign-in and
 * consent pages, two browser contexts as two devices, a hand-off code
 * redeemed for a Bearer token, re-authentication for the sensitive page,
 * the PDS going down and coming back, a refused cross-origin form, sign out
 * everywhere (after which the PDS rejects the old access token), and the
 * PDS ending the OAuth session. Back and Reload after every form.
 *
 * Environment:
 * - CHROMIUM_PATH: the browser to drive (default /usr/bin/chromium).
 * - CI=true: a missing browser or network fails instead of skipping.
 * - UPDATE_SCREENSHOTS=1: refresh docs/demo.png and docs/walkthrough.gif
 *   (ImageMagick's `convert`) from this run's screenshots.
 * - KEEP_SCREENSHOTS=1: keep the temporary folder of screenshots.
 */

import assert from "node:assert/strict";
import type {
  Browser,
  BrowserContext,
  Frame,
  Page,
} from "npm:playwright-core@1.65.1";
import {
  NodeOAuthClient,
  type NodeSavedSession,
} from "npm:@atproto/oauth-client-node@0.5.3";
import {
  type AtprotoNetwork,
  atprotoNetworkAvailable,
  startAtprotoNetwork,
} from "../../dev/pds/mod.ts";
import { createDemoApp, type DemoApp } from "../../examples/demo/app.ts";
import { SCOPE } from "../../examples/demo/oauth.ts";
import { redeemLine } from "../../examples/demo/views.ts";
import { loopbackClientMetadata } from "../oauth/_pds.ts";
import {
  chromiumAvailable,
  launchChromium,
  ON_CI,
  requireChromium,
} from "./_chromium.ts";

const HAS_CHROMIUM = chromiumAvailable("the demo e2e test");
const DESKTOP_UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const PHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const VIEWPORT = { width: 1040, height: 780 };
const REAUTH_SECONDS = 60;

if (atprotoNetworkAvailable("demo e2e")) {
  Deno.test({
    name:
      "demo in Chromium: OAuth sign-in at the local PDS, devices, hand-off token, re-authentication, PDS down, sign out everywhere",
    ignore: !HAS_CHROMIUM && !ON_CI,
    // The OAuth client keeps caches with timers of its own.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      requireChromium();
      const shots = await Deno.makeTempDir({ prefix: "demo-e2e-" });
      const logs: string[] = [];
      const secrets: string[] = [];
      let skew = 0;
      let app: DemoApp | undefined;
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (request, info) => app!.handler(request, info),
      );
      const origin = `http://127.0.0.1:${server.addr.port}`;
      // Another origin on the same site (another port), for the CSRF step.
      const evil = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        () =>
          new Response(
            `<!doctype html><title>Elsewhere</title><form method="post" action="${origin}/signout-everywhere"><button>Win a prize</button></form>`,
            { headers: { "content-type": "text/html" } },
          ),
      );
      const evilOrigin = `http://127.0.0.1:${evil.addr.port}`;
      let network: AtprotoNetwork | undefined;
      let browser: Browser | undefined;
      try {
        network = await startAtprotoNetwork({ accounts: [{ name: "alice" }] });
        const alice = network.accounts.alice!;
        app = createDemoApp({
          origin,
          network,
          testAccount: { handle: alice.handle, password: alice.password },
          reauthSeconds: REAUTH_SECONDS,
          now: () => Date.now() + skew,
          log: (line) => void logs.push(line),
        });
        browser = await launchChromium();
        const laptop = await newContext(browser, DESKTOP_UA);
        const phone = await newContext(browser, PHONE_UA);
        const a = await laptop.newPage();
        const b = await phone.newPage();
        const shot = (page: Page, name: string): Promise<string> =>
          screenshot(page, shots, name);

        /** From the app's sign-in form through the PDS's pages and back. */
        const signIn = async (
          page: Page,
          options: { shots?: boolean; from?: "form" | "button" } = {},
        ): Promise<void> => {
          // Back at the app once the browser has been away at the PDS (and
          // through the callback's redirect).
          let away = false;
          let arrived = (): void => {};
          const onNavigated = (frame: Frame): void => {
            if (frame !== page.mainFrame()) return;
            const url = new URL(frame.url());
            if (url.origin !== origin) away = true;
            else if (away && url.pathname !== "/oauth/callback") arrived();
          };
          page.on("framenavigated", onNavigated);
          let timer: ReturnType<typeof setTimeout> | undefined;
          const back = new Promise<void>((resolve, reject) => {
            arrived = resolve;
            timer = setTimeout(
              () => reject(new Error(`no way back from ${page.url()}`)),
              30_000,
            );
          }).finally(() => {
            clearTimeout(timer);
            page.off("framenavigated", onNavigated);
          });
          back.catch(() => {});
          if (options.from !== "button") {
            await page.goto(`${origin}/signin`);
            await page.fill("#handle", alice.handle);
          }
          await page.click("main button[type=submit]");
          const password = page.locator("input[type=password]");
          const consent = page.getByRole("button", {
            name: "Authorize",
            exact: true,
          });
          const first = await Promise.race([
            password.waitFor().then(() => "sign-in" as const),
            consent.waitFor().then(() => "consent" as const),
            back.then(() => "done" as const),
          ]);
          if (first === "sign-in") {
            if (options.shots) await shot(page, "03-pds-sign-in");
            await password.fill(alice.password);
            await password.press("Enter");
          }
          if (first !== "done") {
            const next = await Promise.race([
              consent.waitFor().then(() => "consent" as const),
              back.then(() => "done" as const),
            ]);
            if (next === "consent") {
              if (options.shots) await shot(page, "04-pds-consent");
              await consent.click();
            }
          }
          await back;
        };

        /** Reload re-sends a GET; Back lands on a GET page, never a 404. */
        const reloadAndBack = async (page: Page): Promise<void> => {
          const here = page.url();
          const reloaded = await page.reload();
          assert.equal(reloaded?.request().method(), "GET");
          assert.ok(
            ![404, 405].includes(reloaded!.status()),
            `reload of ${here}`,
          );
          const previous = await page.goBack();
          if (previous !== null) {
            assert.equal(previous.request().method(), "GET");
            assert.ok(
              ![404, 405].includes(previous.status()),
              `back from ${here} to ${page.url()}`,
            );
          }
          await page.goto(here);
        };

        const layoutFits = async (page: Page): Promise<void> => {
          const [scroll, inner] = await page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]",
          ) as [number, number];
          assert.ok(scroll <= inner, `page is ${scroll}px wide in ${inner}px`);
        };

        await t.step(
          "the sign-in page shows the test account, and hostile input comes back escaped without breaking the layout",
          async () => {
            const response = await a.goto(`${origin}/`);
            assert.equal(response?.status(), 200);
            assert.equal(new URL(a.url()).pathname, "/signin");
            assert.equal(await a.textContent("#test-handle"), alice.handle);
            assert.equal(await a.textContent("#test-password"), alice.password);
            assert.equal(await a.inputValue("#handle"), alice.handle);
            await shot(a, "01-sign-in");
            const hostile = `<script>alert(1)</script>${"x".repeat(2_000)}`;
            await a.fill("#handle", hostile);
            await Promise.all([
              a.waitForURL(/notice=invalid-handle/),
              a.click("main button[type=submit]"),
            ]);
            assert.match(
              (await a.textContent(".notice.error"))!,
              /<script>alert\(1\)<\/script>x+…" is not a handle/,
            );
            assert.equal(await a.locator("main script").count(), 0);
            await layoutFits(a);
            await shot(a, "02-invalid-handle");
            await reloadAndBack(a);
          },
        );

        await t.step(
          "alice signs in on the laptop through the PDS's real sign-in and consent pages; Home shows what the PDS says",
          async () => {
            await signIn(a, { shots: true });
            assert.equal(new URL(a.url()).pathname, "/");
            assert.equal(
              await a.textContent("h1"),
              `Signed in as @${alice.handle}`,
            );
            assert.equal(await a.textContent("#did"), alice.did);
            assert.match((await a.textContent("#repo-handle"))!, /alice\.test/);
            assert.equal(await a.textContent("#repo-pds"), network!.pdsUrl);
            assert.match(
              (await a.textContent("#authenticated-at"))!,
              /just now/,
            );
            const [cookie, ...more] = (await laptop.cookies(origin)).filter((
              c,
            ) => c.name === "sid");
            assert.equal(more.length, 0);
            assert.equal(cookie!.httpOnly, true);
            assert.equal(cookie!.secure, true);
            assert.equal(cookie!.sameSite, "Lax");
            secrets.push(cookie!.value);
            await shot(a, "05-home");
            // Back leaves Home for the sign-in page, which is a GET that
            // sends a signed-in browser home again: never the PDS's form.
            await reloadAndBack(a);
            assert.equal(await a.textContent("#did"), alice.did);
          },
        );

        await t.step(
          "the phone signs in too, and Devices on the laptop lists both browsers",
          async () => {
            await signIn(b);
            assert.equal(await b.textContent("#did"), alice.did);
            await a.goto(`${origin}/devices`);
            const rows = a.locator("tbody tr");
            assert.equal(await rows.count(), 2);
            const mine = a.locator('tr[data-current="true"]');
            assert.match((await mine.textContent())!, /Chrome on macOS/);
            assert.match((await mine.textContent())!, /This device/);
            const other = a.locator('tr[data-current="false"]');
            assert.match((await other.textContent())!, /Safari on iPhone/);
            assert.match((await other.textContent())!, /127\.0\.0\.1/);
            assert.equal(await a.locator('tr[data-kind="cookie"]').count(), 2);
            await shot(a, "06-devices");
          },
        );

        await t.step(
          "a hand-off code becomes a Bearer token, which Devices lists and revokes",
          async () => {
            await a.goto(`${origin}/connect`);
            await Promise.all([
              a.waitForURL(`${origin}/connect`),
              a.click("#create-code"),
            ]);
            const link = (await a.getAttribute("#app-link", "href"))!;
            assert.match(
              link,
              /^atproto-sessions-demo:\/\/signed-in\?code=[A-Za-z0-9_-]{43}$/,
            );
            const code = new URL(link).searchParams.get("code")!;
            secrets.push(code);
            assert.equal(
              (await a.textContent("#curl-redeem"))!.trim(),
              redeemLine(origin, code),
            );
            await layoutFits(a);
            await shot(a, "07-connect");
            await reloadAndBack(a);
            assert.equal(await a.getAttribute("#app-link", "href"), link);

            const redeem = (): Promise<Response> =>
              fetch(`${origin}/api/handoff`, {
                method: "POST",
                body: new URLSearchParams({ code, label: "e2e phone app" }),
              });
            const first = await redeem();
            assert.equal(first.status, 200);
            const { token } = await first.json();
            secrets.push(token);
            const again = await redeem();
            assert.equal(again.status, 400, "a code works once");
            assert.equal((await again.json()).error, "invalid_code");
            const me = await fetch(`${origin}/api/me`, {
              headers: { authorization: `Bearer ${token}` },
            });
            assert.equal(me.status, 200);
            const body = await me.json();
            assert.equal(body.did, alice.did);
            assert.equal(body.via, "bearer");

            await a.goto(`${origin}/devices`);
            const row = a.locator('tr[data-kind="token"]');
            assert.equal(await row.count(), 1);
            assert.match((await row.textContent())!, /e2e phone app/);
            assert.match((await row.textContent())!, /Deno/);
            await shot(a, "08-devices-with-token");
            await Promise.all([
              a.waitForURL(/notice=revoked/),
              row.locator("button").click(),
            ]);
            assert.equal(await a.locator('tr[data-kind="token"]').count(), 0);
            const revoked = await fetch(`${origin}/api/me`, {
              headers: { authorization: `Bearer ${token}` },
            });
            assert.equal(revoked.status, 401);
            assert.equal((await revoked.json()).error, "TOKEN_REVOKED");
            await reloadAndBack(a);
          },
        );

        await t.step(
          "revoking the phone from the laptop signs the phone out with a clear message",
          async () => {
            await a.goto(`${origin}/devices`);
            await Promise.all([
              a.waitForURL(/notice=revoked/),
              a.click('tr[data-current="false"] button'),
            ]);
            assert.match(
              (await a.textContent(".notice.success"))!,
              /Session revoked/,
            );
            assert.equal(await a.locator("tbody tr").count(), 1);
            await reloadAndBack(a);
            await b.reload();
            assert.equal(new URL(b.url()).pathname, "/signin");
            assert.match(
              (await b.textContent(".notice"))!,
              /This browser was signed out/,
            );
            assert.deepEqual(
              (await phone.cookies(origin)).filter((c) => c.name === "sid"),
              [],
            );
            await shot(b, "09-phone-signed-out");
          },
        );

        await t.step(
          "the sensitive page opens after a fresh sign-in, and asks for real OAuth again once it is too old",
          async () => {
            await a.goto(`${origin}/sensitive`);
            assert.equal(await a.textContent("#email"), alice.email);
            await shot(a, "10-sensitive");
            skew += (REAUTH_SECONDS + 5) * 1000;
            await a.reload();
            assert.equal(await a.locator("#email").count(), 0);
            assert.match(
              (await a.textContent("#reauth-needed"))!,
              /needs a sign-in within the last 1 minute/,
            );
            await shot(a, "11-sign-in-again");
            await signIn(a, { from: "button" });
            assert.equal(new URL(a.url()).pathname, "/sensitive");
            assert.equal(await a.textContent("#email"), alice.email);
            await reloadAndBack(a);
            // The re-authentication replaced this browser's session.
            await a.goto(`${origin}/devices`);
            assert.equal(await a.locator("tbody tr").count(), 1);
            assert.equal(await a.locator('tr[data-current="true"]').count(), 1);
          },
        );

        await t.step(
          "with the PDS down pages say so and keep the user signed in; they recover when it is back",
          async () => {
            await network!.stopPds();
            const down = await a.goto(`${origin}/`);
            assert.equal(down?.status(), 503);
            assert.equal(
              await a.textContent("h1"),
              `Signed in as @${alice.handle}`,
            );
            assert.match(
              (await a.textContent(".notice.error"))!,
              /cannot be reached right now[\s\S]*still signed in/,
            );
            await shot(a, "12-pds-down");
            // Devices needs nothing from the PDS: it keeps working.
            const devices = await a.goto(`${origin}/devices`);
            assert.equal(devices?.status(), 200);
            assert.equal(await a.locator('tr[data-current="true"]').count(), 1);
            const sensitive = await a.goto(`${origin}/sensitive`);
            assert.equal(sensitive?.status(), 503);
            assert.match(
              (await a.textContent(".notice.error"))!,
              /still signed in/,
            );
            await network!.startPds();
            const back = await a.goto(`${origin}/`);
            assert.equal(back?.status(), 200);
            assert.match((await a.textContent("#repo-handle"))!, /alice\.test/);
            assert.equal(await a.locator(".notice.error").count(), 0);
          },
        );

        await t.step(
          "a cross-origin form is refused and the page names the origin expected",
          async () => {
            const evilPage = await laptop.newPage();
            await evilPage.goto(evilOrigin);
            const [response] = await Promise.all([
              evilPage.waitForResponse(`${origin}/signout-everywhere`),
              evilPage.click("button"),
            ]);
            assert.equal(response.status(), 403);
            await evilPage.waitForSelector("#message");
            const message = (await evilPage.textContent("#message"))!;
            assert.match(message, new RegExp(`page of\\s+${origin}`));
            assert.match(message, new RegExp(evilOrigin));
            await shot(evilPage, "13-cross-origin-refused");
            await evilPage.close();
            const still = await a.goto(`${origin}/`);
            assert.equal(still?.status(), 200);
            assert.equal(await a.textContent("#did"), alice.did);
          },
        );

        await t.step(
          "sign out everywhere revokes the OAuth session at the PDS, which then rejects the old access token",
          async () => {
            const saved = await app!.stores.sessionStore.get(alice.did) as
              | NodeSavedSession
              | undefined;
            assert.ok(
              saved?.tokenSet.access_token,
              "an OAuth session is stored",
            );
            secrets.push(saved.tokenSet.access_token);
            assert.equal(await probe(network!, saved, origin), 200);
            await a.goto(`${origin}/devices`);
            await Promise.all([
              a.waitForURL(/notice=everywhere/),
              a.click(`form[action="/signout-everywhere"] button`),
            ]);
            assert.match(
              (await a.textContent(".notice.success"))!,
              /revoked at your PDS, which no longer accepts its tokens/,
            );
            await shot(a, "14-signed-out-everywhere");
            assert.equal(
              await app!.stores.sessionStore.get(alice.did),
              undefined,
            );
            assert.equal(await probe(network!, saved, origin), 401);
            assert.equal(await network!.revokeOAuth(alice.did), 0);
            assert.deepEqual(await app!.sessions.listSessions(alice.did), []);
            await reloadAndBack(a);
            assert.equal(new URL(a.url()).pathname, "/signin");
          },
        );

        await t.step(
          "when the PDS ends the OAuth session, the next page signs the user out and says why",
          async () => {
            await signIn(a);
            assert.equal(await a.textContent("#did"), alice.did);
            assert.ok((await network!.revokeOAuth(alice.did)) >= 1);
            await a.goto(`${origin}/`);
            assert.equal(new URL(a.url()).pathname, "/signin");
            assert.match(
              (await a.textContent(".notice.error"))!,
              /OAuth session at your PDS has ended/,
            );
            assert.deepEqual(
              (await laptop.cookies(origin)).filter((c) => c.name === "sid"),
              [],
            );
            assert.deepEqual(await app!.sessions.listSessions(alice.did), []);
            await shot(a, "15-oauth-session-ended");
          },
        );

        await t.step(
          "the server logs one line per request, never a cookie, code or token",
          () => {
            assert.ok(logs.length > 40, `${logs.length} log lines`);
            for (const line of logs) {
              assert.match(line, /^(GET|POST) \/[^\s?]* \d{3}( [A-Z_]+)?$/);
            }
            const text = logs.join("\n");
            for (const secret of secrets) {
              assert.ok(!text.includes(secret), "a secret reached the log");
            }
            assert.ok(logs.includes("GET / 503 PDS_UNREACHABLE"));
            assert.ok(
              logs.includes("POST /signout-everywhere 403 ORIGIN_MISMATCH"),
            );
            assert.ok(
              logs.some((line) => line.endsWith("OAUTH_SESSION_ENDED")),
            );
          },
        );

        await laptop.close();
        await phone.close();

        if (Deno.env.get("UPDATE_SCREENSHOTS") === "1") {
          await updateDocs(shots);
        }
      } finally {
        await browser?.close();
        await network?.close();
        await server.shutdown();
        await evil.shutdown();
        if (Deno.env.get("KEEP_SCREENSHOTS") === "1") {
          await Deno.writeTextFile(`${shots}/requests.log`, logs.join("\n"));
          console.log(`Screenshots and the request log kept in ${shots}`);
        } else {
          await Deno.remove(shots, { recursive: true });
        }
      }
    },
  });
}

/**
 * Calls the PDS with a copy of a stored OAuth session, through a client of
 * its own (no refresh is possible for it: the grant belongs to the app's
 * client), and returns the status `getSession` answered.
 */
async function probe(
  network: AtprotoNetwork,
  saved: NodeSavedSession,
  origin: string,
): Promise<number> {
  const redirectUri = `${origin}/oauth/callback`;
  const sessions = new Map<string, NodeSavedSession>([
    [saved.tokenSet.sub, structuredClone(saved)],
  ]);
  const client = new NodeOAuthClient({
    clientMetadata: loopbackClientMetadata(redirectUri, SCOPE),
    allowHttp: true,
    handleResolver: network.pdsUrl,
    plcDirectoryUrl: network.plcUrl,
    stateStore: { get: () => undefined, set() {}, del() {} },
    sessionStore: {
      get: (key) => sessions.get(key),
      set: (key, value) => void sessions.set(key, value),
      del: (key) => void sessions.delete(key),
    },
    requestLock: (_name, fn) => Promise.resolve(fn()),
  });
  const session = await client.restore(saved.tokenSet.sub, false);
  const response = await session.fetchHandler(
    "/xrpc/com.atproto.server.getSession",
  );
  await response.body?.cancel();
  return response.status;
}

async function newContext(
  browser: Browser,
  userAgent: string,
): Promise<BrowserContext> {
  const context = await browser.newContext({
    userAgent,
    viewport: VIEWPORT,
    locale: "en-US",
    timezoneId: "UTC",
  });
  context.setDefaultTimeout(15_000);
  return context;
}

/** Saves a viewport screenshot (same size for every frame) and checks it. */
async function screenshot(
  page: Page,
  folder: string,
  name: string,
): Promise<string> {
  const path = `${folder}/${name}.png`;
  await page.screenshot({ path });
  assertPng(await Deno.readFile(path), name);
  return path;
}

/** Checks a PNG's signature, its size, and that it is not blank. */
function assertPng(bytes: Uint8Array, name: string): void {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...bytes.subarray(0, 8)], signature, `${name} is a PNG`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(16), VIEWPORT.width, `${name} width`);
  assert.equal(view.getUint32(20), VIEWPORT.height, `${name} height`);
  // A blank page compresses to a few hundred bytes; a rendered one does not.
  assert.ok(bytes.byteLength > 10_000, `${name} has content`);
}

/** docs/demo.png and docs/walkthrough.gif from this run's screenshots. */
async function updateDocs(shots: string): Promise<void> {
  const docs = new URL("../../docs/", import.meta.url).pathname;
  await Deno.mkdir(docs, { recursive: true });
  await Deno.copyFile(`${shots}/08-devices-with-token.png`, `${docs}demo.png`);
  const frames = (await Array.fromAsync(Deno.readDir(shots)))
    .map((entry) => entry.name)
    .filter((name) => /^\d\d-.*\.png$/.test(name))
    .sort()
    .map((name) => `${shots}/${name}`);
  const gif = `${docs}walkthrough.gif`;
  const { success, stderr } = await new Deno.Command("convert", {
    args: [
      "-delay",
      "220",
      "-loop",
      "0",
      ...frames,
      "-resize",
      "780x",
      "-layers",
      "Optimize",
      gif,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `convert failed: ${new TextDecoder().decode(stderr)}`);
  console.log(`Updated ${docs}demo.png and ${gif} (${frames.length} frames)`);
}
