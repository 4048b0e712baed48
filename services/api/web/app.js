// OpenTokenMonitor dashboard: vanilla ES module. Every number comes from the API; user text
// goes in with textContent only.
const PROVIDERS = ["claude", "codex", "gemini"];
const main = document.getElementById("main");
const conn = document.getElementById("conn");

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}
export const dollars = (v) => (v === null || v === undefined ? "—" : "$" + Number(v).toFixed(2));
const tokens = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"));
const pct = (v) => (v === null || v === undefined ? "—" : Math.round(v) + " %");
function ymd(d) {
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, "0")}${String(d.getDate()).padStart(2, "0")}`;
}
function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
function daysAgo(n) {
  const d = new Date();
  d.setDate(d.getDate() - n);
  return d;
}
export function countdown(resetsAt) {
  if (!resetsAt) return "—";
  let s = Math.max(0, Math.round(resetsAt - Date.now() / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${h}h ${String(m).padStart(2, "0")}m`;
  return `${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s`;
}
const name = (p) => p.charAt(0).toUpperCase() + p.slice(1);

async function api(path) {
  try {
    const r = await fetch(path, { headers: { Accept: "application/json" } });
    if (!r.ok) return null;
    return await r.json();
  } catch {
    return null;
  }
}

// ---------- pieces ----------
function ring(used, size) {
  const r = size / 2 - 6, c = 2 * Math.PI * r;
  const s = svg("svg", { viewBox: `0 0 ${size} ${size}`, width: size, height: size, class: "ring" });
  s.append(svg("circle", { cx: size / 2, cy: size / 2, r, class: "ring-bg" }));
  const frac = used === null || used === undefined ? 0 : Math.min(100, Math.max(0, used)) / 100;
  const level = used >= 90 ? "hot" : used >= 75 ? "warm" : "ok";
  s.append(svg("circle", {
    cx: size / 2, cy: size / 2, r, class: `ring-fg ${level}`,
    "stroke-dasharray": `${c * frac} ${c}`, transform: `rotate(-90 ${size / 2} ${size / 2})`,
  }));
  const t = svg("text", { x: "50%", y: "50%", class: "ring-text", "dominant-baseline": "central", "text-anchor": "middle" });
  t.textContent = used === null || used === undefined ? "—" : `${Math.round(used)}%`;
  s.append(t);
  return s;
}
function windowLabel(w) {
  const sec = w.windowSeconds;
  if (sec === 18000) return "5-hour";
  if (sec === 604800) return "weekly";
  if (sec === 86400) return "daily";
  return w.window;
}
function gauge(w, size = 84) {
  const box = el("div", "gauge");
  box.dataset.window = w.window;
  box.append(ring(w.usedPercent, size));
  const info = el("div", "gauge-info");
  info.append(el("div", "gauge-name", windowLabel(w)));
  const pctEl = el("div", "gauge-pct", pct(w.usedPercent));
  pctEl.dataset.pct = w.usedPercent ?? "";
  info.append(pctEl);
  const cd = el("div", "countdown", countdown(w.resetsAt));
  cd.dataset.resets = w.resetsAt ?? "";
  info.append(cd);
  const tags = el("div", "tags");
  tags.append(el("span", `tag src-${w.source}`, w.source));
  if (w.stale) {
    const st = el("span", "tag stale", "stale");
    st.title = w.staleReason || "";
    tags.append(st);
    info.append(tags, el("div", "stale-reason muted", w.staleReason || ""));
  } else info.append(tags);
  box.append(info);
  return box;
}
function sparkline(values, width = 220, height = 36) {
  const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "spark" });
  const max = Math.max(...values, 0.0001);
  const step = width / Math.max(1, values.length - 1);
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  s.append(svg("polyline", { points: pts.join(" "), class: "spark-line" }));
  return s;
}
function table(headers, rows) {
  const t = el("table");
  const tr = el("tr");
  for (const h of headers) tr.append(el("th", null, h));
  t.append(el("thead")).append(tr);
  const body = el("tbody");
  for (const row of rows) {
    const r = el("tr");
    for (const cell of row) {
      const td = el("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? "—";
      r.append(td);
    }
    body.append(r);
  }
  t.append(body);
  return t;
}
function section(title, ...children) {
  const s = el("section", "panel");
  s.append(el("h2", null, title), ...children);
  return s;
}
function ago(iso) {
  if (!iso) return "—";
  const t = typeof iso === "number" ? iso * 1000 : Date.parse(iso);
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

// ---------- data ----------
async function providerSummary(p) {
  const since = ymd(daysAgo(29));
  const [daily, limits] = await Promise.all([
    api(`/v1/usage/daily?provider=${p}&since=${since}`),
    api(`/v1/limits?provider=${p}`),
  ]);
  const rows = daily?.daily || [];
  const byDay = new Map(rows.map((r) => [r.date, r]));
  const days = [];
  for (let i = 29; i >= 0; i--) days.push(isoDay(daysAgo(i)));
  const today = byDay.get(isoDay(new Date()));
  const models = new Map();
  for (const r of rows) for (const b of r.modelBreakdowns || []) models.set(b.modelName, (models.get(b.modelName) || 0) + b.cost);
  const top = [...models.entries()].sort((a, b) => b[1] - a[1])[0];
  return {
    rows, days, byDay, today, limits,
    month: rows.reduce((a, r) => a + r.totalCost, 0),
    spark: days.map((d) => byDay.get(d)?.totalCost || 0),
    topModel: top ? top[0] : null,
  };
}

// ---------- views ----------
async function overview() {
  const [status, alerts, ...sums] = await Promise.all([api("/v1/status"), api("/v1/alerts"), ...PROVIDERS.map(providerSummary)]);
  const grid = el("div", "cards");
  PROVIDERS.forEach((p, i) => {
    const s = sums[i];
    const card = el("a", "card");
    card.href = `/provider/${p}`;
    card.dataset.provider = p;
    const head = el("div", "card-head");
    head.append(el("h2", null, name(p)));
    const state = (status?.providers || []).find?.((x) => x.provider === p);
    if (state) head.append(el("span", `tag state-${state.state}`, state.state));
    card.append(head);
    const gauges = el("div", "gauges");
    const ws = (s.limits?.limits || []).filter((w) => w.provider === p);
    if (ws.length) ws.forEach((w) => gauges.append(gauge(w)));
    else gauges.append(el("p", "muted", "no official windows yet"));
    card.append(gauges);
    const money = el("div", "money");
    const t = el("div", "figure"); t.append(el("span", "label", "today"), el("span", "value today", dollars(s.today?.totalCost ?? 0)));
    const m = el("div", "figure"); m.append(el("span", "label", "30 days"), el("span", "value month", dollars(s.month)));
    money.append(t, m);
    card.append(money, sparkline(s.spark));
    card.append(el("div", "muted top-model", s.topModel ? `top model: ${s.topModel}` : "no usage in 30 days"));
    if (state && state.fix) card.append(el("div", "fix", `${state.reason || ""} — ${state.fix}`));
    const act = (alerts?.active || []).filter((a) => a.provider === p);
    for (const a of act) card.append(el("div", "alert", a.message || a.title || a.key));
    grid.append(card);
  });
  main.replaceChildren(grid);
}

async function providerPage(p) {
  const days = Number(new URLSearchParams(location.search).get("days") || 30);
  const since = ymd(daysAgo(days - 1));
  const [daily, limits, session, project, blocks, activity] = await Promise.all([
    api(`/v1/usage/daily?provider=${p}&since=${since}`),
    api(`/v1/limits?provider=${p}`),
    api(`/v1/usage/session?provider=${p}&since=${since}`),
    api(`/v1/usage/project?provider=${p}&since=${since}`),
    api(`/v1/usage/blocks?provider=${p}`),
    api(`/v1/activity?provider=${p}&limit=20`),
  ]);
  const out = [el("h1", null, name(p))];
  const gauges = el("div", "gauges");
  for (const w of (limits?.limits || [])) gauges.append(gauge(w, 96));
  if (!gauges.children.length) gauges.append(el("p", "muted", "no official windows yet"));
  out.push(section("Windows", gauges));
  const rows = daily?.daily || [];
  const switcher = el("div", "switch");
  for (const n of [30, 90]) { const a = el("a", n === days ? "on" : "", `${n} days`); a.href = `?days=${n}`; switcher.append(a); }
  out.push(section("Daily cost by model", switcher, stacked(rows, days)));
  const models = new Map();
  for (const r of rows) for (const b of r.modelBreakdowns || []) {
    const m = models.get(b.modelName) || { input: 0, output: 0, cw: 0, cr: 0, cost: 0, unpriced: false };
    m.input += b.inputTokens; m.output += b.outputTokens; m.cw += b.cacheCreationTokens; m.cr += b.cacheReadTokens;
    if (b.cost === null || b.cost === undefined) m.unpriced = true; else m.cost += b.cost;
    models.set(b.modelName, m);
  }
  out.push(section("Models", table(["model", "input", "output", "cache write", "cache read", "cost"],
    [...models.entries()].map(([n, m]) => [n, tokens(m.input), tokens(m.output), tokens(m.cw), tokens(m.cr), m.unpriced ? "unpriced" : dollars(m.cost)]))));
  const projects = project?.projects || [];
  out.push(section("Projects", table(["project", "cost", "tokens", "last active"],
    projects.map((r) => [r.project ?? r.projectPath ?? "—", dollars(r.totalCost), tokens(r.totalTokens), r.lastActivity ?? "—"]))));
  const sessions = (session?.sessions || []).slice(0, 15);
  out.push(section("Sessions", table(["session", "project", "cost", "tokens", "last active"],
    sessions.map((r) => [r.sessionId ?? "—", r.projectPath ?? "—", dollars(r.totalCost), tokens(r.totalTokens), r.lastActivity ?? "—"]))));
  const active = (blocks?.blocks || []).find((b) => b.isActive);
  const blk = el("div", "block");
  if (active) {
    blk.append(el("div", null, `cost ${dollars(active.costUSD ?? active.totalCost)} · burn ${active.burnRate ? dollars(active.burnRate.costPerHour) + "/h" : "—"} · projected ${active.projection ? dollars(active.projection.totalCost) : "—"}`));
  } else blk.append(el("p", "muted", "no active 5-hour block"));
  out.push(section("Current 5-hour block", blk));
  out.push(section("Recent activity", activityList(activity)));
  main.replaceChildren(...out);
}

function activityList(activity) {
  const list = el("ul", "activity");
  const items = activity?.activity || [];
  if (!items.length) list.append(el("li", "muted", "no recent activity"));
  for (const a of items) {
    const li = el("li");
    li.append(el("span", "when muted", ago(a.timestamp)), el("span", "text", a.text), el("span", "muted", `${a.model || ""} · ${dollars(a.totalCost)}`));
    list.append(li);
  }
  return list;
}

function stacked(rows, days) {
  const width = 720, height = 180;
  const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "stacked", preserveAspectRatio: "none" });
  const byDay = new Map(rows.map((r) => [r.date, r]));
  const dates = []; for (let i = days - 1; i >= 0; i--) dates.push(isoDay(daysAgo(i)));
  const max = Math.max(0.01, ...rows.map((r) => r.totalCost));
  const bw = width / dates.length;
  const names = [...new Set(rows.flatMap((r) => (r.modelBreakdowns || []).map((b) => b.modelName)))];
  dates.forEach((d, i) => {
    let y = height;
    for (const b of byDay.get(d)?.modelBreakdowns || []) {
      const h = ((b.cost || 0) / max) * (height - 10);
      y -= h;
      const rect = svg("rect", { x: i * bw + 1, y, width: Math.max(1, bw - 2), height: h, class: `m${names.indexOf(b.modelName) % 6}` });
      const t = svg("title"); t.textContent = `${d} ${b.modelName} ${dollars(b.cost)}`; rect.append(t);
      s.append(rect);
    }
  });
  const wrap = el("div", "chart");
  wrap.append(s);
  const legend = el("div", "legend");
  names.forEach((n, i) => { const k = el("span", `key m${i % 6}`); legend.append(k, el("span", null, n)); });
  wrap.append(legend);
  return wrap;
}

