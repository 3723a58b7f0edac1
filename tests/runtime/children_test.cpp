// Child instances, messages between instances, cancellation cascades, inbox and queries.
#include <map>

#include "engine_fixture.hpp"
#include "family_definitions.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::EngineTest;
using bihuan::testing::kChild;
using bihuan::testing::kParent;

TEST_F(EngineTest, SpawnOnePerElementInTheSameStepAndHearWhenTheyEnd) {
  deploy(kChild);
  deploy(kParent);
  auto p = start("t.parent", {{"items", {"a", "b", "c"}}, {"owner", "w1"}, {"done", 0}});
  ASSERT_TRUE(p.ok()) << p.message;
  auto kids = engine_->query({.definition = "t.child"});
  ASSERT_EQ(kids.items.size(), 3u);
  auto b = engine_->get_by_business_key("child:b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->parent, p.instance->id);
  EXPECT_EQ(b->data["name"], "b");
  EXPECT_EQ(b->data["owner"], "w1");
  EXPECT_EQ(b->data["n"], 1);

  EventRequest fin;
  fin.business_key = "child:a";
  fin.event = "finish";
  fin.actor = {"w2", {"WORKER"}};
  EXPECT_EQ(engine_->send(fin).error, StepError::actor_not_allowed);
  fin.actor = {"w1", {"WORKER"}};
  ASSERT_TRUE(engine_->send(fin).ok());
  auto parent = engine_->get(p.instance->id);
  EXPECT_EQ(parent->data["done"], 1);
  EXPECT_EQ(parent->data["outcomes"], json::array({"finished"}));
  fin.business_key = "child:b";
  ASSERT_TRUE(engine_->send(fin).ok());
  fin.business_key = "child:c";
  ASSERT_TRUE(engine_->send(fin).ok());
  parent = engine_->get(p.instance->id);
  EXPECT_EQ(parent->status, InstanceStatus::completed);
  EXPECT_EQ(parent->outcome, "all-done");
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, SendActionDeliversToAnotherInstance) {
  deploy(kChild);
  deploy(kParent);
  auto p = start("t.parent", {{"items", {"a"}}, {"owner", "w1"}, {"done", 0}});
  auto r = send(p.instance->id, "poke", {{"which", "a"}}, {"admin", {"ADMIN"}});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(engine_->get_by_business_key("child:a")->data["pokedBy"], "admin");
  auto h = engine_->history(engine_->get_by_business_key("child:a")->id);
  EXPECT_EQ(h.back().kind, "message");
  EXPECT_EQ(h.back().actor, "instance:" + p.instance->id);
}

// send with forEach: one message per element, item and index in scope; an element with no
// key sends nothing, a key no instance has is dropped, the sender's step stands; a
// forEach that is not an array refuses the step with its pointer.
TEST_F(EngineTest, SendForEachMessagesEveryElement) {
  deploy(kChild);
  deploy(R"({"id": "t.fan", "version": 1, "initial": "ON", "states": {"ON": {"on": {
    "poke_all": {"roles": ["ADMIN"], "actions": [{"send": "poked", "forEach": {"var": "event.payload.keys"},
      "toBusinessKey": {"if": [{"var": "item"}, {"cat": ["child:", {"var": "item"}]}, null]},
      "payload": {"by": {"cat": [{"var": "actor.id"}, "#", {"var": "index"}]}}}]},
    "bad": {"roles": ["ADMIN"], "actions": [{"send": "poked", "forEach": {"var": "event.payload.keys"},
      "toBusinessKey": "x"}]},
    "done": {"roles": ["ADMIN"], "target": "END"}}, "deadline": {"after": "P1D"}},
    "END": {"type": "final", "outcome": "done"}}})");
  for (const char* name : {"a", "b", "c"})
    ASSERT_TRUE(
        start("t.child", {{"name", name}, {"owner", "w1"}}, std::string("child:") + name).ok());
  auto fan = start("t.fan", json::object());
  ASSERT_TRUE(fan.ok()) << fan.message;
  auto r = send(fan.instance->id, "poke_all", {{"keys", {"a", nullptr, "c", "nobody", ""}}},
                {"admin", {"ADMIN"}});
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(engine_->get_by_business_key("child:a")->data["pokedBy"], "admin#0");
  EXPECT_FALSE(engine_->get_by_business_key("child:b")->data.contains("pokedBy"));
  EXPECT_EQ(engine_->get_by_business_key("child:c")->data["pokedBy"], "admin#2");
  auto h = engine_->history(engine_->get_by_business_key("child:c")->id);
  EXPECT_EQ(h.back().kind, "message");
  EXPECT_EQ(h.back().actor, "instance:" + fan.instance->id);

  auto bad = send(fan.instance->id, "bad", {{"keys", "a"}}, {"admin", {"ADMIN"}});
  EXPECT_EQ(bad.error, StepError::expression_error);
  EXPECT_NE(bad.message.find("forEach must yield an array"), std::string::npos) << bad.message;
  EXPECT_TRUE(engine_->verify().ok());
}

