// The instance page (#/instance/<id>, or #/instance/<id>@<time> for the instance as it was
// then): state, the workflow's graph with the current state and the path taken, the events
// the caller may send as forms, data, pending timers and deadlines, parent and children,
// the hash-chain check, and the history as a timeline paged back 200 entries at a time.
import { api, ApiError, definition } from "./api.js";
import { h, show } from "./dom.js";
import { addStrings, t, text, when } from "./i18n.js";
import { eventForm } from "./schema-form.js";
import { eventTitle, failure, newKey, overdue, stateTitle, statusText } from "./common.js";
import { drawGraph, graphLayout } from "./graph.js";
import { addressesIn, evidenceList } from "./evidence.js";

addStrings({
  zh: {
    instGraph: "流程图", instGraphFailed: "流程图无法显示", instAsOf: "历史视图",
    instAsOfNote: "这是案件在 {t} 时的样子（第 {n} 步之后）。", instNow: "回到当前",
    instAsOfPick: "查看某一时刻", instAsOfGo: "查看", instAsOfStep: "查看这一步之后",
    instLater: "此后", instTimers: "计时器和期限", instNoTimers: "没有等待中的计时器或期限。",
    instTimerDeadline: "期限", instTimerTimer: "计时器", instTimerEvery: "每隔 {d}",
    instTimerFires: "触发 {e}", instTimerMoves: "转到 {s}", instFamily: "上级和下级案件",
    instParent: "上级案件", instParentHidden: "{id}（您无权查看）", instChildren: "下级案件",
    instNoChildren: "没有您可查看的下级案件。", instNoParent: "没有上级案件。",
    instChain: "哈希链核验", instChainOk: "记录完整：{n} 条记录的哈希链逐条核对无误。",
    instChainBroken: "记录被改动：哈希链从第 {s} 步起断裂。", instOlder: "更早的记录",
    instPastNoActions: "历史视图中不能办理事项。", instOfSteps: "共 {n} 步，已显示 {m} 步。",
    instTimerState: "所在状态", instTimer_remind: "期限提醒", instTimer_overdue: "逾期处理",
    instTimer_escalate: "逾期升级", instMoreChildren: "更多下级案件",
  },
  en: {
    instGraph: "Graph", instGraphFailed: "The graph cannot be shown", instAsOf: "Past view",
    instAsOfNote: "The case as it was at {t} (after step {n}).", instNow: "Back to now",
    instAsOfPick: "View a past moment", instAsOfGo: "View", instAsOfStep: "View after this step",
    instLater: "later", instTimers: "Timers and deadlines", instNoTimers: "No pending timers or deadlines.",
    instTimerDeadline: "Deadline", instTimerTimer: "Timer", instTimerEvery: "every {d}",
    instTimerFires: "fires {e}", instTimerMoves: "moves to {s}", instFamily: "Parent and children",
    instParent: "Parent", instParentHidden: "{id} (you may not see it)", instChildren: "Children",
    instNoChildren: "No children you may see.", instNoParent: "No parent.",
    instChain: "Hash-chain check", instChainOk: "Intact: the hash chain of {n} entries checks out entry by entry.",
    instChainBroken: "Altered: the hash chain is broken from step {s} on.", instOlder: "Older entries",
    instPastNoActions: "Nothing can be done in a past view.", instOfSteps: "{n} steps, {m} shown.",
    instTimerState: "State", instTimer_remind: "Deadline reminder", instTimer_overdue: "Overdue handling",
    instTimer_escalate: "Escalation", instMoreChildren: "More children",
  },
});

const fill = (s, vars) => s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
const enc = encodeURIComponent;

// A data value by the dataSchema: enum values by their x-enumTitles, date-times local.
function valueText(prop, v) {
  if (prop?.format === "date-time" && typeof v === "string") return when(v);
  const titles = prop?.["x-enumTitles"];
  if (Array.isArray(prop?.enum) && titles) {
    const i = prop.enum.findIndex((x) => x === v);
    const title = Array.isArray(titles) ? titles[i] : titles[String(v)];
    if (i >= 0 && title != null) return text(title, show(v));
  }
  const one = Array.isArray(prop?.oneOf) && prop.oneOf.find((o) => o && o.const === v && o.title != null);
  if (one) return text(one.title, show(v));
  return show(v);
}

