// Env with its write-ahead log (storage/log.cpp): logged commits read through the view
// before and after checkpoints, the merged cursor against a model, recovery after SIGKILL,
// and another process's frames.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include "storage/lmdb_env.hpp"
#include "temp_dir.hpp"

using namespace bihuan::storage;

namespace {

struct TempDir : bihuan::test::TempDir {
  TempDir() : bihuan::test::TempDir("bihuan-log") {}
};

std::unique_ptr<Env> open_env(const std::string& dir) {
  std::string error;
  auto env = Env::open(dir, std::size_t{8} << 20, false, &error);
  EXPECT_TRUE(env) << error;
  return env;
}

void put_direct(Env& env, Db db, const std::string& k, const std::string& v) {
  int rc = 0;
  auto txn = env.begin(true, &rc);
  ASSERT_TRUE(txn) << error_text(rc);
  ASSERT_EQ(txn->put(db, k, v), 0);
  ASSERT_EQ(txn->commit(), 0);
}

// One logged commit: puts (value) and deletes (nullopt).
void log_commit(Env& env, const std::vector<std::pair<std::string, std::optional<std::string>>>& w,
                Db db = Db::inst) {
  int rc = 0;
  auto c = env.log_begin(&rc);
  ASSERT_TRUE(c) << error_text(rc);
  ASSERT_EQ(c->append(w.size(),
                      [&](std::size_t i) {
                        return OpRef{
                            db, w[i].second.has_value(), w[i].first,
                            w[i].second ? std::string_view(*w[i].second) : std::string_view()};
                      }),
            0);
}

using Model = std::map<std::string, std::string>;

// Another process on `dir`, forked before this one opens anything: once go() is called it
// opens the directory, runs `work`, and kills itself with SIGKILL (no checkpoint, no
// close), so its frames stay in the log; go() returns when it is gone.
class OtherProcess {
 public:
  OtherProcess(const std::string& dir, const std::function<void(Env&)>& work) {
    if (::pipe(go_) != 0 || ::pipe(done_) != 0) return;
    pid_ = ::fork();
    if (pid_ != 0) return;
    char c = 0;
    if (::read(go_[0], &c, 1) != 1) ::_exit(3);
    auto env = open_env(dir);
    work(*env);
    (void)!::write(done_[1], &c, 1);
    ::raise(SIGKILL);
  }
  bool go() {
    char c = 'g';
    if (pid_ <= 0 || ::write(go_[1], &c, 1) != 1 || ::read(done_[0], &c, 1) != 1) return false;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    return WIFSIGNALED(status);
  }

 private:
  int go_[2] = {-1, -1}, done_[2] = {-1, -1};
  pid_t pid_ = -1;
};

// What a read transaction shows of `db`: a full walk, and it must agree with get().
Model walk(Env& env, Db db = Db::inst) {
  int rc = 0;
  auto txn = env.begin(false, &rc);
  EXPECT_TRUE(txn) << error_text(rc);
  Model out;
  auto cur = txn->cursor(db);
  for (bool ok = cur->first(); ok; ok = cur->next()) {
    EXPECT_TRUE(out.emplace(std::string(cur->key()), std::string(cur->value())).second)
        << "key twice: " << hex(cur->key());
    auto got = txn->get(db, cur->key(), rc);
    EXPECT_TRUE(got && *got == cur->value());
  }
  EXPECT_EQ(cur->status(), 0);
  EXPECT_EQ(txn->entries(db, rc), out.size());
  return out;
}

}  // namespace

