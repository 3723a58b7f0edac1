// One instance's hash-chain check, its pending timers and deadlines, and its children
// (Engine::verify_instance, instance_timers, children): what the console's instance page
// shows.
#include "engine_fixture.hpp"
#include "family_definitions.hpp"
#include "storage/lmdb_env.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::EngineTest;
using bihuan::testing::kChild;
using bihuan::testing::kParent;

namespace {

const char* kTimed = R"({"id": "t.timed", "version": 1, "initial": "WAIT", "states": {
  "WAIT": {
    "deadline": {"after": "PT4H"},
    "timers": [{"id": "nudge", "after": "PT1H", "every": "PT1H", "limit": 3, "event": "nudge"},
               {"id": "give-up", "after": "P2D", "target": "GONE"}],
    "on": {"nudge": {"roles": ["system"], "set": {"/nudged": true}},
           "go": {"roles": ["system"], "target": "DONE"}}},
  "DONE": {"type": "final", "outcome": "ok"},
  "GONE": {"type": "final", "outcome": "gone"}}})";

// Children each readable by one actor: the one its item names.
const char* kScopedChild = R"({"id": "t.schild", "version": 1, "initial": "TODO",
  "access": {"readers": {"cat": ["actor:", {"var": "data.name"}]}},
  "states": {"TODO": {"on": {"finish": {"roles": ["system"], "target": "DONE"}}},
             "DONE": {"type": "final", "outcome": "x"}}})";
const char* kScopedParent = R"({"id": "t.sparent", "version": 1, "initial": "RUN",
  "states": {"RUN": {"onEntry": [{"spawn": "t.schild", "forEach": {"var": "data.items"},
                                  "data": {"name": {"var": "item"}}}],
                     "on": {"end": {"roles": ["system"], "target": "END"}}},
             "END": {"type": "final", "outcome": "x"}}})";

// Rewrites the stored history entry `seq` of instance `id` with `edit` (the MessagePack
// entry), in a raw LMDB transaction of the fixture's closed engine.
template <class Edit>
void edit_entry(storage::Txn& txn, const std::string& id, std::uint64_t seq, Edit edit) {
  auto cur = txn.cursor(storage::Db::hist);
  std::uint64_t owner = std::stoull(id, nullptr, 16);
  for (bool ok = cur->first(); ok; ok = cur->next()) {
    std::string value(cur->value());
    if (value.size() < 16 || storage::read_be64(value) != owner) continue;
    json e = json::from_msgpack(value.begin() + 16, value.end());
    if (e["q"] != seq) continue;
    edit(e);
    auto bytes = json::to_msgpack(e);
    std::string key(cur->key());
    cur.reset();
    ASSERT_EQ(txn.put(storage::Db::hist, key,
                      value.substr(0, 16) + std::string(bytes.begin(), bytes.end())),
              0);
    return;
  }
  FAIL() << "no history entry " << seq << " of " << id;
}

}  // namespace

TEST_F(EngineTest, OneInstancesChainIsCheckedAndATamperedEntryIsNamedByItsStep) {
  deploy(kTimed);
  auto a = start("t.timed").instance->id;
  auto b = start("t.timed").instance->id;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(send(a, "nudge", {}, Actor::system()).ok());
  auto good = engine_->verify_instance(a);
  EXPECT_TRUE(good.found);
  EXPECT_TRUE(good.ok());
  EXPECT_EQ(good.version, 4u);
  EXPECT_EQ(good.entries, 4u);
  EXPECT_EQ(good.first_broken, 0u);
  EXPECT_FALSE(engine_->verify_instance("00000000000000ff").found);
  EXPECT_FALSE(engine_->verify_instance("not an id").found);

  reopen_after_raw_edit([&](storage::Txn& txn) {
    edit_entry(txn, a, 2, [](json& e) { e["a"] = "mallory"; });  // who did step 2
  });
  auto bad = engine_->verify_instance(a);
  EXPECT_TRUE(bad.found);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.entries, 4u);
  EXPECT_EQ(bad.first_broken, 2u);
  ASSERT_EQ(bad.broken.size(), 1u);
  EXPECT_NE(bad.broken[0].find("entry 2: content does not match its hash (tampered)"),
            std::string::npos)
      << bad.broken[0];
  EXPECT_TRUE(engine_->verify_instance(b).ok());   // the other instance's chain is untouched
  EXPECT_EQ(engine_->verify().broken.size(), 1u);  // the whole-store check agrees
}

