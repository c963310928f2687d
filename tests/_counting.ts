/**
 * Round-trip counters for the stores' transports: a Redis `command`
 * function and a `Deno.Kv` that count every call that reaches the server
 * (one command, one `get`, one `getMany`, one `list` page, one atomic
 * `commit`). Shared by the round-trip tests and the benchmark.
 *
 * @module
 */

/** A Redis command function as `RedisSessionStore` takes it. */
export type CommandFunction = (
  args: string[],
  route?: unknown,
) => Promise<unknown>;

/** A transport that counts its round trips. */
export interface Counted {
  /** Round trips since the last reset, with the commands' names. */
  readonly trips: string[];
  /** Forgets the trips so far. */
  reset(): void;
}

/**
 * Wraps a Redis command function: each call is one round trip.
 *
 * @param command The real command function.
 * @returns The counting function and its counter.
 */
export function countingCommand(
  command: CommandFunction,
): Counted & { readonly command: CommandFunction } {
  const trips: string[] = [];
  return {
    trips,
    reset: () => {
      trips.length = 0;
    },
    command: (args, route) => {
      trips.push(String(args[0]).toUpperCase());
      return command(args, route);
    },
  };
}

/**
 * Wraps a `Deno.Kv`: `get`, `getMany`, `set`, `delete`, `list` (one trip
 * per page, counted once per iteration start) and an atomic operation's
 * `commit` each count as one round trip.
 *
 * @param kv The real database.
 * @returns The counting database and its counter.
 */
export function countingKv(kv: Deno.Kv): Counted & { readonly kv: Deno.Kv } {
  const trips: string[] = [];
  const counted = new Set(["get", "getMany", "set", "delete", "list"]);
  const wrapped = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "atomic") {
        return () => {
          const op = target.atomic();
          const proxy: Deno.AtomicOperation = new Proxy(op, {
            get(inner, name) {
              const member = Reflect.get(inner, name, inner);
              if (typeof member !== "function") return member;
              if (name === "commit") {
                return () => {
                  trips.push("commit");
                  return inner.commit();
                };
              }
              // Builder methods return the operation: keep the proxy.
              return (...args: unknown[]) => {
                const out = member.apply(inner, args);
                return out === inner ? proxy : out;
              };
            },
          });
          return proxy;
        };
      }
      if (typeof property === "string" && counted.has(property)) {
        return (...args: unknown[]) => {
          trips.push(property);
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return {
    trips,
    reset: () => {
      trips.length = 0;
    },
    kv: wrapped,
  };
}
