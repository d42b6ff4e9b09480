/**
 * The client of rescp: the hot path, reports with an outbox, watch, and admin, over one channel.
 *
 * The hot path (`guard`, `allow`) is bounded by allowTimeoutMs and follows onUnavailable when
 * rescp is slow or down (`hotpath.ts`); every other call is bounded by timeoutMs and throws
 * UnavailableError when rescp cannot answer within it. Records after guarded calls go out in the
 * background and never block the caller, yet never let a later Allow of this client on the same
 * breaker overtake them; reports that cannot be delivered wait in the outbox (`outbox.ts`).
 * Calls about a breaker, and every admin call, first wait (within their timeout) for this
 * client's own Records, so a client reads its own writes. `watch` follows the log for ever.
 */
import { type ChannelOptions } from "@grpc/grpc-js";
import { promisifyAdmin, type Admin } from "./admin.js";
import { duration } from "./codec.js";
import {
  breakerConfig, feature, limit, transitionState, type BreakerConfigInput, type FeatureInput,
  type LimitInput,
} from "./config.js";
import { Connection } from "./connection.js";
import { BreakerOpenError, RateLimitedError, UnavailableError } from "./errors.js";
import { watchRequest, type WatchOptions } from "./events.js";
import { type Feature, type Limit } from "./gen/rescp/v1/admin.js";
import {
  ClassifyRequest, GuardServiceDefinition as Guard, RecordRequest, type ReportRequest,
} from "./gen/rescp/v1/guard.js";
import { HotPath, outcomeValue, type Call } from "./hotpath.js";
import {
  breaker, breakerState, classification, errorRecord, type Breaker, type Classification, type BreakerState, type Decision, type ErrorRecord,
  type Outcome,
} from "./models.js";
import { DEFAULT_OUTBOX, Outbox } from "./outbox.js";
import { reportRequest, type ReportOptions } from "./report.js";
import { Watch } from "./watch.js";

export interface ClientOptions {
  /** The most the hot path waits for rescp, in all (default 50). */
  allowTimeoutMs?: number;
  /** What the hot path does when rescp cannot answer in time: let the call through ("allow",
   * the default) or throw UnavailableError ("deny"). */
  onUnavailable?: "allow" | "deny";
  /** The deadline of every other call (default 5000). */
  timeoutMs?: number;
  /** The default `service` of reports. */
  service?: string;
  /** Background Records in flight before new ones are dropped (default 1000). */
  maxPendingRecords?: number;
  /** Reports the outbox keeps while rescp is down before the oldest are dropped (default 10000). */
  outboxSize?: number;
  /** How long `close()` waits for background Records and the outbox (default 1000). */
  closeTimeoutMs?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

/** A guarded call: what to ask, and how to report it. */
export interface GuardCall extends Call {
  /** The operation its error is reported under; default the breaker's name. */
  operation?: string;
  userId?: string;
  /** Errors for which this returns true count as neither success nor failure. */
  ignore?: (error: unknown) => boolean;
}

/** The error a call to rescp could not deliver, for `report`: it waits in the outbox. */
export class ReportQueuedError extends UnavailableError {
  override name = "ReportQueuedError";
}

function positive(given: number, name: string): number {
  if (!(Number.isFinite(given) && given > 0)) throw new RangeError(`${name} must be positive, not ${given}`);
  return given;
}

/** The refusal a Decision says, as the error `guard` throws. */
function refusal(call: Call, decided: Decision): Error {
  if (decided.verdict === "rate_limited") {
    return new RateLimitedError(call.limit ?? "", call.key ?? "", decided.retryAfterMs);
  }
  return new BreakerOpenError(call.breaker ?? "", decided.breakerState ?? "open", decided.retryAfterMs);
}

/** A client of one rescp server. */
export class Client {
  /** The AdminService, promisified (see `admin.ts`). */
  readonly admin: Admin;
  private readonly conn: Connection;
  private readonly hot: HotPath;
  private readonly outbox: Outbox;
  private readonly watches = new Set<Watch>();
  private readonly timeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly service: string;

  constructor(readonly target: string, options: ClientOptions = {}) {
    const onUnavailable: string = options.onUnavailable ?? "allow";
    if (onUnavailable !== "allow" && onUnavailable !== "deny") {
      throw new RangeError(`onUnavailable must be "allow" or "deny", not "${onUnavailable}"`);
    }
    this.timeoutMs = positive(options.timeoutMs ?? 5000, "timeoutMs");
    this.closeTimeoutMs = options.closeTimeoutMs ?? 1000;
    this.service = options.service ?? "";
    this.conn = new Connection(target, options.channelOptions);
    this.outbox = new Outbox((request) => this.sendReport(request), options.outboxSize ?? DEFAULT_OUTBOX);
    this.hot = new HotPath(this.conn, this.outbox, {
      allowTimeoutMs: positive(options.allowTimeoutMs ?? 50, "allowTimeoutMs"),
      recordTimeoutMs: this.timeoutMs, deny: onUnavailable === "deny",
      maxPending: options.maxPendingRecords ?? 1000,
    });
    this.admin = promisifyAdmin(this.conn, this.timeoutMs, (ms) => this.hot.settle(undefined, ms));
  }

  /** Reports lost: the outbox was full, or the server refused them for good. */
  get droppedReports(): number {
    return this.outbox.dropped;
  }

  /** Background Records lost: over the cap, or undeliverable (their errors went to the outbox). */
  get droppedRecords(): number {
    return this.hot.dropped;
  }

