// PMap (storage/pmap.hpp), the persistent treap of the write-ahead log's durable overlay:
// against a std::map model under random sets, every kept version unchanged at the end,
// above() as the model filtered, iterators outliving their map, unsigned byte order, the
// depth on sequential keys, readers iterating snapshots while a writer sets keys, and
// the arena: its memory, above()'s fresh one, and above() beside a builder.
#include "storage/pmap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace bihuan::storage {
namespace {

using Model = std::map<std::string, PEntry>;

std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

// Short keys over a small alphabet with '\0' and bytes >= 0x80, so keys repeat, share
// prefixes and sort differently as signed and unsigned chars.
std::string random_key(std::mt19937_64& rng) {
  static const char kBytes[] = {'\0', '\x01', 'a', 'b', '\x7f', '\x80', '\xfe', '\xff'};
  std::size_t len = rng() % 5;
  std::string k;
  for (std::size_t i = 0; i < len; ++i) k.push_back(kBytes[rng() % sizeof kBytes]);
  return k;
}

bool same_entry(const PEntry& a, const PEntry& b) { return a.lsn == b.lsn && a.value == b.value; }

// The whole map equals the model: size, find of every key, iteration order, last().
void expect_equal(const PMap& m, const Model& model) {
  ASSERT_EQ(m.size(), model.size());
  EXPECT_EQ(m.empty(), model.empty());
  auto it = m.begin();
  for (const auto& [k, e] : model) {
    ASSERT_TRUE(it.valid());
    ASSERT_EQ(it.key(), k);
    ASSERT_TRUE(same_entry(it.entry(), e));
    const PEntry* f = m.find(k);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(same_entry(*f, e));
    it.next();
  }
  EXPECT_FALSE(it.valid());
  auto l = m.last();
  ASSERT_EQ(l.valid(), !model.empty());
  if (l.valid()) {
    EXPECT_EQ(l.key(), model.rbegin()->first);
    l.next();
    EXPECT_FALSE(l.valid());
  }
}

// lower_bound(probe) and the walk from it equal the model's.
void expect_lower_bound(const PMap& m, const Model& model, const std::string& probe) {
  auto it = m.lower_bound(probe);
  auto mit = model.lower_bound(probe);
  for (int steps = 0; steps < 3; ++steps, ++mit, it.next()) {
    ASSERT_EQ(it.valid(), mit != model.end()) << "probe size " << probe.size();
    if (mit == model.end()) break;
    ASSERT_EQ(it.key(), mit->first);
    ASSERT_TRUE(same_entry(it.entry(), mit->second));
  }
}

PEntry random_entry(std::mt19937_64& rng, std::uint64_t lsn) {
  PEntry e;
  e.lsn = lsn;
  if (rng() % 4 != 0) e.value = "v" + std::to_string(rng() % 100000);
  return e;
}

TEST(PMap, EmptyMap) {
  PMap m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.find(""), nullptr);
  EXPECT_FALSE(m.begin().valid());
  EXPECT_FALSE(m.last().valid());
  EXPECT_FALSE(m.lower_bound("").valid());
  EXPECT_EQ(m.depth(), 0u);
  EXPECT_TRUE(m.above(0).empty());
}

TEST(PMap, RandomSetsMatchModelAndOldVersionsStay) {
  std::mt19937_64 rng(20261206);
  PMap m;
  Model model;
  std::vector<std::pair<PMap, Model>> kept;  // every 1000th version and its model
  constexpr int kOps = 20000;
  for (int i = 1; i <= kOps; ++i) {
    std::string k = random_key(rng);
    // Half the lsns are random (not increasing), as a later frame may carry any lsn here.
    std::uint64_t lsn = rng() % 2 ? static_cast<std::uint64_t>(i) : rng() % 50000;
    PEntry e = random_entry(rng, lsn);
    PMap before = m;
    auto prev = model.find(k);
    std::optional<PEntry> was;
    if (prev != model.end()) was = prev->second;
    m = m.set(k, e);
    model[k] = e;
    ASSERT_EQ(m.size(), model.size());
    const PEntry* f = m.find(k);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(same_entry(*f, e));
    // The version set() started from still has what it had.
    const PEntry* old = before.find(k);
    ASSERT_EQ(old != nullptr, was.has_value());
    if (old) {
      ASSERT_TRUE(same_entry(*old, *was));
    }
    if (i % 1000 == 0) {
      kept.emplace_back(m, model);
      expect_equal(m, model);
      for (int p = 0; p < 50; ++p) expect_lower_bound(m, model, random_key(rng));
      expect_lower_bound(m, model, "");
      expect_lower_bound(m, model, std::string(6, '\xff'));  // after every key
      expect_lower_bound(m, model, std::string(1, '\0'));
    }
  }
  EXPECT_GT(model.size(), 1000u);  // the alphabet gives 4681 keys; most are met
  ASSERT_EQ(kept.size(), static_cast<std::size_t>(kOps / 1000));
  for (const auto& [version, snapshot] : kept) expect_equal(version, snapshot);
}