TEST_F(EngineTest, CancellingAParentCancelsItsChildren) {
  deploy(kChild);
  deploy(kParent);
  auto p = start("t.parent", {{"items", {"a", "b"}}, {"owner", "w1"}, {"done", 0}});
  EXPECT_EQ(engine_->pending_timers(), 2u);  // the children's deadlines
  auto c = engine_->cancel(p.instance->id, "business closed", {"admin", {"ADMIN"}});
  ASSERT_TRUE(c.ok()) << c.message;
  EXPECT_EQ(engine_->get(p.instance->id)->status, InstanceStatus::cancelled);
  for (const char* k : {"child:a", "child:b"}) {
    auto v = engine_->get_by_business_key(k);
    EXPECT_EQ(v->status, InstanceStatus::cancelled) << k;
    EXPECT_EQ(engine_->history(v->id).back().payload["reason"],
              "parent cancelled: business closed");
  }
  EXPECT_EQ(engine_->pending_timers(), 0u);
  EXPECT_EQ(engine_->cancel(p.instance->id, "again", {"admin", {"ADMIN"}}).error,
            StepError::instance_ended);
}

TEST_F(EngineTest, InboxListsWhatAnActorMaySendSortedByDeadline) {
  deploy(kChild);
  deploy(kParent);
  start("t.parent", {{"items", {"a", "b"}}, {"owner", "w1"}, {"done", 0}});
  clock_->advance(std::chrono::hours(24));
  start("t.parent", {{"items", {"c"}}, {"owner", "w2"}, {"done", 0}});
  auto w1 = engine_->inbox({"w1", {"WORKER"}});
  ASSERT_EQ(w1.size(), 2u);
  EXPECT_EQ(w1[0].events, std::vector<std::string>{"finish"});
  EXPECT_TRUE(w1[0].deadline);
  auto w2 = engine_->inbox({"w2", {"WORKER"}});
  ASSERT_EQ(w2.size(), 1u);
  EXPECT_EQ(w2[0].instance.business_key, "child:c");
  EXPECT_TRUE(engine_->inbox({"w1", {"NOBODY"}}).empty());
  auto admin = engine_->inbox({"root", {"ADMIN"}});
  EXPECT_EQ(admin.size(), 2u);  // the parents, waiting on "poke"
}

