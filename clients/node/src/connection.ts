/**
 * One channel to rescp and the calls made on it.
 *
 * Every RPC is described by ts-proto's generic service definitions (a service's full name, a
 * method's name and its request and response message types), so one `unary` and one `stream`
 * serve every service, and
 * the promisified admin facade is built from the same table. Every grpc-js error leaves this
 * module typed (`fromServiceError`). Calls wait for a connection (`waitForReady`) up to their
 * deadline by default, so an admin call made while rescp restarts succeeds once it is back; the
 * hot path asks them to fail fast instead, and so do streams (a watch paces its own reconnection).
 * The channel options make a client heal by itself: reconnect attempts every 1-2 s whatever
 * happened before, and keepalive pings so a silently dropped connection is noticed.
 */
import {
  Client as GrpcClient, credentials, Metadata, type ChannelOptions, type ClientReadableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import { fromServiceError, RescpError } from "./errors.js";

/** The part of a ts-proto message type the client uses. */
export interface MessageType<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: never): T;
}

/** One method of a ts-proto generic service definition. */
export interface MethodDefinition<Req, Resp> {
  readonly name: string;
  readonly requestType: MessageType<Req>;
  readonly responseType: MessageType<Resp>;
  readonly responseStream: boolean;
}

export const CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 1_000,
  "grpc.min_reconnect_backoff_ms": 1_000,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
};

/** The path of one RPC, as grpc wants it. */
function path(service: string, method: { name: string }): string {
  return `/${service}/${method.name}`;
}

/** The channel, its calls, and typed errors. */
export class Connection {
  private readonly client: GrpcClient;
  closed = false;

  constructor(readonly target: string, options: ChannelOptions = {}) {
    this.client = new GrpcClient(target, credentials.createInsecure(),
      { ...CHANNEL_OPTIONS, ...options });
  }

  /** One unary call with a deadline `timeoutMs` away. */
  unary<Req, Resp>(service: string, method: MethodDefinition<Req, Resp>, request: Req,
    timeoutMs: number, waitForReady = true): Promise<Resp> {
    if (this.closed) return Promise.reject(new RescpError("the client is closed"));
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        path(service, method),
        (value: Req) => Buffer.from(method.requestType.encode(value).finish()),
        (bytes: Buffer) => method.responseType.decode(bytes),
        request, new Metadata({ waitForReady }), { deadline: Date.now() + timeoutMs },
        (error: ServiceError | null, response?: Resp) => {
          if (error) reject(fromServiceError(error));
          else if (response === undefined) reject(new RescpError(`${method.name}: no response`));
          else resolve(response);
        });
    });
  }

  /** A server-streaming call that fails fast when no connection is up. */
  stream<Req, Resp>(service: string, method: MethodDefinition<Req, Resp>,
    request: Req): ClientReadableStream<Resp> {
    if (this.closed) throw new RescpError("the client is closed");
    return this.client.makeServerStreamRequest(
      path(service, method),
      (value: Req) => Buffer.from(method.requestType.encode(value).finish()),
      (bytes: Buffer) => method.responseType.decode(bytes),
      request, new Metadata({ waitForReady: false }), {});
  }

  close(): void {
    this.closed = true;
    this.client.close();
  }
}
