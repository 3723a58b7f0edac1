// Bearer authentication and per-token rate limits.
//
// A bearer value with exactly two dots is a JWT, verified against the identity table's JWT
// settings at the engine clock's now; any other is an opaque token looked up by its
// SHA-256 in the identity table (identity.hpp). The table is swapped whole by reload(); a
// request uses the table it started with. Each token has a token bucket (rate per second,
// burst) shared by all its connections; buckets are kept by token name, so they survive a
// reload. A JWT's bucket is named "jwt:<actor id>" and has the server's default rate.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "bihuan/clock.hpp"
#include "bihuan/server.hpp"
#include "http.hpp"
#include "identity.hpp"

namespace bihuan::api {

class Auth {
 public:
  // `config` and `clock` must outlive the Auth. No identity until reload() succeeded.
  Auth(const ServerConfig& config, const Clock& clock) : config_(config), clock_(clock) {}

  // Builds the identity table from the configuration and the identity file and swaps it
  // in; on problems the old table stays and false is returned.
  bool reload(Problems& problems);

  struct Result {
    bool ok = false;
    bool missing = false;  // no Authorization header at all
    std::string reason;    // the refusal's metrics label ("unknown-token", "jwt-expired")
    std::string detail;    // the sentence for the 401 problem (never the token)
  };
  // Checks an Authorization header value. On ok, `who` is filled.
  Result authenticate(std::string_view header, Principal& who) const;

  // Takes one request from the token's bucket; false (with the seconds until the next
  // one) when it is empty.
  bool admit(const std::string& token_name, double& retry_after_seconds);

  std::shared_ptr<const IdentityTable> table() const;

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  const ServerConfig& config_;
  const Clock& clock_;
  mutable std::mutex table_mu_;
  std::shared_ptr<const IdentityTable> table_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

class Router;
struct Context;
// GET /v1/me (who the caller is) and POST /v1/admin/identity/reload (calls `reload`, which
// logs; global administrators only). routes_identity.cpp.
void add_identity_routes(Router& router, Context& ctx, std::function<bool(Problems&)> reload);

}  // namespace bihuan::api
