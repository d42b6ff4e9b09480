/**
 * Watch events as plain objects, told apart by `type` (the lower-case EventType word), and the
 * `snapshot` a watch hands out when it had to re-read the state instead of resuming.
 */
import { millis, uint53, value, word } from "./codec.js";
import type {
  GetDegradationResponse, GetSystemHealthResponse, ListBreakersResponse,
} from "./gen/rescp/v1/admin.js";
import { EventType, Health, Severity as SeverityEnum } from "./gen/rescp/v1/enums.js";
import { WatchRequest, type Event } from "./gen/rescp/v1/events.js";
import {
  affectedFeature, breaker, breakerState, notification, type AffectedFeature, type Breaker,
  type BreakerState, type Notification, type Severity,
} from "./models.js";

export type EventTypeName = "breaker_transition" | "notification" | "degradation_change"
  | "health_change" | "rate_limit_exceeded" | "breaker_deleted";
export type HealthName = "healthy" | "warning" | "critical";

interface Sequenced {
  /** The event's position in the server's log. */
  sequence: number;
  time: Date | undefined;
}

export interface BreakerTransitionEvent extends Sequenced {
  type: "breaker_transition";
  breaker: string;
  from: BreakerState | undefined;
  to: BreakerState | undefined;
  reason: string;
}

export interface BreakerDeletedEvent extends Sequenced {
  type: "breaker_deleted";
  breaker: string;
  /** The state it was in. */
  lastState: BreakerState | undefined;
}

export interface NotificationEvent extends Sequenced {
  type: "notification";
  notification: Notification;
}

export interface DegradationChangeEvent extends Sequenced {
  type: "degradation_change";
  isDegraded: boolean;
  affectedFeatures: AffectedFeature[];
  openCircuits: string[];
}

export interface HealthChangeEvent extends Sequenced {
  type: "health_change";
  from: HealthName | undefined;
  to: HealthName | undefined;
}

export interface RateLimitExceededEvent extends Sequenced {
  type: "rate_limit_exceeded";
  limit: string;
  key: string;
  retryAfterMs: number;
  /** Refusals of this key since the last such event. */
  refused: number;
}

/** The state read afresh (the watch could not resume: the server lost its place, or restarted).
 * Events after `sequence` follow; one may repeat what the snapshot already shows. */
export interface Snapshot {
  type: "snapshot";
  sequence: number;
  breakers: Breaker[];
  health: HealthName | undefined;
  isDegraded: boolean;
  openCircuits: string[];
  affectedFeatures: AffectedFeature[];
}

export type WatchEvent = BreakerTransitionEvent | BreakerDeletedEvent | NotificationEvent | DegradationChangeEvent
  | HealthChangeEvent | RateLimitExceededEvent | Snapshot;

function health(value: Health): HealthName | undefined {
  return word(Health, "HEALTH_", value) as HealthName | undefined;
}

/** The client's event for a wire event; undefined for a kind added to the protocol later. */
export function event(message: Event): WatchEvent | undefined {
  const base = { sequence: message.sequence, time: message.time };
  const { breakerTransition: moved, notification: note, degradationChange: degraded,
    healthChange: changed, rateLimitExceeded: limited, breakerDeleted: deleted } = message;
  if (moved) {
    return { type: "breaker_transition", ...base, breaker: moved.breaker,
      from: breakerState(moved.fromState), to: breakerState(moved.toState), reason: moved.reason };
  }
  if (note) return { type: "notification", ...base, notification: notification(note) };
  if (degraded) {
    return { type: "degradation_change", ...base, isDegraded: degraded.isDegraded,
      affectedFeatures: degraded.affectedFeatures.map(affectedFeature),
      openCircuits: [...degraded.openCircuits] };
  }
  if (changed) {
    return { type: "health_change", ...base, from: health(changed.fromHealth), to: health(changed.toHealth) };
  }
  if (limited) {
    return { type: "rate_limit_exceeded", ...base, limit: limited.limit, key: limited.key,
      retryAfterMs: millis(limited.retryAfter), refused: limited.refused };
  }
  if (deleted) {
    return { type: "breaker_deleted", ...base, breaker: deleted.breaker, lastState: breakerState(deleted.lastState) };
  }
  return undefined;
}

/** The three reads as one snapshot, at the oldest sequence of them (so nothing is missed). */
export function snapshot(breakers: ListBreakersResponse, system: GetSystemHealthResponse,
  degradation: GetDegradationResponse): Snapshot {
  return {
    type: "snapshot",
    sequence: Math.min(breakers.sequence, system.sequence, degradation.sequence),
    breakers: breakers.breakers.map(breaker),
    health: health(system.health),
    isDegraded: degradation.isDegraded,
    openCircuits: [...degradation.openCircuits],
    affectedFeatures: degradation.affectedFeatures.map(affectedFeature),
  };
}

export interface WatchOptions {
  /** Event kinds to receive; none or empty: all. */
  types?: EventTypeName[];
  /** For notifications only: at least this severe. */
  minSeverity?: Severity;
  /** Begin with the retained events after this sequence (a read's sequence, or an earlier
   * watch's `lastSequence`); unset: from the first iteration on. */
  afterSequence?: number;
}

/** The WatchRequest of some options, checked before anything is sent. */
export function watchRequest(options: WatchOptions): WatchRequest {
  const types = (options.types ?? []).map((name, index) =>
    value(EventType, "EVENT_TYPE_", name, `types[${index}]`));
  const minSeverity = options.minSeverity === undefined ? SeverityEnum.SEVERITY_UNSPECIFIED
    : value(SeverityEnum, "SEVERITY_", options.minSeverity, "minSeverity");
  const after = options.afterSequence;
  return WatchRequest.fromPartial({
    types, minSeverity, afterSequence: after === undefined ? undefined : uint53(after, "afterSequence"),
  });
}
