// Starting instances, sending events, refusals, idempotency, history and restart.
#include "engine_fixture.hpp"

using namespace bihuan;
using bihuan::testing::EngineTest;

namespace {

const char* kApproval = R"({
  "id": "t.approval", "version": 1, "title": "审批",
  "dataSchema": {"type": "object", "properties": {"days": {"type": "integer"}}},
  "initial": "OPEN",
  "states": {
    "OPEN": {
      "deadline": {"after": "P2D"},
      "on": {
        "approve": {"roles": ["USER"], "transitions": [
          {"guard": {"<=": [{"var": "data.days"}, 3]}, "target": "DONE", "set": {"/approvedBy": {"var": "actor.id"}}},
          {"else": true, "target": "REVIEW"}]},
        "note": {"roles": ["USER"], "payloadSchema": {"type": "object", "required": ["text"]},
                 "set": {"/notes/-": {"var": "event.payload.text"}}},
        "strict": {"roles": ["USER"], "guard": {">": [{"var": "data.days"}, 100]}, "target": "DONE",
                   "rejectMessage": "too few days"},
        "break": {"roles": ["USER"], "set": {"/days": "many"}}
      }
    },
    "REVIEW": {"deadline": {"after": "P1D"}, "on": {"approve": {"roles": ["BOSS"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "approved"}
  }
})";

}  // namespace

TEST_F(EngineTest, StartSendAndComplete) {
  deploy(kApproval);
  auto s = start("t.approval", {{"days", 2}});
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(s.instance->state, "OPEN");
  EXPECT_EQ(s.instance->version, 1u);
  ASSERT_TRUE(s.instance->deadline);
  EXPECT_EQ(*s.instance->deadline, bihuan::testing::at("2023-04-05T09:00:00+08:00"));
  auto e = send(s.instance->id, "approve");
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(e.instance->state, "DONE");
  EXPECT_EQ(e.instance->status, InstanceStatus::completed);
  EXPECT_EQ(e.instance->outcome, "approved");
  EXPECT_EQ(e.instance->data["approvedBy"], "u1");
  EXPECT_EQ(e.instance->version, 2u);
  auto again = send(s.instance->id, "approve");
  EXPECT_EQ(again.error, StepError::instance_ended);
}

TEST_F(EngineTest, ElseBranchAndRoles) {
  deploy(kApproval);
  auto s = start("t.approval", {{"days", 5}});
  auto e = send(s.instance->id, "approve");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.instance->state, "REVIEW");
  auto denied = send(s.instance->id, "approve");
  EXPECT_EQ(denied.error, StepError::role_not_allowed);
  EXPECT_EQ(engine_->get(s.instance->id)->version, 2u);  // refused: nothing applied
  auto ok = send(s.instance->id, "approve", json::object(), {"b1", {"BOSS"}});
  EXPECT_TRUE(ok.ok()) << ok.message;
}

TEST_F(EngineTest, RefusalsSayWhy) {
  deploy(kApproval);
  auto id = start("t.approval", {{"days", 5}}).instance->id;
  auto unknown = send(id, "fly");
  EXPECT_EQ(unknown.error, StepError::unknown_event);
  EXPECT_TRUE(unknown.details["allowed"].is_array());
  auto guard = send(id, "strict");
  EXPECT_EQ(guard.error, StepError::guard_false);
  EXPECT_EQ(guard.message, "too few days");
  auto payload = send(id, "note", {{"nope", 1}});
  EXPECT_EQ(payload.error, StepError::payload_invalid);
  auto data = send(id, "break");
  EXPECT_EQ(data.error, StepError::data_invalid);
  EventRequest stale;
  stale.instance_id = id;
  stale.event = "note";
  stale.payload = {{"text", "x"}};
  stale.actor = {"u1", {"USER"}};
  stale.expected_version = 7;
  EXPECT_EQ(engine_->send(stale).error, StepError::version_conflict);
  EXPECT_EQ(engine_->get(id)->version, 1u);
  auto missing = send("00000000000000ff", "approve");
  EXPECT_EQ(missing.error, StepError::not_found);
}

