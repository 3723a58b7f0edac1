// The workflows page (docs/console.md, "Workflows"). Routes:
//   #/workflows                      every workflow: title, versions, instances running
//   #/workflows/<id>[/<version>]     its versions, a version's source and graph
//   #/workflows/<id>/diff/<a>/<b>    the line diff of two versions' pretty sources
//   #/workflows/<id>/edit            the editor, from the newest version as version + 1
//   #/workflows/~edit                the editor for a new workflow
// The editor validates while typing (POST /v1/definitions/validate, debounced) and marks
// every problem at its line (the server answers each problem's line and column in the
// text as sent); deploying (POST /v1/definitions) is for global administrators only,
// and the server decides: the button is only hidden from others.
import { ApiError, api, session } from "./api.js";
import { clear, h } from "./dom.js";
import { addStrings, t, text } from "./i18n.js";
import { failure } from "./common.js";
import { diffLines, hunks } from "./diff.js";
import { drawGraph, graphLayout } from "./graph.js";

addStrings({
  zh: {
    wfTitle: "流程", wfNew: "新建流程", wfVersions: "版本", wfVersion: "版本",
    wfRunning: "办理中", wfLatest: "最新", wfDigest: "摘要", wfSource: "定义源文件",
    wfGraph: "状态图", wfGraphText: "无法绘制状态图。",
    wfDiff: "版本对比", wfCompare: "对比", wfFrom: "旧版本", wfTo: "新版本",
    wfNoChange: "两个版本的定义相同。", wfAdded: "新增", wfRemoved: "删除",
    wfEdit: "编辑为新版本", wfEditor: "编辑定义", wfEditorNew: "新建流程定义",
    wfEditorHelp: "边输入边检查；每个问题标在它所在的行。只有全局管理员可以部署。",
    wfChecking: "正在检查…", wfValid: "没有问题。", wfErrors: "个错误", wfWarnings: "个警告",
    wfDeploy: "部署", wfDeploying: "正在部署…", wfDeployed: "已部署", wfUnchanged: "内容未变：这一版本已经部署。",
    wfExists: "这个版本号已用不同的内容部署过：请把 version 改成新的版本号。",
    wfRefused: "部署被拒绝：定义有错误，已标在对应的行。",
    wfSyntax: "不是合法的 JSON：", wfAdminOnly: "只有全局管理员可以部署流程。",
    wfNotReadable: "您的角色不能查看流程定义（服务器的 definitionReaders 设置）。",
    wfNone: "还没有部署任何流程。", wfLine: "第 {l} 行，第 {c} 列", wfNoLine: "整体",
    wfOpenVersion: "查看这一版本", wfBack: "返回流程列表", wfBackTo: "返回",
    wfCheckFailed: "检查失败：", wfTidy: "整理缩进",
  },
  en: {
    wfTitle: "Workflows", wfNew: "New workflow", wfVersions: "Versions", wfVersion: "Version",
    wfRunning: "Running", wfLatest: "newest", wfDigest: "Digest", wfSource: "Definition source",
    wfGraph: "Graph", wfGraphText: "The graph could not be laid out.",
    wfDiff: "Compare versions", wfCompare: "Compare", wfFrom: "Old version", wfTo: "New version",
    wfNoChange: "The two versions' definitions are the same.", wfAdded: "added", wfRemoved: "removed",
    wfEdit: "Edit as a new version", wfEditor: "Edit definition", wfEditorNew: "New workflow definition",
    wfEditorHelp: "Checked as you type; every problem is marked at its line. Only global administrators may deploy.",
    wfChecking: "Checking…", wfValid: "No problems.", wfErrors: "error(s)", wfWarnings: "warning(s)",
    wfDeploy: "Deploy", wfDeploying: "Deploying…", wfDeployed: "Deployed", wfUnchanged: "Unchanged: this version is already deployed.",
    wfExists: "This version number is deployed with other content: change version to a new number.",
    wfRefused: "Deploy refused: the definition has errors, marked at their lines.",
    wfSyntax: "Not valid JSON: ", wfAdminOnly: "Only global administrators may deploy workflows.",
    wfNotReadable: "Your roles may not read workflow definitions (the server's definitionReaders).",
    wfNone: "No workflow is deployed yet.", wfLine: "line {l}, column {c}", wfNoLine: "whole",
    wfOpenVersion: "Open this version", wfBack: "Back to workflows", wfBackTo: "Back",
    wfCheckFailed: "Check failed: ", wfTidy: "Re-indent",
  },
});

