// A damaged data file: records and keys the engine did not write. LMDB keeps no checksums,
// so the engine itself must answer them with an error or skip them: never a crash, an
// out-of-range read or a stuck timer queue (docs/storage.md, "Damaged records").
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine_fixture.hpp"
#include "runtime/msgpack.hpp"
#include "runtime/record.hpp"
#include "storage/lmdb_env.hpp"

using namespace bihuan;
using bihuan::testing::at;
using bihuan::testing::edit_map;
using bihuan::testing::EngineTest;

namespace {

const char* kDamagedTimed = R"({"id": "t.d", "version": 1, "initial": "A", "states": {
  "A": {"timers": [{"id": "t", "after": "PT1H", "event": "tick"}],
        "on": {"go": {"roles": ["system", "USER"], "target": "B"},
               "tick": {"roles": ["system"], "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";

std::string record_key(const std::string& id) {
  return storage::be64(std::stoull(id, nullptr, 16));
}

// The engine fixture, named for what these tests do to its store.
using DamageTest = EngineTest;

bool has(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_F(DamageTest, ADamagedRecordIsRefusedByStepsSkippedByReadsAndListedByVerify) {
  deploy(kDamagedTimed);
  auto bad_state = start("t.d").instance->id;
  auto garbage = start("t.d", json::object(), "key:garbage").instance->id;
  auto healthy = start("t.d", json::object(), "key:healthy").instance->id;
  reopen_after_raw_edit([&](storage::Txn& txn) {
    edit_map(txn, storage::Db::inst, record_key(bad_state),
             [](json& r) { r["s"] = 99; });  // t.d v1 has two states
    ASSERT_EQ(txn.put(storage::Db::inst, record_key(garbage), std::string("\xc1\x00\x07", 3)), 0);
  });

  // Steps: a clear refusal naming the instance and what is wrong; nothing applied.
  auto r = send(bad_state, "go");
  EXPECT_EQ(r.error, StepError::record_damaged);
  EXPECT_NE(r.message.find("instance " + bad_state +
                           ": its stored record is damaged (state 99 is not a state of t.d v1)"),
            std::string::npos)
      << r.message;
  EXPECT_NE(r.message.find("bihuan verify"), std::string::npos) << r.message;
  r = send(garbage, "go");
  EXPECT_EQ(r.error, StepError::record_damaged);
  EXPECT_NE(r.message.find("it does not decode"), std::string::npos) << r.message;
  auto cancelled = engine_->cancel(bad_state, "test", Actor::system());
  EXPECT_EQ(cancelled.error, StepError::record_damaged);

  // Reads skip them, and damage() says why; the healthy instance is unaffected.
  EXPECT_FALSE(engine_->get(bad_state));
  EXPECT_FALSE(engine_->get(garbage));
  ASSERT_TRUE(engine_->get(healthy));
  EXPECT_EQ(engine_->damage(bad_state).value_or(""),
            send(bad_state, "go").message);  // the words of a refused step
  EXPECT_NE(engine_->damage(garbage).value_or("").find("it does not decode"), std::string::npos);
  EXPECT_FALSE(engine_->damage(healthy));
  EXPECT_FALSE(engine_->damage("0123456789abcdef"));
  EXPECT_FALSE(engine_->damage("not an id"));
  EXPECT_FALSE(engine_->get_by_business_key("key:garbage"));  // by business key too
  EXPECT_EQ(engine_->damage_by_business_key("key:garbage"), engine_->damage(garbage));
  EXPECT_FALSE(engine_->damage_by_business_key("key:healthy"));
  EXPECT_FALSE(engine_->damage_by_business_key("key:none"));
  InstanceQuery q;
  q.definition = "t.d";
  auto page = engine_->query(q);
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].id, healthy);
  q.state = "A";
  EXPECT_EQ(engine_->query(q).items.size(), 1u);
  auto inbox = engine_->inbox({"u1", {"USER"}});
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_EQ(inbox[0].instance.id, healthy);

  // verify names both.
  auto report = engine_->verify();
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(has(report.broken, "instance " + bad_state +
                                     ": record is damaged: state 99 is not a state of t.d v1"))
      << ::testing::PrintToString(report.broken);
  EXPECT_TRUE(has(report.broken, "instance " + garbage + ": record does not decode"))
      << ::testing::PrintToString(report.broken);

  // Their timers are dropped (they name records that cannot step); the healthy one fires.
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:00:00+08:00")), 1u);
  EXPECT_EQ(engine_->get(healthy)->state, "B");
  EXPECT_EQ(engine_->metrics().pending_timers, 0u);
}

TEST_F(DamageTest, ARecordNamingATimerItsDefinitionLacksIsRefused) {
  deploy(kDamagedTimed);
  auto id = start("t.d").instance->id;
  reopen_after_raw_edit([&](storage::Txn& txn) {
    edit_map(txn, storage::Db::inst, record_key(id), [](json& r) {
      ASSERT_EQ(r["t"].size(), 1u);
      r["t"][0][3] = 5;  // timer index 5 of state A, which has one timer
    });
  });
  auto r = send(id, "go");
  EXPECT_EQ(r.error, StepError::record_damaged);
  EXPECT_NE(r.message.find("timer 5 of state 0 is not a timer of t.d v1"), std::string::npos)
      << r.message;
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:00:00+08:00")), 0u);  // dropped, not fired
  EXPECT_EQ(engine_->metrics().pending_timers, 0u);
}

TEST_F(DamageTest, ARecordWhoseDataIsNotAnObjectIsRefused) {
  deploy(kDamagedTimed);
  auto id = start("t.d").instance->id;
  reopen_after_raw_edit([&](storage::Txn& txn) {
    edit_map(txn, storage::Db::inst, record_key(id), [](json& r) { r["x"] = json::array({1, 2}); });
  });
  auto r = send(id, "go");
  EXPECT_EQ(r.error, StepError::record_damaged);
  EXPECT_NE(r.message.find("its data is array, not an object"), std::string::npos) << r.message;
  EXPECT_FALSE(engine_->get(id));
  EXPECT_FALSE(engine_->verify().ok());
}

TEST_F(DamageTest, AMalformedTimerKeyDoesNotStopTheTimersAfterIt) {
  deploy(kDamagedTimed);
  auto id = start("t.d").instance->id;
  // Sorts before every real key (they start with the due time's 8 bytes).
  reopen_after_raw_edit([&](storage::Txn& txn) {
    ASSERT_EQ(txn.put(storage::Db::timers, std::string("\x00\x01", 2), ""), 0);
  });
  EXPECT_EQ(engine_->metrics().pending_timers, 2u);
  EXPECT_EQ(engine_->advance_to(at("2023-04-03T11:00:00+08:00")), 1u);
  EXPECT_EQ(engine_->get(id)->state, "B");
  EXPECT_EQ(engine_->metrics().pending_timers, 0u);
  EXPECT_TRUE(engine_->verify().ok());
}

// Every truncation and many single-byte changes of a real record: each decodes to a
// record that encodes and decodes back the same, or is refused. Never a crash.
TEST(DamagedBytesTest, TruncatedAndFlippedRecordsDecodeOrAreRefused) {
  runtime::InstanceRecord r;
  r.id = 0x0188'1234'5678'0001;
  r.definition = "t.d";
  r.definition_version = 3;
  r.business_key = "supervision:2023Q2:business-0042";
  r.state = 1;
  r.version = 7;
  r.data = {{"n", 3},
            {"name", "餐馆"},
            {"list", {1, 2.5, nullptr, true}},
            {"nested", {{"a", {{"b", "c"}}}}}};
  r.created_ms = 1680000000000;
  r.updated_ms = 1680000001000;
  r.deadlines = {{1, 1680003600000}};
  r.parent = 42;
  r.parent_event = "childDone";
  r.last_hash = std::string(64, 'a');
  r.last_entry = 99;
  r.timers = {{1680003600000, 2, 1, 0, 0}};
  r.next_timer_seq = 3;
  const std::string good = runtime::encode(r);
  ASSERT_TRUE(runtime::decode_instance(good));
  std::size_t refused = 0, decoded = 0;
  auto check = [&](const std::string& bytes) {
    auto d = runtime::decode_instance(bytes);
    if (!d) return void(++refused);
    ++decoded;
    std::string again = runtime::encode(*d);
    auto back = runtime::decode_instance(again);
    ASSERT_TRUE(back);
    EXPECT_EQ(runtime::encode(*back), again);
  };
  for (std::size_t n = 0; n < good.size(); ++n) check(good.substr(0, n));
  for (std::size_t i = 0; i < good.size(); ++i)
    for (unsigned char v : {0x00, 0x7f, 0x80, 0x9f, 0xc1, 0xcf, 0xdc, 0xdd, 0xde, 0xdf, 0xff}) {
      std::string bytes = good;
      bytes[i] = static_cast<char>(v);
      check(bytes);
    }
  EXPECT_GT(refused, good.size());  // every strict prefix at least
  EXPECT_GT(decoded, 0u);
}

// Inputs the record fuzzer (fuzz/record_fuzz.cpp) found or was seeded with, replayed
// through the same decoders.
TEST(DamagedBytesTest, FuzzInputsAreAnsweredWithoutACrash) {
  std::size_t files = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(BIHUAN_SOURCE_DIR "/tests/runtime/damaged")) {
    if (f.path().extension() == ".md") continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++files;
    if (auto r = runtime::decode_instance(bytes)) {
      auto back = runtime::decode_instance(runtime::encode(*r));
      EXPECT_TRUE(back) << f.path();
    }
    (void)runtime::history_from_bytes(bytes);
    if (auto s = runtime::split_history_value(bytes)) (void)runtime::history_from_bytes(s->sealed);
    runtime::msgpack::Reader rd(bytes);
    (void)rd.value();
    runtime::msgpack::Reader sk(bytes);
    (void)sk.skip();
  }
  EXPECT_GT(files, 0u);
}

// Outbox records are read by the dispatcher (outbox()) and rewritten by the writer
// (delivery bookkeeping): a damaged one is skipped or read with defaults, never thrown.
TEST_F(DamageTest, ADamagedOutboxRecordIsSkippedOrReadWithDefaultsAndNeverThrows) {
  deploy(R"({"id": "t.n", "version": 1, "initial": "A", "states": {
    "A": {"onEntry": [{"notify": "log", "to": "x", "template": "hello"}],
          "on": {"go": {"roles": ["system"], "target": "B"}}},
    "B": {"type": "final", "outcome": "ok"}}})");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(start("t.n").ok());
  auto before = engine_->outbox();
  ASSERT_EQ(before.size(), 3u);
  reopen_after_raw_edit([&](storage::Txn& txn) {
    // 1: members of the wrong types; 2: not a map at all.
    edit_map(txn, storage::Db::outbox, storage::be64(before[0].seq), [](json& m) {
      m["kind"] = 5;
      m["dead"] = "yes";
      m["n"] = "many";
      m["err"] = json::array();
    });
    ASSERT_EQ(
        txn.put(storage::Db::outbox, storage::be64(before[1].seq), std::string("\x93\x01", 2)), 0);
  });
  auto now = engine_->outbox();
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[0].seq, before[0].seq);
  EXPECT_EQ(now[0].kind, "");  // wrong type reads as missing
  EXPECT_EQ(now[0].channel, before[0].channel);
  EXPECT_FALSE(now[0].dead);
  EXPECT_EQ(now[0].attempts, 0u);
  EXPECT_EQ(now[1].seq, before[2].seq);
  // The writer's bookkeeping on both: no exception escapes it, and the engine goes on.
  EXPECT_TRUE(engine_->record_delivery_failure(before[0].seq, "refused", clock_->now(), true));
  EXPECT_TRUE(engine_->dead_letters().size() == 1u &&
              engine_->dead_letters()[0].seq == before[0].seq);
  EXPECT_TRUE(engine_->retry_dead_letter(before[0].seq));
  EXPECT_FALSE(engine_->record_delivery_failure(before[1].seq, "refused", clock_->now(), false));
  EXPECT_FALSE(engine_->retry_dead_letter(before[1].seq));
  EXPECT_TRUE(start("t.n").ok());
  auto report = engine_->verify();
  EXPECT_TRUE(has(report.broken,
                  "outbox message " + std::to_string(before[1].seq) + ": record does not decode"))
      << ::testing::PrintToString(report.broken);
  EXPECT_EQ(report.broken.size(), 1u) << ::testing::PrintToString(report.broken);
}

