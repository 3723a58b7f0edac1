// The instances page (docs/console.md, "Instances"). Route: #/instances[/<filter>], the
// filter written as a query string so that a link reproduces it:
//   #/instances/definition=X&state=Y&status=running&businessKeyPrefix=2023-&unit=HX/GM/T03&f./grade="A"
// (`f.<JSON Pointer>=<value>`: data equality; the value is JSON, or else a string).
// Filters, chosen data columns (remembered per workflow in localStorage), cursor paging,
// export (CSV/JSON streamed by the server), and for administrators bulk cancel, migrate
// and retry: a dry-run count first, a confirmation, then the batch's progress.
import { api, ApiError, session } from "./api.js";
import { clear, h, show } from "./dom.js";
import { addStrings, t, text, when } from "./i18n.js";
import { failure, stateTitle, statusText } from "./common.js";

addStrings({
  zh: {
    instancesTitle: "案件", instancesWorkflow: "流程", instancesAll: "全部", instancesState: "环节",
    instancesStatus: "进度", instancesKey: "业务编号前缀", instancesUnit: "单位（含下级）",
    instancesUnitHint: "如 HX/GM/T03", instancesData: "数据条件", instancesField: "字段",
    instancesValue: "值", instancesAddData: "添加条件", instancesApply: "查询", instancesReset: "清除",
    instancesColumns: "显示的列", instancesNone: "没有符合条件的案件。", instancesMore: "加载更多",
    instancesShown: "已显示 {n} 个", instancesUpdated: "更新", instancesId: "编号",
    instancesExport: "导出", instancesExporting: "正在导出…", instancesExported: "已导出 {n} 行",
    instancesBulk: "批量操作", instancesAction: "操作", instancesCancel: "撤销",
    instancesMigrate: "迁移到新版本", instancesRetry: "重发失败的通知",
    instancesReason: "原因", instancesToVersion: "目标版本", instancesDryRun: "预览数量",
    instancesDryCount: "将{action} {n} 个案件。", instancesDryRetry: "将重发 {n} 条失败的通知。",
    instancesNotAdmin: "另有 {n} 个您能看到但无权操作，不会处理。",
    instancesSample: "例如：", instancesConfirm: "确认{action} {n} 个",
    instancesNothing: "没有可处理的案件。", instancesProgress: "进度",
    instancesBatchState: "状态", instancesDone: "已处理", instancesOk: "成功", instancesFailed: "失败",
    instancesSkipped: "期间已变化而跳过", instancesStop: "停止",
    instancesCounting: "正在统计", instancesCompletedBatch: "已完成", instancesCancelledBatch: "已停止", instancesFailedBatch: "出错",
    instancesRunningBatch: "正在处理", instancesRefresh: "刷新列表",
  },
  en: {
    instancesTitle: "Instances", instancesWorkflow: "Workflow", instancesAll: "All", instancesState: "State",
    instancesStatus: "Status", instancesKey: "Business key prefix", instancesUnit: "Unit (and below)",
    instancesUnitHint: "e.g. HX/GM/T03", instancesData: "Data", instancesField: "Field",
    instancesValue: "Value", instancesAddData: "Add condition", instancesApply: "Search", instancesReset: "Clear",
    instancesColumns: "Columns", instancesNone: "No instances match.", instancesMore: "Load more",
    instancesShown: "{n} shown", instancesUpdated: "Updated", instancesId: "Id",
    instancesExport: "Export", instancesExporting: "Exporting…", instancesExported: "Exported {n} rows",
    instancesBulk: "Bulk action", instancesAction: "Action", instancesCancel: "Cancel",
    instancesMigrate: "Migrate to a version", instancesRetry: "Retry failed notifications",
    instancesReason: "Reason", instancesToVersion: "Target version", instancesDryRun: "Count first",
    instancesDryCount: "{action}: {n} instances.", instancesDryRetry: "Retry: {n} failed notifications.",
    instancesNotAdmin: "{n} more you can see but not administer: left alone.",
    instancesSample: "For example:", instancesConfirm: "Confirm: {action} {n}",
    instancesNothing: "Nothing to do.", instancesProgress: "Progress",
    instancesBatchState: "State", instancesDone: "Done", instancesOk: "Succeeded", instancesFailed: "Failed",
    instancesSkipped: "Skipped (changed meanwhile)", instancesStop: "Stop",
    instancesCounting: "Counting", instancesCompletedBatch: "Completed", instancesCancelledBatch: "Stopped", instancesFailedBatch: "Failed",
    instancesRunningBatch: "Running", instancesRefresh: "Refresh the list",
  },
});

