#include "storage/pmap.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace bihuan::storage {

// A node never changes after make() built it. Its key and entry sit behind one shared
// pointer (the Item) so that path copying (set(), set_all(), above()) copies a pointer and
// a few counts, never a key or a value. The subtree's count and lsn range let above() keep
// or drop whole subtrees without a visit.
struct PMap::Item {
  std::string key;
  PEntry e;
};

struct PMap::Node {
  std::shared_ptr<const Item> item;
  std::string_view key;       // item->key
  const PEntry* e = nullptr;  // &item->e
  std::uint64_t prio = 0;
  NodePtr l, r;
  std::size_t count = 1;                   // nodes in this subtree
  std::uint64_t min_lsn = 0, max_lsn = 0;  // over this subtree
};

// The tree algorithms (recursive; the recursion is as deep as the tree).
struct PMapImpl {
  using Node = PMap::Node;
  using NodePtr = PMap::NodePtr;
  using ItemPtr = std::shared_ptr<const PMap::Item>;

  static ItemPtr item_of(std::string_view key, PEntry e) {
    return std::make_shared<const PMap::Item>(PMap::Item{std::string(key), std::move(e)});
  }

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
    return pa > b.prio || (pa == b.prio && ka < std::string_view(b.key));
  }

  static NodePtr make(ItemPtr item, std::uint64_t prio, NodePtr l, NodePtr r) {
    auto n = std::make_shared<Node>();
    n->count = 1;
    n->min_lsn = n->max_lsn = item->e.lsn;
    for (const NodePtr* c : {&l, &r}) {
      if (*c) {
        n->count += (*c)->count;
        n->min_lsn = std::min(n->min_lsn, (*c)->min_lsn);
        n->max_lsn = std::max(n->max_lsn, (*c)->max_lsn);
      }
    }
    n->key = item->key;
    n->e = &item->e;
    n->item = std::move(item);
    n->prio = prio;
    n->l = std::move(l);
    n->r = std::move(r);
    return n;
  }

  // t with new children (a path copy).
  static NodePtr with(const Node& t, NodePtr l, NodePtr r) {
    return make(t.item, t.prio, std::move(l), std::move(r));
  }

  // (keys < key, keys > key) of t; key is not in t.
  static std::pair<NodePtr, NodePtr> split(const NodePtr& t, std::string_view key) {
    if (!t) return {};
    if (key < std::string_view(t->key)) {
      auto [a, b] = split(t->l, key);
      return {std::move(a), with(*t, std::move(b), t->r)};
    }
    auto [a, b] = split(t->r, key);
    return {with(*t, t->l, std::move(a)), std::move(b)};
  }

  // Every key of a is less than every key of b.
  static NodePtr merge(const NodePtr& a, const NodePtr& b) {
    if (!a) return b;
    if (!b) return a;
    if (above_of(a->prio, a->key, *b)) return with(*a, a->l, merge(a->r, b));
    return with(*b, merge(a, b->l), b->r);
  }

  static NodePtr insert(const NodePtr& t, std::string_view key, ItemPtr e, std::uint64_t prio,
                        bool& added) {
    if (!t) {
      added = true;
      return make(std::move(e), prio, nullptr, nullptr);
    }
    int c = key.compare(t->key);
    if (c == 0) return make(std::move(e), t->prio, t->l, t->r);
    // An existing node of this key has this priority, so it is met before this can hold.
    if (above_of(prio, key, *t)) {
      auto [l, r] = split(t, key);
      added = true;
      return make(std::move(e), prio, std::move(l), std::move(r));
    }
    if (c < 0) return with(*t, insert(t->l, key, std::move(e), prio, added), t->r);
    return with(*t, t->l, insert(t->r, key, std::move(e), prio, added));
  }

  // The entries of t with lsn > floor; untouched subtrees are shared.
  static NodePtr keep_above(const NodePtr& t, std::uint64_t floor) {
    if (!t || t->min_lsn > floor) return t;
    if (t->max_lsn <= floor) return nullptr;
    NodePtr l = keep_above(t->l, floor), r = keep_above(t->r, floor);
    // Here something in t goes (min_lsn <= floor), so t itself or a child changes.
    if (t->e->lsn > floor) return with(*t, std::move(l), std::move(r));
    return merge(l, r);
  }

  // (keys < key, the node of key or null, keys > key) of t.
  struct Three {
    NodePtr less, equal, greater;
  };
  static Three split3(const NodePtr& t, std::string_view key) {
    if (!t) return {};
    int c = key.compare(t->key);
    if (c == 0) return {t->l, t, t->r};
    if (c < 0) {
      Three s = split3(t->l, key);
      s.greater = with(*t, std::move(s.greater), t->r);
      return s;
    }
    Three s = split3(t->r, key);
    s.less = with(*t, t->l, std::move(s.less));
    return s;
  }

  // The union of a and b; on a key in both, b's entry. Priorities depend on the key alone,
  // so a key in both has one priority, and b's node goes on top (above_of is false).
  static NodePtr unite(const NodePtr& a, const NodePtr& b) {
    if (!a) return b;
    if (!b) return a;
    if (above_of(a->prio, a->key, *b)) {
      Three s = split3(b, a->key);
      ItemPtr item = s.equal ? s.equal->item : a->item;
      return make(std::move(item), a->prio, unite(a->l, s.less), unite(a->r, s.greater));
    }
    Three s = split3(a, b->key);
    return make(b->item, b->prio, unite(s.less, b->l), unite(s.greater, b->r));
  }

  static std::size_t depth(const Node* t) {
    return t ? 1 + std::max(depth(t->l.get()), depth(t->r.get())) : 0;
  }
};