namespace {
// A random MessagePack-able value of a random type, sized to stress the readers.
json random_value(std::mt19937_64& rng) {
  switch (rng() % 12) {
    case 0:
      return nullptr;
    case 1:
      return static_cast<bool>(rng() & 1);
    case 2:
      return static_cast<std::int64_t>(rng());  // any 64-bit pattern, negative too
    case 3:
      return rng();  // unsigned
    case 4:
      return static_cast<std::int64_t>(rng() % 7) - 3;
    case 5:
      return std::ldexp(static_cast<double>(rng() % 1000), static_cast<int>(rng() % 80) - 40);
    case 6:
      return std::string(rng() % 40, static_cast<char>('a' + rng() % 26));
    case 7:
      return std::string("\xff\xfe\x00", 3);
    case 8:
      return json::array({static_cast<std::int64_t>(rng() % 5), -1, "x"});
    case 9:
      return json::array({json::array({rng() % 4, rng(), 0, 0, 0})});
    case 10:
      return json::object({{"n", rng() % 9}});
    default:
      return json::array();
  }
}
}  // namespace

// Structured damage: members of real records and outbox messages replaced by values of
// random types and ranges, then every engine entry point run against the store. Each
// must answer (a result, an error, a skipped record), never crash or hang, and the
// healthy instances must go on stepping. BIHUAN_DAMAGE_ROUNDS sets the rounds (default 60),
// BIHUAN_DAMAGE_SEED the seed.
TEST_F(DamageTest, RandomDamageToRecordsNeverCrashesAndHealthyInstancesGoOn) {
  deploy(kDamagedTimed);
  deploy(R"({"id": "t.n", "version": 1, "initial": "A", "states": {
    "A": {"onEntry": [{"notify": "log", "to": "x", "template": "hello"}],
          "deadline": {"after": "PT2H"}, "on": {"go": {"roles": ["system", "USER"], "target": "B"}}},
    "B": {"type": "final", "outcome": "ok"}}})");
  const char* env_rounds = std::getenv("BIHUAN_DAMAGE_ROUNDS");
  const int rounds = env_rounds ? std::atoi(env_rounds) : 60;
  const char* env_seed = std::getenv("BIHUAN_DAMAGE_SEED");
  std::mt19937_64 rng(env_seed ? std::strtoull(env_seed, nullptr, 10) : 20261129);
  std::vector<std::string> victims, healthy;
  for (int round = 0; round < rounds; ++round) {
    auto victim = start(round % 2 ? "t.d" : "t.n").instance->id;
    healthy.push_back(start("t.d").instance->id);
    std::string member;
    // One or two members of a map replaced by random values.
    auto scramble = [&](json& m, int members) {
      std::vector<std::string> keys;
      for (auto it = m.begin(); it != m.end(); ++it) keys.push_back(it.key());
      for (int k = 0; k < members; ++k) m[member = keys[rng() % keys.size()]] = random_value(rng);
    };
    reopen_after_raw_edit([&](storage::Txn& txn) {
      std::uint64_t newest_entry = 0;
      edit_map(txn, storage::Db::inst, record_key(victim), [&](json& r) {
        newest_entry = r["hq"];
        scramble(r, 1 + static_cast<int>(rng() % 2));
      });
      // Index entries the engine did not write: a due timer of the victim with a random
      // sequence number, a child link to a random id, a business key pointing at the victim.
      std::string vkey = record_key(victim);
      std::string due = storage::be64(
          static_cast<std::uint64_t>(clock_->now().time_since_epoch().count()) + rng() % 3600000);
      ASSERT_EQ(txn.put(storage::Db::timers,
                        due + vkey + storage::be32(static_cast<std::uint32_t>(rng())), ""),
                0);
      ASSERT_EQ(txn.put(storage::Db::children, vkey + storage::be64(rng()), ""), 0);
      ASSERT_EQ(txn.put(storage::Db::bkey, "damage:" + std::to_string(round), vkey), 0);
      // A member of the victim's newest history entry (after its 16-byte link) and of the
      // newest outbox message.
      edit_map(
          txn, storage::Db::hist, storage::be64(newest_entry), [&](json& e) { scramble(e, 1); },
          16);
      if (auto cur = txn.cursor(storage::Db::outbox); cur->last())
        edit_map(txn, storage::Db::outbox, std::string(cur->key()),
                 [&](json& m) { scramble(m, 1); });
    });
    SCOPED_TRACE("round " + std::to_string(round) + ", last member replaced: " + member);
    victims.push_back(victim);
    (void)engine_->get(victim);
    (void)engine_->get_by_business_key("damage:" + std::to_string(round));
    StartRequest again;  // a start that finds the business key taken by the victim
    again.definition = "t.d";
    again.business_key = "damage:" + std::to_string(round);
    (void)engine_->start(again);
    (void)engine_->history(victim);
    auto older = engine_->history_page({victim, "", 1});  // and the page before the newest
    (void)engine_->history_page({victim, older.next_cursor, 2});
    (void)engine_->as_of(victim, clock_->now());
    (void)send(victim, "go");
    (void)engine_->cancel(victim, "damage", Actor::system());
    InstanceQuery q;
    q.limit = 1000;
    (void)engine_->query(q);
    auto tasks = engine_->inbox_page({{"u1", {"USER"}}, 1, ""});
    (void)engine_->inbox_page({{"u1", {"USER"}}, 1, tasks.next_cursor});
    for (const auto& m : engine_->outbox(1000)) {
      (void)engine_->record_delivery_failure(m.seq, "x", clock_->now(), rng() % 2);
      (void)engine_->retry_dead_letter(m.seq);
      (void)engine_->ack_outbox(m.seq);
    }
    (void)engine_->verify();
    clock_->advance(std::chrono::minutes(30));
    (void)engine_->advance_to(clock_->now());
    // The healthy ones are untouched by the damage next to them.
    auto h = send(healthy.back(), "go");
    ASSERT_TRUE(h.ok()) << h.message;
  }
  // Every healthy instance is readable, ended and verified; only victims may be broken.
  for (const auto& id : healthy) {
    auto v = engine_->get(id);
    ASSERT_TRUE(v) << id;
    EXPECT_EQ(v->state, "B");
  }
  for (const auto& line : engine_->verify().broken) {
    bool about_victim = false;
    for (const auto& v : victims) about_victim |= line.find(v) != std::string::npos;
    EXPECT_TRUE(about_victim || line.find("outbox message") != std::string::npos ||
                line.find("history log holds") != std::string::npos)
        << line;
  }
}