TEST_F(EngineTest, DataUpdatesAppendAndHistoryChains) {
  deploy(kApproval);
  auto id = start("t.approval", {{"days", 5}}).instance->id;
  ASSERT_TRUE(send(id, "note", {{"text", "一"}}).ok());
  auto r = send(id, "note", {{"text", "二"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.instance->data["notes"], json::array({"一", "二"}));
  auto h = engine_->history(id);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].kind, "start");
  EXPECT_EQ(h[1].prev_hash, h[0].hash);
  EXPECT_EQ(h[2].prev_hash, h[1].hash);
  EXPECT_TRUE(engine_->verify().ok());
}

// A long history is read a page at a time, newest page first, each page oldest first. A
// cursor names one entry, so steps taken between pages do not shift the older pages.
TEST_F(EngineTest, HistoryIsReadInPagesThatStayPutWhileTheInstanceGoesOn) {
  deploy(kApproval);
  auto id = start("t.approval", {{"days", 5}}).instance->id;
  auto other = start("t.approval", {{"days", 5}}).instance->id;
  for (int i = 1; i < 25; ++i) {
    ASSERT_TRUE(send(id, "note", {{"text", std::to_string(i)}}).ok());
    ASSERT_TRUE(send(other, "note", {{"text", std::to_string(i)}}).ok());  // interleaved in the log
  }
  auto seqs = [](const HistoryPage& p) {
    std::vector<std::uint64_t> out;
    for (const auto& e : p.items) out.push_back(e.seq);
    return out;
  };
  HistoryPage first = engine_->history_page({id, "", 10});
  ASSERT_TRUE(first.error.empty()) << first.error;
  EXPECT_EQ(seqs(first), (std::vector<std::uint64_t>{16, 17, 18, 19, 20, 21, 22, 23, 24, 25}));
  ASSERT_FALSE(first.next_cursor.empty());
  ASSERT_TRUE(send(id, "note", {{"text", "later"}}).ok());  // step 26 does not move page two
  HistoryPage second = engine_->history_page({id, first.next_cursor, 10});
  ASSERT_TRUE(second.error.empty()) << second.error;
  EXPECT_EQ(seqs(second), (std::vector<std::uint64_t>{6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  HistoryPage one = engine_->history_page({id, first.next_cursor, 1});  // the cursor's entry alone
  EXPECT_EQ(seqs(one), (std::vector<std::uint64_t>{15}));
  EXPECT_EQ(seqs(engine_->history_page({id, one.next_cursor, 2})),
            (std::vector<std::uint64_t>{13, 14}));
  HistoryPage last = engine_->history_page({id, second.next_cursor, 10});
  EXPECT_EQ(seqs(last), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(last.next_cursor.empty());
  EXPECT_EQ(last.items.front().kind, "start");
  // The pages are the full history's entries, hashes and all.
  auto all = engine_->history(id);
  ASSERT_EQ(all.size(), 26u);
  EXPECT_EQ(second.items[0].hash, all[5].hash);
  EXPECT_EQ(last.items[4].hash, all[4].hash);
  EXPECT_EQ(engine_->history_page({id, "", 0}).items.size(), 26u);
  EXPECT_EQ(engine_->history_page({id, second.next_cursor, 0}).items.size(), 5u);  // all before it

  // A cursor of another instance, a made-up one and a malformed one are refused by name.
  HistoryPage of_other = engine_->history_page({other, "", 3});
  for (const std::string& bad : {of_other.next_cursor, std::string(32, '0'), std::string("zz"),
                                 first.next_cursor.substr(0, 16) + std::string(16, 'f')}) {
    HistoryPage p = engine_->history_page({id, bad, 10});
    EXPECT_TRUE(p.items.empty()) << bad;
    EXPECT_NE(p.error.find("does not name an entry of instance " + id), std::string::npos)
        << p.error;
  }
  EXPECT_TRUE(engine_->history_page({"00000000000000ff", "", 10}).items.empty());
}

TEST_F(EngineTest, IdempotentStartsAndEvents) {
  deploy(kApproval);
  StartRequest req;
  req.definition = "t.approval";
  req.data = {{"days", 1}};
  req.idempotency_key = "k1";
  auto a = engine_->start(req);
  auto b = engine_->start(req);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.instance->id, b.instance->id);
  EXPECT_TRUE(b.replayed);
  EventRequest ev;
  ev.instance_id = a.instance->id;
  ev.event = "note";
  ev.payload = {{"text", "x"}};
  ev.actor = {"u1", {"USER"}};
  ev.idempotency_key = "e1";
  ASSERT_TRUE(engine_->send(ev).ok());
  auto replay = engine_->send(ev);
  EXPECT_TRUE(replay.ok());
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(engine_->get(a.instance->id)->version, 2u);
  ev.payload = {{"text", "other"}};
  EXPECT_EQ(engine_->send(ev).error, StepError::idempotency_key_reused);
}

TEST_F(EngineTest, BusinessKeysRefuseOrReturnRunningDuplicates) {
  deploy(kApproval);
  auto a = start("t.approval", {{"days", 1}}, "case:1");
  ASSERT_TRUE(a.ok());
  auto dup = start("t.approval", {{"days", 1}}, "case:1");
  EXPECT_EQ(dup.error, StepError::duplicate_business_key);
  StartRequest r;
  r.definition = "t.approval";
  r.business_key = "case:1";
  r.return_existing = true;
  auto same = engine_->start(r);
  EXPECT_TRUE(same.ok());
  EXPECT_EQ(same.instance->id, a.instance->id);
  EventRequest ev;
  ev.business_key = "case:1";
  ev.event = "approve";
  ev.actor = {"u1", {"USER"}};
  ASSERT_TRUE(engine_->send(ev).ok());
  EXPECT_TRUE(start("t.approval", {{"days", 1}}, "case:1").ok());  // the first one ended
}

TEST_F(EngineTest, EverythingSurvivesReopen) {
  deploy(kApproval);
  auto id = start("t.approval", {{"days", 5}}, "k").instance->id;
  ASSERT_TRUE(send(id, "note", {{"text", "持久"}}).ok());
  reopen();
  auto v = engine_->get(id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, 2u);
  EXPECT_EQ(v->data["notes"][0], "持久");
  EXPECT_TRUE(engine_->definition("t.approval"));
  EXPECT_TRUE(send(id, "approve").ok());
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, DeployIsVersionedAndImmutable) {
  deploy(kApproval);
  auto same = engine_->deploy(json::parse(kApproval), "again");
  EXPECT_TRUE(same.ok);
  EXPECT_TRUE(same.unchanged);
  json changed = json::parse(kApproval);
  changed["title"] = "changed";
  auto clash = engine_->deploy(changed, "changed");
  EXPECT_FALSE(clash.ok);
  auto old_id = start("t.approval", {{"days", 5}}).instance->id;
  changed["version"] = 2;
  changed["states"]["OPEN"]["on"]["approve"]["transitions"][0]["guard"] =
      json::parse(R"({"<=": [{"var": "data.days"}, 10]})");
  ASSERT_TRUE(engine_->deploy(changed, "v2").ok);
  auto fresh = start("t.approval", {{"days", 5}});
  EXPECT_EQ(fresh.instance->definition_version, 2);
  EXPECT_EQ(send(fresh.instance->id, "approve").instance->state, "DONE");
  EXPECT_EQ(send(old_id, "approve").instance->state, "REVIEW");  // still on version 1
}

TEST_F(EngineTest, AsOfRebuildsPastStates) {
  deploy(kApproval);
  auto id = start("t.approval", {{"days", 5}}).instance->id;
  clock_->advance(std::chrono::hours(1));
  ASSERT_TRUE(send(id, "note", {{"text", "a"}}).ok());
  clock_->advance(std::chrono::hours(1));
  ASSERT_TRUE(send(id, "approve").ok());
  auto t0 = engine_->as_of(id, bihuan::testing::at("2023-04-03T09:30:00+08:00"));
  ASSERT_TRUE(t0);
  EXPECT_EQ(t0->state, "OPEN");
  EXPECT_FALSE(t0->data.contains("notes"));
  auto t1 = engine_->as_of(id, bihuan::testing::at("2023-04-03T10:30:00+08:00"));
  EXPECT_EQ(t1->data["notes"][0], "a");
  EXPECT_EQ(t1->version, 2u);
  auto t2 = engine_->as_of(id, bihuan::testing::at("2023-04-03T12:00:00+08:00"));
  EXPECT_EQ(t2->state, "REVIEW");
  EXPECT_FALSE(engine_->as_of(id, bihuan::testing::at("2023-04-03T08:00:00+08:00")));
}

// Templates are parsed once and rendered with only the context members their tags name;
// sections fall back to the outer context, so every first name segment counts.
TEST_F(EngineTest, NotificationTemplatesSeeEveryMemberTheyNameAndRenderFreshEachTime) {
  deploy(R"({"id": "t.tpl", "version": 1, "initial": "A", "states": {
    "A": {"on": {"go": {"roles": ["USER"], "target": "B", "set": {"/count": {"var": "event.payload.count"}}}}},
    "B": {"type": "final", "outcome": "done",
          "onEntry": [{"notify": "log", "to": "x", "subject": "{{instance.businessKey}}",
                       "template": "{{data.name}}|{{#event.payload.items}}{{label}}@{{data.name}};{{/event.payload.items}}|{{{actor.id}}}|{{ data.count }}|{{missing.x}}|{{! note }}{{#data.flag}}on{{/data.flag}}{{^data.flag}}off{{/data.flag}}|{{#data.box}}{{k}}/{{data.name}}{{/data.box}}"}]}}})");
  auto run = [&](const std::string& name, bool flag, json items) {
    json data = {{"name", name}, {"flag", flag}, {"unread", json::array({1, 2, 3})}};
    if (flag) data["box"] = {{"k", "v"}, {"other", 1}};
    auto id = start("t.tpl", data, "key-" + name).instance->id;
    EXPECT_TRUE(
        send(id, "go", {{"items", std::move(items)}, {"count", 2}}, {"u<1>", {"USER"}}).ok());
  };
  run("甲", true, json::array({{{"label", "a"}}, {{"label", "b"}}}));
  run("乙", false, json::array());
  auto out = engine_->outbox();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body["text"], "甲|a@甲;b@甲;|u<1>|2||on|v/甲");
  EXPECT_EQ(out[0].body["subject"], "key-甲");
  EXPECT_EQ(out[1].body["text"], "乙||u<1>|2||off|");
}

