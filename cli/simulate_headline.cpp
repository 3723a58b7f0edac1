// The year report's headline (simulate_headline.hpp).
#include "simulate_headline.hpp"

#include <map>

namespace bihuan::cli::sim {
namespace {

std::int64_t count_of(const json& m, const char* k) {
  return m.contains(k) && m[k].is_number_integer() ? m[k].get<std::int64_t>() : 0;
}

}  // namespace

json headline(const demo::City& city, const json& stats, const std::string& end) {
  json grades = {{"A", 0}, {"B", 0}, {"C", 0}, {"D", 0}};
  std::int64_t closed = 0;
  for (const auto& b : city.businesses) {
    if (grades.contains(b.grade)) grades[b.grade] = grades[b.grade].get<std::int64_t>() + 1;
    if (!b.closed_on.empty() && b.closed_on <= end) ++closed;
  }
  // Cadres: everyone who held a binding in the span, by level; those serving at the end;
  // replacements (a cadre who took over from one who left) explain the difference.
  json levels = {{"prefecture", 0}, {"city", 0}, {"township", 0}, {"village", 0}};
  std::int64_t serving = 0, replacements = 0;
  for (const auto& c : city.cadres) {
    if (levels.contains(c.level)) levels[c.level] = levels[c.level].get<std::int64_t>() + 1;
    if (c.end_at.empty() || c.end_at > end) ++serving;
    if (!c.replaces.empty()) ++replacements;
  }
  const std::int64_t all = static_cast<std::int64_t>(city.cadres.size());
  const json& year = stats["city"]["byPeriod"]["year"]["all"];
  json periods = json::array();
  for (const auto& p : stats["periods"]) {
    if (p == "year") continue;
    const json& m = stats["city"]["byPeriod"][p.get<std::string>()]["all"];
    std::int64_t base = count_of(m, "due") - count_of(m, "exempted");
    periods.push_back({{"period", p},
                       {"due", base},
                       {"exempted", count_of(m, "exempted")},
                       {"visited", count_of(m, "businessesVisited")},
                       {"visitedOnTime", count_of(m, "completed")},
                       {"coverage", m["coverage"]},
                       {"onTime", m["supervisionOnTime"]}});
  }
  std::int64_t prefecture = levels["prefecture"];
  json notes = json::array();
  if (replacements)
    notes.push_back(
        {{"zh", "干部 " + std::to_string(all) + " 人次中 " + std::to_string(replacements) +
                    " 人为期内接替调离干部的新任干部：在岗 " + std::to_string(serving) + " 人"},
         {"en", std::to_string(all) + " cadres held a binding; " + std::to_string(replacements) +
                    " of them replaced a cadre who left during the span: " +
                    std::to_string(serving) + " serving at its end"}});
  if (prefecture)
    notes.push_back(
        {{"zh", "另含州级干部 " + std::to_string(prefecture) + " 人，包保 A 级主体（不在市级 " +
                    "B/C/D 三级人数内）"},
         {"en", std::to_string(prefecture) +
                    " prefecture cadres guarantee the grade A businesses (outside the city's "
                    "B/C/D levels)"}});
  return {
      {"businesses",
       {{"total", city.businesses.size()}, {"byGrade", grades}, {"closedInSpan", closed}}},
      {"cadres",
       {{"total", all},
        {"serving", serving},
        {"replacements", replacements},
        {"byLevel", levels},
        {"notes", notes}}},
      {"units",
       {{"total", city.units.size()},
        {"listsDue", count_of(year, "listsDue")},
        {"listsFiled", count_of(year, "listsAccepted")}}},
      {"letters",
       {{"required", count_of(year, "lettersRequired")},
        {"signed", count_of(year, "lettersSigned")},
        {"filed", count_of(year, "lettersFiled")}}},
      {"supervision", periods},
      {"problems",
       {{"found", count_of(year, "problemsFound")},
        {"closed", count_of(year, "problemsClosed")},
        {"closedOnTime", count_of(year, "problemsClosedOnTime")},
        {"overdue", count_of(year, "overdueRectifications")},
        {"rechecked", count_of(year, "problemsRechecked")},
        {"reopened", count_of(year, "problemsReopened")},
        {"escalated", count_of(year, "problemsEscalated")},
        {"otherSources", stats.value("problemsBySource", json::object())}}}};
}

const json& metric_definitions() {
  static const json defs = json::parse(R"J([
 {"key": "businesses", "zh": "包保主体：模拟城市中的食品经营主体，按包保等级 A/B/C/D 计；期内注销的仍计入",
  "en": "Businesses: the food businesses of the simulated city by guarantee grade A/B/C/D; those closed during the span still count"},
 {"key": "cadres", "zh": "包保干部：期内持有包保关系的干部人次，按层级（州、县/市 B、乡镇 C、村 D）；在岗 = 期末仍在岗",
  "en": "Cadres: every cadre who held a binding in the span, by level (prefecture, city B, township C, village D); serving = still in post at its end"},
 {"key": "units", "zh": "责任清单已备案：各责任单位提交且经上级审核通过（接受）的清单数 / 应报清单数",
  "en": "Lists filed: responsibility lists submitted by the units and accepted by the reviewing office / lists due"},
 {"key": "letters", "zh": "承诺书：应签 = 期末在岗干部应签份数；已签 = 干部已签署；已备案 = 办公室已接受备案（签署 ≠ 备案）",
  "en": "Letters: required = letters the serving cadres owe; signed = signed by the cadre; filed = accepted for filing by the office (signed is not filed)"},
 {"key": "coverage", "zh": "督导覆盖率：期内有记录的督导走访（按时或逾期完成）的包保关系 / 应督导关系（豁免的除外）",
  "en": "Supervision coverage: bindings with a recorded visit in the period (on time or late) / bindings due (exempted ones excluded)"},
 {"key": "onTime", "zh": "按时督导率：期限内完成的督导 / 应督导关系", "en": "On time: visits completed by the period's deadline / bindings due"},
 {"key": "problemsFound", "zh": "发现问题：督导走访中发现并交办的问题（其他来源的问题单列）",
  "en": "Problems found: problems found on supervision visits and handed over (other sources are listed apart)"},
 {"key": "closedOnTime", "zh": "按期整改：整改期限内完成整改并销号的问题", "en": "Rectified on time: problems closed without passing their rectification deadline"},
 {"key": "rechecked", "zh": "回头看：经复查（回头看）的问题", "en": "Re-checked: problems re-checked after rectification (回头看)"},
 {"key": "reopened", "zh": "重新整改：复查未通过而重开的问题", "en": "Reopened: problems reopened when the re-check failed"},
 {"key": "escalated", "zh": "上报：逾期未改而上报上级的问题", "en": "Escalated: problems escalated after their deadline passed unrectified"},
 {"key": "daily", "zh": "日管控提交率：按时或迟交的日检记录 / 应提交记录", "en": "Daily records: filed on time or late / records due"}
])J");
  return defs;
}

}  // namespace bihuan::cli::sim
