// The attachment reference index (Db::attref, storage format 6; docs/storage.md): which
// stored files each instance names, kept in the same write transaction as the step that
// names them. Two keys per reference, no value:
//
//   'a' <32-byte SHA-256> be64(instance)   who names a file (the orphan sweep asks)
//   'i' be64(instance) <32-byte SHA-256>   what an instance names (retention moves them)
//
// A step writes the addresses its start data or payload names under "format":
// "bihuan-attachment" (those it checked are stored); the format 5 -> 6 upgrade writes
// every "sha256:<hex>" string of a record's data and history (an over-count keeps a file
// longer, never removes one in use). Retention deletes an instance's keys with it;
// restore writes them again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

// The 32 digest bytes of "sha256:<64 lowercase hex>"; nullopt for anything else.
std::optional<std::string> attref_digest(std::string_view address);
std::string attref_by_address(std::string_view digest, std::uint64_t instance);
std::string attref_by_instance(std::uint64_t instance, std::string_view digest);

// Writes both keys of each address (any string that is not an address is passed over).
// `T`: storage::Txn or the batch's Store. Returns the first LMDB error.
template <class T>
int put_attachment_refs(T& txn, std::uint64_t instance, const std::vector<std::string>& addresses) {
  for (const auto& a : addresses)
    if (auto d = attref_digest(a)) {
      if (int rc = txn.put(storage::Db::attref, attref_by_address(*d, instance), "")) return rc;
      if (int rc = txn.put(storage::Db::attref, attref_by_instance(instance, *d), "")) return rc;
    }
  return 0;
}

// The 32-byte digests of the files instance `instance` names, in digest order.
template <class T>
std::vector<std::string> attachment_digests_of(T& txn, std::uint64_t instance, int& rc) {
  std::vector<std::string> out;
  const std::string prefix = attref_by_instance(instance, {});
  auto cur = txn.cursor(storage::Db::attref);
  for (bool on = cur->seek(prefix); on && cur->key().substr(0, prefix.size()) == prefix;
       on = cur->next())
    if (cur->key().size() == prefix.size() + 32) out.emplace_back(cur->key().substr(prefix.size()));
  rc = cur->status();
  return out;
}

// The same as addresses ("sha256:<hex>").
template <class T>
std::vector<std::string> attachment_refs_of(T& txn, std::uint64_t instance, int& rc) {
  std::vector<std::string> out;
  for (const auto& d : attachment_digests_of(txn, instance, rc))
    out.push_back("sha256:" + storage::hex(d));
  return out;
}

// Deletes every key of `instance` (both forms). Returns the first LMDB error.
template <class T>
int drop_attachment_refs(T& txn, std::uint64_t instance) {
  int rc = 0;
  for (const auto& d : attachment_digests_of(txn, instance, rc)) {
    if ((rc = txn.del(storage::Db::attref, attref_by_address(d, instance)))) return rc;
    if ((rc = txn.del(storage::Db::attref, attref_by_instance(instance, d)))) return rc;
  }
  return rc;
}

// Whether any instance names `address`: nullopt when it could not be read (rc).
template <class T>
std::optional<bool> attachment_named(T& txn, std::string_view address, int& rc) {
  auto d = attref_digest(address);
  if (!d) return false;
  const std::string prefix = "a" + *d;
  auto cur = txn.cursor(storage::Db::attref);
  bool named = cur->seek(prefix) && cur->key().substr(0, prefix.size()) == prefix;
  rc = cur->status();
  if (rc) return std::nullopt;
  return named;
}

}  // namespace bihuan::runtime
