/**
 * The SQL `SqliteSessionStore` runs, for one table prefix: the schema and
 * every statement, each a single statement so that it is atomic on its own
 * or inside one `BEGIN IMMEDIATE` transaction. Needs SQLite 3.35 or later
 * (`RETURNING`). Text that is read back (ids, DIDs, successors, values) is
 * bound through `encodeText`.
 *
 * @module
 */

import type { SqliteValue, Statement } from "./_sqlite_driver.ts";
import { encodeText as text } from "./_sqlite_rows.ts";

/** The session columns, in the order `SESSION_COLUMNS` lists them. */
const SESSION_COLUMNS =
  "id, did, kind, created_at, last_accessed, expires_at, authenticated_at, generation, rotated_at, successor, metadata";

/** Rows deleted per statement by the expiry sweep. */
export const SWEEP_BATCH = 500;

/** What a session row is written from. */
export interface SessionRow {
  readonly id: string;
  readonly did: string;
  readonly kind: string;
  readonly createdAt: number;
  readonly lastAccessed: number;
  readonly expiresAt: number;
  readonly authenticatedAt: number;
  readonly generation: number;
  readonly rotatedAt: number | null;
  readonly successor: string | null;
  /** The metadata as JSON. */
  readonly metadata: string;
}

const read = (sql: string, args: SqliteValue[]): Statement => ({
  sql,
  args,
  rows: true,
});
const write = (sql: string, args: SqliteValue[]): Statement => ({
  sql,
  args,
  rows: false,
});

/** Builds the store's statements for one table prefix. */
export class SqliteSql {
  readonly #sessions: string;
  readonly #revoked: string;
  readonly #values: string;
  readonly #locks: string;
  /** The `CREATE ... IF NOT EXISTS` statements, idempotent. */
  readonly schema: readonly Statement[];

  /** @param prefix A validated identifier prefix. */
  constructor(prefix: string) {
    this.#sessions = `${prefix}sessions`;
    this.#revoked = `${prefix}revoked_tokens`;
    this.#values = `${prefix}values`;
    this.#locks = `${prefix}locks`;
    this.schema = Object.freeze([
      write(
        `CREATE TABLE IF NOT EXISTS ${this.#sessions} (
          id TEXT PRIMARY KEY NOT NULL,
          did TEXT NOT NULL,
          kind TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          last_accessed INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          authenticated_at INTEGER NOT NULL,
          generation INTEGER NOT NULL DEFAULT 0,
          rotated_at INTEGER,
          successor TEXT,
          metadata TEXT NOT NULL DEFAULT '{}'
        )`,
        [],
      ),
      write(
        `CREATE INDEX IF NOT EXISTS ${this.#sessions}_by_did ON ${this.#sessions} (did, created_at, id)`,
        [],
      ),
      write(
        `CREATE INDEX IF NOT EXISTS ${this.#sessions}_by_expiry ON ${this.#sessions} (expires_at)`,
        [],
      ),
      write(
        `CREATE TABLE IF NOT EXISTS ${this.#revoked} (
          jti TEXT PRIMARY KEY NOT NULL,
          expires_at INTEGER NOT NULL
        )`,
        [],
      ),
      write(
        `CREATE INDEX IF NOT EXISTS ${this.#revoked}_by_expiry ON ${this.#revoked} (expires_at)`,
        [],
      ),
      write(
        `CREATE TABLE IF NOT EXISTS ${this.#values} (
          namespace TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          expires_at INTEGER,
          PRIMARY KEY (namespace, key)
        )`,
        [],
      ),
      write(
        `CREATE INDEX IF NOT EXISTS ${this.#values}_by_expiry ON ${this.#values} (expires_at)`,
        [],
      ),
      write(
        `CREATE TABLE IF NOT EXISTS ${this.#locks} (
          name TEXT PRIMARY KEY NOT NULL,
          owner TEXT NOT NULL,
          expires_at INTEGER NOT NULL
        )`,
        [],
      ),
    ]);
  }

