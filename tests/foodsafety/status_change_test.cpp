// Business status change and re-binding (food-safety.status-change) on the virtual clock:
// the station reports a change within 15 working days of its effective day (a late report
// is flagged and told to the office above); the office re-binds within 7 working days
// (reminder, overdue, escalation that lets the office above act); a closure closes the
// business file, exempts the business's live supervision tasks and cancels this year's
// risk review; a re-binding re-binds the tasks (continued for the new cadre); a reopened
// business gets a new business file; who may start and act.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

const char* kScUnit = "HX/GM/T01/V001";

json sc_change(const std::string& kind, const std::string& effective) {
  return {{"businessId", "B0001"},
          {"businessName", "张记小吃"},
          {"unitPath", kScUnit},
          {"stationId", "st-1"},
          {"adminId", "adm-t1"},
          {"upperAdminId", "adm-GM"},
          {"kind", kind},
          {"effectiveDate", effective},
          {"cadreId", "c-1"},
          {"principalId", "p-1"},
          {"officerId", "o-1"},
          {"requiresDirector", false},
          {"taskKeys", {"sup/2023Q2/bd-1", "sup/2023Q3/bd-1"}}};
}
Actor sc_office(const std::string& id, const std::string& unit) {
  return {id, {"ADMIN"}, {{"unit", unit}}};
}

class StatusChangeTest : public FoodSafetyTest {
 protected:
  // Monday before the Dragon Boat holiday (Jun 22-23 off, Sunday Jun 25 a make-up day).
  const char* start_time() const override { return "2023-06-19T09:00:00+08:00"; }
  // The business's file, this year's risk review and its two live visits (Q2 open, Q3
  // scheduled).
  void business() {
    biz_ = begin("food-safety.business",
                 {{"businessId", "B0001"},
                  {"businessName", "张记小吃"},
                  {"unitPath", kScUnit},
                  {"stationId", "st-1"},
                  {"adminId", "adm-t1"},
                  {"cadreId", "c-1"},
                  {"principalId", "p-1"},
                  {"officerId", "o-1"},
                  {"requiresDirector", false}},
                 "biz/B0001");
    rr_ = begin("food-safety.risk-review",
                {{"businessId", "B0001"},
                 {"unitPath", kScUnit},
                 {"year", 2023},
                 {"currentLevel", "B"},
                 {"stationId", "st-1"},
                 {"adminId", "adm-t1"}},
                "risk/B0001/2023");
    q2_ = begin("food-safety.supervision",
                fs_visit("2023Q2", "2023-04-01T00:00:00+08:00", "2023-06-30T23:59:59+08:00"),
                "sup/2023Q2/bd-1");
    q3_ = begin("food-safety.supervision",
                fs_visit("2023Q3", "2023-07-01T00:00:00+08:00", "2023-09-30T23:59:59+08:00"),
                "sup/2023Q3/bd-1");
    ASSERT_EQ(state(q2_), "OPEN");
    ASSERT_EQ(state(q3_), "SCHEDULED");
  }
  // The station reports the change (as the station account).
  std::string report(const json& d) {
    auto res = start_by("food-safety.status-change", d, regulator("st-1"));
    EXPECT_TRUE(res.ok()) << res.message << " " << res.details.dump();
    engine_->advance_to(clock_->now());
    return res.instance ? res.instance->id : "";
  }
  std::string biz_, rr_, q2_, q3_;
};

TEST_F(StatusChangeTest, AClosureClosesTheFileExemptsTheVisitsAndCancelsTheRiskReview) {
  business();
  take_notes();
  auto sc = report(sc_change("close", "2023-06-12"));
  EXPECT_EQ(state(sc), "AWAITING_OFFICE");
  json d = data(sc);
  // 15 working days after Jun 12: Jun 13-16, 19-21, 25-30, Jul 3, 4 (Jul 3 without the
  // holiday).
  EXPECT_EQ(d["reportDeadline"], "2023-07-04T23:59:59+08:00");
  EXPECT_EQ(d["reportedLate"], false);
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "adm-t1", "状态变更待处理"), 1u);
  EXPECT_EQ(count_to(notes, "adm-GM", "上报逾期"), 0u);

  auto r = act(sc, "rebind", admin("adm-t1"), {{"newCadreId", "c-2"}, {"newBindingId", "bd-2"}});
  EXPECT_EQ(r.error, StepError::guard_false) << "a closed business is not re-bound";
  FS_EXPECT_HAS(r.message, "停业主体不再包保督导");
  EXPECT_EQ(act(sc, "confirm", cadre("c-1")).error, StepError::role_not_allowed);
  EXPECT_EQ(act(sc, "confirm", regulator("st-1")).error, StepError::role_not_allowed);
  ok(sc, "confirm", admin("adm-t1"), {{"note", "营业执照已注销"}});
  EXPECT_EQ(engine_->get(sc)->outcome, "closed");

  EXPECT_EQ(engine_->get(biz_)->outcome, "closed") << "the business file is closed (停业)";
  for (const auto& t : {q2_, q3_}) {
    auto v = engine_->get(t);
    EXPECT_EQ(v->state, "EXEMPTED") << t;
    EXPECT_EQ(v->data["exemptApproverId"], "adm-t1");
    FS_EXPECT_HAS(v->data["exemptReason"].get<std::string>(), "2023-06-12");
  }
  EXPECT_EQ(engine_->get(rr_)->outcome, "cancelled");
  EXPECT_EQ(data(rr_)["cancelReason"], "主体停业");
  notes = take_notes();
  EXPECT_EQ(count_to(notes, "c-1", "不再包保督导"), 1u);
  EXPECT_EQ(count_to(notes, "st-1", "不再包保督导"), 1u);
}

