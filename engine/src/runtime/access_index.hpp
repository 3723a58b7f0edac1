// Private to the runtime: the reader index (ridx) and the unit index (uidx) that scoped
// lists and counts read (docs/authorization.md, docs/storage.md).
//
//   ridx: reader key \0 definition \0 be64(id) -> ""   one entry per reader key of a record
//   uidx: definition \0 unit "/" \0 be64(id) -> ""    one entry per record with a unit
//
// The "/" after the unit makes a unit's prefix cover exactly its subtree: the range
// `definition \0 golmud/T03/` holds golmud/T03 and golmud/T03/V12, not golmud/T030.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/instance.hpp"
#include "runtime/record.hpp"
#include "runtime/store.hpp"

namespace bihuan::runtime {

std::string reader_index_key(std::string_view reader, std::string_view definition,
                             std::uint64_t id);
std::string unit_index_key(std::string_view definition, std::string_view unit, std::uint64_t id);

// The fields of an instance record the two indexes are made of.
struct AccessFields {
  std::string definition;
  std::string unit;
  std::vector<std::string> readers{"*"};
};
AccessFields access_fields(const InstanceRecord& r);
// The same, read from a stored record without decoding its data; nullopt if it does not
// decode.
std::optional<AccessFields> stored_access(std::string_view record_bytes);

struct IndexEntry {
  storage::Db db;
  std::string key;
  auto operator<=>(const IndexEntry&) const = default;
};
// Every index entry instance `id` with these fields has, sorted and unique.
std::vector<IndexEntry> access_entries(const AccessFields& f, std::uint64_t id);

// Moves the index entries of instance `id` from those of `before` (nullptr: none, a new
// instance) to those of `after`: deletes the ones that went and puts the new ones; an
// unchanged entry is not written. Returns the first LMDB error (0: none).
int reindex_access(Store& store, std::uint64_t id, const AccessFields* before,
                   const AccessFields& after);

// Whether the record's fields are those (no copy of the record's).
bool same_access(const AccessFields& f, const InstanceRecord& r);
// The longest index key the record needs (bytes): the step that would store one over
// LMDB's key limit is refused (Stepper::seal).
std::size_t longest_access_key(const InstanceRecord& r);

// Who reads (a viewer that is not system nor a global administrator): its reader keys
// (Actor::keys(), sorted) and its unit ("" = none).
struct Scope {
  std::vector<std::string> keys;
  std::string unit;
  explicit Scope(const Actor& viewer) : keys(viewer.keys()), unit(viewer.unit()) {}
  // Which of the scope's streams holds the record first: i < keys.size() for the first of
  // keys[i] that is a reader of it, keys.size() if only the unit covers it, -1 if the
  // record is not visible. So `visible` is first_stream() >= 0.
  int first_stream(const InstanceRecord& r) const;
  bool sees(const InstanceRecord& r) const { return first_stream(r) >= 0; }
};

// One index range a scoped read walks: a reader key's range of ridx (key_index >= 0) or a
// definition's unit range of uidx (key_index == -1).
struct ScopeStream {
  storage::Db db;
  std::string prefix;
  int key_index = -1;
  std::string definition;  // uidx streams: the definition whose range it is
};
// The ranges that together hold every instance `scope` sees, of `definition` (all of
// `definitions` when empty), in a fixed order: reader keys in key order, then units by
// definition. An instance may be in several; Scope::first_stream picks the one that
// yields it (yields()).
std::vector<ScopeStream> scope_streams(const Scope& scope, const std::string& definition,
                                       const std::vector<std::string>& definitions);
// Whether stream `s` yields record `r`: r is visible through s and through no earlier stream.
bool yields(const Scope& scope, const ScopeStream& s, const InstanceRecord& r);

}  // namespace bihuan::runtime
