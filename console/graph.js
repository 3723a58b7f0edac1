// A definition's graph, drawn as SVG from the layout the server computed
// (GET /v1/definitions/{id}/graph?format=layout: positions only; every title is set as
// text, nothing is parsed as markup). Used by the instance page (current state and the
// path taken marked) and the workflows page (the bare graph). docs/console.md.
import { h } from "./dom.js";
import { addStrings, lang, t } from "./i18n.js";
import { api } from "./api.js";

addStrings({
  zh: { graphZoomIn: "放大", graphZoomOut: "缩小", graphFit: "适应宽度", graphActual: "原始大小",
    graphCurrent: "当前状态", graphVisited: "走过的", graphLabel: "流程图" },
  en: { graphZoomIn: "Zoom in", graphZoomOut: "Zoom out", graphFit: "Fit width", graphActual: "Actual size",
    graphCurrent: "Current state", graphVisited: "Path taken", graphLabel: "Workflow graph" },
});

const NS = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") el.textContent = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

// The layout of a definition version in the page's language, fetched once per page load.
const layouts = new Map();
export function graphLayout(id, version) {
  const k = `${id}@${version}@${lang}`;
  if (!layouts.has(k)) {
    layouts.set(k, api(`/v1/definitions/${encodeURIComponent(id)}/graph?format=layout&version=${version}&lang=${lang}`)
      .catch((e) => { layouts.delete(k); throw e; }));
  }
  return layouts.get(k);
}

const n = (v) => Math.round(v * 100) / 100;
function pathData(points) {
  if (!points?.length) return "";
  let d = `M${n(points[0][0])},${n(points[0][1])}`;
  for (let i = 1; i + 2 < points.length; i += 3) {
    d += ` C${n(points[i][0])},${n(points[i][1])} ${n(points[i + 1][0])},${n(points[i + 1][1])} ${n(points[i + 2][0])},${n(points[i + 2][1])}`;
  }
  return d;
}
function arrowHead([[x0, y0], [x1, y1]]) {
  const dx = x1 - x0, dy = y1 - y0, len = Math.hypot(dx, dy) || 1;
  const px = (-dy / len) * 4, py = (dx / len) * 4;
  return `${n(x0 + px)},${n(y0 + py)} ${n(x1)},${n(y1)} ${n(x0 - px)},${n(y0 - py)}`;
}

// Which layout edges a path of history entries took, and the states it visited in order.
// An entry {kind, event, from, to} takes the edge from `from` or one of its ancestors to a
// state whose entry is `to` (or one of its ancestors), preferring the edge of its event (a
// timer that acts directly records the event "timer:<id>").
function follow(layout, path) {
  const parent = new Map(layout.states.map((st) => [st.name, st.parent]));
  const up = (name) => { const out = []; for (let x = name; x; x = parent.get(x)) out.push(x); return out; };
  const taken = new Map(), visited = [];
  for (const e of path || []) {
    if (e.to) visited.push(e.to);
    let cands;
    if (e.kind === "start") cands = layout.edges.filter((g) => g.kind === "start");
    else {
      if (!e.from || !e.to) continue;
      const from = up(e.from), to = up(e.to);
      cands = layout.edges.filter((g) => g.kind !== "start" && from.includes(g.from) && (g.entry === e.to || to.includes(g.to)));
      const own = cands.filter((g) => (g.event && g.event === e.event) || (g.timer && e.event === `timer:${g.timer}`));
      // A step that stayed took an edge only if its own event has one (a self-loop).
      if (own.length || e.from === e.to) cands = own;
    }
    if (cands.length) taken.set(cands[0], (taken.get(cands[0]) || []).concat(e.seq));
  }
  return { taken, visited };
}

