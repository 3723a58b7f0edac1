// verify() and the check at open on damaged stores (docs/storage.md, "Damaged records"
// and "Check at open"): a zeroed B-tree branch page is reported, never a crash of this
// process; a store found damaged after an unclean stop is refused at open; every index
// entry is checked against the records.
#include <fcntl.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "engine_fixture.hpp"
#include "family_definitions.hpp"
#include "runtime/record.hpp"
#include "runtime/verify.hpp"
#include "storage/lmdb_env.hpp"

using namespace bihuan;
using bihuan::testing::EngineTest;
using bihuan::testing::make_temp_dir;

namespace {

namespace fs = std::filesystem;

const char* kTimed = R"({"id": "t.d", "version": 1, "initial": "A", "states": {
  "A": {"timers": [{"id": "t", "after": "PT1H", "event": "tick"}],
        "on": {"go": {"roles": ["system", "USER"], "target": "B"},
               "tick": {"roles": ["system"], "target": "B"}}},
  "B": {"type": "final", "outcome": "ok"}}})";

bool has(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// The page number of a branch page of the `db` database one level below its root (its
// first child: the leftmost), read with LMDB from a closed store. 0 if the tree is not
// that deep.
std::uint64_t branch_below_root(const std::string& dir, const char* db) {
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 64);
  std::uint64_t found = 0;
  MDB_txn* txn = nullptr;
  if (mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0640) == 0 &&
      mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0) {
    MDB_val k{std::strlen(db), const_cast<char*>(db)}, v;
    // The main database's value for a named database is its record: md_depth (u16) at 6,
    // md_root at 40.
    MDB_dbi main_db = 0;
    if (mdb_dbi_open(txn, nullptr, 0, &main_db) == 0 && mdb_get(txn, main_db, &k, &v) == 0 &&
        v.mv_size >= 48) {
      std::uint16_t depth;
      std::uint64_t root;
      std::memcpy(&depth, static_cast<char*>(v.mv_data) + 6, 2);
      std::memcpy(&root, static_cast<char*>(v.mv_data) + 40, 8);
      MDB_stat st;
      mdb_env_stat(env, &st);
      if (depth >= 3) {
        // The root page: 16-byte header (flags at 10, lower at 12), then 2-byte node
        // offsets; a branch node's child page number is its first 6 bytes.
        std::string page(st.ms_psize, '\0');
        int fd = ::open((fs::path(dir) / "data.mdb").c_str(), O_RDONLY);
        if (::pread(fd, page.data(), page.size(), static_cast<off_t>(root * st.ms_psize)) ==
            static_cast<ssize_t>(page.size())) {
          std::uint16_t off;
          std::memcpy(&off, page.data() + 16, 2);
          std::uint16_t lo, hi, flags;
          std::memcpy(&lo, page.data() + off, 2);
          std::memcpy(&hi, page.data() + off + 2, 2);
          std::memcpy(&flags, page.data() + off + 4, 2);
          found = lo | (std::uint64_t{hi} << 16) | (std::uint64_t{flags} << 32);
        }
        ::close(fd);
      }
    }
    mdb_txn_abort(txn);
  }
  mdb_env_close(env);
  return found;
}

// Overwrites page `pgno` of dir/data.mdb with zeros (a live engine sees it at once: LMDB
// reads through a shared map of the file).
void zero_page(const std::string& dir, std::uint64_t pgno) {
  int fd = ::open((fs::path(dir) / "data.mdb").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::uint8_t flags[2];
  ASSERT_EQ(::pread(fd, flags, 2, static_cast<off_t>(pgno * 4096 + 10)), 2);
  EXPECT_EQ(flags[0] & 0x01, 0x01) << "page " << pgno << " is not a branch page";
  std::string zeros(4096, '\0');
  EXPECT_EQ(::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(pgno * 4096)), 4096);
  ::close(fd);
}

class VerifyTest : public EngineTest {
 protected:
  // Several definitions and enough instances (about 1 KiB each) that `inst` is three
  // levels deep: timers, business keys, start idempotency keys, children.
  void fill(int n) {
    deploy(kTimed);
    deploy(bihuan::testing::kParent);
    deploy(bihuan::testing::kChild);
    std::string blob(1000, 'x');
    for (int i = 0; i < n; ++i) {
      StartRequest r;
      r.definition = "t.d";
      r.data = {{"blob", blob}, {"n", i}};
      r.business_key = "key:" + std::to_string(i);
      r.idempotency_key = "idem:" + std::to_string(i);
      ASSERT_TRUE(engine_->start(r).instance);
    }
    ASSERT_TRUE(
        start("t.parent",
              {{"items", {"a", "b"}}, {"owner", "u1"}, {"done", 0}, {"outcomes", json::array()}})
            .instance);
    auto sent = send(start("t.d", json::object(), "key:sent").instance->id, "go");
    ASSERT_EQ(sent.error, StepError::none) << sent.message;
  }
  // Builds the store without flushes (fast), then closes and reopens it durably.
  void fill_fast(int n) {
    auto o = base_options();
    o.durable = false;
    reopen_with(o);
    fill(n);
    reopen();
  }
};

}  // namespace

