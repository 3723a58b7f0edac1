#include "auth.hpp"

#include <algorithm>

namespace bihuan::api {

Auth::Auth(const ServerConfig& config) {
  for (const auto& t : config.tokens) {
    Entry e{{t.name, t.actor},
            t.rate_per_second > 0 ? t.rate_per_second : config.rate_per_second,
            t.burst > 0 ? t.burst : config.burst};
    by_hash_[t.sha256_hex] = std::move(e);
  }
  for (const auto& [hash, e] : by_hash_) by_name_[e.who.token_name] = &e;
}

Auth::Outcome Auth::authenticate(std::string_view header, Principal& who) const {
  if (header.empty()) return Outcome::missing;
  constexpr std::string_view scheme = "bearer ";
  if (header.size() <= scheme.size()) return Outcome::malformed;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return Outcome::malformed;
  std::string_view token = header.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return Outcome::malformed;
  {
    std::shared_lock lock(cache_mu_);
    auto hit = seen_.find(std::string(token));
    if (hit != seen_.end()) {
      who = hit->second->who;
      return Outcome::ok;
    }
  }
  auto it = by_hash_.find(ServerConfig::hash_token(std::string(token)));
  if (it == by_hash_.end()) return Outcome::unknown;
  who = it->second.who;
  std::unique_lock lock(cache_mu_);
  if (seen_.size() < 4096) seen_.emplace(std::string(token), &it->second);
  return Outcome::ok;
}

bool Auth::admit(const std::string& token_name, double& retry_after_seconds) {
  auto e = by_name_.find(token_name);
  if (e == by_name_.end() || e->second->rate <= 0) return true;
  double rate = e->second->rate, burst = std::max(1.0, e->second->burst);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
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
