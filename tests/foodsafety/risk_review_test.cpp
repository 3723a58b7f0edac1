// Risk-grade review (风险分级, food-safety.risk-review) on the virtual clock: one review per
// business and year (risk/<businessId>/<year>) collects the flags problems send (a failed
// sample at intake, a rectification past its deadline); the station proposes next year's
// grade, at most two grades up or one down and with a reason when it changes; the office
// approves (the business file's riskLevel changes) or returns it; working-day deadlines
// across the Dragon Boat holiday; who may start, propose, approve and cancel.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

const char* kRrUnit = "HX/GM/T01/V001";

json rr_review(const std::string& level = "B") {
  return {{"businessId", "B0001"}, {"businessName", "张记小吃"}, {"unitPath", kRrUnit},
          {"year", 2023},          {"currentLevel", level},      {"stationId", "st-1"},
          {"adminId", "adm-t1"},   {"upperAdminId", "adm-GM"},   {"cadreId", "c-1"},
          {"principalId", "p-1"}};
}
json rr_file() {
  return {{"businessId", "B0001"}, {"businessName", "张记小吃"}, {"unitPath", kRrUnit},
          {"stationId", "st-1"},   {"adminId", "adm-t1"},        {"cadreId", "c-1"},
          {"principalId", "p-1"},  {"officerId", "o-1"},         {"requiresDirector", false}};
}
json rr_problem(const std::string& source, const std::string& reporter) {
  return {{"source", source},      {"businessId", "B0001"},         {"businessName", "张记小吃"},
          {"severity", "general"}, {"description", "菌落总数超标"}, {"reporterId", reporter},
          {"stationId", "st-1"},   {"adminId", "adm-t1"},           {"principalId", "p-1"},
          {"unitPath", kRrUnit}};
}
Actor rr_office(const std::string& id, const std::string& unit) {
  return {id, {"ADMIN"}, {{"unit", unit}}};
}

class RiskReviewTest : public FoodSafetyTest {
 protected:
  // Monday before the Dragon Boat holiday (Jun 22-23 off, Sunday Jun 25 a make-up day).
  const char* start_time() const override { return "2023-06-19T09:00:00+08:00"; }
  std::string review(const std::string& level = "B") {
    return begin("food-safety.risk-review", rr_review(level), "risk/B0001/2023");
  }
};

TEST_F(RiskReviewTest, FlagsFromProblemsAreCollectedAndTheApprovedGradeReachesTheBusinessFile) {
  auto biz = begin("food-safety.business", rr_file(), "biz/B0001");
  auto rr = review("B");
  EXPECT_EQ(state(rr), "COLLECTING");
  // A failed sample registered by the station's inspector flags the business at once.
  auto sample = begin("food-safety.problem", rr_problem("sampling", "insp-1"));
  // A problem whose rectification goes past its deadline (1 working day: Jun 20).
  auto late = begin("food-safety.problem", rr_problem("supervision", "c-1"));
  ok(late, "claim", regulator("st-1"));
  ok(late, "order_rectification", inspector("insp-1"), {{"measure", "整改"}, {"deadlineDays", 1}});
  go("2023-06-20T09:00:00+08:00");
  ASSERT_TRUE(data(late)["rectifyOverdue"].get<bool>());
  json d = data(rr);
  ASSERT_EQ(d["flagCount"], 2);
  EXPECT_EQ(d["flags"][0]["source"], "sampling_failed");
  EXPECT_EQ(d["flags"][0]["ref"], sample);
  EXPECT_EQ(d["flags"][1]["source"], "rectify_overdue");
  EXPECT_EQ(d["flags"][1]["ref"], late);
  EXPECT_EQ(state(rr), "COLLECTING") << "a flag does not move the review";

  take_notes();
  ok(rr, "propose", regulator("st-1"),
     {{"riskLevel", "D"}, {"reason", "抽检不合格且整改逾期"}, {"basis", {"sampling_failed"}}});
  EXPECT_EQ(state(rr), "PROPOSED");
  EXPECT_EQ(data(rr)["proposedShift"], 2);
  EXPECT_EQ(count_to(take_notes(), "adm-t1", "B → D"), 1u);
  ok(rr, "approve", admin("adm-t1"));
  auto v = engine_->get(rr);
  EXPECT_EQ(v->outcome, "approved");
  EXPECT_EQ(v->data["newLevel"], "D");
  json f = data(biz);
  EXPECT_EQ(f["riskLevel"], "D");
  EXPECT_EQ(f["riskYear"], 2024) << "the grade applies to the next year";
  ASSERT_EQ(f["riskHistory"].size(), 1u);
  EXPECT_EQ(f["riskHistory"][0]["previous"], "B");
  EXPECT_EQ(f["riskHistory"][0]["reviewId"], rr);
  auto notes = take_notes();
  for (const char* who : {"st-1", "c-1", "p-1"})
    EXPECT_EQ(count_to(notes, who, "评定为 D 级"), 1u) << who;

  // After the review ended, a further flag is dropped and the sender's step stands.
  auto later = begin("food-safety.problem", rr_problem("sampling", "insp-1"));
  EXPECT_EQ(state(later), "PUSHED");
  EXPECT_EQ(data(rr)["flagCount"], 2);
}