TEST_F(VerifyTest, ASoundStoreIsWalkedAndEveryIndexChecked) {
  fill(20);
  auto r = engine_->verify();
  EXPECT_TRUE(r.ok()) << joined(r.broken);
  EXPECT_TRUE(r.structure_ok);
  EXPECT_EQ(r.instances, 20u + 1 + 2 + 1);
  EXPECT_GE(r.databases, 12u);  // free pages, main, and the named databases
  // 20 idem + 23 bkey + 24 sidx + timers + 2 children.
  EXPECT_GE(r.index_entries, 20u + 23 + 24 + 2);
  if (bihuan::testing::on_pg()) {  // no pages to walk: the server keeps its structure
    EXPECT_EQ(r.pages, 0u);
    EXPECT_EQ(r.file.rfind("PostgreSQL at ", 0), 0u) << r.file;
    return;
  }
  EXPECT_GT(r.pages, 10u);
  EXPECT_EQ(r.file, (fs::path(dir_) / "data.mdb").string());
}

// The finding: one zeroed branch page made verify (and unfiltered lists) abort the
// process on an LMDB assertion. Now verify reports it and this process lives on.
TEST_F(VerifyTest, AZeroedBranchPageIsReportedByVerifyAndTheProcessLivesOn) {
  SKIP_ON_PG("damaged pages of data.mdb");
  fill_fast(1200);
  engine_->close();
  engine_.reset();
  std::uint64_t pgno = branch_below_root(dir_, "inst");
  ASSERT_GT(pgno, 1u) << "inst is not three levels deep";
  open();  // a clean stop: no check
  zero_page(dir_, pgno);
  auto r = engine_->verify();
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.structure_ok);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0].kind, "structure");
  EXPECT_EQ(r.problems[0].db, "inst") << joined(r.broken);
  EXPECT_TRUE(has(r.broken, "store structure damaged in " + (fs::path(dir_) / "data.mdb").string() +
                                ": database inst: "))
      << joined(r.broken);
  // Again: the engine still answers.
  EXPECT_FALSE(engine_->verify().ok());
  EXPECT_EQ(engine_->definition("t.d", std::nullopt)->id, "t.d");
  // verify found it: closing does not mark the stop clean, so the next open checks and refuses.
  engine_->close();
  engine_.reset();
  Problems p;
  EXPECT_FALSE(Engine::open(base_options(), p));
  EXPECT_TRUE(p.has_errors());
}

