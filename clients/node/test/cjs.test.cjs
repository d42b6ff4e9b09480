// require() of the package gives the CommonJS build, and it works against a real server.
const assert = require("node:assert/strict");
const { test } = require("node:test");
const rescp = require("@rescp/client");

test("require('@rescp/client') is the CommonJS build, and it guards a call", async () => {
  assert.match(require.resolve("@rescp/client"), /dist[\\/]cjs[\\/]index\.js$/);
  const { Server } = await import("./support/server.mjs");
  const server = await Server.start();
  const client = new rescp.Client(server.target, { allowTimeoutMs: 2000 });
  try {
    assert.equal(await client.guard({ breaker: "cjs" }, () => "ran"), "ran");
    await client.putBreaker("cjs", { failureThreshold: 1 });
    await assert.rejects(client.guard({ breaker: "cjs" }, () => { throw new Error("down"); }), /down/);
    await assert.rejects(client.guard({ breaker: "cjs" }, () => "ran"), rescp.BreakerOpenError);
  } finally {
    await client.close();
    await server.stop();
  }
});
