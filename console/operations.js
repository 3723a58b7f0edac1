// The operations page (docs/console.md, "Operations"), for global administrators: the
// main metrics (from /metrics, refreshed while the page is open), migration plans (a dry
// run over every page, then the real run), dead letters with retry, the outbox, backup
// and the store check. Route: #/operations. Every action is the server's to allow: the
// page only hides itself from others.
import { ApiError, api, session } from "./api.js";
import { clear, h } from "./dom.js";
import { addStrings, t, text, when } from "./i18n.js";
import { failure } from "./common.js";

addStrings({
  zh: {
    opsTitle: "运维", opsAdminOnly: "只有全局管理员可以使用运维页。",
    opsMetrics: "主要指标", opsStepsRate: "步骤/秒", opsCommitP50: "提交延迟 p50", opsCommitP95: "提交延迟 p95",
    opsCommitsRate: "提交/秒", opsBatch: "每次提交的请求", opsOutboxDepth: "发件箱积压", opsDead: "死信",
    opsTimers: "待触发定时器", opsTimerLag: "定时器延迟 p95", opsMap: "存储映射大小", opsInstances: "案件总数",
    opsStorageFail: "存储失败", opsFailed: "引擎已停止（存储故障）", opsMetricsAt: "更新于",
    opsMetricsNote: "速率按两次采样之差计算（每 5 秒一次）；延迟为启动以来的分位数。",
    opsMigrate: "迁移计划", opsMigrateHelp: "把某流程的办理中案件迁移到另一版本：先试运行看数量，再正式迁移。",
    opsWorkflow: "流程", opsFromVersion: "从版本", opsToVersion: "到版本", opsAnyVersion: "任意版本",
    opsState: "只迁移此状态（可选）", opsStatesMap: "状态映射（可选，JSON：{\"旧\": \"新\"}）",
    opsReason: "原因", opsDryRun: "试运行", opsRun: "正式迁移", opsRunning: "进行中…",
    opsExamined: "已检查", opsMigrated: "已迁移", opsWouldMigrate: "将迁移", opsSkipped: "跳过", opsRefused: "被拒绝",
    opsDryFirst: "请先对同一计划试运行。", opsConfirm: "确定迁移 {n} 个案件？", opsPages: "页",
    opsBadMap: "状态映射须是 JSON 对象。", opsDeadLetters: "死信", opsOutbox: "发件箱",
    opsInstance: "案件", opsAttempts: "尝试",
    opsNext: "下次尝试", opsLastError: "最后错误", opsCreated: "创建", opsRetry: "重试", opsRetried: "已重新排队",
    opsNoDead: "没有死信。", opsNoOutbox: "发件箱为空。", opsMore: "更多", opsReload: "刷新",
    opsBackup: "备份", opsBackupHelp: "在线压缩复制到备份根目录下的一个新目录。", opsBackupDir: "目录名",
    opsBackupRun: "开始备份", opsBackupDone: "备份完成：",
    opsVerify: "存储校验", opsVerifyHelp: "遍历每一页，检查记录、历史哈希链和索引；数据多时需要较长时间。",
    opsVerifyRun: "开始校验", opsVerifyOk: "校验通过。", opsVerifyBad: "发现问题：", opsElapsed: "已用 {s} 秒",
    opsPagesN: "页", opsInstancesN: "案件", opsEntriesN: "历史条目", opsIndexN: "索引条目", opsDeadState: "死信",
  },
  en: {
    opsTitle: "Operations", opsAdminOnly: "Only global administrators may use the operations page.",
    opsMetrics: "Main metrics", opsStepsRate: "Steps/s", opsCommitP50: "Commit latency p50", opsCommitP95: "Commit latency p95",
    opsCommitsRate: "Commits/s", opsBatch: "Requests per commit", opsOutboxDepth: "Outbox depth", opsDead: "Dead letters",
    opsTimers: "Pending timers", opsTimerLag: "Timer lag p95", opsMap: "Storage map size", opsInstances: "Instances",
    opsStorageFail: "Storage failures", opsFailed: "Engine stopped (storage failure)", opsMetricsAt: "Updated",
    opsMetricsNote: "Rates are the difference of two samples (every 5 s); latencies are quantiles since start.",
    opsMigrate: "Migration plan", opsMigrateHelp: "Move a workflow's running instances to another version: a dry run for the count first, then the real run.",
    opsWorkflow: "Workflow", opsFromVersion: "From version", opsToVersion: "To version", opsAnyVersion: "any version",
    opsState: "Only this state (optional)", opsStatesMap: "State map (optional, JSON: {\"old\": \"new\"})",
    opsReason: "Reason", opsDryRun: "Dry run", opsRun: "Migrate", opsRunning: "Running…",
    opsExamined: "Examined", opsMigrated: "Migrated", opsWouldMigrate: "Would migrate", opsSkipped: "Skipped", opsRefused: "Refused",
    opsDryFirst: "Dry-run the same plan first.", opsConfirm: "Migrate {n} instance(s)?", opsPages: "pages",
    opsBadMap: "The state map must be a JSON object.", opsDeadLetters: "Dead letters", opsOutbox: "Outbox",
    opsInstance: "Instance", opsAttempts: "Attempts",
    opsNext: "Next attempt", opsLastError: "Last error", opsCreated: "Created", opsRetry: "Retry", opsRetried: "Queued again",
    opsNoDead: "No dead letters.", opsNoOutbox: "The outbox is empty.", opsMore: "More", opsReload: "Reload",
    opsBackup: "Backup", opsBackupHelp: "A compacted online copy into a new directory under the backup root.", opsBackupDir: "Directory name",
    opsBackupRun: "Back up", opsBackupDone: "Backup written: ",
    opsVerify: "Store check", opsVerifyHelp: "Walks every page and checks records, history chains and indexes; takes a while on a big store.",
    opsVerifyRun: "Check the store", opsVerifyOk: "The store is sound.", opsVerifyBad: "Problems found: ", opsElapsed: "{s} s so far",
    opsPagesN: "pages", opsInstancesN: "instances", opsEntriesN: "history entries", opsIndexN: "index entries", opsDeadState: "dead",
  },
});

