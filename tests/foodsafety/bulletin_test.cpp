// The bulletin (通报) and weekly digest on the virtual clock: the engine counts its own
// supervision tasks and problems through the built-in "engine" data source, delivered
// by the real dispatcher; the bulletin names the units and cadres behind, stays within
// its office's unit, and a wrong query is a clear, retried failure.
#include "bihuan/dispatcher.hpp"
#include "bihuan/engine_source.hpp"
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

json bulletin_visit(const std::string& binding, const std::string& cadre_id,
                    const std::string& name, const std::string& township) {
  return {{"bindingId", binding},
          {"cadreId", cadre_id},
          {"cadreName", name},
          {"level", "village"},
          {"businessId", "B-" + binding},
          {"businessName", "店" + binding},
          {"businessType", "small_restaurant"},
          {"riskLevel", "B"},
          {"baobaoGrade", "D"},
          {"principalId", "p-" + binding},
          {"period", "2023Q2"},
          {"periodStart", "2023-04-01T00:00:00+08:00"},
          {"periodEnd", "2023-06-30T23:59:59+08:00"},
          {"checklist", {"staff"}},
          {"adminId", "adm-" + township},
          {"upperAdminId", "adm-city"},
          {"stationId", "st-1"},
          {"townshipId", township},
          {"unitPath", "HX/GM/" + township + "/V1"},
          {"villageId", "V1"}};
}

json bulletin_plan(const std::string& unit = "HX/GM") {
  return {{"unitPath", unit},
          {"adminId", "adm-city"},
          {"recipients", {"adm-T01", "adm-T02"}},
          {"periods", {{{"period", "2023Q2"}, {"issueAt", "2023-07-07T09:00:00+08:00"}}}},
          {"next", 0},
          {"digestFrom", "2023-04-03T09:00:00+08:00"}};
}

class BulletinTest : public FoodSafetyTest {
 protected:
  const char* start_time() const override { return "2023-03-20T09:00:00+08:00"; }

  // Three visits: c-1 (T01) has two and does one; c-2 (T02) has one and does none.
  void visits() {
    a_ = begin("food-safety.supervision", bulletin_visit("b1", "c-1", "王一", "T01"),
               "sup/2023Q2/b1");
    b_ = begin("food-safety.supervision", bulletin_visit("b2", "c-1", "王一", "T01"),
               "sup/2023Q2/b2");
    c_ = begin("food-safety.supervision", bulletin_visit("b3", "c-2", "李二", "T02"),
               "sup/2023Q2/b3");
    go("2023-05-10T10:00:00+08:00");
    ok(a_, "check_in", cadre("c-1"), {{"lat", 36.4}, {"lng", 94.9}, {"mode", "ONSITE"}});
    ok(a_, "submit", cadre("c-1"),
       {{"answers", json::array({{{"itemId", "staff"}, {"compliant", true}}})}});
  }
  // Delivers what is due on the engine's own channel (the real dispatcher) until none is.
  void deliver() {
    Dispatcher d(*engine_, Dispatcher::channels_of(PluginRegistry{}, EngineConfig{}));
    while (d.run_once() > 0) {
    }
  }
  std::string a_, b_, c_;
};