// A global administrator: role admin and no unit (docs/authorization.md).
const globalAdmin = (me) => !!me?.roles?.includes("admin") && !me?.attrs?.unit;
const enc = encodeURIComponent;
const pretty = (source) => JSON.stringify(source, null, 2);

export async function page(view, arg, me) {
  const parts = arg ? arg.split("/") : [];
  try {
    if (parts[0] === "~edit") return await editorPage(view, null, me);
    if (!parts.length || !parts[0]) return await listPage(view, me);
    const id = parts[0];
    if (parts[1] === "edit") return await editorPage(view, id, me);
    if (parts[1] === "diff") return await diffPage(view, id, Number(parts[2]), Number(parts[3]));
    return await workflowPage(view, id, parts[1] ? Number(parts[1]) : null, me);
  } catch (e) {
    view.append(notReadable(e) || failure(e));
  }
}

function notReadable(e) {
  if (e instanceof ApiError && e.status === 403 && e.problem.code === "definitions-not-readable") {
    return h("p", { class: "notice bad", id: "wf-not-readable", text: t("wfNotReadable") });
  }
  return null;
}

// Every deployed version, grouped by id: Map id -> [summary...] newest last.
async function versions() {
  const all = (await api("/v1/definitions")).items || [];
  const by = new Map();
  for (const d of all) {
    if (!by.has(d.id)) by.set(d.id, []);
    by.get(d.id).push(d);
  }
  for (const list of by.values()) list.sort((x, y) => x.version - y.version);
  return by;
}

// Running instances by "id@version" (from /v1/stats, over what the caller may see).
async function running(id) {
  const counts = new Map();
  try {
    const q = `/v1/stats?status=running&groupBy=definition,version${id ? `&definition=${enc(id)}` : ""}`;
    for (const g of (await api(q)).groups || []) {
      const k = `${g.key.definition}@${g.key.version}`;
      counts.set(k, (counts.get(k) || 0) + g.count);
    }
  } catch { /* the counts are an aid: the page stands without them */ }
  return counts;
}
const runningOf = (counts, id) => [...counts].reduce((n, [k, c]) => n + (k.startsWith(`${id}@`) ? c : 0), 0);

async function listPage(view, me) {
  view.append(h("h1", { text: t("wfTitle") }));
  const [by, counts] = await Promise.all([versions(), running(null)]);
  if (globalAdmin(me)) {
    view.append(h("p", {}, h("a", { class: "wf-btn", id: "wf-new", href: "#/workflows/~edit", text: t("wfNew") })));
  }
  if (!by.size) { view.append(h("p", { class: "notice", text: t("wfNone") })); return; }
  view.append(h("ul", { class: "wf-list", id: "wf-list" }, [...by].map(([id, list]) => {
    const newest = list[list.length - 1];
    return h("li", { "data-id": id }, h("a", { href: `#/workflows/${enc(id)}` },
      h("span", { class: "wf-name", text: text(newest.title, id) }),
      h("code", { class: "wf-id", text: id }),
      h("span", { class: "wf-vers", text: `${t("wfVersions")} ${list.map((d) => d.version).join(", ")}` }),
      h("span", { class: "wf-run", "data-running": runningOf(counts, id), text: `${t("wfRunning")} ${runningOf(counts, id)}` })));
  })));
}

// Lines as rows: {a, text} (numbered source), or diff lines {kind, a, b, sign, text}.
function codeView(lines, id) {
  return h("div", { class: "code", id }, lines.map((l) =>
    h("div", { class: `ln ${l.kind || ""}`, "data-a": l.a ?? "", "data-b": l.b ?? "" },
      h("span", { class: "no", text: l.a ?? "" }),
      l.b !== undefined ? h("span", { class: "no", text: l.b ?? "" }) : null,
      l.sign !== undefined ? h("span", { class: "sign", text: l.sign }) : null,
      h("span", { class: "tx", text: l.text }))));
}