// A member a "set" adds is checked on its own against additionalProperties (a schema, or
// absent: anything), with the same verdict as a whole check.
TEST_F(EngineTest, ANewMemberIsCheckedAgainstAdditionalPropertiesByMemberOrWhole) {
  for (bool by_member : {true, false}) {
    json d = json::parse(R"({"id": "t.extra", "initial": "A",
      "dataSchema": {"type": "object", "properties": {"n": {"type": "integer"}},
                     "additionalProperties": {"type": "string"}},
      "states": {"A": {"on": {
        "put": {"roles": ["USER"], "target": "A", "set": {"/free": {"var": "event.payload.v"}}},
        "stop": {"roles": ["USER"], "target": "END"}}},
        "END": {"type": "final", "outcome": "done"}}})");
    d["version"] = by_member ? 1 : 2;
    if (!by_member) d["dataSchema"]["minProperties"] = 0;  // a root keyword: checked whole
    deploy(d.dump());
    EXPECT_EQ(engine_->definition("t.extra")->data_schema_by_member, by_member);
    auto id = start("t.extra", {{"n", 1}}).instance->id;
    auto bad = send(id, "put", {{"v", 7}});
    EXPECT_EQ(bad.error, StepError::data_invalid);
    EXPECT_EQ(bad.details["problems"][0]["pointer"], "/data/free") << bad.details.dump();
    EXPECT_TRUE(send(id, "put", {{"v", "seven"}}).ok());
    EXPECT_EQ(engine_->get(id)->data, json({{"n", 1}, {"free", "seven"}}));
  }
}

