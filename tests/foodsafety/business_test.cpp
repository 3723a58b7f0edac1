// The business file (food-safety.business) on the virtual clock: the loops that mark an
// item for the next supervision visit (markForSupervision) are closed through it. A missed
// weekly report or monthly meeting, the third missed daily record in a row (once per
// streak), a complaint, a failed sample and a missing required director each mark an item
// and (except complaint and sampling, which are problems already) raise a problem routed to
// the business's station; the next visit's checklist carries the items and the cadre must
// answer each; an open visit takes an item at once; a reassigned visit keeps its items; only
// the engine sends the file events, and only the right people register complaints.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

const char* kUnit = "HX/GM/T01/V001";

json file_data(bool requires_director = false, const char* director_id = "d-1") {
  json d = {{"businessId", "B0001"}, {"businessName", "张记小吃"},
            {"unitPath", kUnit},     {"stationId", "st-1"},
            {"adminId", "adm-t1"},   {"upperAdminId", "adm-city"},
            {"cadreId", "c-1"},      {"principalId", "p-1"},
            {"officerId", "o-1"},    {"requiresDirector", requires_director}};
  if (director_id) d["directorId"] = director_id;
  return d;
}
json week(const std::string& monday) {
  return {{"businessId", "B0001"}, {"businessName", "张记小吃"}, {"weekStart", monday},
          {"authorIds", {"d-1"}},  {"principalId", "p-1"},       {"unitPath", kUnit}};
}
json month(const std::string& m, const std::string& end) {
  return {{"businessId", "B0001"}, {"businessName", "张记小吃"}, {"month", m},
          {"monthEnd", end},       {"principalId", "p-1"},       {"authorIds", {"p-1", "d-1"}},
          {"unitPath", kUnit}};
}
json day(const std::string& date, int streak) {
  return {{"businessId", "B0001"}, {"businessName", "张记小吃"}, {"date", date},
          {"officerId", "o-1"},    {"directorId", "d-1"},        {"principalId", "p-1"},
          {"cadreId", "c-1"},      {"stationId", "st-1"},        {"missedStreak", streak},
          {"unitPath", kUnit}};
}
json check_in() { return {{"lat", 36.4}, {"lng", 94.9}, {"mode", "ONSITE"}}; }
json answer(const std::string& item, bool compliant) {
  json a = {{"itemId", item}, {"compliant", compliant}};
  if (!compliant) a["note"] = "未整改", a["severity"] = "minor";
  return a;
}
std::vector<std::string> item_ids(const json& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i["itemId"].get<std::string>());
  return out;
}

class BusinessFileTest : public FoodSafetyTest {
 protected:
  const char* start_time() const override { return "2023-05-08T08:00:00+08:00"; }
  std::string file(json d = file_data()) {
    return begin("food-safety.business", std::move(d), "biz/B0001");
  }
  // Problems of B0001 by source.
  std::vector<InstanceView> problems(const std::string& source) {
    std::vector<InstanceView> out;
    for (auto& v : by_definition("food-safety.problem"))
      if (v.data.value("source", "") == source) out.push_back(v);
    return out;
  }
};