async function workflowPage(view, id, version, me) {
  const by = await versions();
  const list = by.get(id);
  if (!list) throw new ApiError(404, {});
  const v = version || list[list.length - 1].version;
  const [def, counts, layout] = await Promise.all([
    api(`/v1/definitions/${enc(id)}?version=${v}`), running(id),
    graphLayout(id, v).catch(() => null)]);
  view.append(h("a", { class: "back", href: "#/workflows", text: `← ${t("wfBack")}` }),
    h("h1", {}, text(def.title, id), " ", h("small", { text: `${id} · ${t("wfVersion")} ${v}` })));
  if (globalAdmin(me)) {
    view.append(h("p", {}, h("a", { class: "wf-btn", id: "wf-edit", href: `#/workflows/${enc(id)}/edit`, text: t("wfEdit") })));
  }
  view.append(h("h2", { text: t("wfVersions") }), h("table", { class: "data wf-versions", id: "wf-versions" },
    h("thead", {}, h("tr", {}, h("th", { text: t("wfVersion") }), h("th", { text: t("wfRunning") }), h("th", { text: t("wfDigest") }))),
    h("tbody", {}, [...list].reverse().map((d) => h("tr", { class: d.version === v ? "current" : "" },
      h("td", {}, h("a", { href: `#/workflows/${enc(id)}/${d.version}`, text: `v${d.version}` }),
        d.version === list[list.length - 1].version ? h("span", { class: "badge", text: t("wfLatest") }) : null),
      h("td", { text: String(counts.get(`${id}@${d.version}`) || 0) }),
      h("td", {}, h("code", { text: (d.digest || "").slice(0, 12) })))))));
  if (list.length > 1) view.append(diffChooser(id, list, list[list.length - 2].version, list[list.length - 1].version));
  // The graph laid out by the server (Graphviz) and drawn by graph.js, as on the instance page.
  view.append(h("h2", { text: t("wfGraph") }),
    h("div", { class: "wf-graph", id: "wf-graph" },
      layout ? drawGraph(layout, { label: text(def.title, id) }) : h("p", { class: "notice", text: t("wfGraphText") })));
  const lines = pretty(def.source).split("\n").map((line, i) => ({ a: i + 1, text: line }));
  view.append(h("h2", { text: `${t("wfSource")} (v${v})` }), codeView(lines, "wf-source"));
}