// The data as a table; member names from the dataSchema's x-title / title when given;
// attachment addresses as the files' thumbnails.
function dataTable(data, schema, id) {
  const rows = Object.entries(data && typeof data === "object" ? data : {});
  const props = schema?.properties || {};
  const name = (k) => text(props[k]?.["x-title"] ?? props[k]?.title, k);
  return h("table", { class: "data" },
    h("thead", {}, h("tr", {}, h("th", { text: t("field") }), h("th", { text: t("value") }))),
    h("tbody", {}, rows.map(([k, v]) => {
      const files = addressesIn(v);
      return h("tr", { "data-member": k }, h("th", { text: name(k) }), files.length ? h("td", {}, evidenceList(id, files))
        : h("td", { text: valueText(props[k], v), title: typeof v === "string" && valueText(props[k], v) !== v ? v : null }));
    })));
}

// A change's pointer by the dataSchema's titles where it names a top-level member.
function memberName(schema, pointer) {
  const m = /^\/([^/]+)$/.exec(pointer);
  const p = m && schema?.properties?.[m[1].replace(/~1/g, "/").replace(/~0/g, "~")];
  return p ? text(p["x-title"] ?? p.title, pointer) : pointer;
}
function memberProp(schema, pointer) {
  const m = /^\/([^/]+)$/.exec(pointer);
  return m ? schema?.properties?.[m[1].replace(/~1/g, "/").replace(/~0/g, "~")] : null;
}

// A change's new value: files by their count (the tiles below show them), else as data.
function changeText(schema, pointer, v) {
  const n = addressesIn(v).length;
  return n ? `${t("evFiles")} ×${n}` : valueText(memberProp(schema, pointer), v);
}

// Timeline entries, newest first; `asOf` (a step number) marks the later ones.
function steps(def, entries, id, asOfSeq) {
  const schema = def?.source?.dataSchema;
  return [...entries].reverse().map((e) => {
    const what = e.kind === "start" ? t("start") : e.event ? eventTitle(def, e.from, e.event) : e.kind;
    const changes = Array.isArray(e.changes) && e.kind !== "start" ? e.changes : [];
    const later = asOfSeq != null && e.seq > asOfSeq;
    const files = addressesIn([e.payload, changes.map((c) => c[1])]);
    return h("li", { class: `step${later ? " later" : ""}${asOfSeq === e.seq ? " shown" : ""}`, "data-seq": e.seq },
      h("div", { class: "when" }, when(e.at), " · #", String(e.seq), later ? h("span", { class: "badge", text: t("instLater") }) : null),
      h("div", { class: "what" }, h("b", { text: what }), " · ", `${t("by")} ${e.actor}`),
      e.from || e.to ? h("div", { class: "move", text: `${e.from ? stateTitle(def, e.from) : "∅"} → ${stateTitle(def, e.to)}` }) : null,
      changes.length ? h("ul", { class: "changes" }, changes.map(([p, v]) => h("li", {}, h("code", { text: memberName(schema, p), title: p }), " = ",
        changeText(schema, p, v)))) : null,
      files.length ? h("div", { class: "files" }, h("span", { class: "hint", text: t("evFiles") }), evidenceList(id, files)) : null,
      h("a", { class: "asof-link", href: `#/instance/${enc(id)}@${enc(e.at)}`, "data-asof": e.seq, text: t("instAsOfStep") }));
  });
}

// The history: the newest 200 entries, and older pages on request (cursors).
function timeline(def, first, id, asOfSeq, onMore) {
  const list = h("ol", { class: "timeline", id: "timeline" }, steps(def, first.items, id, asOfSeq));
  const box = h("div", {}, list);
  let cursor = first.nextCursor;
  const more = h("button", { type: "button", class: "small", id: "older", text: t("instOlder"),
    onclick: async () => {
      more.disabled = true;
      try {
        const page = await api(`/v1/instances/${enc(id)}/history?limit=200&cursor=${enc(cursor)}`);
        list.append(...steps(def, page.items, id, asOfSeq));
        onMore(page.items);
        cursor = page.nextCursor;
        if (!cursor) more.remove();
      } catch (e) { box.append(failure(e)); } finally { more.disabled = false; }
    } });
  if (cursor) box.append(more);
  return box;
}