const PEntry* PMap::find(std::string_view key) const {
  const Node* n = root_.get();
  while (n) {
    int c = key.compare(n->key);
    if (c == 0) return n->e;
    n = c < 0 ? n->l.get() : n->r.get();
  }
  return nullptr;
}

PMap PMap::set(std::string_view key, PEntry e) const {
  bool added = false;
  NodePtr root = PMapImpl::insert(root_, key, PMapImpl::item_of(key, std::move(e)),
                                  PMapImpl::prio_of(key), added);
  return PMap(std::move(root), size_ + (added ? 1 : 0));
}

PMap PMap::set_all(std::vector<std::pair<std::string_view, PEntry>> writes) const {
  if (writes.empty()) return *this;
  // The writes as a map of their own (a later write of a key wins), then one union: a
  // node of this map on the way to written keys is copied once, not once per write.
  PMap batch;
  for (auto& [key, e] : writes) batch = batch.set(key, std::move(e));
  if (empty()) return batch;
  NodePtr root = PMapImpl::unite(root_, batch.root_);
  std::size_t n = root ? root->count : 0;
  return PMap(std::move(root), n);
}

PMap PMap::above(std::uint64_t floor) const {
  NodePtr root = PMapImpl::keep_above(root_, floor);
  if (root == root_) return *this;
  std::size_t n = root ? root->count : 0;
  return PMap(std::move(root), n);
}

std::size_t PMap::depth() const { return PMapImpl::depth(root_.get()); }

std::string_view PMap::Iter::key() const { return path_.back()->key; }

const PEntry& PMap::Iter::entry() const { return *path_.back()->e; }

void PMap::Iter::push_left(const Node* n) {
  for (; n; n = n->l.get()) path_.push_back(n);
}

void PMap::Iter::next() {
  const Node* n = path_.back();
  path_.pop_back();
  push_left(n->r.get());
}

PMap::Iter PMap::begin() const {
  Iter it(root_);
  it.push_left(root_.get());
  return it;
}

PMap::Iter PMap::lower_bound(std::string_view key) const {
  Iter it(root_);
  for (const Node* n = root_.get(); n;) {
    if (key.compare(n->key) <= 0) {
      it.path_.push_back(n);
      n = n->l.get();
    } else {
      n = n->r.get();
    }
  }
  return it;
}

PMap::Iter PMap::last() const {
  Iter it(root_);
  const Node* n = root_.get();
  if (n) {
    while (n->r) n = n->r.get();
    it.path_.push_back(n);
  }
  return it;
}

}  // namespace bihuan::storage
