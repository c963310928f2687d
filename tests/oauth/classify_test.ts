/**
 * classifyOAuthError() against objects the real clients throw: the classes
 * exported by @atproto/oauth-client-node 0.5.3 (oauth-client 0.8.7) and
 * @atcute/oauth-node-client 2, built as their own code builds them, plus
 * one thrown by a real NodeOAuthClient.restore().
 */

import assert from "node:assert/strict";
import {
  FetchRequestError,
  FetchResponseError,
  NodeOAuthClient,
  OAuthResolverError,
  OAuthResponseError,
  TokenInvalidError,
  TokenRefreshError,
  TokenRevokedError,
} from "npm:@atproto/oauth-client-node@0.5.3";
import * as atcute from "npm:@atcute/oauth-node-client@2";
import { MemorySessionStore } from "../../src/stores/memory.ts";
import { StoreError } from "../../src/errors.ts";
import {
  classifyOAuthError,
  summarizeOAuthError,
} from "../../src/oauth/_classify.ts";
import { RequestLockError } from "../../src/oauth/request_lock.ts";
import { createTestHost } from "./_host.ts";

const DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

function oauthResponse(status: number, error: string): OAuthResponseError {
  return new OAuthResponseError(
    new Response(JSON.stringify({ error }), { status }),
    { error, error_description: "described" },
  );
}

function fetchRequestError(): FetchRequestError {
  const request = new Request("http://localhost:2583/oauth/token");
  const refused = Object.assign(
    new Error("Connection refused (os error 111)"),
    {
      code: "ECONNREFUSED",
    },
  );
  return FetchRequestError.from(
    request,
    new TypeError("fetch failed", { cause: refused }),
  );
}

Deno.test("classifyOAuthError() sorts @atproto/oauth-client's errors by what they mean", async (t) => {
  const cases: Array<[string, () => unknown, "ENDED" | "UNAVAILABLE"]> = [
    [
      "TokenRefreshError <- OAuthResponseError 400 invalid_grant (PDS revoked the grant)",
      () =>
        new TokenRefreshError(DID, "Invalid refresh token", {
          cause: oauthResponse(400, "invalid_grant"),
        }),
      "ENDED",
    ],
    [
      "TokenRefreshError without a cause (nothing stored: deleted by another process)",
      () =>
        new TokenRefreshError(
          DID,
          "The session was deleted by another process",
        ),
      "ENDED",
    ],
    [
      "TokenRevokedError (revoked by this app)",
      () => new TokenRevokedError(DID),
      "ENDED",
    ],
    [
      "TokenInvalidError (access token refused after a refresh)",
      () => new TokenInvalidError(DID),
      "ENDED",
    ],
    [
      "a bare OAuthResponseError 400 invalid_grant",
      () => oauthResponse(400, "invalid_grant"),
      "ENDED",
    ],
    [
      "OAuthResponseError 503 server_error (token endpoint down)",
      () => oauthResponse(503, "server_error"),
      "UNAVAILABLE",
    ],
    [
      "OAuthResponseError 400 invalid_request (not a grant problem)",
      () => oauthResponse(400, "invalid_request"),
      "UNAVAILABLE",
    ],
    [
      "OAuthResolverError <- FetchRequestError (PDS refused the connection)",
      () =>
        new OAuthResolverError(
          "Failed to resolve OAuth server metadata for resource: http://localhost:2583/",
          { cause: fetchRequestError() },
        ),
      "UNAVAILABLE",
    ],
    ["FetchRequestError (network error)", fetchRequestError, "UNAVAILABLE"],
    [
      "FetchResponseError 502 (HTML error page)",
      () =>
        new FetchResponseError(
          new Response("<html>", { status: 503 }),
          502,
          "Unexpected response Content-Type (text/html)",
        ),
      "UNAVAILABLE",
    ],
    [
      "AggregateError [TokenRefreshError, store error] (deleting the session failed too)",
      () =>
        new AggregateError(
          [new TokenRefreshError(DID, "x"), new Error("store down")],
          "Error while deleting stored value",
        ),
      "ENDED",
    ],
    [
      "our deadline's TimeoutError",
      () => Object.assign(new Error("late"), { name: "TimeoutError" }),
      "UNAVAILABLE",
    ],
    ["RequestLockError", () => new RequestLockError("held"), "UNAVAILABLE"],
    ["StoreError", () => new StoreError("down"), "UNAVAILABLE"],
    ["a TypeError", () => new TypeError("x"), "UNAVAILABLE"],
    ["a thrown string", () => "oops", "UNAVAILABLE"],
  ];
  for (const [name, make, expected] of cases) {
    await t.step(`${name} → ${expected}`, () => {
      const error = make();
      if (error instanceof Error && error.constructor !== Error) {
        // The premise: @atproto's classes do not set name.
        assert.ok(
          error.name === "Error" || error.name === "TypeError" ||
            error.name === "AggregateError" || error.name === "TimeoutError" ||
            error.name === error.constructor.name,
        );
      }
      assert.equal(classifyOAuthError(error), expected);
    });
  }
});

