// Hazard (隐患) of a daily record on the virtual clock: the daily record's submit spawns one
// food-safety.hazard per listed hazard (forEach); a hazard fixed on the spot starts
// mitigated; the fix deadline counts working days across the Dragon Boat holiday; only the
// officer or director mitigates, only the director or principal verifies, never who fixed
// it and not on the same day; a failed verification reopens it with a new deadline; an
// unfixed hazard past its deadline is marked on the business file (no second problem).
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

const char* kHzUnit = "HX/GM/T01/V001";

json hz_day(const std::string& date) {
  return {{"businessId", "B0001"}, {"businessName", "张记小吃"}, {"date", date},
          {"officerId", "o-1"},    {"directorId", "d-1"},        {"principalId", "p-1"},
          {"cadreId", "c-1"},      {"stationId", "st-1"},        {"missedStreak", 0},
          {"unitPath", kHzUnit}};
}
json hz_file() {
  return {{"businessId", "B0001"},    {"businessName", "张记小吃"}, {"unitPath", kHzUnit},
          {"stationId", "st-1"},      {"adminId", "adm-t1"},        {"cadreId", "c-1"},
          {"principalId", "p-1"},     {"officerId", "o-1"},         {"directorId", "d-1"},
          {"requiresDirector", false}};
}

class HazardTest : public FoodSafetyTest {
 protected:
  // Monday before the Dragon Boat holiday (Jun 22-23 off, Sunday Jun 25 a make-up day).
  const char* start_time() const override { return "2023-06-19T10:00:00+08:00"; }
  // Today's daily record, submitted by the officer with `hazards`: returns the record id.
  std::string record_with(json hazards, const char* event_date = "2023-06-19") {
    auto rec = begin("food-safety.daily-record", hz_day(event_date));
    ok(rec, "submit", officer("o-1"), {{"zeroRisk", false}, {"hazards", std::move(hazards)}});
    engine_->advance_to(clock_->now());
    return rec;
  }
  std::string hazard(const std::string& rec, int n) {
    auto v = engine_->get_by_business_key(rec + "/H" + std::to_string(n));
    EXPECT_TRUE(v) << "no hazard H" << n << " of " << rec;
    return v ? v->id : "";
  }
};

TEST_F(HazardTest, ADailyRecordSpawnsOneHazardPerIssueAndAnOnTheSpotFixStartsMitigated) {
  take_notes();
  auto rec = record_with(
      {{{"description", "冷藏柜温度偏高"}, {"measure", "食材转移至备用冷柜"}},
       {{"description", "地面湿滑"}, {"measure", "放置警示牌"}, {"fixedOnSpot", true}}});
  EXPECT_EQ(engine_->get(rec)->outcome, "on_time");
  EXPECT_EQ(by_definition("food-safety.hazard").size(), 2u);
  auto h1 = hazard(rec, 1), h2 = hazard(rec, 2);
  EXPECT_EQ(state(h1), "OPEN");
  json d = data(h1);
  EXPECT_EQ(d["recordId"], rec);
  EXPECT_EQ(d["measure"], "食材转移至备用冷柜");
  EXPECT_EQ(d["unitPath"], kHzUnit);
  // 3 working days from Monday 10:00: Jun 20, 21, then (22-24 off) the make-up Sunday 25.
  EXPECT_EQ(d["fixDeadline"], "2023-06-25T10:00:00+08:00");
  EXPECT_EQ(state(h2), "MITIGATED") << "fixed on the spot";
  EXPECT_EQ(data(h2)["mitigatedBy"], "o-1");
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "d-1", "冷藏柜温度偏高"), 1u) << "reported to the director";
  EXPECT_EQ(count_to(notes, "p-1", "冷藏柜温度偏高"), 1u) << "and to the principal";

  // A zero-risk day spawns nothing; a late record's hazards are tracked too.
  auto clean = begin("food-safety.daily-record", hz_day("2023-06-20"));
  ok(clean, "submit", officer("o-1"), {{"zeroRisk", true}});
  auto late = begin("food-safety.daily-record", hz_day("2023-06-21"));
  go("2023-06-22T09:00:00+08:00");
  ASSERT_EQ(state(late), "LATE_WINDOW");
  ok(late, "submit", officer("o-1"),
     {{"zeroRisk", false}, {"hazards", {{{"description", "消毒记录缺失"}, {"measure", "补记"}}}}});
  engine_->advance_to(clock_->now());
  EXPECT_EQ(by_definition("food-safety.hazard").size(), 3u);
  EXPECT_EQ(state(hazard(late, 1)), "OPEN");
}

