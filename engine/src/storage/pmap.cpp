#include "storage/pmap.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <utility>

namespace bihuan::storage {

// An entry and its key, made once (when set) and shared by every node of that key in the
// versions of one arena: path copying copies a pointer, never a key or a value.
struct PMap::Item {
  std::string_view key;  // bytes in the arena
  PEntry e;
};

// A node never changes after it was built (the builder fills it before any other map or
// thread can reach it). The subtree's count and lsn range let above() skip whole subtrees.
struct PMap::Node {
  const Item* item = nullptr;
  std::string_view key;  // item->key, here so that a search reads no item
  std::uint64_t prio = 0;
  const Node* l = nullptr;
  const Node* r = nullptr;
  std::size_t count = 1;                   // nodes in this subtree
  std::uint64_t min_lsn = 0, max_lsn = 0;  // over this subtree
};

namespace {
constexpr std::size_t kFirstChunk = 4096, kMaxChunk = std::size_t{1} << 20;
using Chunk = std::unique_ptr<char[]>;

// Full-size chunks of arenas that went, for the next ones (up to kPoolChunks). An arena
// lives about a second (a checkpoint starts the log's view again); returning its memory to
// the C library would hand it back to the kernel, and the next arena would fault every
// page in again (measured: slower than the reference counts this replaced).
constexpr std::size_t kPoolChunks = 64;
std::mutex pool_mu;
std::vector<Chunk>& pool() {
  static auto* chunks = new std::vector<Chunk>();  // never destroyed: arenas may outlive main
  return *chunks;
}

Chunk take_chunk(std::size_t size) {
  if (size == kMaxChunk) {
    std::lock_guard lock(pool_mu);
    if (!pool().empty()) {
      Chunk c = std::move(pool().back());
      pool().pop_back();
      return c;
    }
  }
  return Chunk(new char[size]);
}

void give_back(Chunk c, std::size_t size) {
  if (size != kMaxChunk) return;
  std::lock_guard lock(pool_mu);
  if (pool().size() < kPoolChunks) pool().push_back(std::move(c));
}
}  // namespace

// Chunks handed out by a bump pointer. Items hold a std::string (the value) and are
// destroyed with the arena; nodes are trivially destructible.
class PMap::Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    for (Item* i : items_)
      if (i) i->~Item();  // null: its allocation threw
    for (auto& [c, size] : chunks_) give_back(std::move(c), size);
  }

  Node* node() { return new (take(sizeof(Node))) Node(); }

  const Item* item(std::string_view key, PEntry e) {
    char* k = static_cast<char*>(take(key.size()));
    if (!key.empty()) std::memcpy(k, key.data(), key.size());
    items_.push_back(nullptr);  // room first: nothing is left to destroy if this throws
    Item* i = new (take(sizeof(Item))) Item{std::string_view(k, key.size()), std::move(e)};
    items_.back() = i;
    return i;
  }

  // Any thread (a checkpoint trigger reads it while a builder may allocate).
  std::size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kAlign = alignof(std::max_align_t);

  void* take(std::size_t n) {
    n = (n + kAlign - 1) / kAlign * kAlign;
    if (n > left_) {
      const std::size_t size = std::max(n, next_);
      chunks_.emplace_back(take_chunk(size), size);
      cur_ = chunks_.back().first.get();
      left_ = size;
      bytes_.fetch_add(size, std::memory_order_relaxed);
      next_ = std::min(next_ * 2, kMaxChunk);
    }
    void* p = cur_;
    cur_ += n;
    left_ -= n;
    return p;
  }

  std::vector<std::pair<Chunk, std::size_t>> chunks_;
  char* cur_ = nullptr;
  std::size_t left_ = 0;
  std::size_t next_ = kFirstChunk;
  std::atomic<std::size_t> bytes_{0};
  std::vector<Item*> items_;
};

// The tree algorithms (recursive; the recursion is as deep as the tree). Every node they
// make is allocated in the arena `a` of the map being built.
struct PMapImpl {
  using Node = PMap::Node;
  using Item = PMap::Item;
  using Arena = PMap::Arena;

  // The key's priority: a hash with a 64-bit finalizer (splitmix64), the same in every run.
  static std::uint64_t prio_of(std::string_view key) {
    std::uint64_t x = std::hash<std::string_view>{}(key);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  }

  // Heap order: higher priority above; equal priorities (a hash collision) by key, so the
  // order is total and a key set has exactly one shape.
  static bool above_of(std::uint64_t pa, std::string_view ka, const Node& b) {
    return pa > b.prio || (pa == b.prio && ka < b.key);
  }

