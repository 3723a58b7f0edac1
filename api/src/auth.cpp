#include "auth.hpp"

#include <algorithm>
#include <cctype>

namespace bihuan::api {

bool Auth::reload(Problems& problems) {
  auto fresh = IdentityTable::load(config_, problems);
  if (!fresh) return false;
  std::lock_guard lock(table_mu_);
  table_ = std::move(fresh);
  return true;
}

std::shared_ptr<const IdentityTable> Auth::table() const {
  std::lock_guard lock(table_mu_);
  return table_;
}

Auth::Result Auth::authenticate(std::string_view header, Principal& who) const {
  Result r;
  if (header.empty()) {
    r.missing = true;
    r.reason = "missing-token";
    r.detail = "this route needs a bearer token (Authorization: Bearer <token>)";
    return r;
  }
  constexpr std::string_view scheme = "bearer ";
  bool scheme_ok = header.size() > scheme.size();
  for (std::size_t i = 0; scheme_ok && i < scheme.size(); ++i)
    scheme_ok = std::tolower(static_cast<unsigned char>(header[i])) == scheme[i];
  std::string_view token = scheme_ok ? header.substr(scheme.size()) : std::string_view();
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) {
    r.reason = "malformed-header";
    r.detail = "the Authorization header must be \"Bearer <token>\"";
    return r;
  }
  auto table = this->table();
  if (!table) {
    r.reason = "unknown-token";
    r.detail = "the bearer token is not known";
    return r;
  }
  if (looks_like_jwt(token)) {
    const JwtSettings* jwt = table->jwt();
    if (!jwt) {
      r.reason = "jwt-not-configured";
      r.detail = "the bearer token is a JWT but this server has no JWT settings (identity file)";
      return r;
    }
    Actor actor;
    if (auto refusal = jwt->verify(token, clock_.now(), actor)) {
      r.reason = refusal->reason;
      r.detail = refusal->detail;
      return r;
    }
    who = Principal{"jwt:" + actor.id, std::move(actor)};
    r.ok = true;
    return r;
  }
  const IdentityEntry* e = table->by_token(token);
  if (!e) {
    r.reason = "unknown-token";
    r.detail = "the bearer token is not known";
    return r;
  }
  who = e->who;
  r.ok = true;
  return r;
}

bool Auth::admit(const std::string& token_name, double& retry_after_seconds) {
  double rate = config_.rate_per_second, burst = config_.burst;
  if (auto table = this->table(); table) {
    if (const IdentityEntry* e = table->by_name(token_name)) {
      rate = e->rate;
      burst = e->burst;
    } else if (token_name.rfind("jwt:", 0) != 0) {
      return true;  // revoked since it was authenticated: let this one request finish
    }
  }
  if (rate <= 0) return true;
  burst = std::max(1.0, burst);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  // JWT callers each have a bucket: bounded by dropping the ones idle for a minute (a
  // bucket idle that long has refilled for any rate of at least burst/60 per second).
  if (buckets_.size() >= 65536 && !buckets_.count(token_name))
    std::erase_if(buckets_,
                  [&](const auto& b) { return now - b.second.last > std::chrono::minutes(1); });
  auto [it, fresh] = buckets_.try_emplace(token_name, Bucket{burst, now});
  Bucket& b = it->second;
  if (!fresh) {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst, b.tokens + elapsed * rate);
    b.last = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after_seconds = (1 - b.tokens) / rate;
  return false;
}

}  // namespace bihuan::api
