/**
 * The Lua scripts of `RedisSessionStore` and the runner that sends them
 * (`EVALSHA`, falling back to `EVAL` once per node when it answers
 * `NOSCRIPT`).
 *
 * Every script touches only the keys it is given in `KEYS` (one DID's
 * session hash; a value and its bucket's index, which share a hash tag; one
 * lease; one revocation), never a key built from `ARGV` or from data, so
 * each runs on Redis Cluster in the slot of its first key.
 *
 * Session-record scripts answer `{code, record JSON or false}`: 1 done,
 * 0 absent, expired or not applied, -1 a stored record that is not a
 * record.
 *
 * @module
 */

/** What a script's command travels with: the key a cluster routes on. */
export interface RedisRoute {
  /** A key the command touches (its first), for cluster routing. */
  readonly key: string;
  /** Whether the command only reads. */
  readonly readonly: boolean;
}

/** Sends one command, routed by `route`. */
export type RedisCommandFunction = (
  args: string[],
  route: RedisRoute,
) => Promise<unknown>;

/** A Lua script and its SHA-1, computed once. */
export interface RedisScript {
  /** The Lua source. */
  readonly source: string;
  /** Its SHA-1 in hex, once known. */
  sha: string | undefined;
}

const script = (source: string): RedisScript => ({ source, sha: undefined });