function timersList(def, timers) {
  if (!timers.items.length) return h("p", { class: "hint", id: "timers-none", text: t("instNoTimers") });
  return h("ul", { class: "timers", id: "timers" }, timers.items.map((tm) => {
    const late = overdue(tm.due);
    // Deadline expansions by what they are: deadline.remind.N, deadline.overdue, deadline.escalate.N.
    const part = /^deadline\.(remind|overdue|escalate)\b/.exec(tm.name)?.[1];
    const what = [tm.kind === "deadline" ? t("instTimerDeadline")
      : part ? t(`instTimer_${part}`) : `${t("instTimerTimer")} ${tm.name}`];
    if (tm.event) what.push(fill(t("instTimerFires"), { e: eventTitle(def, tm.state, tm.event) }));
    if (tm.target) what.push(fill(t("instTimerMoves"), { s: stateTitle(def, tm.target) }));
    if (tm.every) what.push(fill(t("instTimerEvery"), { d: tm.every }));
    return h("li", { class: `timer ${tm.kind}${late ? " late" : ""}`, "data-kind": tm.kind, "data-name": tm.name },
      h("span", { class: "due" }, when(tm.due), late ? h("b", { class: "badge late", text: t("overdue") }) : null),
      h("span", { class: "what", text: what.join(" · ") }),
      h("span", { class: "in", text: `${t("instTimerState")}: ${stateTitle(def, tm.state)}` }));
  }));
}

async function instanceLink(v) {
  const d = await definition(v.definition, v.definitionVersion).catch(() => null);
  return h("a", { href: `#/instance/${enc(v.id)}`, "data-instance": v.id },
    `${text(d?.title, v.definition)} · ${v.businessKey || v.id}`, h("span", { class: "st", text: ` — ${stateTitle(d, v.state)}` }));
}

async function family(inst) {
  const sec = h("section", { id: "family" }, h("h2", { text: t("instFamily") }));
  const dl = h("dl", { class: "facts" });
  sec.append(dl);
  dl.append(h("dt", { text: t("instParent") }));
  if (!inst.parent) dl.append(h("dd", { id: "parent", class: "none", text: t("instNoParent") }));
  else {
    try {
      const p = await api(`/v1/instances/${enc(inst.parent)}`);
      dl.append(h("dd", { id: "parent" }, await instanceLink(p)));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
      dl.append(h("dd", { id: "parent", class: "hidden-parent", text: fill(t("instParentHidden"), { id: inst.parent }) }));
    }
  }
  // The children 100 at a time; "more" follows the route's cursor.
  dl.append(h("dt", { text: t("instChildren") }));
  const dd = h("dd", { id: "children" });
  const list = h("ul", { class: "children" });
  dl.append(dd);
  const page = async (cursor) => {
    const kids = await api(`/v1/instances/${enc(inst.id)}/children?limit=100${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    list.append(...await Promise.all(kids.items.map(async (v) => h("li", {}, await instanceLink(v)))));
    if (!cursor) dd.append(kids.items.length ? list : h("span", { class: "none", text: t("instNoChildren") }));
    if (kids.nextCursor) {
      const more = h("button", { type: "button", class: "small", id: "children-more", text: t("instMoreChildren"),
        onclick: async () => {
          more.disabled = true;
          try { await page(kids.nextCursor); more.remove(); } catch (e) { more.disabled = false; dd.append(failure(e)); }
        } });
      dd.append(more);
    }
  };
  await page("");
  return sec;
}

function chainCheck(v) {
  return h("section", { id: "chain" }, h("h2", { text: t("instChain") }),
    h("p", { class: `notice ${v.ok ? "ok" : "bad"}`, id: "chain-result", "data-ok": String(v.ok), "data-entries": v.entries,
      text: v.ok ? fill(t("instChainOk"), { n: v.entries }) : fill(t("instChainBroken"), { s: v.firstBroken ?? "?" }) }),
    !v.ok && v.problems?.length ? h("ul", { class: "changes" }, v.problems.map((p) => h("li", { text: p }))) : null);
}

// The as-of picker: a local date-time, sent as ISO with the browser's offset.
function asOfPicker(id, asOf) {
  const input = h("input", { type: "datetime-local", id: "asof-input", step: "1" });
  if (asOf) {
    const d = new Date(asOf);
    if (!Number.isNaN(d.getTime())) input.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  }
  return h("form", { class: "asof-pick", onsubmit: (ev) => {
    ev.preventDefault();
    const d = new Date(input.value);
    if (!Number.isNaN(d.getTime())) location.hash = `#/instance/${enc(id)}@${enc(d.toISOString())}`;
  } }, h("label", { for: "asof-input", text: t("instAsOfPick") }), input,
  h("button", { type: "submit", class: "small", text: t("instAsOfGo") }));
}

