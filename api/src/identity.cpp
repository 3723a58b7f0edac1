#include "identity.hpp"

#include <filesystem>
#include <set>

namespace bihuan::api {

std::shared_ptr<const IdentityTable> IdentityTable::load(const ServerConfig& config,
                                                         Problems& problems) {
  auto table = std::make_shared<IdentityTable>();
  std::vector<ApiToken> tokens = config.tokens;
  if (!config.identity_file.empty()) {
    Problems file_problems(config.identity_file);
    auto doc = load_json_file(config.identity_file, file_problems);
    if (doc && !doc->is_object())
      file_problems.error("", "identity-type",
                          "expected an object {\"tokens\": [...], \"jwt\": {...}}");
    if (doc && doc->is_object()) {
      for (const auto& [k, v] : doc->items())
        if (k != "tokens" && k != "jwt")
          file_problems.error("/" + pointer_escape(k), "config-unknown-key",
                              "unknown key \"" + k + "\" (expected one of: tokens, jwt)");
      if (doc->contains("tokens")) {
        auto more = ServerConfig::tokens_from_json((*doc)["tokens"], "/tokens", file_problems);
        // The configuration's tokens stay beside the file's: no name or hash twice.
        std::set<std::string> names, hashes;
        for (const auto& t : config.tokens) {
          names.insert(t.name);
          hashes.insert(t.sha256_hex);
        }
        const json& list = (*doc)["tokens"];
        for (std::size_t i = 0; list.is_array() && i < list.size(); ++i) {
          const json& t = list[i];
          if (!t.is_object()) continue;
          std::string ta = "/tokens/" + std::to_string(i);
          if (t.contains("name") && t["name"].is_string() &&
              names.count(t["name"].get<std::string>()))
            file_problems.error(ta + "/name", "config-duplicate",
                                "the configuration already has a token named \"" +
                                    t["name"].get<std::string>() + "\"");
          if (t.contains("sha256") && t["sha256"].is_string() &&
              hashes.count(t["sha256"].get<std::string>()))
            file_problems.error(ta + "/sha256", "config-duplicate",
                                "the configuration already has a token with this hash");
        }
        tokens.insert(tokens.end(), more.begin(), more.end());
      }
      if (doc->contains("jwt")) {
        std::string base = std::filesystem::path(config.identity_file).parent_path().string();
        table->jwt_ = JwtSettings::from_json((*doc)["jwt"], base, "/jwt", file_problems);
      }
    }
    problems.append(file_problems);
    if (file_problems.has_errors()) return nullptr;
  }
  for (const auto& t : tokens)
    table->by_hash_[t.sha256_hex] =
        IdentityEntry{{t.name, t.actor},
                      t.rate_per_second > 0 ? t.rate_per_second : config.rate_per_second,
                      t.burst > 0 ? t.burst : config.burst};
  for (const auto& [hash, e] : table->by_hash_) table->by_name_[e.who.token_name] = &e;
  return table;
}

const IdentityEntry* IdentityTable::by_token(std::string_view token) const {
  std::string text(token);
  {
    std::shared_lock lock(cache_mu_);
    auto hit = seen_.find(text);
    if (hit != seen_.end()) return hit->second;
  }
  auto it = by_hash_.find(ServerConfig::hash_token(text));
  if (it == by_hash_.end()) return nullptr;  // unknown tokens are never cached
  std::unique_lock lock(cache_mu_);
  if (seen_.size() < 4096) seen_.emplace(std::move(text), &it->second);
  return &it->second;
}

const IdentityEntry* IdentityTable::by_name(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

}  // namespace bihuan::api
