// The supervision scheduler on the virtual clock: at each round's start it asks the
// master-data source for the active bindings (a data-source query task in the outbox),
// freezes the round's denominator and spawns one supervision task per binding; a failed
// load is retried. The data source's answer is played here as the dispatcher would
// deliver it (event onResult, actor system); tests/plugins/source_task_test.cpp covers
// the dispatcher running a real data-source plugin.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

json plan() {
  return {{"rounds",
           {{{"period", "2022R1"},
             {"start", "2022-12-01T00:00:00+08:00"},
             {"end", "2022-12-31T23:59:59+08:00"}},
            {{"period", "2023Q1"},
             {"start", "2023-01-01T00:00:00+08:00"},
             {"end", "2023-03-31T23:59:59+08:00"}}}},
          {"next", 0},
          {"checklist", {"staff", "hygiene"}},
          {"adminId", "adm-city"},
          {"unitPath", "HX/GM"}};
}

json binding(int n, const std::string& grade = "D") {
  std::string s = std::to_string(n);
  return {{"bindingId", "bd-" + s},     {"cadreId", "c-" + s},        {"level", "village"},
          {"businessId", "B" + s},      {"businessName", "主体" + s}, {"businessType", "stall"},
          {"riskLevel", "B"},           {"baobaoGrade", grade},       {"adminId", "adm-t1"},
          {"upperAdminId", "adm-city"}, {"stationId", "st-1"},        {"townshipId", "T01"}};
}

// Grade C monthly beside the other grades quarterly (policies/monthly-grade-c.json).
json grade_c_monthly_plan() {
  json p = plan();
  p["rounds"] = {{{"period", "2023Q1"},
                  {"start", "2023-01-01T00:00:00+08:00"},
                  {"end", "2023-03-31T23:59:59+08:00"},
                  {"grades", {"A", "B", "D"}}},
                 {{"period", "2023M01"},
                  {"start", "2023-01-01T00:00:00+08:00"},
                  {"end", "2023-01-31T23:59:59+08:00"},
                  {"grades", {"C"}}},
                 {{"period", "2023M02"},
                  {"start", "2023-02-01T00:00:00+08:00"},
                  {"end", "2023-02-28T23:59:59+08:00"},
                  {"grades", {"C"}}}};
  return p;
}

class SchedulerTest : public FoodSafetyTest {
 protected:
  const char* start_time() const override { return "2022-11-20T09:00:00+08:00"; }
  // The last query task the scheduler wrote.
  OutboxMessage last_task() {
    take_notes();
    EXPECT_FALSE(tasks_.empty());
    return tasks_.empty() ? OutboxMessage{} : tasks_.back();
  }
  void answer(const OutboxMessage& task, json rows) {
    EventRequest r;
    r.instance_id = task.instance_id;
    r.event = task.body["onResult"];
    r.payload = {{"rows", std::move(rows)}};
    r.actor = Actor::system();
    r.idempotency_key = task.idempotency_key + ":result";
    auto s = engine_->send(r);
    ASSERT_TRUE(s.ok()) << s.message;
  }
};

TEST_F(SchedulerTest, EachRoundOpensOneTaskPerActiveBindingWithAFrozenDenominator) {
  auto id = begin("food-safety.scheduler", plan(), "scheduler/all/2023");
  EXPECT_EQ(state(id), "WAITING");
  EXPECT_EQ(engine_->next_timer_due(), at("2022-12-01T00:00:00+08:00"));
  go("2022-12-01T00:00:00+08:00");
  EXPECT_EQ(state(id), "LOADING");
  auto task = last_task();
  EXPECT_EQ(task.channel, "master-data");
  EXPECT_EQ(task.body["query"], "active_bindings");
  EXPECT_EQ(task.body["input"]["asOf"], "2022-12-01T00:00:00+08:00");
  EXPECT_EQ(task.body["input"]["period"], "2022R1");

  answer(task, {binding(1), binding(2), binding(3)});
  engine_->advance_to(clock_->now());
  EXPECT_EQ(state(id), "WAITING");
  EXPECT_EQ(data(id)["opened"][0]["due"], 3);
  auto tasks = by_definition("food-safety.supervision");
  ASSERT_EQ(tasks.size(), 3u);
  for (const auto& t : tasks) {
    EXPECT_EQ(t.state, "OPEN") << "pushed at once: the round has started";
    EXPECT_EQ(t.data["period"], "2022R1");
    EXPECT_EQ(t.parent, id);
    EXPECT_EQ(t.deadline, at("2022-12-31T23:59:59+08:00"));
  }
  ASSERT_TRUE(engine_->get_by_business_key("sup/2022R1/bd-2"));
  // The answer the round was opened on stays in the history (the snapshot).
  auto h = engine_->history(id);
  bool kept = false;
  for (const auto& e : h)
    if (e.event == "bindings_loaded") kept = e.payload["rows"].size() == 3;
  EXPECT_TRUE(kept);

  // A binding added later does not change the first round's denominator.
  go("2023-01-01T00:00:00+08:00");
  task = last_task();
  EXPECT_EQ(task.body["input"]["period"], "2023Q1");
  answer(task, {binding(1), binding(2), binding(3), binding(4)});
  engine_->advance_to(clock_->now());
  auto v = engine_->get(id);
  EXPECT_EQ(v->outcome, "done");
  EXPECT_EQ(v->data["opened"][0]["due"], 3);
  EXPECT_EQ(v->data["opened"][1]["due"], 4);
  EXPECT_EQ(by_definition("food-safety.supervision").size(), 7u);
}