TEST_F(BulletinTest, TheBulletinNamesTheUnitsAndCadresBehindFromTheEnginesOwnCases) {
  visits();
  auto id = begin("food-safety.bulletin", bulletin_plan(), "bulletin/HX/GM/2023");
  EXPECT_EQ(state(id), "WAITING");
  go("2023-07-07T09:00:00+08:00");
  EXPECT_EQ(state(id), "COUNTING_UNITS");
  deliver();
  ASSERT_EQ(state(id), "DONE") << data(id).dump();
  json b = data(id)["bulletins"][0];
  EXPECT_EQ(b["period"], "2023Q2");
  EXPECT_EQ(b["due"], 3);
  EXPECT_EQ(b["visited"], 1);
  EXPECT_EQ(b["notVisited"], 2);
  EXPECT_EQ(b["accepted"], 1) << "accepted by the office five working days after the submit";
  ASSERT_EQ(b["laggardUnits"].size(), 2u);
  // Each township's own figures; the cadres behind, most tasks not visited first.
  json t01 = b["units"][0]["township"] == "T01" ? b["units"][0] : b["units"][1];
  EXPECT_EQ(t01["due"], 2);
  EXPECT_EQ(t01["visited"], 1);
  EXPECT_EQ(t01["notVisited"], 1);
  ASSERT_EQ(b["cadres"].size(), 2u);
  EXPECT_EQ(b["cadres"][0]["notVisited"], 1);
  std::set<std::string> named = {b["cadres"][0]["cadreId"], b["cadres"][1]["cadreId"]};
  EXPECT_EQ(named, (std::set<std::string>{"c-1", "c-2"}));
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "adm-city", "未完成干部：李二（c-2，T02）未督导 1 户"), 1u);
  EXPECT_EQ(count_to(notes, "adm-T02", "应督导 3 户，已督导 1 户"), 1u);
  // The count is kept with the instance: the rows are in the step's history entry.
  auto h = engine_->history(id);
  EXPECT_EQ(h.back().event, "cadres_counted");
  EXPECT_EQ(h.back().payload["rows"].size(), 2u);
}

TEST_F(BulletinTest, AFinishedRoundGetsABulletinWithNobodyBehind) {
  visits();
  ok(a_, "accept", admin("adm-T01"));
  auto id = begin("food-safety.bulletin", bulletin_plan("HX/GM/T01"), "bulletin/HX/GM/T01/2023");
  // Visited after the period's end, two days before the bulletin: not accepted yet.
  go("2023-07-05T10:00:00+08:00");
  ok(b_, "check_in", cadre("c-1"), {{"lat", 36.4}, {"lng", 94.9}, {"mode", "ONSITE"}});
  ok(b_, "submit", cadre("c-1"),
     {{"answers", json::array({{{"itemId", "staff"}, {"compliant", true}}})}});
  go("2023-07-07T09:00:00+08:00");
  deliver();
  ASSERT_EQ(state(id), "DONE");
  json b = data(id)["bulletins"][0];
  EXPECT_EQ(b["due"], 2) << "a township's bulletin counts only its own unit";
  EXPECT_EQ(b["visited"], 2);
  EXPECT_EQ(b["accepted"], 1) << "visited and accepted by the office are separate figures";
  EXPECT_EQ(b["notVisited"], 0);
  EXPECT_TRUE(b["cadres"].empty());
  EXPECT_EQ(count_to(take_notes(), "adm-city", "全部包保干部均已完成本期督导"), 1u);
}

TEST_F(BulletinTest, TheWeeklyDigestCountsTheOpenProblemsEveryWeek) {
  auto id = begin("food-safety.bulletin", bulletin_plan(), "bulletin/HX/GM/2023");
  go("2023-05-09T09:00:00+08:00");
  deliver();  // the digests of 3 April to 8 May: nothing to count yet
  visits();
  ok(b_, "check_in", cadre("c-1"), {{"lat", 36.4}, {"lng", 94.9}, {"mode", "ONSITE"}});
  ok(b_, "submit", cadre("c-1"),
     {{"answers", json::array({{{"itemId", "staff"},
                                {"compliant", false},
                                {"note", "健康证过期"},
                                {"severity", "minor"}}})}});
  go("2023-05-15T09:00:00+08:00");  // the Monday digest after the problem
  deliver();
  json d = data(id);
  ASSERT_TRUE(d.contains("lastDigest")) << d.dump();
  EXPECT_EQ(d["lastDigest"]["open"], 1);
  EXPECT_EQ(d["lastDigest"]["overdue"], 1) << "not claimed within two working days";
  EXPECT_EQ(d["lastDigest"]["rows"][0]["unit"], "HX/GM/T01");
  // Weekly digests from 3 April: 3, 10, ... 15 May (7 of them; the first six found none).
  EXPECT_EQ(d["digests"].size(), 7u);
  EXPECT_EQ(d["digests"][0]["count"], 0);
  EXPECT_EQ(state(id), "WAITING") << "a digest does not move the bulletin";
  EXPECT_EQ(count_to(take_notes(), "adm-T01", "未办结 1 件"), 1u);
}

