/**
 * The SQL of `PostgresSessionStore`: the migration (tables, indexes and the
 * `create_session` function) and one statement per store operation.
 *
 * A pool gives no connection affinity between two queries, so every
 * operation that must be atomic is ONE statement: a single `UPDATE`,
 * `DELETE ... RETURNING` or `INSERT ... ON CONFLICT ... RETURNING` (atomic
 * on its own), or a call of the plpgsql function the migration creates.
 *
 * @module
 */

/** The schema version the migration writes; bump it when the SQL changes. */
export const SCHEMA_VERSION = "atproto-sessions postgres schema 1";

/** The longest table prefix: PostgreSQL truncates names past 63 bytes. */
export const MAX_PREFIX_LENGTH = 40;

/** Rows each table loses per clean-up statement, at most. */
export const SWEEP_BATCH = 1000;

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Checks a schema name or table prefix: lowercase letters, digits and
 * underscores, so it can be quoted into SQL without escaping and means the
 * same quoted or not.
 *
 * @param what "schema" or "tablePrefix", for the message.
 * @param value The option's value.
 * @param maxLength The longest value allowed.
 * @param allowEmpty Whether "" is allowed (a prefix may be empty).
 * @throws {TypeError} When the value is not a string.
 * @throws {RangeError} When it holds other characters or is too long.
 */
