// The outbox's due index and dead letters (storage format 3, docs/storage.md): the
// dispatcher's read (Engine::outbox_due) finds waiting messages by channel and due time,
// dead letters live in their own database, and every write keeps the two in step with
// the records, also across a killed process and a migration from format 2.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <set>

#include "engine_fixture.hpp"
#include "runtime/engine_impl.hpp"
#include "runtime/outbox_state.hpp"
#include "storage/lmdb_env.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::EngineTest;
namespace fs = std::filesystem;

namespace {

const char* kNotify = R"({"id": "t.n", "version": 1, "initial": "A", "states": {
  "A": {"onEntry": [{"notify": "log", "to": "x", "template": "hello {{data.i}}"}],
        "on": {"go": {"roles": ["system"], "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";

std::vector<std::uint64_t> seqs(const std::vector<OutboxMessage>& list) {
  std::vector<std::uint64_t> out;
  for (const auto& m : list) out.push_back(m.seq);
  return out;
}

// What the store holds, read raw: the records of `outbox` and `dead`, and the due keys.
struct Raw {
  std::map<std::uint64_t, json> waiting, dead;
  std::set<std::string> due;
};

Raw read_raw(const std::string& dir) {
  Raw out;
  std::string error;
  auto env = bihuan::testing::open_raw(dir);
  EXPECT_TRUE(env) << error;
  if (!env) return out;
  auto txn = env->begin(false, nullptr);
  auto format = bihuan::testing::read_key(*txn, storage::Db::meta, "format");
  EXPECT_TRUE(format && storage::read_be32(*format) == runtime::kStorageFormat);
  for (auto [db, into] :
       {std::pair{storage::Db::outbox, &out.waiting}, std::pair{storage::Db::dead, &out.dead}}) {
    auto cur = txn->cursor(db);
    for (bool ok = cur && cur->first(); ok; ok = cur->next())
      (*into)[storage::read_be64(cur->key())] =
          json::from_msgpack(cur->value().begin(), cur->value().end());
  }
  auto cur = txn->cursor(storage::Db::due);
  for (bool ok = cur && cur->first(); ok; ok = cur->next()) out.due.emplace(cur->key());
  return out;
}

// The invariants of docs/storage.md: one due key per waiting record, the one its record
// names, and nothing else in the index; a dead letter is only in `dead`, marked dead.
void expect_consistent(const Raw& raw) {
  std::set<std::string> want;
  for (const auto& [seq, m] : raw.waiting) {
    EXPECT_FALSE(m.value("dead", false)) << "waiting message " << seq << " is marked dead";
    EXPECT_FALSE(raw.dead.count(seq)) << "message " << seq << " is both waiting and dead";
    want.insert(runtime::outbox_due_key_of(m, seq));
  }
  for (const auto& [seq, m] : raw.dead)
    EXPECT_TRUE(m.value("dead", false)) << "dead letter " << seq;
  EXPECT_EQ(raw.due, want);
}

class OutboxIndexTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    deploy(kNotify);
  }
  std::vector<OutboxMessage> start_n(int n) {
    for (int i = 0; i < n; ++i) EXPECT_TRUE(start("t.n", {{"i", i}}).ok());
    auto all = engine_->outbox(1000);
    EXPECT_EQ(all.size(), static_cast<std::size_t>(n));
    return all;
  }
  std::vector<std::uint64_t> due_now(std::size_t limit = 1000) {
    return seqs(engine_->outbox_due("log", clock_->now(), limit).messages);
  }
  Raw raw() {
    engine_->close();
    engine_.reset();
    Raw r = read_raw(dir_);
    open();
    return r;
  }
};

TEST_F(OutboxIndexTest, DeadLettersAreNotInTheDueRead) {
  auto all = start_n(5);
  ASSERT_TRUE(engine_->record_delivery_failure(all[0].seq, "refused", clock_->now(), true));
  ASSERT_TRUE(engine_->record_delivery_failure(all[3].seq, "refused", clock_->now(), true));
  EXPECT_EQ(due_now(), (std::vector<std::uint64_t>{all[1].seq, all[2].seq, all[4].seq}));
  EXPECT_TRUE(engine_->outbox_due("log", TimePoint::max(), 1000).messages.size() == 3u);
  auto dead = engine_->dead_letters();
  EXPECT_EQ(seqs(dead), (std::vector<std::uint64_t>{all[0].seq, all[3].seq}));
  EXPECT_TRUE(dead[0].dead && dead[0].attempts == 1 && dead[0].last_error == "refused");
  // The admin listing still shows all five in seq order, dead ones marked.
  auto listed = engine_->outbox(1000);
  EXPECT_EQ(seqs(listed), seqs(all));
  EXPECT_TRUE(listed[0].dead && !listed[1].dead && listed[3].dead);
  EXPECT_EQ(seqs(engine_->outbox(2, all[1].seq)),
            (std::vector<std::uint64_t>{all[2].seq, all[3].seq}));
  auto m = engine_->metrics();
  EXPECT_EQ(m.outbox_depth, 5u);
  EXPECT_EQ(m.dead_letters, 2u);
  auto r = raw();
  EXPECT_EQ(r.waiting.size(), 3u);
  EXPECT_EQ(r.dead.size(), 2u);
  expect_consistent(r);
}

TEST_F(OutboxIndexTest, AFailureReschedulesTheMessageInTheIndex) {
  auto all = start_n(3);
  TimePoint later = clock_->now() + std::chrono::minutes(10);
  ASSERT_TRUE(engine_->record_delivery_failure(all[0].seq, "busy", later));
  auto page = engine_->outbox_due("log", clock_->now(), 1000);
  EXPECT_EQ(seqs(page.messages), (std::vector<std::uint64_t>{all[1].seq, all[2].seq}));
  ASSERT_TRUE(page.next_due);
  EXPECT_EQ(*page.next_due, later);  // the dispatcher's wake-up
  clock_->set(later);
  page = engine_->outbox_due("log", clock_->now(), 1000);
  EXPECT_EQ(seqs(page.messages),
            (std::vector<std::uint64_t>{all[1].seq, all[2].seq, all[0].seq}));  // due order
  EXPECT_FALSE(page.next_due);
  EXPECT_EQ(page.messages[2].attempts, 1u);
  EXPECT_EQ(page.messages[2].last_error, "busy");
  // Pages: one message each, the next page after the last key read.
  auto first = engine_->outbox_due("log", clock_->now(), 1);
  ASSERT_EQ(first.messages.size(), 1u);
  EXPECT_TRUE(first.more);
  auto second = engine_->outbox_due("log", clock_->now(), 1, first.next);
  EXPECT_EQ(seqs(second.messages), (std::vector<std::uint64_t>{all[2].seq}));
  EXPECT_TRUE(engine_->outbox_due("other", clock_->now(), 1000).messages.empty());
  EXPECT_EQ(engine_->outbox_channels(), (std::vector<std::string>{"log"}));
  expect_consistent(raw());
}

TEST_F(OutboxIndexTest, ARetryMovesADeadLetterBackAndIsRefusedForOneThatIsNotDead) {
  auto all = start_n(2);
  ASSERT_TRUE(engine_->record_delivery_failure(all[1].seq, "gone", clock_->now(), true));
  clock_->advance(std::chrono::minutes(1));
  EXPECT_FALSE(engine_->retry_dead_letter(all[0].seq));  // waiting, not dead
  EXPECT_FALSE(engine_->retry_dead_letter(999));
  ASSERT_TRUE(engine_->retry_dead_letter(all[1].seq));
  EXPECT_TRUE(engine_->dead_letters().empty());
  auto due = engine_->outbox_due("log", clock_->now(), 1000).messages;
  ASSERT_EQ(seqs(due), seqs(all));
  EXPECT_FALSE(due[1].dead);
  EXPECT_EQ(due[1].attempts, 0u);
  EXPECT_EQ(due[1].next_attempt_at, clock_->now());
  EXPECT_FALSE(engine_->retry_dead_letter(all[1].seq));  // once
  auto r = raw();
  EXPECT_EQ(r.waiting.size(), 2u);
  EXPECT_TRUE(r.dead.empty());
  expect_consistent(r);
}

TEST_F(OutboxIndexTest, AnAcknowledgementRemovesTheRecordAndItsKey) {
  auto all = start_n(3);
  ASSERT_TRUE(
      engine_->record_delivery_failure(all[1].seq, "x", clock_->now() + std::chrono::hours(1)));
  ASSERT_TRUE(engine_->record_delivery_failure(all[2].seq, "x", clock_->now(), true));
  for (const auto& m : all) ASSERT_TRUE(engine_->ack_outbox(m.seq));
  EXPECT_TRUE(engine_->outbox(1000).empty());
  EXPECT_TRUE(engine_->dead_letters().empty());
  EXPECT_TRUE(engine_->outbox_due("log", TimePoint::max(), 1000).messages.empty());
  EXPECT_TRUE(engine_->outbox_channels().empty());
  auto r = raw();
  EXPECT_TRUE(r.waiting.empty() && r.dead.empty() && r.due.empty());
  // The newest message was a dead letter: its seq is not given out again.
  ASSERT_TRUE(start("t.n").ok());
  EXPECT_EQ(engine_->outbox(10)[0].seq, all[2].seq + 1);
}

TEST_F(OutboxIndexTest, TheNewestMessageTurnedDeadKeepsItsSeqAcrossAReopen) {
  auto all = start_n(2);
  ASSERT_TRUE(engine_->record_delivery_failure(all[1].seq, "x", clock_->now(), true));
  reopen();
  ASSERT_TRUE(start("t.n").ok());
  auto listed = engine_->outbox(10);
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[2].seq, all[1].seq + 1);
}

// A process killed at any point leaves records and index in step: each change of the
// three databases commits with the step or bookkeeping that made it, or not at all.
TEST_F(OutboxIndexTest, TheIndexMatchesTheRecordsAfterTheWriterIsKilled) {
  engine_->close();
  engine_.reset();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    auto o = base_options();
    o.durable = true;
    Problems p;
    auto e = Engine::open(o, p);
    if (!e) ::_exit(2);
    std::mt19937_64 rng(7);
    for (int op = 0;; ++op) {
      StartRequest s;
      s.definition = "t.n";
      (void)e->start(s);
      auto box = e->outbox(64);
      if (box.empty()) continue;
      const auto& m = box[rng() % box.size()];
      switch (rng() % 4) {
        case 0:
          (void)e->ack_outbox(m.seq);
          break;
        case 1:
          (void)e->record_delivery_failure(m.seq, "x", e->clock().now() + Millis(rng() % 5000),
                                           false);
          break;
        case 2:
          (void)e->record_delivery_failure(m.seq, "x", e->clock().now(), true);
          break;
        default:
          (void)e->retry_dead_letter(m.seq);
          break;
      }
      if (::write(pipefd[1], "x", 1) != 1) ::_exit(3);
    }
  }
  ::close(pipefd[1]);
  char c;
  int done = 0;
  while (done < 200 && ::read(pipefd[0], &c, 1) == 1) ++done;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(pipefd[0]);
  ASSERT_EQ(done, 200) << "the writer process stopped early (status " << status << ")";
  Raw r = read_raw(dir_);
  EXPECT_GT(r.waiting.size(), 0u);
  EXPECT_GT(r.dead.size(), 0u);
  expect_consistent(r);
  open();
  auto report = engine_->verify();
  EXPECT_TRUE(report.ok()) << (report.broken.empty() ? "" : report.broken[0]);
  EXPECT_EQ(engine_->outbox_due("log", TimePoint::max(), 100000).messages.size(), r.waiting.size());
  EXPECT_EQ(engine_->dead_letters(100000).size(), r.dead.size());
}