  // The counts and lsn range of n from its item and children.
  static void sum(Node* n) {
    n->count = 1;
    n->min_lsn = n->max_lsn = n->item->e.lsn;
    for (const Node* c : {n->l, n->r}) {
      if (c) {
        n->count += c->count;
        n->min_lsn = std::min(n->min_lsn, c->min_lsn);
        n->max_lsn = std::max(n->max_lsn, c->max_lsn);
      }
    }
  }

  static const Node* make(Arena& a, const Item* item, std::uint64_t prio, const Node* l,
                          const Node* r) {
    Node* n = a.node();
    n->item = item;
    n->key = item->key;
    n->prio = prio;
    n->l = l;
    n->r = r;
    sum(n);
    return n;
  }

  // t with new children (a path copy).
  static const Node* with(Arena& a, const Node& t, const Node* l, const Node* r) {
    return make(a, t.item, t.prio, l, r);
  }

  // (keys < key, keys > key) of t; key is not in t. A side that keeps a whole subtree
  // (every key on one side of key) is that subtree, not a copy.
  static std::pair<const Node*, const Node*> split(Arena& a, const Node* t, std::string_view key) {
    if (!t) return {};
    if (key < t->key) {
      auto [l, r] = split(a, t->l, key);
      if (!l) return {nullptr, t};
      return {l, with(a, *t, r, t->r)};
    }
    auto [l, r] = split(a, t->r, key);
    if (!r) return {t, nullptr};
    return {with(a, *t, t->l, l), r};
  }

  static const Node* insert(Arena& a, const Node* t, std::string_view key, const Item* e,
                            std::uint64_t prio, bool& added) {
    if (!t) {
      added = true;
      return make(a, e, prio, nullptr, nullptr);
    }
    int c = key.compare(t->key);
    if (c == 0) return make(a, e, t->prio, t->l, t->r);
    // An existing node of this key has this priority, so it is met before this can hold.
    if (above_of(prio, key, *t)) {
      auto [l, r] = split(a, t, key);
      added = true;
      return make(a, e, prio, l, r);
    }
    if (c < 0) return with(a, *t, insert(a, t->l, key, e, prio, added), t->r);
    return with(a, *t, t->l, insert(a, t->r, key, e, prio, added));
  }

  // (keys < key, the node of key or null, keys > key) of t.
  struct Three {
    const Node* less = nullptr;
    const Node* equal = nullptr;
    const Node* greater = nullptr;
  };
  static Three split3(Arena& a, const Node* t, std::string_view key) {
    if (!t) return {};
    int c = key.compare(t->key);
    if (c == 0) return {t->l, t, t->r};
    // A whole subtree on one side (the common case when a frame's few writes meet a large
    // view) is shared, not copied.
    if (c < 0) {
      Three s = split3(a, t->l, key);
      if (!s.less && !s.equal) return {nullptr, nullptr, t};
      s.greater = with(a, *t, s.greater, t->r);
      return s;
    }
    Three s = split3(a, t->r, key);
    if (!s.greater && !s.equal) return {t, nullptr, nullptr};
    s.less = with(a, *t, t->l, s.less);
    return s;
  }

  // The union of x and y; on a key in both, y's entry. Priorities depend on the key alone,
  // so a key in both has one priority, and y's node goes on top (above_of is false).
  static const Node* unite(Arena& a, const Node* x, const Node* y) {
    if (!x) return y;
    if (!y) return x;
    if (above_of(x->prio, x->key, *y)) {
      Three s = split3(a, y, x->key);
      const Item* item = s.equal ? s.equal->item : x->item;
      return make(a, item, x->prio, unite(a, x->l, s.less), unite(a, x->r, s.greater));
    }
    Three s = split3(a, x, y->key);
    return make(a, y->item, y->prio, unite(a, s.less, y->l), unite(a, s.greater, y->r));
  }

  // The treap of items in ascending key order, in O(n): the right spine on a stack, each
  // new key (the greatest so far) hung below the last node of a higher priority, with the
  // nodes of lower priority it passed as its left subtree. The shape is the one inserts
  // give (it depends on the keys alone).
  static const Node* build(Arena& a, const std::vector<const Item*>& items) {
    std::vector<Node*> spine;
    for (const Item* item : items) {
      Node* n = a.node();
      n->item = item;
      n->key = item->key;
      n->prio = prio_of(item->key);
      Node* passed = nullptr;
      // Keys come in ascending order, so on equal priorities the node on the spine (the
      // smaller key) stays above.
      while (!spine.empty() && spine.back()->prio < n->prio) {
        passed = spine.back();
        spine.pop_back();
        sum(passed);  // its subtree is final once it leaves the spine
      }
      n->l = passed;
      if (!spine.empty()) spine.back()->r = n;
      spine.push_back(n);
    }
    while (!spine.empty()) {
      sum(spine.back());
      if (spine.size() == 1) return spine.back();
      spine.pop_back();
    }
    return nullptr;
  }

