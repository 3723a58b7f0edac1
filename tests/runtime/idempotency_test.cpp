// Idempotency keys (docs/http-api.md, "Idempotency-Key"; docs/storage.md, "Idempotency
// records"): scoped to their caller, refused for a different request, authorized again on
// replay, and answered with what the original step returned.
#include "runtime/idempotency.hpp"
#include "engine_fixture.hpp"

using namespace bihuan;
using bihuan::testing::EngineTest;

namespace {

const char* kReview = R"({
  "id": "t.review", "version": 1, "initial": "OPEN",
  "states": {
    "OPEN": {"on": {
      "note": {"roles": ["USER"], "set": {"/notes/-": {"var": "event.payload.text"}}},
      "approve": {"roles": ["USER"], "target": "DONE", "set": {"/approvedBy": {"var": "actor.id"}}}}},
    "DONE": {"type": "final", "outcome": "approved"}
  }
})";

const char* kOther = R"({
  "id": "t.other", "version": 1, "initial": "WAITING",
  "states": {"WAITING": {"on": {"go": {"target": "GONE"}}}, "GONE": {"type": "final", "outcome": "gone"}}
})";

Actor alice() { return {"alice", {"USER"}}; }
Actor bob() { return {"bob", {"USER"}}; }

StartRequest start_req(const std::string& def, json data, const std::string& key, Actor actor) {
  StartRequest r;
  r.definition = def;
  r.data = std::move(data);
  r.idempotency_key = key;
  r.actor = std::move(actor);
  return r;
}

EventRequest event_req(const std::string& id, const std::string& event, json payload,
                       const std::string& key, Actor actor) {
  EventRequest r;
  r.instance_id = id;
  r.event = event;
  r.payload = std::move(payload);
  r.idempotency_key = key;
  r.actor = std::move(actor);
  return r;
}

// The pointers a refusal's details.problems name, in order.
std::vector<std::string> pointers(const StepResult& r) {
  std::vector<std::string> out;
  if (r.details.is_object() && r.details.contains("problems"))
    for (const auto& p : r.details["problems"]) out.push_back(p.value("pointer", ""));
  return out;
}

class IdempotencyTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    deploy(kReview);
    deploy(kOther);
  }
};

}  // namespace

// The finding: bob's start of another workflow with alice's key got alice's instance
// and data back, and his own start was dropped.
TEST_F(IdempotencyTest, TwoCallersWithOneKeyStartTheirOwnInstances) {
  auto a = engine_->start(start_req("t.review", {{"owner", "alice"}}, "k-1", alice()));
  ASSERT_TRUE(a.ok()) << a.message;
  auto b = engine_->start(start_req("t.other", {{"owner", "bob"}}, "k-1", bob()));
  ASSERT_TRUE(b.ok()) << b.message;
  EXPECT_FALSE(b.replayed);
  EXPECT_NE(b.instance->id, a.instance->id);
  EXPECT_EQ(b.instance->definition, "t.other");
  EXPECT_EQ(b.instance->data, json({{"owner", "bob"}}));
  // Each caller's retry replays their own.
  auto a2 = engine_->start(start_req("t.review", {{"owner", "alice"}}, "k-1", alice()));
  auto b2 = engine_->start(start_req("t.other", {{"owner", "bob"}}, "k-1", bob()));
  ASSERT_TRUE(a2.ok() && b2.ok());
  EXPECT_TRUE(a2.replayed && b2.replayed);
  EXPECT_EQ(a2.instance->id, a.instance->id);
  EXPECT_EQ(b2.instance->id, b.instance->id);
  EXPECT_TRUE(a2.created && b2.created);

  // Events: one key per caller on one instance.
  auto ea =
      engine_->send(event_req(a.instance->id, "note", {{"text", "from alice"}}, "e-1", alice()));
  auto eb = engine_->send(event_req(a.instance->id, "note", {{"text", "from bob"}}, "e-1", bob()));
  ASSERT_TRUE(ea.ok() && eb.ok()) << ea.message << " / " << eb.message;
  EXPECT_FALSE(eb.replayed);
  EXPECT_EQ(engine_->get(a.instance->id)->data["notes"], json({"from alice", "from bob"}));
}