/** Shared helpers, prepended to the session-record scripts. */
const RECORD_LUA = `
local function decode(raw)
  local ok, r = pcall(cjson.decode, raw)
  if ok and type(r) == 'table' and type(r.expiresAt) == 'number' then return r end
  return nil
end
local function extend(key, expiresAt, now)
  local ttl = math.max(1, math.ceil(expiresAt - now))
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;

/**
 * KEYS: the DID's hash. ARGV: id, record JSON, expiresAt, cap (-1 for
 * none), now, replaced id ('' for none). Deletes the replaced
 * session, skips the DID's expired records (deleting those expired a minute
 * or more ago), evicts the oldest live others (createdAt, then id) beyond
 * `cap - 1`, then stores the new record, which is never a candidate.
 * Returns the evicted records' JSON.
 */
export const CREATE_SESSION: RedisScript = script(`${RECORD_LUA}
local id = ARGV[1]
local cap = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if ARGV[6] ~= '' and ARGV[6] ~= id then redis.call('HDEL', KEYS[1], ARGV[6]) end
local fields = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #fields, 2 do
  local other = fields[i]
  if other ~= id then
    local r = decode(fields[i + 1])
    if r ~= nil then
      if r.expiresAt > now then
        live[#live + 1] = {tonumber(r.createdAt) or 0, other, fields[i + 1]}
      elseif r.expiresAt + 60000 <= now then
        redis.call('HDEL', KEYS[1], other)
      end
    end
  end
end
local evicted = {}
if cap >= 0 then
  local keep = math.max(cap - 1, 0)
  if #live > keep then
    table.sort(live, function(a, b)
      if a[1] ~= b[1] then return a[1] > b[1] end
      return a[2] > b[2]
    end)
    for i = keep + 1, #live do
      redis.call('HDEL', KEYS[1], live[i][2])
      evicted[#evicted + 1] = live[i][3]
    end
  end
end
redis.call('HSET', KEYS[1], id, ARGV[2])
extend(KEYS[1], tonumber(ARGV[3]), now)
return evicted
`);

/**
 * KEYS: the DID's hash. ARGV: id, now, lastAccessed (''), expiresAt (''),
 * metadata JSON to merge (''). The sliding refresh, read-modify-write in
 * one step.
 */
export const UPDATE_SESSION: RedisScript = script(`${RECORD_LUA}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {0, false} end
local r = decode(raw)
if r == nil then return {-1, false} end
local now = tonumber(ARGV[2])
if r.expiresAt <= now then return {0, false} end
if ARGV[3] ~= '' then r.lastAccessed = tonumber(ARGV[3]) end
if ARGV[4] ~= '' then r.expiresAt = tonumber(ARGV[4]) end
if ARGV[5] ~= '' then
  if type(r.metadata) ~= 'table' then r.metadata = {} end
  for k, v in pairs(cjson.decode(ARGV[5])) do r.metadata[k] = v end
end
local out = cjson.encode(r)
redis.call('HSET', KEYS[1], ARGV[1], out)
extend(KEYS[1], r.expiresAt, now)
return {1, out}
`);

/**
 * KEYS: the DID's hash. ARGV: id, now, expected generation, rotation time,
 * new expiresAt, successor. A compare-and-set on `generation`: Redis runs
 * scripts one at a time, so of concurrent callers exactly one sees the
 * expected generation.
 */
export const ROTATE_TOKEN: RedisScript = script(`${RECORD_LUA}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {0, false} end
local r = decode(raw)
if r == nil then return {-1, false} end
local now = tonumber(ARGV[2])
if r.expiresAt <= now then return {0, false} end
local generation = tonumber(ARGV[3])
if (tonumber(r.generation) or 0) ~= generation then return {0, raw} end
local at = tonumber(ARGV[4])
r.generation = generation + 1
r.rotatedAt = at
r.lastAccessed = at
r.expiresAt = tonumber(ARGV[5])
r.successor = ARGV[6]
local out = cjson.encode(r)
redis.call('HSET', KEYS[1], ARGV[1], out)
extend(KEYS[1], r.expiresAt, now)
return {1, out}
`);

/** KEYS: the DID's hash. ARGV: id. Deletes it; returns its JSON or nil. */
export const DELETE_SESSION: RedisScript = script(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then redis.call('HDEL', KEYS[1], ARGV[1]) end
return raw
`);

/** KEYS: the DID's hash. Deletes it; returns every record's JSON. */
export const DELETE_ALL_SESSIONS: RedisScript = script(`
local records = redis.call('HVALS', KEYS[1])
redis.call('DEL', KEYS[1])
return records
`);

/**
 * KEYS: revoked-token key. ARGV: expiresAt, TTL ms. Keeps the later of two
 * expiries. Returns 1 when written.
 */
export const REVOKE_TOKEN: RedisScript = script(`
local current = tonumber(redis.call('GET', KEYS[1]) or '')
if current ~= nil and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

/**
 * KEYS: value key, its bucket's index. ARGV: encoded value, TTL ms ('' for
 * none), index score (expiresAt or '+inf'), the value's key, now. Stores
 * the value and indexes it; drops index entries expired by `now`.
 */
export const SET_VALUE: RedisScript = script(`
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
return 1
`);

/**
 * KEYS: value key, its bucket's index. ARGV: the value's key. Reads and
 * deletes the value in one step; returns what was stored, or nil.
 */
export const TAKE_VALUE: RedisScript = script(`
local raw = redis.call('GET', KEYS[1])
if raw then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return raw
`);

/**
 * KEYS: a bucket's index, then value keys. ARGV: the values' keys, in the
 * same order. Deletes them and their index entries.
 */
export const CLEAR_VALUES: RedisScript = script(`
for i = 1, #ARGV do
  redis.call('DEL', KEYS[i + 1])
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return #ARGV
`);

/** Lease helpers: a lease is stored as `<expiresAt>|<owner>`. */
const LEASE_LUA = `
local function holder(raw)
  if not raw then return nil, 0 end
  local bar = string.find(raw, '|', 1, true)
  if not bar then return nil, 0 end
  return string.sub(raw, bar + 1), tonumber(string.sub(raw, 1, bar - 1)) or 0
end
`;

/**
 * KEYS: lease key. ARGV: owner, expiresAt, TTL ms, now. Takes a free or run
 * out lease, or extends the owner's own. Returns 1 when the owner holds it.
 */
export const ACQUIRE_LOCK: RedisScript = script(`${LEASE_LUA}
local owner, until_ = holder(redis.call('GET', KEYS[1]))
if owner ~= nil and owner ~= ARGV[1] and until_ > tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[1], 'PX', ARGV[3])
return 1
`);

/** KEYS: lease key. ARGV: as for acquiring. Extends only a live own lease. */
export const RENEW_LOCK: RedisScript = script(`${LEASE_LUA}
local owner, until_ = holder(redis.call('GET', KEYS[1]))
if owner ~= ARGV[1] or until_ <= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[1], 'PX', ARGV[3])
return 1
`);

/** KEYS: lease key. ARGV: owner. Deletes the lease only if owner holds it. */
export const RELEASE_LOCK: RedisScript = script(`${LEASE_LUA}
local owner = holder(redis.call('GET', KEYS[1]))
if owner ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`);

/**
 * Runs a script by its SHA-1; on `NOSCRIPT` (a node that has not seen it,
 * such as a freshly promoted replica) sends the source once with `EVAL`,
 * which also caches it there.
 *
 * @param command The store's command function.
 * @param lua The script.
 * @param keys Every key the script touches; the first routes it.
 * @param args Its arguments.
 * @returns The script's reply.
 */
export async function runScript(
  command: RedisCommandFunction,
  lua: RedisScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const route: RedisRoute = { key: keys[0]!, readonly: false };
  const sha = lua.sha ?? (lua.sha = await sha1(lua.source));
  const rest = [String(keys.length), ...keys, ...args];
  try {
    return await command(["EVALSHA", sha, ...rest], route);
  } catch (error) {
    if (!String((error as Error)?.message ?? error).includes("NOSCRIPT")) {
      throw error;
    }
    return await command(["EVAL", lua.source, ...rest], route);
  }
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}
