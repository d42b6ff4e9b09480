/**
 * Every error the client throws, and the one function that turns a grpc-js error into one.
 *
 * Callers never see a bare grpc-js `ServiceError`. A server status becomes a `StatusError`
 * carrying the code, the message and the rich details of `grpc-status-details-bin` (AIP-193:
 * branch on `.reason`, not on the message); INVALID_ARGUMENT and NOT_FOUND get their own classes
 * with the BadRequest / ResourceInfo fields unpacked. Transport failures (nothing listening, a
 * deadline, a cancelled call) become `UnavailableError`. Refusals are not RPC errors at all: they
 * are answers, thrown by `guard` as `BreakerOpenError` / `RateLimitedError` with `retryAfterMs`;
 * so that every error can be branched on alike, a refusal carries the code and reason its HTTP
 * twin would have (UNAVAILABLE / `BREAKER_OPEN`, RESOURCE_EXHAUSTED / `RATE_LIMITED`).
 */
import { status as Code, type ServiceError } from "@grpc/grpc-js";
import { BadRequest, ErrorInfo, ResourceInfo, RetryInfo } from "./gen/google/rpc/error_details.js";
import { Status } from "./gen/google/rpc/status.js";

/** Codes that say the control plane could not be reached in time, not that it said no. */
export const TRANSPORT_CODES: ReadonlySet<Code> = new Set([
  Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.CANCELLED,
]);

const DETAILS = "grpc-status-details-bin";
const TYPE_URL = "type.googleapis.com/google.rpc.";

/** Base of everything the client throws. */
export class RescpError extends Error {
  override name = "RescpError";
}

/** One bad field of a request: its path (`limit.window`) and what is wrong with it. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** What a status carries besides its code and message. */
export interface StatusDetails {
  reason?: string;
  metadata?: Record<string, string>;
  fieldViolations?: FieldViolation[];
  resourceType?: string;
  resourceName?: string;
  retryAfterMs?: number;
}

/** rescp answered with an error status (or could not be reached: see `UnavailableError`). */
export class StatusError extends RescpError {
  override name = "StatusError";
  /** The gRPC status code (grpc-js `status`). */
  readonly code: Code;
  /** The code's name, e.g. "NOT_FOUND". */
  readonly codeName: string;
  /** The status message as the server wrote it. */
  readonly details: string;
  /** The ErrorInfo reason (UPPER_SNAKE_CASE, e.g. "BREAKER_NOT_FOUND"); "" when none came. */
  readonly reason: string;
  /** The ErrorInfo metadata. */
  readonly metadata: Record<string, string>;
  /** BadRequest's field violations (INVALID_ARGUMENT). */
  readonly fieldViolations: FieldViolation[];
  /** ResourceInfo (NOT_FOUND): what is missing. */
  readonly resourceType: string;
  readonly resourceName: string;
  /** RetryInfo's delay, when the server sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(code: Code, message: string, details: StatusDetails = {}) {
    const codeName = (Code[code] as string | undefined) ?? String(code);
    super(message ? `${codeName}: ${message}` : codeName);
    this.code = code;
    this.codeName = codeName;
    this.details = message;
    this.reason = details.reason ?? "";
    this.metadata = details.metadata ?? {};
    this.fieldViolations = details.fieldViolations ?? [];
    this.resourceType = details.resourceType ?? "";
    this.resourceName = details.resourceName ?? "";
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** INVALID_ARGUMENT: `.fieldViolations` names every bad field. */
export class InvalidArgumentError extends StatusError {
  override name = "InvalidArgumentError";

  /** A bad argument caught before anything was sent. */
  static local(field: string, description: string): InvalidArgumentError {
    return new InvalidArgumentError(Code.INVALID_ARGUMENT, `${field}: ${description}`, {
      reason: "INVALID_FIELD", metadata: { fields: field },
      fieldViolations: [{ field, description }],
    });
  }
}

/** NOT_FOUND: `.resourceType` and `.resourceName` say what is missing. */
export class NotFoundError extends StatusError {
  override name = "NotFoundError";
}

/** rescp could not be reached, or did not answer within the time allowed. */
export class UnavailableError extends StatusError {
  override name = "UnavailableError";
}

/** rescp refused the call; trying again after `.retryAfterMs` can succeed. */
export class CallRefused extends RescpError {
  override name = "CallRefused";
  readonly retryAfterMs: number;
  readonly code: Code;
  readonly reason: string;

  constructor(message: string, retryAfterMs: number, code: Code, reason: string) {
    super(message);
    this.retryAfterMs = retryAfterMs;
    this.code = code;
    this.reason = reason;
  }
}

/** The breaker refused the call (open, forced_open, or half_open with no free trial). */
export class BreakerOpenError extends CallRefused {
  override name = "BreakerOpenError";
  readonly breaker: string;
  readonly state: string;

  constructor(breaker: string, state: string, retryAfterMs: number) {
    super(`breaker "${breaker}" is ${state}; retry in ${retryAfterMs} ms`, retryAfterMs,
      Code.UNAVAILABLE, "BREAKER_OPEN");
    this.breaker = breaker;
    this.state = state;
  }
}

/** The rate limit refused the call for this key. */
export class RateLimitedError extends CallRefused {
  override name = "RateLimitedError";
  readonly limit: string;
  readonly key: string;

  constructor(limit: string, key: string, retryAfterMs: number) {
    super(`limit "${limit}" refused key "${key}"; retry in ${retryAfterMs} ms`, retryAfterMs,
      Code.RESOURCE_EXHAUSTED, "RATE_LIMITED");
    this.limit = limit;
    this.key = key;
  }
}

/** The rich details of a status, decoded; what cannot be decoded is left out. */
function unpack(error: ServiceError): StatusDetails {
  const raw = error.metadata.get(DETAILS)[0];
  if (!(raw instanceof Buffer)) return {};
  let status: Status;
  try {
    status = Status.decode(raw);
  } catch {
    return {};
  }
  const found: StatusDetails = {};
  for (const any of status.details) {
    const kind = any.typeUrl.startsWith(TYPE_URL) ? any.typeUrl.slice(TYPE_URL.length) : "";
    try {
      if (kind === "ErrorInfo") {
        const info = ErrorInfo.decode(any.value);
        found.reason = info.reason;
        found.metadata = info.metadata;
      } else if (kind === "BadRequest") {
        found.fieldViolations = BadRequest.decode(any.value).fieldViolations
          .map(({ field, description }) => ({ field, description }));
      } else if (kind === "ResourceInfo") {
        const info = ResourceInfo.decode(any.value);
        found.resourceType = info.resourceType;
        found.resourceName = info.resourceName;
      } else if (kind === "RetryInfo") {
        const delay = RetryInfo.decode(any.value).retryDelay;
        if (delay) found.retryAfterMs = delay.seconds * 1000 + delay.nanos / 1e6;
      }
    } catch {
      // one undecodable detail never hides the others
    }
  }
  return found;
}

/** The typed error for a failed call. */
export function fromServiceError(error: ServiceError): StatusError {
  const details = unpack(error);
  const code = error.code;
  if (TRANSPORT_CODES.has(code)) return new UnavailableError(code, error.details, details);
  if (code === Code.INVALID_ARGUMENT) return new InvalidArgumentError(code, error.details, details);
  if (code === Code.NOT_FOUND) return new NotFoundError(code, error.details, details);
  return new StatusError(code, error.details, details);
}