TEST_F(BulletinTest, AQueryOutsideItsUnitIsRefusedWithThePointerAndRetried) {
  auto id = begin("food-safety.bulletin", bulletin_plan("HX/GM/T01"), "bulletin/HX/GM/T01/2023");
  // The engine source itself: the asking instance's unit bounds what it may count.
  auto r = query_engine(*engine_, id, "count",
                        {{"definition", "food-safety.supervision"}, {"unit", "HX/GM"}});
  EXPECT_FALSE(r.ok());
  FS_EXPECT_HAS(r.body, "input/unit: expected a unit at or below the asking instance's unit");
  r = query_engine(*engine_, id, "count",
                   {{"definition", "food-safety.problem"}, {"groupBy", {{"x", "size"}}}});
  FS_EXPECT_HAS(r.body, "input/groupBy/x: expected a field");
  r = query_engine(*engine_, id, "count",
                   {{"definition", "food-safety.problem"}, {"having", {{"late", 1}}}});
  FS_EXPECT_HAS(r.body, "input/having/late: expected \"count\" or a name under counts");
  r = query_engine(*engine_, id, "count", {{"definitions", "x"}});
  FS_EXPECT_HAS(r.body, "input/definitions: unknown member");
  r = query_engine(*engine_, id, "list", json::object());
  FS_EXPECT_HAS(r.body, "has no query \"list\"");
  r = query_engine(*engine_, "00000000000000ff", "count", {{"definition", "x"}});
  FS_EXPECT_HAS(r.body, "the asking instance 00000000000000ff is not in the engine");
  // With no groupBy: one row, zeros included.
  r = query_engine(*engine_, id, "count",
                   {{"definition", "food-safety.supervision"},
                    {"counts", {{"open", {{"category", {"open"}}}}}}});
  ASSERT_TRUE(r.ok()) << r.body;
  EXPECT_EQ(r.value, json::parse(R"([{"count":0,"open":0}])"));
}

}  // namespace

namespace {

// Its counts are read by its readers, so only an office covering the unit may start one.
TEST_F(BulletinTest, OnlyAnOfficeCoveringTheUnitStartsItsBulletin) {
  StartRequest r;
  r.definition = "food-safety.bulletin";
  r.data = bulletin_plan("HX/GM");
  r.actor = admin("adm-T01", "HX/GM/T01");
  EXPECT_EQ(engine_->start(r).error, StepError::start_not_allowed)
      << "a township office may not count the city";
  r.actor = {"adm-T01", {"admin"}, {{"unit", "HX/GM/T01"}}};
  EXPECT_EQ(engine_->start(r).error, StepError::start_not_allowed)
      << "nor may a unit administrator of the township";
  r.actor = admin("adm-x", "HX/GMX");
  EXPECT_EQ(engine_->start(r).error, StepError::start_not_allowed) << "a unit by whole segments";
  r.actor = admin("adm-city");  // no unit
  EXPECT_EQ(engine_->start(r).error, StepError::start_not_allowed);
  r.actor = admin("adm-city", "HX/GM");
  EXPECT_TRUE(engine_->start(r).ok());
  r.data = bulletin_plan("HX/GM/T01");
  r.actor = admin("adm-T01", "HX/GM/T01");
  EXPECT_TRUE(engine_->start(r).ok()) << "its own township";
}

}  // namespace