  /** Background Records in flight now. */
  get pendingRecords(): number {
    return this.hot.inFlight;
  }

  /** Reports waiting in the outbox. */
  get queuedReports(): number {
    return this.outbox.size;
  }

  // the hot path

  /** Allow, run `fn`, Record its outcome in the background (an error: a failure, reported, and
   * thrown on unchanged). Refused: BreakerOpenError / RateLimitedError, and `fn` does not run. */
  async guard<T>(call: GuardCall, fn: () => T | Promise<T>): Promise<T> {
    const decided = await this.hot.decide(call);
    if (!decided.allowed) throw refusal(call, decided);
    const started = performance.now();
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      const ignored = call.ignore?.(error) ?? false;
      const report = ignored ? undefined : reportRequest(error, {
        operation: call.operation ?? call.breaker, userId: call.userId, breaker: call.breaker,
      }, this.service);
      this.hot.finish(call, decided, ignored ? "ignored" : "failure", performance.now() - started, report);
      throw error;
    }
    this.hot.finish(call, decided, "success", performance.now() - started, undefined);
    return result;
  }

  /** One Allow within allowTimeoutMs; a refusal is a Decision with allowed=false. */
  allow(call: Call): Promise<Decision> {
    return this.hot.decide(call);
  }

  /** Record the outcome of a call `allow` admitted; resolves with the breaker's state after it.
   * A failure with `error` reports it in the same round trip. */
  async record(breakerName: string, permit: string, outcome: Outcome, durationMs = 0,
    error?: unknown): Promise<BreakerState | undefined> {
    const report = outcome === "failure" && error !== undefined
      ? reportRequest(error, { operation: breakerName, breaker: breakerName }, this.service) : undefined;
    const request = RecordRequest.fromPartial({
      breaker: breakerName, permit, outcome: outcomeValue(outcome),
      duration: duration(durationMs, "durationMs"), error: report,
    });
    const sent = this.conn.unary(Guard.fullName, Guard.methods.record, request, this.timeoutMs, false);
    this.hot.track(breakerName, sent);
    try {
      return breakerState((await sent).breakerState);
    } catch (failure) {
      if (failure instanceof UnavailableError && report) this.outbox.add(report);
      throw failure;
    }
  }

  /** File an error: rescp classifies, scrubs and stores it, and returns the record. When rescp
   * cannot be reached the report waits in the outbox, and this throws ReportQueuedError. */
  async report(error: unknown, options: ReportOptions = {}): Promise<ErrorRecord> {
    const request = reportRequest(error, options, this.service);
    try {
      const response = await this.conn.unary(Guard.fullName, Guard.methods.report, request, this.timeoutMs, false);
      return errorRecord(response.record);
    } catch (failure) {
      if (!(failure instanceof UnavailableError)) throw failure;
      this.outbox.add(request);
      throw new ReportQueuedError(failure.code, `${failure.details}; the report waits in the outbox`);
    }
  }

  /** How rescp would classify and scrub an error, without storing or counting it. */
  async classify(error: unknown, options: ReportOptions = {}): Promise<Classification> {
    const request = ClassifyRequest.fromPartial({ error: reportRequest(error, options, this.service) });
    return classification(await this.conn.unary(Guard.fullName, Guard.methods.classify, request, this.timeoutMs));
  }

  /** Wait up to `timeoutMs` for background Records and the outbox; true when both are empty. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    const started = performance.now();
    const settled = await this.hot.settle(undefined, timeoutMs);
    const left = Math.max(0, timeoutMs - (performance.now() - started));
    return await this.outbox.flush(left) && settled;
  }

  // events

  /** Events as they happen, for ever: `for await (const event of client.watch(...))`. */
  watch(options: WatchOptions = {}): Watch {
    const watch = new Watch(this.conn, watchRequest(options), this.timeoutMs,
      (ended) => this.watches.delete(ended));
    this.watches.add(watch);
    return watch;
  }

  // configuration (everything else: `admin`)

  async putBreaker(name: string, config: BreakerConfigInput = {}): Promise<Breaker> {
    const response = await this.admin.putBreaker({ name, config: breakerConfig(config) });
    return breaker(response.breaker);
  }

  async getBreaker(name: string): Promise<Breaker> {
    return breaker((await this.admin.getBreaker({ name })).breaker);
  }

  /** Move a breaker by hand to "closed" (a reset), "forced_open" or "disabled". */
  async transitionBreaker(name: string, state: "closed" | "forced_open" | "disabled"): Promise<Breaker> {
    const response = await this.admin.transitionBreaker({ name, state: transitionState(state) });
    return breaker(response.breaker);
  }

  async putLimit(name: string, input: LimitInput): Promise<Limit | undefined> {
    return (await this.admin.putLimit({ limit: limit(name, input) })).limit;
  }

  async putFeature(name: string, input: FeatureInput): Promise<Feature | undefined> {
    return (await this.admin.putFeature({ feature: feature(name, input) })).feature;
  }

  /** Wait up to closeTimeoutMs for background Records and the outbox, end every watch, and
   * close the channel; what is still queued then is counted as dropped. */
  async close(): Promise<void> {
    if (this.conn.closed) return;
    await this.flush(this.closeTimeoutMs);
    for (const watch of this.watches) watch.close();
    this.outbox.close();
    this.conn.close();
  }

  private async sendReport(request: ReportRequest): Promise<void> {
    await this.conn.unary(Guard.fullName, Guard.methods.report, request, this.timeoutMs, false);
  }
}
