// Every timer kind on the virtual clock: no sleeps, exact due times.
#include "engine_fixture.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::EngineTest;

namespace {

const char* kTimers = R"({
  "id": "t.timers", "version": 1, "calendar": "cn-mainland", "initial": "WAIT",
  "states": {
    "WAIT": {
      "timers": [
        {"id": "soon", "after": "PT2H", "event": "ring"},
        {"id": "tick", "every": "P1D", "limit": 3, "set": {"/ticks": {"+": [{"var": "data.ticks"}, 1]}}}
      ],
      "on": {"ring": {"roles": ["system"], "target": "RUNG", "set": {"/rungAt": {"var": "now"}}},
             "leave": {"roles": ["USER"], "target": "RUNG"}}
    },
    "RUNG": {
      "timers": [{"id": "wd", "after": "P2D", "workingDays": true, "target": "WORKDAY"},
                 {"id": "fixed", "at": {"var": "data.fixedAt"}, "target": "FIXED"}],
      "on": {"skip": {"roles": ["USER"], "target": "DONE"}}
    },
    "WORKDAY": {"timers": [{"id": "q", "after": "P3M", "target": "DONE"}]},
    "FIXED": {"type": "final", "outcome": "fixed"},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

const char* kDeadline = R"({
  "id": "t.deadline", "version": 1, "calendar": "cn-mainland", "initial": "TASK",
  "states": {
    "TASK": {
      "deadline": {"after": "P3D", "workingDays": true,
                   "remind": [{"offset": "-P1D", "actions": [{"notify": "log", "to": "cadre-1", "template": "提醒：{{data.name}} 明天到期"}]}],
                   "overdue": {"set": {"/overdue": true}, "actions": [{"notify": "log", "to": "admin", "template": "逾期"}]},
                   "escalate": [{"offset": "P2D", "event": "escalate"}]},
      "on": {"done": {"roles": ["USER"], "target": "DONE"},
             "escalate": {"roles": ["system"], "target": "ESCALATED"}}
    },
    "ESCALATED": {"on": {"done": {"roles": ["BOSS"], "target": "DONE"}}, "deadline": {"after": "P1D"}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

}  // namespace

TEST_F(EngineTest, AfterTimerFiresExactlyAtDueAndOnce) {
  deploy(kTimers);
  auto id = start("t.timers", {{"ticks", 0}, {"fixedAt", nullptr}}).instance->id;
  EXPECT_EQ(engine_->next_timer_due(), at("2023-04-03T11:00:00+08:00"));
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T10:59:59+08:00")), 0u);
  EXPECT_EQ(engine_->get(id)->state, "WAIT");
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:00:00+08:00")), 1u);
  auto v = engine_->get(id);
  EXPECT_EQ(v->state, "RUNG");
  EXPECT_EQ(v->data["rungAt"], "2023-04-03T11:00:00+08:00");
  EXPECT_EQ(v->data["ticks"], 0);  // the daily tick was cancelled when WAIT was left
  auto h = engine_->history(id);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].kind, "timer");
  EXPECT_EQ(h[1].event, "ring");
  EXPECT_EQ(h[1].actor, "system");
}

TEST_F(EngineTest, RepeatingTimerHonoursLimitAndStopsOnExit) {
  json def = json::parse(kTimers);
  def["states"]["WAIT"]["timers"][0]["after"] = "P10D";
  deploy(def.dump());
  auto id = start("t.timers", {{"ticks", 0}}).instance->id;
  EXPECT_EQ(engine_->advance_to(at("2023-04-08T09:00:00+08:00")), 3u);
  EXPECT_EQ(engine_->get(id)->data["ticks"], 3);
  EXPECT_EQ(engine_->get(id)->version, 4u);
  EXPECT_EQ(engine_->pending_timers(), 1u);  // only "soon" is left
}

TEST_F(EngineTest, WorkingDayTimerSkipsTheNationalDayHoliday) {
  clock_->set(at("2023-09-28T09:00:00+08:00"));
  deploy(kTimers);
  auto id = start("t.timers", {{"ticks", 0}}).instance->id;
  ASSERT_TRUE(send(id, "leave").ok());
  // Sep 29 - Oct 6 is a holiday; Oct 7 (Sat) and Oct 8 (Sun) are make-up working days.
  EXPECT_EQ(engine_->next_timer_due(), at("2023-10-08T09:00:00+08:00"));
  engine_->advance_to(at("2023-10-08T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "WORKDAY");
  EXPECT_EQ(engine_->next_timer_due(), at("2024-01-08T09:00:00+08:00"));  // P3M, calendar time
  engine_->advance_to(at("2024-01-08T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->status, InstanceStatus::completed);
  EXPECT_EQ(engine_->pending_timers(), 0u);
}

TEST_F(EngineTest, AbsoluteTimerFromData) {
  deploy(kTimers);
  auto id = start("t.timers", {{"ticks", 0}, {"fixedAt", "2023-04-03T15:30:00+08:00"}}).instance->id;
  ASSERT_TRUE(send(id, "leave").ok());
  engine_->advance_to(at("2023-04-03T15:29:59+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "RUNG");
  engine_->advance_to(at("2023-04-03T16:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->outcome, "fixed");
}

TEST_F(EngineTest, TimersSurviveRestartAndLateOnesFireInDueOrder) {
  deploy(kTimers);
  auto a = start("t.timers", {{"ticks", 0}}).instance->id;
  clock_->advance(std::chrono::minutes(30));
  auto b = start("t.timers", {{"ticks", 0}}).instance->id;
  reopen();
  EXPECT_EQ(engine_->pending_timers(), 4u);
  engine_->advance_to(at("2023-04-03T12:00:00+08:00"));
  auto ha = engine_->history(a), hb = engine_->history(b);
  ASSERT_EQ(ha.size(), 2u);
  ASSERT_EQ(hb.size(), 2u);
  EXPECT_EQ(ha[1].at, at("2023-04-03T11:00:00+08:00"));
  EXPECT_EQ(hb[1].at, at("2023-04-03T11:30:00+08:00"));
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, DeadlineRemindsThenMarksOverdueThenEscalates) {
  deploy(kDeadline);
  // Mon 2023-04-03 09:00 + 3 working days = Thu 04-06 09:00 (Apr 5 is Qingming).
  auto s = start("t.deadline", {{"name", "食堂"}});
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(*s.instance->deadline, at("2023-04-07T09:00:00+08:00"));
  auto id = s.instance->id;
  // Reminder one working day before: 04-06 (04-05 is a holiday, so -1 WD from 04-07 is 04-06).
  engine_->advance_to(at("2023-04-06T09:00:00+08:00"));
  auto out = engine_->outbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].body["text"], "提醒：食堂 明天到期");
  EXPECT_EQ(out[0].body["to"], json::array({"cadre-1"}));
  engine_->advance_to(at("2023-04-07T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->data["overdue"], true);
  EXPECT_EQ(engine_->get(id)->state, "TASK");
  EXPECT_EQ(engine_->outbox().size(), 2u);
  // Escalation two working days after the deadline (Fri): Tue 04-11 (weekend skipped).
  engine_->advance_to(at("2023-04-11T08:59:59+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "TASK");
  engine_->advance_to(at("2023-04-11T09:00:00+08:00"));
  EXPECT_EQ(engine_->get(id)->state, "ESCALATED");
  EXPECT_EQ(send(id, "done").error, StepError::role_not_allowed);
  EXPECT_TRUE(send(id, "done", json::object(), {"boss", {"BOSS"}}).ok());
}

TEST_F(EngineTest, RefusedTimerEventIsConsumedAndRecorded) {
  json def = json::parse(kTimers);
  def["states"]["WAIT"]["on"]["ring"]["guard"] = json::parse(R"({"==": [{"var": "data.allow"}, true]})");
  deploy(def.dump());
  auto id = start("t.timers", {{"ticks", 0}, {"allow", false}}).instance->id;
  engine_->advance_to(at("2023-04-03T11:00:00+08:00"));
  auto v = engine_->get(id);
  EXPECT_EQ(v->state, "WAIT");
  auto h = engine_->history(id);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].payload["refused"], "guard-false");
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T12:00:00+08:00")), 0u);  // not fired twice
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, AYearOfQuarterlyTimersRunsInstantly) {
  const char* quarterly = R"({"id": "t.q", "version": 1, "initial": "RUN", "states": {
    "RUN": {"timers": [{"id": "q", "every": "P3M", "set": {"/n": {"+": [{"var": "data.n"}, 1]}}}],
            "on": {"stop": {"roles": ["ADMIN"], "target": "END"}}, "deadline": {"after": "P2Y"}},
    "END": {"type": "final", "outcome": "stopped"}}})";
  deploy(quarterly);
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(start("t.q", {{"n", 0}}).instance->id);
  EXPECT_EQ(engine_->advance_to(at("2024-04-03T09:00:00+08:00")), 400u);
  for (const auto& id : ids) EXPECT_EQ(engine_->get(id)->data["n"], 4);
}
