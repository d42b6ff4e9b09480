// watch(): an async iterator over the event log that re-reads the state (a snapshot) when it
// cannot resume, and rides out a server restart.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Client } from "@rescp/client";
import { Server } from "./support/server.mjs";

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function until(check, what, ms = 10_000) {
  const deadline = performance.now() + ms;
  while (!check()) {
    assert.ok(performance.now() < deadline, `never: ${what}`);
    await sleep(20);
  }
}

function follow(watch) {
  const events = [];
  const done = (async () => {
    for await (const event of watch) events.push(event);
  })();
  return { events, done };
}

test("a position the server does not have (OUT_OF_RANGE): a snapshot first, then live events", async () => {
  const server = await Server.start();
  const client = new Client(server.target, { allowTimeoutMs: 2000 });
  try {
    await client.putBreaker("far", { failureThreshold: 1 });
    await client.transitionBreaker("far", "forced_open");
    const watch = client.watch({ types: ["breaker_transition"], afterSequence: 1_000_000 });
    const { events, done } = follow(watch);
    await until(() => events.length > 0, "a snapshot");
    const [snapshot] = events;
    assert.equal(snapshot.type, "snapshot");
    assert.equal(snapshot.breakers.find((b) => b.name === "far")?.state, "forced_open");
    assert.deepEqual(snapshot.openCircuits, ["far"]);
    await client.transitionBreaker("far", "closed");
    await until(() => events.some((e) => e.type === "breaker_transition" && e.from === "forced_open" && e.to === "closed"), "the reset");
    assert.ok(watch.lastSequence > snapshot.sequence);
    watch.close();
    await done;
  } finally {
    await client.close();
    await server.stop();
  }
});

test("a server restarted without its log: the watch re-reads the state and follows the new log", async () => {
  let server = await Server.start();
  const client = new Client(server.target, { allowTimeoutMs: 2000 });
  try {
    await client.putBreaker("rs", { failureThreshold: 1 });
    const watch = client.watch({ types: ["breaker_transition"] });
    await watch.ready();
    const { events, done } = follow(watch);
    await client.transitionBreaker("rs", "forced_open");
    await until(() => events.some((e) => e.to === "forced_open"), "forced_open on the first server");
    await server.stop();
    server = await Server.start(server.port);
    await client.putBreaker("rs", { failureThreshold: 1 });
    await client.transitionBreaker("rs", "disabled");
    await until(() => events.some((e) => e.type === "snapshot"), "a snapshot of the new server");
    const snapshot = events.find((e) => e.type === "snapshot");
    await client.transitionBreaker("rs", "closed");
    await until(() => events.some((e) => e.sequence > snapshot.sequence && e.to === "closed"), "live events after the snapshot");
    await client.close();
    await done; // closing the client ends the loop
  } finally {
    await client.close();
    await server.stop();
  }
});

test("a restarted server whose new log already passed the position: rescp-log-id tells, a snapshot comes first", async () => {
  let server = await Server.start();
  const client = new Client(server.target, { allowTimeoutMs: 2000 });
  try {
    await client.putBreaker("lg", { failureThreshold: 1 });
    const watch = client.watch({ types: ["breaker_transition"] });
    await watch.ready();
    const events = watch[Symbol.asyncIterator]();
    await client.transitionBreaker("lg", "forced_open");
    assert.equal((await events.next()).value.to, "forced_open");
    const position = watch.lastSequence;
    // The loop is not pulling now, so the watch resubscribes only once the new log is longer.
    await server.stop();
    server = await Server.start(server.port);
    await client.putBreaker("lg", { failureThreshold: 1 });
    for (let i = 0; i < 3; i++) {
      await client.transitionBreaker("lg", "forced_open");
      await client.transitionBreaker("lg", "closed");
    }
    assert.ok((await client.admin.getSystemHealth()).sequence > position, "the new log is not past the position");
    const next = (await events.next()).value;
    assert.equal(next.type, "snapshot", `expected a snapshot, got ${JSON.stringify(next)}`);
    assert.equal(next.breakers.find((b) => b.name === "lg")?.state, "closed");
    await events.return();
  } finally {
    await client.close();
    await server.stop();
  }
});
