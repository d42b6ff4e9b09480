/**
 * The client's configuration inputs (camelCase, milliseconds, lower-case words) to the wire's
 * messages, each value checked so that a bad one fails here, named, before anything is sent.
 */
import { duration, percent, uint32, uint53, value } from "./codec.js";
import { InvalidArgumentError } from "./errors.js";
import type { BreakerConfig, Feature, Limit } from "./gen/rescp/v1/admin.js";
import { Algorithm, BreakerState, WindowType } from "./gen/rescp/v1/enums.js";

/** A breaker's config as `putBreaker` takes it; a rule not given is off (0). */
export interface BreakerConfigInput {
  failureThreshold?: number;
  failureRateThreshold?: number;
  slowCallRateThreshold?: number;
  slowCallDurationMs?: number;
  windowType?: "count" | "time";
  windowSize?: number;
  minimumCalls?: number;
  recoveryTimeoutMs?: number;
  halfOpenPermits?: number;
}

export interface LimitInput {
  maxRequests: number;
  windowMs: number;
  algorithm?: "sliding_window" | "token_bucket";
  /** Tokens a local-mode client may hold at once (Limit.lease); 0 or unset: decided on the server. */
  lease?: number;
}

export interface FeatureInput {
  breakers: string[];
  degradedMessage?: string;
  fallbackAvailable?: boolean;
}

const BREAKER_KEYS = new Set<string>(["failureThreshold", "failureRateThreshold",
  "slowCallRateThreshold", "slowCallDurationMs", "windowType", "windowSize", "minimumCalls",
  "recoveryTimeoutMs", "halfOpenPermits"]);

function optional<T>(given: T | undefined, check: (given: T) => unknown): unknown {
  return given === undefined ? undefined : check(given);
}

/** The BreakerConfig message; an unknown key is an error (a typo never turns a rule off). */
export function breakerConfig(input: BreakerConfigInput): Partial<BreakerConfig> {
  const unknown = Object.keys(input).filter((key) => !BREAKER_KEYS.has(key));
  if (unknown.length > 0) throw InvalidArgumentError.local(`config.${unknown[0]}`, "unknown field");
  return {
    failureThreshold: optional(input.failureThreshold, (v) => uint32(v, "config.failureThreshold")),
    failureRateThreshold: optional(input.failureRateThreshold, (v) => percent(v, "config.failureRateThreshold")),
    slowCallRateThreshold: optional(input.slowCallRateThreshold, (v) => percent(v, "config.slowCallRateThreshold")),
    slowCallDuration: optional(input.slowCallDurationMs, (v) => duration(v, "config.slowCallDurationMs")),
    windowType: optional(input.windowType, (v) => value(WindowType, "WINDOW_TYPE_", v, "config.windowType")),
    windowSize: optional(input.windowSize, (v) => uint32(v, "config.windowSize")),
    minimumCalls: optional(input.minimumCalls, (v) => uint32(v, "config.minimumCalls")),
    recoveryTimeout: optional(input.recoveryTimeoutMs, (v) => duration(v, "config.recoveryTimeoutMs")),
    halfOpenPermits: optional(input.halfOpenPermits, (v) => uint32(v, "config.halfOpenPermits")),
  } as Partial<BreakerConfig>;
}

export function limit(name: string, input: LimitInput): Limit {
  return {
    name,
    algorithm: value(Algorithm, "ALGORITHM_", input.algorithm ?? "sliding_window", "algorithm"),
    maxRequests: uint53(input.maxRequests, "maxRequests"),
    window: duration(input.windowMs, "windowMs"),
    lease: uint32(input.lease ?? 0, "lease"),
  };
}

export function feature(name: string, input: FeatureInput): Feature {
  return {
    name,
    breakers: [...input.breakers],
    degradedMessage: input.degradedMessage ?? "",
    fallbackAvailable: input.fallbackAvailable ?? false,
  };
}

/** The state TransitionBreaker moves to: "closed" (a reset), "forced_open" or "disabled". */
export function transitionState(state: string): BreakerState {
  if (!["closed", "forced_open", "disabled"].includes(state)) {
    throw InvalidArgumentError.local("state", `must be "closed", "forced_open" or "disabled", not "${state}"`);
  }
  return value(BreakerState, "BREAKER_STATE_", state, "state");
}
