// Printing the simulated year's statistics: text tables and the self-contained HTML report
// with inline SVG charts (simulate_stats.hpp). Reads only the statistics document.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "output.hpp"
#include "simulate_headline.hpp"
#include "simulate_stats.hpp"

namespace bihuan::cli::sim {
namespace {

std::string pct(const json& v) {
  if (!v.is_number()) return "-";
  char b[16];
  std::snprintf(b, sizeof b, "%.1f%%", v.get<double>() * 100);
  return b;
}
// A whole percent, for the labels written over bars (narrow enough not to collide).
std::string pct0(double v) { return std::to_string(static_cast<int>(v * 100 + 0.5)) + "%"; }
// The smallest of 1, 2, 5 x 10^k at or above `v`: a count axis's top, in 4 whole steps.
double nice_top(double v) {
  double step = 1;
  while (step * 4 < v) {
    if (step * 2 * 4 >= v) return step * 2 * 4;
    if (step * 5 * 4 >= v) return step * 5 * 4;
    step *= 10;
  }
  return step * 4;
}
std::string num(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  char b[16];
  std::snprintf(b, sizeof b, "%.1f", v.get<double>());
  return b;
}

const std::vector<std::string> kHeader = {"",
                                          "督导覆盖 coverage",
                                          "签署 signed",
                                          "备案 filed",
                                          "清单 lists",
                                          "完成 done",
                                          "按时 on time",
                                          "问题 problems",
                                          "销号 closed",
                                          "逾期整改 overdue",
                                          "平均天数 days",
                                          "重开 reopen",
                                          "日管控 daily"};

// " (乡镇 township; C 级 grade C)" for a period whose rounds cover some cadre levels or
// business grades only (a grade-C month beside the quarters of the rest), else "".
std::string scope_label(const json& scope) {
  if (!scope.is_object()) return {};
  std::string zh, en;
  auto names = [](const json& list) {
    std::string out;
    for (const auto& n : list) out += (out.empty() ? "" : ", ") + n.get<std::string>();
    return out;
  };
  if (scope.contains("levels")) zh += "层级 " + names(scope["levels"]);
  if (scope.contains("grades"))
    zh += std::string(zh.empty() ? "" : "; ") + names(scope["grades"]) + " 级";
  if (scope.contains("levels")) en += "level " + names(scope["levels"]);
  if (scope.contains("grades"))
    en += std::string(en.empty() ? "" : "; ") + "grade " + names(scope["grades"]);
  return zh.empty() ? std::string() : " (" + zh + " / " + en + ")";
}

// A period's name with its scope, as the statistics' periodScope gives it.
std::string period_label(const json& st, const json& period) {
  std::string p = period.get<std::string>();
  json scope = st.value("periodScope", json::object());
  return p + scope_label(scope.contains(p) ? scope[p] : json());
}

std::vector<std::string> row(const std::string& name, const json& m) {
  return {name,
          pct(m["coverage"]),
          pct(m["signRate"]),
          pct(m["filingRate"]),
          pct(m["listFilingRate"]),
          pct(m["supervisionCompletion"]),
          pct(m["supervisionOnTime"]),
          num(m["problemsFound"]),
          pct(m["closureRate"]),
          num(m["overdueRectifications"]),
          num(m["meanDaysToClose"]),
          pct(m["reopenRate"]),
          pct(m["dailySubmissionRate"])};
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s)
    o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

// Grouped vertical bars: one group per label, one bar per series (values in [0, 1] unless
// `max` is given), with the value written above each bar.
std::string bars(const std::string& title, const std::vector<std::string>& labels,
                 const std::vector<std::pair<std::string, std::vector<double>>>& series,
                 double max = 1.0, bool percent = true) {
  const char* colours[] = {"#2b6cb0", "#38a169", "#dd6b20", "#805ad5"};
  bool slanted = false;  // long labels (township names) are written at an angle
  for (const auto& l : labels) slanted = slanted || display_width(l) > 10;
  if (!percent) max = nice_top(max);  // counts: whole-number ticks, fitted to the data
  const int pitch = 30;               // per bar: wide enough for "100%" or "9999"
  int legend = 50;  // the legend's width, below the bars: the chart is at least as wide
  for (const auto& sr : series) legend += 16 + int(display_width(sr.first)) * 6 + 20;
  int w = std::max(legend, 80 + int(labels.size()) * (int(series.size()) * pitch + 24)),
      h = slanted ? 330 : 260, base = 210;
  std::ostringstream s;
  s << "<figure><figcaption>" << esc(title) << "</figcaption><svg viewBox='0 0 " << w << " " << h
    << "' width='" << w << "' height='" << h << "' style='max-width:100%;height:auto' role='img'>";
  for (int g = 0; g <= 4; ++g) {
    int y = base - g * 45;
    s << "<line x1='40' x2='" << w << "' y1='" << y << "' y2='" << y
      << "' stroke='#ddd'/><text class='tick' x='36' y='" << y + 4
      << "' text-anchor='end' font-size='10'>"
      << (percent ? std::to_string(g * 25) + "%"
                  : std::to_string(static_cast<long long>(max * g / 4 + 0.5)))
      << "</text>";
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    int x0 = 50 + int(i) * (int(series.size()) * pitch + 24);
    for (std::size_t k = 0; k < series.size(); ++k) {
      double v = series[k].second[i], hgt = max > 0 ? std::min(1.0, v / max) * 180 : 0;
      int x = x0 + int(k) * pitch;
      std::string shown = percent ? pct0(v) : std::to_string(static_cast<long long>(v + 0.5));
      s << "<rect x='" << x << "' y='" << base - hgt << "' width='26' height='" << hgt << "' fill='"
        << colours[k % 4] << "'><title>" << esc(series[k].first) << ": "
        << (percent ? pct(json(v)) : shown) << "</title></rect>";
      s << "<text class='value' x='" << x + 13 << "' y='" << base - hgt - 3
        << "' text-anchor='middle' font-size='9'>" << shown << "</text>";
    }
    int lx = x0 + int(series.size()) * pitch / 2;
    if (slanted)
      s << "<text x='" << lx << "' y='" << base + 14
        << "' text-anchor='end' font-size='11' transform='rotate(-35 " << lx << " " << base + 14
        << ")'>" << esc(labels[i]) << "</text>";
    else
      s << "<text x='" << lx << "' y='" << base + 16 << "' text-anchor='middle' font-size='11'>"
        << esc(labels[i]) << "</text>";
  }
  int lx = 50;
  for (std::size_t k = 0; k < series.size(); ++k) {
    s << "<rect x='" << lx << "' y='" << h - 22 << "' width='12' height='12' fill='"
      << colours[k % 4] << "'/><text x='" << lx + 16 << "' y='" << h - 12 << "' font-size='11'>"
      << esc(series[k].first) << "</text>";
    lx += 16 + int(display_width(series[k].first)) * 6 + 20;
  }
  s << "</svg></figure>\n";
  return s.str();
}

double val(const json& v) { return v.is_number() ? v.get<double>() : 0.0; }

std::string count(const json& v) { return v.is_number_integer() ? num(v) : "0"; }
// "n / of (rate)" with the rate to one decimal; "-" for the rate when `of` is 0.
std::string part(const json& n, const json& of) {
  double d = val(of);
  return count(n) + " / " + count(of) + " (" + (d > 0 ? pct(json(val(n) / d)) : "-") + ")";
}

// The headline block (simulate_headline.hpp), in the order of the office's own report.
std::string headline_html(const json& hl) {
  std::ostringstream h;
  const json& b = hl["businesses"];
  const json& c = hl["cadres"];
  h << "<section id='headline'><h2>年度要点 / Headline</h2><table class='headline'>";
  auto line = [&](const std::string& key, const std::string& zh_en, const std::string& value) {
    h << "<tr data-key='" << key << "'><th>" << esc(zh_en) << "</th><td>" << esc(value)
      << "</td></tr>";
  };
  line("businesses", "包保主体 Businesses",
       count(b["total"]) + " 家：A 级 " + count(b["byGrade"]["A"]) + " · B 级 " +
           count(b["byGrade"]["B"]) + " · C 级 " + count(b["byGrade"]["C"]) + " · D 级 " +
           count(b["byGrade"]["D"]) + "（期内注销 closed " + count(b["closedInSpan"]) + "）");
  const json& sv = c["servingByLevel"];
  line("cadres", "包保干部（期末在岗）Cadres serving",
       count(c["serving"]) + " 人：州级 " + count(sv["prefecture"]) + " · 县级 B " +
           count(sv["city"]) + " · 乡镇级 C " + count(sv["township"]) + " · 村级 D " +
           count(sv["village"]) + "（期内共 " + count(c["total"]) + " 人次 in the span）");
  for (const auto& n : c["notes"])
    h << "<tr class='note'><th></th><td>" << esc(n.value("zh", "")) << "<br><small>"
      << esc(n.value("en", "")) << "</small></td></tr>";
  line("units", "责任清单已备案 Units' lists filed",
       part(hl["units"]["listsFiled"], hl["units"]["listsDue"]) + "，责任单位 units " +
           count(hl["units"]["total"]));
  line("lettersSigned", "承诺书已签署 Letters signed",
       part(hl["letters"]["signed"], hl["letters"]["required"]));
  line("lettersFiled", "承诺书已备案 Letters filed (accepted by the office)",
       part(hl["letters"]["filed"], hl["letters"]["required"]));
  for (const auto& p : hl["supervision"])
    line("coverage",
         "督导覆盖 Supervision " + p["period"].get<std::string>() +
             scope_label(p.value("scope", json())),
         "已走访 visited " + part(p["visited"], p["due"]) + "；按时 on time " +
             part(p["visitedOnTime"], p["due"]) + "；豁免 exempted " + count(p["exempted"]));
  const json& pr = hl["problems"];
  line("problems", "督导发现问题 Problems found", count(pr["found"]));
  line("closed", "已整改销号 Rectified and closed", part(pr["closed"], pr["found"]));
  line("closedOnTime", "按期整改 Rectified on time", part(pr["closedOnTime"], pr["found"]));
  line("rechecked", "回头看复查 Re-checked", part(pr["rechecked"], pr["found"]));
  line("reopened", "复查重开 Reopened", part(pr["reopened"], pr["found"]));
  line("escalated", "逾期上报 Escalated", part(pr["escalated"], pr["found"]));
  std::string others;
  for (const auto& [src, n] : pr["otherSources"].items())
    others += (others.empty() ? "" : " · ") + src + " " + count(n["found"]) + "（销号 closed " +
              count(n["closed"]) + "）";
  if (!others.empty()) line("otherSources", "其他来源问题 Problems from other sources", others);
  h << "</table><h3>差距与原因 / Shortfalls and why</h3><ul id='shortfalls'>";
  for (const auto& g : hl["shortfalls"])
    h << "<li data-key='" << esc(g["key"].get<std::string>()) << "'>"
      << esc(g["zh"].get<std::string>()) << " <small>/ " << esc(g["en"].get<std::string>())
      << "</small></li>";
  if (hl["shortfalls"].empty()) h << "<li class='ok'>无 / none: every figure is at 100%</li>";
  h << "</ul></section>\n";
  return h.str();
}

}  // namespace

void print_tables(const json& st, std::ostream& out) {
  out << "格尔木市 Golmud: by period, all levels (as of " << st["statsAsOf"].get<std::string>()
      << ")\n";
  Table t(kHeader);
  for (const auto& p : st["periods"])
    t.add(row(period_label(st, p), st["city"]["byPeriod"][p.get<std::string>()]["all"]));
  t.print(out);
  out << "\nBy cadre level, whole span\n";
  Table l(kHeader);
  for (const auto& lv : st["levels"])
    l.add(row(lv, st["city"]["byPeriod"]["year"][lv.get<std::string>()]));
  l.print(out);
  out << "\nBy township, whole span (all levels)\n";
  Table tw(kHeader);
  for (const auto& x : st["townships"]) tw.add(row(x["name"], x["byPeriod"]["year"]["all"]));
  tw.add(row("= " + st["city"]["name"].get<std::string>(), st["city"]["byPeriod"]["year"]["all"]));
  tw.print(out);
  // The risk-grade reviews and status changes, one line each (the report has their tables).
  const json rr = st.value("riskReviews", json::object());
  if (!rr.empty()) {
    const json by = rr.value("byState", json::object());
    out << "\nRisk-grade reviews: " << rr.value("opened", 0) << " opened, "
        << by.value("APPROVED", 0) << " approved (" << rr.value("raised", 0) << " raised, "
        << rr.value("unchanged", 0) << " unchanged, " << rr.value("lowered", 0) << " lowered), "
        << by.value("CANCELLED", 0) << " cancelled; " << rr.value("flags", 0) << " flags on "
        << rr.value("flaggedBusinesses", 0) << " businesses; " << rr.value("proposeOverdue", 0)
        << " proposals and " << rr.value("approveOverdue", 0) << " approvals overdue\n";
  }
  const json changes = st.value("statusChanges", json::object());
  if (!changes.empty()) {
    out << "Status changes:";
    const char* sep = " ";
    for (const auto& [kind, c] : changes.items()) {
      out << sep << kind << " " << c.value("reported", 0) << " (" << c.value("reportedLate", 0)
          << " reported late, " << c.value("rebindOverdue", 0) << " handled late)";
      sep = ", ";
    }
    out << "\n";
  }
  out << "\n";
}

std::string html_report(const json& st) {
  std::vector<std::string> periods;
  for (const auto& p : st["periods"])
    if (p != "year") periods.push_back(p);
  const json& city = st["city"]["byPeriod"];
  auto series = [&](const char* field, const std::string& level = "all") {
    std::vector<double> v;
    for (const auto& p : periods) v.push_back(val(city[p][level][field]));
    return v;
  };
  std::ostringstream h;
  h << "<!doctype html><html lang='zh'><head><meta charset='utf-8'><meta name='viewport' "
       "content='width=device-width,initial-scale=1'><title>食品安全包保年度模拟 / "
       "Food-safety year simulated</title>"
       "<style>body{font-family:system-ui,'Noto Sans CJK "
       "SC',sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
       "font-size:13px}td,th{border:1px solid #ccc;padding:3px "
       "7px;text-align:right}th:first-child,td:first-child{text-align:left}"
       "figure{display:inline-block;margin:1em 2em 1em "
       "0;max-width:100%}.scroll{overflow-x:auto;max-width:100%}table.headline td{text-align:"
       "left}table.headline th{text-align:left;font-weight:600}dd{margin:0 0 .6em 1.5em;color:#555}"
       "@media "
       "(max-width:600px){body{margin:.6em}h1{font-size:1.3em}}figcaption{font-weight:600;margin-"
       "bottom:4px}.ok{color:#2f855a}.bad{color:#c53030}"
       "</style></head><body>\n";
  h << "<h1>格尔木市食品安全包保：模拟年度统计 <small>/ Golmud food-safety guarantee scheme: the "
       "simulated year</small></h1>\n";
  h << "<p>种子 seed " << st["seed"] << " · 行为 preset " << esc(st["preset"].get<std::string>())
    << " · 截至 as of " << esc(st["statsAsOf"].get<std::string>()) << " · "
    << st["city"]["businesses"] << " 家主体 businesses, " << st["city"]["cadres"]
    << " 名干部 cadres. 所有数字均来自引擎查询与历史 / every figure comes from the engine's "
       "queries and history.</p>\n";
  if (st.contains("headline")) h << headline_html(st["headline"]);
  h << bars("督导完成率与按时率 / Supervision completion and on-time rate", periods,
            {{"完成 completion", series("supervisionCompletion")},
             {"按时 on time", series("supervisionOnTime")}});
  h << bars("承诺书签署率与备案率（期末）/ Letters signed and filed at period end", periods,
            {{"签署 signed", series("signRate")}, {"备案 filed", series("filingRate")}});
  double maxp = 1;
  for (double v : series("problemsFound")) maxp = std::max(maxp, v);
  h << bars("发现问题与销号 / Problems found and closed", periods,
            {{"发现 found", series("problemsFound")}, {"销号 closed", series("problemsClosed")}},
            maxp, false);
  std::vector<std::string> levels = {"prefecture", "city", "township", "village"};
  std::vector<double> lc, lo;
  for (const auto& l : levels) {
    lc.push_back(val(city["year"][l]["supervisionCompletion"]));
    lo.push_back(val(city["year"][l]["supervisionOnTime"]));
  }
  h << bars("按干部层级（全年）/ By cadre level, whole span",
            {"州级 A", "县级 B", "乡镇级 C", "村级 D"},
            {{"完成 completion", lc}, {"按时 on time", lo}});
  std::vector<std::string> names;
  std::vector<double> tc, tcl;
  for (const auto& t : st["townships"]) {
    if (t["byPeriod"]["year"]["all"]["due"] == 0) continue;
    names.push_back(t["name"]);
    tc.push_back(val(t["byPeriod"]["year"]["all"]["supervisionCompletion"]));
    tcl.push_back(val(t["byPeriod"]["year"]["all"]["closureRate"]));
  }
  h << bars(
      "各乡镇（街道）全年督导完成率与问题销号率 / Townships: completion and closure, whole span",
      names, {{"督导完成 completion", tc}, {"问题销号 closure", tcl}});
  h << "<h2>分期统计 / By period (全部层级 all levels)</h2><div class='scroll'><table><tr>";
  for (const auto& c : kHeader) h << "<th>" << esc(c) << "</th>";
  h << "</tr>";
  auto table_row = [&](const std::string& name, const json& m) {
    h << "<tr>";
    for (const auto& c : row(name, m)) h << "<td>" << esc(c) << "</td>";
    h << "</tr>\n";
  };
  for (const auto& p : st["periods"])
    table_row(period_label(st, p), city[p.get<std::string>()]["all"]);
  h << "</table></div><h2>乡镇 → 村（全年）/ Townships and villages, whole span</h2><div "
       "class='scroll'><table><tr>";
  for (const auto& c : kHeader) h << "<th>" << esc(c) << "</th>";
  h << "</tr>";
  for (const auto& t : st["townships"]) {
    table_row("▸ " + t["name"].get<std::string>(), t["byPeriod"]["year"]["all"]);
    for (const auto& v : t["villages"])
      table_row("    " + v["name"].get<std::string>(), v["byPeriod"]["year"]["all"]);
  }
  table_row("= " + st["city"]["name"].get<std::string>(), city["year"]["all"]);
  h << "</table></div>";
  // The bulletins the engine issued from its own cases (workflows/food-safety/bulletin.json).
  const json& bl = st.value("bulletins", json::object());
  h << "<h2 id='bulletins'>督导通报 / Bulletins issued by the engine</h2><div class='scroll'>"
       "<table><tr><th>周期 period</th><th>发出 issued</th><th>应督导 due</th><th>已督导 "
       "visited</th><th>已审核 accepted</th><th>逾期完成 late</th><th>未督导 not "
       "visited</th><th>点名单位 units named</th><th>点名干部 cadres named</th></tr>";
  for (const auto& b : bl.value("issued", json::array())) {
    h << "<tr>";
    for (const char* k : {"period", "issuedAt", "due", "visited", "accepted", "late", "notVisited",
                          "laggardUnits", "cadresNamed"})
      h << "<td>" << esc(b[k].is_string() ? b[k].get<std::string>() : num(b[k])) << "</td>";
    h << "</tr>\n";
  }
  h << "</table></div><p>周报 weekly digests: " << num(bl.value("digests", json(0))) << "</p>";
  // The risk-grade reviews and status changes (risk-review.json, status-change.json).
  const json& rr = st.value("riskReviews", json::object());
  auto state_of = [](const json& j, const char* s) {
    return j.value("byState", json::object()).value(s, json(0));
  };
  h << "<h2 id='risk'>风险分级评定 / Risk-grade reviews</h2><div class='scroll'><table><tr>"
       "<th>开启 opened</th><th>已核定 approved</th><th>上调 raised</th><th>不变 "
       "unchanged</th><th>下调 lowered</th><th>注销取消 cancelled</th><th>未提出 not "
       "proposed</th><th>待审核 awaiting approval</th><th>标记 flags</th><th>被标记主体 flagged "
       "businesses</th><th>提出逾期 proposal overdue</th><th>审核逾期 approval "
       "overdue</th><th>退回 returned</th></tr><tr>";
  for (const json& v :
       {rr.value("opened", json(0)), state_of(rr, "APPROVED"), rr.value("raised", json(0)),
        rr.value("unchanged", json(0)), rr.value("lowered", json(0)), state_of(rr, "CANCELLED"),
        json(state_of(rr, "COLLECTING").get<std::int64_t>() +
             state_of(rr, "RETURNED").get<std::int64_t>()),
        state_of(rr, "PROPOSED"), rr.value("flags", json(0)),
        rr.value("flaggedBusinesses", json(0)), rr.value("proposeOverdue", json(0)),
        rr.value("approveOverdue", json(0)), rr.value("returned", json(0))})
    h << "<td>" << num(v) << "</td>";
  h << "</tr></table></div>";
  h << "<h2 id='changes'>主体状态变更 / Business status changes</h2><div "
       "class='scroll'><table><tr><th>类型 kind</th><th>上报 reported</th><th>上报逾期 reported "
       "late</th><th>停业销户 closed out</th><th>确认 confirmed</th><th>重新包保 "
       "re-bound</th><th>撤回 withdrawn</th><th>待处理 open</th><th>调整逾期 re-binding "
       "overdue</th><th>上报上级 escalated</th></tr>";
  static const std::map<std::string, std::string> kKinds = {{"close", "停业 close"},
                                                            {"reopen", "恢复营业 reopen"},
                                                            {"move", "迁址 move"},
                                                            {"grade", "包保等级 grade"}};
  const json changes = st.value("statusChanges", json::object());  // kept: items() refers into it
  for (const auto& [kind, c] : changes.items()) {
    auto it = kKinds.find(kind);
    h << "<tr><td>" << esc(it == kKinds.end() ? kind : it->second) << "</td>";
    for (const json& v :
         {c.value("reported", json(0)), c.value("reportedLate", json(0)), state_of(c, "CLOSED_OUT"),
          state_of(c, "CONFIRMED"), state_of(c, "REBOUND"), state_of(c, "WITHDRAWN"),
          state_of(c, "AWAITING_OFFICE"), c.value("rebindOverdue", json(0)),
          c.value("escalated", json(0))})
      h << "<td>" << num(v) << "</td>";
    h << "</tr>\n";
  }
  h << "</table></div>";
  h << "<h2>自检 / Self-checks</h2><ul>";
  for (const auto& [name, o] : st["oracles"].items())
    h << "<li class='" << (o.value("ok", false) ? "ok" : "bad") << "'>" << esc(name) << ": "
      << (o.value("ok", false) ? "通过 ok" : "未通过 FAILED") << "</li>";
  h << "</ul><h2 id='definitions'>指标说明 / What each figure means</h2><dl>";
  for (const auto& d : metric_definitions())
    h << "<dt data-key='" << d["key"].get<std::string>() << "'>" << esc(d["zh"].get<std::string>())
      << "</dt><dd>" << esc(d["en"].get<std::string>()) << "</dd>";
  h << "</dl></body></html>\n";
  return h.str();
}

namespace {

// One CSV field: quoted when it holds a comma, quote or line break; a leading = + - @ is
// written after a quote mark so that no spreadsheet takes it for a formula.
std::string csv_field(const json& v) {
  std::string t = v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
  if (!t.empty() && (t[0] == '=' || t[0] == '+' || t[0] == '@' || (t[0] == '-' && !v.is_number())))
    t = "'" + t;
  if (t.find_first_of(",\"\r\n") == std::string::npos) return t;
  std::string q = "\"";
  for (char c : t) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void write_file(const std::filesystem::path& path, const std::vector<std::vector<json>>& rows) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "\xEF\xBB\xBF";  // a BOM: spreadsheet programs then read UTF-8
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) out << (i ? "," : "") << csv_field(r[i]);
    out << "\r\n";
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

void write_csv(const json& st, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  if (st.contains("headline")) {
    std::vector<std::vector<json>> rows = {{"metric", "value"}};
    const json flat = st["headline"].flatten();  // kept: items() refers into it
    for (const auto& [pointer, v] : flat.items()) rows.push_back({pointer, v});
    write_file(fs::path(dir) / "headline.csv", rows);
  }
  const json& city = st["city"]["byPeriod"];
  std::vector<std::string> fields;
  for (const auto& [k, v] : city["year"]["all"].items()) fields.push_back(k);
  auto header = [&](std::vector<json> first) {
    for (const auto& f : fields) first.push_back(f);
    return first;
  };
  auto values = [&](std::vector<json> first, const json& m) {
    for (const auto& f : fields) first.push_back(m.contains(f) ? m[f] : json());
    return first;
  };
  std::vector<std::vector<json>> periods = {header({"period", "level"})};
  for (const auto& p : st["periods"])
    for (const auto& l : st["levels"])
      periods.push_back(values({p, l}, city[p.get<std::string>()][l.get<std::string>()]));
  write_file(fs::path(dir) / "periods.csv", periods);
  std::vector<std::vector<json>> places = {header({"township", "village", "name"})};
  for (const auto& t : st["townships"]) {
    places.push_back(values({t["id"], "", t["name"]}, t["byPeriod"]["year"]["all"]));
    for (const auto& v : t["villages"])
      places.push_back(values({t["id"], v["id"], v["name"]}, v["byPeriod"]["year"]["all"]));
  }
  write_file(fs::path(dir) / "townships.csv", places);
}

}  // namespace bihuan::cli::sim