// With more tasks than the limit, the inbox keeps those due first (ids are not in
// deadline order here), each assignee sees only its own, and a view carries the data.
TEST_F(EngineTest, InboxKeepsTheEarliestDeadlinesUnderItsLimit) {
  deploy(R"({"id": "t.task", "version": 1, "initial": "DUE", "states": {
    "DUE": {"deadline": {"at": {"var": "data.due"}},
            "on": {"report": {"roles": ["CADRE"], "actors": {"var": "data.cadre"}, "target": "DONE"},
                   "waive": {"roles": ["OFFICE"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}}})");
  std::map<std::string, std::string> due_of;  // id -> due
  for (int i = 0; i < 40; ++i) {
    int day = 1 + (i * 17) % 40;  // a permutation of 1..40: May 1 to June 9
    char when[40];
    std::snprintf(when, sizeof when, "2023-%02d-%02dT12:00:00+08:00", day <= 31 ? 5 : 6,
                  day <= 31 ? day : day - 31);
    auto r = start("t.task", {{"due", when}, {"cadre", i % 2 ? "c1" : "c2"}, {"n", i}});
    ASSERT_TRUE(r.ok()) << r.message;
    due_of[r.instance->id] = when;
  }
  auto office = engine_->inbox({"o1", {"OFFICE"}}, 5);
  ASSERT_EQ(office.size(), 5u);
  for (std::size_t k = 0; k < office.size(); ++k) {
    char want[40];
    std::snprintf(want, sizeof want, "2023-05-%02dT12:00:00+08:00", static_cast<int>(k) + 1);
    EXPECT_EQ(due_of[office[k].instance.id], want) << k;
    EXPECT_EQ(office[k].events, std::vector<std::string>{"waive"});
    EXPECT_TRUE(office[k].instance.data.contains("n"));
  }
  auto c1 = engine_->inbox({"c1", {"CADRE"}}, 3);
  ASSERT_EQ(c1.size(), 3u);
  for (std::size_t k = 1; k < c1.size(); ++k) EXPECT_LT(*c1[k - 1].deadline, *c1[k].deadline);
  for (const auto& item : c1) {
    EXPECT_EQ(item.instance.data["cadre"], "c1")
        << "the data went back into the view after the actors check";
    EXPECT_EQ(item.events, std::vector<std::string>{"report"});
  }
  EXPECT_EQ(engine_->inbox({"c1", {"CADRE"}}, 100).size(), 20u);
  EXPECT_EQ(engine_->inbox({"c1", {"CADRE", "OFFICE"}}, 100).size(), 40u);
  EXPECT_TRUE(engine_->inbox({"c3", {"CADRE"}}, 100).empty());

  // Pages of 7 go through all 40 in order; a task that ends between pages is not missed
  // or repeated around it.
  std::vector<std::string> paged;
  InboxQuery q{{"o1", {"OFFICE"}}, 7, ""};
  for (int pages = 0; pages < 10; ++pages) {
    InboxPage p = engine_->inbox_page(q);
    ASSERT_TRUE(p.error.empty()) << p.error;
    for (const auto& item : p.items) paged.push_back(item.instance.id);
    if (pages == 0) {
      ASSERT_TRUE(send(p.items[3].instance.id, "waive", json::object(), {"o1", {"OFFICE"}}).ok());
    }
    if (p.next_cursor.empty()) break;
    q.cursor = p.next_cursor;
  }
  ASSERT_EQ(paged.size(), 40u);
  for (std::size_t k = 1; k < paged.size(); ++k)
    EXPECT_LT(due_of[paged[k - 1]], due_of[paged[k]]) << k;
  InboxPage last = engine_->inbox_page({{"o1", {"OFFICE"}}, 39, ""});
  EXPECT_EQ(last.items.size(), 39u) << "one of 40 was waived";
  EXPECT_TRUE(last.next_cursor.empty());
  for (const std::string& bad : {std::string("zz"), std::string("00ff"), std::string(34, 'f')}) {
    InboxPage p = engine_->inbox_page({{"o1", {"OFFICE"}}, 7, bad});
    EXPECT_TRUE(p.items.empty());
    EXPECT_NE(p.error.find("is not a nextCursor of an inbox"), std::string::npos)
        << bad << ": " << p.error;
  }
}

TEST_F(EngineTest, QueriesFilterAndPageStably) {
  deploy(kChild);
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    StartRequest r;
    r.definition = "t.child";
    r.business_key = "case:" + std::to_string(100 + i);
    r.data = {{"owner", i % 2 ? "odd" : "even"}, {"n", i}};
    ids.push_back(engine_->start(r).instance->id);
  }
  InstanceQuery q;
  q.definition = "t.child";
  q.state = "TODO";
  q.limit = 10;
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto res = engine_->query(q);
    for (auto& v : res.items) seen.push_back(v.id);
    if (res.next_cursor.empty()) break;
    q.cursor = res.next_cursor;
  }
  EXPECT_EQ(seen, ids);  // every instance once, in creation order
  // A cursor of another query, or none at all, is refused: starting over would loop.
  InstanceQuery other = q;
  other.state = "DONE";
  for (const std::string& bad : {std::string("zz"), std::string("00ff"), q.cursor}) {
    other.cursor = bad;
    auto res = engine_->query(other);
    EXPECT_TRUE(res.items.empty()) << bad;
    EXPECT_NE(res.error.find("is not a nextCursor of this query"), std::string::npos) << res.error;
  }
  InstanceQuery odd;
  odd.data_equals = {{"/owner", "odd"}};
  EXPECT_EQ(engine_->query(odd).items.size(), 12u);
  InstanceQuery prefix;
  prefix.business_key_prefix = "case:11";
  EXPECT_EQ(engine_->query(prefix).items.size(), 10u);
  InstanceQuery done;
  done.status = InstanceStatus::completed;
  EXPECT_TRUE(engine_->query(done).items.empty());
}

TEST_F(EngineTest, OnlineBackupOpensAsIs) {
  SKIP_ON_PG("the online backup copies LMDB; PostgreSQL is backed up with pg_basebackup");
  deploy(kChild);
  auto id = start("t.child", {{"owner", "w1"}}).instance->id;
  std::string copy = dir_ + "-backup";
  std::string error;
  ASSERT_TRUE(engine_->backup(copy, &error)) << error;
  EXPECT_FALSE(engine_->backup(copy, &error));  // not empty any more
  EngineOptions o;
  o.data_dir = copy;
  o.clock = clock_;
  o.calendars = bihuan::testing::shipped_calendars();
  Problems p;
  auto restored = Engine::open(o, p);
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->get(id)->data["owner"], "w1");
  EXPECT_TRUE(restored->verify().ok());
  restored->close();
  std::filesystem::remove_all(copy);
}