TEST(Log, LoggedCommitsAreReadBeforeAndAfterTheCheckpoint) {
  TempDir dir;
  auto env = open_env(dir.path);
  ASSERT_TRUE(env && env->logged());
  put_direct(*env, Db::inst, "k1", "v1");
  put_direct(*env, Db::inst, "k3", "v3");
  put_direct(*env, Db::inst, "k5", "v5");
  EXPECT_EQ(env->log_bytes(), 0u);
  log_commit(*env, {{"k2", "v2"}, {"k3", std::nullopt}, {"k5", "v5b"}});
  log_commit(*env, {{"k7", "v7"}, {"k9", "gone soon"}});
  log_commit(*env, {{"k9", std::nullopt}});
  EXPECT_GT(env->log_bytes(), 0u);
  const Model want{{"k1", "v1"}, {"k2", "v2"}, {"k5", "v5b"}, {"k7", "v7"}};
  EXPECT_EQ(walk(*env), want);
  {
    int rc = 0;
    auto txn = env->begin(false, &rc);
    ASSERT_TRUE(txn);
    EXPECT_FALSE(txn->get(Db::inst, "k3", rc));
    EXPECT_EQ(rc, 0);
    auto cur = txn->cursor(Db::inst);
    ASSERT_TRUE(cur->seek("k3"));
    EXPECT_EQ(cur->key(), "k5");
    EXPECT_EQ(cur->value(), "v5b");
    ASSERT_TRUE(cur->last());
    EXPECT_EQ(cur->key(), "k7");  // k9 was deleted by the log
    EXPECT_FALSE(cur->next());
  }
  ASSERT_EQ(env->checkpoint(), 0);
  EXPECT_EQ(env->log_bytes(), 0u);
  EXPECT_EQ(walk(*env), want);
  // A write transaction sees what the log held (it was applied first).
  int rc = 0;
  auto txn = env->begin(true, &rc);
  ASSERT_TRUE(txn);
  auto v = txn->get(Db::inst, "k5", rc);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "v5b");
  auto applied = txn->get(Db::meta, Env::kWalAppliedKey, rc);
  ASSERT_TRUE(applied);
  EXPECT_EQ(read_be64(*applied), 3u);
}

TEST(Log, MergedCursorAgreesWithAModel) {
  TempDir dir;
  auto env = open_env(dir.path);
  ASSERT_TRUE(env);
  std::mt19937 rng(7);
  Model model;
  auto key = [&] { return "k" + std::to_string(rng() % 300); };
  {
    int rc = 0;
    auto txn = env->begin(true, &rc);
    ASSERT_TRUE(txn);
    for (int i = 0; i < 150; ++i) {
      std::string k = key(), v = "base" + std::to_string(i);
      ASSERT_EQ(txn->put(Db::inst, k, v), 0);
      model[k] = v;
    }
    ASSERT_EQ(txn->commit(), 0);
  }
  for (int round = 0; round < 6; ++round) {
    for (int f = 0; f < 20; ++f) {
      std::vector<std::pair<std::string, std::optional<std::string>>> w;
      for (int i = 0; i < 8; ++i) {
        std::string k = key();
        if (rng() % 3 == 0) {
          w.emplace_back(k, std::nullopt);
          model.erase(k);
        } else {
          std::string v =
              "r" + std::to_string(round) + "f" + std::to_string(f) + "i" + std::to_string(i);
          w.emplace_back(k, v);
          model[k] = v;
        }
      }
      log_commit(*env, w);
    }
    ASSERT_EQ(walk(*env), model) << "round " << round;
    int rc = 0;
    auto txn = env->begin(false, &rc);
    ASSERT_TRUE(txn);
    for (int probe = 0; probe < 50; ++probe) {
      std::string k = key();
      auto cur = txn->cursor(Db::inst);
      auto it = model.lower_bound(k);
      ASSERT_EQ(cur->seek(k), it != model.end()) << k;
      if (it != model.end()) {
        EXPECT_EQ(cur->key(), it->first);
        EXPECT_EQ(cur->value(), it->second);
        bool more = cur->next();
        ++it;
        ASSERT_EQ(more, it != model.end());
        if (more) {
          EXPECT_EQ(cur->key(), it->first);
        }
      }
    }
    auto cur = txn->cursor(Db::inst);
    ASSERT_EQ(cur->last(), !model.empty());
    if (!model.empty()) {
      EXPECT_EQ(cur->key(), model.rbegin()->first);
    }
    txn.reset();
    if (round % 2 == 1) {
      ASSERT_EQ(env->checkpoint(), 0);  // half the rounds on LMDB alone
    }
  }
}

