// An immutable, shareable ordered map (a persistent treap) for the storage layer.
//
// PMap holds the write-ahead log's "durable overlay": the writes that are acknowledged
// (their log frame is on disk) but not yet checkpointed into LMDB. One writer thread
// builds newer versions with set_all() (and drops checkpointed entries with above()); many
// reader threads each hold a snapshot, a PMap value, and read it with find() and Iter,
// laying it over an LMDB read transaction.
//
// Keys are byte strings in memcmp order (unsigned bytes, std::string's operator<), the
// same as LMDB's default key order. A version never changes once made: set() and above()
// return a new map and leave this one as it was; set() shares every node off the changed
// path with this one (path copying).
//
// Memory: the nodes of the versions built from one another live in one arena, freed all
// at once when the last PMap or Iter of it goes; a node is never freed alone. Nodes are
// plain pointers (no reference counts): a path copy is a bump allocation and a few stores
// (docs/PERFORMANCE.md, "The log's view in an arena"). The paths a newer version replaced
// stay in the arena until then: memory() counts them, and the log is checkpointed and
// started again (a new, empty view) often enough to bound it. above() builds a fresh arena
// of the entries it keeps.
//
// Shape: a treap whose priority is a hash of the key, so a map's shape depends only on its
// keys (not on the order of the sets that made it); expected depth O(log n), and the
// recursion in set() and above() is that deep.
//
// Thread-safety: a PMap is a value. Any number of threads may use copies of it and its
// const reads (find, Iter) at once: nothing reachable from a PMap is written after it is
// built. Building (set, set_all) allocates in the map's arena, which is not locked: maps
// that share an arena (one built from the other) are built by one thread at a time, with a
// happens-before between builders (the log's lock). above() only reads this map's arena,
// so it may run beside a builder. Assigning to one PMap object while another thread reads
// or copies that same object is a data race: publish versions under a mutex, and let each
// reader copy the current one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bihuan::storage {

// One key's latest write in the overlay: the log sequence number of the frame that wrote
// it, and the value (nullopt: deleted).
struct PEntry {
  std::uint64_t lsn = 0;
  std::optional<std::string> value;
};

struct PMapImpl;  // the tree algorithms (pmap.cpp)

// An immutable ordered map from byte strings to PEntry (see the top of this file).
class PMap {
  friend struct PMapImpl;
  struct Item;
  struct Node;
  class Arena;
  using ArenaPtr = std::shared_ptr<Arena>;

 public:
  PMap() = default;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The entry of `key`, nullptr if absent. Valid while this PMap (or any copy or Iter
  // sharing that node) lives.
  const PEntry* find(std::string_view key) const;

  // A map with `key` set to `e` (inserted or replaced); this one is unchanged. O(log n).
  PMap set(std::string_view key, PEntry e) const;

  // A map with every write of `writes` set, in their order (a later write of a key wins):
  // the same as set() for each, in one pass. The keys need to live during the call only.
  PMap set_all(std::vector<std::pair<std::string_view, PEntry>> writes) const;

  // A map of only the entries with lsn > floor (what a checkpoint up to `floor` leaves),
  // of the shape sets of those entries would give; *this if none goes. Each node knows its
  // subtree's lsn range, so a subtree with nothing to drop is shared as it is and one with
  // nothing to keep goes without a visit: at most O(n), about O(dropped x depth) when
  // few go.
  PMap above(std::uint64_t floor) const;

  // The number of nodes on the longest root-to-leaf path (0 if empty); for tests. O(n).
  std::size_t depth() const;

  // Bytes of the arena this map's nodes live in (shared with the versions it was built
  // from and those built from it), including the paths newer versions replaced.
  std::size_t memory() const;

  // A position in one PMap, in ascending key order. Holds the map's arena, so it stays
  // valid even if the PMap it came from is destroyed. key() and entry() only when
  // valid(); their results live as long as this Iter (or the map).
  class Iter {
   public:
    Iter() = default;
    bool valid() const { return !path_.empty(); }
    std::string_view key() const;
    const PEntry& entry() const;
    void next();  // to the next greater key (invalid after the last)

   private:
    friend class PMap;
    explicit Iter(ArenaPtr arena) : arena_(std::move(arena)) {}
    void push_left(const Node* n);  // n and its chain of left children

    ArenaPtr arena_;
    // The current node on top; below it the ancestors whose left subtree holds it (the
    // ones still to come), nearest first from the top.
    std::vector<const Node*> path_;
  };

  Iter begin() const;                            // the smallest key (invalid if empty)
  Iter lower_bound(std::string_view key) const;  // the first key >= key
  Iter last() const;                             // the greatest key (invalid if empty)

 private:
  ArenaPtr arena_for_build() const;  // this map's arena, or a new one

  PMap(ArenaPtr arena, const Node* root, std::size_t size)
      : arena_(root ? std::move(arena) : nullptr), root_(root), size_(size) {}

  ArenaPtr arena_;  // null when empty
  const Node* root_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace bihuan::storage
