/**
 * Starts a real Redis Cluster on 127.0.0.1 for the cluster tests: 3
 * masters and 3 replicas (`redis-server --cluster-enabled yes --appendonly
 * yes`, joined with `redis-cli --cluster create ... --cluster-replicas 1`),
 * each node in its own temporary directory, every process stopped by PID.
 *
 * @module
 */

import { redisServerPath, waitForPing } from "./_redis_server.ts";

/** One node as the cluster sees it (`CLUSTER NODES`). */
export interface ClusterNodeInfo {
  /** The node's port on 127.0.0.1. */
  readonly port: number;
  /** The node's cluster id. */
  readonly id: string;
  /** Whether it is a master now. */
  readonly master: boolean;
  /** Whether the cluster marks it failed (`fail` or `fail?`). */
  readonly failed: boolean;
  /** The id of the master it replicates, for a replica. */
  readonly masterId: string | null;
  /** How many slots it serves. */
  readonly slots: number;
}

/** A running cluster owned by a test file. */
export interface RedisCluster {
  /** Every node's port, in creation order. */
  readonly ports: readonly number[];
  /** The ports to hand a client as its seed nodes. */
  readonly seeds: readonly { host: string; port: number }[];
  /** The cluster's view, read from a live node. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** Runs `redis-cli -p <port> <args>` and returns its output. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The PID of the node on `port`. */
  pid(port: number): number;
  /** Kills a node with SIGKILL (by PID) and waits for it to exit. */
  kill(port: number): Promise<void>;
  /**
   * Starts a killed node again on its port and directory (its
   * `nodes.conf` and append-only file): it rejoins, as a replica if its
   * slots were failed over meanwhile.
   */
  restart(port: number): Promise<void>;
  /**
   * Waits until every live node reports `cluster_state:ok` with all
   * 16384 slots served by live masters, polling, up to `timeoutMs`.
   */
  waitHealthy(timeoutMs: number): Promise<void>;
  /** Stops every node (by PID) and removes the directories. */
  close(): Promise<void>;
}

/** Options for {@linkcode startRedisCluster}. */
export interface RedisClusterOptions {
  /**
   * `cluster-node-timeout` in ms: how long a silent master takes to be
   * declared failed (failover follows within about a second).
   * @default {2000}
   */
  nodeTimeout?: number;
}

/** redis-cli, next to redis-server. */
const redisCliPath: string | null = redisServerPath === null
  ? null
  : redisServerPath.replace(/redis-server$/, "redis-cli");

/** The longest one `redis-cli` call may take. */
const CLI_TIMEOUT_MS = 30_000;