TEST(Log, FramesOfAKilledProcessAreRecoveredAtOpen) {
  TempDir dir;
  {
    auto env = open_env(dir.path);
    put_direct(*env, Db::inst, "before", "x");
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto env = open_env(dir.path);
    for (int i = 0; i < 100; ++i)
      log_commit(*env, {{"k" + std::to_string(1000 + i), "v" + std::to_string(i)}});
    char ok = env->log_bytes() > 0 ? 'y' : 'n';
    (void)!::write(fds[1], &ok, 1);
    ::raise(SIGKILL);  // no checkpoint, no close
  }
  ::close(fds[1]);
  char ok = 0;
  ASSERT_EQ(::read(fds[0], &ok, 1), 1);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(ok, 'y') << "the child's frames were checkpointed before the kill";
  auto env = open_env(dir.path);
  EXPECT_EQ(env->log_bytes(), 0u);  // recovery applied the log and reset it
  Model got = walk(*env);
  EXPECT_EQ(got.size(), 101u);
  EXPECT_EQ(got["k1099"], "v99");
  EXPECT_EQ(got["before"], "x");
  // The next commit's lsn follows the recovered ones.
  log_commit(*env, {{"after", "y"}});
  ASSERT_EQ(env->checkpoint(), 0);
  int rc = 0;
  auto txn = env->begin(false, &rc);
  auto applied = txn->get(Db::meta, Env::kWalAppliedKey, rc);
  ASSERT_TRUE(applied);
  EXPECT_EQ(read_be64(*applied), 101u);
}

// Log format 1 (before compression) in a data directory of an older build: its frames are
// recovered, the header becomes version 2 at that open's reset, and from then on a group
// commit is stored compressed, which the next recovery reads back.
TEST(Log, AVersion1LogIsRecoveredUpgradedAndThenCompressed) {
  TempDir dir;
  open_env(dir.path);  // makes the directory and its log
  auto header_version = [&] {
    std::ifstream in(dir.path + "/wal.log", std::ios::binary);
    char b[12] = {};
    in.read(b, sizeof b);
    std::uint32_t v;
    std::memcpy(&v, b + 8, 4);
    return v;
  };
  auto first_frame_magic = [&] {
    std::ifstream in(dir.path + "/wal.log", std::ios::binary);
    in.seekg(4096);
    std::uint32_t m = 0;
    in.read(reinterpret_cast<char*>(&m), 4);
    return m;
  };
  {
    // One-step frames (plain, as a version 1 build writes them), left by a killed process.
    OtherProcess old(dir.path, [](Env& env) {
      for (int i = 0; i < 50; ++i)
        log_commit(env, {{"k" + std::to_string(1000 + i), "v" + std::to_string(i)}});
    });
    ASSERT_TRUE(old.go());
  }
  {
    std::fstream f(dir.path + "/wal.log", std::ios::binary | std::ios::in | std::ios::out);
    const std::uint32_t one = 1;
    f.seekp(8);
    f.write(reinterpret_cast<const char*>(&one), 4);
  }
  ASSERT_EQ(header_version(), 1u);
  {
    auto env = open_env(dir.path);
    EXPECT_EQ(walk(*env).size(), 50u);
    EXPECT_EQ(header_version(), 2u);  // upgraded by recovery's reset
  }
  // A group commit of 300 similar writes (about 40 KB) after the upgrade: compressed.
  {
    OtherProcess now(dir.path, [](Env& env) {
      std::vector<std::pair<std::string, std::optional<std::string>>> w;
      for (int i = 0; i < 300; ++i)
        w.push_back({"g" + std::to_string(1000 + i),
                     "{\"state\":\"rectifying\",\"note\":\"checked on site\",\"n\":" +
                         std::to_string(i) + "}"});
      log_commit(env, w);
      log_commit(env, {{"last", "one"}});
    });
    ASSERT_TRUE(now.go());
  }
  EXPECT_EQ(first_frame_magic(), 0x42484643u);  // "BHFC"
  auto env = open_env(dir.path);
  Model got = walk(*env);
  EXPECT_EQ(got.size(), 50u + 300u + 1u);
  EXPECT_EQ(got["g1299"], "{\"state\":\"rectifying\",\"note\":\"checked on site\",\"n\":299}");
  EXPECT_EQ(got["last"], "one");
}

