#include "storage/walk.hpp"

#include <lmdb.h>

#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

namespace bihuan::storage {
namespace {

// midl.h's MDB_ID: a free-page list is an array of them, its length first.
using PageId = std::size_t;

std::string_view val_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

std::string shown(std::string_view bytes) { return hex(bytes, 64); }  // a key in a message

std::string count_text(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Reads every byte of `v` (LMDB hands out pointers into the map: a damaged overflow page
// number faults here, inside the walk, not later in a step).
unsigned touch(std::string_view v) {
  unsigned sum = 0;
  for (std::size_t i = 0; i < v.size(); i += 64) sum += static_cast<unsigned char>(v[i]);
  if (!v.empty()) sum += static_cast<unsigned char>(v.back());
  return sum;
}

struct Walker {
  MDB_txn* txn;
  const WalkSink& sink;
  std::uint64_t page_limit;  // page numbers must be below it (the file's pages)
  WalkCounts counts;
  volatile unsigned touched = 0;

  void problem(const std::string& db, const std::string& key, const std::string& text) {
    if (sink.problem) sink.problem(db, key, text);
  }

  // The free-page list: key a transaction id, value an IDL (count, then page numbers).
  void check_free(std::string_view value, const std::string& db, std::string_view key) {
    if (value.size() < sizeof(PageId) || value.size() % sizeof(PageId)) {
      problem(db, shown(key),
              "a free-page list of " + std::to_string(value.size()) +
                  " bytes (expected whole page numbers)");
      return;
    }
    std::vector<PageId> ids(value.size() / sizeof(PageId));
    std::memcpy(ids.data(), value.data(), value.size());
    if (ids[0] != ids.size() - 1) {
      problem(db, shown(key),
              "a free-page list says it holds " + std::to_string(ids[0]) + " pages but holds " +
                  std::to_string(ids.size() - 1));
      return;
    }
    for (std::size_t i = 1; i < ids.size(); ++i)
      if (ids[i] < 2 || ids[i] >= page_limit) {
        problem(db, shown(key),
                "a free-page list names page " + std::to_string(ids[i]) +
                    ", outside the file's pages 2 to " + std::to_string(page_limit - 1));
        return;
      }
  }

  // Walks one database from its first key to its last; the names it holds if `names`.
  void walk(MDB_dbi dbi, const std::string& db, bool free_list, std::vector<std::string>* names) {
    if (sink.at) sink.at(db);
    ++counts.databases;
    MDB_stat st;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc != 0) {
      problem(db, "", std::string("cannot read its statistics: ") + mdb_strerror(rc));
      return;
    }
    counts.pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    MDB_cursor* c = nullptr;
    rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0) {
      problem(db, "", std::string("cannot open a cursor: ") + mdb_strerror(rc));
      return;
    }
    MDB_val k, v;
    std::string prev;
    std::uint64_t n = 0;
    bool stopped = false;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      std::string_view key = val_view(k), value = val_view(v);
      // In the database's own order (the free list's keys are native integers).
      MDB_val prev_val{prev.size(), prev.data()};
      if (n > 0 && mdb_cmp(txn, dbi, &prev_val, &k) >= 0) {
        problem(db, shown(key),
                "keys do not rise: this key follows " +
                    (prev.empty() ? std::string("an empty key") : shown(prev)) + " after " +
                    count_text(n, "entry", "entries") + " (a page is damaged)");
        stopped = true;
        break;
      }
      ++n;
      touched = touched + touch(key) + touch(value);
      if (free_list) check_free(value, db, key);
      if (names) names->emplace_back(key);
      prev.assign(key);
    }
    if (!stopped && rc != MDB_NOTFOUND)
      problem(db, shown(prev),
              std::string("LMDB failed after ") + count_text(n, "entry", "entries") + ": " +
                  mdb_strerror(rc));
    else if (!stopped && n != st.ms_entries)
      problem(db, "",
              "the walk reached " + count_text(n, "entry", "entries") +
                  " but the database records " + std::to_string(st.ms_entries) +
                  " (pages are missing or damaged)");
    mdb_cursor_close(c);
    counts.entries += n;
  }
};

void (*assert_hook)(const char*) = nullptr;
void on_assert(MDB_env*, const char* message) {
  if (assert_hook) assert_hook(message);
}

}  // namespace