const globalAdmin = (me) => !!me?.roles?.includes("admin") && !me?.attrs?.unit;
const fmt = (s, vars) => Object.entries(vars).reduce((x, [k, v]) => x.replace(`{${k}}`, v), s);

export async function page(view, arg, me) {
  view.append(h("h1", { text: t("opsTitle") }));
  if (!globalAdmin(me)) { view.append(h("p", { class: "notice bad", id: "ops-admin-only", text: t("opsAdminOnly") })); return; }
  const sections = [metricsSection(view), migrationSection(view), lettersSection(view, true),
    lettersSection(view, false), backupSection(), verifySection(view)];
  for (const s of sections) view.append(s);
}

const section = (id, title, ...body) => h("section", { class: "ops card", id }, h("h2", { text: title }), ...body);
const busy = (button, on, label) => { button.disabled = on; if (label) button.textContent = label; };
const errorBox = (e) => h("p", { class: "notice bad", text: e instanceof ApiError
  ? `${e.status} ${e.problem.code || ""}: ${e.message}` : e.message });

// ---- metrics ----

// Prometheus text → Map name -> [{labels: {..}, value}].
export function parseMetrics(textBody) {
  const out = new Map();
  for (const line of textBody.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    if (!out.has(m[1])) out.set(m[1], []);
    out.get(m[1]).push({ labels, value: Number(m[4]) });
  }
  return out;
}
const scalarOf = (ms, name) => ms.get(name)?.[0]?.value;
// A quantile of a cumulative histogram: the upper bound of the first bucket reaching it.
function quantile(ms, name, q) {
  const buckets = (ms.get(`${name}_bucket`) || []).map((b) => ({ le: Number(b.labels.le === "+Inf" ? Infinity : b.labels.le), n: b.value }))
    .sort((x, y) => x.le - y.le);
  const total = buckets.length ? buckets[buckets.length - 1].n : 0;
  if (!total) return null;
  return buckets.find((b) => b.n >= q * total)?.le ?? null;
}
const seconds = (s) => s == null ? "—" : s === Infinity ? "> max" : s < 1 ? `≤ ${+(s * 1000).toPrecision(3)} ms` : `≤ ${+s.toPrecision(3)} s`;
const bytes = (n) => n == null ? "—" : n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
const count = (n) => n == null ? "—" : Number.isInteger(n) ? String(n) : n.toFixed(1);