TEST_F(BusinessFileTest, MissedRecordsAreCarriedByTheNextVisitWhichMustAnswerThem) {
  auto biz = file();
  EXPECT_EQ(state(biz), "ACTIVE");
  EXPECT_EQ(data(biz)["markCount"], nullptr) << "a staffed business starts with nothing marked";

  auto weekly = begin("food-safety.weekly-report", week("2023-05-08"));
  go("2023-05-16T00:00:00+08:00");  // Sunday 24:00 + one working day of grace
  ASSERT_EQ(engine_->get(weekly)->outcome, "missed");
  json d = data(biz);
  ASSERT_EQ(d["marked"].size(), 1u);
  EXPECT_EQ(d["marked"][0]["itemId"], "M1");
  EXPECT_EQ(d["marked"][0]["source"], "weekly_report");
  EXPECT_EQ(d["marked"][0]["ref"], weekly);
  auto raised = problems("weekly_report");
  ASSERT_EQ(raised.size(), 1u) << "the miss raises a problem for the station";
  EXPECT_EQ(raised[0].state, "PUSHED");
  EXPECT_EQ(raised[0].data["stationId"], "st-1");
  EXPECT_EQ(raised[0].data["reporterId"], "c-1");
  EXPECT_EQ(raised[0].data["unitPath"], kUnit);
  EXPECT_EQ(raised[0].data["checklistItemId"], "M1");
  EXPECT_EQ(raised[0].business_key, biz + "/M1");
  EXPECT_EQ(act(raised[0].id, "claim", regulator("st-2")).error, StepError::not_found)
      << "another station does not see it";
  ok(raised[0].id, "claim", regulator("st-1"));
  EXPECT_GE(count_to(take_notes(), "c-1", "列入下次包保督导重点"), 1u);

  // The visit opens: it takes the waiting item; the file has nothing left waiting.
  auto task = begin("food-safety.supervision",
                    fs_visit("2023Q3", "2023-07-01T00:00:00+08:00", "2023-09-30T23:59:59+08:00"),
                    "sup/2023Q3/bd-1");
  EXPECT_EQ(state(task), "SCHEDULED");
  EXPECT_EQ(data(task)["markedItems"], nullptr) << "a scheduled visit takes nothing yet";
  // The June meeting is missed at the month's end, before the visit opens: it waits too.
  auto june = begin("food-safety.monthly-minutes", month("2023-06", "2023-07-01T00:00:00+08:00"));
  go("2023-07-01T00:00:00+08:00");
  ASSERT_EQ(engine_->get(june)->outcome, "missed");
  EXPECT_EQ(state(task), "OPEN");
  EXPECT_EQ(item_ids(data(task)["markedItems"]), (std::vector<std::string>{"M1", "M2"}));
  d = data(biz);
  EXPECT_TRUE(d["marked"].empty());
  EXPECT_EQ(d["openVisit"], "sup/2023Q3/bd-1");
  EXPECT_EQ(d["handedOver"], 2);
  EXPECT_EQ(problems("monthly_meeting").size(), 1u);

  // July's meeting is missed while the visit is open: the visit takes it at once.
  auto july = begin("food-safety.monthly-minutes", month("2023-07", "2023-08-01T00:00:00+08:00"));
  go("2023-08-01T00:00:00+08:00");
  ASSERT_EQ(engine_->get(july)->outcome, "missed");
  EXPECT_EQ(item_ids(data(task)["markedItems"]), (std::vector<std::string>{"M1", "M2", "M3"}));
  EXPECT_GE(count_to(take_notes(), "c-1", "新的督导重点"), 1u);

  clock_->set(at("2023-08-02T10:00:00+08:00"));
  ok(task, "check_in", cadre("c-1"), check_in());
  json only_checklist = {{"answers", {answer("staff", true), answer("hygiene", true)}}};
  auto r = act(task, "submit", cadre("c-1"), only_checklist);
  EXPECT_EQ(r.error, StepError::guard_false) << "the marked items must be answered";
  FS_EXPECT_HAS(r.message, "列入本次督导重点");
  json all = only_checklist;
  all["answers"].push_back(answer("M1", false));
  all["answers"].push_back(answer("M2", true));
  r = act(task, "submit", cadre("c-1"), all);
  EXPECT_EQ(r.error, StepError::guard_false) << "M3 is still unanswered";
  all["answers"].push_back(answer("M3", true));
  ok(task, "submit", cadre("c-1"), all);
  EXPECT_EQ(state(task), "SUBMITTED");
  EXPECT_EQ(data(task)["problemsFound"], 1);
  auto found = problems("supervision");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].data["checklistItemId"], "M1") << "a marked item failed again at the visit";
  d = data(biz);
  EXPECT_EQ(d["openVisit"], nullptr) << "a submitted visit takes no more items";
  EXPECT_EQ(d["lastVisit"], "sup/2023Q3/bd-1");

  // August's meeting is missed after the submission: it waits for the next visit.
  auto august = begin("food-safety.monthly-minutes", month("2023-08", "2023-09-01T00:00:00+08:00"));
  go("2023-09-01T00:00:00+08:00");
  ASSERT_EQ(engine_->get(august)->outcome, "missed");
  EXPECT_EQ(item_ids(data(task)["markedItems"]), (std::vector<std::string>{"M1", "M2", "M3"}));
  EXPECT_EQ(item_ids(data(biz)["marked"]), (std::vector<std::string>{"M4"}));
}

TEST_F(BusinessFileTest, TheThirdMissedDailyRecordInARowRaisesOneProblemPerStreak) {
  auto biz = file();
  begin("food-safety.daily-record", day("2023-05-08", 0));
  begin("food-safety.daily-record", day("2023-05-09", 1));
  begin("food-safety.daily-record", day("2023-05-10", 2));  // the third miss in a row
  begin("food-safety.daily-record", day("2023-05-11", 3));  // the same streak goes on
  go("2023-05-12T12:00:00+08:00");
  auto d = data(biz);
  ASSERT_EQ(d["marked"].size(), 1u);
  EXPECT_EQ(d["marked"][0]["source"], "daily_control");
  FS_EXPECT_HAS(d["marked"][0]["note"].get<std::string>(), "2023-05-10");
  EXPECT_EQ(problems("daily_control").size(), 1u);
  // A new streak after a recorded day raises a new one.
  begin("food-safety.daily-record", day("2023-05-15", 2));
  go("2023-05-16T12:00:00+08:00");
  EXPECT_EQ(problems("daily_control").size(), 2u);
  EXPECT_EQ(data(biz)["marked"].size(), 2u);
}

