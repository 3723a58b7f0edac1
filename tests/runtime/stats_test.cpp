// Engine::stats groupings the dashboard reads (docs/http-api.md, "Statistics"): category,
// overdue, escalated, unit and unit:N, created:day|week|month, and the unit filter; each
// for an unscoped caller and scoped ones (a township office, a cadre), against counts
// computed here from every instance.
#include <map>

#include "engine_fixture.hpp"

namespace bihuan::testing {
namespace {

// OPEN (category open, a deadline of one day) -> WORK (compound, category open; its child
// HOT declares x-escalated) -> DONE (final, category closed). Data member `flagged`
// declares x-escalated. Unit and readers come from the data.
const char* kDef = R"({"id":"t.dash","version":1,"initial":"OPEN",
  "access":{"unit":{"var":"data.unit"},"readers":{"var":"data.readers"}},
  "dataSchema":{"type":"object","properties":{
    "flagged":{"type":"boolean","x-escalated":true},
    "unit":{"type":"string"},"readers":{"type":"array"}}},
  "states":{
    "OPEN":{"category":"open","deadline":{"after":"P1D"},
            "on":{"go":{"roles":["USER"],"target":"COOL"},
                  "flag":{"roles":["USER"],"set":{"/flagged":true}}}},
    "WORK":{"type":"compound","category":"open","initial":"COOL","states":{
      "COOL":{"on":{"heat":{"roles":["USER"],"target":"HOT"}}},
      "HOT":{"x-escalated":true,"category":"hot","on":{"close":{"roles":["USER"],"target":"DONE"}}}}},
    "DONE":{"type":"final","category":"closed","outcome":"done"}}})";

const Actor kUser{"u1", {"USER", "admin"}};

class StatsTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    deploy(kDef);
    // 2023-04-03 (Mon) 09:00 +08:00: four in HX/GM/T01, two in HX/GM/T02, one at HX/GM.
    struct Seed {
      const char* unit;
      const char* reader;
      const char* path;  // events to send
      int day;           // days after the first start
    };
    const Seed seeds[] = {
        {"HX/GM/T01/V001", "actor:CD1", "", 0},   {"HX/GM/T01/V001", "actor:CD2", "f", 0},
        {"HX/GM/T01/V002", "actor:CD1", "gh", 1}, {"HX/GM/T01/V002", "actor:CD2", "ghc", 8},
        {"HX/GM/T02/V009", "actor:CD1", "g", 8},  {"HX/GM/T02/V009", "actor:CD2", "", 30},
        {"HX/GM", "actor:CD3", "", 30},
    };
    const TimePoint t0 = at("2023-04-03T09:00:00+08:00");
    for (const auto& s : seeds) {
      clock_->set(t0 + std::chrono::days(s.day));
      auto r = start("t.dash", {{"unit", s.unit}, {"readers", {s.reader}}});
      ASSERT_TRUE(r.ok()) << r.message;
      for (char c : std::string(s.path)) {
        const char* ev = c == 'f' ? "flag" : c == 'g' ? "go" : c == 'h' ? "heat" : "close";
        auto e = send(r.instance->id, ev, json::object(), kUser);
        ASSERT_TRUE(e.ok()) << ev << ": " << e.message;
      }
    }
    // Now: 2023-05-03 21:00 +08:00. OPEN instances started before 2023-05-02 21:00 are
    // overdue (their deadline passed); the last two started 12 hours ago are not.
    clock_->set(t0 + std::chrono::days(30) + std::chrono::hours(12));
  }

  // {key values joined by "|": count} of a stats answer.
  std::map<std::string, std::uint64_t> groups(StatsQuery q, std::optional<Actor> viewer) {
    q.viewer = std::move(viewer);
    auto res = engine_->stats(q);
    EXPECT_TRUE(res.error.empty()) << res.error;
    std::map<std::string, std::uint64_t> out;
    for (const auto& g : res.groups) {
      std::string k;
      for (const auto& v : g.key)
        k += (k.empty() ? "" : "|") + (v.is_string() ? v.get<std::string>() : v.dump());
      out[k] = g.count;
    }
    return out;
  }
  std::map<std::string, std::uint64_t> by(const std::string& field,
                                          std::optional<Actor> viewer = std::nullopt,
                                          const std::string& unit = "") {
    StatsQuery q;
    q.group_by = {field};
    q.unit = unit;
    q.tz = TimeZone::load("Asia/Shanghai");
    return groups(q, std::move(viewer));
  }
  using Counts = std::map<std::string, std::uint64_t>;
};