// A backup (compacted copy) with one zeroed branch page: opening it for serving is
// refused with a message naming the file and database and the way to restore, and
// check_store reports it from a child process.
TEST_F(VerifyTest, OpeningADamagedCopyIsRefusedWithTheWayToRestore) {
  SKIP_ON_PG("damaged pages of data.mdb");
  fill_fast(1200);
  std::string copy = make_temp_dir("copy");
  fs::remove_all(copy);
  std::string error;
  ASSERT_TRUE(engine_->backup(copy, &error)) << error;
  std::uint64_t pgno = branch_below_root(copy, "inst");
  ASSERT_GT(pgno, 1u);
  zero_page(copy, pgno);

  runtime::DefinitionSet defs;
  for (auto& d : engine_->definitions()) defs[{d->id, d->version}] = d;
  auto r = runtime::check_store(copy, &defs);
  EXPECT_FALSE(r.structure_ok);
  EXPECT_TRUE(has(r.broken, "store structure damaged in " + copy + "/data.mdb: database inst: "))
      << joined(r.broken);

  auto o = base_options();
  o.data_dir = copy;
  Problems p;
  auto refused = Engine::open(o, p);
  EXPECT_FALSE(refused);
  ASSERT_FALSE(p.items().empty());
  std::string text = p.items()[0].to_string();
  EXPECT_NE(text.find("store structure damaged in " + copy + "/data.mdb: database inst: "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Restore the newest backup"), std::string::npos) << text;
  EXPECT_NE(text.find("docs/operations.md"), std::string::npos) << text;
  // Refused again on the next try (no marker was written).
  Problems again;
  EXPECT_FALSE(Engine::open(o, again));
  fs::remove_all(copy);
}

// The finding: a damaged idempotency index passed verify as "all chains intact". Every
// index entry is checked against the records, and every record against its entries.
TEST_F(VerifyTest, DamagedIndexEntriesAreReportedWithDatabaseAndKey) {
  fill(3);
  auto idem_victim = engine_->get_by_business_key("key:1")->id;
  auto timer_victim = engine_->get_by_business_key("key:2")->id;
  auto id = [](const std::string& text) { return *runtime::id_from_text(text); };
  reopen_after_raw_edit([&](storage::Txn& txn) {
    // A start's idempotency record naming an instance that does not exist.
    ASSERT_EQ(txn.put(storage::Db::idem, std::string("s\0ghost", 7),
                      storage::be64(0x0123456789abcdefULL)),
              0);
    // An event's idempotency record of a missing instance.
    ASSERT_EQ(txn.put(storage::Db::idem,
                      std::string("e\0", 2) + storage::be64(0x0123456789abcdeeULL) + "k",
                      std::string(64, 'a')),
              0);
    // A business key naming an instance with another key.
    ASSERT_EQ(txn.put(storage::Db::bkey, "key:0", storage::be64(id(idem_victim))), 0);
    // A state-index entry for a state the instance is not in.
    ASSERT_EQ(
        txn.put(storage::Db::sidx, std::string("t.d\0B\0", 6) + storage::be64(id(idem_victim)), ""),
        0);
    // The timer of one instance gone from the timer index.
    auto cur = txn.cursor(storage::Db::timers);
    for (bool ok = cur && cur->first(); ok; ok = cur->next())
      if (runtime::parse_timer_key(cur->key()).instance == id(timer_victim)) {
        ASSERT_EQ(cur->del(), 0);
        break;
      }
  });
  auto r = engine_->verify();
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.structure_ok);
  std::string all = joined(r.broken);
  EXPECT_TRUE(has(r.broken,
                  "the idempotency record of start key \"ghost\" (a retried start would answer "
                  "with nothing) names instance 0123456789abcdef, which does not exist"))
      << all;
  EXPECT_TRUE(has(r.broken,
                  "the idempotency record of event key \"k\" names instance 0123456789abcdee, "
                  "which does not exist"))
      << all;
  EXPECT_TRUE(has(r.broken, "the business key \"key:0\" names instance " + idem_victim +
                                ", whose business key is \"key:1\""))
      << all;
  EXPECT_TRUE(has(r.broken,
                  "the state index puts instance " + idem_victim + " in t.d/B, but it is in t.d/A"))
      << all;
  EXPECT_TRUE(has(r.broken, "instance " + timer_victim + " has timer ")) << all;
  EXPECT_TRUE(has(r.broken, "but the timer index has no entry for it")) << all;
  // Each with its database and key.
  bool idem_found = false;
  for (const auto& p : r.problems)
    if (p.db == "idem" && p.kind == "index" && p.key == "730067686f7374") idem_found = true;
  EXPECT_TRUE(idem_found) << all;
}

// A clean close leaves a marker and the next open skips the check; an engine that stops
// without closing (a crash), or a directory without the marker (a copied backup), gets
// the check; an engine opening a directory another engine has open skips it.
TEST_F(VerifyTest, TheCheckAtOpenRunsOnlyAfterAnUncleanStop) {
  SKIP_ON_PG("the structural walk of data.mdb at open");
  fill(3);
  engine_->close();
  engine_.reset();
  EXPECT_TRUE(fs::exists(fs::path(dir_) / "clean-stop"));
  {
    Problems p;
    auto check = runtime::StartCheck::begin(dir_, p);
    ASSERT_TRUE(check);
    EXPECT_FALSE(check->checked());                           // clean stop
    EXPECT_FALSE(fs::exists(fs::path(dir_) / "clean-stop"));  // removed while open
  }
  // The StartCheck above ended without a clean close: as after a crash.
  {
    Problems p;
    auto check = runtime::StartCheck::begin(dir_, p);
    ASSERT_TRUE(check);
    EXPECT_TRUE(check->checked());
    check->closed_cleanly();
  }
  // A real crash: a child process opens an engine, writes and ends without closing it.
  pid_t pid = ::fork();
  if (pid == 0) {
    Problems p;
    auto o = base_options();
    auto e = Engine::open(o, p);
    StartRequest r;
    r.definition = "t.d";
    bool ok = e && e->start(r).instance;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(fs::exists(fs::path(dir_) / "clean-stop"));
  {
    Problems p;
    auto check = runtime::StartCheck::begin(dir_, p);
    ASSERT_TRUE(check);
    EXPECT_TRUE(check->checked());
    check->closed_cleanly();
  }
  // The data file changed after the clean stop (here: rewritten by another program).
  open();
  engine_->close();
  engine_.reset();
  {
    std::string error;
    auto env = bihuan::testing::open_raw(dir_);
    ASSERT_TRUE(env) << error;
    auto txn = env->begin(true, nullptr);
    ASSERT_EQ(txn->put(storage::Db::meta, "x", "y"), 0);
    ASSERT_EQ(txn->commit(), 0);
  }
  {
    Problems p;
    auto check = runtime::StartCheck::begin(dir_, p);
    EXPECT_TRUE(check->checked());
  }
  // Beside an engine that has the directory open, no check (it checked when it opened).
  open();
  {
    Problems p;
    auto check = runtime::StartCheck::begin(dir_, p);
    ASSERT_TRUE(check);
    EXPECT_FALSE(check->checked());
  }
  // A fresh directory has nothing to check.
  std::string fresh = make_temp_dir("fresh");
  {
    Problems p;
    auto check = runtime::StartCheck::begin(fresh, p);
    EXPECT_FALSE(check->checked());
  }
  fs::remove_all(fresh);
}