// The graph in a scrolling box with zoom buttons. options: current (the innermost state
// now, or at the moment shown), path (history entries, oldest first), label.
export function drawGraph(layout, { current = "", path = [], label = "" } = {}) {
  const W = Math.max(layout.width + 16, 40), H = Math.max(layout.height + 16, 40);
  const parent = new Map(layout.states.map((st) => [st.name, st.parent]));
  const active = new Set();
  for (let x = current; x; x = parent.get(x)) active.add(x);
  const { taken, visited } = follow(layout, path);
  const seen = new Set(visited);

  const svg = s("svg", { viewBox: `-8 -8 ${n(W)} ${n(H)}`, width: n(W), height: n(H), role: "img",
    "aria-label": label || t("graphLabel"), class: "graph" });
  const boxes = s("g", { class: "clusters" }), edges = s("g", { class: "edges" }), nodes = s("g", { class: "nodes" });
  for (const st of layout.states) {
    const cls = ["state", st.kind, active.has(st.name) ? "current" : "", seen.has(st.name) ? "visited" : ""].filter(Boolean).join(" ");
    if (st.kind === "compound") {
      boxes.append(s("g", { class: cls, "data-state": st.name },
        s("title", { text: st.name }),
        s("rect", { x: st.x, y: st.y, width: st.width, height: st.height, rx: 8 }),
        s("text", { x: st.labelX ?? st.x + 8, y: st.labelY ?? st.y + 12, "text-anchor": "middle", "dominant-baseline": "central", class: "cluster-label", text: st.title })));
      continue;
    }
    const g = s("g", { class: cls, "data-state": st.name },
      s("title", { text: st.title === st.name ? st.name : `${st.title} (${st.name})` }),
      s("rect", { x: st.x, y: st.y, width: st.width, height: st.height, rx: st.kind === "final" ? 17 : 6 }));
    if (st.kind === "final") g.append(s("rect", { class: "inner", x: st.x + 3, y: st.y + 3, width: st.width - 6, height: st.height - 6, rx: 14 }));
    g.append(s("text", { x: st.x + st.width / 2, y: st.y + st.height / 2, "text-anchor": "middle", "dominant-baseline": "central", text: st.title }));
    nodes.append(g);
  }
  for (const e of layout.edges) {
    const steps = taken.get(e);
    const g = s("g", { class: ["edge", e.kind, e.guarded ? "guarded" : "", steps ? "taken" : ""].filter(Boolean).join(" "),
      "data-from": e.from, "data-to": e.to, "data-event": e.event || e.timer || "", "data-steps": steps ? steps.join(" ") : null },
      s("title", { text: `${e.from || "●"} → ${e.to}${e.event ? ` (${e.event})` : ""}${steps ? ` #${steps.join(", #")}` : ""}` }),
      s("path", { d: pathData(e.path) }),
      e.arrow ? s("polygon", { points: arrowHead(e.arrow) }) : null);
    if (e.kind === "start" && e.path?.length) g.append(s("circle", { cx: e.path[0][0], cy: e.path[0][1], r: 5, class: "start" }));
    if (e.title && e.labelX != null) g.append(s("text", { x: e.labelX, y: e.labelY, "text-anchor": "middle", "dominant-baseline": "central", class: "edge-label", text: e.title }));
    edges.append(g);
  }
  svg.append(boxes, edges, nodes);

  // Zoom changes the drawing's size inside the box; the page never scrolls sideways.
  const box = h("div", { class: "graph-box", tabindex: "0" }, svg);
  let scale = 1;
  const zoom = (f) => {
    scale = Math.min(4, Math.max(0.2, f));
    svg.setAttribute("width", n(W * scale));
    svg.setAttribute("height", n(H * scale));
    svg.dataset.scale = String(n(scale));
  };
  const fit = () => zoom(Math.min(1, (box.clientWidth - 4) / W));
  const tools = h("div", { class: "graph-tools" },
    h("button", { type: "button", class: "small", "data-zoom": "out", title: t("graphZoomOut"), "aria-label": t("graphZoomOut"), onclick: () => zoom(scale / 1.25), text: "−" }),
    h("button", { type: "button", class: "small", "data-zoom": "in", title: t("graphZoomIn"), "aria-label": t("graphZoomIn"), onclick: () => zoom(scale * 1.25), text: "+" }),
    h("button", { type: "button", class: "small", "data-zoom": "fit", onclick: fit, text: t("graphFit") }),
    h("button", { type: "button", class: "small", "data-zoom": "actual", onclick: () => zoom(1), text: t("graphActual") }),
    current || path.length ? h("span", { class: "graph-legend" },
      h("i", { class: "key current" }), t("graphCurrent"), h("i", { class: "key visited" }), t("graphVisited")) : null);
  zoom(1);
  const wrap = h("div", { class: "graph-wrap" }, tools, box);
  // Once shown: the current state scrolled into the box's view.
  requestAnimationFrame(() => {
    const cur = layout.states.find((st) => st.name === current);
    if (!cur || !box.isConnected) return;
    box.scrollLeft = Math.max(0, (cur.x + cur.width / 2 + 8) * scale - box.clientWidth / 2);
    box.scrollTop = Math.max(0, (cur.y + cur.height / 2 + 8) * scale - box.clientHeight / 2);
  });
  return wrap;
}
