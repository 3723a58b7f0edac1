// Printing the simulated year's statistics: text tables and the self-contained HTML report
// with inline SVG charts (simulate_stats.hpp). Reads only the statistics document.
#include <cstdio>
#include <ostream>
#include <sstream>

#include "output.hpp"
#include "simulate_stats.hpp"

namespace bihuan::cli::sim {
namespace {

std::string pct(const json& v) {
  if (!v.is_number()) return "-";
  char b[16];
  std::snprintf(b, sizeof b, "%.1f%%", v.get<double>() * 100);
  return b;
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
  int w = 80 + int(labels.size()) * (int(series.size()) * 26 + 24), h = slanted ? 330 : 260,
      base = 210;
  std::ostringstream s;
  s << "<figure><figcaption>" << esc(title) << "</figcaption><svg viewBox='0 0 " << w << " " << h
    << "' width='" << w << "' height='" << h << "' role='img'>";
  for (int g = 0; g <= 4; ++g) {
    int y = base - g * 45;
    s << "<line x1='40' x2='" << w << "' y1='" << y << "' y2='" << y
      << "' stroke='#ddd'/><text x='36' y='" << y + 4 << "' text-anchor='end' font-size='10'>"
      << (percent ? std::to_string(g * 25) + "%" : num(json(max * g / 4))) << "</text>";
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    int x0 = 50 + int(i) * (int(series.size()) * 26 + 24);
    for (std::size_t k = 0; k < series.size(); ++k) {
      double v = series[k].second[i], hgt = max > 0 ? std::min(1.0, v / max) * 180 : 0;
      int x = x0 + int(k) * 26;
      s << "<rect x='" << x << "' y='" << base - hgt << "' width='22' height='" << hgt << "' fill='"
        << colours[k % 4] << "'><title>" << esc(series[k].first) << ": "
        << (percent ? pct(json(v)) : num(json(v))) << "</title></rect>";
      s << "<text x='" << x + 11 << "' y='" << base - hgt - 3
        << "' text-anchor='middle' font-size='9'>" << (percent ? pct(json(v)) : num(json(v)))
        << "</text>";
    }
    int lx = x0 + int(series.size()) * 13;
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

}  // namespace

void print_tables(const json& st, std::ostream& out) {
  out << "格尔木市 Golmud: by period, all levels (as of " << st["statsAsOf"].get<std::string>()
      << ")\n";
  Table t(kHeader);
  for (const auto& p : st["periods"])
    t.add(row(p, st["city"]["byPeriod"][p.get<std::string>()]["all"]));
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
  h << "<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>食品安全包保年度模拟 / "
       "Food-safety year simulated</title>"
       "<style>body{font-family:system-ui,'Noto Sans CJK "
       "SC',sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
       "font-size:13px}td,th{border:1px solid #ccc;padding:3px "
       "7px;text-align:right}th:first-child,td:first-child{text-align:left}"
       "figure{display:inline-block;margin:1em 2em 1em "
       "0}figcaption{font-weight:600;margin-bottom:4px}.ok{color:#2f855a}.bad{color:#c53030}"
       "</style></head><body>\n";
  h << "<h1>格尔木市食品安全包保：模拟年度统计 <small>/ Golmud food-safety guarantee scheme: the "
       "simulated year</small></h1>\n";
  h << "<p>种子 seed " << st["seed"] << " · 行为 preset " << esc(st["preset"].get<std::string>())
    << " · 截至 as of " << esc(st["statsAsOf"].get<std::string>()) << " · "
    << st["city"]["businesses"] << " 家主体 businesses, " << st["city"]["cadres"]
    << " 名干部 cadres. 所有数字均来自引擎查询与历史 / every figure comes from the engine's "
       "queries and history.</p>\n";
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
  std::vector<std::string> levels = {"city", "township", "village"};
  std::vector<double> lc, lo;
  for (const auto& l : levels) {
    lc.push_back(val(city["year"][l]["supervisionCompletion"]));
    lo.push_back(val(city["year"][l]["supervisionOnTime"]));
  }
  h << bars("按干部层级（全年）/ By cadre level, whole span",
            {"县级 B (city)", "乡镇级 C", "村级 D"},
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
  h << "<h2>分期统计 / By period (全部层级 all levels)</h2><table><tr>";
  for (const auto& c : kHeader) h << "<th>" << esc(c) << "</th>";
  h << "</tr>";
  auto table_row = [&](const std::string& name, const json& m) {
    h << "<tr>";
    for (const auto& c : row(name, m)) h << "<td>" << esc(c) << "</td>";
    h << "</tr>\n";
  };
  for (const auto& p : st["periods"]) table_row(p, city[p.get<std::string>()]["all"]);
  h << "</table><h2>乡镇 → 村（全年）/ Townships and villages, whole span</h2><table><tr>";
  for (const auto& c : kHeader) h << "<th>" << esc(c) << "</th>";
  h << "</tr>";
  for (const auto& t : st["townships"]) {
    table_row("▸ " + t["name"].get<std::string>(), t["byPeriod"]["year"]["all"]);
    for (const auto& v : t["villages"])
      table_row("    " + v["name"].get<std::string>(), v["byPeriod"]["year"]["all"]);
  }
  table_row("= " + st["city"]["name"].get<std::string>(), city["year"]["all"]);
  h << "</table><h2>自检 / Self-checks</h2><ul>";
  for (const auto& [name, o] : st["oracles"].items())
    h << "<li class='" << (o.value("ok", false) ? "ok" : "bad") << "'>" << esc(name) << ": "
      << (o.value("ok", false) ? "通过 ok" : "未通过 FAILED") << "</li>";
  h << "</ul></body></html>\n";
  return h.str();
}

}  // namespace bihuan::cli::sim
