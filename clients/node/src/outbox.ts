/**
 * Reports that could not be delivered yet: a bounded queue, sent oldest first when rescp is back.
 *
 * Nothing reported is lost while rescp is down: a report that meets a transport failure (nothing
 * listening, a deadline) waits here, with the `time` it happened and the `idempotencyKey` it was
 * stamped with when it was built, so a late send keeps its place in the error rate and a resend
 * after a lost answer is counted once. One sender drains the queue, one report at a time, pacing
 * its retries with the backoff (0.1 s doubling to 2 s). When the queue is full the oldest report
 * is dropped and counted (`dropped`); so is a report the server refuses outright (say, one
 * older than the server accepts), since no retry could cure it. `flush(ms)` waits for the queue.
 * Its retry timer does not keep the process alive: an app that wants its reports delivered
 * before it exits awaits `flush` or `close`.
 */
import { Backoff, pause } from "./backoff.js";
import { UnavailableError } from "./errors.js";
import type { ReportRequest } from "./gen/rescp/v1/guard.js";
import { within } from "./pending.js";

export const DEFAULT_OUTBOX = 10_000;

export class Outbox {
  private readonly queue: ReportRequest[] = [];
  private draining: Promise<void> | undefined;
  private readonly backoff = new Backoff();
  private readonly stop = new AbortController();
  /** Reports lost: pushed out by newer ones when full, or refused by the server. */
  dropped = 0;

  constructor(private readonly send: (request: ReportRequest) => Promise<void>,
    private readonly capacity = DEFAULT_OUTBOX) {
    if (!(Number.isInteger(capacity) && capacity > 0)) {
      throw new RangeError(`outbox capacity must be a positive integer, not ${capacity}`);
    }
  }

  /** Reports waiting to be sent. */
  get size(): number {
    return this.queue.length;
  }

  /** Queue a report and make sure the sender runs. */
  add(request: ReportRequest): void {
    if (this.stop.signal.aborted) {
      this.dropped += 1;
      return;
    }
    if (this.queue.length >= this.capacity) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push(request);
    this.draining ??= this.drain().finally(() => { this.draining = undefined; });
  }

  /** Wait up to `ms` for every queued report to be sent; true when the queue is empty. */
  async flush(ms: number): Promise<boolean> {
    if (this.draining) await within(this.draining, ms);
    return this.queue.length === 0;
  }

  /** Stop sending; what is still queued is counted as dropped. */
  close(): void {
    this.stop.abort();
    this.dropped += this.queue.length;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stop.signal.aborted) {
      const request = this.queue[0];
      try {
        await this.send(request);
        this.backoff.reset();
      } catch (error) {
        if (error instanceof UnavailableError) {
          await pause(this.backoff.next(), this.stop.signal, false);
          continue;
        }
        this.dropped += 1; // refused for good: no retry would cure it
      }
      if (this.queue[0] === request) this.queue.shift();
    }
  }
}