// set_all (one union per batch, as a logged commit publishes its frame) equals a set()
// per write, on random batches with repeated keys, into maps small and large; the map it
// started from is unchanged, and its shape is that of the same keys inserted one by one.
TEST(PMap, SetAllEqualsOneSetPerWrite) {
  std::mt19937_64 rng(11);
  PMap m;
  Model model;
  std::uint64_t lsn = 0;
  for (int batch = 0; batch < 300; ++batch) {
    std::vector<std::pair<std::string, PEntry>> owned;
    std::size_t n = rng() % (batch % 10 == 0 ? 200 : 12);
    ++lsn;
    for (std::size_t i = 0; i < n; ++i) {
      std::string k = rng() % 2 ? random_key(rng) : be64(rng() % 2000);
      owned.emplace_back(k, random_entry(rng, lsn));
    }
    std::vector<std::pair<std::string_view, PEntry>> writes;
    for (auto& [k, e] : owned) writes.emplace_back(k, e);
    Model before = model;
    PMap old = m;
    m = m.set_all(std::move(writes));
    for (auto& [k, e] : owned) model[k] = e;
    ASSERT_NO_FATAL_FAILURE(expect_equal(old, before));
    if (batch % 25 == 0 || batch == 299) {
      ASSERT_NO_FATAL_FAILURE(expect_equal(m, model)) << "batch " << batch;
      PMap one;
      for (const auto& [k, e] : model) one = one.set(k, e);
      EXPECT_EQ(m.depth(), one.depth());
    }
  }
  ASSERT_NO_FATAL_FAILURE(expect_equal(m, model));
  EXPECT_EQ(m.set_all({}).size(), m.size());
}

TEST(PMap, AboveKeepsOnlyNewerEntriesAndCanGrowAgain) {
  std::mt19937_64 rng(7);
  PMap m;
  Model model;
  for (std::uint64_t i = 1; i <= 5000; ++i) {
    std::string k = random_key(rng) + be64(rng() % 3000);
    PEntry e = random_entry(rng, 1 + rng() % 10000);
    m = m.set(k, e);
    model[k] = e;
  }
  for (std::uint64_t floor : {0ull, 1ull, 2500ull, 5000ull, 9998ull, 10000ull}) {
    SCOPED_TRACE(floor);
    PMap a = m.above(floor);
    Model filtered;
    for (const auto& [k, e] : model)
      if (e.lsn > floor) filtered.emplace(k, e);
    expect_equal(a, filtered);
    for (int p = 0; p < 20; ++p) expect_lower_bound(a, filtered, random_key(rng));
    // The shape is what sets would give: depth stays that of a treap, and sets go on.
    EXPECT_LE(a.depth(), 60u);
    for (int i = 0; i < 200; ++i) {
      std::string k = random_key(rng) + be64(rng() % 4000);
      PEntry e = random_entry(rng, 20000 + static_cast<std::uint64_t>(i));
      a = a.set(k, e);
      filtered[k] = e;
    }
    expect_equal(a, filtered);
    expect_equal(m, model);  // the source is unchanged
  }
  // Nothing at or below the floor: the same map (the same entries, not copies).
  PMap same = m.above(0);
  EXPECT_EQ(same.size(), m.size());
  EXPECT_EQ(same.begin().key(), m.begin().key());
  EXPECT_EQ(&same.begin().entry(), &m.begin().entry());
}

TEST(PMap, AboveHasTheShapeOfInserts) {
  // The same key set built by sets and by above() has the same depth (one shape per set).
  PMap all, fresh;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    all = all.set(be64(i), PEntry{i % 2 ? 10 + i : 1, "x"});
    if (i % 2) fresh = fresh.set(be64(i), PEntry{10 + i, "x"});
  }
  PMap a = all.above(5);
  EXPECT_EQ(a.size(), fresh.size());
  EXPECT_EQ(a.depth(), fresh.depth());
}

