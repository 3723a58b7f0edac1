// Engine::migrate: a running instance moved to another version of its definition. State
// by name or map, timers and deadlines re-based by name, data transformed and checked,
// dry runs that write nothing, and refusals that change nothing.
#include "bihuan/migration.hpp"
#include "engine_fixture.hpp"

namespace bihuan::testing {
namespace {

const char* kV1 = R"({"id": "t.mig", "version": 1, "initial": "OPEN",
  "dataSchema": {"type": "object"},
  "states": {
    "OPEN": {"deadline": {"after": "P10D"},
             "timers": [{"id": "remind", "after": "P3D", "event": "remind"}],
             "on": {"remind": {"roles": ["system"], "set": {"/reminded": true}},
                    "submit": {"roles": ["USER"], "target": "REVIEW"}}},
    "REVIEW": {"deadline": {"after": "P5D"}, "on": {"approve": {"roles": ["USER"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}}})";

// v2 requires a grade, adds an escalation timer and renames REVIEW to CHECK.
const char* kV2 = R"({"id": "t.mig", "version": 2, "initial": "OPEN",
  "dataSchema": {"type": "object", "required": ["grade"], "properties": {"grade": {"enum": ["A", "B", "C", "D"]}}},
  "states": {
    "OPEN": {"deadline": {"after": "P10D"},
             "timers": [{"id": "remind", "after": "P3D", "event": "remind"},
                        {"id": "escalate", "after": "P7D", "event": "escalate"}],
             "on": {"remind": {"roles": ["system"], "set": {"/reminded": true}},
                    "escalate": {"roles": ["system"], "set": {"/escalated": true}},
                    "submit": {"roles": ["USER"], "target": "CHECK"}}},
    "CHECK": {"deadline": {"after": "P5D"}, "on": {"approve": {"roles": ["USER"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}}})";

bool mentions(const StepResult& r, const std::string& part) {
  return r.message.find(part) != std::string::npos;
}

MigrateRequest to_v2(const std::string& id) {
  MigrateRequest m;
  m.instance_id = id;
  m.set = {{"/grade", "B"}};
  m.reason = "grades are required from v2";
  m.actor = {"admin", {"ADMIN"}};
  return m;
}

class MigrateInstanceTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    deploy(kV1);
  }
  std::size_t in_state(const std::string& state) {
    InstanceQuery q;
    q.definition = "t.mig";
    q.state = state;
    return engine_->query(q).items.size();
  }
};

TEST_F(MigrateInstanceTest,
       KeepsTimersAndDeadlinesOfTheSameNameArmsNewOnesAndGoesOnInTheNewVersion) {
  const TimePoint t0 = clock_->now();
  auto s = start("t.mig");
  ASSERT_TRUE(s.ok()) << s.message;
  const std::string id = s.instance->id;
  deploy(kV2);
  engine_->advance_to(t0 + std::chrono::hours(24));
  const TimePoint t1 = clock_->now();

  // Without a grade its data would break v2's dataSchema.
  MigrateRequest bare = to_v2(id);
  bare.set.clear();
  auto no_grade = engine_->migrate(bare);
  EXPECT_EQ(no_grade.error, StepError::data_invalid) << no_grade.message;

  // A dry run says what would change and writes nothing.
  MigrateRequest dry = to_v2(id);
  dry.dry_run = true;
  auto preview = engine_->migrate(dry);
  ASSERT_TRUE(preview.ok()) << preview.message;
  EXPECT_TRUE(preview.details["dryRun"].get<bool>());
  EXPECT_EQ(preview.details["fromVersion"], 1);
  EXPECT_EQ(preview.details["toVersion"], 2);
  EXPECT_EQ(preview.details["toState"], "OPEN");
  EXPECT_EQ(preview.details["changes"], json::parse(R"([["/grade", "B"]])"));
  ASSERT_EQ(preview.details["timers"].size(), 2u) << preview.details.dump();
  EXPECT_EQ(preview.details["timers"][0]["id"], "remind");
  EXPECT_TRUE(preview.details["timers"][0]["kept"].get<bool>());
  EXPECT_EQ(preview.details["timers"][1]["id"], "escalate");
  EXPECT_FALSE(preview.details["timers"][1]["kept"].get<bool>());
  EXPECT_TRUE(preview.details["deadlines"][0]["kept"].get<bool>());
  EXPECT_EQ(preview.instance->definition_version, 2);
  auto still = engine_->get(id);
  EXPECT_EQ(still->definition_version, 1) << "a dry run writes nothing";
  EXPECT_EQ(still->version, 1u);
  EXPECT_EQ(engine_->history(id).size(), 1u);

  auto done = engine_->migrate(to_v2(id));
  ASSERT_TRUE(done.ok()) << done.message;
  auto v = engine_->get(id);
  EXPECT_EQ(v->definition_version, 2);
  EXPECT_EQ(v->state, "OPEN");
  EXPECT_EQ(v->version, 2u);
  EXPECT_EQ(v->data["grade"], "B");
  EXPECT_EQ(in_state("OPEN"), 1u) << "the state index keeps it: the same name in the new version";
  ASSERT_TRUE(v->deadline);
  EXPECT_EQ(*v->deadline, t0 + std::chrono::hours(24 * 10)) << "the deadline of OPEN is kept";
  auto last = engine_->history(id).back();
  EXPECT_EQ(last.kind, "migrate");
  EXPECT_EQ(last.payload["fromVersion"], 1);
  EXPECT_EQ(last.payload["toVersion"], 2);
  EXPECT_EQ(last.payload["reason"], "grades are required from v2");
  EXPECT_EQ(last.actor, "admin");

  // The kept reminder fires on its old due time, once; the new escalation 7 days after
  // the migration.
  EXPECT_EQ(engine_->next_timer_due(), t0 + std::chrono::hours(24 * 3));
  EXPECT_EQ(engine_->advance_to(t0 + std::chrono::hours(24 * 3)), 1u);
  EXPECT_TRUE(engine_->get(id)->data.value("reminded", false));
  EXPECT_EQ(engine_->next_timer_due(), t1 + std::chrono::hours(24 * 7));
  EXPECT_EQ(engine_->advance_to(t1 + std::chrono::hours(24 * 7)), 1u);
  EXPECT_TRUE(engine_->get(id)->data.value("escalated", false)) << "an event only v2 has";
  EXPECT_EQ(engine_->pending_timers(), 0u);

  // As of a time before the migration it ran on version 1.
  auto before = engine_->as_of(id, t0 + std::chrono::hours(1));
  ASSERT_TRUE(before);
  EXPECT_EQ(before->definition_version, 1);
  EXPECT_FALSE(before->data.contains("grade"));
  EXPECT_EQ(engine_->as_of(id, clock_->now())->definition_version, 2);
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(MigrateInstanceTest, AStateMapMovesARenamedStateAndItsIndex) {
  auto s = start("t.mig");
  ASSERT_TRUE(s.ok());
  const std::string id = s.instance->id;
  ASSERT_TRUE(send(id, "submit").ok());
  deploy(kV2);
  engine_->advance_to(clock_->now() + std::chrono::hours(1));

  auto unmapped = engine_->migrate(to_v2(id));
  EXPECT_EQ(unmapped.error, StepError::invalid_request);
  EXPECT_TRUE(mentions(unmapped, "has no state \"REVIEW\": map it in states")) << unmapped.message;

  MigrateRequest m = to_v2(id);
  m.states = {{"REVIEW", "CHECK"}};
  m.expected_version = 2;
  auto r = engine_->migrate(m);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.instance->state, "CHECK");
  EXPECT_FALSE(r.details["deadlines"][0]["kept"].get<bool>())
      << "CHECK is another state: its deadline is new";
  EXPECT_EQ(*engine_->get(id)->deadline, clock_->now() + std::chrono::hours(24 * 5));
  EXPECT_EQ(in_state("CHECK"), 1u);
  EXPECT_EQ(in_state("REVIEW"), 0u) << "the state index moved with it";
  auto approved = send(id, "approve");
  ASSERT_TRUE(approved.ok()) << approved.message;
  EXPECT_EQ(approved.instance->status, InstanceStatus::completed);
  EXPECT_EQ(in_state("CHECK"), 0u);
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(MigrateInstanceTest, RefusalsNameWhatIsWrongAndChangeNothing) {
  auto s = start("t.mig");
  ASSERT_TRUE(s.ok());
  const std::string id = s.instance->id;
  deploy(kV2);
  struct Case {
    const char* what;
    MigrateRequest req;
    StepError error;
    const char* message;
  };
  std::vector<Case> cases;
  auto add = [&](const char* what, StepError e, const char* message, auto change) {
    MigrateRequest m = to_v2(id);
    change(m);
    cases.push_back({what, m, e, message});
  };
  add("a typo in the map", StepError::invalid_request, "states: \"OPN\" is not a state of t.mig v1",
      [](MigrateRequest& m) {
        m.states = {{"OPN", "OPEN"}};
      });
  add("a map to a missing state", StepError::invalid_request,
      "states: \"GONE\" (for \"OPEN\") is not a state of t.mig v2", [](MigrateRequest& m) {
        m.states = {{"OPEN", "GONE"}};
      });
  add("a final state", StepError::invalid_request, "is final: cancel the instance instead",
      [](MigrateRequest& m) {
        m.states = {{"OPEN", "DONE"}};
      });
  add("its own version", StepError::invalid_request, "is on version 1 of t.mig already",
      [](MigrateRequest& m) { m.to_version = 1; });
  add("a version not deployed", StepError::not_found, "has no deployed version 9",
      [](MigrateRequest& m) { m.to_version = 9; });
  add("a stale version", StepError::version_conflict, "instance is at version 1, not 7",
      [](MigrateRequest& m) { m.expected_version = 7; });
  add("a pointer without /", StepError::invalid_request, "set: \"grade\" is not a JSON Pointer",
      [](MigrateRequest& m) {
        m.set = {{"grade", "B"}};
      });
  add("the whole data", StepError::invalid_request, "set: \"\" is not a JSON Pointer",
      [](MigrateRequest& m) {
        m.set = {{"", 5}};
      });
  add("a value the schema refuses", StepError::data_invalid, "", [](MigrateRequest& m) {
    m.set = {{"/grade", "E"}};
  });
  add("an expression that fails", StepError::expression_error, "/set/", [](MigrateRequest& m) {
    m.set = {{"/grade", json::parse(R"({"time_add": ["not a time", "P1D"]})")}};
  });
  for (auto& c : cases) {
    for (bool dry : {true, false}) {
      c.req.dry_run = dry;
      auto r = engine_->migrate(c.req);
      EXPECT_EQ(r.error, c.error) << c.what << ": " << r.message;
      EXPECT_TRUE(mentions(r, c.message)) << c.what << ": " << r.message;
    }
  }
  auto v = engine_->get(id);
  EXPECT_EQ(v->definition_version, 1);
  EXPECT_EQ(v->version, 1u);
  EXPECT_EQ(engine_->history(id).size(), 1u);
  EXPECT_EQ(engine_->pending_timers(), 1u);

  MigrateRequest bad_id = to_v2("nope");
  EXPECT_EQ(engine_->migrate(bad_id).error, StepError::not_found);
  ASSERT_TRUE(engine_->cancel(id, "closed", {"admin", {"ADMIN"}}).ok());
  auto ended = engine_->migrate(to_v2(id));
  EXPECT_EQ(ended.error, StepError::instance_ended);
  EXPECT_TRUE(mentions(ended, "only a running instance can be migrated")) << ended.message;
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(MigrateInstanceTest, APlanMigratesEachRunningInstanceAloneAfterADryRunWithCounts) {
  std::vector<std::string> v1;
  for (int i = 0; i < 4; ++i) {
    auto s = start("t.mig");
    ASSERT_TRUE(s.ok());
    v1.push_back(s.instance->id);
  }
  ASSERT_TRUE(send(v1[2], "submit").ok());
  ASSERT_TRUE(send(v1[3], "submit").ok());
  auto ended = start("t.mig");
  ASSERT_TRUE(engine_->cancel(ended.instance->id, "gone", {"admin", {"ADMIN"}}).ok());
  deploy(kV2);
  auto on_v2 = start("t.mig", {{"grade", "A"}});
  ASSERT_TRUE(on_v2.ok()) << on_v2.message;

  MigrationPlan plan;
  plan.definition = "t.mig";
  plan.step.actor = {"admin", {"ADMIN"}};
  plan.step.dry_run = true;
  // Without a grade every v1 instance would break v2's schema: each is refused alone.
  auto refused = migrate_instances(*engine_, plan);
  EXPECT_TRUE(refused.error.empty()) << refused.error;
  EXPECT_EQ(refused.examined, 5u) << "the running ones";
  EXPECT_EQ(refused.skipped, 1u) << "the one on v2 already";
  EXPECT_EQ(refused.migrated, 0u);
  ASSERT_EQ(refused.refused.size(), 4u);
  EXPECT_EQ(refused.refused_by["data-invalid"], 2u);
  EXPECT_EQ(refused.refused_by["invalid-request"], 2u) << "REVIEW has no counterpart without a map";

  plan.step.set = {{"/grade", "C"}};
  plan.step.states = {{"REVIEW", "CHECK"}};
  plan.from_version = 1;
  auto dry = migrate_instances(*engine_, plan);
  EXPECT_EQ(dry.migrated, 4u);
  EXPECT_TRUE(dry.refused.empty());
  for (const auto& id : v1)
    EXPECT_EQ(engine_->get(id)->definition_version, 1) << "a dry run writes nothing";

  plan.step.dry_run = false;
  plan.limit = 3;
  auto first = migrate_instances(*engine_, plan);  // the query's order: OPEN (3), then REVIEW (2)
  EXPECT_EQ(first.examined, 3u);
  EXPECT_EQ(first.migrated, 2u);
  EXPECT_EQ(first.skipped, 1u);
  ASSERT_FALSE(first.next_cursor.empty());
  plan.cursor = first.next_cursor;
  auto rest = migrate_instances(*engine_, plan);
  EXPECT_EQ(rest.examined, 2u);
  EXPECT_EQ(rest.migrated, 2u);
  EXPECT_EQ(rest.skipped, 0u);
  EXPECT_TRUE(rest.next_cursor.empty());
  for (const auto& id : v1) {
    auto v = engine_->get(id);
    EXPECT_EQ(v->definition_version, 2);
    EXPECT_EQ(v->data["grade"], "C");
  }
  EXPECT_EQ(engine_->get(v1[3])->state, "CHECK");
  EXPECT_EQ(engine_->get(ended.instance->id)->definition_version, 1)
      << "ended instances stay as they ended";

  // v3 renames OPEN to QUEUED, which the query meets after OPEN: each instance counts once.
  std::string v3 = kV2;
  for (std::size_t at; (at = v3.find("OPEN")) != std::string::npos;) v3.replace(at, 4, "QUEUED");
  v3.replace(v3.find("\"version\": 2"), 12, "\"version\": 3");
  deploy(v3);
  MigrationPlan later;
  later.definition = "t.mig";
  later.from_version = 2;
  later.step.states = {{"OPEN", "QUEUED"}};
  later.step.actor = {"admin", {"ADMIN"}};
  auto renamed = migrate_instances(*engine_, later);
  EXPECT_EQ(renamed.migrated, 5u) << "v1[0], v1[1], v1[2], v1[3] and the one started on v2";
  EXPECT_EQ(renamed.examined, 5u);
  EXPECT_EQ(renamed.skipped, 0u);
  EXPECT_EQ(engine_->get(v1[0])->state, "QUEUED");

  plan.cursor = "zz";
  EXPECT_FALSE(migrate_instances(*engine_, plan).error.empty());
  plan.definition = "t.none";
  EXPECT_NE(migrate_instances(*engine_, plan).error.find("not deployed"), std::string::npos);
  EXPECT_TRUE(engine_->verify().ok());
}

}  // namespace
}  // namespace bihuan::testing
