// The dashboard page (docs/console.md, "Dashboard"). Route:
//   #/dashboard[/unit=<path>&def=<definition id>&period=day|week|month&n=<periods>]
// Every number on it is a sum of group counts of GET /v1/stats for the signed-in caller
// (three calls: by workflow and state, the roll-up by unit, the trend by period), so each
// equals what /v1/stats answers for the same caller and filter. Each count links to the
// instances page with the same filter (#/instances/<query>, docs/console.md).
import { api } from "./api.js";
import { h } from "./dom.js";
import { addStrings, lang, t, text } from "./i18n.js";
import { failure, findState, stateTitle } from "./common.js";

addStrings({
  zh: {
    dashTotal: "总数", dashRunning: "办理中", dashOverdue: "逾期", dashEscalated: "升级",
    dashByState: "按状态", dashByCategory: "按类别", dashOutcome: "结果", dashStatus: "进度",
    dashRollup: "按单位汇总", dashUnit: "单位", dashAll: "全部流程", dashWorkflow: "流程",
    dashTrend: "新建趋势", dashPeriod: "周期", dashDay: "按日", dashWeek: "按周", dashMonth: "按月",
    dashPeriods: "个周期", dashNone: "您可查看的范围内还没有案件。", dashUp: "上一级",
    dashOwnLevel: "本级", dashAsOf: "统计时间", dashNoUnit: "无单位", dashWhole: "全部",
    dashCount: "数量", dashLoading: "正在统计…", dashTruncated: "分组过多，只显示了一部分。",
  },
  en: {
    dashTotal: "Total", dashRunning: "Running", dashOverdue: "Overdue", dashEscalated: "Escalated",
    dashByState: "By state", dashByCategory: "By category", dashOutcome: "Outcome", dashStatus: "Status",
    dashRollup: "By organisation unit", dashUnit: "Unit", dashAll: "All workflows", dashWorkflow: "Workflow",
    dashTrend: "Created per period", dashPeriod: "Period", dashDay: "Daily", dashWeek: "Weekly",
    dashMonth: "Monthly", dashPeriods: "periods", dashNone: "No instances you may see yet.", dashUp: "Up",
    dashOwnLevel: "own level", dashAsOf: "As of", dashNoUnit: "no unit", dashWhole: "All",
    dashCount: "Count", dashLoading: "Counting…", dashTruncated: "Too many groups: only some are shown.",
  },
});

const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}, ...kids) => {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...kids);
  return el;
};

// The page's own part of the hash (after "#/dashboard/"), as URLSearchParams.
function params() {
  const raw = location.hash.startsWith("#/dashboard/") ? location.hash.slice("#/dashboard/".length) : "";
  return new URLSearchParams(raw);
}
const href = (base, q) => {
  const s = new URLSearchParams(Object.entries(q).filter(([, v]) => v != null && v !== "")).toString();
  return s ? `${base}/${s}` : base;
};
// A link to the instances page filtered the same way as a count (docs/console.md).
const listLink = (q) => href("#/instances", q);
const dashLink = (q) => href("#/dashboard", q);
const segments = (u) => (u ? u.split("/").length : 0);
const PERIODS = { day: [14, 30, 90], week: [12, 26, 52], month: [12, 24, 36] };

const statsOf = (q) => api(`/v1/stats?${new URLSearchParams(Object.entries(q).filter(([, v]) => v)).toString()}`);

