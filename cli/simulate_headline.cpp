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
  json serving_levels = levels;
  std::int64_t serving = 0, replacements = 0;
  std::int64_t all = 0;
  for (const auto& c : city.cadres) {
    if (!c.start_at.empty() && c.start_at > end) continue;  // took office after the span
    ++all;
    if (levels.contains(c.level)) levels[c.level] = levels[c.level].get<std::int64_t>() + 1;
    if (c.end_at.empty() || c.end_at > end) {
      ++serving;
      if (levels.contains(c.level))
        serving_levels[c.level] = serving_levels[c.level].get<std::int64_t>() + 1;
    }
    if (!c.replaces.empty()) ++replacements;
  }
  const json& year = stats["city"]["byPeriod"]["year"]["all"];
  json periods = json::array();
  for (const auto& p : stats["periods"]) {
    if (p == "year") continue;
    const json& m = stats["city"]["byPeriod"][p.get<std::string>()]["all"];
    std::int64_t base = count_of(m, "due") - count_of(m, "exempted");
    json scope = stats.value("periodScope", json::object()).value(p.get<std::string>(), json());
    periods.push_back({{"period", p},
                       {"due", base},
                       {"exempted", count_of(m, "exempted")},
                       {"visited", count_of(m, "businessesVisited")},
                       {"visitedOnTime", count_of(m, "completed")},
                       {"coverage", m["coverage"]},
                       {"onTime", m["supervisionOnTime"]}});
    if (!scope.is_null()) periods.back()["scope"] = scope;  // the levels and grades it covers
  }
  // Shortfalls, each with its reason: what stands between a figure and 100%.
  json shortfalls = json::array();
  auto gap = [&](std::int64_t n, const std::string& key, const std::string& zh,
                 const std::string& en) {
    if (n > 0)
      shortfalls.push_back({{"key", key},
                            {"count", n},
                            {"zh", std::to_string(n) + " " + zh},
                            {"en", std::to_string(n) + " " + en}});
  };
  gap(count_of(year, "lettersRequired") - count_of(year, "lettersSigned"), "lettersUnsigned",
      "份承诺书尚未由干部签署", "letters not yet signed by their cadre");
  gap(count_of(year, "lettersSigned") - count_of(year, "lettersFiled"), "lettersNotFiled",
      "份已签署的承诺书尚未被办公室接受备案（待审或被退回）",
      "signed letters not yet accepted for filing by the office (waiting, or returned)");
  gap(count_of(year, "listsDue") - count_of(year, "listsAccepted"), "listsNotFiled",
      "份责任清单尚未审核通过", "responsibility lists not yet accepted");
  for (const auto& p : periods) {
    std::string period = p["period"];
    gap(p["due"].get<std::int64_t>() - p["visited"].get<std::int64_t>(), "notVisited/" + period,
        "个包保关系在 " + period + " 期内未走访（期末仍未完成）",
        "bindings not visited in " + period + " (still open at its end)");
    gap(p["visited"].get<std::int64_t>() - p["visitedOnTime"].get<std::int64_t>(),
        "visitedLate/" + period, "次 " + period + " 督导在期限后完成",
        "visits of " + period + " completed after the deadline");
  }
  gap(count_of(year, "problemsFound") - count_of(year, "problemsClosed"), "problemsOpen",
      "个问题截至期末尚未销号", "problems still open at the end");
  gap(count_of(year, "overdueRectifications"), "problemsOverdue", "个问题超过整改期限",
      "problems passed their rectification deadline");
  gap(count_of(year, "problemsReopened"), "problemsReopened", "个问题复查未通过而重新整改",
      "problems reopened when their re-check failed");
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
  return {{"businesses",
           {{"total", city.businesses.size()}, {"byGrade", grades}, {"closedInSpan", closed}}},
          {"cadres",
           {{"total", all},
            {"serving", serving},
            {"servingByLevel", serving_levels},
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
            {"otherSources", stats.value("problemsBySource", json::object())}}},
          {"shortfalls", shortfalls}};
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
 {"key": "bulletins", "zh": "督导通报：每期结束后一周由引擎按自身数据统计；应督导 = 未豁免、未转办的任务；已督导 = 已提交或已完成；已审核 = 办公室已接受；未督导 = 仍未提交；点名干部 = 有未督导任务的干部",
  "en": "Bulletins: counted by the engine from its own cases a week after each round; due = tasks not exempted or handed over; visited = submitted or completed; accepted = accepted by the office; not visited = still not submitted; cadres named = cadres with a task not visited"},
 {"key": "problemsFound", "zh": "发现问题：督导走访中发现并交办的问题（其他来源的问题单列）",
  "en": "Problems found: problems found on supervision visits and handed over (other sources are listed apart)"},
 {"key": "closedOnTime", "zh": "按期整改：整改期限内完成整改并销号的问题", "en": "Rectified on time: problems closed without passing their rectification deadline"},
 {"key": "rechecked", "zh": "回头看：经复查（回头看）的问题", "en": "Re-checked: problems re-checked after rectification (回头看)"},
 {"key": "reopened", "zh": "重新整改：复查未通过而重开的问题", "en": "Reopened: problems reopened when the re-check failed"},
 {"key": "escalated", "zh": "上报：逾期未改而上报上级的问题", "en": "Escalated: problems escalated after their deadline passed unrectified"},
 {"key": "riskReviews", "zh": "风险分级评定：年初为每个在营主体开启，年内整改逾期、抽检不合格等标记计入；12 月由监管所提出下一年度等级（上调、不变、下调），食安办审核；注销主体的评定随停业确认取消；提出逾期 = 过了 12 月最后一个工作日仍未提出",
  "en": "Risk-grade reviews: opened for every open business at the start of the year, collecting flags (rectifications past their deadline, failed samples); the station proposes next year's grade in December (raised, unchanged, lowered) and the office approves; a closed business's review is cancelled with the closure; proposal overdue = not proposed by December's last working day"},
 {"key": "statusChanges", "zh": "主体状态变更：监管所上报（停业、迁址、包保等级变化）；上报逾期 = 变更后 15 个工作日内未上报；调整逾期 = 办公室 7 个工作日内未确认或重新包保；撤回 = 误报",
  "en": "Status changes: reported by the station (closure, move, change of guarantee grade); reported late = not within 15 working days of the change; re-binding overdue = the office did not confirm or re-bind within 7 working days; withdrawn = a wrong report"},
 {"key": "daily", "zh": "日管控提交率：按时或迟交的日检记录 / 应提交记录", "en": "Daily records: filed on time or late / records due"}
])J");
  return defs;
}

}  // namespace bihuan::cli::sim
