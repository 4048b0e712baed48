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
// To the cent with thousands separators, like `otm` prints them ($1,234.56).
export function dollars(v) {
  if (v === null || v === undefined) return "—";
  const [whole, cents] = Math.abs(Number(v)).toFixed(2).split(".");
  return (Number(v) < 0 ? "-$" : "$") + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + cents;
}
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

// The machine filter: ?machine=<id> on the page, passed on to every report it asks for and to
// every link it shows, so a filtered view stays filtered from page to page.
const MACHINE = new URLSearchParams(location.search).get("machine") || "";
function scoped(path) {
  if (!MACHINE || !path.startsWith("/v1/usage/")) return path;
  return path + (path.includes("?") ? "&" : "?") + "machine=" + encodeURIComponent(MACHINE);
}
async function api(path) {
  path = scoped(path);
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
  if (w.window === "spend_limit") return "spend limit";
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
  const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", class: "spark" });
  const max = Math.max(...values, 0.0001);
  const step = width / Math.max(1, values.length - 1);
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`);
  s.append(svg("polyline", { points: pts.join(" "), class: "spark-line" }));
  return s;
}
const NUMERIC = /^(-?\$[\d,]+\.\d\d|[\d,.]+( %)?|\d+(\.\d+)?s ago|—)$/;
function table(headers, rows) {
  const t = el("table");
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] !== "object" && NUMERIC.test(String(r[i] ?? "—"))));
  const tr = el("tr");
  headers.forEach((h, i) => tr.append(el("th", numeric[i] ? "num" : null, h)));
  const head = el("thead");
  head.append(tr);
  t.append(head);
  const body = el("tbody");
  for (const row of rows) {
    const r = el("tr");
    row.forEach((cell, i) => {
      const td = el("td", numeric[i] ? "num" : null);
      if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? "—";
      if (!(cell instanceof Node) && String(cell ?? "").length > 48) td.classList.add("long");
      r.append(td);
    });
    body.append(r);
  }
  t.append(body);
  return t;
}
function section(title, ...children) {
  const s = el("section", "panel");
  s.dataset.section = title;
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

// ---------- machines ----------
function withMachine(href) {
  if (!MACHINE) return href;
  const url = new URL(href, location.origin);
  url.searchParams.set("machine", MACHINE);
  return url.pathname + url.search;
}
async function machinePicker() {
  const data = await api("/v1/machines");
  const machines = data?.machines || [];
  const pick = document.getElementById("machine-pick");
  const select = document.getElementById("machine");
  if (!pick || !select) return machines;
  // One machine, nothing to choose (unless a link chose one that is gone).
  pick.classList.toggle("hidden", machines.length < 2 && !MACHINE);
  for (const m of machines) {
    const o = el("option", null, m.local ? `${m.name} (this one)` : m.name);
    o.value = m.id;
    select.append(o);
  }
  select.value = MACHINE;
  select.onchange = () => {
    const url = new URL(location.href);
    if (select.value) url.searchParams.set("machine", select.value); else url.searchParams.delete("machine");
    location.assign(url.pathname + url.search);
  };
  for (const a of document.querySelectorAll("header a")) a.setAttribute("href", withMachine(a.getAttribute("href")));
  return machines;
}
const machinesReady = machinePicker();
function shareBar(share) {
  const bar = el("span", "share");
  const fill = el("span", "share-fill");
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, share)) * 100)}%`;
  bar.append(fill);
  const box = el("span", "share-box");
  box.append(bar, el("span", "share-pct", `${Math.round(share * 100)} %`));
  return box;
}
async function machinesPanel() {
  const machines = await machinesReady;
  if (!machines.length) return section("Machines", el("p", "muted", "no usage from any machine yet"));
  const rows = machines.map((m) => {
    const link = el("a", m.id === MACHINE ? "on" : null, m.local ? `${m.name} (this one)` : m.name);
    const url = new URL(location.href);
    url.searchParams.set("machine", m.id);
    link.href = url.pathname + url.search;
    return [link, m.id.slice(0, 8), ago(m.lastSeen), tokens(m.totalTokens), dollars(m.totalCost), shareBar(m.share)];
  });
  const panel = section("Machines", el("p", "muted", "all time, every provider"),
    table(["machine", "id", "last record", "tokens", "cost", "share of tokens"], rows));
  if (MACHINE) {
    const all = el("a", "muted", "show every machine");
    all.href = location.pathname;
    panel.append(all);
  }
  return panel;
}

