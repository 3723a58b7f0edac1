// Business self-management (日管控、周排查、月调度) on the virtual clock: a daily record on
// time (zero-risk counts), late until noon, missed with alerts to the officer at 20:00,
// the director next morning and, on a third consecutive miss, the cadre and station; the
// weekly report's author guard, grace and miss; the monthly minutes' principal guard.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

json sm_day(const std::string& date, int streak = 0) {
  return {{"businessId", "B0001"},  {"businessName", "张记小吃"},
          {"date", date},           {"officerId", "o-1"},
          {"directorId", "d-1"},    {"principalId", "p-1"},
          {"cadreId", "c-1"},       {"stationId", "st-1"},
          {"missedStreak", streak}, {"unitPath", "HX/GM/T01/V001"}};
}

class SelfManagementTest : public FoodSafetyTest {
 protected:
  const char* start_time() const override { return "2023-05-08T08:00:00+08:00"; }
};

TEST_F(SelfManagementTest, AZeroRiskDailyRecordOnTime) {
  auto id = begin("food-safety.daily-record", sm_day("2023-05-08"), "daily/B0001/2023-05-08");
  EXPECT_EQ(engine_->get(id)->deadline, at("2023-05-09T00:00:00+08:00"));
  EXPECT_EQ(act(id, "submit", officer("o-2"), {{"zeroRisk", true}}).error, StepError::not_found)
      << "another business's officer does not see the record";
  EXPECT_EQ(act(id, "submit", officer("o-1"), {{"zeroRisk", false}}).error,
            StepError::payload_invalid)
      << "a day with risks must list its hazards";
  ok(id, "submit", officer("o-1"), {{"zeroRisk", true}});
  auto v = engine_->get(id);
  EXPECT_EQ(v->outcome, "on_time");
  EXPECT_EQ(v->data["zeroRisk"], true);
  go("2023-05-10T00:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "o-1"), 0u) << "no reminder after the record";
}

TEST_F(SelfManagementTest, HazardsAreReportedToTheDirectorAndPrincipal) {
  auto id = begin("food-safety.daily-record", sm_day("2023-05-08"));
  ok(id, "submit", director("d-1"),
     {{"zeroRisk", false},
      {"hazards", {{{"description", "冷藏温度偏高"}, {"measure", "调整温控"}}}}});
  EXPECT_EQ(data(id)["hazardCount"], 1);
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "d-1", "风险隐患"), 1u);
  EXPECT_EQ(count_to(notes, "p-1", "风险隐患"), 1u);
}

TEST_F(SelfManagementTest,
       AMissedDayRemindsTheOfficerThenTheDirectorAndMayBeRecordedLateUntilNoon) {
  auto late = begin("food-safety.daily-record", sm_day("2023-05-08"));
  go("2023-05-08T20:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "o-1", "尚未填写"), 1u);
  go("2023-05-09T00:00:00+08:00");
  EXPECT_EQ(state(late), "LATE_WINDOW");
  go("2023-05-09T08:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "d-1", "未填写"), 1u);
  ok(late, "submit", officer("o-1"), {{"zeroRisk", true}});
  EXPECT_EQ(engine_->get(late)->outcome, "late");
}

TEST_F(SelfManagementTest, AThirdConsecutiveMissAlertsTheCadreAndTheStation) {
  auto first = begin("food-safety.daily-record", sm_day("2023-05-08", 0));
  auto third = begin("food-safety.daily-record", sm_day("2023-05-09", 2));
  go("2023-05-10T12:00:00+08:00");
  EXPECT_EQ(engine_->get(first)->outcome, "missed");
  EXPECT_EQ(engine_->get(third)->outcome, "missed");
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "d-1", "漏记"), 2u);
  EXPECT_EQ(count_to(notes, "c-1", "连续 3 天"), 1u) << "only the third consecutive miss";
  EXPECT_EQ(count_to(notes, "st-1", "连续 3 天"), 1u);
}

json week() {
  return {{"businessId", "B0001"}, {"businessName", "张记小吃"}, {"weekStart", "2023-05-08"},
          {"authorIds", {"d-1"}},  {"principalId", "p-1"},       {"unitPath", "HX/GM/T01/V001"}};
}
json weekly_report() {
  return {
      {"daysDone", 6}, {"daysMissing", 1}, {"openHazards", 0}, {"summary", "本周排查无重大隐患"}};
}

TEST_F(SelfManagementTest, TheWeeklyReportIsFiledByItsAuthorOrMissedAfterGrace) {
  auto filed = begin("food-safety.weekly-report", week());
  EXPECT_EQ(act(filed, "submit", officer("o-1"), weekly_report()).error, StepError::not_found)
      << "a business that needs a director: the director files (and the officer does not "
         "see the report)";
  EXPECT_EQ(
      act(filed, "submit", Actor{"o-1", {"OFFICER"}, {{"unit", "HX/GM/T01/V001"}}}, weekly_report())
          .error,
      StepError::actor_not_allowed);
  ok(filed, "submit", director("d-1"), weekly_report());
  EXPECT_EQ(engine_->get(filed)->outcome, "on_time");

  json other = week();
  other["businessId"] = "B0002";
  auto missed = begin("food-safety.weekly-report", other);
  go("2023-05-14T00:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "d-1", "尚未填报"), 1u)
      << "only the open report is reminded (T-1d)";
  go("2023-05-15T00:00:00+08:00");
  EXPECT_EQ(state(missed), "GRACE");
  go("2023-05-16T00:00:00+08:00");  // one working day of grace
  auto v = engine_->get(missed);
  EXPECT_EQ(v->outcome, "missed");
  EXPECT_EQ(v->data["markForSupervision"], true);
  EXPECT_EQ(count_to(take_notes(), "p-1", "未填报"), 1u);
}

TEST_F(SelfManagementTest, MonthlyMinutesNeedThePrincipalPresentAndAPlan) {
  json month = {{"businessId", "B0001"},       {"businessName", "张记小吃"},
                {"month", "2023-05"},          {"monthEnd", "2023-06-01T00:00:00+08:00"},
                {"principalId", "p-1"},        {"authorIds", {"p-1", "d-1"}},
                {"unitPath", "HX/GM/T01/V001"}};
  auto id = begin("food-safety.monthly-minutes", month);
  json minutes = {{"heldOn", "2023-05-29"},
                  {"attendees", {"d-1", "o-1"}},
                  {"summary", "本月调度"},
                  {"nextMonthPlan", "六月重点排查冷链"}};
  auto r = act(id, "hold", director("d-1"), minutes);
  EXPECT_EQ(r.error, StepError::guard_false);
  FS_EXPECT_HAS(r.message, "月调度会议须由主要负责人参加");
  minutes["attendees"].push_back("p-1");
  ok(id, "hold", director("d-1"), minutes);
  EXPECT_EQ(engine_->get(id)->outcome, "held");

  month["businessId"] = "B0002";
  auto missed = begin("food-safety.monthly-minutes", month);
  go("2023-06-01T00:00:00+08:00");
  EXPECT_EQ(engine_->get(missed)->outcome, "missed");
  EXPECT_EQ(count_to(take_notes(), "p-1", "列入下次"), 1u);
}

}  // namespace
