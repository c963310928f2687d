/**
 * Drives the local PDS's real OAuth pages in a browser: the sign-in form,
 * then the consent page, up to the redirect back to the app.
 *
 * ```ts ignore
 * const url = await client.authorize("alice.test", { scope });
 * const landed = await signInThroughPds(page, url, {
 *   password: network.accounts.alice!.password,
 *   redirectUri,
 * });
 * await client.callback(landed.searchParams);
 * ```
 *
 * @module
 */

import type { Page, Request } from "npm:playwright-core@1.65.1";

/** Options for {@linkcode signInThroughPds}. */
export interface SignInThroughPdsOptions {
  /** The account's password, typed into the sign-in form. */
  password: string;
  /**
   * The redirect URI the PDS sends the browser back to; resolving waits for
   * a navigation to a URL that starts with it.
   */
  redirectUri: string;
  /**
   * The handle, typed in only when the form's handle field is empty (the
   * PDS pre-fills it when `authorize()` was given a handle).
   */
  handle?: string;
  /**
   * Which consent button to press.
   * @default {"Authorize"}
   */
  consent?: "Authorize" | "Deny access";
  /**
   * Answer the redirect in the browser instead of letting it reach the app
   * (for callers with no server on the redirect URI).
   * @default {false}
   */
  intercept?: boolean;
  /**
   * How long the whole flow may take, in milliseconds.
   * @default {30_000}
   */
  timeoutMs?: number;
}

/**
 * Opens an authorize URL, signs in with the password, presses the consent
 * button and resolves with the URL the browser is redirected to (with
 * `code`, `state` and `iss`, or `error`). A PDS that remembers the browser
 * may skip the form or the consent page; both cases are handled.
 *
 * @param page A playwright-core page.
 * @param authorizeUrl What `client.authorize()` returned.
 * @param options The password, the redirect URI and the consent choice.
 * @returns The redirect URL, as the browser requested it.
 * @throws {Error} When no redirect comes in time; the message holds the
 * page's URL and visible text (a wrong password shows there).
 */
export async function signInThroughPds(
  page: Page,
  authorizeUrl: URL | string,
  options: SignInThroughPdsOptions,
): Promise<URL> {
  const timeout = options.timeoutMs ?? 30_000;
  const isRedirect = (url: string): boolean =>
    url.startsWith(options.redirectUri);
  if (options.intercept) {
    await page.route(
      (url) => isRedirect(url.href),
      (route) =>
        route.fulfill({
          status: 200,
          contentType: "text/html",
          body: "<!doctype html><title>Signed in</title><p>Signed in</p>",
        }),
    );
  }
  const redirected = page.waitForRequest(
    (request: Request) =>
      request.isNavigationRequest() && isRedirect(request.url()),
    { timeout },
  ).then(async (request) => {
    // Let the app answer the redirect before resolving (null when nothing
    // listens there: the URL is still what the PDS sent).
    await request.response().catch(() => null);
    return new URL(request.url());
  });
  // Keep an early rejection (a timeout) from going unhandled while the
  // steps below run; it is awaited at the end.
  redirected.catch(() => {});

  try {
    // A PDS that remembers the browser's sign-in and consent redirects at
    // once, which interrupts goto(): that is success, not an error.
    const opened = page.goto(String(authorizeUrl), { timeout }).then(
      () => null,
      (error: unknown) => error,
    );
    const early = await Promise.race([opened, redirected.then(() => "done")]);
    if (early === "done") return await redirected;
    if (early !== null) {
      // goto() fails as soon as the redirect interrupts it, which can be
      // before the app has answered: give the redirect a moment to land.
      const landed = await Promise.race([
        redirected.then(() => true, () => false),
        new Promise<false>((resolve) =>
          setTimeout(() => resolve(false), 5_000)
        ),
      ]);
      if (landed) return await redirected;
      throw early;
    }
    const password = page.locator("input[type=password]");
    const consent = page.getByRole("button", {
      name: options.consent ?? "Authorize",
      exact: true,
    });
    const first = await Promise.race([
      password.waitFor({ timeout }).then(() => "sign-in" as const),
      consent.waitFor({ timeout }).then(() => "consent" as const),
      redirected.then(() => "done" as const),
    ]);
    if (first === "sign-in") {
      const handle = page.locator(
        "input[type=text], input[name=username], input[autocomplete=username]",
      ).first();
      if (
        options.handle !== undefined && (await handle.count()) > 0 &&
        (await handle.inputValue()) === ""
      ) {
        await handle.fill(options.handle);
      }
      await password.fill(options.password);
      await password.press("Enter");
    }
    if (first !== "done") {
      const next = await Promise.race([
        consent.waitFor({ timeout }).then(() => "consent" as const),
        redirected.then(() => "done" as const),
      ]);
      if (next === "consent") await consent.click({ timeout });
    }
    return await redirected;
  } catch (error) {
    const text = await page.locator("body").innerText({ timeout: 1_000 })
      .catch(() => "(no page text)");
    throw new Error(
      `Signing in through the PDS did not reach ${options.redirectUri}: ${
        error instanceof Error ? error.message : String(error)
      }\nThe page is ${page.url()} and shows:\n${text.slice(0, 2_000)}`,
      { cause: error },
    );
  } finally {
    if (options.intercept) {
      await page.unrouteAll({ behavior: "ignoreErrors" }).catch(() => {});
    }
  }
}