// ---------- views ----------
async function overview() {
  const [status, alerts, machines, ...sums] = await Promise.all([api("/v1/status"), api("/v1/alerts"), machinesPanel(), ...PROVIDERS.map(providerSummary)]);
  const grid = el("div", "cards");
  PROVIDERS.forEach((p, i) => {
    const s = sums[i];
    const card = el("a", "card");
    card.href = withMachine(`/provider/${p}`);
    card.dataset.provider = p;
    const head = el("div", "card-head");
    head.append(el("h2", null, name(p)));
    const state = status?.providers?.[p];
    if (state) head.append(el("span", `tag state state-${state.state}`, state.state));
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
    card.append(money);
    if (s.rows.length) card.append(sparkline(s.spark));
    card.append(el("div", "muted top-model", s.topModel ? `top model: ${s.topModel}` : "no usage in 30 days"));
    if (state && state.state !== "available" && (state.reason || state.fix)) {
      const fix = el("div", "fix");
      fix.append(el("div", null, state.reason || ""), el("div", "muted", state.fix ? `fix: ${state.fix}` : ""));
      card.append(fix);
    }
    const act = (alerts?.active || []).filter((a) => a.provider === p);
    for (const a of act) card.append(el("div", `alert sev-${a.severity}`, a.title));
    grid.append(card);
  });
  main.replaceChildren(grid, machines);
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
  for (const n of [30, 90]) { const a = el("a", n === days ? "on" : "", `${n} days`); a.href = withMachine(`${location.pathname}?days=${n}`); switcher.append(a); }
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
    const fig = (label, value, cls) => { const f = el("div", "figure"); f.append(el("span", "label", label), el("span", `value ${cls || ""}`, value)); return f; };
    const until = new Date(active.endTime);
    blk.append(
      fig("cost so far", dollars(active.costUSD), "block-cost"),
      fig("tokens", tokens(active.totalTokens)),
      fig("burn rate", active.burnRate ? `${dollars(active.burnRate.costPerHour)}/h` : "—"),
      fig("projected at block end", active.projection ? dollars(active.projection.totalCost) : "—"),
      fig("block ends", until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
    );
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

function dates0(back) {
  return daysAgo(back).toLocaleDateString([], { month: "short", day: "numeric" });
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
  const axis = el("div", "axis");
  axis.append(el("span", null, dollars(max)), el("span", null, dollars(max / 2)), el("span", null, "$0"));
  for (const f of [0, 0.5]) s.prepend(svg("line", { x1: 0, x2: width, y1: 10 + f * (height - 10), y2: 10 + f * (height - 10), class: "grid" }));
  const plot = el("div", "plot");
  plot.append(axis, s);
  const dateRow = el("div", "dates");
  dateRow.append(el("span", null, dates0(days - 1)), el("span", null, dates0(Math.floor(days / 2))), el("span", null, "today"));
  wrap.append(plot, dateRow);
  const legend = el("div", "legend");
  names.forEach((n, i) => { const k = el("span", `key m${i % 6}`); legend.append(k, el("span", null, n)); });
  wrap.append(legend);
  return wrap;
}

async function projectsPage() {
  const since = ymd(daysAgo(29));
  const [data, today, activity] = await Promise.all([
    api(`/v1/usage/project?provider=all&since=${since}`),
    api(`/v1/usage/project?provider=all&since=${ymd(new Date())}`),
    api("/v1/activity?provider=all&limit=200"),
  ]);
  const todayBy = new Map((today?.projects || []).map((r) => [r.project, r.totalCost]));
  const prompts = new Map();
  for (const a of activity?.activity || []) {
    const list = prompts.get(a.project) || [];
    if (list.length < 2) list.push(a);
    prompts.set(a.project, list);
  }
  const rows = [...(data?.projects || [])].sort((a, b) => b.totalCost - a.totalCost);
  const recent = (name) => {
    const box = el("div", "prompts");
    for (const a of prompts.get(name) || []) box.append(el("div", "prompt", a.text));
    if (!box.children.length) box.append(el("span", "muted", "—"));
    return box;
  };
  const tbl = table(["project", "providers", "30 days", "today", "last active", "models", "recent prompts"],
    rows.map((r) => [r.project, (r.providers || []).join(", "), dollars(r.totalCost), dollars(todayBy.get(r.project) ?? 0), r.lastActivity ?? "—", (r.modelsUsed || []).join(", "), recent(r.project)]));
  tbl.classList.add("projects");
  main.replaceChildren(el("h1", null, "Projects"), section("Last 30 days, every provider", rows.length ? tbl : el("p", "muted", "no usage in the last 30 days")));
}

function alertRows(list) {
  return list.map((a) => {
    const what = el("div");
    what.append(el("div", `alert-title sev-${a.severity}`, a.title), el("div", "muted", a.body || ""));
    const sent = (a.deliveries || []).map((d) => `${d.channel} ${d.state === "delivered" ? "✓" : d.state === "failed" ? "✗" : d.state}`).join(" · ");
    return [new Date(a.raisedAt * 1000).toLocaleString(), name(a.provider || "all"), what, a.severity, sent || "—"];
  });
}

async function alertsPage() {
  const data = await api("/v1/alerts");
  const headers = ["raised", "provider", "alert", "severity", "delivered"];
  const mk = (list, none) => {
    if (!list.length) return el("p", "muted", none);
    const t = table(headers, alertRows(list));
    t.classList.add("wrap");
    return t;
  };
  main.replaceChildren(el("h1", null, "Alerts"),
    section("Active", mk(data?.active || [], "no active alerts")),
    section("History", mk(data?.alerts || [], "no alerts yet")));
}

async function statusPage() {
  const [data, health, limits] = await Promise.all([api("/v1/status"), api("/healthz"), api("/v1/limits")]);
  const out = [el("h1", null, "Status")];
  const trouble = data?.trouble || [];
  if (trouble.length) out.push(section("Trouble", ...trouble.map((t) => el("p", "fix state-unavailable", `${t.process}: ${t.message}`))));
  const yes = (b) => (b ? "yes" : "no");
  out.push(section("Stack", table(["state folder", "database", "head seq", "store", "bus", "data"],
    [[data?.stateDir, data?.database, health?.headSeq ?? "—", data?.storeRunning ? "running" : "down", data?.busRunning ? "running" : "down", data?.demo ? "demo" : "yours"]])));
  const provRows = PROVIDERS.map((p) => {
    const st = data?.providers?.[p] || {};
    const live = limits?.live?.[p];
    const auth = live?.auth;
    const expiry = auth?.expiresAt ? `${new Date(auth.expiresAt * 1000).toLocaleString()}${auth.expired ? " (expired)" : ""}` : "—";
    return [name(p), el("span", `state-${st.state}`, st.state ?? "—"), st.reason ?? "—", st.fix ?? "—", auth ? `${auth.source} (${auth.kind})` : "—", expiry,
      live?.checkedAt ? `${ago(live.checkedAt)} · ${live.state}` : "never"];
  });
  const pt = table(["provider", "state", "reason", "fix", "credentials", "sign-in expires", "last live check"], provRows);
  pt.classList.add("wrap");
  out.push(section("Providers", pt));
  out.push(section("Log roots", (data?.roots || []).length ? table(["provider", "path", "exists", "files", "unreadable folders"],
    data.roots.map((r) => [r.provider, r.path, yes(r.exists), r.files, (r.unreadableDirs || []).length])) : el("p", "muted", "no roots found")));
  const skipped = Object.entries(data?.skipped || {});
  out.push(section("Skipped input", skipped.length ? table(["reason", "lines"], skipped.map(([k, v]) => [k.replaceAll("_", " "), tokens(v)])) : el("p", "muted", "nothing skipped")));
  const unpriced = data?.unpricedModels || [];
  const pricedAs = Object.entries(data?.pricedAs || {});
  if (pricedAs.length) out.push(section("Priced as a known model", table(["model in the logs", "priced as"], pricedAs)));
  out.push(section("Unpriced models", unpriced.length ? table(["model"], unpriced.map((m) => [typeof m === "string" ? m : JSON.stringify(m)])) : el("p", "muted", "every model has a price")));
  out.push(section("Machines", table(["machine", "id", "last record", "last heard"],
    (data?.machines || []).map((m) => [m.local ? `${m.name} (this one)` : m.name, m.id.slice(0, 8), ago(m.lastRecord),
      m.lastHeardSecondsAgo === null || m.lastHeardSecondsAgo === undefined ? "—" : `${m.lastHeardSecondsAgo}s ago`]))));
  out.push(section("Processes", table(["process", "pid", "alive", "last seen", "uptime"],
    (data?.processes || []).map((p) => [p.process, p.pid, yes(p.alive), `${p.lastSeenSecondsAgo}s ago`, duration(p.uptimeSeconds)]))));
  const channels = data?.alertChannels || [];
  if (channels.length) out.push(section("Alert channels", table(["channel", "deliveries", "problem", "fix"],
    channels.map((c) => [c.channel, Object.entries(c.deliveries || {}).map(([k, v]) => `${v} ${k}`).join(", ") || "—", c.problem?.answer ?? "—", c.problem?.fix ?? "—"]))));
  main.replaceChildren(...out);
}

function duration(seconds) {
  const s = Math.round(seconds || 0);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

async function widgetView() {
  const limits = await api("/v1/limits");
  const grid = el("div", "wcols");
  for (const p of PROVIDERS) {
    const col = el("div", "wcol");
    col.append(el("div", "wname", name(p)));
    const ws = (limits?.limits || []).filter((w) => w.provider === p).slice(0, 2);
    if (!ws.length) col.append(el("div", "muted small", "no windows"));
    for (const w of ws) col.append(gauge(w, 56));
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
      const rows = (op.parameters || []).map((x) => {
        const allowed = x.schema?.enum ? x.schema.enum.join(" | ") : (x.schema?.pattern ?? "");
        return [x.name, x.in, allowed || "—", x.description || ""];
      });
      const resp = Object.entries(op.responses || {}).map(([code, r]) => [code, r.description || ""]);
      out.push(section(`${method.toUpperCase()} ${path}`, el("p", null, op.description || op.summary || ""),
        rows.length ? table(["parameter", "in", "allowed", "meaning"], rows) : el("p", "muted", "no parameters"),
        table(["status", "meaning"], resp)));
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

// The live stream: the browser resumes with Last-Event-ID on its own; if it gives up (an answer
// that is not a stream, e.g. while the api restarts) we open a new one after the last seq seen.
let lastSeq = null;
function onEvent(event) {
  if (event.lastEventId) lastSeq = event.lastEventId;
  refreshSoon();
}
function connect() {
  const after = lastSeq === null ? "" : `&after=${encodeURIComponent(lastSeq)}`;
  const source = new EventSource(`/v1/stream?prefix=evt.${after}`);
  source.onopen = () => conn?.classList.add("hidden");
  source.onerror = () => {
    conn?.classList.remove("hidden");
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
  };
  source.onmessage = onEvent;
  for (const t of ["usage", "limits", "alert", "activity", "price"]) {
    for (const p of PROVIDERS) source.addEventListener(`evt.${t}.${p}`, onEvent);
  }
  source.addEventListener("evt.alert", onEvent);
  // The store's database was replaced: its id is the new head; everything shown is re-read.
  source.addEventListener("reset", onEvent);
}
connect();

document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement || e.metaKey || e.ctrlKey || e.altKey) return;
  const go = { 1: "/provider/claude", 2: "/provider/codex", 3: "/provider/gemini", 4: "/projects", Escape: "/" }[e.key];
  if (go && main.dataset.view !== "widget") location.assign(go);
  if (e.key === "r") fetch("/v1/refresh", { method: "POST" }).then(refreshSoon);
});
