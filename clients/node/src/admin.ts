/**
 * `client.admin`: the generated AdminService, promisified.
 *
 * One method per RPC of ts-proto's generic definition, named as there (`putBreaker`,
 * `listNotifications`, ...), taking a partial request (unset fields take their proto defaults)
 * and resolving to the generated response message. Each call first waits, within the same
 * timeout, for this client's own background Records, so a client reads its own writes (two
 * failed guarded calls, then `getBreaker`, show both failures).
 */
import { type Connection, type MethodDefinition } from "./connection.js";
import { AdminServiceDefinition, type DeepPartial } from "./gen/rescp/v1/admin.js";

type Methods = typeof AdminServiceDefinition.methods;
type RequestOf<M> = M extends { requestType: { fromPartial(object: never): infer Req } } ? Req : never;
type ResponseOf<M> = M extends { responseType: { decode(input: never): infer Resp } } ? Resp : never;

export interface CallOptions {
  /** This call's deadline; default the client's timeoutMs. */
  timeoutMs?: number;
}

/** The AdminService, one promise-returning method per RPC. */
export type Admin = {
  readonly [K in keyof Methods]: (request?: DeepPartial<RequestOf<Methods[K]>>, options?: CallOptions)
    => Promise<ResponseOf<Methods[K]>>;
};

/** Build the facade; `settle(ms)` waits for the client's own Records and says how long it took. */
export function promisifyAdmin(conn: Connection, timeoutMs: number,
  settle: (ms: number) => Promise<unknown>): Admin {
  const admin: Record<string, unknown> = {};
  const methods = AdminServiceDefinition.methods as Record<string, MethodDefinition<unknown, unknown>>;
  for (const [key, method] of Object.entries(methods)) {
    admin[key] = async (request: object = {}, options: CallOptions = {}): Promise<unknown> => {
      const message = method.requestType.fromPartial(request as never);
      const budget = options.timeoutMs ?? timeoutMs;
      const started = performance.now();
      await settle(budget);
      const left = Math.max(0, budget - (performance.now() - started));
      return conn.unary(AdminServiceDefinition.fullName, method, message, left);
    };
  }
  return admin as Admin;
}
