// The client against a real `rescp serve` (one per test, on a free port): typed errors, checks
// before anything is sent, the promisified admin, text limits, own order of Records.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  BreakerOpenError, Client, InvalidArgumentError, NotFoundError, StatusError, UnavailableError,
} from "@rescp/client";
import { TEXT_LIMITS } from "../dist/esm/report.js";
import { freePort, REPO, Server } from "./support/server.mjs";

describe("against a running server", () => {
  let server;
  let client;
  before(async () => {
    server = await Server.start();
    client = new Client(server.target, { allowTimeoutMs: 2000 });
  });
  after(async () => {
    await client.close();
    await server.stop();
  });

  test("an unknown limit is a NotFoundError with its reason and resource", async () => {
    const error = await client.allow({ limit: "nope", key: "k" }).catch((e) => e);
    assert.ok(error instanceof NotFoundError, String(error));
    assert.ok(error instanceof StatusError);
    assert.equal(error.code, 5);
    assert.equal(error.codeName, "NOT_FOUND");
    assert.equal(error.reason, "LIMIT_NOT_FOUND");
    assert.deepEqual([error.resourceType, error.resourceName], ["limit", "nope"]);
  });

  test("a bad name is the server's InvalidArgumentError naming the field", async () => {
    const error = await client.allow({ breaker: "no spaces allowed" }).catch((e) => e);
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.reason, "INVALID_FIELD");
    assert.deepEqual(error.fieldViolations.map((v) => v.field), ["breaker"]);
  });

  test("values the wire cannot carry fail before anything is sent", async () => {
    for (const cost of [-1, 0, 1.5, 2 ** 40]) {
      await assert.rejects(client.allow({ breaker: "b", cost }), (e) => e instanceof InvalidArgumentError && e.fieldViolations[0].field === "cost");
    }
    await assert.rejects(client.putBreaker("b", { failureThreshold: 2 ** 40 }), InvalidArgumentError);
    await assert.rejects(client.putBreaker("b", { failureTreshold: 2 }), /config.failureTreshold: unknown field/);
    await assert.rejects(client.putLimit("l", { maxRequests: 1, windowMs: -5 }), InvalidArgumentError);
    await assert.rejects(client.transitionBreaker("b", "open"), InvalidArgumentError);
    assert.throws(() => client.watch({ types: ["breaker_transitions"] }), InvalidArgumentError);
  });

  test("c.admin is the AdminService promisified, taking partial requests", async () => {
    await client.admin.putBreaker({ name: "adm", config: { failureThreshold: 3 } });
    const listed = await client.admin.listBreakers();
    assert.ok(listed.breakers.some((b) => b.name === "adm" && b.config.failureThreshold === 3));
    assert.ok(listed.logId.length > 0);
    await assert.rejects(client.admin.getBreaker({ name: "missing" }), (e) => e instanceof NotFoundError && e.reason === "BREAKER_NOT_FOUND");
  });

  test("own order: failures recorded in the background open the breaker before the next call", async () => {
    await client.putBreaker("order", { failureThreshold: 5, recoveryTimeoutMs: 30_000 });
    for (let i = 0; i < 5; i++) {
      await assert.rejects(client.guard({ breaker: "order" }, () => { throw new RangeError("boom"); }), RangeError);
    }
    let ran = false;
    await assert.rejects(client.guard({ breaker: "order" }, () => { ran = true; }), BreakerOpenError);
    assert.equal(ran, false);
    const summary = await client.admin.getErrorSummary();
    assert.ok(summary.recentErrors.filter((r) => r.operation === "order").length === 5);
  });

  test("errors `ignore` accepts count as neither success nor failure", async () => {
    await client.putBreaker("ign", { failureThreshold: 1, recoveryTimeoutMs: 30_000 });
    const ignore = (error) => error instanceof SyntaxError;
    for (let i = 0; i < 3; i++) {
      await assert.rejects(client.guard({ breaker: "ign", ignore }, () => { throw new SyntaxError("not the upstream's fault"); }), SyntaxError);
    }
    assert.equal(await client.guard({ breaker: "ign", ignore }, () => "ran"), "ran");
    const found = await client.getBreaker("ign");
    assert.deepEqual([found.state, found.failureCount, found.successCount], ["closed", 0, 1]);
    assert.equal(client.droppedRecords, 0);
  });

  test("a failure whose Record finds its breaker deleted is still reported", async () => {
    await client.putBreaker("gone", { failureThreshold: 5 });
    const failure = new Error("upstream said no while its breaker was deleted");
    await assert.rejects(client.guard({ breaker: "gone" }, async () => {
      await client.admin.deleteBreaker({ name: "gone" });
      throw failure;
    }), (e) => e === failure);
    assert.equal(await client.flush(5000), true);
    assert.equal(client.droppedRecords, 1, "the Record was refused (NOT_FOUND)");
    const summary = await client.admin.getErrorSummary();
    assert.ok(summary.recentErrors.some((r) => r.message === failure.message), "the report was lost");
  });

  test("allow and record by hand: a permit, an outcome, the state after it", async () => {
    await client.putBreaker("pair", { failureThreshold: 1, recoveryTimeoutMs: 30_000 });
    const decision = await client.allow({ breaker: "pair" });
    assert.equal(decision.allowed, true);
    assert.equal(decision.breakerState, "closed");
    assert.equal(await client.record("pair", decision.permit, "failure", 12, new Error("timed out")), "open");
    const refused = await client.allow({ breaker: "pair" });
    assert.deepEqual([refused.allowed, refused.verdict, refused.breakerState], [false, "breaker_open", "open"]);
    assert.ok(refused.retryAfterMs > 25_000 && refused.retryAfterMs <= 30_000, String(refused.retryAfterMs));
  });

  test("classify files nothing: the category, severity and scrubbed message only", async () => {
    const before = (await client.admin.getErrorSummary()).totalErrors;
    const error = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432, token=abc123secret"), { name: "Error" });
    const found = await client.classify(error, { operation: "probe" });
    assert.deepEqual([found.category, found.severity], ["network", "high"]);
    assert.ok(!found.message.includes("abc123secret"), found.message);
    assert.equal((await client.admin.getErrorSummary()).totalErrors, before);
  });

  test("a report longer than the server takes is cut to fit, not refused", async () => {
    const long = new Error("x".repeat(10_000));
    const record = await client.report(long, { operation: "o".repeat(1000), context: { k: "v".repeat(9000) } });
    assert.equal(record.message.length, TEXT_LIMITS.message);
    assert.equal(record.operation.length, TEXT_LIMITS.operation);
  });
});

