// Reports while rescp is down: queued with their time and idempotency key, bounded (the oldest
// dropped and counted), and delivered once a server listens on that port.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, ReportQueuedError } from "@rescp/client";
import { freePort, Server } from "./support/server.mjs";

test("the outbox keeps the newest reports while rescp is down and sends them when it is back", async () => {
  const port = await freePort();
  const client = new Client(`127.0.0.1:${port}`, { outboxSize: 3, timeoutMs: 1000, allowTimeoutMs: 100 });
  let server;
  try {
    for (let i = 0; i < 4; i++) {
      await assert.rejects(client.report(new Error(`down ${i}`), { operation: "outbox" }), ReportQueuedError);
    }
    const failed = new TypeError("down 4 (a guarded call let through)");
    await assert.rejects(client.guard({ breaker: "ob" }, () => { throw failed; }), (e) => e === failed);
    assert.equal(client.queuedReports, 3);
    assert.equal(client.droppedReports, 2);
    const queuedBefore = new Date();
    server = await Server.start(port);
    assert.equal(await client.flush(15_000), true, "the outbox did not drain");
    assert.equal(client.queuedReports, 0);
    const summary = await client.admin.getErrorSummary();
    const messages = summary.recentErrors.map((r) => r.message).sort();
    assert.deepEqual(messages, ["down 2", "down 3", "down 4 (a guarded call let through)"]);
    assert.equal(summary.totalErrors, 3);
    for (const record of summary.recentErrors) {
      assert.ok(record.time <= queuedBefore, `${record.message}: kept its own time ${record.time.toISOString()}`);
    }
  } finally {
    await client.close();
    await server?.stop();
  }
});