  // ---- sessions -----------------------------------------------------------

  /** Deletes the replaced session, if it belongs to the same DID. */
  deleteReplaced(replaces: string, did: string, id: string): Statement {
    return write(
      `DELETE FROM ${this.#sessions} WHERE id = ? AND did = ? AND id <> ?`,
      [text(replaces), text(did), text(id)],
    );
  }

  /** Inserts a session, replacing a stale row with the same id. */
  insertSession(row: SessionRow): Statement {
    return write(
      `INSERT OR REPLACE INTO ${this.#sessions} (${SESSION_COLUMNS})
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        row.id,
        row.did,
        row.kind,
        row.createdAt,
        row.lastAccessed,
        row.expiresAt,
        row.authenticatedAt,
        row.generation,
        row.rotatedAt,
        row.successor,
        row.metadata,
      ],
    );
  }

  /**
   * Evicts the DID's active sessions other than `id` beyond the newest
   * `keep` (newest by `created_at`, then `id`), returning them.
   */
  evict(did: string, id: string, keep: number, now: number): Statement {
    return read(
      `DELETE FROM ${this.#sessions} WHERE id IN (
          SELECT id FROM ${this.#sessions}
          WHERE did = ? AND id <> ? AND expires_at > ?
          ORDER BY created_at DESC, id DESC
          LIMIT -1 OFFSET ?
        ) RETURNING ${SESSION_COLUMNS}`,
      [text(did), text(id), now, keep],
    );
  }

  /** Reads an active session. */
  getSession(id: string, now: number): Statement {
    return read(
      `SELECT ${SESSION_COLUMNS} FROM ${this.#sessions} WHERE id = ? AND expires_at > ?`,
      [text(id), now],
    );
  }

  /**
   * Updates an active session in one statement: null leaves a time as it
   * is; `metadata` (a JSON object of strings) is merged into the stored one.
   */
  updateSession(
    id: string,
    lastAccessed: number | null,
    expiresAt: number | null,
    metadata: string,
    now: number,
  ): Statement {
    return read(
      `UPDATE ${this.#sessions} SET
          last_accessed = coalesce(?, last_accessed),
          expires_at = coalesce(?, expires_at),
          metadata = json_patch(metadata, ?)
        WHERE id = ? AND expires_at > ?
        RETURNING ${SESSION_COLUMNS}`,
      [lastAccessed, expiresAt, metadata, text(id), now],
    );
  }

  /** The compare-and-set rotation: changes a row only at `generation`. */
  rotateToken(
    id: string,
    generation: number,
    lastAccessed: number,
    expiresAt: number,
    successor: string,
    now: number,
  ): Statement {
    return read(
      `UPDATE ${this.#sessions} SET
          generation = generation + 1,
          rotated_at = ?,
          last_accessed = ?,
          expires_at = ?,
          successor = ?
        WHERE id = ? AND generation = ? AND expires_at > ?
        RETURNING ${SESSION_COLUMNS}`,
      [
        lastAccessed,
        lastAccessed,
        expiresAt,
        text(successor),
        text(id),
        generation,
        now,
      ],
    );
  }

  /** A DID's active sessions, newest first. */
  listSessions(did: string, now: number): Statement {
    return read(
      `SELECT ${SESSION_COLUMNS} FROM ${this.#sessions}
        WHERE did = ? AND expires_at > ?
        ORDER BY created_at DESC, id DESC`,
      [text(did), now],
    );
  }

  /** Deletes one session, returning it. */
  deleteSession(id: string): Statement {
    return read(
      `DELETE FROM ${this.#sessions} WHERE id = ? RETURNING ${SESSION_COLUMNS}`,
      [text(id)],
    );
  }

  /** Deletes a DID's sessions, returning them. */
  deleteAllSessions(did: string): Statement {
    return read(
      `DELETE FROM ${this.#sessions} WHERE did = ? RETURNING ${SESSION_COLUMNS}`,
      [text(did)],
    );
  }

  // ---- legacy revoked tokens ----------------------------------------------

  /** Remembers a revoked token id, keeping the later of two expiries. */
  revokeToken(jti: string, expiresAt: number): Statement {
    return write(
      `INSERT INTO ${this.#revoked} (jti, expires_at) VALUES (?, ?)
        ON CONFLICT (jti) DO UPDATE SET
          expires_at = max(expires_at, excluded.expires_at)`,
      [jti, expiresAt],
    );
  }

  /** Reads an unexpired revocation. */
  isTokenRevoked(jti: string, now: number): Statement {
    return read(
      `SELECT 1 AS revoked FROM ${this.#revoked} WHERE jti = ? AND expires_at > ?`,
      [jti, now],
    );
  }

  // ---- values ---------------------------------------------------------------

  /** Reads a live value. */
  getValue(namespace: string, key: string, now: number): Statement {
    return read(
      `SELECT value FROM ${this.#values}
        WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`,
      [namespace, key, now],
    );
  }

  /** Stores or overwrites a value. */
  setValue(
    namespace: string,
    key: string,
    value: string,
    expiresAt: number | null,
  ): Statement {
    return write(
      `INSERT OR REPLACE INTO ${this.#values} (namespace, key, value, expires_at)
        VALUES (?, ?, ?, ?)`,
      [namespace, key, text(value), expiresAt],
    );
  }

  /**
   * Deletes a value, returning it with its expiry (the caller decides
   * whether it was live; an expired row is deleted all the same).
   */
  deleteValue(namespace: string, key: string): Statement {
    return read(
      `DELETE FROM ${this.#values} WHERE namespace = ? AND key = ?
        RETURNING value, expires_at`,
      [namespace, key],
    );
  }

  /** Deletes a namespace's values. */
  clearValues(namespace: string): Statement {
    return write(`DELETE FROM ${this.#values} WHERE namespace = ?`, [
      namespace,
    ]);
  }

  // ---- leases ---------------------------------------------------------------

  /**
   * Takes a lease that is free, run out or already `owner`'s; returns a row
   * only when `owner` holds it afterwards.
   */
  acquireLock(
    name: string,
    owner: string,
    expiresAt: number,
    now: number,
  ): Statement {
    return read(
      `INSERT INTO ${this.#locks} (name, owner, expires_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET
          owner = excluded.owner,
          expires_at = excluded.expires_at
        WHERE ${this.#locks}.owner = excluded.owner OR ${this.#locks}.expires_at <= ?
        RETURNING owner`,
      [name, owner, expiresAt, now],
    );
  }

  /** Extends the holder's live lease; returns a row only when it did. */
  renewLock(
    name: string,
    owner: string,
    expiresAt: number,
    now: number,
  ): Statement {
    return read(
      `UPDATE ${this.#locks} SET expires_at = ?
        WHERE name = ? AND owner = ? AND expires_at > ?
        RETURNING owner`,
      [expiresAt, name, owner, now],
    );
  }

  /** Frees the lease if `owner` holds it. */
  releaseLock(name: string, owner: string): Statement {
    return write(
      `DELETE FROM ${this.#locks} WHERE name = ? AND owner = ?`,
      [name, owner],
    );
  }

  // ---- expiry sweep ---------------------------------------------------------

  /**
   * One batch of the sweep per table: deletes up to `SWEEP_BATCH` expired
   * rows of each, returning how many went.
   */
  sweep(now: number): Statement[] {
    return [this.#sessions, this.#revoked, this.#values, this.#locks].map(
      (table) =>
        read(
          `DELETE FROM ${table} WHERE rowid IN (
              SELECT rowid FROM ${table} WHERE expires_at <= ? LIMIT ${SWEEP_BATCH}
            ) RETURNING 1 AS gone`,
          [now],
        ),
    );
  }
}
