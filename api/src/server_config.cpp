// ServerConfig::from_json: the "server" section of the configuration file.
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <filesystem>
#include <set>

#include "bihuan/plugin_host.hpp"
#include "bihuan/server.hpp"
#include "bihuan/server_retention.hpp"
#include "jwt.hpp"

namespace bihuan {

namespace {

void unknown_keys(const json& obj, const std::string& at, std::initializer_list<const char*> known,
                  Problems& problems) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      problems.error(at + "/" + pointer_escape(it.key()), "config-unknown-key",
                     "unknown key \"" + it.key() + "\" (expected one of: " + list + ")");
    }
  }
}

template <class T>
bool read_number(const json& obj, const char* key, const std::string& at, double min, double max,
                 T& out, Problems& problems) {
  if (!obj.contains(key)) return true;
  const json& v = obj[key];
  if (!v.is_number() || v.get<double>() < min || v.get<double>() > max ||
      (std::is_integral_v<T> && !v.is_number_integer() && !v.is_number_unsigned())) {
    problems.error(at + "/" + key, "config-type",
                   std::string("expected ") + (std::is_integral_v<T> ? "an integer" : "a number") +
                       " from " + std::to_string(static_cast<long long>(min)) + " to " +
                       std::to_string(static_cast<long long>(max)));
    return false;
  }
  out = v.get<T>();
  return true;
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string resolve(const std::string& base, const std::string& path) {
  if (path.empty() || path[0] == '/' || base.empty()) return path;
  return (std::filesystem::path(base) / path).lexically_normal().string();
}

std::string hex_of(const unsigned char* bytes, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

}  // namespace

std::string ServerConfig::hash_token(const std::string& token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(token.data(), token.size(), md, &n, EVP_sha256(), nullptr);
  return hex_of(md, n);
}

std::string ServerConfig::generate_token() {
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("OpenSSL could not generate random bytes");
  return "bh_" + hex_of(bytes, sizeof bytes);
}

std::vector<ApiToken> ServerConfig::tokens_from_json(const json& list, const std::string& at,
                                                     Problems& problems) {
  std::vector<ApiToken> out;
  if (!list.is_array()) {
    problems.error(at, "config-type", "expected an array of tokens");
    return out;
  }
  std::set<std::string> names, hashes;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& t = list[i];
    std::string ta = at + "/" + std::to_string(i);
    if (!t.is_object()) {
      problems.error(ta, "config-type", "expected an object {name, sha256, actor, roles}");
      continue;
    }
    std::size_t before = problems.error_count();
    unknown_keys(t, ta, {"name", "sha256", "actor", "roles", "attrs", "ratePerSecond", "burst"},
                 problems);
    ApiToken tok;
    auto str = [&](const char* key, std::string& field, const char* what) {
      if (!t.contains(key) || !t[key].is_string() || t[key].get<std::string>().empty())
        problems.error(ta + "/" + key, "config-required", std::string("expected ") + what);
      else
        field = t[key].get<std::string>();
    };
    str("name", tok.name, "the token's name (a non-empty string)");
    str("sha256", tok.sha256_hex,
        "the SHA-256 of the token, 64 lowercase hex digits (bihuan token-hash TEXT)");
    str("actor", tok.actor.id, "the actor id the token acts as");
    if (!tok.sha256_hex.empty() && !is_hex64(tok.sha256_hex))
      problems.error(ta + "/sha256", "config-token-hash",
                     "expected 64 lowercase hex digits (a SHA-256), not the token itself");
    if (t.contains("roles")) {
      if (!t["roles"].is_array())
        problems.error(ta + "/roles", "config-type", "expected an array of role names");
      else
        for (std::size_t r = 0; r < t["roles"].size(); ++r) {
          if (!t["roles"][r].is_string())
            problems.error(ta + "/roles/" + std::to_string(r), "config-type",
                           "expected a role name");
          else
            tok.actor.roles.push_back(t["roles"][r].get<std::string>());
        }
    }
    if (t.contains("attrs")) {
      const json& a = t["attrs"];
      if (!a.is_object())
        problems.error(ta + "/attrs", "config-type",
                       "expected an object of attributes ({\"unit\": \"golmud/T03\"})");
      else
        for (const auto& [name, value] : a.items()) {
          std::string pa = ta + "/attrs/" + pointer_escape(name);
          if (!api::attr_value_ok(value))
            problems.error(pa, "config-type",
                           "expected a string, number, boolean or array of strings");
          else if (name == "unit" && !(value.is_string()))
            problems.error(pa, "config-type",
                           "expected the unit path, a string such as \"golmud/T03\"");
        }
      if (a.is_object()) tok.actor.attrs = a;
    }
    read_number(t, "ratePerSecond", ta, 0, 1e9, tok.rate_per_second, problems);
    read_number(t, "burst", ta, 0, 1e9, tok.burst, problems);
    if (!tok.name.empty() && !names.insert(tok.name).second)
      problems.error(ta + "/name", "config-duplicate",
                     "another token already has the name \"" + tok.name + "\"");
    if (!tok.sha256_hex.empty() && !hashes.insert(tok.sha256_hex).second)
      problems.error(ta + "/sha256", "config-duplicate", "another token has the same hash");
    if (problems.error_count() == before) out.push_back(std::move(tok));
  }
  return out;
}