test("import gives the ES module build", () => {
  assert.match(import.meta.resolve("@rescp/client"), /dist\/esm\/index\.js$/);
});

test("the client's text limits are the protos' (rescp.v1.text_limit)", () => {
  const proto = readFileSync(join(REPO, "protos", "rescp", "v1", "guard.proto"), "utf8");
  const body = proto.slice(proto.indexOf("message ReportRequest {"), proto.indexOf("message ReportResponse"));
  const limit = (field) => Number(new RegExp(`string ${field} = \\d+ \\[\\(rescp\\.v1\\.text_limit\\) = \\{max_chars: (\\d+)\\}`).exec(body)?.[1]);
  const snake = { operation: "operation", errorType: "error_type", message: "message", userId: "user_id", service: "service", idempotencyKey: "idempotency_key" };
  for (const [name, field] of Object.entries(snake)) assert.equal(TEXT_LIMITS[name], limit(field), field);
  const context = /map<string, string> context = \d+ \[\(rescp\.v1\.text_limit\) = \{([^}]*)\}/.exec(body)[1];
  const number = (key) => Number(new RegExp(`${key}: (\\d+)`).exec(context)[1]);
  assert.deepEqual(TEXT_LIMITS.context, {
    maxChars: number("max_chars"), maxEntries: number("max_entries"), maxKeyChars: number("max_key_chars"), maxTotalChars: number("max_total_chars"),
  });
});

test("with nothing listening: fail-open, deny, and a bad argument still thrown", async () => {
  const target = `127.0.0.1:${await freePort()}`;
  const open = new Client(target, { allowTimeoutMs: 100 });
  const deny = new Client(target, { allowTimeoutMs: 100, onUnavailable: "deny" });
  try {
    assert.equal(await open.guard({ breaker: "b" }, () => 42), 42);
    const decision = await open.allow({ breaker: "b" });
    assert.deepEqual([decision.allowed, decision.checked], [true, false]);
    await assert.rejects(deny.guard({ breaker: "b" }, () => 42), UnavailableError);
    await assert.rejects(open.guard({ breaker: "b", cost: -1 }, () => 42), InvalidArgumentError);
    await assert.rejects(open.admin.listBreakers({}, { timeoutMs: 200 }), UnavailableError);
  } finally {
    await Promise.all([open.close(), deny.close()]);
  }
});