async function metricsText() {
  const res = await fetch("/metrics", { headers: { Authorization: `Bearer ${session.token}` }, cache: "no-store", credentials: "omit" });
  if (!res.ok) throw new ApiError(res.status, { detail: `/metrics ${res.status}` });
  return res.text();
}

function metricsSection(view) {
  const grid = h("dl", { class: "ops-figures", id: "ops-metrics" });
  const stamp = h("p", { class: "hint", id: "ops-metrics-at" });
  const box = section("ops-metrics-section", t("opsMetrics"), grid, stamp, h("p", { class: "hint", text: t("opsMetricsNote") }));
  let last = null;
  let samples = 0;
  const tick = async () => {
    if (!box.isConnected && last) return;  // the page was left: stop
    try {
      const [raw, dead] = await Promise.all([metricsText(),
        api("/v1/dead-letters?limit=1000").catch(() => null)]);
      const ms = parseMetrics(raw);
      const now = { at: performance.now(), steps: scalarOf(ms, "bihuan_steps_total"), commits: scalarOf(ms, "bihuan_commits_total") };
      const rate = (k) => last && now.at > last.at ? (now[k] - last[k]) / ((now.at - last.at) / 1000) : null;
      const batchN = scalarOf(ms, "bihuan_group_commit_batch_size_count");
      const batchSum = scalarOf(ms, "bihuan_group_commit_batch_size_sum");
      const figures = [
        ["steps-rate", t("opsStepsRate"), count(rate("steps"))],
        ["commit-p50", t("opsCommitP50"), seconds(quantile(ms, "bihuan_step_latency_seconds", 0.5))],
        ["commit-p95", t("opsCommitP95"), seconds(quantile(ms, "bihuan_step_latency_seconds", 0.95))],
        ["commits-rate", t("opsCommitsRate"), count(rate("commits"))],
        ["batch", t("opsBatch"), batchN ? (batchSum / batchN).toFixed(1) : "—"],
        ["outbox", t("opsOutboxDepth"), count(scalarOf(ms, "bihuan_outbox_depth"))],
        ["dead", t("opsDead"), dead ? `${dead.items.length}${dead.nextAfter ? "+" : ""}` : "—"],
        ["timers", t("opsTimers"), count(scalarOf(ms, "bihuan_pending_timers"))],
        ["timer-lag", t("opsTimerLag"), seconds(quantile(ms, "bihuan_timer_lag_seconds", 0.95))],
        ["map", t("opsMap"), bytes(scalarOf(ms, "bihuan_storage_map_bytes"))],
        ["instances", t("opsInstances"), count(scalarOf(ms, "bihuan_instances"))],
        ["storage-failures", t("opsStorageFail"), count(scalarOf(ms, "bihuan_storage_failures_total"))],
      ];
      clear(grid).append(...figures.map(([key, label, value]) => h("div", { class: "fig", "data-metric": key },
        h("dt", { text: label }), h("dd", { text: value }))));
      if (scalarOf(ms, "bihuan_engine_failed") === 1) grid.prepend(h("p", { class: "notice bad", text: t("opsFailed") }));
      stamp.textContent = `${t("opsMetricsAt")} ${new Date().toLocaleTimeString()}`;
      last = now;
      samples++;
    } catch (e) {
      clear(grid).append(errorBox(e));
    }
    if (view.isConnected) setTimeout(tick, samples > 1 ? 5000 : 1000);  // the first rate soon
  };
  tick();
  return box;
}

// ---- migration plans ----