std::optional<ServerConfig> ServerConfig::from_json(const json& doc, const std::string& base_dir,
                                                    const std::string& at, Problems& problems) {
  ServerConfig c;
  if (!doc.is_object()) {
    problems.error(at, "config-type", "expected an object (the server settings)");
    return std::nullopt;
  }
  std::size_t before = problems.error_count();
  unknown_keys(doc, at,
               {"listen", "threads", "timezone", "limits", "tokens", "identityFile", "tls",
                "metricsPublic", "backupRoot", "definitionReaders", "attachments", "retention"},
               problems);
  if (doc.contains("listen")) {
    const json& l = doc["listen"];
    std::string text = l.is_string() ? l.get<std::string>() : "";
    auto colon = text.rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text.size();
    long port = -1;
    if (ok) {
      try {
        std::size_t used = 0;
        port = std::stol(text.substr(colon + 1), &used);
        ok = used == text.size() - colon - 1 && port >= 0 && port <= 65535;
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) {
      problems.error(at + "/listen", "config-listen",
                     "expected \"host:port\" (e.g. \"127.0.0.1:8080\"; port 0 = any)");
    } else {
      c.host = text.substr(0, colon);
      if (c.host.size() > 2 && c.host.front() == '[' && c.host.back() == ']')
        c.host = c.host.substr(1, c.host.size() - 2);
      c.port = static_cast<std::uint16_t>(port);
    }
  }
  read_number(doc, "threads", at, 1, 64, c.threads, problems);
  if (doc.contains("timezone")) {
    if (!doc["timezone"].is_string())
      problems.error(at + "/timezone", "config-type", "expected an IANA zone name");
    else
      c.timezone = doc["timezone"].get<std::string>();
  }
  if (doc.contains("definitionReaders")) {
    const json& d = doc["definitionReaders"];
    bool ok = d.is_array();
    for (std::size_t i = 0; ok && i < d.size(); ++i)
      if (!d[i].is_string() || d[i].get<std::string>().empty()) {
        problems.error(at + "/definitionReaders/" + std::to_string(i), "config-type",
                       "expected a role name (a non-empty string)");
        ok = false;
      }
    if (!d.is_array())
      problems.error(at + "/definitionReaders", "config-type",
                     "expected an array of role names (empty: every authenticated caller)");
    if (ok) c.definition_readers = d.get<std::vector<std::string>>();
  }
  if (doc.contains("backupRoot")) {
    const json& b = doc["backupRoot"];
    if (!b.is_string() || b.get<std::string>().empty())
      problems.error(at + "/backupRoot", "config-type",
                     "expected the directory backups are written into (a non-empty path)");
    else
      c.backup_root = resolve(base_dir, b.get<std::string>());
  }
  if (doc.contains("metricsPublic")) {
    if (!doc["metricsPublic"].is_boolean())
      problems.error(at + "/metricsPublic", "config-type", "expected true or false");
    else
      c.metrics_public = doc["metricsPublic"].get<bool>();
  }
  if (doc.contains("attachments")) {
    const json& a = doc["attachments"];
    std::string aa = at + "/attachments";
    if (!a.is_object()) {
      problems.error(aa, "config-type", "expected an object {maxBytes, types, orphanHours, store}");
    } else {
      unknown_keys(a, aa, {"maxBytes", "types", "orphanHours", "store"}, problems);
      if (a.contains("store")) {
        if (!a["store"].is_string() || a["store"].get<std::string>().empty())
          problems.error(aa + "/store", "config-type",
                         "expected the name of a configured file-store plugin instance "
                         "(a key of \"plugins\")");
        else
          c.attachments.store = a["store"].get<std::string>();
      }
      read_number(a, "maxBytes", aa, 1, 4e9, c.attachments.max_bytes, problems);
      std::int64_t hours = c.attachments.orphan_after.count();
      if (read_number(a, "orphanHours", aa, 1, 24 * 366, hours, problems))
        c.attachments.orphan_after = std::chrono::hours(hours);
      if (a.contains("types")) {
        const json& t = a["types"];
        bool ok = t.is_array() && !t.empty();
        for (std::size_t i = 0; ok && i < t.size(); ++i)
          if (!t[i].is_string() || t[i].get<std::string>().find('/') == std::string::npos) {
            problems.error(aa + "/types/" + std::to_string(i), "config-type",
                           "expected a media type such as \"image/jpeg\"");
            ok = false;
          }
        if (!t.is_array() || t.empty())
          problems.error(aa + "/types", "config-type",
                         "expected a non-empty array of media types (e.g. [\"image/jpeg\"])");
        if (ok) c.attachments.types = t.get<std::vector<std::string>>();
      }
    }
  }
  retention_from_json(doc, base_dir, at, problems);  // server_retention.hpp: read by serve
  if (doc.contains("limits")) {
    const json& l = doc["limits"];
    std::string la = at + "/limits";
    if (!l.is_object()) {
      problems.error(la, "config-type", "expected an object");
    } else {
      unknown_keys(
          l, la,
          {"bodyBytes", "headerBytes", "requestTimeoutMs", "connections", "ratePerSecond", "burst"},
          problems);
      read_number(l, "bodyBytes", la, 1024, 1e9, c.body_limit, problems);
      read_number(l, "headerBytes", la, 1024, 1e6, c.header_limit, problems);
      std::int64_t ms = c.request_timeout.count();
      if (read_number(l, "requestTimeoutMs", la, 100, 3.6e6, ms, problems))
        c.request_timeout = std::chrono::milliseconds(ms);
      read_number(l, "connections", la, 1, 1e6, c.max_connections, problems);
      read_number(l, "ratePerSecond", la, 0, 1e9, c.rate_per_second, problems);
      read_number(l, "burst", la, 0, 1e9, c.burst, problems);
    }
  }
  if (doc.contains("tokens")) c.tokens = tokens_from_json(doc["tokens"], at + "/tokens", problems);
  if (doc.contains("identityFile")) {
    const json& f = doc["identityFile"];
    if (!f.is_string() || f.get<std::string>().empty())
      problems.error(at + "/identityFile", "config-type",
                     "expected the path of the identity file (a non-empty string, relative to "
                     "the configuration file)");
    else
      c.identity_file = resolve(base_dir, f.get<std::string>());
  }
  if (doc.contains("tls")) {
    const json& t = doc["tls"];
    if (!t.is_object() || !t.contains("certificate") || !t["certificate"].is_string() ||
        !t.contains("privateKey") || !t["privateKey"].is_string()) {
      problems.error(at + "/tls", "config-tls",
                     "expected {\"certificate\": \"cert.pem\", \"privateKey\": \"key.pem\"}");
    } else {
      unknown_keys(t, at + "/tls", {"certificate", "privateKey"}, problems);
      c.tls = TlsConfig{resolve(base_dir, t["certificate"].get<std::string>()),
                        resolve(base_dir, t["privateKey"].get<std::string>())};
    }
  }
  if (problems.error_count() > before) return std::nullopt;
  return c;
}

bool resolve_attachment_store(ServerConfig& config, const PluginRegistry& registry,
                              const std::string& at, Problems& problems) {
  const std::string& name = config.attachments.store;
  if (name.empty()) return true;
  std::string pointer = at + "/attachments/store";
  auto object = registry.find(name);
  if (!object) {
    std::string stores;
    for (const auto& s : registry.names(PluginKind::file_store))
      stores += (stores.empty() ? "" : ", ") + ("\"" + s + "\"");
    problems.error(pointer, "config-attachment-store",
                   "no plugin instance \"" + name + "\" is configured and loaded (\"plugins\"" +
                       (stores.empty() ? std::string(" has no file store")
                                       : " has these file stores: " + stores) +
                       ")");
    return false;
  }
  config.attachments.files = attachment_files_of(object);
  if (!config.attachments.files) {
    problems.error(pointer, "config-attachment-store",
                   "\"" + name + "\" is a " + to_string(object->kind()) + " (plugin " +
                       object->info().name + "), not a file store");
    return false;
  }
  return true;
}

std::optional<RetentionOptions> retention_from_json(const json& doc, const std::string& base_dir,
                                                    const std::string& at, Problems& problems) {
  if (!doc.is_object() || !doc.contains("retention")) return std::nullopt;
  std::size_t before = problems.error_count();
  const json& r = doc["retention"];
  std::string ra = at + "/retention";
  if (!r.is_object()) {
    problems.error(ra, "config-type",
                   "expected an object {default, intervalMinutes, batch, archiveDir}");
  } else {
    unknown_keys(r, ra, {"default", "intervalMinutes", "batch", "archiveDir"}, problems);
    RetentionOptions ro;
    if (r.contains("default")) {
      std::string why;
      auto d = r["default"].is_string() ? parse_duration(r["default"].get<std::string>(), &why)
                                        : std::nullopt;
      if (!d)
        problems.error(ra + "/default", "config-type",
                       "expected an ISO 8601 duration such as \"P5Y\"" +
                           (why.empty() ? std::string() : " (" + why + ")"));
      ro.default_retention = d;
    }
    std::int64_t minutes = ro.interval_ms / 60000;
    if (read_number(r, "intervalMinutes", ra, 1, 60 * 24 * 366, minutes, problems))
      ro.interval_ms = minutes * 60000;
    read_number(r, "batch", ra, 1, 100000, ro.batch, problems);
    if (r.contains("archiveDir")) {
      if (!r["archiveDir"].is_string() || r["archiveDir"].get<std::string>().empty())
        problems.error(ra + "/archiveDir", "config-type", "expected a directory path");
      else
        ro.archive_dir = resolve(base_dir, r["archiveDir"].get<std::string>());
    }
    if (problems.error_count() == before) return ro;
  }
  return std::nullopt;
}

}  // namespace bihuan

namespace bihuan::api {

bool attr_value_ok(const json& v) {
  if (v.is_string() || v.is_number() || v.is_boolean()) return true;
  if (!v.is_array()) return false;
  for (const auto& e : v)
    if (!e.is_string()) return false;
  return true;
}

}  // namespace bihuan::api