function diffChooser(id, list, a, b) {
  const pick = (name, value) => h("label", {}, h("span", { text: t(name === "from" ? "wfFrom" : "wfTo") }),
    h("select", { id: `wf-diff-${name}` }, list.map((d) =>
      h("option", { value: d.version, selected: d.version === value, text: `v${d.version}` }))));
  const form = h("form", { class: "wf-diff-form", id: "wf-diff-form" }, h("h2", { text: t("wfDiff") }),
    h("div", { class: "row" }, pick("from", a), pick("to", b),
      h("button", { type: "submit", class: "small", text: t("wfCompare") })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/workflows/${enc(id)}/diff/${form.querySelector("#wf-diff-from").value}/${form.querySelector("#wf-diff-to").value}`;
  });
  return form;
}

async function diffPage(view, id, a, b) {
  const by = await versions();
  const list = by.get(id);
  if (!list || !a || !b) throw new ApiError(404, {});
  const [da, db] = await Promise.all([a, b].map((v) => api(`/v1/definitions/${enc(id)}?version=${v}`)));
  view.append(h("a", { class: "back", href: `#/workflows/${enc(id)}`, text: `← ${t("wfBackTo")}` }),
    h("h1", {}, text(db.title, id), " ", h("small", { text: `${id} · v${a} → v${b}` })),
    diffChooser(id, list, a, b));
  const lines = diffLines(pretty(da.source), pretty(db.source));
  const added = lines.filter((l) => l.kind === "add").length;
  const removed = lines.filter((l) => l.kind === "del").length;
  view.append(h("p", { class: "wf-diff-sum", id: "wf-diff-sum" },
    h("span", { class: "plus", text: `+${added} ${t("wfAdded")}` }), " ",
    h("span", { class: "minus", text: `−${removed} ${t("wfRemoved")}` })));
  const parts = hunks(lines);
  if (!parts.length) { view.append(h("p", { class: "notice", text: t("wfNoChange") })); return; }
  view.append(h("div", { class: "wf-diff", id: "wf-diff" }, parts.map((hunk) => codeView(hunk.map((l) => ({
    kind: l.kind, a: l.a, b: l.b, text: l.text, sign: l.kind === "add" ? "+" : l.kind === "del" ? "−" : " ",
  })), null))));
}

// ---- the editor ----

const TEMPLATE = {
  id: "example.workflow", version: 1,
  title: { zh: "示例流程", en: "Example workflow" },
  initial: "OPEN",
  states: {
    OPEN: { title: { zh: "办理中", en: "Open" }, on: { close: { title: { zh: "办结", en: "Close" }, target: "DONE" } } },
    DONE: { title: { zh: "已办结", en: "Done" }, type: "final" },
  },
};

// The server's column counts bytes (UTF-8); the text area counts UTF-16 units.
function charColumn(lineText, byteColumn) {
  if (!byteColumn) return 0;
  const bytes = new TextEncoder().encode(lineText);
  return new TextDecoder().decode(bytes.slice(0, byteColumn - 1)).length + 1;
}

async function editorPage(view, id, me) {
  let initial = TEMPLATE;
  if (id) {
    const list = (await versions()).get(id);
    if (!list) throw new ApiError(404, {});
    const newest = list[list.length - 1];
    initial = (await api(`/v1/definitions/${enc(id)}?version=${newest.version}`)).source;
    initial = { ...initial, version: newest.version + 1 };
  }
  const admin = globalAdmin(me);
  view.append(h("a", { class: "back", href: id ? `#/workflows/${enc(id)}` : "#/workflows", text: `← ${t("wfBackTo")}` }),
    h("h1", { text: id ? `${t("wfEditor")} · ${id}` : t("wfEditorNew") }),
    h("p", { class: "hint", text: t("wfEditorHelp") }));
  const gutter = h("div", { class: "gutter", id: "wf-gutter", "aria-hidden": "true" });
  const area = h("textarea", { id: "wf-text", class: "wf-text", wrap: "off", spellcheck: "false",
    autocapitalize: "off", autocomplete: "off", "aria-label": t("wfSource") });
  area.value = pretty(initial);
  const status = h("p", { class: "wf-status", id: "wf-status", role: "status" });
  const problemList = h("ul", { class: "wf-problems", id: "wf-problems" });
  const result = h("div", { id: "wf-result" });
  view.append(h("div", { class: "editor" }, gutter, area), status, problemList, result);
  // Re-indents the text when it is JSON (members keep the order typed).
  const tidy = h("button", { type: "button", class: "small", id: "wf-tidy", text: t("wfTidy") });
  tidy.addEventListener("click", () => {
    try { area.value = pretty(JSON.parse(area.value)); } catch { return; }
    area.dispatchEvent(new Event("input"));
  });
  if (admin) {
    const deploy = h("button", { type: "button", class: "primary", id: "wf-deploy", text: t("wfDeploy") });
    deploy.addEventListener("click", () => run(deploy));
    view.append(h("p", { class: "wf-actions" }, deploy, tidy));
  } else {
    view.append(h("p", { class: "wf-actions" }, tidy), h("p", { class: "hint", id: "wf-admin-only", text: t("wfAdminOnly") }));
  }

  let problems = [];  // [{line, column, severity, message, pointer, code}]
  let lineCount = 0;
  const drawGutter = () => {
    const n = area.value.split("\n").length;
    const marks = new Map();
    for (const p of problems) {
      if (!p.line) continue;
      const m = marks.get(p.line);
      if (!m || p.severity === "error") marks.set(p.line, p);
    }
    if (n !== lineCount || gutter.dataset.marks !== JSON.stringify([...marks.keys()])) {
      clear(gutter);
      for (let i = 1; i <= n; i++) {
        const p = marks.get(i);
        gutter.append(h("div", { class: p ? (p.severity === "error" ? "bad" : "warn") : null, "data-line": i,
          title: p ? p.message : null, text: String(i) }));
      }
      lineCount = n;
      gutter.dataset.marks = JSON.stringify([...marks.keys()]);
    }
    gutter.scrollTop = area.scrollTop;
  };
  // Scrolls the text area so that `line` is in view (the third line from the top).
  const reveal = (line) => {
    const lh = parseFloat(getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (line - 3) * lh);
    gutter.scrollTop = area.scrollTop;
  };
  const goTo = (line, column) => {
    const lines = area.value.split("\n");
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    const col = Math.max(0, charColumn(lines[line - 1] || "", column) - 1);
    area.focus();
    area.setSelectionRange(start + col, start + (lines[line - 1] || "").length);
    drawGutter();
    reveal(line);
  };
  const show = (list, headline, cls) => {
    problems = list;
    drawGutter();
    clear(problemList);
    const lines = area.value.split("\n");
    for (const p of [...list].sort((x, y) => (x.line || 1e9) - (y.line || 1e9))) {
      const col = charColumn(lines[p.line - 1] || "", p.column);
      const where = p.line ? t("wfLine").replace("{l}", p.line).replace("{c}", col) : t("wfNoLine");
      problemList.append(h("li", { class: p.severity === "error" ? "bad" : "warn", "data-line": p.line || "", "data-pointer": p.pointer || "" },
        h("button", { type: "button", class: "link where", text: where, onclick: () => p.line && goTo(p.line, p.column) }),
        h("span", { class: "msg", text: p.message }),
        p.pointer ? h("code", { text: p.pointer }) : null));
    }
    status.textContent = headline;
    status.className = `wf-status ${cls}`;
  };
  const summary = (list) => {
    const errors = list.filter((p) => p.severity === "error").length;
    const warnings = list.length - errors;
    if (!list.length) return t("wfValid");
    return `${errors} ${t("wfErrors")}${warnings ? `, ${warnings} ${t("wfWarnings")}` : ""}`;
  };
  // The problems of a refusal: a definition's (422 `problems`) or the JSON syntax's (400).
  const refusalProblems = (e) => (e.problem.problems || (e.problem.errors || []).map((x) =>
    ({ severity: "error", pointer: x.pointer, code: x.code, message: x.detail })));

  let seq = 0;
  const check = async () => {
    const mine = ++seq;
    status.textContent = t("wfChecking");
    status.className = "wf-status";
    try {
      const res = await send("/v1/definitions/validate", area.value);
      if (mine !== seq) return;
      show(res.problems || [], summary(res.problems || []), res.valid ? "ok" : "bad");
    } catch (e) {
      if (mine !== seq) return;
      if (e instanceof ApiError && e.status === 400 && e.problem.code === "invalid-json") {
        show(refusalProblems(e), t("wfSyntax") + (e.problem.detail || ""), "bad");
      } else {
        show([], t("wfCheckFailed") + e.message, "bad");
      }
    }
  };
  let timer = 0;
  area.addEventListener("input", () => {
    drawGutter();
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  area.addEventListener("keydown", (ev) => {  // Tab indents instead of leaving the editor
    if (ev.key !== "Tab" || ev.shiftKey) return;
    ev.preventDefault();
    area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
    area.dispatchEvent(new Event("input"));
  });

  async function run(button) {
    clearTimeout(timer);
    ++seq;  // a check still under way is older than this
    button.disabled = true;
    button.textContent = t("wfDeploying");
    clear(result);
    try {
      const res = await send("/v1/definitions", area.value);
      show(res.warnings || [], summary(res.warnings || []), "ok");
      const link = h("a", { href: `#/workflows/${enc(res.id)}/${res.version}`, text: t("wfOpenVersion") });
      result.append(res.unchanged
        ? h("p", { class: "notice", id: "wf-outcome", "data-outcome": "unchanged" }, t("wfUnchanged"), " ", link)
        : h("p", { class: "notice ok", id: "wf-outcome", "data-outcome": "deployed" },
          `${t("wfDeployed")}: ${res.id} v${res.version}. `, link));
    } catch (e) {
      const box = (outcome, msg) => h("p", { class: "notice bad", id: "wf-outcome", "data-outcome": outcome, text: msg });
      if (!(e instanceof ApiError)) result.append(box("failed", e.message));
      else if (e.status === 422 && e.problem.code === "invalid-definition") {
        const list = refusalProblems(e);
        show(list, summary(list), "bad");
        const first = list.filter((p) => p.line && p.severity === "error").sort((x, y) => x.line - y.line)[0];
        if (first) reveal(first.line);
        result.append(box("refused", t("wfRefused")));
      } else if (e.status === 400 && e.problem.code === "invalid-json") {
        show(refusalProblems(e), t("wfSyntax") + (e.problem.detail || ""), "bad");
        result.append(box("refused", t("wfSyntax") + (e.problem.detail || "")));
      } else if (e.status === 409) result.append(box("exists", t("wfExists")));
      else if (e.status === 403) result.append(box("forbidden", `${t("wfAdminOnly")} (${e.problem.code || 403})`));
      else result.append(box("failed", e.message));
    } finally {
      button.disabled = false;
      button.textContent = t("wfDeploy");
    }
  }
  drawGutter();
  check();
}

// POST the text as typed (not re-serialised), so that the server's lines are the editor's.
async function send(path, body) {
  const res = await fetch(path, {
    method: "POST", body, cache: "no-store", credentials: "omit",
    headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${session.token}` },
  });
  const raw = await res.text();
  let data = null;
  try { data = raw ? JSON.parse(raw) : null; } catch { data = { detail: raw }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
