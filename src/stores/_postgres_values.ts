/**
 * The value and lease half of `PostgresSessionStore`: AT Protocol OAuth
 * state and sessions, hand-off codes, and the OAuth `requestLock`'s leases,
 * every operation one statement.
 *
 * @module
 */

import type { KeyValueStore, ValueNamespace } from "../store.ts";
import type { PostgresContext } from "./_postgres_options.ts";
import { isLive, keyText, toText, valueOf, whole } from "./_postgres_rows.ts";

/** Values and leases over one client. */
export class PostgresValues implements KeyValueStore {
  readonly #context: PostgresContext;

  /** @param context The statements and the runner. */
  constructor(context: PostgresContext) {
    this.#context = context;
  }

  /** See `KeyValueStore.getValue`: one `SELECT`. */
  async getValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const { sql, runner } = this.#context;
    const [row] = await runner.query(sql.getValue, [
      namespace,
      await keyText(key),
      whole("now", now),
    ]);
    return row === undefined ? null : valueOf(row);
  }

  /** See `KeyValueStore.setValue`: one upsert. */
  async setValue(
    namespace: ValueNamespace,
    key: string,
    value: string,
    expiresAt: number | null,
    now: number,
  ): Promise<void> {
    const { sql, runner } = this.#context;
    await runner.query(sql.setValue, [
      namespace,
      await keyText(key),
      toText(value),
      expiresAt === null ? null : whole("expiresAt", expiresAt, Math.ceil),
    ]);
    runner.maybeSweep(now);
  }

  /** See `KeyValueStore.takeValue`: one `DELETE ... RETURNING`. */
  async takeValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<string | null> {
    const row = await this.#delete(namespace, key);
    return row !== undefined && isLive(row, now) ? valueOf(row) : null;
  }

  /** See `KeyValueStore.deleteValue`: the same `DELETE ... RETURNING`. */
  async deleteValue(
    namespace: ValueNamespace,
    key: string,
    now: number,
  ): Promise<boolean> {
    const row = await this.#delete(namespace, key);
    return row !== undefined && isLive(row, now);
  }

  /** See `KeyValueStore.clearValues`: one `DELETE`. */
  async clearValues(namespace: ValueNamespace): Promise<void> {
    const { sql, runner } = this.#context;
    await runner.query(sql.clearValues, [namespace]);
  }

  /** See `KeyValueStore.acquireLock`: one upsert. */
  async acquireLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const held = await this.#lease(
      this.#context.sql.acquireLock,
      name,
      owner,
      leaseMs,
      now,
    );
    this.#context.runner.maybeSweep(now);
    return held;
  }

  /** See `KeyValueStore.renewLock`: one `UPDATE`. */
  renewLock(
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    return this.#lease(this.#context.sql.renewLock, name, owner, leaseMs, now);
  }

  /** See `KeyValueStore.releaseLock`: one `DELETE`. */
  async releaseLock(name: string, owner: string): Promise<void> {
    const { sql, runner } = this.#context;
    await runner.query(sql.releaseLock, [await keyText(name), toText(owner)]);
  }

  /** Deletes a value row; resolves to the row it deleted, if any. */
  async #delete(
    namespace: ValueNamespace,
    key: string,
  ): Promise<Record<string, unknown> | undefined> {
    const { sql, runner } = this.#context;
    const [row] = await runner.query(sql.takeValue, [
      namespace,
      await keyText(key),
    ]);
    return row;
  }

  /** Runs a lease statement; resolves to whether `owner` holds the lease. */
  async #lease(
    statement: string,
    name: string,
    owner: string,
    leaseMs: number,
    now: number,
  ): Promise<boolean> {
    const rows = await this.#context.runner.query(statement, [
      await keyText(name),
      toText(owner),
      whole("lease", now + leaseMs, Math.ceil),
      whole("now", now),
    ]);
    return rows.length > 0;
  }
}