TEST(PMap, IteratorOutlivesItsMap) {
  PMap::Iter it, lb;
  {
    PMap m;
    for (int i = 0; i < 100; ++i) m = m.set(be64(static_cast<std::uint64_t>(i)), PEntry{1, "v"});
    it = m.begin();
    lb = m.lower_bound(be64(50));
    PMap later = m.set(be64(0), PEntry{2, std::nullopt});  // a newer version, also gone
  }
  int n = 0;
  for (; it.valid(); it.next(), ++n) {
    EXPECT_EQ(it.key(), be64(static_cast<std::uint64_t>(n)));
    EXPECT_EQ(it.entry().lsn, 1u);
    EXPECT_EQ(it.entry().value, "v");
  }
  EXPECT_EQ(n, 100);
  ASSERT_TRUE(lb.valid());
  EXPECT_EQ(lb.key(), be64(50));
}

TEST(PMap, FindPointerLivesWithACopy) {
  const PEntry* p = nullptr;
  PMap copy;
  {
    PMap m = PMap().set("k", PEntry{3, "value"});
    p = m.find("k");
    copy = m;
  }
  copy = copy.set("other", PEntry{4, "x"});  // shares the node of "k"
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p, copy.find("k"));
  EXPECT_EQ(p->value, "value");
}

TEST(PMap, BinaryKeysSortAsUnsignedBytes) {
  using namespace std::string_literals;
  std::vector<std::string> keys = {"\x80"s, "\x7f"s,     "a"s,  "a\0b"s,  "a\0"s,
                                   ""s,     "\xff\xff"s, "\0"s, "a\x80"s, "b"s};
  PMap m;
  for (std::size_t i = 0; i < keys.size(); ++i) m = m.set(keys[i], PEntry{i, keys[i]});
  // memcmp order: a byte >= 0x80 is greater than 'b', a '\0' greater than the end of a key.
  std::vector<std::string> want = {""s,      "\0"s, "a"s,    "a\0"s,  "a\0b"s,
                                   "a\x80"s, "b"s,  "\x7f"s, "\x80"s, "\xff\xff"s};
  std::vector<std::string> got;
  for (auto it = m.begin(); it.valid(); it.next()) got.emplace_back(it.key());
  EXPECT_EQ(got, want);
  auto lb = m.lower_bound("\x7f\xff"s);
  ASSERT_TRUE(lb.valid());
  EXPECT_EQ(lb.key(), "\x80");
  lb = m.lower_bound("a\0a"s);
  ASSERT_TRUE(lb.valid());
  EXPECT_EQ(lb.key(), "a\0b"s);
  EXPECT_EQ(m.last().key(), "\xff\xff"s);
  ASSERT_NE(m.find("a\0"s), nullptr);
  EXPECT_EQ(m.find("a\0"s)->value, "a\0"s);
  EXPECT_EQ(m.find("a\0c"s), nullptr);
}

TEST(PMap, SequentialKeysStayShallow) {
  PMap m;
  for (std::uint64_t i = 0; i < 100000; ++i) m = m.set(be64(i), PEntry{i + 1, std::nullopt});
  EXPECT_EQ(m.size(), 100000u);
  EXPECT_LT(m.depth(), 60u);
  EXPECT_GT(m.depth(), 17u);  // at least log2(n)
  PMap half = m.above(50000);
  EXPECT_EQ(half.size(), 50000u);
  EXPECT_LT(half.depth(), 60u);
  EXPECT_EQ(half.begin().key(), be64(50000));
}

// Key i of the writer: distinct keys in scattered order (an odd multiplier is a bijection
// mod 2^64).
std::string writer_key(std::uint64_t i) { return be64(i * 0x9e3779b97f4a7c15ULL); }