function migrationSection() {
  const wf = h("select", { id: "ops-mig-wf" });
  const from = h("select", { id: "ops-mig-from" });
  const to = h("select", { id: "ops-mig-to" });
  const state = h("input", { id: "ops-mig-state", autocomplete: "off" });
  const map = h("input", { id: "ops-mig-map", autocomplete: "off", placeholder: "{\"OLD\": \"NEW\"}" });
  const reason = h("input", { id: "ops-mig-reason", autocomplete: "off" });
  const dry = h("button", { type: "button", class: "small", id: "ops-mig-dry", text: t("opsDryRun") });
  const real = h("button", { type: "button", class: "primary", id: "ops-mig-run", text: t("opsRun"), disabled: true });
  const out = h("div", { id: "ops-mig-result", role: "status" });
  const field = (label, input) => h("label", { class: "ops-field" }, h("span", { text: label }), input);
  const box = section("ops-migrate", t("opsMigrate"), h("p", { class: "hint", text: t("opsMigrateHelp") }),
    h("div", { class: "ops-form" }, field(t("opsWorkflow"), wf), field(t("opsFromVersion"), from),
      field(t("opsToVersion"), to), field(t("opsState"), state), field(t("opsStatesMap"), map),
      field(t("opsReason"), reason)),
    h("p", { class: "ops-buttons" }, dry, " ", real), out);
  let byId = new Map();
  let dryFor = null;  // the plan the last dry run was for (JSON), and its count
  let dryCount = 0;
  const fill = () => {
    const list = byId.get(wf.value) || [];
    clear(from).append(h("option", { value: "", text: t("opsAnyVersion") }),
      ...list.map((d) => h("option", { value: d.version, text: `v${d.version}` })));
    clear(to).append(...[...list].reverse().map((d) => h("option", { value: d.version, text: `v${d.version}` })));
    if (list.length > 1) from.value = String(list[list.length - 2].version);
    invalidate();
  };
  const invalidate = () => { dryFor = null; real.disabled = true; };
  wf.addEventListener("change", fill);
  for (const x of [from, to, state, map, reason]) x.addEventListener("input", invalidate);
  for (const x of [from, to]) x.addEventListener("change", invalidate);
  api("/v1/definitions").then((res) => {
    byId = new Map();
    for (const d of res.items || []) {
      if (!byId.has(d.id)) byId.set(d.id, []);
      byId.get(d.id).push(d);
    }
    for (const l of byId.values()) l.sort((x, y) => x.version - y.version);
    clear(wf).append(...[...byId].map(([id, l]) => h("option", { value: id, text: `${text(l[l.length - 1].title, id)} (${id})` })));
    fill();
  }).catch((e) => out.append(errorBox(e)));

  const plan = () => {
    const p = { definition: wf.value, toVersion: Number(to.value) };
    if (from.value) p.fromVersion = Number(from.value);
    if (state.value.trim()) p.state = state.value.trim();
    if (map.value.trim()) {
      let m;
      try { m = JSON.parse(map.value); } catch { m = null; }
      if (!m || typeof m !== "object" || Array.isArray(m)) throw new Error(t("opsBadMap"));
      p.states = m;
    }
    if (reason.value.trim()) p.reason = reason.value.trim();
    return p;
  };
  // Every page of the plan, summed; `progress` after each.
  const runAll = async (p, dryRun, progress) => {
    const sum = { examined: 0, migrated: 0, skipped: 0, refusedBy: {}, refused: [], pages: 0 };
    let cursor;
    do {
      const res = await api("/v1/migrations", { method: "POST", body: { ...p, dryRun, limit: 200, ...(cursor ? { cursor } : {}) } });
      sum.examined += res.examined; sum.migrated += res.migrated; sum.skipped += res.skipped; sum.pages++;
      for (const [k, n] of Object.entries(res.refusedBy || {})) sum.refusedBy[k] = (sum.refusedBy[k] || 0) + n;
      if (sum.refused.length < 50) sum.refused.push(...(res.refused || []).slice(0, 50 - sum.refused.length));
      cursor = res.nextCursor;
      progress(sum);
    } while (cursor);
    return sum;
  };
  const report = (sum, dryRun, done) => {
    const refused = Object.values(sum.refusedBy).reduce((a, b) => a + b, 0);
    clear(out).append(...[h("dl", { class: "ops-figures", id: "ops-mig-counts", "data-dry-run": String(dryRun), "data-done": String(done) },
      [["examined", t("opsExamined"), sum.examined], ["migrated", dryRun ? t("opsWouldMigrate") : t("opsMigrated"), sum.migrated],
        ["skipped", t("opsSkipped"), sum.skipped], ["refused", t("opsRefused"), refused]].map(([k, label, n]) =>
        h("div", { class: "fig", "data-count": k }, h("dt", { text: label }), h("dd", { text: String(n) })))),
    done ? null : h("p", { class: "hint", text: `${t("opsRunning")} ${sum.pages} ${t("opsPages")}` }),
    Object.keys(sum.refusedBy).length ? h("ul", { class: "ops-refused" }, Object.entries(sum.refusedBy).map(([code, n]) =>
      h("li", {}, h("code", { text: code }), ` × ${n}`)),
    sum.refused.map((r) => h("li", {}, h("a", { href: `#/instance/${encodeURIComponent(r.id)}`, text: r.id }), ` ${r.code}: ${r.message}`))) : null,
    ].filter(Boolean));
  };
  dry.addEventListener("click", async () => {
    let p;
    try { p = plan(); } catch (e) { clear(out).append(errorBox(e)); return; }
    busy(dry, true, t("opsRunning"));
    real.disabled = true;
    try {
      const sum = await runAll(p, true, (s) => report(s, true, false));
      report(sum, true, true);
      dryFor = JSON.stringify(p);
      dryCount = sum.migrated;
      real.disabled = sum.migrated === 0;
    } catch (e) { clear(out).append(errorBox(e)); }
    busy(dry, false, t("opsDryRun"));
  });
  real.addEventListener("click", async () => {
    let p;
    try { p = plan(); } catch (e) { clear(out).append(errorBox(e)); return; }
    if (JSON.stringify(p) !== dryFor) { clear(out).append(h("p", { class: "notice bad", text: t("opsDryFirst") })); return; }
    if (!window.confirm(fmt(t("opsConfirm"), { n: dryCount }))) return;
    busy(real, true, t("opsRunning"));
    busy(dry, true);
    try {
      const sum = await runAll(p, false, (s) => report(s, false, false));
      report(sum, false, true);
    } catch (e) { out.append(errorBox(e)); }
    dryFor = null;
    busy(real, true, t("opsRun"));
    busy(dry, false);
  });
  return box;
}

