// Statistics from the engine (simulate_stats.hpp).
#include "simulate_stats.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <tuple>
#include <vector>

namespace bihuan::cli::sim {
namespace {

constexpr std::int64_t kDayMs = 24 * 3600 * 1000;

// Additive counts of one (period, level, region node).
struct Counts {
  std::int64_t due = 0, exempted = 0, completed = 0, completed_late = 0, visited = 0;
  std::int64_t problems = 0, closed = 0, reopened = 0, rectify_overdue = 0, escalated = 0,
               close_ms = 0, rechecked = 0, closed_on_time = 0;
  std::int64_t letters = 0, signed_ = 0, filed = 0, lists = 0, lists_accepted = 0;
  std::int64_t daily = 0, daily_on_time = 0, daily_late = 0, daily_missed = 0;
  void add(const Counts& o) {
    due += o.due, exempted += o.exempted, completed += o.completed,
        completed_late += o.completed_late;
    visited += o.visited, problems += o.problems, closed += o.closed, reopened += o.reopened;
    rectify_overdue += o.rectify_overdue, escalated += o.escalated, close_ms += o.close_ms;
    rechecked += o.rechecked, closed_on_time += o.closed_on_time;
    letters += o.letters, signed_ += o.signed_, filed += o.filed, lists += o.lists;
    lists_accepted += o.lists_accepted, daily += o.daily, daily_on_time += o.daily_on_time;
    daily_late += o.daily_late, daily_missed += o.daily_missed;
  }
};

json rate(std::int64_t num, std::int64_t den) {
  if (den <= 0) return nullptr;
  return std::round(double(num) / double(den) * 10000.0) / 10000.0;
}

json to_json(const Counts& c) {
  std::int64_t base = c.due - c.exempted;
  return {{"due", c.due},
          {"exempted", c.exempted},
          {"completed", c.completed},
          {"completedLate", c.completed_late},
          {"businessesVisited", c.visited},
          {"coverage", rate(c.visited, base)},
          {"supervisionCompletion", rate(c.completed + c.completed_late, base)},
          {"supervisionOnTime", rate(c.completed, base)},
          {"lettersRequired", c.letters},
          {"lettersSigned", c.signed_},
          {"lettersFiled", c.filed},
          {"signRate", rate(c.signed_, c.letters)},
          {"filingRate", rate(c.filed, c.letters)},
          {"listsDue", c.lists},
          {"listsAccepted", c.lists_accepted},
          {"listFilingRate", rate(c.lists_accepted, c.lists)},
          {"problemsFound", c.problems},
          {"problemsClosed", c.closed},
          {"closureRate", rate(c.closed, c.problems)},
          {"problemsClosedOnTime", c.closed_on_time},
          {"onTimeRectificationRate", rate(c.closed_on_time, c.problems)},
          {"problemsRechecked", c.rechecked},
          {"overdueRectifications", c.rectify_overdue},
          {"problemsReopened", c.reopened},
          {"reopenRate", rate(c.reopened, c.problems)},
          {"problemsEscalated", c.escalated},
          {"closeDaysSum", double(c.close_ms) / double(kDayMs)},
          {"meanDaysToClose",
           c.closed ? json(std::round(double(c.close_ms) / double(c.closed) / kDayMs * 100) / 100)
                    : json(nullptr)},
          {"dailyRecords", c.daily},
          {"dailyOnTime", c.daily_on_time},
          {"dailyLate", c.daily_late},
          {"dailyMissed", c.daily_missed},
          {"dailySubmissionRate", rate(c.daily_on_time + c.daily_late, c.daily)}};
}

std::vector<InstanceView> all_of(const Engine& engine, const std::string& def) {
  InstanceQuery q;
  q.definition = def;
  q.limit = 1000;
  std::vector<InstanceView> out;
  while (true) {
    auto page = engine.query(q);
    for (auto& v : page.items) out.push_back(std::move(v));
    if (page.next_cursor.empty()) return out;
    q.cursor = page.next_cursor;
  }
}

std::int64_t ms_of(const json& iso) {
  if (!iso.is_string()) return 0;
  auto t = parse_time(iso.get<std::string>());
  return t ? t->time_since_epoch().count() : 0;
}

// (period, level, node) -> counts; node is "GM", "T01" or "T01/V001".
using Key = std::tuple<std::string, std::string, std::string>;

struct Tally {
  std::map<Key, Counts> cells;
  std::set<std::string> townships, villages;  // "T01", "T01/V001"
  // Adds into the period's cells and, when `year`, into the "year" cells too.
  void add(const std::string& period, const std::string& level, const std::string& township,
           const std::string& village, const std::function<void(Counts&)>& f, bool year = true) {
    std::string t = township.empty() ? "GM" : township;
    townships.insert(t);
    if (!village.empty()) villages.insert(t + "/" + village);
    std::vector<std::string> ps = {period};
    if (year && period != "year") ps.push_back("year");
    std::vector<std::string> ls = {"all"};
    if (level != "all") ls.push_back(level);
    for (const auto& p : ps)
      for (const auto& l : ls) {
        f(cells[{p, l, "city"}]);
        f(cells[{p, l, t}]);
        if (!village.empty()) f(cells[{p, l, t + "/" + village}]);
      }
  }
};

}  // namespace

json compute(const Engine& engine, const std::string& end,
             const std::map<std::string, std::string>& labels) {
  Tally tally;
  json oracles = json::object();
  // The plan and the frozen denominators, from the scheduler.
  json rounds = json::array(), opened = json::array();
  std::string scheduler_id;
  if (auto s = engine.get_by_business_key("scheduler/all/2023")) {
    rounds = s->data.value("rounds", json::array());
    opened = s->data.value("opened", json::array());
    scheduler_id = s->id;
  }
  // A period's rounds: one, or several for disjoint levels and grades of the same
  // frequency. Its scope (the levels and grades its rounds name) labels it in the report: a
  // grade-C month is not a quarter of the whole city.
  std::vector<std::string> periods;
  std::map<std::string, std::int64_t> period_end;
  json scope = json::object();
  for (const auto& r : rounds) {
    std::string p = r["period"];
    if (!period_end.count(p)) periods.push_back(p);
    period_end[p] = std::min(ms_of(r["end"]), ms_of(json(end)));
    for (const char* k : {"levels", "grades"}) {
      if (!r.contains(k)) continue;
      json& names = scope[p][k];
      if (names.is_null()) names = json::array();
      for (const auto& n : r[k])
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
  std::int64_t end_ms = ms_of(json(end));

  // Supervision: one live task per binding and period (a reassigned task's continuation
  // stands for it).
  struct Where {
    std::string period, level, township, village;
  };
  std::map<std::string, Where> task_where;
  std::map<std::string, std::int64_t> spawned, counted;
  std::map<std::string, Counts> by_grade;  // the year's visits by the business's grade
  for (const auto& v : all_of(engine, "food-safety.supervision")) {
    const json& d = v.data;
    Where w{d.value("period", ""), d.value("level", ""), d.value("townshipId", ""),
            d.value("villageId", "")};
    task_where[v.id] = w;
    if (v.parent == scheduler_id) ++spawned[w.period];
    if (v.outcome == "reassigned") continue;
    ++counted[w.period];
    auto task = [&](Counts& c) {
      ++c.due;
      if (v.outcome == "exempted") ++c.exempted;
      if (v.outcome == "completed") ++c.completed, ++c.visited;
      if (v.outcome == "completed_late") ++c.completed_late, ++c.visited;
    };
    tally.add(w.period, w.level, w.township, w.village, task);
    const json& grade = d.value("baobaoGrade", json());
    task(by_grade[grade.is_string() ? grade.get<std::string>() : std::string("-")]);
  }
  // The frozen denominators, summed over a period's rounds.
  std::map<std::string, std::int64_t> frozen;
  std::vector<std::string> opened_periods;
  for (const auto& o : opened) {
    std::string p = o["period"];
    if (!frozen.count(p)) opened_periods.push_back(p);
    frozen[p] += o["due"].get<std::int64_t>();
  }
  json denominators = json::array();
  bool denominators_ok = true;
  for (const auto& p : opened_periods) {
    std::int64_t due = frozen[p];
    denominators_ok = denominators_ok && due == spawned[p] && due == counted[p];
    denominators.push_back(
        {{"period", p}, {"frozen", due}, {"spawned", spawned[p]}, {"counted", counted[p]}});
  }
  oracles["denominators"] = {{"ok", denominators_ok}, {"periods", denominators}};

  // Problems, attributed to the visit that found them; those of other sources (raised by a
  // business file or registered by a person) are counted by source on their own.
  std::int64_t closed_checked = 0, order_violations = 0;
  json by_source = json::object();
  for (const auto& v : all_of(engine, "food-safety.problem")) {
    const json& d = v.data;
    auto it = task_where.find(v.parent);
    if (d.value("source", "supervision") != "supervision") {
      json& c = by_source[d.value("source", "other")];
      if (c.is_null()) c = {{"found", 0}, {"closed", 0}};
      c["found"] = c["found"].get<std::int64_t>() + 1;
      if (v.outcome == "closed") c["closed"] = c["closed"].get<std::int64_t>() + 1;
      continue;
    }
    Where w = it != task_where.end() ? it->second : Where{"unknown", "unknown", "", ""};
    bool closed = v.outcome == "closed";
    if (closed) {
      ++closed_checked;
      std::int64_t claim = ms_of(d.value("claimedAt", json())),
                   ev = ms_of(d.value("evidenceAt", json()));
      std::int64_t re = ms_of(d.value("recheckedAt", json())),
                   done = ms_of(d.value("closedAt", json()));
      bool by_recheck =
          d.value("recheckResult", json()) == "pass" || (re && !d.contains("caseConclusion"));
      bool ok = claim && done >= claim && (!by_recheck || (ev >= claim && re >= ev && ev && re));
      if (!ok) ++order_violations;
    }
    std::int64_t took =
        closed ? ms_of(d.value("closedAt", json())) - v.created_at.time_since_epoch().count() : 0;
    tally.add(w.period, w.level, w.township, w.village, [&](Counts& c) {
      ++c.problems;
      if (closed) ++c.closed, c.close_ms += took;
      if (closed && !d.value("rectifyOverdue", false)) ++c.closed_on_time;
      if (d.contains("recheckedAt")) ++c.rechecked;
      if (d.value("reopenCount", 0) > 0) ++c.reopened;
      if (d.value("rectifyOverdue", false)) ++c.rectify_overdue;
      if (d.contains("escalatedAt")) ++c.escalated;
    });
  }
  oracles["closedProblemTimes"] = {
      {"ok", order_violations == 0}, {"closed", closed_checked}, {"violations", order_violations}};

  // Letters and lists as of each period's end (the year: as of the end of the run).
  auto as_of_periods = [&](const std::string& def,
                           const std::function<void(const InstanceView&, const std::string&)>& f) {
    for (const auto& v : all_of(engine, def)) {
      for (const auto& p : periods)
        if (auto then = engine.as_of(v.id, TimePoint(Millis(period_end[p])))) f(*then, p);
      if (auto then = engine.as_of(v.id, TimePoint(Millis(end_ms)))) f(*then, "year");
    }
  };
  as_of_periods("food-safety.commitment-letter", [&](const InstanceView& v, const std::string& p) {
    if (v.outcome == "superseded" || v.outcome == "void") return;
    const json& d = v.data;
    bool is_signed = d.contains("signedAt"), filed = v.outcome == "filed";
    tally.add(
        p, d.value("level", ""), d.value("townshipId", ""), d.value("villageId", ""),
        [&](Counts& c) { ++c.letters, c.signed_ += is_signed, c.filed += filed; }, false);
  });
  as_of_periods("food-safety.responsibility-list",
                [&](const InstanceView& v, const std::string& p) {
                  if (v.outcome == "cancelled") return;
                  const json& d = v.data;
                  bool accepted = v.outcome == "accepted";
                  tally.add(
                      p, d.value("level", ""), d.value("townshipId", ""), d.value("villageId", ""),
                      [&](Counts& c) { ++c.lists, c.lists_accepted += accepted; }, false);
                });
  // Daily records: the engine's grouped counts.
  StatsQuery sq;
  sq.definition = "food-safety.daily-record";
  sq.group_by = {"/period", "/townshipId", "/villageId", "outcome"};
  sq.max_groups = 1000000;
  for (const auto& g : engine.stats(sq).groups) {
    if (!g.key[0].is_string()) continue;
    std::string outcome = g.key[3].is_string() ? g.key[3].get<std::string>() : "";
    auto n = std::int64_t(g.count);
    tally.add(g.key[0], "all", g.key[1].is_string() ? g.key[1].get<std::string>() : "",
              g.key[2].is_string() ? g.key[2].get<std::string>() : "", [&](Counts& c) {
                c.daily += n;
                if (outcome == "on_time") c.daily_on_time += n;
                if (outcome == "late") c.daily_late += n;
                if (outcome == "missed") c.daily_missed += n;
              });
  }
  // The document.
  std::vector<std::string> all_periods = periods;
  all_periods.push_back("year");
  const std::vector<std::string> levels = {"all", "prefecture", "city", "township", "village"};
  auto node = [&](const std::string& n) {
    json by = json::object();
    for (const auto& p : all_periods) {
      json lv = json::object();
      for (const auto& l : levels) {
        auto it = tally.cells.find({p, l, n});
        lv[l] = to_json(it == tally.cells.end() ? Counts{} : it->second);
      }
      by[p] = lv;
    }
    return by;
  };
  auto label = [&](const std::string& id) {
    auto it = labels.find(id);
    return it == labels.end() ? (id == "GM" ? std::string("市级（直属）") : id) : it->second;
  };
  json townships = json::array();
  bool rollup_ok = true;
  for (const auto& t : tally.townships) {
    json villages = json::array();
    for (const auto& v : tally.villages)
      if (v.compare(0, t.size() + 1, t + "/") == 0)
        villages.push_back({{"id", v.substr(t.size() + 1)},
                            {"name", label(v.substr(t.size() + 1))},
                            {"byPeriod", node(v)}});
    townships.push_back(
        {{"id", t}, {"name", label(t)}, {"byPeriod", node(t)}, {"villages", villages}});
  }
  // Roll-up oracle: every count of the city equals the sum over townships.
  for (const auto& p : all_periods)
    for (const auto& l : levels) {
      Counts sum;
      for (const auto& t : tally.townships)
        if (auto it = tally.cells.find({p, l, t}); it != tally.cells.end()) sum.add(it->second);
      auto it = tally.cells.find({p, l, "city"});
      Counts city = it == tally.cells.end() ? Counts{} : it->second;
      if (to_json(sum).dump() != to_json(city).dump()) rollup_ok = false;
    }
  oracles["townshipRollup"] = {{"ok", rollup_ok}};

  // The office's bulletins and weekly digests, as the engine issued them (bulletin.json).
  json bulletins = json::array();
  std::size_t digests = 0;
  for (const auto& v : all_of(engine, "food-safety.bulletin")) {
    digests += v.data.value("digests", json::array()).size();
    for (const auto& b : v.data.value("bulletins", json::array()))
      bulletins.push_back({{"period", b.value("period", "")},
                           {"issuedAt", b.value("issuedAt", "")},
                           {"due", b.value("due", 0)},
                           {"visited", b.value("visited", 0)},
                           {"accepted", b.value("accepted", 0)},
                           {"late", b.value("late", 0)},
                           {"notVisited", b.value("notVisited", 0)},
                           {"laggardUnits", b.value("laggardUnits", json::array()).size()},
                           {"cadresNamed", b.value("cadres", json::array()).size()}});
  }
  // Hazards from the daily checks (hazard.json), by state: the loop closes at VERIFIED.
  json hazards = json::object();
  StatsQuery hq;
  hq.definition = "food-safety.hazard";
  hq.group_by = {"state"};
  for (const auto& g : engine.stats(hq).groups)
    if (g.key[0].is_string()) hazards[g.key[0].get<std::string>()] = g.count;

  // Risk-grade reviews (risk-review.json): how they ended, the proposed shifts, the flags
  // they collected and the deadlines they missed.
  json risk = {{"opened", 0},
               {"byState", json::object()},
               {"raised", 0},
               {"unchanged", 0},
               {"lowered", 0},
               {"flags", 0},
               {"flaggedBusinesses", 0},
               {"proposeOverdue", 0},
               {"approveOverdue", 0},
               {"returned", 0}};
  auto bump = [](json& j, const std::string& k, std::int64_t n = 1) {
    j[k] = j.value(k, std::int64_t(0)) + n;
  };
  for (const auto& v : all_of(engine, "food-safety.risk-review")) {
    bump(risk, "opened");
    bump(risk["byState"], v.state);
    const std::int64_t flags = v.data.value("flagCount", std::int64_t(0));
    bump(risk, "flags", flags);
    if (flags > 0) bump(risk, "flaggedBusinesses");
    if (v.data.value("proposeOverdue", false)) bump(risk, "proposeOverdue");
    if (v.data.value("approveOverdue", false)) bump(risk, "approveOverdue");
    if (v.data.value("returnCount", std::int64_t(0)) > 0) bump(risk, "returned");
    if (v.state == "APPROVED") {
      const std::int64_t shift = v.data.value("proposedShift", std::int64_t(0));
      bump(risk, shift > 0 ? "raised" : shift < 0 ? "lowered" : "unchanged");
    }
  }
  // Status changes (status-change.json) by kind: reports, late reports, outcomes,
  // re-bindings past their 7 working days and escalations.
  json changes = json::object();
  for (const auto& v : all_of(engine, "food-safety.status-change")) {
    json& k = changes[v.data.value("kind", "?")];
    if (k.is_null())
      k = {{"reported", 0},
           {"reportedLate", 0},
           {"byState", json::object()},
           {"rebindOverdue", 0},
           {"escalated", 0}};
    bump(k, "reported");
    bump(k["byState"], v.state);
    if (v.data.value("reportedLate", false)) bump(k, "reportedLate");
    if (v.data.value("rebindOverdue", false)) bump(k, "rebindOverdue");
    if (v.data.value("escalated", false)) bump(k, "escalated");
  }

  json grades = json::object();
  for (const auto& [g, c] : by_grade)
    grades[g] = {{"due", c.due},
                 {"exempted", c.exempted},
                 {"completed", c.completed},
                 {"completedLate", c.completed_late},
                 {"businessesVisited", c.visited},
                 {"coverage", rate(c.visited, c.due - c.exempted)},
                 {"supervisionOnTime", rate(c.completed, c.due - c.exempted)}};
  return {{"periods", all_periods},
          {"periodScope", scope},
          {"levels", levels},
          {"supervisionByGrade", grades},
          {"statsAsOf", end},
          {"city", {{"id", "GM"}, {"name", label("GM")}, {"byPeriod", node("city")}}},
          {"townships", townships},
          {"problemsBySource", by_source},
          {"bulletins", {{"issued", bulletins}, {"digests", digests}}},
          {"hazardsByState", hazards},
          {"riskReviews", risk},
          {"statusChanges", changes},
          {"oracles", oracles}};
}

}  // namespace bihuan::cli::sim