export function assertIdentifier(
  what: string,
  value: unknown,
  maxLength: number,
  allowEmpty: boolean,
): void {
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot create PostgresSessionStore: ${what} must be a string: received ${typeof value}`,
    );
  }
  if (
    value.length > maxLength ||
    !(IDENTIFIER.test(value) || (allowEmpty && value === ""))
  ) {
    throw new RangeError(
      `Cannot create PostgresSessionStore: ${what} must be at most ${maxLength} lowercase letters, digits and underscores, not starting with a digit: received ${
        JSON.stringify(value.slice(0, 80))
      }`,
    );
  }
}

/** The columns of a session row, in the order every statement returns. */
const COLUMNS =
  "id, did, kind, created_at, last_accessed, expires_at, authenticated_at, generation, rotated_at, successor, metadata";

/** Every statement the store sends, for one schema and prefix. */
export interface PostgresStatements {
  /** One `DO` block: creates what is missing, under an advisory lock. */
  readonly migrate: string;
  /** $1 id ... $11 metadata, $12 cap, $13 replaces, $14 now → evicted rows. */
  readonly createSession: string;
  /** $1 id, $2 now → the live row. */
  readonly getSession: string;
  /** $1 id, $2 lastAccessed, $3 expiresAt, $4 metadata, $5 now → row. */
  readonly updateSession: string;
  /** $1 id, $2 generation, $3 at, $4 expiresAt, $5 successor, $6 now. */
  readonly rotateToken: string;
  /** $1 did, $2 now → live rows, newest first. */
  readonly listSessions: string;
  /** $1 id → the deleted row. */
  readonly deleteSession: string;
  /** $1 did → the deleted rows. */
  readonly deleteAllSessions: string;
  /** $1 jti, $2 expiresAt. */
  readonly revokeToken: string;
  /** $1 jti, $2 now → a row when revoked. */
  readonly isTokenRevoked: string;
  /** $1 namespace, $2 key, $3 now → value. */
  readonly getValue: string;
  /** $1 namespace, $2 key, $3 value, $4 expiresAt (null: none). */
  readonly setValue: string;
  /** $1 namespace, $2 key → the deleted value and its expiry. */
  readonly takeValue: string;
  /** $1 namespace. */
  readonly clearValues: string;
  /** $1 name, $2 owner, $3 until, $4 now → a row when held. */
  readonly acquireLock: string;
  /** $1 name, $2 owner, $3 until, $4 now → a row when renewed. */
  readonly renewLock: string;
  /** $1 name, $2 owner. */
  readonly releaseLock: string;
  /** $1 before, $2 batch → how many rows each table lost. */
  readonly deleteExpired: string;
}

/**
 * Builds every statement for one schema and table prefix (both checked by
 * {@linkcode assertIdentifier}, so they are safe to quote in).
 *
 * @param schema The schema.
 * @param prefix The table prefix.
 * @returns The statements.
 */
export function postgresStatements(
  schema: string,
  prefix: string,
): PostgresStatements {
  const q = (name: string) => `"${schema}"."${prefix}${name}"`;
  const sessions = q("sessions");
  const revoked = q("revoked_tokens");
  const values = q("values");
  const locks = q("locks");
  const createFn = q("create_session");
  const createArgs =
    "text, text, text, bigint, bigint, bigint, bigint, bigint, bigint, text, jsonb, integer, text, bigint";
  // Serialises createSession per DID, across every connection and process;
  // scoped to this schema and prefix.
  const didLockKey = `hashtextextended('${schema}.${prefix}:' || p_did, 0)`;

  const migrate = `DO $migrate$
BEGIN
  PERFORM set_config('client_min_messages', 'warning', true);
  -- Concurrent first uses (several processes starting at once) take turns:
  -- racing CREATE TABLE IF NOT EXISTS can fail on pg_type's unique index.
  PERFORM pg_advisory_xact_lock(hashtextextended('atproto-sessions migrate ${schema}.${prefix}', 0));
  IF EXISTS (
    SELECT 1 FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_catalog.pg_description d
      ON d.objoid = p.oid AND d.classoid = 'pg_catalog.pg_proc'::regclass
    WHERE n.nspname = '${schema}' AND p.proname = '${prefix}create_session'
      AND d.description = '${SCHEMA_VERSION}'
  ) THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '${schema}') THEN
    CREATE SCHEMA "${schema}";
  END IF;
  CREATE TABLE IF NOT EXISTS ${sessions} (
    id text COLLATE "C" PRIMARY KEY,
    did text COLLATE "C" NOT NULL,
    kind text NOT NULL CHECK (kind IN ('cookie', 'token')),
    created_at bigint NOT NULL,
    last_accessed bigint NOT NULL,
    expires_at bigint NOT NULL,
    authenticated_at bigint NOT NULL,
    generation bigint NOT NULL DEFAULT 0,
    rotated_at bigint,
    successor text,
    metadata jsonb NOT NULL DEFAULT '{}'
  );
  CREATE INDEX IF NOT EXISTS "${prefix}sessions_did"
    ON ${sessions} (did, created_at DESC, id DESC);
  CREATE INDEX IF NOT EXISTS "${prefix}sessions_expires" ON ${sessions} (expires_at);
  CREATE TABLE IF NOT EXISTS ${revoked} (
    jti text COLLATE "C" PRIMARY KEY,
    expires_at bigint NOT NULL
  );
  CREATE INDEX IF NOT EXISTS "${prefix}revoked_tokens_expires" ON ${revoked} (expires_at);
  CREATE TABLE IF NOT EXISTS ${values} (
    namespace text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value text NOT NULL,
    expires_at bigint,
    PRIMARY KEY (namespace, key)
  );
  CREATE INDEX IF NOT EXISTS "${prefix}values_expires" ON ${values} (expires_at)
    WHERE expires_at IS NOT NULL;
  CREATE TABLE IF NOT EXISTS ${locks} (
    name text COLLATE "C" PRIMARY KEY,
    owner text COLLATE "C" NOT NULL,
    expires_at bigint NOT NULL
  );
  -- createSession in one call: the per-DID lock makes the cap exact under
  -- any concurrency (each later statement in the function sees rows that
  -- other callers committed while this one waited, READ COMMITTED).
  CREATE OR REPLACE FUNCTION ${createFn}(
    p_id text, p_did text, p_kind text, p_created_at bigint,
    p_last_accessed bigint, p_expires_at bigint, p_authenticated_at bigint,
    p_generation bigint, p_rotated_at bigint, p_successor text,
    p_metadata jsonb, p_cap integer, p_replaces text, p_now bigint
  ) RETURNS SETOF ${sessions}
  LANGUAGE plpgsql VOLATILE
  AS $fn$
  BEGIN
    PERFORM pg_advisory_xact_lock(${didLockKey});
    IF p_replaces IS NOT NULL AND p_replaces <> p_id THEN
      DELETE FROM ${sessions} WHERE id = p_replaces AND did = p_did;
    END IF;
    INSERT INTO ${sessions} AS s (${COLUMNS})
    VALUES (p_id, p_did, p_kind, p_created_at, p_last_accessed, p_expires_at,
      p_authenticated_at, p_generation, p_rotated_at, p_successor, p_metadata)
    ON CONFLICT (id) DO UPDATE SET did = EXCLUDED.did, kind = EXCLUDED.kind,
      created_at = EXCLUDED.created_at, last_accessed = EXCLUDED.last_accessed,
      expires_at = EXCLUDED.expires_at,
      authenticated_at = EXCLUDED.authenticated_at,
      generation = EXCLUDED.generation, rotated_at = EXCLUDED.rotated_at,
      successor = EXCLUDED.successor, metadata = EXCLUDED.metadata;
    IF p_cap IS NOT NULL THEN
      RETURN QUERY
        WITH evicted AS (
          DELETE FROM ${sessions}
          WHERE id IN (
            SELECT id FROM ${sessions}
            WHERE did = p_did AND id <> p_id AND expires_at > p_now
            ORDER BY created_at DESC, id DESC
            OFFSET greatest(p_cap - 1, 0)
          )
          RETURNING *
        )
        SELECT * FROM evicted ORDER BY created_at, id;
    END IF;
    RETURN;
  END
  $fn$;
  COMMENT ON FUNCTION ${createFn}(${createArgs}) IS '${SCHEMA_VERSION}';
