// rescp dashboard. Reads the state once (Connect JSON and the seed REST API), then follows
// /api/events from the sequence that read reflects (list-then-watch: nothing missed, nothing
// twice); each event is shown in the feed and re-reads the state it touches. Rows are keyed
// and updated in place, sorted by name, so nothing jumps. All text goes in as textContent.
"use strict";

const STATES = ["closed", "open", "half_open", "forced_open", "disabled"];
const FEED_MAX = 200;
const breakerRows = new Map();
let breakers = [];
let source = null;
let refreshTimer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("data-") || key === "class") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

async function connect(procedure, body = {}) {
  const response = await fetch(`/rescp.v1.${procedure}`, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${procedure}: ${json.code}: ${json.message}`);
  return json;
}

async function rest(path, method = "GET") {
  const response = await fetch(path, {method});
  const json = await response.json();
  if (!response.ok) throw new Error(`${path}: ${json.error && json.error.message}`);
  return json;
}

const lower = (value, prefix) => (value || "").replace(prefix, "").toLowerCase();
const seconds = (duration) => parseFloat(duration || "0s");

function ago(iso) {
  if (!iso) return "–";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.floor(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d`;
}

const rate = (value) => (value === undefined || value < 0 ? "–" : `${value.toFixed(1)}%`);
const clock = (iso) => new Date(iso).toLocaleTimeString([], {hour12: false});

function breakerRow(name) {
  let row = breakerRows.get(name);
  if (!row) {
    row = el("tr", {"data-breaker": name});
    for (let i = 0; i < 8; i++) row.append(el("td", i >= 2 ? {class: "num"} : {}));
    row.cells[0].textContent = name;
    row.cells[0].title = name;
    row.cells[1].append(el("span", {class: "state"}));
    breakerRows.set(name, row);
  }
  return row;
}

function renderBreakers() {
  const body = document.getElementById("breakers");
  const names = new Set(breakers.map((b) => b.name));
  for (const [name, row] of breakerRows) {
    if (!names.has(name)) { row.remove(); breakerRows.delete(name); }
  }
  breakers.sort((a, b) => a.name.localeCompare(b.name)).forEach((b, index) => {
    const row = breakerRow(b.name);
    const state = lower(b.state, "BREAKER_STATE_");
    const pill = row.cells[1].firstChild;
    if (pill.dataset.state && pill.dataset.state !== state) {
      row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash");
    }
    pill.dataset.state = state;
    pill.textContent = state.replace("_", " ");
    row.cells[2].textContent = b.failureCount || "0";
    row.cells[3].textContent = b.successCount || "0";
    row.cells[4].textContent = rate(b.failureRate);
    row.cells[5].textContent = rate(b.slowCallRate);
    row.dataset.since = b.stateSince || "";
    row.dataset.lastFailure = b.lastFailureTime || "";
    if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
  });
  tick();
}

function tick() {
  for (const row of breakerRows.values()) {
    row.cells[6].textContent = ago(row.dataset.since);
    row.cells[7].textContent = row.dataset.lastFailure ? `${ago(row.dataset.lastFailure)} ago` : "–";
  }
}

async function loadBreakers() {
  const reply = await connect("AdminService/ListBreakers");
  breakers = reply.breakers || [];
  renderBreakers();
  return reply.sequence || "0";
}

async function loadLimits() {
  const reply = await connect("AdminService/ListLimits");
  const rows = (reply.limits || []).sort((a, b) => a.name.localeCompare(b.name)).map((l) =>
    el("tr", {}, el("td", {title: l.name}, l.name),
       el("td", {}, lower(l.algorithm, "ALGORITHM_").replace("_", " ")),
       el("td", {class: "num"}, l.maxRequests || "0"),
       el("td", {class: "num"}, `${seconds(l.window)}s`)));
  document.getElementById("limits").replaceChildren(...rows);
}

async function loadHealth() {
  const [health, summary] = await Promise.all([
    rest("/api/errors/system-health"), rest("/api/errors/summary")]);
  const badge = document.getElementById("health");
  badge.dataset.health = health.health;
  badge.textContent = health.health;
  document.getElementById("total-errors").textContent = health.metrics.total_errors;
  document.getElementById("critical-errors").textContent = health.metrics.critical_errors;
  document.getElementById("open-circuits").textContent = health.metrics.open_circuits;
  document.getElementById("errors-per-minute").textContent =
    summary.data.errors_per_minute.toFixed(1);
}

async function loadDegradation() {
  const reply = await rest("/api/errors/degradation-mode");
  const items = reply.affected_features.map((f) =>
    el("li", {"data-feature": f.feature},
       el("span", {}, el("strong", {}, f.feature), el("br"),
          el("span", {class: "message"}, f.message)),
       el("span", {class: "status", "data-status": f.status}, f.status)));
  if (!items.length) items.push(el("li", {class: "none"}, "All features fully available"));
  document.getElementById("features").replaceChildren(...items);
}

async function acknowledge(id, button) {
  button.disabled = true;
  try { await rest(`/api/errors/acknowledge/${encodeURIComponent(id)}`, "POST"); }
  finally { scheduleRefresh(); }
}

async function loadNotifications() {
  const reply = await rest("/api/errors/notifications?limit=50");
  const items = reply.notifications.map((n) => {
    const button = el("button", {type: "button", onclick: () => acknowledge(n.id, button)},
                      "Acknowledge");
    return el("li", {"data-notification": n.id},
              el("span", {class: "severity", "data-severity": n.severity}, n.severity),
              el("span", {class: "title"}, n.title), button,
              el("span", {class: "message", title: n.message}, n.message),
              el("span", {class: "when"}, clock(n.timestamp)));
  });
  if (!items.length) items.push(el("li", {class: "none"}, "Nothing to acknowledge"));
  document.getElementById("notifications").replaceChildren(...items);
  document.getElementById("notification-total").textContent = reply.total ? `(${reply.total})` : "";
}

function describe(event) {
  const t = event.breakerTransition;
  if (t) {
    return `${t.breaker}: ${lower(t.fromState, "BREAKER_STATE_")} → ` +
      `${lower(t.toState, "BREAKER_STATE_")}${t.reason ? ` (${t.reason})` : ""}`;
  }
  const n = event.notification;
  if (n) return `${lower(n.severity, "SEVERITY_")} ${n.title}: ${n.message}`;
  const d = event.degradationChange;
  if (d) {
    const hit = (d.affectedFeatures || []).map((f) => `${f.feature} ${f.status}`).join(", ");
    return d.isDegraded ? `degraded: ${hit}` : "all features available again";
  }
  const h = event.healthChange;
  if (h) return `health ${lower(h.fromHealth, "HEALTH_")} → ${lower(h.toHealth, "HEALTH_")}`;
  const r = event.rateLimitExceeded;
  if (r) return `rate limit ${r.limit} exceeded by ${r.key || "(no key)"}`;
  const gone = event.breakerDeleted;
  if (gone) return `${gone.breaker} deleted (was ${lower(gone.lastState, "BREAKER_STATE_")})`;
  return JSON.stringify(event);
}

function kind(event) {
  for (const key of ["breakerTransition", "notification", "degradationChange", "healthChange",
                     "rateLimitExceeded", "breakerDeleted"]) {
    if (event[key]) return key;
  }
  return "event";
}

function showEvent(event) {
  const list = document.getElementById("events");
  list.prepend(el("li", {"data-kind": kind(event)},
                  el("span", {class: "seq"}, `#${event.sequence}`),
                  el("span", {class: "when"}, clock(event.time)),
                  el("span", {class: "what", title: describe(event)}, describe(event))));
  while (list.children.length > FEED_MAX) list.lastChild.remove();
  document.getElementById("sequence").textContent = event.sequence;
}

function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    try {
      await Promise.all([loadBreakers(), loadHealth(), loadDegradation(), loadNotifications()]);
    } catch (error) { console.error(error); }
  }, 150);
}

function setLive(state) {
  const live = document.getElementById("live");
  live.dataset.live = state;
  live.textContent = state;
}

async function start() {
  if (source) source.close();
  setLive("connecting");
  let sequence;
  try {
    [sequence] = await Promise.all([loadBreakers(), loadLimits(), loadHealth(),
                                    loadDegradation(), loadNotifications()]);
  } catch (error) {
    setLive("reconnecting");
    setTimeout(start, 2000);
    return;
  }
  document.getElementById("sequence").textContent = sequence;
  source = new EventSource(`/api/events?after=${sequence}`);
  source.onopen = () => setLive("live");
  source.onmessage = (message) => { showEvent(JSON.parse(message.data)); scheduleRefresh(); };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {  // refused (e.g. a restarted server)
      setLive("reconnecting");
      setTimeout(start, 2000);
    } else {
      setLive("reconnecting");  // the browser resumes from the last id by itself
    }
  };
}

setInterval(tick, 1000);
start();
