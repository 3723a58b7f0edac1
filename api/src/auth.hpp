// Bearer tokens and per-token rate limits.
//
// The table maps SHA-256(token) to the configured identity; the token text itself is
// never stored. Each token has a token bucket (rate per second, burst) shared by all its
// connections.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "bihuan/server.hpp"
#include "http.hpp"

namespace bihuan::api {

class Auth {
 public:
  explicit Auth(const ServerConfig& config);

  enum class Outcome { ok, missing, malformed, unknown };
  // Checks an Authorization header value. On ok, `who` is filled.
  Outcome authenticate(std::string_view header, Principal& who) const;

  // Takes one request from the token's bucket; false (with the seconds until the next
  // one) when it is empty.
  bool admit(const std::string& token_name, double& retry_after_seconds);

 private:
  struct Entry {
    Principal who;
    double rate, burst;
  };
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  std::unordered_map<std::string, Entry> by_hash_;
  std::unordered_map<std::string, const Entry*> by_name_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  // Tokens seen before -> their entry, so a known token is not hashed on every request
  // (bounded; unknown tokens are never cached).
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, const Entry*> seen_;
};

}  // namespace bihuan::api