// Version 2 messages every task in taskKeys (one send with forEach): six live visits
// (version 1 reached at most four); a key no instance has is passed over.
TEST_F(StatusChangeTest, AClosureExemptsEveryLiveVisitNamedNotJustFour) {
  business();
  std::vector<std::string> tasks = {q2_, q3_};
  json keys = {"sup/2023Q2/bd-1", "sup/2023Q3/bd-1", "sup/2023X9/none"};
  for (int m = 7; m <= 10; ++m) {  // monthly visits July to October, all scheduled
    char period[16], from[40], to[40];
    std::snprintf(period, sizeof period, "2023M%02d", m);
    std::snprintf(from, sizeof from, "2023-%02d-01T00:00:00+08:00", m);
    std::snprintf(to, sizeof to, "2023-%02d-28T23:59:59+08:00", m);
    std::string key = std::string("sup/") + period + "/bd-1";
    tasks.push_back(begin("food-safety.supervision", fs_visit(period, from, to), key));
    keys.push_back(key);
  }
  json change = sc_change("close", "2023-06-12");
  change["taskKeys"] = keys;
  auto sc = report(change);
  ok(sc, "confirm", admin("adm-t1"), {{"note", "营业执照已注销"}});
  ASSERT_EQ(tasks.size(), 6u);
  for (const auto& t : tasks) EXPECT_EQ(engine_->get(t)->state, "EXEMPTED") << t;
  EXPECT_EQ(engine_->get(sc)->outcome, "closed");
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(StatusChangeTest, AReportAfterFifteenWorkingDaysIsFlaggedLate) {
  take_notes();
  // Friday May 26: May 29-31, Jun 1-2, 5-9, 12-16: due Jun 16, reported Monday Jun 19.
  auto sc = report(sc_change("move", "2023-05-26"));
  json d = data(sc);
  EXPECT_EQ(d["reportDeadline"], "2023-06-16T23:59:59+08:00");
  EXPECT_EQ(d["reportedLate"], true);
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "adm-t1", "上报逾期"), 1u);
  EXPECT_EQ(count_to(notes, "adm-GM", "上报逾期"), 1u);
  // Monday May 29: the 15th working day is today, Jun 19: on time.
  auto on_time = report(sc_change("move", "2023-05-29"));
  EXPECT_EQ(data(on_time)["reportDeadline"], "2023-06-19T23:59:59+08:00");
  EXPECT_EQ(data(on_time)["reportedLate"], false);
  // A move within the cadre's own area needs no re-binding.
  ok(on_time, "confirm", admin("adm-t1"), {{"note", "同村迁址，包保干部不变"}});
  EXPECT_EQ(engine_->get(on_time)->outcome, "confirmed");
  ok(sc, "withdraw", regulator("st-1"), {{"reason", "重复报送"}});
  EXPECT_EQ(engine_->get(sc)->outcome, "withdrawn");
}