// ---- dead letters and the outbox ----

function lettersSection(view, dead) {
  const body = h("div", { class: "ops-messages" });
  const reload = h("button", { type: "button", class: "small", text: t("opsReload") });
  const box = section(dead ? "ops-dead" : "ops-outbox", dead ? t("opsDeadLetters") : t("opsOutbox"), h("p", {}, reload), body);
  const load = async (after, append) => {
    try {
      const res = await api(`/v1/${dead ? "dead-letters" : "outbox"}?limit=50${after ? `&after=${after}` : ""}`);
      if (!append) clear(body);
      if (!append && !res.items.length) { body.append(h("p", { class: "hint", text: dead ? t("opsNoDead") : t("opsNoOutbox") })); return; }
      let list = body.querySelector("ul.ops-letters");
      if (!list) body.append(list = h("ul", { class: "ops-letters" }));
      for (const m of res.items) {
        let action = null;
        if (dead) {
          action = h("button", { type: "button", class: "small", "data-retry": m.seq, text: t("opsRetry") });
          action.addEventListener("click", async () => {
            busy(action, true);
            try {
              await api(`/v1/dead-letters/${m.seq}/retry`, { method: "POST" });
              action.replaceWith(h("span", { class: "ok", "data-retried": m.seq, text: t("opsRetried") }));
            } catch (e) { action.replaceWith(errorBox(e)); }
          });
        }
        list.append(h("li", { "data-seq": m.seq },
          h("div", { class: "head" }, h("b", { text: `#${m.seq}` }), ` ${m.kind}`,
            m.channel ? h("code", { text: m.channel }) : null, m.dead && !dead ? h("span", { class: "badge late", text: t("opsDeadState") }) : null,
            h("span", { class: "grow" }), action),
          h("div", { class: "facts-line" }, `${t("opsInstance")} `,
            h("a", { href: `#/instance/${encodeURIComponent(m.instance)}`, text: m.instance }),
            ` · ${t("opsAttempts")} ${m.attempts}`,
            m.nextAttemptAt && !m.dead ? ` · ${t("opsNext")} ${when(m.nextAttemptAt)}` : "",
            ` · ${t("opsCreated")} ${when(m.createdAt)}`),
          m.lastError ? h("div", { class: "err", text: `${t("opsLastError")}: ${m.lastError}` }) : null));
      }
      body.querySelector(".more")?.remove();
      if (res.nextAfter) {
        body.append(h("button", { type: "button", class: "small more", text: t("opsMore"), onclick: () => load(res.nextAfter, true) }));
      }
    } catch (e) { clear(body).append(errorBox(e)); }
  };
  reload.addEventListener("click", () => load(0, false));
  load(0, false);
  return box;
}

