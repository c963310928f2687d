/**
 * The demo's AT Protocol OAuth clients: one `NodeOAuthClient` for the local
 * network (handles ending in `.test`, resolved by the local PDS, DIDs by the
 * local PLC directory, plain http allowed) and one for the public network
 * (every other handle: resolved by `https://bsky.social`, DIDs by
 * `plc.directory`). Both keep their state and sessions in the stores
 * `sessions.oauthStores()` returns, and tell the session manager when an
 * OAuth session ends.
 *
 * ```ts ignore
 * const oauth = createDemoOAuth({ stores: sessions.oauthStores(), ... });
 * const url = await oauth.authorize("alice.test");
 * ```
 *
 * @module
 */

import {
  NodeOAuthClient,
  type OAuthSession,
} from "npm:@atproto/oauth-client-node@0.5.3";
import type { OAuthStores } from "../../mod.ts";

/** The OAuth scope the demo asks for. */
export const SCOPE = "atproto transition:generic transition:email";

/** Resolves handles outside the local network (over HTTPS). */
export const PUBLIC_HANDLE_RESOLVER = "https://bsky.social";

/** The local network the demo signs in against. */
export interface LocalNetwork {
  /** `http://localhost:<port>`: the PDS, its OAuth server and handle resolver. */
  readonly pdsUrl: string;
  /** `http://localhost:<port>`: the PLC directory. */
  readonly plcUrl: string;
}

/** Options for {@linkcode createDemoOAuth}. */
export interface DemoOAuthOptions {
  /** What `sessions.oauthStores()` returned. */
  readonly stores: OAuthStores;
  /** `http://127.0.0.1:<port>/oauth/callback`: loopback clients need 127.0.0.1. */
  readonly redirectUri: string;
  /** The local PLC directory and PDS. */
  readonly network: LocalNetwork;
  /** The client's `onSessionDeleted` hook: `sessions.onOAuthSessionDeleted`. */
  readonly onSessionDeleted: (did: string, cause: unknown) => Promise<void>;
  /**
   * Whether handles outside `.test` may be resolved on the public network.
   * @default {true}
   */
  readonly publicNetwork?: boolean;
}

/** What the app needs from OAuth; `restore`/`revoke` fit `getOAuthSession`. */
export interface DemoOAuth {
  /** Whether the handle belongs to the local network (`*.test`). */
  isLocalHandle(handle: string): boolean;
  /**
   * Starts a sign-in: the URL of the user's PDS's authorization page.
   *
   * @param handle The handle typed in, or the DID of a signed-in user.
   * @param options `state` comes back from `callback`; `prompt: "login"`
   * makes the PDS ask for the password again.
   */
  authorize(
    handle: string,
    options: { state: string; prompt?: "login" },
  ): Promise<URL>;
  /**
   * Finishes a sign-in from the redirect's query parameters.
   *
   * @param params The callback URL's query.
   */
  callback(
    params: URLSearchParams,
  ): Promise<{ session: OAuthSession; state: string | null }>;
  /** Loads (and refreshes when due) the DID's OAuth session. */
  restore(did: string): Promise<OAuthSession>;
  /** Revokes the DID's OAuth session at its PDS and forgets it. */
  revoke(did: string): Promise<void>;
}

/**
 * Creates the two clients and routes each call to the right one: by handle
 * for `authorize`, by the `iss` of the redirect for `callback`, by the DID's
 * origin for `restore` and `revoke`.
 *
 * @param options Stores, redirect URI, the local network and the hook.
 * @returns The router.
 */
export function createDemoOAuth(options: DemoOAuthOptions): DemoOAuth {
  const { stores, redirectUri, network } = options;
  const clientMetadata = {
    // A loopback client (no client metadata document to host): its id is
    // http://localhost with the redirect URI and scope in the query.
    client_id: `http://localhost?redirect_uri=${
      encodeURIComponent(redirectUri)
    }&scope=${encodeURIComponent(SCOPE)}`,
    client_name: "atproto-sessions demo",
    redirect_uris: [redirectUri as `http://127.0.0.1:${string}`] as [
      `http://127.0.0.1:${string}`,
    ],
    scope: SCOPE,
    grant_types: ["authorization_code", "refresh_token"] as [
      "authorization_code",
      "refresh_token",
    ],
    response_types: ["code"] as ["code"],
    token_endpoint_auth_method: "none" as const,
    application_type: "web" as const,
    dpop_bound_access_tokens: true,
  };
  const shared = {
    clientMetadata,
    stateStore: stores.stateStore,
    sessionStore: stores.sessionStore,
    requestLock: stores.requestLock,
    onSessionDeleted: options.onSessionDeleted,
  };
  // The stores hold plain JSON (NodeSavedState/NodeSavedSession); the
  // library's stores are typed as unknown values, hence the casts.
  const local = new NodeOAuthClient({
    ...(shared as unknown as ConstructorParameters<typeof NodeOAuthClient>[0]),
    allowHttp: true,
    handleResolver: network.pdsUrl,
    plcDirectoryUrl: network.plcUrl,
  });
  const publicClient = options.publicNetwork === false
    ? null
    : new NodeOAuthClient({
      ...(shared as unknown as ConstructorParameters<
        typeof NodeOAuthClient
      >[0]),
      // The client's default handle resolver (DNS and the well-known file)
      // needs Node's own sockets, which Deno does not offer, so handles are
      // resolved by Bluesky's server (com.atproto.identity.resolveHandle).
      // DIDs go to plc.directory (or did:web hosts) as usual.
      handleResolver: PUBLIC_HANDLE_RESOLVER,
    });

  // DIDs signed in through the local network. The OAuth sessions live in
  // memory too, so forgetting this at a restart loses nothing.
  const localDids = new Set<string>();
  const isLocalHandle = (handle: string): boolean =>
    handle.toLowerCase().endsWith(".test");
  const clientForDid = (did: string): NodeOAuthClient =>
    localDids.has(did) || publicClient === null ? local : publicClient;

  return {
    isLocalHandle,
    authorize(handle, { state, prompt }) {
      const client =
        isLocalHandle(handle) || localDids.has(handle) || publicClient === null
          ? local
          : publicClient;
      return client.authorize(handle, {
        scope: SCOPE,
        state,
        ...(prompt === undefined ? {} : { prompt }),
        signal: AbortSignal.timeout(15_000),
      });
    },
    async callback(params) {
      const iss = params.get("iss");
      const isLocal = iss === null || iss === network.pdsUrl ||
        publicClient === null;
      const result = await (isLocal ? local : publicClient).callback(params);
      if (isLocal) localDids.add(result.session.did);
      return result;
    },
    restore: (did) => clientForDid(did).restore(did),
    revoke: (did) => clientForDid(did).revoke(did),
  };
}