async function projectsPage() {
  const since = ymd(daysAgo(29));
  const data = await api(`/v1/usage/project?provider=all&since=${since}`);
  const rows = data?.projects || [];
  main.replaceChildren(el("h1", null, "Projects"), section("Last 30 days", table(["project", "providers", "cost", "tokens", "last active", "models"],
    rows.map((r) => [r.project ?? r.projectPath ?? "—", (r.providers || []).join(", "), dollars(r.totalCost), tokens(r.totalTokens), r.lastActivity ?? "—", (r.modelsUsed || []).join(", ")]))));
}

async function alertsPage() {
  const data = await api("/v1/alerts");
  const fmt = (a) => [a.provider ?? "—", a.message ?? a.title ?? a.key ?? "—", a.at ? new Date(a.at * 1000).toLocaleString() : "—"];
  main.replaceChildren(el("h1", null, "Alerts"),
    section("Active", (data?.active || []).length ? table(["provider", "alert", "when"], data.active.map(fmt)) : el("p", "muted", "no active alerts")),
    section("History", (data?.alerts || []).length ? table(["provider", "alert", "when"], data.alerts.map(fmt)) : el("p", "muted", "no alerts yet")));
}

async function statusPage() {
  const [data, health] = await Promise.all([api("/v1/status"), api("/healthz")]);
  const out = [el("h1", null, "Status")];
  out.push(section("Stack", el("p", null, `database ${data?.database ?? "—"} · head seq ${health?.head_seq ?? "—"}${data?.demo ? " · demo data" : ""}`)));
  out.push(section("Processes", table(["process", "pid", "alive", "last seen", "uptime"],
    (data?.processes || []).map((p) => [p.process, p.pid, p.alive ? "yes" : "no", `${p.last_seen_seconds_ago}s`, `${Math.round(p.uptime_seconds)}s`]))));
  out.push(section("Roots", table(["provider", "path", "exists", "files"],
    (data?.roots || []).map((r) => [r.provider, r.path, r.exists ? "yes" : "no", r.files]))));
  const raw = el("pre", "raw"); raw.textContent = JSON.stringify(data, null, 2);
  out.push(section("Everything otm status says", raw));
  main.replaceChildren(...out);
}