// ---- backup and verify ----

function backupSection() {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const dir = h("input", { id: "ops-backup-dir", value: `console-${stamp}`, autocomplete: "off" });
  const run = h("button", { type: "button", class: "small", id: "ops-backup-run", text: t("opsBackupRun") });
  const out = h("div", { id: "ops-backup-result", role: "status" });
  run.addEventListener("click", async () => {
    busy(run, true, t("opsRunning"));
    clear(out);
    try {
      const res = await api("/v1/backup", { method: "POST", body: { dir: dir.value.trim() } });
      out.append(h("p", { class: res.ok ? "notice ok" : "notice bad", id: "ops-backup-done", text: `${t("opsBackupDone")}${res.path}` }));
    } catch (e) { out.append(errorBox(e)); }
    busy(run, false, t("opsBackupRun"));
  });
  return section("ops-backup", t("opsBackup"), h("p", { class: "hint", text: t("opsBackupHelp") }),
    h("label", { class: "ops-field" }, h("span", { text: t("opsBackupDir") }), dir), h("p", {}, run), out);
}

function verifySection() {
  const run = h("button", { type: "button", class: "small", id: "ops-verify-run", text: t("opsVerifyRun") });
  const out = h("div", { id: "ops-verify-result", role: "status" });
  run.addEventListener("click", async () => {
    busy(run, true, t("opsRunning"));
    const started = performance.now();
    const progress = h("p", { class: "hint", text: fmt(t("opsElapsed"), { s: 0 }) });
    clear(out).append(progress);
    const clock = setInterval(() => { progress.textContent = fmt(t("opsElapsed"), { s: Math.round((performance.now() - started) / 1000) }); }, 1000);
    try {
      const rep = await api("/v1/verify");
      clear(out).append(...[h("p", { class: rep.ok ? "notice ok" : "notice bad", id: "ops-verify-done", "data-ok": String(rep.ok),
        text: rep.ok ? t("opsVerifyOk") : `${t("opsVerifyBad")}${rep.problems.length}` }),
      h("p", { class: "hint", text: `${rep.pages} ${t("opsPagesN")} · ${rep.instances} ${t("opsInstancesN")} · ${rep.entries} ${t("opsEntriesN")} · ${rep.indexEntries} ${t("opsIndexN")}` }),
      rep.problems.length ? h("ul", {}, rep.problems.slice(0, 100).map((p) => h("li", {}, h("code", { text: `${p.kind} ${p.db} ${p.key}` }), ` ${p.text}`))) : null,
      ].filter(Boolean));
    } catch (e) { clear(out).append(errorBox(e)); }
    clearInterval(clock);
    busy(run, false, t("opsVerifyRun"));
  });
  return section("ops-verify", t("opsVerify"), h("p", { class: "hint", text: t("opsVerifyHelp") }), h("p", {}, run), out);
}
