/**
 * `watch()`: the event log as an endless async iterator that rides out broken streams without
 * gaps; the same rules as the Python client's watch.
 *
 * - Position: a watch keeps the sequence of the last event it handed out (`lastSequence`), and
 *   every (re)subscription asks for the events after it. Started without `afterSequence`, it first
 *   reads the current sequence (GetSystemHealth), so even a watch that has seen no event yet
 *   resumes without a gap. That read happens on the first iteration (`ready()` starts it early).
 * - Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, RESOURCE_EXHAUSTED: this reader
 *   fell too far behind) are retried after an exponential backoff with jitter, reset by each
 *   successful subscription; every call fails fast, so the backoff alone paces the attempts.
 * - OUT_OF_RANGE (the server no longer retains the events after the position), or a subscription
 *   whose `rescp-log-id` header names another log than the position counts in (a restarted
 *   server): the state is read afresh and handed out as a `Snapshot`, and the watch goes on after
 *   the smallest sequence of those reads: an event may repeat the snapshot, none is lost.
 * - Anything else is thrown from the loop as its typed error. An event kind this client does not
 *   know is skipped; its sequence still counts.
 * - Ending: `close()`, breaking out of the loop, or closing the client cancels the call at once.
 */
import { status as Code } from "@grpc/grpc-js";
import { Backoff, pause } from "./backoff.js";
import { type Connection } from "./connection.js";
import { StatusError, UnavailableError } from "./errors.js";
import { event, snapshot, type WatchEvent } from "./events.js";
import {
  AdminServiceDefinition as Admin, ListBreakersRequest, type ListBreakersResponse,
} from "./gen/rescp/v1/admin.js";
import { EventServiceDefinition as Events, type WatchRequest } from "./gen/rescp/v1/events.js";
import { StreamReader } from "./stream.js";

export const LOG_ID = "rescp-log-id";

const RETRIED: ReadonlySet<Code> = new Set([
  Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED, Code.RESOURCE_EXHAUSTED, Code.OUT_OF_RANGE,
]);

/** Events as they happen: `for await (const event of watch)`. */
export class Watch implements AsyncIterable<WatchEvent> {
  private readonly stop = new AbortController();
  private reader: StreamReader<unknown> | undefined;
  private readonly events: AsyncGenerator<WatchEvent, void, undefined>;
  private logId = "";
  private started: Promise<number> | undefined;
  /** The sequence reached: that of the last event (or snapshot) handed out, else the one it
   * started after (undefined until a watch started without afterSequence has read it). */
  lastSequence: number | undefined;

  constructor(private readonly conn: Connection, private readonly request: WatchRequest,
    private readonly timeoutMs: number, private readonly onEnd: (watch: Watch) => void) {
    this.lastSequence = request.afterSequence;
    this.events = this.follow();
  }

  [Symbol.asyncIterator](): AsyncGenerator<WatchEvent, void, undefined> {
    return this.events;
  }

  /** Fix "now": read the position a watch without afterSequence starts after, if not yet done;
   * resolves with it. Events from then on are seen, whenever the loop starts. */
  ready(): Promise<number> {
    this.started ??= this.lastSequence !== undefined ? Promise.resolve(this.lastSequence)
      : this.conn.unary(Admin.fullName, Admin.methods.getSystemHealth, {}, this.timeoutMs, false)
        .then((health) => {
          this.lastSequence ??= health.sequence;
          this.logId ||= health.logId;
          return this.lastSequence;
        });
    return this.started;
  }

  /** End the watch and cancel its call; a loop over it ends. */
  close(): void {
    this.stop.abort();
    this.reader?.cancel();
  }

  isClosed(): boolean {
    return this.stop.signal.aborted || this.conn.closed;
  }

  private async *follow(): AsyncGenerator<WatchEvent, void, undefined> {
    const backoff = new Backoff();
    let stale = false;
    try {
      while (!this.isClosed()) {
        try {
          if (stale) {
            const snap = await this.snapshot();
            stale = false;
            yield snap;
          }
          await this.ready();
          yield* this.subscribe(backoff);
        } catch (error) {
          if (this.isClosed()) return;
          if (!(error instanceof StatusError) || !RETRIED.has(error.code)) throw error;
          stale ||= error.code === Code.OUT_OF_RANGE;
          this.started = undefined;
          await pause(backoff.next(), this.stop.signal);
        }
      }
    } finally {
      this.close();
      this.onEnd(this);
    }
  }

  /** One subscription, from the position on, until it breaks. */
  private async *subscribe(backoff: Backoff): AsyncGenerator<WatchEvent, void, undefined> {
    const request = { ...this.request, afterSequence: this.lastSequence };
    const reader = new StreamReader(this.conn.stream(Events.fullName, Events.methods.watch, request));
    this.reader = reader;
    try {
      const metadata = await reader.metadata;
      if (metadata) {
        this.sameLog(String(metadata.get(LOG_ID)[0] ?? ""));
        backoff.reset();
      }
      for (let response = await reader.read(); response; response = await reader.read()) {
        for (const message of response.events) {
          this.lastSequence = message.sequence;
          const found = event(message);
          if (found) yield found;
        }
      }
      throw new UnavailableError(Code.UNAVAILABLE, "the stream ended");
    } finally {
      reader.cancel();
      this.reader = undefined;
    }
  }

  /** The log a subscription follows must be the one the position counts in. */
  private sameLog(served: string): void {
    if (this.logId && served && served !== this.logId) {
      throw new StatusError(Code.OUT_OF_RANGE, "the server keeps a different event log now (it restarted)");
    }
    this.logId ||= served;
  }

  private async snapshot(): Promise<WatchEvent> {
    const { getSystemHealth, getDegradation } = Admin.methods;
    const breakers = await this.allBreakers();
    const health = await this.conn.unary(Admin.fullName, getSystemHealth, {}, this.timeoutMs, false);
    const degradation = await this.conn.unary(Admin.fullName, getDegradation, {}, this.timeoutMs, false);
    const snap = snapshot(breakers, health, degradation);
    this.lastSequence = snap.sequence;
    this.logId = breakers.logId;
    this.started = Promise.resolve(snap.sequence);
    return snap;
  }

  /** Every page of ListBreakers, as one response (the sequence and log of its first page). */
  private async allBreakers(): Promise<ListBreakersResponse> {
    const read = (pageToken: string): Promise<ListBreakersResponse> => this.conn.unary(Admin.fullName,
      Admin.methods.listBreakers, ListBreakersRequest.fromPartial({ pageToken }), this.timeoutMs, false);
    const first = await read("");
    for (let page = first; page.nextPageToken; ) {
      page = await read(page.nextPageToken);
      first.breakers.push(...page.breakers);
    }
    return first;
  }
}
