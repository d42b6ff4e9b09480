/**
 * How long a watch or the outbox waits before it tries again.
 *
 * Delays double from `firstMs` up to `capMs`; each is drawn from the upper half of its step
 * ("equal jitter"), so watchers cut off together (a server restart ends every stream at once) do
 * not come back in lockstep, yet none retries sooner than half its step. A success calls
 * `reset()`, so the next break starts again from `firstMs`. The same rule as the Python client.
 */
export class Backoff {
  failures = 0;

  constructor(private readonly firstMs = 100, private readonly capMs = 2000,
    private readonly draw: () => number = Math.random) {
    if (!(firstMs > 0 && firstMs <= capMs)) throw new RangeError("backoff needs 0 < first <= cap");
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const step = Math.min(this.capMs, this.firstMs * 2 ** Math.min(this.failures, 32));
    this.failures += 1;
    return step / 2 + this.draw() * step / 2;
  }

  reset(): void {
    this.failures = 0;
  }
}

/** Sleep `ms`, or less when `signal` aborts meanwhile; never rejects. `keepAlive: false` lets
 * the process exit during the sleep (a timer of the client's own housekeeping). */
export function pause(ms: number, signal: AbortSignal, keepAlive = true): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (!keepAlive) timer.unref();
    signal.addEventListener("abort", done);
  });
}