TEST_F(StatsTest, CategoryIsTheStatesOrItsNearestAncestors) {
  // OPEN: seeds 0, 1, 5, 6; COOL (WORK's open): 4; HOT: 2; DONE: 3.
  EXPECT_EQ(by("category"), (Counts{{"open", 5}, {"hot", 1}, {"closed", 1}}));
}

TEST_F(StatsTest, OverdueIsARunningInstancePastItsDeadline) {
  // OPEN since days 0 and 0: overdue; since day 30 (12 h ago): not; COOL/HOT: no deadline.
  EXPECT_EQ(by("overdue"), (Counts{{"true", 2}, {"false", 5}}));
}

TEST_F(StatsTest, EscalatedByAStateOrADataFlagTheDefinitionDeclares) {
  // HOT (x-escalated state) and the flagged one; the closed one passed through HOT but is
  // no longer in it.
  EXPECT_EQ(by("escalated"), (Counts{{"true", 2}, {"false", 5}}));
}

TEST_F(StatsTest, UnitLevelsRollUpAndTheUnitFilterDrillsDown) {
  EXPECT_EQ(by("unit:2"), (Counts{{"HX/GM", 7}}));
  EXPECT_EQ(by("unit:3"), (Counts{{"HX/GM", 1}, {"HX/GM/T01", 4}, {"HX/GM/T02", 2}}));
  EXPECT_EQ(by("unit:4", std::nullopt, "HX/GM/T01"),
            (Counts{{"HX/GM/T01/V001", 2}, {"HX/GM/T01/V002", 2}}));
  EXPECT_EQ(by("unit", std::nullopt, "HX/GM/T02"), (Counts{{"HX/GM/T02/V009", 2}}));
  // A unit filter is a path prefix by segments: HX/GM/T0 covers nothing.
  EXPECT_EQ(by("unit", std::nullopt, "HX/GM/T0"), Counts{});
}

TEST_F(StatsTest, CreatedPeriodsInTheQuerysZone) {
  // Starts at 09:00 +08:00 on 04-03 (Mon) x2, 04-04, 04-11 x2, 05-03 x2.
  EXPECT_EQ(by("created:day"),
            (Counts{{"2023-04-03", 2}, {"2023-04-04", 1}, {"2023-04-11", 2}, {"2023-05-03", 2}}));
  EXPECT_EQ(by("created:week"), (Counts{{"2023-04-03", 3}, {"2023-04-10", 2}, {"2023-05-01", 2}}));
  EXPECT_EQ(by("created:month"), (Counts{{"2023-04", 5}, {"2023-05", 2}}));
  // In UTC 09:00 +08:00 is 01:00 the same day; a start at 07:00 +08:00 would fall on the
  // day before: the zone matters.
  StatsQuery q;
  q.group_by = {"created:day"};
  clock_->set(at("2023-05-04T07:00:00+08:00"));
  ASSERT_TRUE(start("t.dash", {{"unit", "HX/GM"}, {"readers", {"actor:CD3"}}}).ok());
  EXPECT_EQ(groups(q, std::nullopt)["2023-05-03"], 3u);
  q.tz = TimeZone::load("Asia/Shanghai");
  EXPECT_EQ(groups(q, std::nullopt)["2023-05-04"], 1u);
}

TEST_F(StatsTest, ScopedCallersCountOnlyWhatTheySee) {
  const Actor township{"adm-T01", {"ADMIN"}, {{"unit", "HX/GM/T01"}}};
  const Actor city{"adm-GM", {"ADMIN"}, {{"unit", "HX/GM"}}};
  const Actor cadre{"CD1", {"CADRE"}};
  EXPECT_EQ(by("unit:3", township), (Counts{{"HX/GM/T01", 4}}));
  EXPECT_EQ(by("unit:3", city), (Counts{{"HX/GM", 1}, {"HX/GM/T01", 4}, {"HX/GM/T02", 2}}));
  EXPECT_EQ(by("unit:3", cadre), (Counts{{"HX/GM/T01", 2}, {"HX/GM/T02", 1}}));
  // Drilling into a unit the caller does not cover counts only what it sees there.
  EXPECT_EQ(by("unit:4", township, "HX/GM/T02"), Counts{});
  EXPECT_EQ(by("unit:4", cadre, "HX/GM/T01"),
            (Counts{{"HX/GM/T01/V001", 1}, {"HX/GM/T01/V002", 1}}));
  EXPECT_EQ(by("unit:4", city, "HX/GM/T01"),
            (Counts{{"HX/GM/T01/V001", 2}, {"HX/GM/T01/V002", 2}}));
  EXPECT_EQ(by("overdue", township), (Counts{{"true", 2}, {"false", 2}}));
  EXPECT_EQ(by("escalated", cadre), (Counts{{"true", 1}, {"false", 2}}));
}

}  // namespace
}  // namespace bihuan::testing