Deno.test("classifyOAuthError() sorts @atcute/oauth-node-client's errors the same way", () => {
  const grant = new atcute.OAuthResponseError(
    new Response("{}", { status: 400 }),
    "invalid_grant",
    "Invalid refresh token",
  );
  assert.equal(
    classifyOAuthError(
      new atcute.TokenRefreshError(DID, "refresh failed", { cause: grant }),
    ),
    "ENDED",
  );
  assert.equal(classifyOAuthError(new atcute.TokenRevokedError(DID)), "ENDED");
  assert.equal(classifyOAuthError(new atcute.TokenInvalidError(DID)), "ENDED");
  assert.equal(
    classifyOAuthError(new atcute.AuthMethodUnsatisfiableError("gone")),
    "ENDED",
  );
  assert.equal(
    classifyOAuthError(
      new atcute.OAuthResponseError(
        new Response("{}", { status: 500 }),
        "server_error",
      ),
    ),
    "UNAVAILABLE",
  );
  assert.equal(
    classifyOAuthError(new atcute.OAuthResolverError("unreachable")),
    "UNAVAILABLE",
  );
});

Deno.test("classifyOAuthError() reads what a real NodeOAuthClient.restore() throws for a DID with no stored session", async () => {
  const { bridge } = createTestHost({ store: new MemorySessionStore() });
  const { stateStore, sessionStore, requestLock } = bridge.oauthStores();
  const redirectUri = "http://127.0.0.1:9/callback";
  const client = new NodeOAuthClient({
    clientMetadata: {
      client_id: `http://localhost?redirect_uri=${
        encodeURIComponent(redirectUri)
      }&scope=atproto`,
      redirect_uris: [redirectUri],
      scope: "atproto",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "web",
      dpop_bound_access_tokens: true,
    },
    allowHttp: true,
    handleResolver: "http://127.0.0.1:9",
    stateStore,
    sessionStore,
    requestLock,
  });
  const error = await client.restore(DID).then(
    () => assert.fail("restore() resolved without a stored session"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof TokenRefreshError);
  assert.equal((error as Error).name, "Error");
  assert.equal(classifyOAuthError(error), "ENDED");
  assert.deepEqual(summarizeOAuthError(error), { error: "TokenRefreshError" });
});

Deno.test("summarizeOAuthError() gives the class, OAuth code and status, never the message", () => {
  const error = new TokenRefreshError(DID, `secret-ish message ${DID}`, {
    cause: oauthResponse(400, "invalid_grant"),
  });
  const summary = summarizeOAuthError(error);
  assert.deepEqual(summary, {
    error: "TokenRefreshError",
    code: "invalid_grant",
    status: 400,
  });
  assert.ok(!JSON.stringify(summary).includes("secret-ish"));
});