async function widgetView() {
  const limits = await api("/v1/limits");
  const grid = el("div", "wcols");
  for (const p of PROVIDERS) {
    const col = el("div", "wcol");
    col.append(el("div", "wname", name(p)));
    const ws = (limits?.limits || []).filter((w) => w.provider === p).slice(0, 2);
    if (!ws.length) col.append(el("div", "muted small", "no windows"));
    for (const w of ws) col.append(gauge(w, 64));
    grid.append(col);
  }
  main.replaceChildren(grid);
}

async function schemaPage() {
  const doc = await api("/schema/openapi.json");
  const out = [el("h1", null, "API")];
  if (!doc) { out.push(el("p", "muted", "the OpenAPI document is not available")); main.replaceChildren(...out); return; }
  for (const [path, ops] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters || []).map((x) => `${x.name} (${x.in})`).join(", ") || "none";
      const resp = Object.keys(op.responses || {}).join(", ");
      out.push(section(`${method.toUpperCase()} ${path}`, el("p", null, op.summary || op.description || ""), el("p", "muted", `parameters: ${params} · responses: ${resp}`)));
    }
  }
  main.replaceChildren(...out);
}

// ---------- routing, live updates, keys ----------
function route() {
  const path = location.pathname;
  if (main.dataset.view === "widget") return widgetView;
  const m = path.match(/^\/provider\/(claude|codex|gemini)$/);
  if (m) return () => providerPage(m[1]);
  return { "/": overview, "/projects": projectsPage, "/alerts": alertsPage, "/status": statusPage, "/schema": schemaPage }[path] || overview;
}
const render = route();
let timer = null;
function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(render, 150);
}
render();
setInterval(() => {
  for (const cd of document.querySelectorAll(".countdown")) if (cd.dataset.resets) cd.textContent = countdown(Number(cd.dataset.resets));
}, 1000);

const source = new EventSource("/v1/stream?prefix=evt.");
source.onopen = () => { conn?.classList.add("hidden"); };
source.onerror = () => { conn?.classList.remove("hidden"); };
source.onmessage = refreshSoon;
for (const t of ["usage", "limits", "alert", "activity", "price"]) {
  for (const p of PROVIDERS) source.addEventListener(`evt.${t}.${p}`, refreshSoon);
}
source.addEventListener("evt.alert", refreshSoon);

document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement || e.metaKey || e.ctrlKey || e.altKey) return;
  const go = { 1: "/provider/claude", 2: "/provider/codex", 3: "/provider/gemini", 4: "/projects", Escape: "/" }[e.key];
  if (go && main.dataset.view !== "widget") location.assign(go);
  if (e.key === "r") fetch("/v1/refresh", { method: "POST" }).then(refreshSoon);
});