TEST_F(RiskReviewTest, AProposalMovesAtMostTwoUpOrOneDownAndAChangeNeedsAReason) {
  auto rr = review("B");
  auto propose = [&](const char* level, const char* reason) {
    json p = {{"riskLevel", level}};
    if (reason) p["reason"] = reason;
    return act(rr, "propose", regulator("st-1"), p);
  };
  auto r = propose("D", nullptr);
  EXPECT_EQ(r.error, StepError::guard_false) << "a change without a reason";
  FS_EXPECT_HAS(r.message, "最多上调两级");
  EXPECT_EQ(propose("D", "").error, StepError::guard_false) << "an empty reason";
  EXPECT_EQ(propose("E", "x").error, StepError::payload_invalid);
  EXPECT_EQ(state(rr), "COLLECTING");
  ok(rr, "propose", regulator("st-1"), {{"riskLevel", "B"}});  // unchanged: no reason needed
  EXPECT_EQ(data(rr)["proposedShift"], 0);

  auto rr_c = begin(
      "food-safety.risk-review",
      [] {
        json d = rr_review("C");
        d["businessId"] = "B0002";
        return d;
      }(),
      "risk/B0002/2023");
  EXPECT_EQ(act(rr_c, "propose", regulator("st-1"), {{"riskLevel", "A"}, {"reason", "守法"}}).error,
            StepError::guard_false)
      << "two grades down";
  ok(rr_c, "propose", regulator("st-1"), {{"riskLevel", "B"}, {"reason", "连续三年守法"}});
  EXPECT_EQ(data(rr_c)["proposedShift"], -1);

  auto rr_a = begin(
      "food-safety.risk-review",
      [] {
        json d = rr_review("A");
        d["businessId"] = "B0003";
        return d;
      }(),
      "risk/B0003/2023");
  EXPECT_EQ(act(rr_a, "propose", regulator("st-1"), {{"riskLevel", "D"}, {"reason", "事故"}}).error,
            StepError::guard_false)
      << "three grades up";
  ok(rr_a, "propose", regulator("st-1"), {{"riskLevel", "C"}, {"reason", "发生食品安全事故"}});
}

TEST_F(RiskReviewTest, OnlyTheStationProposesAndOnlyItsOfficeApprovesOrReturns) {
  auto rr = review("B");
  json p = {{"riskLevel", "C"}, {"reason", "拒绝检查"}};
  EXPECT_EQ(act(rr, "propose", cadre("c-1"), p).error, StepError::role_not_allowed);
  EXPECT_EQ(act(rr, "propose", admin("adm-t1"), p).error, StepError::role_not_allowed);
  EXPECT_EQ(act(rr, "propose", regulator("st-2"), p).error, StepError::not_found)
      << "another station does not see it";
  EXPECT_EQ(act(rr, "approve", admin("adm-t1")).error, StepError::unknown_event)
      << "nothing to approve yet";
  ok(rr, "propose", regulator("st-1"), p);
  EXPECT_EQ(act(rr, "approve", regulator("st-1")).error, StepError::role_not_allowed);
  EXPECT_EQ(act(rr, "approve", rr_office("adm-t2", "HX/GM/T02")).error, StepError::not_found);
  EXPECT_EQ(act(rr, "approve", rr_office("adm-GM", "HX/GM")).error, StepError::actor_not_allowed)
      << "the city office sees it but is not the approving office";
  EXPECT_EQ(act(rr, "return", admin("adm-t1")).error, StepError::payload_invalid);
  take_notes();
  ok(rr, "return", admin("adm-t1"), {{"reason", "依据不足"}});
  EXPECT_EQ(state(rr), "RETURNED");
  EXPECT_EQ(count_to(take_notes(), "st-1", "依据不足"), 1u);
  ok(rr, "propose", regulator("st-1"),
     {{"riskLevel", "C"}, {"reason", "拒绝、阻挠检查（附笔录）"}});
  ok(rr, "approve", admin("adm-t1"));
  EXPECT_EQ(engine_->get(rr)->data["returnCount"], 1);
  EXPECT_EQ(engine_->get(rr)->outcome, "approved");
}

