/**
 * A grpc-js server stream read one message at a time, its errors typed.
 *
 * Listeners are attached the moment the call starts, so an error that arrives before anyone
 * reads is kept, never thrown into the process as an unhandled 'error' event. The reader holds
 * at most HIGH_WATER messages before it pauses the stream (the server cuts off a watcher that
 * falls too far behind, so a slow consumer can neither grow this buffer nor stall anyone else).
 */
import type { ClientReadableStream, Metadata, ServiceError } from "@grpc/grpc-js";
import { fromServiceError, type StatusError } from "./errors.js";

const HIGH_WATER = 64;

export class StreamReader<T> {
  private readonly items: T[] = [];
  private ended = false;
  private failure: StatusError | undefined;
  private wake: (() => void) | undefined;
  /** The call's initial metadata; undefined when the call ended before sending any. */
  readonly metadata: Promise<Metadata | undefined>;

  constructor(private readonly stream: ClientReadableStream<T>) {
    stream.on("data", (message: T) => {
      this.items.push(message);
      if (this.items.length >= HIGH_WATER) stream.pause();
      this.notify();
    });
    stream.on("error", (error: ServiceError) => {
      this.failure = fromServiceError(error);
      this.notify();
    });
    stream.on("end", () => {
      this.ended = true;
      this.notify();
    });
    this.metadata = new Promise((resolve) => {
      stream.once("metadata", resolve);
      stream.once("error", () => { resolve(undefined); });
      stream.once("end", () => { resolve(undefined); });
    });
  }

  /** The next message; undefined when the server ended the stream with OK. */
  async read(): Promise<T | undefined> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        if (this.items.length < HIGH_WATER / 2) this.stream.resume();
        return item;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  cancel(): void {
    this.stream.cancel();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