TEST_F(IdempotencyTest, AKeyReusedForAnotherRequestIsRefusedNamingTheDifference) {
  auto a = engine_->start(start_req("t.review", {{"days", 1}}, "k-2", alice()));
  ASSERT_TRUE(a.ok());
  auto data = engine_->start(start_req("t.review", {{"days", 2}}, "k-2", alice()));
  EXPECT_EQ(data.error, StepError::idempotency_key_reused);
  EXPECT_EQ(pointers(data), std::vector<std::string>{"/data"});
  EXPECT_NE(data.message.find("k-2"), std::string::npos) << data.message;
  auto other = start_req("t.other", {{"days", 1}}, "k-2", alice());
  other.business_key = "case-9";
  auto two = engine_->start(other);
  EXPECT_EQ(two.error, StepError::idempotency_key_reused);
  EXPECT_EQ(pointers(two), (std::vector<std::string>{"/definition", "/businessKey"}))
      << two.message;
  auto pinned = start_req("t.review", {{"days", 1}}, "k-2", alice());
  pinned.version = 1;
  EXPECT_EQ(pointers(engine_->start(pinned)), std::vector<std::string>{"/version"});
  EXPECT_EQ(engine_->query({}).items.size(), 1u);  // nothing else started

  auto e = engine_->send(event_req(a.instance->id, "note", {{"text", "x"}}, "e-2", alice()));
  ASSERT_TRUE(e.ok());
  auto payload = engine_->send(event_req(a.instance->id, "note", {{"text", "y"}}, "e-2", alice()));
  EXPECT_EQ(payload.error, StepError::idempotency_key_reused);
  EXPECT_EQ(pointers(payload), std::vector<std::string>{"/payload"});
  auto event = engine_->send(event_req(a.instance->id, "approve", {{"text", "x"}}, "e-2", alice()));
  EXPECT_EQ(pointers(event), std::vector<std::string>{"/event"});
  auto conditional = event_req(a.instance->id, "note", {{"text", "x"}}, "e-2", alice());
  conditional.expected_version = 1;
  EXPECT_EQ(pointers(engine_->send(conditional)), std::vector<std::string>{"header:If-Match"});
  EXPECT_EQ(engine_->get(a.instance->id)->version, 2u);
}

// The finding: a caller refused with a new key got its replay with the same key.
TEST_F(IdempotencyTest, AReplayIsAuthorizedLikeTheOriginal) {
  auto a = engine_->start(start_req("t.review", json::object(), "", alice()));
  ASSERT_TRUE(a.ok());
  auto e = engine_->send(event_req(a.instance->id, "note", {{"text", "x"}}, "e-3", alice()));
  ASSERT_TRUE(e.ok());
  Actor guest{"guest", {}};
  auto fresh = engine_->send(event_req(a.instance->id, "note", {{"text", "x"}}, "e-new", guest));
  EXPECT_EQ(fresh.error, StepError::role_not_allowed);
  auto same_key = engine_->send(event_req(a.instance->id, "note", {{"text", "x"}}, "e-3", guest));
  EXPECT_EQ(same_key.error, StepError::role_not_allowed) << to_string(same_key.error);
  // The same actor id whose token lost the role is refused too.
  Actor demoted{"alice", {}};
  auto replay = engine_->send(event_req(a.instance->id, "note", {{"text", "x"}}, "e-3", demoted));
  EXPECT_EQ(replay.error, StepError::role_not_allowed) << to_string(replay.error);
  EXPECT_TRUE(
      engine_->send(event_req(a.instance->id, "note", {{"text", "x"}}, "e-3", alice())).replayed);
  EXPECT_EQ(engine_->get(a.instance->id)->version, 2u);
}