TEST_F(BusinessFileTest, ComplaintsAndFailedSamplesAreRegisteredOnlyByTheRightPeople) {
  auto biz = file();
  json complaint = {{"source", "complaint"},  {"businessId", "B0001"},
                    {"severity", "general"},  {"description", "顾客投诉餐具不洁"},
                    {"reporterId", "adm-t1"}, {"stationId", "st-1"},
                    {"adminId", "adm-t1"},    {"unitPath", kUnit}};
  auto start_as = [&](json data, const Actor& who) {
    StartRequest r;
    r.definition = "food-safety.problem";
    r.data = std::move(data);
    r.actor = who;
    return engine_->start(r);
  };
  EXPECT_EQ(start_as(complaint, admin("adm-t2", "HX/GM/T02")).error, StepError::start_not_allowed)
      << "another township's office";
  EXPECT_EQ(start_as(complaint, admin("adm-x")).error, StepError::start_not_allowed)
      << "an office without a unit";
  EXPECT_EQ(start_as(complaint, admin("adm-g", "GM/T01")).error, StepError::start_not_allowed)
      << "a unit path found inside the business's, not at its start";
  EXPECT_EQ(start_as(complaint, admin("adm-t0", "HX/GM/T0")).error, StepError::start_not_allowed)
      << "a unit whose name starts another's";
  json by_cadre = complaint;
  by_cadre["reporterId"] = "c-1";
  EXPECT_EQ(start_as(by_cadre, cadre("c-1")).error, StepError::start_not_allowed)
      << "a cadre reports at a visit, not a complaint";
  json by_principal = complaint;
  by_principal["reporterId"] = "p-2";
  EXPECT_EQ(start_as(by_principal, principal("p-2")).error, StepError::start_not_allowed)
      << "a business does not register complaints";
  auto c = start_as(complaint, admin("adm-t1", "HX/GM/T01"));
  ASSERT_TRUE(c.ok()) << c.message;
  engine_->advance_to(clock_->now());

  json sample = complaint;
  sample["source"] = "sampling";
  sample["description"] = "凉菜抽检大肠菌群超标";
  sample["reporterId"] = "insp-9";
  EXPECT_EQ(start_as(sample, inspector("insp-9", "st-2")).error, StepError::start_not_allowed)
      << "another station's inspector";
  EXPECT_EQ(start_as(sample, inspector("insp-1", "st-1")).error, StepError::start_not_allowed)
      << "an inspector registers a sample in their own name only";
  auto s = start_as(sample, inspector("insp-9", "st-1"));
  ASSERT_TRUE(s.ok()) << s.message;
  engine_->advance_to(clock_->now());

  auto d = data(biz);
  ASSERT_EQ(d["marked"].size(), 2u);
  EXPECT_EQ(d["marked"][0]["source"], "complaint");
  EXPECT_EQ(d["marked"][0]["problemId"], c.instance->id);
  EXPECT_EQ(d["marked"][1]["source"], "sampling");
  EXPECT_EQ(d["marked"][1]["problemId"], s.instance->id);
  FS_EXPECT_HAS(d["marked"][1]["note"].get<std::string>(), "抽检不合格");
  EXPECT_EQ(d["problemsRaised"], 0) << "they are problems already: no second one";
  EXPECT_EQ(by_definition("food-safety.problem").size(), 2u);
}

TEST_F(BusinessFileTest, AMissingRequiredDirectorIsMarkedAtOnceAndAgainWhileStillMissing) {
  auto biz = file(file_data(true, nullptr));
  auto d = data(biz);
  ASSERT_EQ(d["marked"].size(), 1u);
  EXPECT_EQ(d["marked"][0]["source"], "no_director");
  ASSERT_EQ(problems("no_director").size(), 1u);
  EXPECT_EQ(problems("no_director")[0].data["severity"], "minor");
  EXPECT_EQ(
      send(biz, "staff_changed", {{"directorId", "d-9"}, {"officerId", "o-1"}}, cadre("c-1")).error,
      StepError::role_not_allowed)
      << "only the engine moves the file";
  // The master data changes through the engine (system): staffed now, nothing new.
  EventRequest e;
  e.instance_id = biz;
  e.event = "staff_changed";
  e.payload = {{"directorId", "d-9"}, {"officerId", "o-1"}};
  e.actor = Actor::system();
  ASSERT_TRUE(engine_->send(e).ok());
  EXPECT_EQ(data(biz)["marked"].size(), 1u);
  e.payload = {{"officerId", "o-1"}};  // the director leaves
  ASSERT_TRUE(engine_->send(e).ok());
  EXPECT_EQ(data(biz)["marked"].size(), 2u);
  EXPECT_EQ(problems("no_director").size(), 2u);

  // A business that does not need a director is not marked.
  json other = file_data(false, nullptr);
  other["businessId"] = "B0002";
  auto plain = begin("food-safety.business", other, "biz/B0002");
  EXPECT_EQ(data(plain)["marked"], nullptr);
}