TEST_F(StatusChangeTest, ReBindingMovesTheLiveVisitsToTheNewCadre) {
  business();
  auto sc = report(sc_change("grade", "2023-06-16"));
  json p = {{"newCadreId", "c-2"}, {"newBindingId", "bd-2"}, {"newCadreName", "李干部"}};
  EXPECT_EQ(act(sc, "rebind", cadre("c-1"), p).error, StepError::role_not_allowed);
  EXPECT_EQ(act(sc, "rebind", regulator("st-1"), p).error, StepError::role_not_allowed);
  EXPECT_EQ(act(sc, "rebind", sc_office("adm-t2", "HX/GM/T02"), p).error, StepError::not_found)
      << "another township's office does not see it";
  EXPECT_EQ(act(sc, "rebind", sc_office("adm-GM", "HX/GM"), p).error, StepError::actor_not_allowed)
      << "the office above only once escalated";
  EXPECT_EQ(act(sc, "rebind", admin("adm-t1"), {{"newCadreId", "c-2"}}).error,
            StepError::payload_invalid)
      << "the new binding is required";
  take_notes();
  ok(sc, "rebind", admin("adm-t1"), p);
  EXPECT_EQ(engine_->get(sc)->outcome, "rebound");
  EXPECT_EQ(data(sc)["reboundLate"], false);
  for (const auto& t : {q2_, q3_}) {
    EXPECT_EQ(state(t), "REASSIGNED") << t;
    EXPECT_EQ(data(t)["newCadreId"], "c-2");
  }
  auto next = engine_->get_by_business_key("sup/2023Q2/bd-2");
  ASSERT_TRUE(next) << "the period continues for the new cadre";
  EXPECT_EQ(next->data["cadreId"], "c-2");
  EXPECT_EQ(next->data["periodEnd"], "2023-06-30T23:59:59+08:00");
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "c-2", "已调整包保干部"), 1u);
  EXPECT_EQ(count_to(notes, "c-1", "已调整包保干部"), 1u);
  EXPECT_EQ(state(biz_), "ACTIVE") << "a grade change keeps the business file";
  EXPECT_EQ(state(rr_), "COLLECTING");
}

TEST_F(StatusChangeTest, AReopenedBusinessGetsANewFileWithTheNewCadre) {
  auto sc = report([] {
    json d = sc_change("reopen", "2023-06-15");
    d["taskKeys"] = json::array();
    return d;
  }());
  EXPECT_EQ(
      act(sc, "rebind", admin("adm-t2"), {{"newCadreId", "c-3"}, {"newBindingId", "bd-3"}}).error,
      StepError::not_found)
      << "an office not named and without a unit does not see it";
  ok(sc, "rebind", admin("adm-t1"), {{"newCadreId", "c-3"}, {"newBindingId", "bd-3"}});
  auto file = engine_->get_by_business_key("biz/B0001");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->state, "ACTIVE");
  EXPECT_EQ(file->data["cadreId"], "c-3");
  EXPECT_EQ(file->data["stationId"], "st-1");
}

TEST_F(StatusChangeTest, TheOfficeHasSevenWorkingDaysThenTheOfficeAboveIsCalledIn) {
  business();
  auto sc = report(sc_change("grade", "2023-06-16"));
  take_notes();
  // 7 working days from Monday Jun 19 09:00: Jun 20, 21, 25, 26, 27, 28, 29.
  go("2023-06-28T09:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "adm-t1", "明日到期"), 1u) << "one working day before";
  go("2023-06-29T08:59:00+08:00");
  EXPECT_FALSE(data(sc).value("rebindOverdue", false));
  go("2023-06-29T09:00:00+08:00");
  EXPECT_TRUE(data(sc)["rebindOverdue"].get<bool>());
  EXPECT_EQ(count_to(take_notes(), "adm-t1", "包保调整逾期"), 1u);
  EXPECT_EQ(state(sc), "AWAITING_OFFICE");
  // Escalation 3 working days later: Jun 30, Jul 3, Jul 4.
  go("2023-07-04T08:59:00+08:00");
  EXPECT_FALSE(data(sc).value("escalated", false));
  go("2023-07-04T09:00:00+08:00");
  EXPECT_TRUE(data(sc)["escalated"].get<bool>());
  EXPECT_EQ(count_to(take_notes(), "adm-GM", "已升级"), 1u);
  ok(sc, "rebind", sc_office("adm-GM", "HX/GM"), {{"newCadreId", "c-2"}, {"newBindingId", "bd-2"}});
  EXPECT_EQ(data(sc)["reboundLate"], true);
  EXPECT_EQ(data(sc)["reboundBy"], "adm-GM");
  EXPECT_EQ(state(q3_), "REASSIGNED");
}

TEST_F(StatusChangeTest, OnlyTheBusinesssStationOrItsOfficeReportsAChange) {
  auto start_as = [&](const Actor& who) {
    return start_by("food-safety.status-change", sc_change("close", "2023-06-12"), who);
  };
  EXPECT_EQ(start_as(cadre("c-1")).error, StepError::start_not_allowed);
  EXPECT_EQ(start_as(principal("p-1")).error, StepError::start_not_allowed);
  EXPECT_EQ(start_as(regulator("st-2")).error, StepError::start_not_allowed);
  EXPECT_EQ(start_as(sc_office("adm-t2", "HX/GM/T02")).error, StepError::start_not_allowed);
  EXPECT_TRUE(start_as(sc_office("adm-t1", "HX/GM/T01")).ok());
  EXPECT_TRUE(start_as(regulator("st-1")).ok());
}

}  // namespace
