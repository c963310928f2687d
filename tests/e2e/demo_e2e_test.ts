// deno-lint-ignore-file no-console -- the test explains why it was skipped
/**
 * Drives the demo app in a real headless Chromium: sign-in, cookie flags,
 * revocation from another browser, sign-out and Bearer tokens. It uses the
 * system's Chromium (Debian's `chromium` package, or CHROMIUM_PATH) through
 * playwright-core, which never downloads a browser.
 *
 * Environment:
 * - CHROMIUM_PATH: the browser to drive (default /usr/bin/chromium).
 * - CI=true: a missing browser fails the test instead of skipping it.
 * - UPDATE_SCREENSHOT=1: also write the devices page to docs/demo.png.
 * - KEEP_SCREENSHOTS=1: keep the temporary folder of screenshots.
 */

import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "npm:playwright-core@1.65.1";
import { createDemoApp } from "../../examples/demo/app.ts";
import { loadPlaywright } from "./_playwright.ts";

const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const ON_CI = Deno.env.get("CI") === "true";
const HAS_CHROMIUM = isFile(CHROMIUM_PATH);

const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  // The server listens on 127.0.0.1 only; never let localhost mean ::1.
  "--host-resolver-rules=MAP localhost 127.0.0.1",
];

const DESKTOP_UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const PHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const VIEWPORT = { width: 1040, height: 780 };

if (!HAS_CHROMIUM && !ON_CI) {
  console.log(
    `Skipping the demo browser test: no Chromium at ${CHROMIUM_PATH}. Install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH to a Chrome or Chromium binary.`,
  );
}