// A round names the grades it covers: the query is asked for those grades only (the demo's
// SQL filters on the binding's business grade: demo_city_test.cpp), each round freezes its
// own denominator, and a grade-C binding has one task per month, apart from the quarter.
TEST_F(SchedulerTest, AGradeCMonthlyRoundOpensOnlyGradeCTasksWithItsOwnDenominator) {
  auto id = begin("food-safety.scheduler", grade_c_monthly_plan(), "scheduler/all/2023");
  go("2023-01-01T00:00:00+08:00");
  auto quarter = last_task();
  EXPECT_EQ(quarter.body["input"]["period"], "2023Q1");
  EXPECT_EQ(quarter.body["input"]["grades"], json({"A", "B", "D"}));
  EXPECT_EQ(quarter.body["input"]["levels"], json::array()) << "absent = every level";
  answer(quarter, {binding(1), binding(2), binding(3, "B")});
  engine_->advance_to(clock_->now());
  // The month starts at the same moment: its round opens right after the quarter's.
  EXPECT_EQ(state(id), "LOADING");
  auto month = last_task();
  EXPECT_EQ(month.body["input"]["period"], "2023M01");
  EXPECT_EQ(month.body["input"]["grades"], json({"C"}));
  answer(month, {binding(4, "C"), binding(5, "C")});
  engine_->advance_to(clock_->now());
  EXPECT_EQ(state(id), "WAITING");
  json opened = data(id)["opened"];
  ASSERT_EQ(opened.size(), 2u);
  EXPECT_EQ(opened[0]["period"], "2023Q1");
  EXPECT_EQ(opened[0]["due"], 3);
  EXPECT_EQ(opened[1]["period"], "2023M01");
  EXPECT_EQ(opened[1]["due"], 2) << "the month's denominator is the grade-C bindings only";
  auto m1 = engine_->get_by_business_key("sup/2023M01/bd-4");
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->data["baobaoGrade"], "C");
  EXPECT_EQ(m1->deadline, at("2023-01-31T23:59:59+08:00")) << "due at the month's end";
  EXPECT_FALSE(engine_->get_by_business_key("sup/2023Q1/bd-4")) << "not in the quarter";

  // February: a new task per grade-C binding, its key unique by the month's name.
  go("2023-02-01T00:00:00+08:00");
  auto feb = last_task();
  EXPECT_EQ(feb.body["input"]["period"], "2023M02");
  answer(feb, {binding(4, "C"), binding(5, "C"), binding(6, "C")});
  engine_->advance_to(clock_->now());
  auto v = engine_->get(id);
  EXPECT_EQ(v->outcome, "done");
  EXPECT_EQ(v->data["opened"][2]["due"], 3);
  EXPECT_EQ(v->data["opened"][0]["due"], 3) << "the quarter's denominator stays frozen";
  ASSERT_TRUE(engine_->get_by_business_key("sup/2023M02/bd-4"));
  EXPECT_EQ(by_definition("food-safety.supervision").size(), 8u);
}

// A grade or a level the scheme does not have is refused at the start, with its pointer,
// not run as a round that matches nothing.
TEST_F(SchedulerTest, AnUnknownGradeOrLevelInARoundIsRefusedWithItsPointer) {
  json bad = grade_c_monthly_plan();
  bad["rounds"][1]["grades"] = {"C", "E"};
  auto r = start("food-safety.scheduler", bad);
  ASSERT_FALSE(r.ok());
  std::string text = r.message + " " + r.details.dump();
  FS_EXPECT_HAS(text, "/rounds/1/grades/1");
  bad = grade_c_monthly_plan();
  bad["rounds"][0]["levels"] = {"township", "province"};
  r = start("food-safety.scheduler", bad);
  ASSERT_FALSE(r.ok());
  text = r.message + " " + r.details.dump();
  FS_EXPECT_HAS(text, "/rounds/0/levels/1");
  EXPECT_TRUE(by_definition("food-safety.scheduler").empty());
}

TEST_F(SchedulerTest, AFailedLoadNotifiesAndRetriesAnHourLater) {
  auto id = begin("food-safety.scheduler", plan());
  go("2022-12-01T00:00:00+08:00");
  auto task = last_task();
  EventRequest r;
  r.instance_id = id;
  r.event = task.body["onError"];
  r.payload = {{"error", "database is locked"}};
  r.actor = Actor::system();
  ASSERT_TRUE(engine_->send(r).ok());
  EXPECT_EQ(state(id), "RETRY_WAIT");
  EXPECT_EQ(count_to(take_notes(), "adm-city", "database is locked"), 1u);
  std::size_t before = tasks_.size();
  go("2022-12-01T01:00:00+08:00");
  EXPECT_EQ(state(id), "LOADING");
  take_notes();
  EXPECT_EQ(tasks_.size(), before + 1) << "the query is asked again";
  EXPECT_EQ(data(id)["loadFailures"], 1);
}

}  // namespace
