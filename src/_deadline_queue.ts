/**
 * Deadlines of equal length behind one timer, for request-path store
 * calls.
 *
 * Every deadline has the same length, so deadlines arrive in the order
 * the calls started: a FIFO queue with one timer armed for its oldest
 * live entry is exact. What a call costs here was measured in Deno on a
 * loaded 2-core machine: arming and clearing a timer about 1.5 µs,
 * `queueMicrotask` 0.1-0.5 µs, `performance.now()` 0.1-0.2 µs, a promise
 * reaction 0.05-0.1 µs. So a call pays for none of the first three:
 *
 * - {@linkcode DeadlineQueue.add} only appends the entry. One promise
 *   reaction after the first add of a run of calls, the calls of that run
 *   still live are stamped with one clock reading (their deadline counts
 *   from then, microseconds after they started). A call already settled
 *   by then (an in-memory store: its answer's reaction was queued first)
 *   has left the queue, and costs no clock reading and no timer.
 * - The timer is armed a reaction after that, when a call is still live
 *   and none is armed (so the calls of a `Promise.all` over an in-memory
 *   store, whose answers queue behind the stamp, never arm it), and is
 *   re-armed only when it fires. It is cleared when the queue has stayed
 *   empty for a few promise reactions (a caller that awaits one call and
 *   starts the next keeps it armed), always before the task ends: nothing
 *   is left pending between requests, and a test that awaited its calls
 *   ends with no timer.
 *
 * @module
 */

/** A call waiting for its answer or its deadline. */
export interface Pending {
  /**
   * When it times out, in `performance.now()` milliseconds; meaningful
   * once stamped.
   */
  deadline: number;
  /** Set by {@linkcode DeadlineQueue.settle}. */
  settled: boolean;
  /**
   * Answers it as timed out: called once, when the deadline passed while
   * it was live, after the queue marked it settled.
   */
  expire(): void;
}

/** Promise reactions an empty queue waits before clearing its timer. */
const IDLE_HOPS = 16;

/** An emptied queue keeps an array of at most this many slots. */
const KEEP_AFTER_BURST = 64;

/** Compacts the queue once this many settled entries lead it. */
const COMPACT_AFTER = 1024;

const RESOLVED: Promise<void> = Promise.resolve();

/** See the module documentation. */
export class DeadlineQueue {
  readonly #timeoutMs: number;
  #queue: Pending[] = [];
  /**
   * The entries in use are `#queue[0..#size)`: emptying keeps the array
   * (truncating it would reallocate its storage on the next call).
   */
  #size = 0;
  #head = 0;
  /** The index of the first entry not stamped yet. */
  #unstamped = 0;
  /** Entries added and not settled. */
  #live = 0;
  #stampQueued = false;
  #armQueued = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idleHops = -1;

  /** @param timeoutMs The length of every deadline. */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Starts the deadline of a call (its `deadline` is set a promise
   * reaction later).
   *
   * @param entry The call.
   */
  add(entry: Pending): void {
    this.#queue[this.#size++] = entry;
    this.#live++;
    if (!this.#stampQueued) {
      this.#stampQueued = true;
      RESOLVED.then(this.#stamp);
    }
  }

  /**
   * Marks a call settled, by its answer or its deadline.
   *
   * @param entry The call.
   * @returns False when it had already settled (the answer lost the race).
   */
  settle(entry: Pending): boolean {
    if (entry.settled) return false;
    entry.settled = true;
    if (--this.#live === 0) {
      // A large array left by a burst is dropped, not kept with its
      // settled calls (and what they hold) until overwritten.
      if (this.#size > KEEP_AFTER_BURST) this.#queue = [];
      this.#size = 0;
      this.#head = 0;
      this.#unstamped = 0;
      if (this.#timer !== undefined && this.#idleHops === -1) {
        this.#idleHops = 0;
        RESOLVED.then(this.#checkIdle);
      }
    } else {
      this.#dropSettled();
    }
    return true;
  }

  // One reaction after the first add of a run: the answers of calls that
  // had already settled when they were added (reactions queued before
  // this one) have arrived, and those calls have left the queue.
  readonly #stamp = (): void => {
    this.#stampQueued = false;
    const queue = this.#queue;
    const length = this.#size;
    let live = false;
    for (let i = this.#unstamped; i < length; i++) {
      if (!queue[i]!.settled) {
        live = true;
        break;
      }
    }
    if (live) {
      const deadline = performance.now() + this.#timeoutMs;
      for (let i = this.#unstamped; i < length; i++) {
        queue[i]!.deadline = deadline;
      }
      // A reaction later still: calls added after this run's first one
      // (their answers queued behind this reaction) get to settle first.
      if (this.#timer === undefined && !this.#armQueued) {
        this.#armQueued = true;
        RESOLVED.then(this.#armIfLive);
      }
    }
    this.#unstamped = length;
  };

  readonly #armIfLive = (): void => {
    this.#armQueued = false;
    if (this.#live > 0 && this.#timer === undefined) {
      this.#arm(this.#timeoutMs);
    }
  };

  readonly #checkIdle = (): void => {
    if (this.#live > 0) {
      this.#idleHops = -1;
      return;
    }
    if (++this.#idleHops < IDLE_HOPS) {
      RESOLVED.then(this.#checkIdle);
      return;
    }
    this.#idleHops = -1;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  };

  #dropSettled(): void {
    const queue = this.#queue;
    let head = this.#head;
    const size = this.#size;
    while (head < size && queue[head]!.settled) head++;
    if (head > COMPACT_AFTER && head * 2 > size) {
      this.#queue = queue.slice(head, size);
      this.#size = size - head;
      this.#unstamped = Math.max(0, this.#unstamped - head);
      head = 0;
    }
    this.#head = head;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#fire, Math.max(0, delayMs));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (;;) {
      this.#dropSettled();
      const head = this.#head;
      const queue = this.#queue;
      if (head >= this.#size) return;
      // Not stamped yet: the stamp arms the timer.
      if (head >= this.#unstamped) return;
      const entry = queue[head]!;
      if (entry.deadline > now) {
        this.#arm(Math.ceil(entry.deadline - now));
        return;
      }
      // The queue may be reset or compacted meanwhile.
      this.settle(entry);
      entry.expire();
    }
  };
}