export async function instancePage(main, arg, rerender) {
  const at = arg.indexOf("@");
  const id = at < 0 ? arg : arg.slice(0, at);
  const asOf = at < 0 ? "" : arg.slice(at + 1);
  const back = h("a", { href: "#/inbox", class: "back", text: `← ${t("back")}` });
  let inst, events, hist, def, timers, chain;
  try {
    [inst, events, hist, timers, chain] = await Promise.all([
      api(`/v1/instances/${enc(id)}${asOf ? `?asOf=${enc(asOf)}` : ""}`),
      asOf ? { items: [] } : api(`/v1/instances/${enc(id)}/events`),
      api(`/v1/instances/${enc(id)}/history?limit=200`),
      api(`/v1/instances/${enc(id)}/timers`),
      api(`/v1/instances/${enc(id)}/verify`),
    ]);
    def = await definition(inst.definition, inst.definitionVersion).catch(() => null);
  } catch (e) { main.append(back, failure(e)); return; }
  const past = !!asOf;
  const late = !past && inst.status === "running" && overdue(inst.deadline);
  main.append(back,
    h("h1", {}, text(def?.title, inst.definition), " ", h("small", { text: inst.businessKey || inst.id })));
  if (past) {
    main.classList.add("past");
    main.append(h("div", { class: "notice past-banner", id: "asof-banner", role: "status", "data-seq": inst.version },
      h("b", { text: `${t("instAsOf")} · ` }), fill(t("instAsOfNote"), { t: when(asOf), n: inst.version }), " ",
      h("a", { href: `#/instance/${enc(id)}`, id: "asof-now", text: t("instNow") })));
  }
  main.append(h("dl", { class: "facts" },
    h("dt", { text: t("state") }), h("dd", { id: "state", "data-state": inst.state, text: stateTitle(def, inst.state) }),
    h("dt", { text: t("status") }), h("dd", { text: statusText(inst.status) }),
    past ? null : h("dt", { text: t("deadline") }),
    past ? null : h("dd", {}, inst.deadline ? when(inst.deadline) : "—", late ? h("b", { class: "badge late", text: t("overdue") }) : null)));

  const acts = h("section", { class: "actions", id: "actions" }, h("h2", { text: t("actions") }));
  if (past) acts.append(h("p", { class: "notice", text: t("instPastNoActions") }));
  else if (!events.items.length) acts.append(h("p", { class: "notice", text: t("noActions") }));
  for (const ev of events.items) {
    // One key per submission: kept when the request got no answer (a retry is then
    // answered once), renewed after any answer.
    let key = newKey();
    const form = eventForm(ev, async (payload) => {
      let res;
      try {
        res = await api(`/v1/instances/${enc(id)}/events`, {
          method: "POST", body: { event: ev.name, payload },
          headers: { "Idempotency-Key": key, "If-Match": `"${inst.version}"` },
        });
      } catch (e) {
        if (e instanceof ApiError) key = newKey();
        throw e;
      }
      rerender(res);
    });
    const open = events.items.length === 1;
    acts.append(h("details", { class: "event", open, "data-event": ev.name },
      h("summary", { text: text(ev.title, ev.name) }),
      ev.actorsRule ? h("p", { class: "hint", text: t("actorsRule") }) : null, form));
  }

  // The graph: the path is the loaded entries up to the moment shown.
  const loaded = [...hist.items];
  const graphSec = h("section", { id: "graph" }, h("h2", { text: t("instGraph") }));
  const drawn = h("div", {});
  graphSec.append(drawn);
  const redraw = async () => {
    try {
      const layout = await graphLayout(inst.definition, inst.definitionVersion);
      const path = loaded.filter((e) => e.seq <= inst.version).sort((a, b) => a.seq - b.seq);
      drawn.replaceChildren(drawGraph(layout, { current: inst.state, path, label: `${t("instGraph")}: ${text(def?.title, inst.definition)}` }));
    } catch (e) {
      drawn.replaceChildren(h("p", { class: "notice bad", text: `${t("instGraphFailed")}: ${e.message}` }));
    }
  };

  const histSec = h("section", { id: "history" }, h("h2", { text: t("history") }),
    hist.nextCursor ? h("p", { class: "hint", text: fill(t("instOfSteps"), { n: hist.items.at(-1)?.seq ?? 0, m: hist.items.length }) }) : null,
    asOfPicker(id, asOf),
    timeline(def, hist, id, past ? inst.version : null, (older) => { loaded.push(...older); redraw(); }));

  main.append(acts, graphSec,
    h("section", { id: "data" }, h("h2", { text: t("data") }), dataTable(inst.data, def?.source?.dataSchema, id)));
  if (!past) main.append(h("section", { id: "pending" }, h("h2", { text: t("instTimers") }), timersList(def, timers)));
  main.append(await family(inst).catch((e) => failure(e)), chainCheck(chain), histSec);
  await redraw();
  document.title = `${text(def?.title, inst.definition)} · ${t("app")}`;
}
