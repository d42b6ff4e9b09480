/**
 * From a JavaScript error to what rescp is told about it.
 *
 * `report()` sends the ReportRequest built here, and `guard` attaches the very same request to
 * its Record, so an error is described one way whichever path it takes. The server classifies it
 * from the type name, the message, the gRPC code and the HTTP status, so those are taken from
 * wherever common libraries keep them (`name` or the class name; grpc-js's numeric `code`;
 * `status` / `statusCode`, also on `.response`). Text is cut to the server's limits here: a long
 * message must never turn a report into INVALID_ARGUMENT and lose the error. Each request is
 * stamped when it is built with the time the error happened and an idempotency key, so the outbox
 * can send it late, and again after a lost answer, and it is still counted once, in its place.
 */
import { randomUUID } from "node:crypto";
import { ReportRequest } from "./gen/rescp/v1/guard.js";
import { StatusError } from "./errors.js";

/** The (rescp.v1.text_limit) bounds of ReportRequest's fields in guard.proto; a test holds them
 * equal to the protos. Lengths count Unicode code points, as the server does. */
export const TEXT_LIMITS = {
  operation: 256, errorType: 256, message: 4096, userId: 256, service: 256, idempotencyKey: 128,
  context: { maxChars: 4096, maxEntries: 64, maxKeyChars: 256, maxTotalChars: 8192 },
} as const;

/** `text` cut to at most `max` code points (never splitting a surrogate pair). */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join("");
}

/** The context map within its bounds: entries, key and value lengths, and the total. */
export function boundedContext(context: Record<string, unknown>): Record<string, string> {
  const { maxChars, maxEntries, maxKeyChars, maxTotalChars } = TEXT_LIMITS.context;
  const bounded: Record<string, string> = {};
  let total = 0;
  for (const [rawKey, rawValue] of Object.entries(context).slice(0, maxEntries)) {
    const key = cut(rawKey, maxKeyChars);
    const value = cut(String(rawValue), Math.min(maxChars, maxTotalChars - total - Array.from(key).length));
    if (value.length === 0 && String(rawValue).length > 0) break;
    total += Array.from(key).length + Array.from(value).length;
    bounded[key] = value;
  }
  return bounded;
}

/** What a report says besides the error itself. */
export interface ReportOptions {
  /** The operation that failed, e.g. "charge". */
  operation?: string;
  userId?: string;
  /** Extra facts; values are sent as strings, scrubbed of secrets by the server. */
  context?: Record<string, unknown>;
  /** The reporting service; defaults to the client's `service`. */
  service?: string;
  /** The breaker the failed call went through, if any. */
  breaker?: string;
}

function record(error: unknown): Record<string, unknown> {
  return typeof error === "object" && error !== null ? error as Record<string, unknown> : {};
}

/** The error's type name: its `name`, or its class's name when `name` is the generic "Error". */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const className = error.constructor.name;
  return error.name === "Error" && className ? className : error.name;
}

/** The numeric gRPC code of a failed gRPC call (grpc-js or rescp's own errors), else 0. */
export function grpcCode(error: unknown): number {
  if (error instanceof StatusError) return error.code;
  const { code, details, metadata } = record(error);
  const fromGrpc = typeof details === "string" && typeof metadata === "object";
  return fromGrpc && typeof code === "number" && Number.isInteger(code) ? code : 0;
}

/** The HTTP status an error carries (`status`, `statusCode`, or on `.response`), else 0. */
export function httpStatus(error: unknown): number {
  const fields = record(error);
  const response = record(fields.response);
  for (const value of [fields.status, fields.statusCode, response.status, response.statusCode]) {
    if (typeof value === "number" && Number.isInteger(value) && value >= 100 && value <= 599) {
      return value;
    }
  }
  return 0;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function reportRequest(error: unknown, options: ReportOptions, service: string): ReportRequest {
  const limits = TEXT_LIMITS;
  return ReportRequest.fromPartial({
    operation: cut(options.operation ?? "", limits.operation),
    errorType: cut(errorType(error), limits.errorType),
    message: cut(message(error), limits.message),
    userId: cut(options.userId ?? "", limits.userId),
    grpcCode: grpcCode(error),
    httpStatus: httpStatus(error),
    breaker: options.breaker ?? "",
    context: boundedContext(options.context ?? {}),
    service: cut(options.service ?? service, limits.service),
    time: new Date(),
    idempotencyKey: randomUUID(),
  });
}
