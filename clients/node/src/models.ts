/**
 * What the client hands out: plain objects with lower-case words and milliseconds, decoded from
 * the generated messages here and nowhere else. Words the client does not know (an enum value
 * added to the protocol later) read as undefined rather than failing the call.
 */
import { word, millis } from "./codec.js";
import type {
  AffectedFeature as AffectedFeatureMessage, Breaker as BreakerMessage,
  BreakerConfig as BreakerConfigMessage, Notification as NotificationMessage,
} from "./gen/rescp/v1/admin.js";
import {
  BreakerState as BreakerStateEnum, ErrorCategory, Severity as SeverityEnum, Verdict as VerdictEnum,
  WindowType,
} from "./gen/rescp/v1/enums.js";
import type {
  AllowResponse, ClassifyResponse, ErrorRecord as ErrorRecordMessage,
} from "./gen/rescp/v1/guard.js";

export type BreakerState = "closed" | "open" | "half_open" | "forced_open" | "disabled";
export type Verdict = "allowed" | "breaker_open" | "rate_limited";
export type Category = "network" | "database" | "api" | "rate_limit" | "validation" | "processing"
  | "system" | "unknown";
export type Severity = "low" | "medium" | "high" | "critical";
export type Outcome = "success" | "failure" | "ignored";

/** What `allow` was told. `checked` is false when rescp could not be reached in time and
 * onUnavailable "allow" let the call through unchecked (such a call sends no Record). */
export interface Decision {
  allowed: boolean;
  checked: boolean;
  verdict: Verdict | undefined;
  breakerState: BreakerState | undefined;
  /** When refused: how long until trying again can succeed. */
  retryAfterMs: number;
  /** Tokens left for the key; undefined when no limit was consulted. */
  remaining: number | undefined;
  /** Pass it back to `record`. */
  permit: string;
}

/** A breaker's config; durations in ms. Rules at 0 are off. */
export interface BreakerConfig {
  failureThreshold: number;
  failureRateThreshold: number;
  slowCallRateThreshold: number;
  slowCallDurationMs: number;
  windowType: "count" | "time" | undefined;
  windowSize: number;
  minimumCalls: number;
  recoveryTimeoutMs: number;
  halfOpenPermits: number;
}

export interface Breaker {
  name: string;
  config: BreakerConfig;
  state: BreakerState | undefined;
  failureCount: number;
  successCount: number;
  lastFailureTime: Date | undefined;
  stateSince: Date | undefined;
  /** Percent; undefined while the window holds fewer than minimumCalls calls. */
  failureRate: number | undefined;
  slowCallRate: number | undefined;
}

export interface RecoveryAction {
  type: string;
  message: string;
}

/** A stored error, as rescp classified and scrubbed it. */
export interface ErrorRecord {
  errorId: string;
  operation: string;
  errorType: string;
  message: string;
  category: Category | undefined;
  severity: Severity | undefined;
  userMessage: string;
  time: Date | undefined;
  acknowledged: boolean;
  userId: string;
  action: RecoveryAction | undefined;
  fingerprint: string;
  context: Record<string, string>;
  service: string;
}

/** How rescp would file an error, without storing it (`classify`). */
export interface Classification {
  category: Category | undefined;
  severity: Severity | undefined;
  userMessage: string;
  action: RecoveryAction | undefined;
  fingerprint: string;
  /** The message as it would be stored: scrubbed of secrets. */
  message: string;
}

export interface Notification {
  id: string;
  title: string;
  /** The error's (scrubbed) message. */
  message: string;
  userMessage: string;
  severity: Severity | undefined;
  time: Date | undefined;
  action: RecoveryAction | undefined;
}

export interface AffectedFeature {
  feature: string;
  status: string;
  message: string;
}

export function breakerState(state: BreakerStateEnum): BreakerState | undefined {
  return word(BreakerStateEnum, "BREAKER_STATE_", state) as BreakerState | undefined;
}

export function severity(value: SeverityEnum): Severity | undefined {
  return word(SeverityEnum, "SEVERITY_", value) as Severity | undefined;
}

export function decision(response: AllowResponse, limit: string): Decision {
  return {
    allowed: response.allowed,
    checked: true,
    verdict: word(VerdictEnum, "VERDICT_", response.verdict) as Verdict | undefined,
    breakerState: breakerState(response.breakerState),
    retryAfterMs: millis(response.retryAfter),
    remaining: limit ? response.remaining : undefined,
    permit: response.permit,
  };
}

export function breakerConfig(config: BreakerConfigMessage | undefined): BreakerConfig {
  return {
    failureThreshold: config?.failureThreshold ?? 0,
    failureRateThreshold: config?.failureRateThreshold ?? 0,
    slowCallRateThreshold: config?.slowCallRateThreshold ?? 0,
    slowCallDurationMs: millis(config?.slowCallDuration),
    windowType: config ? word(WindowType, "WINDOW_TYPE_", config.windowType) as "count" | "time" : undefined,
    windowSize: config?.windowSize ?? 0,
    minimumCalls: config?.minimumCalls ?? 0,
    recoveryTimeoutMs: millis(config?.recoveryTimeout),
    halfOpenPermits: config?.halfOpenPermits ?? 0,
  };
}

function rate(value: number): number | undefined {
  return value < 0 ? undefined : value;
}

export function breaker(message: BreakerMessage | undefined): Breaker {
  return {
    name: message?.name ?? "",
    config: breakerConfig(message?.config),
    state: message ? breakerState(message.state) : undefined,
    failureCount: message?.failureCount ?? 0,
    successCount: message?.successCount ?? 0,
    lastFailureTime: message?.lastFailureTime,
    stateSince: message?.stateSince,
    failureRate: rate(message?.failureRate ?? -1),
    slowCallRate: rate(message?.slowCallRate ?? -1),
  };
}

export function errorRecord(message: ErrorRecordMessage | undefined): ErrorRecord {
  return {
    errorId: message?.errorId ?? "",
    operation: message?.operation ?? "",
    errorType: message?.errorType ?? "",
    message: message?.message ?? "",
    category: message ? word(ErrorCategory, "ERROR_CATEGORY_", message.category) as Category : undefined,
    severity: message ? severity(message.severity) : undefined,
    userMessage: message?.userMessage ?? "",
    time: message?.time,
    acknowledged: message?.acknowledged ?? false,
    userId: message?.userId ?? "",
    action: message?.action ? { ...message.action } : undefined,
    fingerprint: message?.fingerprint ?? "",
    context: { ...message?.context },
    service: message?.service ?? "",
  };
}

export function classification(response: ClassifyResponse): Classification {
  return {
    category: word(ErrorCategory, "ERROR_CATEGORY_", response.category) as Category | undefined,
    severity: severity(response.severity),
    userMessage: response.userMessage,
    action: response.action ? { ...response.action } : undefined,
    fingerprint: response.fingerprint,
    message: response.message,
  };
}

export function notification(message: NotificationMessage): Notification {
  return {
    id: message.id,
    title: message.title,
    message: message.message,
    userMessage: message.userMessage,
    severity: severity(message.severity),
    time: message.time,
    action: message.action ? { ...message.action } : undefined,
  };
}

export function affectedFeature(message: AffectedFeatureMessage): AffectedFeature {
  return { feature: message.feature, status: message.status, message: message.message };
}
