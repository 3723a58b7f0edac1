// Shared fixture: a real engine on a real LMDB directory in a temp dir, a virtual clock,
// and the shipped calendars.
//
// With BIHUAN_TEST_STORE=postgres in the environment (ctest runs the suite a second time so,
// as the tests named "pg:..."; issue 26), the engine's store is instead a fresh database
// on a real PostgreSQL 15 that this test binary starts (tests/pg/pg_server.hpp); the data
// directory still holds the attachments. A test that reads or writes LMDB's own files
// (an older format's data.mdb, the write-ahead log) skips itself there (skip_on_pg).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "bihuan/engine.hpp"
#include "pg/test_store.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::testing {

inline std::string make_temp_dir(const std::string& tag) {
  static std::mt19937_64 rng(std::random_device{}());
  auto dir =
      std::filesystem::temp_directory_path() / ("bihuan-" + tag + "-" + std::to_string(rng()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::shared_ptr<const Calendars> shipped_calendars() {
  static auto cals = [] {
    Problems p;
    return std::make_shared<Calendars>(
        Calendars::load_dir(BIHUAN_SOURCE_DIR "/workflows/calendars", p));
  }();
  return cals;
}

inline TimePoint at(const char* iso) { return *parse_time(iso); }

// A read in a test: an LMDB error fails the test (it is never "not found").
template <class Source>
std::optional<std::string> read_key(Source& source, storage::Db db, std::string_view key) {
  int rc = 0;
  auto v = source.get(db, key, rc);
  EXPECT_EQ(rc, 0) << storage::error_text(rc);
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

// Rewrites the MessagePack map stored under `key` (after `skip` bytes: the history log's
// link) with `edit`, in a raw LMDB transaction; a value that is not a map is left alone.
template <class Edit>
void edit_map(storage::Txn& txn, storage::Db db, const std::string& key, Edit edit,
              std::size_t skip = 0) {
  auto found = read_key(txn, db, key);
  ASSERT_TRUE(found);
  std::string value(*found);
  json m = json::from_msgpack(value.substr(skip), true, false);
  if (!m.is_object() || m.empty()) return;
  edit(m);
  auto bytes = json::to_msgpack(m);
  ASSERT_EQ(txn.put(db, key, value.substr(0, skip) + std::string(bytes.begin(), bytes.end())), 0);
}

// The running test's store (EngineOptions::store), set by EngineTest::SetUp: "" for LMDB.
inline std::string& current_store() {
  static std::string store;
  return store;
}

// The store of `dir` / `store` opened raw (as the engine's storage layer sees it), for a
// test that edits or reads what the engine wrote behind its back.
inline std::unique_ptr<storage::Env> open_raw(const std::string& dir,
                                              const std::string& store = current_store()) {
  std::string error;
  std::unique_ptr<storage::Env> env;
  if (store.empty()) {
    env = storage::Env::open(dir, 64u << 20, false, &error);
  } else if (auto remote = storage::open_remote(store, &error)) {
    env = storage::Env::open_remote(dir, std::move(remote));
  }
  EXPECT_TRUE(env) << error;
  return env;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("rt");
    init_store();
    clock_ = std::make_shared<VirtualClock>(at("2023-04-03T09:00:00+08:00"));
    open();
  }
  // The test's store (a fresh PostgreSQL database with BIHUAN_TEST_STORE=postgres, else
  // LMDB in dir_): every SetUp calls it before the first open().
  void init_store() {
    store_ = current_store() = fresh_store();
    // The CLI, run as another process by some tests, finds the same store (--store's
    // variable); set before the engine's threads start.
    if (store_.empty())
      ::unsetenv("BIHUAN_STORE");
    else
      ::setenv("BIHUAN_STORE", store_.c_str(), 1);
  }
  // The engine's store opened raw: LMDB in dir_, or the test's PostgreSQL database.
  std::unique_ptr<storage::Env> raw_env() const { return open_raw(dir_, store_); }
  void TearDown() override {
    if (engine_) engine_->close();
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  // The options open() uses: this test's directory, virtual clock and calendars.
  EngineOptions base_options() const {
    EngineOptions o;
    o.data_dir = dir_;
    o.store = store_;
    o.clock = clock_;
    o.calendars = shipped_calendars();
    return o;
  }
  void open() { open_with(base_options()); }
  void open_with(const EngineOptions& o) {
    Problems p;
    engine_ = Engine::open(o, p);
    ASSERT_TRUE(engine_) << (p.items().empty() ? "" : p.items()[0].to_string());
  }
  // Closes the engine and opens one on the same directory with `o`.
  void reopen_with(const EngineOptions& o) {
    engine_->close();
    engine_.reset();
    open_with(o);
  }
  void reopen() { reopen_with(base_options()); }
  // Closes the engine, puts tests/data/<name>/data.mdb (a store an older build made) in
  // its directory and opens it, which upgrades it.
  void open_fixture(const std::string& name) {
    namespace fs = std::filesystem;
    if (on_pg()) GTEST_FAIL() << "open_fixture() reads an LMDB file: SKIP_ON_PG first";
    engine_->close();
    engine_.reset();
    fs::remove(fs::path(dir_) / "data.mdb");
    fs::remove(fs::path(dir_) / "lock.mdb");
    fs::copy_file(fs::path(BIHUAN_SOURCE_DIR) / "tests/data" / name / "data.mdb",
                  fs::path(dir_) / "data.mdb");
    fs::permissions(fs::path(dir_) / "data.mdb", fs::perms::owner_write, fs::perm_options::add);
    open();
  }
  // The storage format the directory's meta/format holds (0 if none), read raw with the
  // engine closed; the engine is open again after.
  std::uint32_t stored_format() {
    engine_->close();
    engine_.reset();
    std::uint32_t format = 0;
    {
      auto env = raw_env();
      if (!env) return 0;
      auto txn = env->begin(false, nullptr);
      if (auto v = read_key(*txn, storage::Db::meta, "format"); v && v->size() == 4)
        format = storage::read_be32(*v);
    }
    open();
    return format;
  }
  // Closes the engine, runs `edit` in a raw LMDB write transaction on its directory (what
  // a damaged file or a hand edit leaves) and opens the engine again.
  template <class Edit>
  void reopen_after_raw_edit(Edit edit) {
    engine_->close();
    engine_.reset();
    {
      auto env = raw_env();
      ASSERT_TRUE(env);
      auto txn = env->begin(true, nullptr);
      edit(*txn);
      ASSERT_EQ(txn->commit(), 0);
    }
    open();
  }
  void deploy(const std::string& text) {
    auto r = engine_->deploy(json::parse(text), "test");
    std::string detail;
    for (const auto& p : r.problems.items()) detail += p.to_string() + "\n";
    ASSERT_TRUE(r.ok) << detail;
  }
  StepResult send(const std::string& id, const std::string& event, json payload = json::object(),
                  Actor actor = {"u1", {"USER"}}) {
    EventRequest r;
    r.instance_id = id;
    r.event = event;
    r.payload = std::move(payload);
    r.actor = std::move(actor);
    return engine_->send(r);
  }
  StepResult start(const std::string& def, json data = json::object(), std::string key = {}) {
    StartRequest r;
    r.definition = def;
    r.data = std::move(data);
    r.business_key = std::move(key);
    return engine_->start(r);
  }

  std::string dir_;
  std::string store_;  // EngineOptions::store: "" (LMDB) or a PostgreSQL database
  std::shared_ptr<VirtualClock> clock_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace bihuan::testing