TEST_F(RiskReviewTest, TheProposalAndApprovalClocksCountWorkingDays) {
  auto rr = review("B");
  // 20 working days from Monday Jun 19: the holiday and the make-up Sunday move it to Jul 18
  // (weekdays alone would give Jul 14).
  go("2023-07-12T09:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "st-1", "3 日内"), 0u);
  go("2023-07-15T09:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "st-1", "3 日内"), 1u) << "reminder three days before";
  go("2023-07-17T12:00:00+08:00");
  EXPECT_FALSE(data(rr).value("proposeOverdue", false));
  go("2023-07-18T09:00:00+08:00");
  EXPECT_TRUE(data(rr)["proposeOverdue"].get<bool>());
  EXPECT_EQ(count_to(take_notes(), "adm-t1", "评定逾期"), 1u);
  EXPECT_EQ(state(rr), "COLLECTING") << "a missed deadline does not move the review";
  ok(rr, "propose", regulator("st-1"), {{"riskLevel", "B"}});
  go("2023-07-25T08:00:00+08:00");  // 5 working days: Jul 19, 20, 21, 24, 25
  EXPECT_FALSE(data(rr).value("approveOverdue", false));
  go("2023-07-25T09:00:00+08:00");
  EXPECT_TRUE(data(rr)["approveOverdue"].get<bool>());
  EXPECT_EQ(count_to(take_notes(), "adm-GM", "审核逾期"), 1u) << "the office above hears";
}

// A review opened early to collect the year's flags (version 2, `proposeBy`): the proposal
// is due then, not 20 working days after the opening; the reminder is 3 working days before.
TEST_F(RiskReviewTest, AReviewOpenedEarlyIsDueByItsProposeByDate) {
  json d = rr_review("B");
  d["proposeBy"] = "2023-08-01T18:00:00+08:00";  // a Tuesday
  auto rr = begin("food-safety.risk-review", d, "risk/B0001/2023");
  EXPECT_EQ(engine_->get(rr)->definition_version, 2);
  go("2023-07-25T09:00:00+08:00");  // past the 20 working days an opening alone would give
  EXPECT_FALSE(data(rr).value("proposeOverdue", false));
  EXPECT_EQ(count_to(take_notes(), "st-1", "3 日内"), 0u);
  go("2023-07-27T19:00:00+08:00");  // Jul 27, 28, 31, Aug 1: three working days before
  EXPECT_EQ(count_to(take_notes(), "st-1", "3 日内"), 1u);
  go("2023-08-01T17:00:00+08:00");
  EXPECT_FALSE(data(rr).value("proposeOverdue", false));
  go("2023-08-01T18:00:00+08:00");
  EXPECT_TRUE(data(rr)["proposeOverdue"].get<bool>());
  EXPECT_EQ(count_to(take_notes(), "adm-t1", "未按期提出"), 1u);
}

// Bad input: a due time that is not one is refused at the start, naming its pointer.
TEST_F(RiskReviewTest, AProposeByThatIsNotATimeIsRefusedAtTheStart) {
  json d = rr_review("B");
  d["proposeBy"] = "end of December";
  auto r = start_by("food-safety.risk-review", d, rr_office("adm-t1", "HX/GM/T01"));
  EXPECT_EQ(r.error, StepError::data_invalid);
  FS_EXPECT_HAS(r.message, "/data/proposeBy");
  FS_EXPECT_HAS(r.message, "date-time");
}

TEST_F(RiskReviewTest, TheApprovalClockSkipsTheHolidayAndAReviewCanBeCancelled) {
  auto rr = review("B");
  clock_->set(at("2023-06-21T10:00:00+08:00"));
  ok(rr, "propose", regulator("st-1"), {{"riskLevel", "A"}, {"reason", "全年无违法记录"}});
  // Jun 25 (make-up), 26, 27, 28, 29.
  go("2023-06-28T12:00:00+08:00");
  EXPECT_FALSE(data(rr).value("approveOverdue", false));
  go("2023-06-29T10:00:00+08:00");
  EXPECT_TRUE(data(rr)["approveOverdue"].get<bool>());
  EXPECT_EQ(act(rr, "cancel", cadre("c-1"), {{"reason", "x"}}).error, StepError::role_not_allowed);
  ok(rr, "cancel", admin("adm-t1"), {{"reason", "主体注销"}});
  EXPECT_EQ(engine_->get(rr)->outcome, "cancelled");
}

TEST_F(RiskReviewTest, TheOfficeCoveringTheBusinessOrItsStationOpensAReview) {
  auto start_as = [&](const Actor& who) {
    return start_by("food-safety.risk-review", rr_review(), who);
  };
  EXPECT_EQ(start_as(cadre("c-1")).error, StepError::start_not_allowed);
  EXPECT_EQ(start_as(regulator("st-2")).error, StepError::start_not_allowed);
  EXPECT_EQ(start_as(rr_office("adm-t2", "HX/GM/T02")).error, StepError::start_not_allowed);
  EXPECT_TRUE(start_as(rr_office("adm-t1", "HX/GM/T01")).ok());
  EXPECT_TRUE(start_as(regulator("st-1")).ok());
}

}  // namespace
