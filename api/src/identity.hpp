// The identity table: who each bearer is. The configuration's tokens, the identity file's
// tokens and its JWT settings, built at once and never changed after: a reload builds a new
// table and swaps it in whole (Auth), so a request sees one table or the other, never a mix.
//
// The table maps SHA-256(token) to its entry (the token text is never stored) and keeps a
// small cache of token texts seen before (so a known token is not hashed on every request);
// the cache lives and dies with its table, so a revoked token fails on the first request
// after the reload.
//
// Thread-safety: immutable but for the cache, which has its own lock.
#pragma once

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "bihuan/server.hpp"
#include "http.hpp"
#include "jwt.hpp"

namespace bihuan::api {

struct IdentityEntry {
  Principal who;
  double rate, burst;
};

class IdentityTable {
 public:
  // The configuration's tokens plus, when config.identity_file is set, that file's
  // {"tokens": [...], "jwt": {...}}. nullptr and problems (JSON Pointers into the file
  // that has them) when anything is wrong.
  static std::shared_ptr<const IdentityTable> load(const ServerConfig& config, Problems& problems);

  const IdentityEntry* by_token(std::string_view token) const;  // nullptr: unknown
  const IdentityEntry* by_name(const std::string& name) const;  // nullptr: unknown
  const JwtSettings* jwt() const { return jwt_ ? &*jwt_ : nullptr; }
  std::size_t token_count() const { return by_hash_.size(); }

 private:
  std::unordered_map<std::string, IdentityEntry> by_hash_;
  std::unordered_map<std::string, const IdentityEntry*> by_name_;
  std::optional<JwtSettings> jwt_;
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, const IdentityEntry*> seen_;  // bounded
};

}  // namespace bihuan::api