const fill = (s, vars) => s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
const COLUMNS_KEY = (def) => `bihuan.instances.columns.${def}`;

// The filter in the hash <-> {definition, state, status, businessKeyPrefix, unit, data: [[ptr, text]]}.
export function parseFilter(raw) {
  const f = { definition: "", state: "", status: "", businessKeyPrefix: "", unit: "", data: [] };
  const params = new URLSearchParams(raw || "");
  for (const [k, v] of params) {
    if (k.startsWith("f.") && k.length > 2) f.data.push([k.slice(2), v]);
    else if (k in f && k !== "data") f[k] = v;
  }
  return f;
}
function filterHash(f) {
  const enc = (s) => encodeURIComponent(s).replace(/%2F/g, "/");
  const parts = [];
  for (const k of ["definition", "state", "status", "businessKeyPrefix", "unit"]) if (f[k]) parts.push(`${k}=${enc(f[k])}`);
  for (const [p, v] of f.data) if (p) parts.push(`f.${enc(p)}=${enc(v)}`);
  return `#/instances/${parts.join("&")}`;
}
// The same filter as GET query parameters (filter=/ptr:value) and as a batch's filter.
function filterQuery(f) {
  const q = new URLSearchParams();
  for (const k of ["definition", "state", "status", "businessKeyPrefix", "unit"]) if (f[k]) q.set(k, f[k]);
  for (const [p, v] of f.data) if (p) q.append("filter", `${p}:${v}`);
  return q;
}
const jsonOrText = (v) => { try { return JSON.parse(v); } catch { return v; } };
function filterBody(f) {
  const out = {};
  for (const k of ["definition", "state", "status", "businessKeyPrefix", "unit"]) if (f[k]) out[k] = f[k];
  if (f.data.length) out.data = Object.fromEntries(f.data.filter(([p]) => p).map(([p, v]) => [p, jsonOrText(v)]));
  return out;
}

// The definition's top-level data members with their titles (the dataSchema's `x-title`
// Text, else its `title`).
function dataMembers(def) {
  const props = def?.source?.dataSchema?.properties || {};
  return Object.entries(props).map(([name, s]) => ({ ptr: `/${name.replace(/~/g, "~0").replace(/\//g, "~1")}`,
    title: text(s?.["x-title"] ?? s?.title, name) }));
}
function valueAt(data, ptr) {
  let v = data;
  for (const part of ptr.split("/").slice(1)) {
    if (v == null || typeof v !== "object") return undefined;
    v = v[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return v;
}

// Counts CSV records (RFC 4180: a line break inside quotes is not a record's end).
function csvRecords(s) {
  let n = 0, quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) n++;
  }
  return n;
}