// Not damage, but the same family: a seq names one outbox message for good. Acknowledging
// every message and reopening used to start the sequence at 1 again.
TEST_F(DamageTest, OutboxSequenceNumbersAreNeverReusedAfterTheOutboxEmpties) {
  deploy(R"({"id": "t.n", "version": 1, "initial": "A", "states": {
    "A": {"onEntry": [{"notify": "log", "to": "x", "template": "hello"}],
          "on": {"go": {"roles": ["system"], "target": "B"}}},
    "B": {"type": "final", "outcome": "ok"}}})");
  for (bool newest_first : {false, true}) {
    SCOPED_TRACE(newest_first ? "newest acknowledged first" : "oldest acknowledged first");
    ASSERT_TRUE(start("t.n").ok());
    ASSERT_TRUE(start("t.n").ok());
    auto first = engine_->outbox();
    ASSERT_EQ(first.size(), 2u);
    if (newest_first) std::reverse(first.begin(), first.end());
    for (const auto& m : first) ASSERT_TRUE(engine_->ack_outbox(m.seq));
    reopen();
    ASSERT_TRUE(start("t.n").ok());
    auto next = engine_->outbox();
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].seq, std::max(first.front().seq, first.back().seq) + 1);
    ASSERT_TRUE(engine_->ack_outbox(next[0].seq));
  }
}