// The checkpoint appends history keys above LMDB's last one (MDB_APPEND) and puts the
// others in place: both end in LMDB, in order, whatever the mix.
TEST(Log, TheCheckpointAppendsHistoryAboveTheLastKeyAndPutsTheRest) {
  TempDir dir;
  auto env = open_env(dir.path);
  put_direct(*env, Db::hist, be64(500), "direct");
  log_commit(*env, {{be64(100), "below"}, {be64(700), "above"}, {be64(501), "next"}}, Db::hist);
  log_commit(*env, {{be64(499), "below too"}, {be64(900), "last"}}, Db::hist);
  ASSERT_EQ(env->checkpoint(), 0);
  EXPECT_EQ(env->log_bytes(), 0u);
  Model got = walk(*env, Db::hist);
  EXPECT_EQ(got, (Model{{be64(100), "below"},
                        {be64(499), "below too"},
                        {be64(500), "direct"},
                        {be64(501), "next"},
                        {be64(700), "above"},
                        {be64(900), "last"}}));
  // And on an empty history.
  TempDir empty;
  auto fresh = open_env(empty.path);
  log_commit(*fresh, {{be64(2), "b"}, {be64(1), "a"}}, Db::hist);
  ASSERT_EQ(fresh->checkpoint(), 0);
  EXPECT_EQ(walk(*fresh, Db::hist), (Model{{be64(1), "a"}, {be64(2), "b"}}));
}

TEST(Log, AnotherProcessesFramesAreSeenAndCountAsForeign) {
  TempDir dir;
  OtherProcess other(dir.path, [](Env& env) {
    log_commit(env, {{"child1", "a"}});
    log_commit(env, {{"parent", std::nullopt}, {"child2", "b"}});
  });
  auto env = open_env(dir.path);
  log_commit(*env, {{"parent", "p"}});
  EXPECT_EQ(walk(*env), (Model{{"parent", "p"}}));
  const std::uint64_t foreign = env->foreign_changes();
  ASSERT_TRUE(other.go());
  // The child's open applied our frame and reset the log; its two frames follow.
  EXPECT_EQ(walk(*env), (Model{{"child1", "a"}, {"child2", "b"}}));
  EXPECT_GT(env->foreign_changes(), foreign);
  int rc = 0;
  {
    auto log = env->log_begin(&rc);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->foreign(), env->foreign_changes());
  }
  log_commit(*env, {{"parent", "again"}});
  EXPECT_EQ(walk(*env), (Model{{"child1", "a"}, {"child2", "b"}, {"parent", "again"}}));
  env.reset();  // closes with a checkpoint
  auto reopened = open_env(dir.path);
  EXPECT_EQ(walk(*reopened), (Model{{"child1", "a"}, {"child2", "b"}, {"parent", "again"}}));
}

// A frame another process appended that fails its check (here its payload changed on
// disk) is damage: the read fails, and log_error() names the file and what was wrong.
TEST(Log, ADamagedForeignFrameFailsTheReadAndSaysWhere) {
  TempDir dir;
  OtherProcess other(dir.path, [](Env& env) {
    log_commit(env, {{"child", std::string(100, 'a')}});
  });
  auto env = open_env(dir.path);
  EXPECT_EQ(walk(*env), Model{});
  ASSERT_TRUE(other.go());
  {
    std::FILE* f = std::fopen((dir.path + "/wal.log").c_str(), "r+b");
    ASSERT_TRUE(f);
    std::fseek(f, 4096 + 60, SEEK_SET);  // inside the child's frame's payload
    std::fputc('Z', f);
    std::fclose(f);
  }
  int rc = 0;
  auto txn = env->begin(false, &rc);
  EXPECT_FALSE(txn);
  EXPECT_EQ(rc, EIO);
  EXPECT_NE(env->log_error().find("wal.log"), std::string::npos) << env->log_error();
}