// The finding: a replay returned the instance's current version, not its step's.
TEST_F(IdempotencyTest, AReplayAfterFurtherStepsReturnsTheOriginalResult) {
  auto s = engine_->start(start_req("t.review", {{"days", 1}}, "k-4", alice()));
  ASSERT_TRUE(s.ok());
  auto e = engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "e-4", alice()));
  ASSERT_TRUE(e.ok());
  // Nothing since: the whole instance, data included.
  auto now = engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "e-4", alice()));
  ASSERT_TRUE(now.ok() && now.replayed);
  EXPECT_EQ(now.instance->version, 2u);
  EXPECT_EQ(now.instance->data, e.instance->data);
  EXPECT_FALSE(now.details.is_object() && now.details.contains("currentVersion"));

  clock_->advance(Millis(60000));
  auto done = engine_->send(event_req(s.instance->id, "approve", json::object(), "", alice()));
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done.instance->version, 3u);

  auto event_replay =
      engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "e-4", alice()));
  ASSERT_TRUE(event_replay.ok()) << event_replay.message;
  EXPECT_TRUE(event_replay.replayed);
  EXPECT_EQ(event_replay.instance->version, 2u);
  EXPECT_EQ(event_replay.instance->state, "OPEN");
  EXPECT_EQ(event_replay.instance->status, InstanceStatus::running);
  EXPECT_EQ(event_replay.instance->outcome, "");
  EXPECT_EQ(event_replay.instance->updated_at, e.instance->updated_at);
  EXPECT_TRUE(event_replay.instance->data.is_null());
  EXPECT_EQ(event_replay.details.value("currentVersion", 0u), 3u);

  auto start_replay = engine_->start(start_req("t.review", {{"days", 1}}, "k-4", alice()));
  ASSERT_TRUE(start_replay.ok());
  EXPECT_TRUE(start_replay.replayed && start_replay.created);
  EXPECT_EQ(start_replay.instance->version, 1u);
  EXPECT_EQ(start_replay.instance->state, "OPEN");
  EXPECT_EQ(start_replay.instance->status, InstanceStatus::running);
  EXPECT_EQ(start_replay.details.value("currentVersion", 0u), 3u);

  // The records outlive a restart.
  reopen();
  auto again = engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "e-4", alice()));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.instance->version, 2u);
  EXPECT_EQ(engine_->get(s.instance->id)->version, 3u);
}

// Records written before requests were recorded: honoured as far as they tell.
TEST_F(IdempotencyTest, OldRecordsStillReplayAndRefuseWhatTheyCanTell) {
  auto s = engine_->start(start_req("t.review", {{"days", 1}}, "", alice()));
  ASSERT_TRUE(s.ok());
  auto e = engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "", alice()));
  ASSERT_TRUE(e.ok());
  std::uint64_t id = *runtime::id_from_text(s.instance->id);
  reopen_after_raw_edit([&](storage::Txn& txn) {
    std::string start_key = std::string("s") + '\0' + "old-start";
    ASSERT_EQ(txn.put(storage::Db::idem, start_key, storage::be64(id)), 0);
    std::string event_key = std::string("e") + '\0' + storage::be64(id) + "old-event";
    json payload = {{"text", "x"}};
    ASSERT_EQ(txn.put(storage::Db::idem, event_key,
                      runtime::sha256_hex(std::string("note") + '\0' + payload.dump())),
              0);
  });
  auto start = engine_->start(start_req("t.review", {{"days", 7}}, "old-start", bob()));
  ASSERT_TRUE(start.ok()) << start.message;
  EXPECT_TRUE(start.replayed);
  EXPECT_EQ(start.instance->id, s.instance->id);
  auto other = engine_->start(start_req("t.other", json::object(), "old-start", bob()));
  EXPECT_EQ(other.error, StepError::idempotency_key_reused);
  EXPECT_EQ(pointers(other), std::vector<std::string>{"/definition"});

  auto event =
      engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "old-event", alice()));
  ASSERT_TRUE(event.ok()) << event.message;
  EXPECT_TRUE(event.replayed);
  auto differs =
      engine_->send(event_req(s.instance->id, "note", {{"text", "y"}}, "old-event", alice()));
  EXPECT_EQ(differs.error, StepError::idempotency_key_reused);
  auto guest =
      engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "old-event", {"guest", {}}));
  EXPECT_EQ(guest.error, StepError::role_not_allowed);
  EXPECT_EQ(engine_->get(s.instance->id)->version, 2u);
  EXPECT_EQ(engine_->query({}).items.size(), 1u);
}

