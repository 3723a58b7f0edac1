// Supervision visit (督导) on the virtual clock: pushed at period start, check-in guards,
// checklist guard, problems spawned per non-compliant answer (once), return and
// resubmission, overdue marker and escalation, late completion, exemption when the
// business closes, and reassignment that carries the task to the new cadre.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

json task_data(const std::string& binding = "bd-1", const std::string& risk = "B") {
  return {{"bindingId", binding},
          {"cadreId", "c-1"},
          {"cadreName", "王干部"},
          {"level", "village"},
          {"businessId", "B0001"},
          {"businessName", "张记小吃"},
          {"businessType", "small_restaurant"},
          {"riskLevel", risk},
          {"baobaoGrade", "D"},
          {"principalId", "p-1"},
          {"period", "2023Q2"},
          {"periodStart", "2023-04-01T00:00:00+08:00"},
          {"periodEnd", "2023-06-30T23:59:59+08:00"},
          {"checklist", {"staff", "hygiene", "records"}},
          {"adminId", "adm-t1"},
          {"upperAdminId", "adm-city"},
          {"stationId", "st-1"},
          {"townshipId", "T01"},
          {"unitPath", "HX/GM/T01/V001"},
          {"villageId", "V001"}};
}
json visit_check_in(const std::string& mode = "ONSITE") {
  return {{"lat", 36.4}, {"lng", 94.9}, {"mode", mode}};
}
json answers(bool all_ok) {
  json a = json::array(
      {{{"itemId", "staff"}, {"compliant", true}}, {{"itemId", "records"}, {"compliant", true}}});
  if (all_ok)
    a.push_back({{"itemId", "hygiene"}, {"compliant", true}});
  else
    a.push_back({{"itemId", "hygiene"},
                 {"compliant", false},
                 {"note", "后厨地面油污"},
                 {"severity", "minor"}});
  return {{"answers", a}};
}

class SupervisionTest : public FoodSafetyTest {
 protected:
  const char* start_time() const override { return "2023-03-20T09:00:00+08:00"; }
};

TEST_F(SupervisionTest, HappyPathIsPushedAtPeriodStartAndCompletedOnTime) {
  auto id = begin("food-safety.supervision", task_data(), "sup/2023Q2/bd-1");
  EXPECT_EQ(state(id), "SCHEDULED");
  EXPECT_EQ(act(id, "check_in", cadre("c-1"), visit_check_in()).error, StepError::unknown_event);
  go("2023-04-01T00:00:00+08:00");
  EXPECT_EQ(state(id), "OPEN");
  EXPECT_EQ(engine_->get(id)->deadline, at("2023-06-30T23:59:59+08:00"));
  EXPECT_EQ(count_to(take_notes(), "c-1", "督导任务已下达"), 1u);
  EXPECT_EQ(act(id, "check_in", cadre("c-2"), visit_check_in()).error, StepError::not_found)
      << "another cadre does not see the task";
  clock_->set(at("2023-05-10T10:00:00+08:00"));
  ok(id, "check_in", cadre("c-1"), visit_check_in());
  ok(id, "submit", cadre("c-1"), answers(true));
  EXPECT_EQ(state(id), "SUBMITTED");
  EXPECT_EQ(data(id)["problemsFound"], 0);
  ok(id, "accept", admin("adm-t1"));
  auto v = engine_->get(id);
  EXPECT_EQ(v->outcome, "completed");
  EXPECT_EQ(v->data["acceptedBy"], "adm-t1");
  EXPECT_TRUE(by_definition("food-safety.problem").empty());
  EXPECT_EQ(events(id),
            (std::vector<std::string>{"start", "period_start", "check_in", "submit", "accept"}));
}

TEST_F(SupervisionTest, RemoteVisitsAreRefusedForHighRiskBusinessesAndEveryItemMustBeAnswered) {
  auto high = begin("food-safety.supervision", task_data("bd-1", "D"));
  auto low = begin("food-safety.supervision", task_data("bd-2", "A"));
  go("2023-04-01T00:00:00+08:00");
  auto r = act(high, "check_in", cadre("c-1"), visit_check_in("REMOTE"));
  EXPECT_EQ(r.error, StepError::guard_false);
  FS_EXPECT_HAS(r.message, "不允许远程督导");
  ok(low, "check_in", cadre("c-1"), visit_check_in("REMOTE"));
  json partial = answers(true);
  partial["answers"].erase(2);
  r = act(low, "submit", cadre("c-1"), partial);
  EXPECT_EQ(r.error, StepError::guard_false);
  FS_EXPECT_HAS(r.message, "所有必查项目（含列入本次督导重点的事项）都必须填写");
  json no_note = {{"answers", {{{"itemId", "staff"}, {"compliant", false}}}}};
  EXPECT_EQ(act(low, "submit", cadre("c-1"), no_note).error, StepError::payload_invalid);
}