/**
 * Starts six nodes and creates the cluster, waiting until it is healthy.
 *
 * @param options The node timeout.
 * @returns The running cluster.
 */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const server = redisServerPath;
  const cli = redisCliPath;
  if (server === null || cli === null) {
    throw new Error("redis-server is not installed");
  }
  const nodeTimeout = options.nodeTimeout ?? 2000;
  const root = await Deno.makeTempDir({
    prefix: "atproto_sessions_redis_cluster_",
  });
  const ports = clusterPorts(6);
  const children = new Map<number, Deno.ChildProcess>();

  async function run(port: number, args: string[]): Promise<string> {
    // Bounded: a node that accepts and never answers must fail the test,
    // not hang it (the child is killed when the signal aborts).
    const output = await new Deno.Command(cli!, {
      args: ["-h", "127.0.0.1", "-p", String(port), ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(CLI_TIMEOUT_MS),
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    if (!output.success) {
      throw new Error(
        `redis-cli ${args.join(" ")} failed: ${
          new TextDecoder().decode(output.stderr)
        }${text}`,
      );
    }
    return text;
  }

  async function spawn(port: number): Promise<void> {
    const child = new Deno.Command(server!, {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        `${root}/${port}`,
        "--daemonize",
        "no",
        "--logfile",
        "",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        String(nodeTimeout),
        // Let a replica take over however long its link was down.
        "--cluster-replica-validity-factor",
        "0",
        "--repl-diskless-sync-delay",
        "0",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.set(port, child);
    await waitForPing(port, child);
  }

  async function stopAll(signal: Deno.Signal): Promise<void> {
    await Promise.all([...children.values()].map(async (child) => {
      try {
        Deno.kill(child.pid, signal);
      } catch {
        // Already exited.
      }
      await child.status;
    }));
    children.clear();
  }

  const cluster: RedisCluster = {
    ports,
    seeds: ports.slice(0, 3).map((port) => ({ host: "127.0.0.1", port })),
    cli: (port, ...args) => run(port, args),
    pid(port) {
      const child = children.get(port);
      if (child === undefined) throw new Error(`no node on port ${port}`);
      return child.pid;
    },
    async kill(port) {
      const child = children.get(port);
      if (child === undefined) return;
      children.delete(port);
      Deno.kill(child.pid, "SIGKILL");
      await child.status;
    },
    async restart(port) {
      if (children.has(port)) throw new Error(`port ${port} is running`);
      await spawn(port);
    },
    async nodes() {
      for (const port of children.keys()) {
        try {
          return parseNodes(await run(port, ["cluster", "nodes"]));
        } catch {
          // Try the next live node.
        }
      }
      throw new Error("no live cluster node answered CLUSTER NODES");
    },
    async waitHealthy(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < deadline) {
        try {
          const infos = await Promise.all(
            [...children.keys()].map((port) => run(port, ["cluster", "info"])),
          );
          const live = (await cluster.nodes()).filter((node) =>
            children.has(node.port)
          );
          const served = live
            .filter((node) => node.master && !node.failed)
            .reduce((sum, node) => sum + node.slots, 0);
          // Every live node serves slots or replicates with its link up.
          const settled = await Promise.all(
            live.map(async (node) =>
              !node.failed &&
              (node.master ? node.slots > 0 : /master_link_status:up/.test(
                await run(node.port, ["info", "replication"]),
              ))
            ),
          );
          last = `slots served ${served}, states ${
            infos.map((info) => /cluster_state:(\w+)/.exec(info)?.[1])
          }, nodes settled ${settled}`;
          if (
            served === 16384 && live.length === children.size &&
            settled.every(Boolean) &&
            infos.every((info) => info.includes("cluster_state:ok"))
          ) {
            return;
          }
        } catch (error) {
          last = String(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`The cluster did not become healthy: ${last}`);
    },
    async close() {
      await stopAll("SIGTERM");
      await Deno.remove(root, { recursive: true });
    },
  };

  try {
    for (const port of ports) {
      await Deno.mkdir(`${root}/${port}`);
      await spawn(port);
    }
    await run(ports[0]!, [
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    ]);
    await cluster.waitHealthy(30_000);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  // A crashed test run must not leave six servers behind.
  globalThis.addEventListener("unload", () => {
    for (const child of children.values()) {
      try {
        Deno.kill(child.pid, "SIGKILL");
      } catch {
        // Already exited.
      }
    }
    try {
      Deno.removeSync(root, { recursive: true });
    } catch {
      // Already removed.
    }
  });
  return cluster;
}

/**
 * `count` ports whose cluster-bus ports (port + 10000) are free too.
 */
function clusterPorts(count: number): number[] {
  const ports: number[] = [];
  let candidate = 20_000 + Math.floor(Math.random() * 9_000);
  while (ports.length < count) {
    candidate++;
    if (candidate > 29_999) candidate = 20_000;
    if (isFree(candidate) && isFree(candidate + 10_000)) ports.push(candidate);
  }
  return ports;
}

function isFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** Parses `CLUSTER NODES` output. */
function parseNodes(text: string): ClusterNodeInfo[] {
  return text.trim().split("\n").filter(Boolean).map((line) => {
    const [id, address, flags, master, , , , , ...slots] = line.split(" ");
    const port = Number(/:(\d+)@/.exec(address ?? "")?.[1]);
    const flagSet = new Set((flags ?? "").split(","));
    let served = 0;
    for (const range of slots) {
      if (range.startsWith("[")) continue; // a slot being migrated
      const [from, to] = range.split("-").map(Number);
      served += (to ?? from!) - from! + 1;
    }
    return {
      port,
      id: id!,
      master: flagSet.has("master"),
      failed: flagSet.has("fail") || flagSet.has("fail?"),
      masterId: master === "-" ? null : master ?? null,
      slots: served,
    };
  });
}
