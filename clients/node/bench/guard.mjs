// A guarded no-op call with the TypeScript client against a running rescp, next to the same
// pair of RPCs (Allow, then Record) made with the bare generated grpc-js stubs: the difference is
// what the client adds. Rounds alternate bare and guarded (ABBA); each call is timed alone (one
// in flight: latency, not throughput) and the medians are printed as one JSON line for
// bench/node_client.py:  node bench/guard.mjs --target HOST:PORT [--breaker B] [--rounds N] [--round-s S]
import { parseArgs } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { Client, enumsProto, guardProto } from "@rescp/client";

const { values } = parseArgs({ options: {
  target: { type: "string" }, breaker: { type: "string", default: "bench" },
  rounds: { type: "string", default: "6" }, "round-s": { type: "string", default: "1" },
} });
if (!values.target) throw new Error("--target HOST:PORT is required");
const breaker = values.breaker;
const rounds = Number(values.rounds);
const roundMs = Number(values["round-s"]) * 1000;

const stub = new guardProto.GuardServiceClient(values.target, credentials.createInsecure());
const unary = (method, request) => new Promise((done, fail) => {
  stub[method](request, (error, response) => (error ? fail(error) : done(response)));
});
const client = new Client(values.target, { allowTimeoutMs: 2000 });

async function bare() {
  const { permit } = await unary("allow", guardProto.AllowRequest.fromPartial({ breaker }));
  await unary("record", guardProto.RecordRequest.fromPartial({
    breaker, permit, outcome: enumsProto.Outcome.OUTCOME_SUCCESS, duration: { seconds: 0, nanos: 1000 },
  }));
}

async function guarded() {
  await client.guard({ breaker }, () => undefined);
}

async function round(fn, times) {
  const stop = performance.now() + roundMs / 2;
  for (let started = performance.now(); started < stop; started = performance.now()) {
    await fn();
    times.push(performance.now() - started);
  }
}

function median(times) {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const bareTimes = [];
const guardedTimes = [];
await bare(); // connect both before timing
await guarded();
for (let i = 0; i < 2 * rounds; i++) {
  const order = i % 2 === 0 ? [[bare, bareTimes], [guarded, guardedTimes]] : [[guarded, guardedTimes], [bare, bareTimes]];
  for (const [fn, times] of order) await round(fn, times);
}
await client.close();
stub.close();
console.log(JSON.stringify({
  client: "node", bare_us: median(bareTimes) * 1000, guarded_us: median(guardedTimes) * 1000,
  calls: bareTimes.length + guardedTimes.length,
}));
