/**
 * The hot path: one Allow before a guarded call, its Record sent in the background after it.
 *
 * - Budget: `decide` never takes longer than allowTimeoutMs in all: first it waits for this
 *   client's own earlier Records of the same breaker, then the Allow gets whatever is left as its
 *   deadline and fails fast when no connection is up. When the budget runs out or rescp cannot be
 *   reached, onUnavailable decides: "allow" lets the call through unchecked, "deny" throws
 *   UnavailableError. Only transport failures count: the server's own answers (an unknown limit,
 *   a bad name) are thrown as the typed errors they are, and so is a bad argument, checked
 *   before anything is sent.
 * - Order: a client never lets its Allow overtake its own earlier Record on the same breaker.
 * - After the call: a Record (with the error attached when the call failed) when a breaker was
 *   consulted; a bare Report through the outbox when only a limit was; for a call let through
 *   unchecked, only its error, through the outbox (rescp is down, and a Record without its permit
 *   would only add load when it comes back). A Record that is not taken is dropped and counted,
 *   but the error it carried goes to the outbox: nothing reported is lost.
 */
import { status as Code } from "@grpc/grpc-js";
import { duration, uint32 } from "./codec.js";
import { InvalidArgumentError, UnavailableError } from "./errors.js";
import { GuardServiceDefinition as Guard, AllowRequest, RecordRequest, type ReportRequest }
  from "./gen/rescp/v1/guard.js";
import { Outcome as OutcomeEnum } from "./gen/rescp/v1/enums.js";
import { type Connection } from "./connection.js";
import { decision, type Decision, type Outcome } from "./models.js";
import { type Outbox } from "./outbox.js";
import { Pending } from "./pending.js";

/** What one guarded call asks for: a breaker, a limit (per key), or both. */
export interface Call {
  breaker?: string;
  limit?: string;
  key?: string;
  /** Tokens to take from the limit; default 1. */
  cost?: number;
}

export interface HotPathOptions {
  allowTimeoutMs: number;
  recordTimeoutMs: number;
  deny: boolean;
  maxPending: number;
}

export const UNCHECKED: Decision = Object.freeze({
  allowed: true, checked: false, verdict: undefined, breakerState: undefined, retryAfterMs: 0,
  remaining: undefined, permit: "",
});

const OUTCOMES: Record<Outcome, OutcomeEnum> = {
  success: OutcomeEnum.OUTCOME_SUCCESS,
  failure: OutcomeEnum.OUTCOME_FAILURE,
  ignored: OutcomeEnum.OUTCOME_IGNORED,
};

/** The AllowRequest of a call, checked before anything is sent. */
export function allowRequest(call: Call): AllowRequest {
  const cost = uint32(call.cost ?? 1, "cost");
  if (cost === 0) throw InvalidArgumentError.local("cost", "must be at least 1");
  return AllowRequest.fromPartial({
    breaker: call.breaker ?? "", limit: call.limit ?? "", key: call.key ?? "", cost,
  });
}

export function outcomeValue(outcome: Outcome): OutcomeEnum {
  const found = OUTCOMES[outcome] as OutcomeEnum | undefined;
  if (found === undefined) {
    throw InvalidArgumentError.local("outcome", `must be "success", "failure" or "ignored", not "${outcome}"`);
  }
  return found;
}

/** Admits guarded calls and records their outcomes for one client. */
export class HotPath {
  private readonly pending: Pending;

  constructor(private readonly conn: Connection, private readonly outbox: Outbox,
    private readonly options: HotPathOptions) {
    this.pending = new Pending(options.maxPending);
  }

  get dropped(): number {
    return this.pending.dropped;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Ask rescp whether the call may run; a refusal is a Decision with allowed=false. */
  async decide(call: Call): Promise<Decision> {
    const request = allowRequest(call);
    const started = performance.now();
    const budget = this.options.allowTimeoutMs;
    const settled = !request.breaker || await this.pending.settle(request.breaker, budget);
    const left = budget - (performance.now() - started);
    if (!settled || left <= 0) {
      return this.unavailable(new UnavailableError(Code.DEADLINE_EXCEEDED,
        `allowTimeoutMs spent waiting for earlier records of "${request.breaker}"`));
    }
    try {
      const response = await this.conn.unary(Guard.fullName, Guard.methods.allow, request, left, false);
      return decision(response, request.limit);
    } catch (error) {
      if (error instanceof UnavailableError) return this.unavailable(error);
      throw error;
    }
  }

  /** Wait up to `ms` for this client's Records of `breaker` (undefined: all of them). */
  settle(breaker: string | undefined, ms: number): Promise<boolean> {
    return this.pending.settle(breaker, ms);
  }

  /** Count `call` (a Record the caller awaits) among this client's Records of `breaker`, so
   * its next Allow there waits for it. */
  track(breaker: string, call: Promise<unknown>): void {
    this.pending.start(breaker, () => call.then(() => true, () => true));
  }

  /** Send what follows a call in the background; never blocks, never throws. */
  finish(call: Call, admitted: Decision, outcome: Outcome, durationMs: number,
    report: ReportRequest | undefined): void {
    const breaker = call.breaker ?? "";
    if (!admitted.checked || !breaker) {
      if (report) this.outbox.add(report);
      return;
    }
    const request = RecordRequest.fromPartial({
      breaker, outcome: OUTCOMES[outcome], permit: admitted.permit, error: report,
      duration: duration(durationMs, "durationMs"),
    });
    const started = this.pending.start(breaker, () => this.record(request));
    if (!started && report) this.outbox.add(report);
  }

  /** One Record; false when it was not taken. Its error then goes to the outbox whatever the
   * reason (rescp unreachable, or the breaker deleted meanwhile: NOT_FOUND): the report stands
   * on its own, and its idempotency key makes it count once should the Record have landed. */
  private async record(request: RecordRequest): Promise<boolean> {
    try {
      await this.conn.unary(Guard.fullName, Guard.methods.record, request,
        this.options.recordTimeoutMs, false);
      return true;
    } catch {
      if (request.error) this.outbox.add(request.error);
      return false;
    }
  }

  private unavailable(error: UnavailableError): Decision {
    if (this.options.deny) throw error;
    return UNCHECKED;
  }
}
