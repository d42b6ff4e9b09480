// The scenario suite (<repo>/clients/scenarios/*.json, format in its README) played with the
// TypeScript client: a fresh `rescp serve` per scenario, the steps in order, the client closed
// and the server stopped at the end. An unknown op or key fails the scenario loudly, so a typo
// never turns a check into nothing. The Python and Go clients play the same files.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BreakerOpenError, Client, RateLimitedError, UnavailableError } from "@rescp/client";
import { REPO, Server } from "./support/server.mjs";

const DIR = join(REPO, "clients", "scenarios");
const CONFIG = join(DIR, "server.toml"); // the suite's own server config, when it has one
const FILES = existsSync(DIR) ? readdirSync(DIR).filter((name) => name.endsWith(".json")).sort() : [];
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** The application error a "fail" body throws. */
class BodyFailed extends Error {
  name = "BodyFailed";
}

function keys(where, given, allowed) {
  const unknown = Object.keys(given).filter((key) => !allowed.includes(key));
  assert.deepEqual(unknown, [], `${where}: unknown keys ${unknown.join(", ")}`);
}

const camel = (name) => name.replace(/_([a-z])/g, (_, letter) => letter.toUpperCase());

/** A scenario's breaker config (snake_case, `<field>_s` seconds) as putBreaker takes it. */
function breakerConfig(config) {
  return Object.fromEntries(Object.entries(config).map(([name, value]) =>
    (name.endsWith("_s") ? [`${camel(name.slice(0, -2))}Ms`, value * 1000] : [camel(name), value])));
}

function call(spec) {
  keys("call", spec, ["breaker", "limit", "key", "cost"]);
  return { ...spec };
}

function checkRetryAfter(expect, retryAfterMs) {
  const seconds = retryAfterMs / 1000;
  if ("retry_after_min_s" in expect) assert.ok(seconds >= expect.retry_after_min_s, `retry after ${seconds} s < ${expect.retry_after_min_s}`);
  if ("retry_after_max_s" in expect) assert.ok(seconds <= expect.retry_after_max_s, `retry after ${seconds} s > ${expect.retry_after_max_s}`);
}

const REFUSALS = { breaker_open: BreakerOpenError, rate_limited: RateLimitedError, unavailable: UnavailableError };

function checkGuard(expect, outcome, ran, raised) {
  const { result } = expect;
  if (result === "ran") {
    assert.ok(!outcome.threw, `expected the call to run, it threw ${outcome.error}`);
    assert.ok(ran, "the body did not run");
  } else if (result === "failed") {
    assert.ok(ran, "the body did not run");
    assert.equal(outcome.error, raised, `expected the body's own error back, got ${outcome.error}`);
  } else {
    const kind = REFUSALS[result];
    assert.ok(kind, `unknown guard result "${result}"`);
    assert.ok(outcome.error instanceof kind, `expected ${kind.name}, got ${outcome.threw ? outcome.error : "no error"}`);
    assert.ok(!ran, "the body ran");
    if (result !== "unavailable") checkRetryAfter(expect, outcome.error.retryAfterMs);
  }
}

class Player {
  constructor(server, settings) {
    keys("client", settings, ["on_unavailable", "allow_timeout_ms"]);
    this.server = server;
    this.client = new Client(server.target, {
      onUnavailable: settings.on_unavailable ?? "allow", allowTimeoutMs: settings.allow_timeout_ms ?? 50,
    });
    this.permit = undefined;
    this.events = [];
    this.following = undefined;
  }

  async play(step) {
    const entry = OPS[step.op];
    assert.ok(entry, `unknown op "${step.op}"`);
    keys(step.op, step, ["op", ...entry.keys]);
    await entry.run.call(this, step);
  }

  async close() {
    await this.client.close();
    await this.following;
  }
}

