#include "runtime/access_index.hpp"

#include <algorithm>

#include "runtime/msgpack.hpp"

namespace bihuan::runtime {

using storage::be64;
using storage::Db;

std::string reader_index_key(std::string_view reader, std::string_view definition,
                             std::uint64_t id) {
  std::string k;
  k.reserve(reader.size() + definition.size() + 10);
  k.append(reader).append(1, '\0').append(definition).append(1, '\0').append(be64(id));
  return k;
}

std::string unit_index_key(std::string_view definition, std::string_view unit, std::uint64_t id) {
  std::string k;
  k.reserve(definition.size() + unit.size() + 11);
  k.append(definition).append(1, '\0').append(unit).append("/").append(1, '\0').append(be64(id));
  return k;
}

AccessFields access_fields(const InstanceRecord& r) { return {r.definition, r.unit, r.readers}; }

std::optional<AccessFields> stored_access(std::string_view bytes) {
  msgpack::Reader rd(bytes);
  auto n = rd.map();
  if (!n) return std::nullopt;
  AccessFields f;
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto key = rd.str();
    if (!key) return std::nullopt;
    if (*key == "d" || *key == "au") {
      auto v = rd.str();
      if (!v) return std::nullopt;
      (*key == "d" ? f.definition : f.unit).assign(*v);
    } else if (*key == "ar") {
      auto count = rd.array();
      if (!count) return std::nullopt;
      f.readers.clear();
      for (std::uint32_t k = 0; k < *count; ++k) {
        auto v = rd.str();
        if (!v) return std::nullopt;
        f.readers.emplace_back(*v);
      }
    } else if (!rd.skip()) {
      return std::nullopt;
    }
  }
  return f;
}

std::vector<IndexEntry> access_entries(const AccessFields& f, std::uint64_t id) {
  std::vector<IndexEntry> out;
  out.reserve(f.readers.size() + 1);
  for (const auto& reader : f.readers)
    out.push_back({Db::ridx, reader_index_key(reader, f.definition, id)});
  if (!f.unit.empty()) out.push_back({Db::uidx, unit_index_key(f.definition, f.unit, id)});
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int reindex_access(Store& store, std::uint64_t id, const AccessFields* before,
                   const AccessFields& after) {
  if (before && before->definition == after.definition && before->unit == after.unit &&
      before->readers == after.readers)
    return 0;  // the common case: a step that moved no instance
  auto now = access_entries(after, id);
  std::vector<IndexEntry> was;
  if (before) was = access_entries(*before, id);
  int rc = 0;
  for (const auto& e : was)
    if (!std::binary_search(now.begin(), now.end(), e) && (rc = store.del(e.db, e.key))) return rc;
  for (auto& e : now)
    if (!std::binary_search(was.begin(), was.end(), e) &&
        (rc = store.put_owned(e.db, std::move(e.key), std::string())))
      return rc;
  return 0;
}

bool same_access(const AccessFields& f, const InstanceRecord& r) {
  return f.definition == r.definition && f.unit == r.unit && f.readers == r.readers;
}

std::size_t longest_access_key(const InstanceRecord& r) {
  std::size_t n = r.unit.empty() ? 0 : r.definition.size() + r.unit.size() + 11;
  for (const auto& k : r.readers) n = std::max(n, k.size() + r.definition.size() + 10);
  return n;
}

int Scope::first_stream(const InstanceRecord& r) const {
  // Both lists are sorted: the first common key is the first stream holding the record.
  auto a = keys.begin();
  auto b = r.readers.begin();
  while (a != keys.end() && b != r.readers.end()) {
    if (*a == *b) return static_cast<int>(a - keys.begin());
    if (*a < *b)
      ++a;
    else
      ++b;
  }
  // A record whose readers were not sorted (never written so): found by a linear look.
  if (!std::is_sorted(r.readers.begin(), r.readers.end()))
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (std::find(r.readers.begin(), r.readers.end(), keys[i]) != r.readers.end())
        return static_cast<int>(i);
  if (unit_covers(unit, r.unit)) return static_cast<int>(keys.size());
  return -1;
}

std::vector<ScopeStream> scope_streams(const Scope& scope, const std::string& definition,
                                       const std::vector<std::string>& definitions) {
  std::vector<ScopeStream> out;
  for (std::size_t i = 0; i < scope.keys.size(); ++i) {
    std::string prefix = scope.keys[i] + std::string(1, '\0');
    if (!definition.empty()) prefix += definition + std::string(1, '\0');
    out.push_back({Db::ridx, std::move(prefix), static_cast<int>(i), {}});
  }
  if (!scope.unit.empty()) {
    auto unit_range = [&](const std::string& def) {
      out.push_back({Db::uidx, def + std::string(1, '\0') + scope.unit + "/", -1, def});
    };
    if (!definition.empty())
      unit_range(definition);
    else
      for (const auto& def : definitions) unit_range(def);
  }
  return out;
}

bool yields(const Scope& scope, const ScopeStream& s, const InstanceRecord& r) {
  int first = scope.first_stream(r);
  if (s.key_index >= 0) return first == s.key_index;
  return first == static_cast<int>(scope.keys.size()) && r.definition == s.definition;
}

}  // namespace bihuan::runtime
