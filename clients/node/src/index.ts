/**
 * @rescp/client: the TypeScript client of rescp. `Client` is the whole surface; the generated
 * messages and grpc-js service clients are exported too, for whatever the client does not wrap.
 */
export { Client, ReportQueuedError, type ClientOptions, type GuardCall } from "./client.js";
export {
  BreakerOpenError, CallRefused, InvalidArgumentError, NotFoundError, RateLimitedError, RescpError,
  StatusError, UnavailableError, type FieldViolation,
} from "./errors.js";
export type { Admin, CallOptions } from "./admin.js";
export type { BreakerConfigInput, FeatureInput, LimitInput } from "./config.js";
export type {
  BreakerDeletedEvent, BreakerTransitionEvent, DegradationChangeEvent, EventTypeName, HealthChangeEvent, HealthName,
  NotificationEvent, RateLimitExceededEvent, Snapshot, WatchEvent, WatchOptions,
} from "./events.js";
export type { Call } from "./hotpath.js";
export type {
  AffectedFeature, Breaker, BreakerConfig, BreakerState, Category, Classification, Decision, ErrorRecord,
  Notification, Outcome, RecoveryAction, Severity, Verdict,
} from "./models.js";
export type { ReportOptions } from "./report.js";
export { Watch } from "./watch.js";
export * as adminProto from "./gen/rescp/v1/admin.js";
export * as enumsProto from "./gen/rescp/v1/enums.js";
export * as eventsProto from "./gen/rescp/v1/events.js";
export * as guardProto from "./gen/rescp/v1/guard.js";