// tests/data/format2: made by a format-2 build (make.sh there) with messages waiting
// (never attempted), retrying and dead, the newest of them dead.
class OutboxMigrateTest : public EngineTest {
 protected:
  const fs::path fixture_ = fs::path(BIHUAN_SOURCE_DIR) / "tests/data/format2";
  void SetUp() override {
    EngineTest::SetUp();
    engine_->close();
    engine_.reset();
    fs::remove(fs::path(dir_) / "data.mdb");
    fs::remove(fs::path(dir_) / "lock.mdb");
    fs::copy_file(fixture_ / "data.mdb", fs::path(dir_) / "data.mdb");
    fs::permissions(fs::path(dir_) / "data.mdb", fs::perms::owner_write, fs::perm_options::add);
    clock_->set(at("2030-01-01T00:00:00+08:00"));  // after the fixture was made: every retry is due
  }
};

TEST_F(OutboxMigrateTest, EveryMessageIsKeptWaitingOnesIndexedAndDeadOnesMoved) {
  SKIP_ON_PG("an LMDB file of an older format");
  json want;
  std::ifstream(fixture_ / "expected.json") >> want;
  ASSERT_EQ(want.size(), 12u);
  open();
  auto listed = engine_->outbox(1000);
  ASSERT_EQ(listed.size(), want.size());
  std::map<std::string, std::vector<std::uint64_t>> waiting;
  std::vector<std::uint64_t> dead;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i];
    const auto& m = listed[i];
    EXPECT_EQ(m.seq, w["seq"].get<std::uint64_t>());
    EXPECT_EQ(m.channel, w["channel"]);
    EXPECT_EQ(m.dead, w["dead"].get<bool>()) << m.seq;
    EXPECT_EQ(m.attempts, w["attempts"].get<std::uint32_t>()) << m.seq;
    EXPECT_EQ(m.last_error, w.value("lastError", "")) << m.seq;
    EXPECT_EQ(m.body, w["body"]) << m.seq;
    EXPECT_EQ(m.dead, m.channel == "dead") << m.seq;
    (m.dead ? dead : waiting[m.channel]).push_back(m.seq);
  }
  EXPECT_EQ(seqs(engine_->dead_letters(1000)), dead);
  for (const char* channel : {"waiting", "retrying"}) {
    ASSERT_EQ(waiting[channel].size(), 4u) << channel;
    auto due = seqs(engine_->outbox_due(channel, clock_->now(), 1000).messages);
    std::sort(due.begin(), due.end());
    EXPECT_EQ(due, waiting[channel]) << channel;
  }
  EXPECT_TRUE(engine_->outbox_due("dead", TimePoint::max(), 1000).messages.empty());
  // The newest message was a dead letter: a new one comes after it.
  std::string def = kNotify;
  def.replace(def.find("\"log\""), 5, "\"waiting\"");
  deploy(def);
  ASSERT_TRUE(start("t.n").ok());
  auto after = engine_->outbox(1, listed.back().seq);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].seq, listed.back().seq + 1);
  auto report = engine_->verify();
  EXPECT_TRUE(report.ok()) << (report.broken.empty() ? "" : report.broken[0]);
  engine_->close();
  engine_.reset();
  auto r = read_raw(dir_);
  EXPECT_EQ(r.waiting.size(), 9u);
  EXPECT_EQ(r.dead.size(), 4u);
  expect_consistent(r);
}

}  // namespace