TEST_F(EngineTest, PendingTimersAndTheDeadlineAreListedDueFirst) {
  deploy(kTimed);
  auto id = start("t.timed").instance->id;
  auto timers = engine_->instance_timers(id);
  ASSERT_EQ(timers.size(), 3u);
  EXPECT_EQ(timers[0].name, "nudge");
  EXPECT_EQ(timers[0].kind, "timer");
  EXPECT_EQ(timers[0].state, "WAIT");
  EXPECT_EQ(timers[0].event, "nudge");
  EXPECT_EQ(timers[0].due, at("2023-04-03T10:00:00+08:00"));
  ASSERT_TRUE(timers[0].every);
  EXPECT_EQ(timers[0].every->to_string(), "PT1H");
  EXPECT_EQ(timers[1].kind, "deadline");
  EXPECT_EQ(timers[1].name, "deadline");
  EXPECT_EQ(timers[1].due, at("2023-04-03T13:00:00+08:00"));
  EXPECT_EQ(timers[2].name, "give-up");
  EXPECT_EQ(timers[2].target, "GONE");
  EXPECT_TRUE(timers[2].event.empty());

  engine_->advance_to(at("2023-04-03T10:30:00+08:00"));  // the first nudge fires
  timers = engine_->instance_timers(id);
  ASSERT_EQ(timers.size(), 3u);
  EXPECT_EQ(timers[0].due, at("2023-04-03T11:00:00+08:00"));
  EXPECT_EQ(timers[0].fired, 1u);

  ASSERT_TRUE(send(id, "go", {}, Actor::system()).ok());
  EXPECT_TRUE(engine_->instance_timers(id).empty());  // ended: nothing pending
  EXPECT_TRUE(engine_->instance_timers("00000000000000ff").empty());
}

TEST_F(EngineTest, ChildrenArePagedInCreationOrderAndScopedByTheViewer) {
  deploy(kChild);
  deploy(kParent);
  auto p = start("t.parent", {{"items", {"a", "b", "c"}}, {"owner", "w1"}, {"done", 0}});
  ASSERT_TRUE(p.ok()) << p.message;
  std::string parent = p.instance->id;
  auto all = engine_->children(parent, "", 100);
  ASSERT_EQ(all.items.size(), 3u);
  EXPECT_TRUE(all.next_cursor.empty());
  EXPECT_EQ(all.items[0].business_key, "child:a");
  EXPECT_EQ(all.items[2].business_key, "child:c");
  for (const auto& c : all.items) EXPECT_EQ(c.parent, parent);

  auto first = engine_->children(parent, "", 2);
  ASSERT_EQ(first.items.size(), 2u);
  ASSERT_FALSE(first.next_cursor.empty());
  auto second = engine_->children(parent, first.next_cursor, 2);
  ASSERT_EQ(second.items.size(), 1u);
  EXPECT_EQ(second.items[0].business_key, "child:c");
  EXPECT_TRUE(second.next_cursor.empty());
  EXPECT_FALSE(engine_->children(parent, "nonsense", 2).error.empty());

  EXPECT_TRUE(engine_->children(all.items[0].id, "", 100).items.empty());  // a leaf
  EXPECT_TRUE(engine_->children("00000000000000ff", "", 100).items.empty());
}

TEST_F(EngineTest, AViewerIsListedOnlyTheChildrenItMaySee) {
  deploy(kScopedChild);
  deploy(kScopedParent);
  auto p = start("t.sparent", {{"items", {"ann", "bob", "cy", "bob"}}});
  ASSERT_TRUE(p.ok()) << p.message;
  std::string parent = p.instance->id;
  EXPECT_EQ(engine_->children(parent, "", 100).items.size(), 4u);  // no viewer: all
  Actor bob{"bob", {"USER"}};
  auto seen = engine_->children(parent, "", 100, bob);
  ASSERT_EQ(seen.items.size(), 2u);
  for (const auto& c : seen.items) EXPECT_EQ(c.data["name"], "bob");
  // A page of one: bob's first child, then (past ann's and cy's, unseen) his second.
  auto one = engine_->children(parent, "", 1, bob);
  ASSERT_EQ(one.items.size(), 1u);
  ASSERT_FALSE(one.next_cursor.empty());
  auto two = engine_->children(parent, one.next_cursor, 1, bob);
  ASSERT_EQ(two.items.size(), 1u);
  EXPECT_NE(two.items[0].id, one.items[0].id);
  EXPECT_EQ(two.items[0].data["name"], "bob");
  Actor admin{"root", {"admin"}};
  EXPECT_EQ(engine_->children(parent, "", 100, admin).items.size(), 4u);
  EXPECT_TRUE(engine_->children(parent, "", 100, Actor{"zed", {"USER"}}).items.empty());
}