TEST_F(SupervisionTest, ANonCompliantAnswerSpawnsOneProblemAndAReturnDoesNotSpawnAgain) {
  auto id = begin("food-safety.supervision", task_data());
  go("2023-04-01T00:00:00+08:00");
  ok(id, "check_in", cadre("c-1"), visit_check_in());
  ok(id, "submit", cadre("c-1"), answers(false));
  EXPECT_EQ(data(id)["problemsFound"], 1);
  auto problems = by_definition("food-safety.problem");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].business_key, id + "/hygiene");
  EXPECT_EQ(problems[0].parent, id);
  EXPECT_EQ(problems[0].data["reporterId"], "c-1");
  EXPECT_EQ(problems[0].data["severity"], "minor");
  EXPECT_EQ(problems[0].data["stationId"], "st-1");

  ok(id, "return", admin("adm-t1"), {{"reason", "请补充照片"}});
  EXPECT_EQ(state(id), "CHECKED_IN");
  EXPECT_EQ(count_to(take_notes(), "c-1", "请补充照片"), 1u);
  ok(id, "submit", cadre("c-1"), answers(false));
  EXPECT_EQ(by_definition("food-safety.problem").size(), 1u)
      << "no duplicate problem on resubmission";
  EXPECT_EQ(data(id)["returnCount"], 1);
  // Without a review, the submission is accepted automatically after 5 working days.
  go("2023-04-30T00:00:00+08:00");
  EXPECT_EQ(engine_->get(id)->outcome, "completed");
  EXPECT_EQ(data(id)["acceptedBy"], "system");
}

TEST_F(SupervisionTest, OverdueMarksLateNotifiesEscalatesAndEndsCompletedLate) {
  auto id = begin("food-safety.supervision", task_data());
  go("2023-04-01T00:00:00+08:00");
  take_notes();
  go("2023-05-16T23:59:59+08:00");  // T-45d
  EXPECT_EQ(count_to(take_notes(), "c-1", "45 天"), 1u);
  go("2023-06-23T23:59:59+08:00");
  EXPECT_EQ(count_to(take_notes(), "c-1", "7 天后截止"), 1u);
  go("2023-06-30T23:59:59+08:00");
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "c-1", "明日截止"), 1u);
  EXPECT_EQ(count_to(notes, "c-1", "督导逾期"), 1u);
  EXPECT_EQ(count_to(notes, "adm-t1", "督导逾期"), 1u);
  EXPECT_EQ(data(id)["late"], true);
  EXPECT_EQ(state(id), "OPEN");
  go("2023-07-15T23:59:59+08:00");
  EXPECT_EQ(count_to(take_notes(), "adm-city", "逾期 15 天"), 1u);
  EXPECT_EQ(data(id)["escalated"], true);
  ok(id, "check_in", cadre("c-1"), visit_check_in());
  ok(id, "submit", cadre("c-1"), answers(true));
  EXPECT_EQ(act(id, "accept", admin("adm-x", "HX/GM")).error, StepError::actor_not_allowed);
  ok(id, "accept", admin("adm-city"));  // escalated: the upper office may act
  EXPECT_EQ(engine_->get(id)->outcome, "completed_late");
}