std::unique_ptr<Env> Env::open_read_only(const std::string& dir, std::string* error) {
  std::unique_ptr<Env> env(new Env());
  int rc = mdb_env_create(&env->env_);
  if (rc == 0) rc = mdb_env_set_maxdbs(env->env_, 128);
  if (rc == 0) rc = mdb_env_set_maxreaders(env->env_, 512);
  if (rc == 0) {
    std::error_code ec;
    std::uintmax_t existing =
        std::filesystem::file_size(std::filesystem::path(dir) / "data.mdb", ec);
    env->map_bytes_ = ec ? 0 : static_cast<std::size_t>(existing);
    if (env->map_bytes_) rc = mdb_env_set_mapsize(env->env_, env->map_bytes_);
  }
  if (rc == 0)
    rc = mdb_env_open(env->env_, dir.c_str(), MDB_RDONLY | MDB_NOTLS | MDB_NORDAHEAD, 0640);
  if (rc != 0) {
    if (error) *error = "cannot open LMDB environment in " + dir + " to read: " + mdb_strerror(rc);
    return nullptr;
  }
  for (auto& d : env->dbis_) d = ~0u;  // an absent database: every use fails with EINVAL
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env->env_, nullptr, MDB_RDONLY, &txn);
  for (int attempt = 0; rc == MDB_MAP_RESIZED && attempt < 8; ++attempt) {
    rc = mdb_env_set_mapsize(env->env_, 0);  // another process grew the map; none of ours open
    if (rc == 0) rc = mdb_txn_begin(env->env_, nullptr, MDB_RDONLY, &txn);
  }
  if (rc == 0) env->read_size();
  for (unsigned i = 0; rc == 0 && i < static_cast<unsigned>(Db::count_); ++i) {
    MDB_dbi dbi = 0;
    int found = mdb_dbi_open(txn, db_name(static_cast<Db>(i)), 0, &dbi);
    if (found == 0)
      env->dbis_[i] = dbi;
    else if (found != MDB_NOTFOUND)
      rc = found;
  }
  if (rc == 0)
    rc = mdb_txn_commit(txn);  // keeps the handles
  else if (txn)
    mdb_txn_abort(txn);
  if (rc != 0) {
    if (error) *error = "cannot open databases in " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  return env;
}

WalkCounts walk_structure(Env& env, const WalkSink& sink) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {  // another process grew the map
    mdb_env_set_mapsize(env.raw(), 0);
    rc = mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &txn);
  }
  if (rc != 0) {
    if (sink.problem)
      sink.problem("(main)", "",
                   std::string("cannot begin a read transaction: ") + mdb_strerror(rc));
    return {};
  }
  MDB_envinfo info;
  std::uint64_t limit = mdb_env_info(env.raw(), &info) == 0 ? info.me_last_pgno + 1 : UINT64_MAX;
  Walker w{txn, sink, limit};
  w.walk(0, "(free pages)", true, nullptr);  // FREE_DBI: read transactions may walk it
  std::vector<std::string> names;
  w.walk(1, "(main)", false, &names);  // MAIN_DBI: a key per named database
  for (const auto& name : names) {
    MDB_dbi dbi = 0;
    rc = name.find('\0') == std::string::npos ? mdb_dbi_open(txn, name.c_str(), 0, &dbi)
                                              : MDB_INCOMPATIBLE;
    if (rc != 0) {
      w.problem("(main)", shown(name),
                "names a database LMDB cannot open: " + std::string(mdb_strerror(rc)));
      continue;
    }
    w.walk(dbi, name, false, nullptr);
  }
  mdb_txn_abort(txn);
  return w.counts;
}

void on_lmdb_assert(Env& env, void (*fn)(const char* message)) {
  assert_hook = fn;
  mdb_env_set_assert(env.raw(), on_assert);
}

}  // namespace bihuan::storage