export async function page(view, arg, me) {
  const raw = (location.hash.split("/").length > 2) ? location.hash.slice("#/instances/".length) : "";
  const f = parseFilter(raw);
  view.append(h("h1", { text: t("instancesTitle") }));
  let defs = [];
  try {
    defs = (await api("/v1/definitions")).items || [];
  } catch (e) {
    view.append(failure(e));
    return;
  }
  // Per workflow: the newest version's summary and its versions.
  const byId = new Map();
  for (const d of defs) {
    const cur = byId.get(d.id);
    if (!cur || d.version > cur.version) byId.set(d.id, { ...d, versions: [...(cur?.versions || []), d.version] });
    else cur.versions.push(d.version);
  }
  let full = null;  // the chosen workflow's newest version with its source
  if (f.definition && byId.has(f.definition)) {
    try {
      full = await api(`/v1/definitions/${encodeURIComponent(f.definition)}?version=${byId.get(f.definition).version}`);
    } catch { full = null; }
  }
  const members = dataMembers(full);

  // ---- the filter form
  const wf = h("select", { id: "f-definition", name: "definition" },
    h("option", { value: "", text: t("instancesAll") }),
    [...byId.values()].map((d) => h("option", { value: d.id, selected: d.id === f.definition, text: text(d.title, d.id) })));
  const stateSel = h("select", { id: "f-state", name: "state", disabled: !f.definition },
    h("option", { value: "", text: t("instancesAll") }),
    (byId.get(f.definition)?.states || []).map((s) => h("option", { value: s, selected: s === f.state, text: stateTitle(full, s) })));
  const statusSel = h("select", { id: "f-status", name: "status" },
    h("option", { value: "", text: t("instancesAll") }),
    ["running", "completed", "cancelled"].map((s) => h("option", { value: s, selected: s === f.status, text: statusText(s) })));
  const keyIn = h("input", { id: "f-key", name: "businessKeyPrefix", value: f.businessKeyPrefix, autocomplete: "off" });
  const unitIn = h("input", { id: "f-unit", name: "unit", value: f.unit, placeholder: t("instancesUnitHint"), autocomplete: "off" });
  const dataRows = h("div", { class: "list", id: "f-data" });
  const addDataRow = (ptr = "", value = "") => {
    const field = members.length
      ? h("select", { class: "f-ptr", "aria-label": t("instancesField") },
          members.map((m) => h("option", { value: m.ptr, selected: m.ptr === ptr, text: m.title })),
          ptr && !members.some((m) => m.ptr === ptr) ? h("option", { value: ptr, selected: true, text: ptr }) : null)
      : h("input", { class: "f-ptr", value: ptr, placeholder: "/grade", "aria-label": t("instancesField") });
    const row = h("div", { class: "row" }, field,
      h("input", { class: "f-val", value, "aria-label": t("instancesValue"), autocomplete: "off" }),
      h("button", { type: "button", class: "small", text: t("remove"), onclick: () => row.remove() }));
    dataRows.append(row);
  };
  for (const [p, v] of f.data) addDataRow(p, v);
  const form = h("form", { class: "filters card", id: "filters" },
    h("div", { class: "grid" },
      h("div", { class: "field" }, h("label", { for: "f-definition", text: t("instancesWorkflow") }), wf),
      h("div", { class: "field" }, h("label", { for: "f-state", text: t("instancesState") }), stateSel),
      h("div", { class: "field" }, h("label", { for: "f-status", text: t("instancesStatus") }), statusSel),
      h("div", { class: "field" }, h("label", { for: "f-key", text: t("instancesKey") }), keyIn),
      h("div", { class: "field" }, h("label", { for: "f-unit", text: t("instancesUnit") }), unitIn)),
    h("fieldset", { class: "group" }, h("legend", { text: t("instancesData") }), dataRows,
      h("button", { type: "button", class: "small", id: "f-add", text: t("instancesAddData"), onclick: () => addDataRow(members[0]?.ptr || "") })),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary", id: "f-apply", text: t("instancesApply") }),
      h("button", { type: "button", class: "link", id: "f-reset", text: t("instancesReset"),
        onclick: () => { location.hash = "#/instances"; } })));
  const current = () => ({
    definition: wf.value, state: wf.value === f.definition ? stateSel.value : "", status: statusSel.value,
    businessKeyPrefix: keyIn.value.trim(), unit: unitIn.value.trim(),
    data: [...dataRows.querySelectorAll(".row")].map((r) => [r.querySelector(".f-ptr").value.trim(), r.querySelector(".f-val").value])
      .filter(([p]) => p),
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); location.hash = filterHash(current()); });
  wf.addEventListener("change", () => { location.hash = filterHash({ ...current(), state: "", data: [] }); });
  view.append(form);

  // ---- columns (per workflow, remembered)
  let cols = [];
  if (f.definition) {
    try { cols = JSON.parse(localStorage.getItem(COLUMNS_KEY(f.definition)) || "null"); } catch { cols = null; }
    if (!Array.isArray(cols)) cols = members.slice(0, 3).map((m) => m.ptr);
    cols = cols.filter((p) => members.some((m) => m.ptr === p));
  }
  const table = h("div", { class: "scroll" });
  const status = h("p", { class: "hint", id: "shown", role: "status" });
  if (members.length) {
    const boxes = members.map((m) => h("label", { class: "col" },
      h("input", { type: "checkbox", value: m.ptr, checked: cols.includes(m.ptr), "data-col": m.ptr,
        onchange: (ev) => {
          cols = members.map((x) => x.ptr).filter((p) => p === ev.target.value ? ev.target.checked : cols.includes(p));
          localStorage.setItem(COLUMNS_KEY(f.definition), JSON.stringify(cols));
          drawTable();
        } }), m.title));
    view.append(h("details", { class: "columns", id: "columns" }, h("summary", { text: t("instancesColumns") }), h("div", { class: "cols" }, boxes)));
  }

  // ---- export
  const exportNote = h("span", { class: "hint", id: "export-note", role: "status" });
  const exportAs = async (format, button) => {
    button.disabled = true;
    exportNote.textContent = t("instancesExporting");
    try {
      const q = filterQuery(f);
      q.set("format", format);
      if (format === "csv" && cols.length) q.set("columns", cols.join(","));
      const res = await fetch(`/v1/instances/export?${q}`, { headers: { Authorization: `Bearer ${session.token}` },
        cache: "no-store", credentials: "omit" });
      if (!res.ok) {
        let p = null;
        try { p = await res.json(); } catch { p = null; }
        throw new ApiError(res.status, p);
      }
      const blob = await res.blob();
      const body = await blob.text();
      const rows = format === "csv" ? csvRecords(body) - 1 : JSON.parse(body).length;
      const url = URL.createObjectURL(blob);
      const name = (/filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "") || [])[1] || `instances.${format}`;
      const a = h("a", { href: url, download: name, class: "hidden" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      exportNote.textContent = fill(t("instancesExported"), { n: rows });
      exportNote.dataset.rows = String(rows);
    } catch (e) {
      exportNote.textContent = `${t("loadFailed")}: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  };
  const csvBtn = h("button", { type: "button", class: "small", id: "export-csv", text: "CSV", onclick: () => exportAs("csv", csvBtn) });
  const jsonBtn = h("button", { type: "button", class: "small", id: "export-json", text: "JSON", onclick: () => exportAs("json", jsonBtn) });
  view.append(h("div", { class: "toolbar" }, h("span", { text: `${t("instancesExport")}:` }), csvBtn, jsonBtn, exportNote));

  // ---- bulk actions (administrators: the server checks each instance)
  if (me?.roles?.includes("admin")) view.append(bulkPanel(f, byId));

  // ---- the list
  view.append(status, table);
  const items = [];
  let next = "";
  const more = h("button", { type: "button", class: "small", id: "more", text: t("instancesMore"), hidden: true });
  view.append(more);
  function drawTable() {
    const colDefs = cols.map((p) => members.find((m) => m.ptr === p)).filter(Boolean);
    const head = h("tr", {}, h("th", { text: t("businessKey") }), f.definition ? null : h("th", { text: t("instancesWorkflow") }),
      h("th", { text: t("instancesState") }), h("th", { text: t("instancesStatus") }), h("th", { text: t("instancesUnit") }),
      colDefs.map((c) => h("th", { text: c.title })), h("th", { text: t("instancesUpdated") }));
    const body = items.map((v) => h("tr", { "data-id": v.id },
      h("td", {}, h("a", { href: `#/instance/${v.id}`, text: v.businessKey || v.id })),
      f.definition ? null : h("td", { text: text(byId.get(v.definition)?.title, v.definition) }),
      h("td", { text: v.definition === f.definition ? stateTitle(full, v.state) : v.state }),
      h("td", { text: statusText(v.status) }), h("td", { text: v.unit || "—" }),
      colDefs.map((c) => h("td", { text: show(valueAt(v.data, c.ptr)) })),
      h("td", { text: when(v.updatedAt) })));
    clear(table).append(items.length
      ? h("table", { class: "data list-table", id: "list" }, h("thead", {}, head), h("tbody", {}, body))
      : h("p", { class: "notice", id: "none", text: t("instancesNone") }));
    status.textContent = fill(t("instancesShown"), { n: items.length });
  }
  async function load() {
    const q = filterQuery(f);
    q.set("limit", "50");
    if (next) q.set("cursor", next);
    const pageData = await api(`/v1/instances?${q}`);
    items.push(...pageData.items);
    next = pageData.nextCursor || "";
    more.hidden = !next;
    drawTable();
  }
  more.addEventListener("click", async () => {
    more.disabled = true;
    try { await load(); } catch (e) { view.append(failure(e)); } finally { more.disabled = false; }
  });
  try {
    await load();
  } catch (e) {
    const errs = e instanceof ApiError ? e.problem?.errors || [] : [];
    clear(table).append(failure(e), errs.map((x) => h("p", { class: "error", text: `${x.pointer}: ${x.detail}` })));
  }
}

