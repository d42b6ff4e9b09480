/**
 * Between the wire's enums and durations and the client's lower-case words and milliseconds.
 *
 * States, verdicts, categories and severities are lower-case strings (`"open"`, `"network"`),
 * the enum's name without its prefix; durations are milliseconds. A value the wire cannot carry
 * (a negative cost, a threshold of 2**40, a word that names no enum value) is the client's own
 * InvalidArgumentError, thrown before anything is sent.
 */
import type { Duration } from "./gen/google/protobuf/duration.js";
import { InvalidArgumentError } from "./errors.js";

const UINT32_MAX = 2 ** 32 - 1;

/** A TypeScript numeric enum as ts-proto writes it (with the reverse mapping). */
type NumericEnum = Record<string, string | number>;

/** The lower-case word of an enum value (`BREAKER_STATE_HALF_OPEN` -> `"half_open"`); undefined
 * for UNSPECIFIED and for values this client does not know. */
export function word(kind: NumericEnum, prefix: string, value: number): string | undefined {
  const name = kind[value];
  if (typeof name !== "string" || !name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length).toLowerCase();
  return rest === "unspecified" ? undefined : rest;
}

/** The enum value a lower-case word names; InvalidArgumentError for any other word. */
export function value<E extends number>(kind: Record<string, E | string>, prefix: string, given: string,
  field: string): E {
  const found = kind[prefix + given.toUpperCase()];
  if (typeof found !== "number" || given !== given.toLowerCase() || given === "unspecified") {
    const words = Object.keys(kind)
      .filter((name) => name.startsWith(prefix) && !name.endsWith("_UNSPECIFIED"))
      .map((name) => `"${name.slice(prefix.length).toLowerCase()}"`);
    throw InvalidArgumentError.local(field, `must be one of ${words.join(", ")}, not "${given}"`);
  }
  return found;
}

/** Milliseconds of a Duration (0 when unset). */
export function millis(duration: Duration | undefined): number {
  return duration ? duration.seconds * 1000 + duration.nanos / 1e6 : 0;
}

/** A Duration of `ms` milliseconds, which must be finite and not negative. */
export function duration(ms: number, field: string): Duration {
  if (!Number.isFinite(ms) || ms < 0) {
    throw InvalidArgumentError.local(field, `must be a finite, non-negative number of ms, not ${ms}`);
  }
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return { seconds, nanos };
}

/** `given` as a uint32, checked. */
export function uint32(given: number, field: string): number {
  if (!Number.isInteger(given) || given < 0 || given > UINT32_MAX) {
    throw InvalidArgumentError.local(field, `must be an integer from 0 to ${UINT32_MAX}, not ${given}`);
  }
  return given;
}

/** `given` as an integer the wire carries exactly (uint64 fields, JavaScript-safe), checked. */
export function uint53(given: number, field: string): number {
  if (!Number.isSafeInteger(given) || given < 0) {
    throw InvalidArgumentError.local(field, `must be a non-negative safe integer, not ${given}`);
  }
  return given;
}

/** A percentage 0..100, checked. */
export function percent(given: number, field: string): number {
  if (!Number.isFinite(given) || given < 0 || given > 100) {
    throw InvalidArgumentError.local(field, `must be a percentage from 0 to 100, not ${given}`);
  }
  return given;
}