Deno.test({
  name: "demo app in Chromium: sign-in, devices, sign-out and Bearer tokens",
  ignore: !HAS_CHROMIUM && !ON_CI,
  async fn(t) {
    if (!HAS_CHROMIUM) {
      throw new Error(
        `CI=true but there is no Chromium at ${CHROMIUM_PATH}: install Debian's chromium package (apt-get install -y chromium) in the CI setup, or set CHROMIUM_PATH`,
      );
    }
    const { chromium } = await loadPlaywright();
    const shots = await Deno.makeTempDir({ prefix: "demo-e2e-" });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      createDemoApp({ cookieSecret: crypto.randomUUID().repeat(2) }),
    );
    const port = server.addr.port;
    const origin = `http://localhost:${port}`;
    const api = `http://127.0.0.1:${port}/api/me`;
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        args: LAUNCH_ARGS,
        timeout: 60_000,
      });
      const laptop = await newContext(browser, DESKTOP_UA);
      const phone = await newContext(browser, PHONE_UA);
      const a = await laptop.newPage();
      const b = await phone.newPage();
      let did = "";
      let token = "";

      await t.step("the sign-in page says it stands in for OAuth", async () => {
        const response = await a.goto(`${origin}/`);
        assert.equal(response?.status(), 200);
        assert.equal(await a.textContent("h1"), "Sign in");
        const text = await a.textContent("main");
        assert.match(text!, /stands in for the OAuth callback/);
        assert.match(text!, /made-up DID in the\s+did:plc\s+format/);
        await screenshot(a, shots, "signin");
      });

      await t.step("an invalid DID shows the validation message", async () => {
        await a.fill("#identifier", "did:PLC:not-valid");
        const [response] = await Promise.all([
          a.waitForResponse(`${origin}/signin`),
          a.click("button[type=submit] >> text=Sign in"),
        ]);
        assert.equal(response.status(), 400);
        const notice = await a.textContent(".notice.error");
        assert.match(notice!, /Invalid did: expected a DID such as/);
        assert.equal(await a.inputValue("#identifier"), "did:PLC:not-valid");
        await screenshot(a, shots, "invalid");
        assert.deepEqual(await sessionCookies(laptop, origin), []);
      });

      await t.step("signing in with a handle sets the session", async () => {
        await a.fill("#identifier", "alice.bsky.social");
        await Promise.all([
          a.waitForURL(`${origin}/`),
          a.click("button[type=submit] >> text=Sign in"),
        ]);
        assert.equal(
          await a.textContent("h1"),
          "Signed in as @alice.bsky.social",
        );
        did = (await a.textContent("#did"))!;
        assert.match(did, /^did:plc:[a-z2-7]{24}$/);
      });

      await t.step("the cookie is HttpOnly, SameSite=Lax, Secure", async () => {
        const cookies = await sessionCookies(laptop, origin);
        assert.equal(cookies.length, 1);
        const [cookie] = cookies;
        assert.equal(cookie!.httpOnly, true);
        assert.equal(cookie!.sameSite, "Lax");
        assert.equal(cookie!.secure, true);
        assert.equal(cookie!.path, "/");
        assert.match(cookie!.value, /^Fe26\.2\*/);
        assert.equal(await a.evaluate("document.cookie"), "");
      });

      await t.step("a reload keeps the session", async () => {
        const response = await a.reload();
        assert.equal(response?.status(), 200);
        assert.equal(await a.textContent("#did"), did);
        assert.match((await a.textContent("#handle"))!, /alice\.bsky\.social/);
        await screenshot(a, shots, "home");
      });

      await t.step("a second browser signs in as the same DID", async () => {
        await b.goto(`${origin}/`);
        await b.fill("#identifier", did);
        await Promise.all([
          b.waitForURL(`${origin}/`),
          b.click("button[type=submit] >> text=Sign in"),
        ]);
        assert.equal(await b.textContent("#did"), did);
        assert.match((await b.textContent("#handle"))!, /none/);
        assert.equal((await sessionCookies(phone, origin)).length, 1);
      });

      await t.step("the devices page lists both browsers", async () => {
        await a.goto(`${origin}/devices`);
        assert.equal(await a.locator("tbody tr").count(), 2);
        const mine = a.locator('tr[data-current="true"]');
        assert.match((await mine.textContent())!, /Chrome on macOS/);
        assert.match((await mine.textContent())!, /This device/);
        const other = a.locator('tr[data-current="false"]');
        assert.match((await other.textContent())!, /Safari on iPhone/);
        assert.match((await other.textContent())!, /127\.0\.0\.1/);
        const file = await screenshot(a, shots, "devices");
        if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
          const docs = new URL("../../docs/demo.png", import.meta.url);
          await Deno.mkdir(new URL(".", docs), { recursive: true });
          await Deno.copyFile(file, docs);
          console.log(`Updated ${docs.pathname}`);
        }
      });

      await t.step("revoking the other browser signs it out", async () => {
        await Promise.all([
          a.waitForResponse(`${origin}/devices/revoke`),
          a.click('tr[data-current="false"] button'),
        ]);
        assert.match(
          (await a.textContent(".notice.success"))!,
          /Session revoked/,
        );
        assert.equal(await a.locator("tbody tr").count(), 1);
        // The second browser still holds its cookie until its next request.
        assert.equal((await sessionCookies(phone, origin)).length, 1);
        const response = await b.reload();
        assert.equal(response?.status(), 200);
        assert.equal(await b.textContent("h1"), "Sign in");
        assert.match(
          (await b.textContent(".notice"))!,
          /Session was revoked \(SESSION_REVOKED\)/,
        );
        assert.deepEqual(await sessionCookies(phone, origin), []);
      });

      await t.step("a minted Bearer token works with /api/me", async () => {
        await a.goto(`${origin}/token`);
        await Promise.all([
          a.waitForResponse(`${origin}/token`),
          a.click("text=Mint a token"),
        ]);
        token = (await a.textContent("#token"))!.trim();
        assert.match(token, /^Fe26\.2\*/);
        assert.equal(
          (await a.textContent("#curl"))!.trim(),
          `curl -H 'Authorization: Bearer ${token}' ${origin}/api/me`,
        );
        await screenshot(a, shots, "token");
        const response = await fetch(api, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(response.status, 200);
        const body = await response.json();
        assert.equal(body.did, did);
        assert.equal(body.via, "bearer");
      });

      await t.step(
        "/api/me answers for the cookie in the browser",
        async () => {
          // Another tab, so the token page stays open for the next step.
          const tab = await laptop.newPage();
          const response = await tab.goto(`${origin}/api/me`);
          assert.equal(response?.status(), 200);
          const body = await response!.json();
          assert.equal(body.did, did);
          assert.equal(body.via, "cookie");
          assert.equal(body.handle, "alice.bsky.social");
          await tab.close();
        },
      );

      await t.step(
        "a revoked token is rejected with TOKEN_REVOKED",
        async () => {
          await Promise.all([
            a.waitForResponse(`${origin}/token/revoke`),
            a.click("text=Revoke this token"),
          ]);
          assert.match(
            (await a.textContent(".notice.success"))!,
            /Token revoked/,
          );
          const response = await fetch(api, {
            headers: { authorization: `Bearer ${token}` },
          });
          assert.equal(response.status, 401);
          assert.deepEqual(await response.json(), {
            error: "TOKEN_REVOKED",
            message: "Bearer token was revoked",
          });
        },
      );

      await t.step("signing out clears the cookie", async () => {
        await a.goto(`${origin}/`);
        await Promise.all([
          a.waitForURL(`${origin}/`),
          a.click("header button >> text=Sign out"),
        ]);
        assert.equal(await a.textContent("h1"), "Sign in");
        assert.deepEqual(await sessionCookies(laptop, origin), []);
        const response = await a.goto(`${origin}/api/me`);
        assert.equal(response?.status(), 401);
        assert.equal((await response!.json()).error, "NO_COOKIE");
      });

      await t.step("every screenshot rendered", async () => {
        for (const name of ["signin", "invalid", "home", "devices", "token"]) {
          const bytes = await Deno.readFile(`${shots}/${name}.png`);
          assertPng(bytes, name);
        }
      });

      await laptop.close();
      await phone.close();
    } finally {
      await browser?.close();
      await server.shutdown();
      if (Deno.env.get("KEEP_SCREENSHOTS") === "1") {
        console.log(`Screenshots kept in ${shots}`);
      } else {
        await Deno.remove(shots, { recursive: true });
      }
    }
  },
});

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

/** The session cookies the browser holds for the demo's origin. */
async function sessionCookies(context: BrowserContext, origin: string) {
  return (await context.cookies(origin)).filter((c) => c.name === "sid");
}

/** Saves a full-page screenshot and returns its path. */
async function screenshot(
  page: Page,
  folder: string,
  name: string,
): Promise<string> {
  const path = `${folder}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  assertPng(await Deno.readFile(path), name);
  return path;
}

/** Checks a PNG's signature and that its image is at least the viewport. */
function assertPng(bytes: Uint8Array, name: string): void {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert.deepEqual([...bytes.subarray(0, 8)], signature, `${name} is a PNG`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  assert.equal(width, VIEWPORT.width, `${name} width`);
  assert.ok(height >= VIEWPORT.height, `${name} height`);
  // A blank page compresses to a few hundred bytes; a rendered one does not.
  assert.ok(bytes.byteLength > 10_000, `${name} has content`);
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
