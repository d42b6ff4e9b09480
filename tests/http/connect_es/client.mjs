// A real Connect client (connect-es over HTTP/1.1) calling rescp. No generated code: the
// services come from a FileDescriptorSet the test writes from rescp's own descriptors.
// Usage: node client.mjs BASE_URL DESCRIPTOR_SET; prints one JSON object of what it saw.
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

const [baseUrl, setPath] = process.argv.slice(2);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(setPath)));
const transport = createConnectTransport({ baseUrl, httpVersion: "1.1" });
const guard = createClient(registry.getService("rescp.v1.GuardService"), transport);
const admin = createClient(registry.getService("rescp.v1.AdminService"), transport);
const errorInfo = registry.getMessage("google.rpc.ErrorInfo");

const allowed = await guard.allow({ breaker: "dydx_api", limit: "api", key: "es" });
const listed = await admin.listBreakers({});
let notFound = null;
try {
  await admin.getBreaker({ name: "nope" });
} catch (error) {
  const e = ConnectError.from(error);
  notFound = { code: Code[e.code], reasons: e.findDetails(errorInfo).map((d) => d.reason) };
}
console.log(JSON.stringify({
  allowed: allowed.allowed,
  remaining: Number(allowed.remaining),
  breakers: listed.breakers.map((b) => b.name).sort(),
  notFound,
}));