// Issue 20: only the task's own office reviews, exempts or re-binds it; the upper office
// too once the overdue task has been escalated to it (+15 days).
TEST_F(SupervisionTest, AnotherTownshipsOfficeCannotAcceptReturnExemptOrRebindTheTask) {
  auto id = begin("food-safety.supervision", task_data());
  go("2023-04-01T00:00:00+08:00");
  // Another township's office does not see the task; the city office sees it (its unit,
  // and named as the upper office) but acts only once the task is escalated to it.
  const Actor other = admin("adm-t2", "HX/GM/T02"), city = admin("adm-city", "HX/GM");
  EXPECT_EQ(act(id, "business_closed", other, {{"reason", "停业"}, {"approverId", "x"}}).error,
            StepError::not_found);
  EXPECT_EQ(act(id, "rebind", other, {{"newCadreId", "c-9"}}).error, StepError::not_found);
  EXPECT_EQ(act(id, "rebind", city, {{"newCadreId", "c-9"}}).error, StepError::actor_not_allowed);
  ok(id, "check_in", cadre("c-1"), visit_check_in());
  ok(id, "submit", cadre("c-1"), answers(true));
  EXPECT_EQ(act(id, "accept", other).error, StepError::not_found);
  EXPECT_EQ(act(id, "return", other, {{"reason", "x"}}).error, StepError::not_found);
  EXPECT_EQ(act(id, "accept", city).error, StepError::actor_not_allowed);
  EXPECT_EQ(act(id, "return", city, {{"reason", "x"}}).error, StepError::actor_not_allowed);
  ok(id, "accept", admin("adm-t1", "HX/GM/T01"));
  EXPECT_EQ(engine_->get(id)->outcome, "completed");
}

TEST_F(SupervisionTest, AClosedBusinessIsExemptedWithReasonAndApprover) {
  auto id = begin("food-safety.supervision", task_data());
  go("2023-04-01T00:00:00+08:00");
  EXPECT_EQ(act(id, "business_closed", admin("adm-t1"), {{"reason", "停业"}}).error,
            StepError::payload_invalid);
  ok(id, "business_closed", admin("adm-t1"), {{"reason", "停业"}, {"approverId", "adm-city"}});
  auto v = engine_->get(id);
  EXPECT_EQ(v->outcome, "exempted");
  EXPECT_EQ(v->data["exemptApproverId"], "adm-city");
  go("2023-08-01T00:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "c-1", "逾期"), 0u) << "no overdue notice for an exempted task";
}

TEST_F(SupervisionTest, ACadreChangeReassignsTheTaskToTheNewCadreWithTheSameDueTime) {
  auto id = begin("food-safety.supervision", task_data(), "sup/2023Q2/bd-1");
  go("2023-04-01T00:00:00+08:00");
  clock_->set(at("2023-05-08T09:00:00+08:00"));
  ok(id, "rebind", admin("adm-t1"),
     {{"newCadreId", "c-9"},
      {"newCadreName", "赵干部"},
      {"newBindingId", "bd-9"},
      {"reason", "干部调动"}});
  EXPECT_EQ(engine_->get(id)->outcome, "reassigned");
  engine_->advance_to(clock_->now());
  auto next = engine_->get_by_business_key("sup/2023Q2/bd-9");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->state, "OPEN");
  EXPECT_EQ(next->data["cadreId"], "c-9");
  EXPECT_EQ(next->data["reassignedFrom"], id);
  EXPECT_EQ(next->data["period"], "2023Q2");
  EXPECT_EQ(next->deadline, at("2023-06-30T23:59:59+08:00"));
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "c-1", "已转交"), 1u);
  EXPECT_EQ(count_to(notes, "c-9", "已转交"), 1u);
  EXPECT_EQ(count_to(notes, "c-9", "督导任务已下达"), 1u);
  EXPECT_EQ(act(next->id, "check_in", cadre("c-1"), visit_check_in()).error, StepError::not_found)
      << "the old cadre does not see the new cadre's task";
  ok(next->id, "check_in", cadre("c-9"), visit_check_in());
}

TEST_F(SupervisionTest, ABusinessNotGradedYetIsReboundToo) {
  json d = task_data();
  d.erase("riskLevel");
  d.erase("baobaoGrade");
  auto id = begin("food-safety.supervision", d, "sup/2023Q2/bd-1");
  go("2023-04-01T00:00:00+08:00");
  ok(id, "rebind", admin("adm-t1"), {{"newCadreId", "c-9"}, {"newBindingId", "bd-9"}});
  engine_->advance_to(clock_->now());
  auto next = engine_->get_by_business_key("sup/2023Q2/bd-9");
  ASSERT_TRUE(next) << "the new cadre's task starts without grades";
  EXPECT_EQ(next->data["cadreId"], "c-9");
  EXPECT_TRUE(next->data["riskLevel"].is_null());
}

}  // namespace
