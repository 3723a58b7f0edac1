// The change feed (Engine::changes): committed steps in commit order, resumable from any
// cursor with no gap and no repeat.
#include <map>
#include <set>

#include "bihuan/changes.hpp"
#include "engine_fixture.hpp"

using namespace bihuan;

namespace {

const char* kTicket = R"({
  "id": "t.ticket", "version": 1, "initial": "OPEN",
  "states": {
    "OPEN": {"on": {
      "note": {"set": {"/n": {"+": [{"var": "data.n"}, 1]}}},
      "close": {"target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

class ChangesTest : public bihuan::testing::EngineTest {
 protected:
  // The whole feed from `cursor`, read `page` at a time.
  std::vector<Change> read_all(std::string cursor, std::size_t page) {
    std::vector<Change> out;
    for (int guard = 0; guard < 100000; ++guard) {
      ChangePage p = changes(*engine_, cursor, page);
      EXPECT_TRUE(p.error.empty()) << p.error;
      EXPECT_FALSE(p.next_cursor.empty());
      if (p.items.empty()) {
        EXPECT_EQ(p.next_cursor, cursor.empty() ? "0000000000000000" : cursor);
        break;
      }
      EXPECT_EQ(p.next_cursor, p.items.back().cursor);
      for (auto& c : p.items) out.push_back(std::move(c));
      cursor = p.next_cursor;
    }
    return out;
  }
  // Many steps over many instances, in group commits (async, interleaved).
  std::vector<std::string> make_steps(int instances, int notes) {
    std::vector<std::string> ids;
    for (int i = 0; i < instances; ++i) {
      auto s = start("t.ticket", {{"n", 0}});
      EXPECT_TRUE(s.ok()) << s.message;
      ids.push_back(s.instance->id);
    }
    std::atomic<int> failed{0};
    for (int round = 0; round < notes; ++round) {
      CommitGroup group(*engine_);
      for (const auto& id : ids) {
        EventRequest r;
        r.instance_id = id;
        r.event = "note";
        engine_->send_async(r, [&failed](StepResult res) {
          if (!res.ok()) ++failed;
        });
      }
    }
    for (std::size_t i = 0; i < ids.size(); i += 2) EXPECT_TRUE(send(ids[i], "close").ok());
    EXPECT_EQ(failed.load(), 0);
    return ids;
  }
};

std::string key_of(const Change& c) { return c.instance_id + "#" + std::to_string(c.entry.seq); }

}  // namespace

TEST_F(ChangesTest, EveryStepOnceInCommitOrderAndEachInstanceInStepOrder) {
  deploy(kTicket);
  auto ids = make_steps(12, 5);
  auto all = read_all("", 100000);
  std::size_t expected = 0;
  for (const auto& id : ids) expected += engine_->get(id)->version;
  ASSERT_EQ(all.size(), expected);
  std::set<std::string> seen;
  std::map<std::string, std::uint64_t> last_seq;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Change& c = all[i];
    EXPECT_TRUE(seen.insert(key_of(c)).second) << "twice: " << key_of(c);
    EXPECT_EQ(c.entry.seq, last_seq[c.instance_id] + 1) << key_of(c);
    last_seq[c.instance_id] = c.entry.seq;
    EXPECT_EQ(c.definition, "t.ticket");
    EXPECT_EQ(c.definition_version, 1);
    if (i > 0) {
      EXPECT_LT(all[i - 1].cursor, all[i].cursor);
    }
  }
  // The entries are the instances' histories, hash for hash.
  for (const auto& id : ids) {
    auto h = engine_->history(id);
    std::vector<std::string> from_feed;
    for (const auto& c : all)
      if (c.instance_id == id) from_feed.push_back(c.entry.hash);
    ASSERT_EQ(from_feed.size(), h.size());
    for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(from_feed[i], h[i].hash);
  }
  // Start steps carry the whole data, later steps their changes.
  EXPECT_EQ(all.front().entry.kind, "start");
  EXPECT_EQ(all.front().entry.changes, json::parse(R"([["", {"n": 0}]])"));
}

TEST_F(ChangesTest, ResumedFromAnyCursorGivesExactlyTheRest) {
  deploy(kTicket);
  make_steps(10, 4);
  auto all = read_all("", 100000);
  ASSERT_GT(all.size(), 50u);
  // Pages of every size from 1 to 7 read the same feed.
  for (std::size_t page : {1u, 2u, 3u, 7u}) {
    auto paged = read_all("", page);
    ASSERT_EQ(paged.size(), all.size()) << "page " << page;
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(key_of(paged[i]), key_of(all[i]));
  }
  // Resumed after entry k: exactly entries k+1.. .
  for (std::size_t k = 0; k < all.size(); k += 5) {
    auto rest = read_all(all[k].cursor, 13);
    ASSERT_EQ(rest.size(), all.size() - k - 1) << "after " << k;
    for (std::size_t i = 0; i < rest.size(); ++i)
      EXPECT_EQ(key_of(rest[i]), key_of(all[k + 1 + i]));
  }
}

TEST_F(ChangesTest, AFollowerGetsNewStepsOnlyAlsoAfterReopen) {
  deploy(kTicket);
  auto ids = make_steps(4, 2);
  auto first = read_all("", 5);
  std::string cursor = first.back().cursor;
  ChangePage idle = changes(*engine_, cursor, 10);
  EXPECT_TRUE(idle.items.empty());
  EXPECT_EQ(idle.next_cursor, cursor);
  ASSERT_TRUE(send(ids[1], "note").ok());
  reopen();  // the log goes on after its last key
  ASSERT_TRUE(send(ids[1], "close").ok());
  auto more = read_all(cursor, 10);
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].instance_id, ids[1]);
  EXPECT_EQ(more[0].entry.event, "note");
  EXPECT_EQ(more[1].entry.event, "close");
  EXPECT_EQ(more[1].entry.status, "completed");
}

TEST_F(ChangesTest, ACursorThatIsNotTheFeedsIsRefused) {
  deploy(kTicket);
  make_steps(1, 1);
  for (const char* bad : {"xyz", "00000000000000zz", "0000000000000001ff"}) {
    ChangePage p = changes(*engine_, bad, 10);
    EXPECT_NE(p.error.find("not a change-feed cursor"), std::string::npos)
        << bad << ": " << p.error;
    EXPECT_FALSE(p.unavailable);
    EXPECT_TRUE(p.items.empty());
  }
}