TEST_F(HazardTest, OnlyTheOfficerOrDirectorMitigatesAndOnlyAnotherPersonVerifiesOnALaterDay) {
  auto rec = record_with({{{"description", "冷藏柜温度偏高"}, {"measure", "转移食材"}}});
  auto h = hazard(rec, 1);
  EXPECT_EQ(act(h, "mitigate", principal("p-1"), {{"note", "已维修"}}).error,
            StepError::role_not_allowed);
  EXPECT_EQ(act(h, "mitigate", cadre("c-1"), {{"note", "已维修"}}).error,
            StepError::role_not_allowed);
  EXPECT_EQ(act(h, "mitigate", officer("o-2"), {{"note", "已维修"}}).error, StepError::not_found)
      << "another business's officer does not see it";
  EXPECT_EQ(act(h, "mitigate", officer("o-1"), json::object()).error, StepError::payload_invalid);
  clock_->set(at("2023-06-19T15:00:00+08:00"));
  ok(h, "mitigate", director("d-1"), {{"note", "已维修压缩机"}});
  EXPECT_EQ(state(h), "MITIGATED");
  EXPECT_EQ(data(h)["mitigatedBy"], "d-1");
  EXPECT_EQ(data(h)["mitigatedLate"], false);

  EXPECT_EQ(act(h, "verify", officer("o-1")).error, StepError::role_not_allowed);
  EXPECT_EQ(act(h, "verify", principal("p-1")).error, StepError::guard_false)
      << "the same day is not a later daily check";
  clock_->set(at("2023-06-20T09:00:00+08:00"));
  auto r = act(h, "verify", director("d-1"));
  EXPECT_EQ(r.error, StepError::guard_false) << "who fixed it does not verify it";
  FS_EXPECT_HAS(r.message, "整改人以外");
  EXPECT_EQ(act(h, "verify", principal("p-9")).error, StepError::not_found);
  ok(h, "verify", principal("p-1"), {{"note", "温度正常"}});
  auto v = engine_->get(h);
  EXPECT_EQ(v->outcome, "verified");
  EXPECT_EQ(v->data["verifiedBy"], "p-1");
  EXPECT_EQ(v->data.value("overdue", false), false);
}

TEST_F(HazardTest, AFailedVerificationReopensWithANewWorkingDayDeadline) {
  auto rec = record_with({{{"description", "防鼠网破损"}, {"measure", "临时封堵"}}});
  auto h = hazard(rec, 1);
  ok(h, "mitigate", officer("o-1"), {{"note", "已更换"}});
  clock_->set(at("2023-06-21T10:00:00+08:00"));  // Wednesday
  EXPECT_EQ(act(h, "reopen", director("d-1"), json::object()).error, StepError::payload_invalid)
      << "a reason is required";
  ok(h, "reopen", director("d-1"), {{"reason", "仍有缝隙"}, {"deadlineDays", 1}});
  EXPECT_EQ(state(h), "OPEN");
  json d = data(h);
  EXPECT_EQ(d["reopenCount"], 1);
  // 1 working day from Wednesday: Thursday and Friday are the holiday, Saturday a rest day.
  EXPECT_EQ(d["fixDeadline"], "2023-06-25T10:00:00+08:00");
  go("2023-06-25T09:59:00+08:00");
  EXPECT_FALSE(data(h).value("overdue", false));
  go("2023-06-25T10:00:00+08:00");
  EXPECT_TRUE(data(h)["overdue"].get<bool>());
  EXPECT_EQ(state(h), "OPEN") << "a missed deadline does not move the hazard";
  clock_->set(at("2023-06-26T10:00:00+08:00"));
  ok(h, "mitigate", officer("o-1"), {{"note", "已彻底更换"}});
  EXPECT_EQ(data(h)["mitigatedLate"], true);
}

TEST_F(HazardTest, AnUnfixedHazardPastItsDeadlineIsMarkedOnTheBusinessFile) {
  auto biz = begin("food-safety.business", hz_file(), "biz/B0001");
  auto rec = record_with({{{"description", "冷藏柜温度偏高"}, {"measure", "转移食材"}}});
  auto h = hazard(rec, 1);
  take_notes();
  // Without the holiday the third working day would be Thursday Jun 22.
  go("2023-06-24T12:00:00+08:00");
  EXPECT_FALSE(data(h).value("overdue", false));
  EXPECT_EQ(data(biz)["markCount"], nullptr);
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "o-1", "明日届满"), 1u) << "the reminder, a day before";
  EXPECT_EQ(count_to(notes, "d-1", "明日届满"), 1u);
  go("2023-06-25T10:00:00+08:00");
  EXPECT_TRUE(data(h)["overdue"].get<bool>());
  json f = data(biz);
  ASSERT_EQ(f["marked"].size(), 1u);
  EXPECT_EQ(f["marked"][0]["source"], "hazard");
  EXPECT_EQ(f["marked"][0]["ref"], h);
  FS_EXPECT_HAS(f["marked"][0]["note"].get<std::string>(), "冷藏柜温度偏高");
  EXPECT_EQ(f["problemsRaised"], 0) << "the hazard is tracked itself: no second problem";
  EXPECT_TRUE(by_definition("food-safety.problem").empty());
  notes = take_notes();
  EXPECT_EQ(count_to(notes, "c-1", "隐患逾期未整改（期限"), 1u) << "the cadre hears of it";
  EXPECT_EQ(count_to(notes, "c-1", "列入下次包保督导重点"), 2u) << "and of the file's mark";
}

TEST_F(HazardTest, AFixLeftUnverifiedForTwoWorkingDaysIsFlagged) {
  auto rec = record_with(
      {{{"description", "地面湿滑"}, {"measure", "放置警示牌"}, {"fixedOnSpot", true}}});
  auto h = hazard(rec, 1);
  ASSERT_EQ(state(h), "MITIGATED");
  go("2023-06-21T09:00:00+08:00");
  EXPECT_FALSE(data(h).value("verifyOverdue", false));
  take_notes();
  go("2023-06-21T10:00:00+08:00");  // Jun 20, 21
  EXPECT_TRUE(data(h)["verifyOverdue"].get<bool>());
  EXPECT_EQ(count_to(take_notes(), "p-1", "仍未核实"), 1u);
  clock_->set(at("2023-06-26T09:00:00+08:00"));
  EXPECT_EQ(act(h, "verify", officer("o-1")).error, StepError::role_not_allowed);
  ok(h, "verify", director("d-1"));
  EXPECT_EQ(engine_->get(h)->outcome, "verified");
}

}  // namespace