// After a "set", only the members it changed are checked again when the dataSchema root
// allows it (a new declared member too); a new undeclared member under
// additionalProperties: false, or a root with other keywords, is checked whole. Either
// way the refusal names the same pointer and applies nothing.
TEST_F(EngineTest, DataSchemaIsCheckedByMemberOrWholeWithTheSameVerdict) {
  const char* def = R"({"id": "t.members", "version": 1, "initial": "A",
    "dataSchema": {"type": "object", "required": ["n"], "additionalProperties": false,
                   "properties": {"n": {"type": "integer", "maximum": 10},
                                  "box": {"type": "object", "properties": {"k": {"type": "string"}}},
                                  "extra": {"type": "string"}}},
    "states": {"A": {"on": {
      "inc": {"roles": ["USER"], "target": "A", "set": {"/n": {"+": [{"var": "data.n"}, {"var": "event.payload.by"}]}}},
      "deep": {"roles": ["USER"], "target": "A", "set": {"/box/k": {"var": "event.payload.k"}}},
      "add": {"roles": ["USER"], "target": "A", "set": {"/extra": {"var": "event.payload.v"}}},
      "stray": {"roles": ["USER"], "target": "A", "set": {"/stray": 1}},
      "stop": {"roles": ["USER"], "target": "END"}}, "deadline": {"after": "P1D"}},
      "END": {"type": "final", "outcome": "done"}}})";
  for (bool by_member : {true, false}) {
    json d = json::parse(def);
    d["version"] = by_member ? 1 : 2;
    if (!by_member) d["dataSchema"]["minProperties"] = 1;  // a root keyword: checked whole
    deploy(d.dump());
    EXPECT_EQ(engine_->definition("t.members")->data_schema_by_member, by_member);
    auto id = start("t.members", {{"n", 1}, {"box", json::object()}}).instance->id;
    EXPECT_TRUE(send(id, "inc", {{"by", 9}}).ok());
    auto over = send(id, "inc", {{"by", 1}});
    EXPECT_EQ(over.error, StepError::data_invalid);
    EXPECT_EQ(over.details["problems"][0]["pointer"], "/data/n") << over.details.dump();
    auto deep = send(id, "deep", {{"k", 5}});
    EXPECT_EQ(deep.error, StepError::data_invalid);
    EXPECT_EQ(deep.details["problems"][0]["pointer"], "/data/box/k") << deep.details.dump();
    EXPECT_TRUE(send(id, "deep", {{"k", "ok"}}).ok());
    EXPECT_EQ(send(id, "add", {{"v", 3}}).error, StepError::data_invalid);  // a new member
    EXPECT_TRUE(send(id, "add", {{"v", "x"}}).ok());
    EXPECT_EQ(send(id, "add", {{"v", 4}}).error, StepError::data_invalid);  // now an existing one
    EXPECT_EQ(send(id, "stray").error, StepError::data_invalid);            // additionalProperties
    auto v = engine_->get(id);
    EXPECT_EQ(v->version, 4u);
    EXPECT_EQ(v->data, json({{"n", 10}, {"box", {{"k", "ok"}}}, {"extra", "x"}}));
  }
}