const OPS = {
  put_breaker: { keys: ["name", "config"], async run({ name, config }) {
    await this.client.putBreaker(name, breakerConfig(config));
  } },
  put_limit: { keys: ["name", "algorithm", "max_requests", "window_s"], async run(step) {
    await this.client.putLimit(step.name, { algorithm: step.algorithm, maxRequests: step.max_requests, windowMs: step.window_s * 1000 });
  } },
  put_feature: { keys: ["name", "breakers", "degraded_message", "fallback_available"], async run(step) {
    await this.client.putFeature(step.name, { breakers: step.breakers, degradedMessage: step.degraded_message, fallbackAvailable: step.fallback_available });
  } },
  transition: { keys: ["name", "state"], async run({ name, state }) {
    await this.client.transitionBreaker(name, state);
  } },
  guard: { keys: ["call", "body", "expect"], async run(step) {
    const { expect } = step;
    keys("guard.expect", expect, ["result", "retry_after_min_s", "retry_after_max_s", "max_ms"]);
    assert.ok(["ok", "fail"].includes(step.body), `unknown body "${step.body}"`);
    const raised = new BodyFailed("scenario body failed");
    let ran = false;
    const started = performance.now();
    const outcome = await this.client.guard(call(step.call), async () => {
      ran = true;
      if (step.body === "fail") throw raised;
    }).then(() => ({ threw: false }), (error) => ({ threw: true, error }));
    const took = performance.now() - started;
    checkGuard(expect, outcome, ran, raised);
    if ("max_ms" in expect) assert.ok(took <= expect.max_ms, `took ${took.toFixed(0)} ms > ${expect.max_ms}`);
  } },
  allow: { keys: ["call", "expect"], async run(step) {
    const { expect } = step;
    keys("allow.expect", expect, ["allowed", "verdict", "breaker_state", "remaining", "retry_after_min_s", "retry_after_max_s"]);
    const decision = await this.client.allow(call(step.call));
    this.permit = decision.allowed ? decision.permit : undefined;
    assert.equal(decision.allowed, expect.allowed, "allowed");
    assert.ok(decision.checked, "rescp did not answer (let through unchecked)");
    if ("verdict" in expect) assert.equal(decision.verdict, expect.verdict, "verdict");
    if ("breaker_state" in expect) assert.equal(decision.breakerState, expect.breaker_state, "breaker_state");
    if ("remaining" in expect) assert.equal(decision.remaining, expect.remaining, "remaining");
    checkRetryAfter(expect, decision.retryAfterMs);
  } },
  record: { keys: ["breaker", "outcome"], async run({ breaker, outcome }) {
    assert.ok(this.permit !== undefined, "record: the last allow was not allowed");
    const permit = this.permit;
    this.permit = undefined;
    await this.client.record(breaker, permit, outcome, 1, outcome === "failure" ? new BodyFailed("recorded failure") : undefined);
  } },
  report: { keys: ["error", "options", "expect"], async run({ error, options, expect }) {
    keys("report.error", error, ["type", "message"]);
    keys("report.options", options, ["operation", "user_id"]);
    keys("report.expect", expect, ["category", "severity", "message_contains", "message_excludes"]);
    const failure = Object.assign(new Error(error.message), { name: error.type });
    const record = await this.client.report(failure, { operation: options.operation, userId: options.user_id });
    assert.deepEqual([record.category, record.severity], [expect.category, expect.severity]);
    for (const text of expect.message_contains ?? []) assert.ok(record.message.includes(text), `"${text}" not in "${record.message}"`);
    for (const text of expect.message_excludes ?? []) assert.ok(!record.message.includes(text), `"${text}" in "${record.message}"`);
  } },
  breaker_state: { keys: ["name", "expect"], async run({ name, expect }) {
    const deadline = performance.now() + 3000;
    let state;
    while (performance.now() < deadline) {
      state = (await this.client.getBreaker(name)).state;
      if (state === expect) return;
      await sleep(20);
    }
    assert.fail(`${name} is ${state}, expected ${expect}`);
  } },
  watch_start: { keys: ["types"], async run({ types }) {
    const watch = this.client.watch({ types });
    await watch.ready();
    this.following = (async () => {
      for await (const event of watch) this.events.push(event);
    })();
  } },
  watch_expect: { keys: ["within_ms", "event"], async run({ within_ms: within, event: want }) {
    keys("watch_expect.event", want, ["type", "breaker", "from", "to"]);
    assert.equal(want.type, "breaker_transition", `unsupported event "${want.type}"`);
    const deadline = performance.now() + within;
    for (;;) {
      const at = this.events.findIndex((e) => e.type === want.type && e.breaker === want.breaker && e.from === want.from && e.to === want.to);
      if (at >= 0) {
        this.events.splice(0, at + 1);
        return;
      }
      assert.ok(performance.now() < deadline, `no ${JSON.stringify(want)} within ${within} ms`);
      await sleep(10);
    }
  } },
  server: { keys: ["action"], async run({ action }) {
    this.server.act(action);
  } },
  sleep: { keys: ["ms"], async run({ ms }) {
    await sleep(ms);
  } },
};

async function playFile(name) {
  const scenario = JSON.parse(readFileSync(join(DIR, name), "utf8"));
  keys(name, scenario, ["name", "description", "client", "steps"]);
  const server = await Server.start(undefined, existsSync(CONFIG) ? CONFIG : undefined);
  const player = new Player(server, scenario.client ?? {});
  try {
    for (const [index, step] of scenario.steps.entries()) {
      try {
        await player.play(step);
      } catch (error) {
        error.message = `${name} step ${index} (${step.op}): ${error.message}`;
        throw error;
      }
    }
  } finally {
    await player.close();
    await server.stop();
  }
}

if (FILES.length === 0) {
  test("scenarios", { skip: existsSync(DIR) ? false : `no ${DIR} in this checkout` }, () => {
    assert.fail(`no scenarios in ${DIR}`);
  });
}
for (const name of FILES) test(name, () => playFile(name));