END
$migrate$`;

  const live = (now: string) =>
    `(expires_at IS NULL OR expires_at > ${now}::bigint)`;

  return Object.freeze({
    migrate,
    createSession: `SELECT ${COLUMNS} FROM ${createFn}($1::text, $2::text, ` +
      `$3::text, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint, ` +
      `$9::bigint, $10::text, $11::text::jsonb, $12::integer, $13::text, $14::bigint)`,
    getSession: `SELECT ${COLUMNS} FROM ${sessions} ` +
      `WHERE id = $1::text AND expires_at > $2::bigint`,
    updateSession: `UPDATE ${sessions} SET ` +
      `last_accessed = coalesce($2::bigint, last_accessed), ` +
      `expires_at = coalesce($3::bigint, expires_at), ` +
      `metadata = metadata || $4::text::jsonb ` +
      `WHERE id = $1::text AND expires_at > $5::bigint RETURNING ${COLUMNS}`,
    // The compare-and-set: under READ COMMITTED a concurrent caller waits
    // for the winner's row lock, re-checks `generation` on the new row
    // version and updates nothing.
    rotateToken: `UPDATE ${sessions} SET generation = generation + 1, ` +
      `rotated_at = $3::bigint, last_accessed = $3::bigint, ` +
      `expires_at = $4::bigint, successor = $5::text ` +
      `WHERE id = $1::text AND generation = $2::bigint ` +
      `AND expires_at > $6::bigint RETURNING ${COLUMNS}`,
    listSessions: `SELECT ${COLUMNS} FROM ${sessions} ` +
      `WHERE did = $1::text AND expires_at > $2::bigint ` +
      `ORDER BY created_at DESC, id DESC`,
    deleteSession: `DELETE FROM ${sessions} WHERE id = $1::text ` +
      `RETURNING ${COLUMNS}`,
    deleteAllSessions: `DELETE FROM ${sessions} WHERE did = $1::text ` +
      `RETURNING ${COLUMNS}`,
    revokeToken: `INSERT INTO ${revoked} AS r (jti, expires_at) ` +
      `VALUES ($1::text, $2::bigint) ON CONFLICT (jti) DO UPDATE ` +
      `SET expires_at = greatest(r.expires_at, EXCLUDED.expires_at)`,
    isTokenRevoked: `SELECT 1 AS revoked FROM ${revoked} ` +
      `WHERE jti = $1::text AND expires_at > $2::bigint`,
    getValue: `SELECT value FROM ${values} ` +
      `WHERE namespace = $1::text AND key = $2::text AND ${live("$3")}`,
    setValue: `INSERT INTO ${values} (namespace, key, value, expires_at) ` +
      `VALUES ($1::text, $2::text, $3::text, $4::bigint) ` +
      `ON CONFLICT (namespace, key) DO UPDATE ` +
      `SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
    // One statement: of concurrent callers, one deletes the row; the others
    // wait for its row lock, then find it gone.
    takeValue: `DELETE FROM ${values} ` +
      `WHERE namespace = $1::text AND key = $2::text ` +
      `RETURNING value, expires_at`,
    clearValues: `DELETE FROM ${values} WHERE namespace = $1::text`,
    // One statement: a free name is inserted; a taken one is updated only
    // when its lease ran out or the caller holds it. Concurrent callers
    // serialise on the row (or on the unique index when it is new).
    acquireLock: `INSERT INTO ${locks} AS l (name, owner, expires_at) ` +
      `VALUES ($1::text, $2::text, $3::bigint) ON CONFLICT (name) DO UPDATE ` +
      `SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at ` +
      `WHERE l.expires_at <= $4::bigint OR l.owner = EXCLUDED.owner ` +
      `RETURNING owner`,
    renewLock: `UPDATE ${locks} SET expires_at = $3::bigint ` +
      `WHERE name = $1::text AND owner = $2::text ` +
      `AND expires_at > $4::bigint RETURNING owner`,
    releaseLock: `DELETE FROM ${locks} WHERE name = $1::text AND ` +
      `owner = $2::text`,
    // Bounded batches; the outer `expires_at <=` is re-checked on a row a
    // concurrent write just renewed (a lease retaken, a value overwritten),
    // so the sweep never deletes it.
    deleteExpired: `WITH ` +
      `s AS (DELETE FROM ${sessions} WHERE expires_at <= $1::bigint AND id IN ` +
      `(SELECT id FROM ${sessions} WHERE expires_at <= $1::bigint LIMIT $2::integer) RETURNING 1), ` +
      `r AS (DELETE FROM ${revoked} WHERE expires_at <= $1::bigint AND jti IN ` +
      `(SELECT jti FROM ${revoked} WHERE expires_at <= $1::bigint LIMIT $2::integer) RETURNING 1), ` +
      `v AS (DELETE FROM ${values} WHERE expires_at <= $1::bigint AND (namespace, key) IN ` +
      `(SELECT namespace, key FROM ${values} WHERE expires_at <= $1::bigint LIMIT $2::integer) RETURNING 1), ` +
      `l AS (DELETE FROM ${locks} WHERE expires_at <= $1::bigint AND name IN ` +
      `(SELECT name FROM ${locks} WHERE expires_at <= $1::bigint LIMIT $2::integer) RETURNING 1) ` +
      `SELECT (SELECT count(*) FROM s)::integer AS sessions, ` +
      `(SELECT count(*) FROM r)::integer AS revoked, ` +
      `(SELECT count(*) FROM v)::integer AS "values", ` +
      `(SELECT count(*) FROM l)::integer AS locks`,
  });
}
