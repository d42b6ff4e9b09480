/**
 * Background calls (Records) in flight, grouped per key (a breaker) and bounded in number.
 *
 * The hot path never waits for a Record, but the next Allow on the same breaker waits (within
 * its own budget) for this client's Records of that breaker started before it, so a client's
 * Allow never overtakes its own earlier Record: two failures in a row open a failure_threshold=2
 * breaker before a third call is let in. Over the cap, new calls are dropped and counted.
 */

/** Resolves true when `work` settles within `ms`, false when the time runs out first. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => { resolve(false); }, Math.max(0, ms));
  });
  try {
    return await Promise.race([work.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

export class Pending {
  private readonly byKey = new Map<string, Set<Promise<void>>>();
  private count = 0;
  /** Calls lost: over the cap, or failed. */
  dropped = 0;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.count;
  }

  /** Run `work` in the background under `key`; false when it was dropped instead. `work`
   * resolves false when its call failed (it is then counted as dropped). */
  start(key: string, work: () => Promise<boolean>): boolean {
    if (this.count >= this.limit) {
      this.dropped += 1;
      return false;
    }
    const tasks = this.byKey.get(key) ?? new Set<Promise<void>>();
    this.byKey.set(key, tasks);
    const task: Promise<void> = Promise.resolve().then(work).then((sent) => {
      if (!sent) this.dropped += 1;
    }, () => { this.dropped += 1; }).finally(() => {
      tasks.delete(task);
      this.count -= 1;
      if (tasks.size === 0) this.byKey.delete(key);
    });
    tasks.add(task);
    this.count += 1;
    return true;
  }

  /** Wait up to `ms` for the calls of `key` started so far (undefined: every call); true when
   * none of them is left. */
  settle(key: string | undefined, ms: number): Promise<boolean> {
    const tasks = key === undefined
      ? [...this.byKey.values()].flatMap((set) => [...set])
      : [...this.byKey.get(key) ?? []];
    if (tasks.length === 0) return Promise.resolve(true);
    return within(Promise.all(tasks), ms);
  }
}