// Dry run -> count and sample -> confirm -> batch -> progress until it ends.
function bulkPanel(f, byId) {
  const action = h("select", { id: "b-action" },
    h("option", { value: "cancel", text: t("instancesCancel") }),
    f.definition ? h("option", { value: "migrate", text: t("instancesMigrate") }) : null,
    h("option", { value: "retry", text: t("instancesRetry") }));
  const reason = h("input", { id: "b-reason", autocomplete: "off" });
  const versions = (byId.get(f.definition)?.versions || []).slice().sort((a, b) => b - a);
  const toVersion = h("select", { id: "b-version" }, versions.map((v) => h("option", { value: v, text: `v${v}` })));
  const versionField = h("div", { class: "field", hidden: true }, h("label", { for: "b-version", text: t("instancesToVersion") }), toVersion);
  const out = h("div", { class: "bulk-out", id: "b-out", role: "status" });
  const dry = h("button", { type: "button", class: "small", id: "b-dry", text: t("instancesDryRun") });
  const actionName = () => action.selectedOptions[0]?.textContent || action.value;
  const request = (dryRun) => {
    const body = { action: action.value, filter: filterBody(f), dryRun };
    if (reason.value.trim()) body.reason = reason.value.trim();
    if (action.value === "migrate") body.migrate = { toVersion: Number(toVersion.value) };
    return body;
  };
  action.addEventListener("change", () => { versionField.hidden = action.value !== "migrate"; clear(out); });
  dry.addEventListener("click", async () => {
    dry.disabled = true;
    clear(out);
    try {
      const body = request(true);
      const r = await api("/v1/batches", { method: "POST", body });
      const line = body.action === "retry" ? fill(t("instancesDryRetry"), { n: r.count })
        : fill(t("instancesDryCount"), { action: actionName(), n: r.count });
      out.append(h("p", { class: "count", id: "b-count", "data-count": r.count, text: line }));
      if (r.notAdministered) out.append(h("p", { class: "hint", text: fill(t("instancesNotAdmin"), { n: r.notAdministered }) }));
      if (r.sample?.length) {
        out.append(h("p", { class: "hint", text: t("instancesSample") }),
          h("ul", { class: "sample" }, r.sample.map((s) => {
            const v = s.instance || s;
            return h("li", {}, h("a", { href: `#/instance/${v.id}`, text: v.businessKey || v.id }));
          })));
      }
      if (!r.count) { out.append(h("p", { class: "hint", text: t("instancesNothing") })); return; }
      const go = h("button", { type: "button", class: "primary danger", id: "b-confirm",
        text: fill(t("instancesConfirm"), { action: actionName(), n: r.count }) });
      go.addEventListener("click", async () => {
        go.disabled = true;
        dry.disabled = true;
        try {
          const batch = await api("/v1/batches", { method: "POST", body: { ...body, dryRun: false } });
          clear(out).append(progress(batch));
        } catch (e) {
          out.append(failure(e));
          dry.disabled = false;
        }
      });
      out.append(go);
    } catch (e) {
      const errs = e instanceof ApiError ? e.problem?.errors || [] : [];
      out.append(failure(e), errs.map((x) => h("p", { class: "error", text: `${x.pointer}: ${x.detail}` })));
    } finally {
      if (!out.querySelector("#b-confirm:disabled")) dry.disabled = false;
    }
  });
  return h("details", { class: "bulk card", id: "bulk" }, h("summary", { text: t("instancesBulk") }),
    h("div", { class: "grid" },
      h("div", { class: "field" }, h("label", { for: "b-action", text: t("instancesAction") }), action),
      h("div", { class: "field" }, h("label", { for: "b-reason", text: t("instancesReason") }), reason),
      versionField),
    h("div", { class: "actions" }, dry), out);
}