TEST(PMap, ReadersIterateSnapshotsWhileAWriterSets) {
  constexpr std::uint64_t kKeys = 20000;
  std::mutex mu;
  PMap current;  // guarded by mu
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> snapshots{0}, walks{0};
  std::vector<std::thread> readers;
  std::vector<std::string> failures(4);
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(r));
      std::size_t walked = 0;  // the size of the last snapshot walked in full
      for (bool last = false; !last;) {
        last = done.load();
        PMap snap;
        {
          std::lock_guard<std::mutex> lock(mu);
          snap = current;
        }
        snapshots.fetch_add(1);
        if (snap.empty()) continue;
        // Key i was set with lsn i + 1, so a snapshot of n keys holds lsns 1..n: the newest
        // is there, and the one after it is not.
        std::size_t size = snap.size();
        const PEntry* newest = snap.find(writer_key(size - 1));
        if (!newest || newest->lsn != size) failures[r] = "newest key missing";
        if (snap.find(writer_key(size))) failures[r] = "a later key is in the snapshot";
        std::string probe = be64(rng());
        auto lb = snap.lower_bound(probe);
        if (lb.valid() && lb.key() < probe) failures[r] = "lower_bound below its key";
        if (lb.valid() && snap.find(lb.key()) != &lb.entry()) failures[r] = "find differs";
        // The whole snapshot now and then (often enough to overlap the writer; each walk
        // is O(n), so not at every version), and the final version.
        if (!last && size < walked + 1000) {
          std::this_thread::yield();  // leave the writer room (the machine may have 2 cores)
          continue;
        }
        walked = size;
        walks.fetch_add(1);
        std::size_t n = 0;
        std::uint64_t max_lsn = 0;
        std::string prev;
        for (auto it = snap.begin(); it.valid(); it.next(), ++n) {
          if (n > 0 && !(prev < it.key())) failures[r] = "not sorted";
          prev = it.key();
          max_lsn = std::max(max_lsn, it.entry().lsn);
          if (it.entry().value != std::to_string(it.entry().lsn)) failures[r] = "wrong value";
        }
        if (n != size)
          failures[r] = "size " + std::to_string(size) + " but " + std::to_string(n) + " iterated";
        if (max_lsn != n) failures[r] = "lsns are not 1..n";
      }
    });
  }
  PMap w;
  for (std::uint64_t i = 0; i < kKeys; ++i) {
    std::uint64_t lsn = i + 1;
    w = w.set(writer_key(i), PEntry{lsn, std::to_string(lsn)});
    EXPECT_EQ(w.size(), i + 1);
    std::lock_guard<std::mutex> lock(mu);
    current = w;
  }
  done.store(true);
  for (auto& t : readers) t.join();
  for (const auto& f : failures) EXPECT_EQ(f, "");
  EXPECT_GE(walks.load(), 4u);  // at least each reader's walk of the final version
}

// The versions built from one another share an arena that only grows (the paths they
// replaced stay); above() keeps its entries in a fresh one, and an Iter of the old arena
// stays valid after every map of it is gone.
TEST(PMap, VersionsShareAnArenaAndAboveStartsAFreshOne) {
  PMap m;
  std::size_t before = 0;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    m = m.set_all({{writer_key(i), PEntry{i + 1, std::string(100, 'v')}}});
    EXPECT_GE(m.memory(), before);
    before = m.memory();
  }
  EXPECT_GT(m.memory(), 2000u * 100u);
  PMap kept = m.above(1990);  // the last ten
  EXPECT_EQ(kept.size(), 10u);
  EXPECT_LT(kept.memory(), m.memory() / 10);
  EXPECT_EQ(PMap().memory(), 0u);
  EXPECT_EQ(m.above(2000).memory(), 0u);  // nothing kept: the empty map, no arena
  PMap::Iter it = m.lower_bound(writer_key(5));
  std::string key(it.key());
  m = PMap();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), key);
  EXPECT_EQ(it.entry().value, std::string(100, 'v'));
  for (std::uint64_t i = 1990; i < 2000; ++i) {
    const PEntry* e = kept.find(writer_key(i));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->lsn, i + 1);
  }
}

// The log's checkpoint calls above() on a published version while the committer goes on
// building newer versions in the same arena (pmap.hpp: above() only reads it). Under
// ThreadSanitizer this is the check that they share nothing written.
TEST(PMap, AboveRunsBesideABuilderOfTheSameArena) {
  std::mutex mu;
  PMap current;  // guarded by mu
  std::atomic<bool> done{false};
  std::string failure;
  std::thread checkpointer([&] {
    while (!done.load()) {
      PMap snap;
      {
        std::lock_guard<std::mutex> lock(mu);
        snap = current;
      }
      if (snap.empty()) continue;
      const std::uint64_t floor = snap.size() / 2;  // key i has lsn i + 1
      PMap kept = snap.above(floor);
      if (kept.size() != snap.size() - floor) failure = "above kept the wrong count";
      for (auto it = kept.begin(); it.valid(); it.next())
        if (it.entry().lsn <= floor) failure = "above kept an old entry";
      std::this_thread::yield();
    }
  });
  PMap w;
  for (std::uint64_t i = 0; i < 5000; ++i) {
    w = w.set_all({{writer_key(i), PEntry{i + 1, std::to_string(i + 1)}}});
    std::lock_guard<std::mutex> lock(mu);
    current = w;
  }
  done.store(true);
  checkpointer.join();
  EXPECT_EQ(failure, "");
  EXPECT_EQ(w.size(), 5000u);
}

}  // namespace
}  // namespace bihuan::storage