  // The items of t with lsn > floor, in key order; subtrees with nothing above are skipped.
  static void collect_above(const Node* t, std::uint64_t floor, std::vector<const Item*>& out) {
    if (!t || t->max_lsn <= floor) return;
    collect_above(t->l, floor, out);
    if (t->item->e.lsn > floor) out.push_back(t->item);
    collect_above(t->r, floor, out);
  }

  static std::size_t depth(const Node* t) { return t ? 1 + std::max(depth(t->l), depth(t->r)) : 0; }
};

PMap::ArenaPtr PMap::arena_for_build() const {
  return arena_ ? arena_ : std::make_shared<Arena>();  // an empty map has none yet
}

const PEntry* PMap::find(std::string_view key) const {
  const Node* n = root_;
  while (n) {
    int c = key.compare(n->key);
    if (c == 0) return &n->item->e;
    n = c < 0 ? n->l : n->r;
  }
  return nullptr;
}

PMap PMap::set(std::string_view key, PEntry e) const {
  ArenaPtr arena = arena_for_build();
  bool added = false;
  const Node* root = PMapImpl::insert(*arena, root_, key, arena->item(key, std::move(e)),
                                      PMapImpl::prio_of(key), added);
  return PMap(std::move(arena), root, size_ + (added ? 1 : 0));
}

PMap PMap::set_all(std::vector<std::pair<std::string_view, PEntry>> writes) const {
  if (writes.empty()) return *this;
  // The writes as a treap of their own (a later write of a key wins), built in one pass
  // from their sorted keys, then one union: a node of this map on the way to written keys
  // is copied once, not once per write.
  std::stable_sort(writes.begin(), writes.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  ArenaPtr arena = arena_for_build();
  std::vector<const Item*> items;
  items.reserve(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i)
    if (i + 1 == writes.size() || writes[i].first != writes[i + 1].first)
      items.push_back(arena->item(writes[i].first, std::move(writes[i].second)));
  const Node* batch = PMapImpl::build(*arena, items);
  if (empty()) return PMap(std::move(arena), batch, items.size());
  const Node* root = PMapImpl::unite(*arena, root_, batch);
  return PMap(std::move(arena), root, root->count);
}

PMap PMap::above(std::uint64_t floor) const {
  if (!root_ || root_->min_lsn > floor) return *this;
  // A new arena of the entries kept (what came after the checkpointed frames: few), so
  // the old one goes with the last reader of the versions before, and this may run beside
  // a builder of this map's arena (it only reads it).
  std::vector<const Item*> kept;
  PMapImpl::collect_above(root_, floor, kept);
  if (kept.empty()) return PMap();
  auto arena = std::make_shared<Arena>();
  for (const Item*& item : kept) item = arena->item(item->key, item->e);
  const Node* root = PMapImpl::build(*arena, kept);
  return PMap(std::move(arena), root, kept.size());
}

std::size_t PMap::depth() const { return PMapImpl::depth(root_); }

std::size_t PMap::memory() const { return arena_ ? arena_->bytes() : 0; }

std::string_view PMap::Iter::key() const { return path_.back()->key; }

const PEntry& PMap::Iter::entry() const { return path_.back()->item->e; }

void PMap::Iter::push_left(const Node* n) {
  for (; n; n = n->l) path_.push_back(n);
}

void PMap::Iter::next() {
  const Node* n = path_.back();
  path_.pop_back();
  push_left(n->r);
}

PMap::Iter PMap::begin() const {
  Iter it(arena_);
  it.push_left(root_);
  return it;
}

PMap::Iter PMap::lower_bound(std::string_view key) const {
  Iter it(arena_);
  for (const Node* n = root_; n;) {
    if (key.compare(n->key) <= 0) {
      it.path_.push_back(n);
      n = n->l;
    } else {
      n = n->r;
    }
  }
  return it;
}

PMap::Iter PMap::last() const {
  Iter it(arena_);
  const Node* n = root_;
  if (n) {
    while (n->r) n = n->r;
    it.path_.push_back(n);
  }
  return it;
}

}  // namespace bihuan::storage