TEST_F(BusinessFileTest, AReassignedVisitKeepsItsItemsAndTheNewOneTakesLaterOnes) {
  auto biz = file();
  auto task = begin("food-safety.supervision",
                    fs_visit("2023Q2", "2023-04-01T00:00:00+08:00", "2023-06-30T23:59:59+08:00"),
                    "sup/2023Q2/bd-1");
  ASSERT_EQ(state(task), "OPEN");
  auto may = begin("food-safety.monthly-minutes", month("2023-05", "2023-06-01T00:00:00+08:00"));
  go("2023-06-01T00:00:00+08:00");
  ASSERT_EQ(engine_->get(may)->outcome, "missed");
  EXPECT_EQ(item_ids(data(task)["markedItems"]), (std::vector<std::string>{"M1"}));

  ok(task, "rebind", admin("adm-t1"),
     {{"newCadreId", "c-2"}, {"newBindingId", "bd-2"}, {"reason", "干部调整"}});
  engine_->advance_to(clock_->now());
  EXPECT_EQ(engine_->get(task)->outcome, "reassigned");
  auto next = engine_->get_by_business_key("sup/2023Q2/bd-2");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->state, "OPEN");
  EXPECT_EQ(item_ids(next->data["markedItems"]), (std::vector<std::string>{"M1"}));
  EXPECT_EQ(data(biz)["openVisit"], "sup/2023Q2/bd-2");

  json complaint = {{"source", "complaint"},  {"businessId", "B0001"},
                    {"severity", "minor"},    {"description", "价格标签缺失"},
                    {"reporterId", "adm-t1"}, {"stationId", "st-1"},
                    {"adminId", "adm-t1"},    {"unitPath", kUnit}};
  begin("food-safety.problem", complaint);
  EXPECT_EQ(item_ids(data(next->id)["markedItems"]), (std::vector<std::string>{"M1", "M2"}));
  ok(next->id, "check_in", cadre("c-2"), check_in());
  ok(next->id, "submit", cadre("c-2"),
     {{"answers",
       {answer("staff", true), answer("hygiene", true), answer("M1", true), answer("M2", true)}}});
  EXPECT_EQ(data(biz)["openVisit"], nullptr);
}

TEST_F(BusinessFileTest, OnlyTheEngineSendsTheFileEventsAndOfficesSeeTheirOwnFiles) {
  auto biz = file();
  json mark = {{"source", "complaint"}, {"note", "x"}};
  EXPECT_EQ(act(biz, "mark", cadre("c-1"), mark).error, StepError::role_not_allowed)
      << "the bound cadre sees the file but cannot mark it";
  EXPECT_EQ(act(biz, "mark", admin("adm-t1", "HX/GM/T01"), mark).error,
            StepError::role_not_allowed);
  EXPECT_EQ(act(biz, "mark", cadre("c-2"), mark).error, StepError::not_found)
      << "another cadre does not see it";
  EXPECT_EQ(act(biz, "mark", regulator("st-2"), mark).error, StepError::not_found);
  EXPECT_EQ(act(biz, "mark", admin("adm-t2", "HX/GM/T02"), mark).error, StepError::not_found);
  EXPECT_EQ(act(biz, "mark", principal("p-2"), mark).error, StepError::not_found);
  EXPECT_EQ(act(biz, "visit_opened", regulator("st-1"), {{"taskKey", "x"}}).error,
            StepError::role_not_allowed);

  auto start_as = [&](const Actor& who) {
    StartRequest r;
    r.definition = "food-safety.business";
    r.data = file_data();
    r.data["businessId"] = "B0003";
    r.actor = who;
    return engine_->start(r);
  };
  EXPECT_EQ(start_as(admin("adm-t2", "HX/GM/T02")).error, StepError::start_not_allowed);
  EXPECT_EQ(start_as(cadre("c-1")).error, StepError::start_not_allowed);
  EXPECT_EQ(start_as(principal("p-1")).error, StepError::start_not_allowed);
  EXPECT_TRUE(start_as(admin("adm-t1", "HX/GM/T01")).ok());
  EXPECT_TRUE(start_as(admin("adm-city", "HX/GM")).ok());
}

}  // namespace