const BATCH_STATE = { counting: "instancesCounting", running: "instancesRunningBatch", completed: "instancesCompletedBatch",
  cancelled: "instancesCancelledBatch", failed: "instancesFailedBatch" };

// A batch's progress, polled until it has ended.
function progress(batch) {
  const bar = h("progress", { id: "b-progress", max: 1, value: 0 });
  const facts = h("dl", { class: "facts", id: "b-facts" });
  const stop = h("button", { type: "button", class: "small", id: "b-stop", text: t("instancesStop") });
  const box = h("div", { class: "batch", "data-batch": batch.id }, h("h3", { text: t("instancesProgress") }), bar, facts, stop);
  const draw = (b) => {
    bar.max = Math.max(b.total, 1);
    bar.value = b.done;
    const failed = Object.entries(b.failed || {});
    clear(facts).append(
      h("dt", { text: t("instancesBatchState") }), h("dd", { id: "b-state", "data-state": b.state, text: t(BATCH_STATE[b.state] || b.state) }),
      h("dt", { text: t("instancesDone") }), h("dd", { id: "b-done", text: `${b.done} / ${b.total}` }),
      h("dt", { text: t("instancesOk") }), h("dd", { id: "b-ok", text: String(b.succeeded) }),
      h("dt", { text: t("instancesFailed") }), h("dd", { id: "b-failed",
        text: failed.length ? failed.map(([c, n]) => `${c}: ${n}`).join(", ") : "0" }),
      ...(b.skipped ? [h("dt", { text: t("instancesSkipped") }), h("dd", { text: String(b.skipped) })] : []));
    const ended = !["counting", "running"].includes(b.state);
    stop.hidden = ended;
    if (ended && !box.querySelector("#b-refresh"))
      box.append(h("button", { type: "button", class: "small", id: "b-refresh", text: t("instancesRefresh"),
        onclick: () => window.dispatchEvent(new HashChangeEvent("hashchange")) }));
    return ended;
  };
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try { draw(await api(`/v1/batches/${batch.id}/cancel`, { method: "POST" })); } catch { stop.disabled = false; }
  });
  const poll = async () => {
    if (!box.isConnected && box.dataset.started) return;  // the page was left
    box.dataset.started = "1";
    let b = batch;
    try { b = await api(`/v1/batches/${batch.id}`); } catch { /* try again */ }
    if (!draw(b)) setTimeout(poll, 400);
  };
  draw(batch);
  setTimeout(poll, 200);
  return box;
}