// A count that links to the instances page; 0 is plain text.
function count(n, q, cls = "n") {
  if (!n) return h("span", { class: `${cls} zero`, "data-n": 0, text: "0" });
  return h("a", { class: cls, href: listLink(q), "data-n": n, text: n.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") });
}
// A horizontal bar, n of max, drawn as SVG (no inline style: the CSP forbids it).
function bar(n, max, cls = "") {
  const w = max ? Math.max(n ? 1 : 0, Math.round((n / max) * 100)) : 0;
  return svg("svg", { class: `dash-bar ${cls}`, viewBox: "0 0 100 8", preserveAspectRatio: "none", "aria-hidden": "true" },
    svg("rect", { x: 0, y: 0, width: w, height: 8, rx: 1 }));
}

export async function page(view, arg, me) {
  const p = params();
  // The unit drilled into (a filter on every call), else none: the caller's own view,
  // rolled up below its own unit (what it sees through reader keys elsewhere included).
  const home = me?.attrs?.unit || "";
  const drilled = p.get("unit") && p.get("unit") !== home ? p.get("unit") : "";
  const unit = drilled || home;
  const def = p.get("def") || "";
  const period = PERIODS[p.get("period")] ? p.get("period") : "month";
  const n = Math.min(Math.max(parseInt(p.get("n"), 10) || PERIODS[period][0], 1), 120);
  const state = { unit, def, period, n };
  const go = (change) => { location.hash = dashLink({ ...state, ...change, unit: (change.unit ?? unit) === home ? "" : (change.unit ?? unit) }); };

  view.append(h("h1", { text: t("navDashboard") }));
  const busy = h("p", { class: "hint", id: "dash-busy", text: t("dashLoading") });
  view.append(busy);
  try {
    // One call for every workflow's numbers, the other two for the roll-up and the trend.
    const level = segments(unit) + 1;
    const [main, roll, trend] = await Promise.all([
      statsOf({ groupBy: "definition,state,category,status,outcome,overdue,escalated", unit: drilled }),
      statsOf({ groupBy: `unit:${level},definition,status,overdue,escalated`, unit: drilled, definition: def }),
      statsOf({ groupBy: `created:${period}`, unit: drilled, definition: def }),
    ]);
    const ids = [...new Set(main.groups.map((g) => g.key.definition))];
    const sources = Object.fromEntries(await Promise.all(ids.map(async (id) =>
      [id, await api(`/v1/definitions/${encodeURIComponent(id)}`).catch(() => null)])));
    busy.remove();
    view.append(controls(state, go, ids, sources, unit, home, main.asOf));
    if (!main.total) { view.append(h("p", { class: "notice", id: "dash-none", text: t("dashNone") })); return; }
    if (main.truncated || roll.truncated || trend.truncated)
      view.append(h("p", { class: "notice bad", text: t("dashTruncated") }));
    view.append(overview(main, sources, drilled, def));
    performance.mark("bihuan:dashboard-numbers");  // bench/dashboard_paint.py reads it
    view.append(rollup(roll, unit, def, level, go));
    view.append(trends(trend, { ...state, unit: drilled }, go, main.asOf));
  } catch (e) {
    busy.remove();
    view.append(failure(e));
  }
}

function controls(state, go, ids, sources, unit, home, asOf) {
  const wf = h("select", { id: "dash-def", onchange: (e) => go({ def: e.target.value }) },
    h("option", { value: "", text: t("dashAll") }),
    ids.map((id) => h("option", { value: id, selected: id === state.def, text: text(sources[id]?.title, id) })));
  const crumbs = h("nav", { class: "dash-crumbs", id: "dash-crumbs", "aria-label": t("dashUnit") });
  // The path from the caller's own unit (or the top) down to the unit shown.
  const parts = unit ? unit.split("/") : [];
  const start = segments(home);
  crumbs.append(unit === home ? h("strong", { text: home || t("dashWhole") })
    : h("a", { href: dashLink({ ...state, unit: "" }), text: home || t("dashWhole") }));
  for (let i = start; i < parts.length; i++) {
    const u = parts.slice(0, i + 1).join("/");
    crumbs.append(" › ", u === unit ? h("strong", { text: parts[i] }) : h("a", { href: dashLink({ ...state, unit: u }), text: parts[i] }));
  }
  return h("div", { class: "dash-controls" },
    h("label", {}, h("span", { text: t("dashWorkflow") }), wf),
    crumbs,
    // The server's clock in the server's zone (asOf carries its offset): overdue is judged at it.
    h("p", { class: "hint", id: "dash-asof", text: `${t("dashAsOf")}: ${(asOf || "").slice(0, 16).replace("T", " ")}` }));
}

// Per workflow: total, running, overdue, escalated; by state (with bars); by category,
// status and outcome.
function overview(main, sources, unit, only) {
  const by = new Map();
  for (const g of main.groups) {
    const k = g.key;
    if (only && k.definition !== only) continue;
    if (!by.has(k.definition)) by.set(k.definition, { total: 0, running: 0, overdue: 0, escalated: 0,
      state: new Map(), category: new Map(), status: new Map(), outcome: new Map() });
    const w = by.get(k.definition);
    w.total += g.count;
    if (k.status === "running") w.running += g.count;
    if (k.overdue) w.overdue += g.count;
    if (k.escalated) w.escalated += g.count;
    for (const f of ["state", "category", "status", "outcome"])
      if (k[f] != null) w[f].set(k[f], (w[f].get(k[f]) || 0) + g.count);
  }
  const section = h("section", { class: "dash-workflows", id: "dash-workflows" });
  for (const [id, w] of by) {
    const src = sources[id];
    const q = { definition: id, unit: unit || null };
    const max = Math.max(...w.state.values());
    const states = [...w.state.entries()].sort((a, b) => b[1] - a[1]);
    const chips = (field, label, map, title) => map.size ? h("div", { class: "dash-chips", "data-field": field },
      h("span", { class: "hint", text: label }),
      [...map.entries()].map(([v, c]) => h("span", { class: "chip", "data-key": v },
        `${title(v)} `, count(c, { ...q, [field]: v })))) : null;
    section.append(h("article", { class: "card dash-wf", "data-def": id },
      h("h2", { text: text(src?.title, id) }),
      h("dl", { class: "dash-kpis" },
        kpi("total", t("dashTotal"), w.total, q),
        kpi("running", t("dashRunning"), w.running, { ...q, status: "running" }),
        kpi("overdue", t("dashOverdue"), w.overdue, { ...q, overdue: "true" }, w.overdue ? "late" : ""),
        kpi("escalated", t("dashEscalated"), w.escalated, { ...q, escalated: "true" }, w.escalated ? "esc" : "")),
      h("table", { class: "data dash-states" },
        h("caption", { text: t("dashByState") }),
        h("tbody", {}, states.map(([s, c]) => h("tr", { "data-state": s },
          h("th", { scope: "row", text: stateTitle(src, s) }),
          h("td", { class: "num" }, count(c, { ...q, state: s })),
          h("td", { class: "barcell" }, bar(c, max, findState(src?.source?.states, s)?.["x-escalated"] ? "esc" : "")))))),
      chips("category", t("dashByCategory"), w.category, (v) => v),
      chips("status", t("dashStatus"), w.status, (v) => t(v)),
      chips("outcome", t("dashOutcome"), w.outcome, (v) => v)));
  }
  return section;
}

function kpi(name, label, n, q, cls = "") {
  return h("div", { class: `kpi ${cls}`, "data-kpi": name }, h("dt", { text: label }), h("dd", {}, count(n, q)));
}

// The roll-up: one row per unit one level below the one shown (its total, running, overdue,
// escalated), a unit with children drilling down; instances at the shown unit itself (a
// shorter path) are its own row.
function rollup(roll, unit, def, level, go) {
  const rows = new Map();
  for (const g of roll.groups) {
    const u = g.key[`unit:${level}`];
    const key = u ?? "";
    if (!rows.has(key)) rows.set(key, { total: 0, running: 0, overdue: 0, escalated: 0 });
    const r = rows.get(key);
    r.total += g.count;
    if (g.key.status === "running") r.running += g.count;
    if (g.key.overdue) r.overdue += g.count;
    if (g.key.escalated) r.escalated += g.count;
  }
  const max = Math.max(0, ...[...rows.values()].map((r) => r.total));
  const body = h("tbody", {});
  for (const [u, r] of [...rows.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const own = u !== "" && segments(u) < level;  // the shown unit itself (or above)
    const q = own ? { definition: def, unitExact: u } : { definition: def, unit: u || null, noUnit: u === "" ? "true" : null };
    const name = u === "" ? t("dashNoUnit") : own ? `${u.split("/").pop()}（${t("dashOwnLevel")}）` : u.split("/").pop();
    const label = !own && u !== "" ? h("a", { class: "drill", href: "#", "data-unit": u, text: name, title: u,
      onclick: (e) => { e.preventDefault(); go({ unit: u }); } }) : h("span", { text: name, title: u });
    body.append(h("tr", { "data-unit": u },
      h("th", { scope: "row" }, label),
      h("td", { class: "num", "data-col": "total" }, count(r.total, q)),
      h("td", { class: "num", "data-col": "running" }, count(r.running, { ...q, status: "running" })),
      h("td", { class: "num", "data-col": "overdue" }, count(r.overdue, { ...q, overdue: "true" })),
      h("td", { class: "num", "data-col": "escalated" }, count(r.escalated, { ...q, escalated: "true" })),
      h("td", { class: "barcell" }, bar(r.total, max))));
  }
  return h("section", { class: "dash-rollup", id: "dash-rollup", "data-unit": unit, "data-level": level },
    h("h2", { text: `${t("dashRollup")}${unit ? ` · ${unit}` : ""}` }),
    h("table", { class: "data dash-units" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", text: t("dashUnit") }), h("th", { scope: "col", class: "num", text: t("dashTotal") }),
        h("th", { scope: "col", class: "num", text: t("dashRunning") }), h("th", { scope: "col", class: "num", text: t("dashOverdue") }),
        h("th", { scope: "col", class: "num", text: t("dashEscalated") }), h("th", { class: "barcell" }))),
      body));
}

// The period a local date string falls in, as the server names it, and the next one.
function shift(key, period, by) {
  if (period === "month") {
    const [y, m] = key.split("-").map(Number);
    const d = new Date(Date.UTC(y, m - 1 + by, 1));
    return d.toISOString().slice(0, 7);
  }
  const d = new Date(`${key}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + by * (period === "week" ? 7 : 1));
  return d.toISOString().slice(0, 10);
}
function periodOf(iso, period) {
  // asOf carries the server's offset: its own date is the server's local date.
  const day = iso.slice(0, 10);
  if (period === "month") return day.slice(0, 7);
  if (period === "day") return day;
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

// The trend: the last n periods up to the one holding asOf, as bars and as a table.
function trends(trend, state, go, asOf) {
  const counts = new Map(trend.groups.map((g) => [g.key[`created:${state.period}`], g.count]));
  const last = periodOf(asOf || new Date().toISOString(), state.period);
  const keys = [];
  for (let i = state.n - 1; i >= 0; i--) keys.push(shift(last, state.period, -i));
  const vals = keys.map((k) => counts.get(k) || 0);
  const max = Math.max(1, ...vals);
  const W = 300, H = 90, bw = W / keys.length;
  const chart = svg("svg", { class: "trend", viewBox: `0 0 ${W} ${H + 14}`, role: "img", "aria-label": t("dashTrend") },
    svg("line", { x1: 0, y1: H, x2: W, y2: H, class: "axis" }),
    ...keys.map((k, i) => {
      const hgt = Math.round((vals[i] / max) * (H - 4));
      const r = svg("rect", { x: (i * bw + bw * 0.1).toFixed(2), y: H - hgt, width: (bw * 0.8).toFixed(2), height: hgt });
      r.append(svg("title", {}, `${k}: ${vals[i]}`));
      return r;
    }),
    svg("text", { x: 0, y: H + 12, class: "tick" }, keys[0]),
    svg("text", { x: W, y: H + 12, class: "tick end" }, keys[keys.length - 1]),
    svg("text", { x: 0, y: 9, class: "tick" }, String(max)));
  const periodSel = h("select", { id: "dash-period", onchange: (e) => go({ period: e.target.value, n: "" }) },
    ["day", "week", "month"].map((v) => h("option", { value: v, selected: v === state.period,
      text: t(`dash${v[0].toUpperCase()}${v.slice(1)}`) })));
  const nSel = h("select", { id: "dash-n", onchange: (e) => go({ n: e.target.value }) },
    PERIODS[state.period].map((v) => h("option", { value: v, selected: v === state.n, text: `${v} ${t("dashPeriods")}` })));
  const rows = keys.map((k, i) => h("tr", { "data-period": k },
    h("th", { scope: "row", text: k }),
    h("td", { class: "num" }, count(vals[i], { definition: state.def, unit: state.unit, createdFrom: k,
      createdTo: shift(k, state.period, 1) }))));
  return h("section", { class: "dash-trend", id: "dash-trend" },
    h("h2", { text: t("dashTrend") }),
    h("div", { class: "dash-controls" }, h("label", {}, h("span", { text: t("dashPeriod") }), periodSel), h("label", {}, nSel)),
    chart,
    h("details", { class: "dash-trend-table" }, h("summary", { text: t("dashCount") }),
      h("table", { class: "data" }, h("tbody", {}, rows.reverse()))));
}