// A record that does not decode refuses the step: never "absent", which would apply the
// request a second time.
TEST_F(IdempotencyTest, ADamagedRecordRefusesTheStep) {
  auto s = engine_->start(start_req("t.review", {{"days", 1}}, "k-5", alice()));
  ASSERT_TRUE(s.ok());
  auto e = engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "e-5", alice()));
  ASSERT_TRUE(e.ok());
  std::uint64_t id = *runtime::id_from_text(s.instance->id);
  reopen_after_raw_edit([&](storage::Txn& txn) {
    ASSERT_EQ(txn.put(storage::Db::idem, runtime::idem::start_key("alice", "k-5"), "\x81\xa1i"), 0);
    ASSERT_EQ(txn.put(storage::Db::idem, runtime::idem::event_key(id, "alice", "e-5"),
                      std::string(8, '\0')),
              0);
  });
  auto start = engine_->start(start_req("t.review", {{"days", 1}}, "k-5", alice()));
  EXPECT_EQ(start.error, StepError::record_damaged) << start.message;
  auto event = engine_->send(event_req(s.instance->id, "note", {{"text", "x"}}, "e-5", alice()));
  EXPECT_EQ(event.error, StepError::record_damaged) << event.message;
  EXPECT_EQ(engine_->get(s.instance->id)->version, 2u);
  EXPECT_EQ(engine_->query({}).items.size(), 1u);
}

// The keys a format-1 build wrote (tests/data/format1/make.sh: starts "p1".."p6" with
// business keys m-parent:N, notes "n1".."n6" by clerk-1) replay after the upgrade.
TEST_F(EngineTest, KeysAnOldBuildWroteStillReplay) {
  SKIP_ON_PG("an LMDB file an older build wrote");
  namespace fs = std::filesystem;
  engine_->close();
  engine_.reset();
  fs::remove(fs::path(dir_) / "data.mdb");
  fs::remove(fs::path(dir_) / "lock.mdb");
  fs::copy_file(fs::path(BIHUAN_SOURCE_DIR) / "tests/data/format1/data.mdb",
                fs::path(dir_) / "data.mdb");
  fs::permissions(fs::path(dir_) / "data.mdb", fs::perms::owner_write, fs::perm_options::add);
  clock_->set(bihuan::testing::at("2026-12-01T00:00:00+08:00"));
  open();
  auto parent = engine_->get_by_business_key("m-parent:4");
  ASSERT_TRUE(parent);
  StartRequest s;
  s.definition = "m.parent";
  s.business_key = "m-parent:4";
  s.data = {{"batch", 4},
            {"items", {"a", "b", "c"}},
            {"done", 0},
            {"reminded", 0},
            {"notes", json::array()}};
  s.idempotency_key = "p4";
  auto replay = engine_->start(s);
  ASSERT_TRUE(replay.ok()) << replay.message;
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.instance->id, parent->id);
  s.definition = "m.child";
  auto other = engine_->start(s);
  EXPECT_EQ(other.error, StepError::idempotency_key_reused);
  EXPECT_EQ(pointers(other), std::vector<std::string>{"/definition"});

  auto note = event_req(parent->id, "note", {{"text", "note 4"}}, "n4", {"clerk-1", {"clerk"}});
  auto again = engine_->send(note);
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_TRUE(again.replayed);
  note.actor = {"visitor", {}};
  EXPECT_EQ(engine_->send(note).error, StepError::role_not_allowed);
  EXPECT_EQ(engine_->get(parent->id)->version, parent->version);
}
