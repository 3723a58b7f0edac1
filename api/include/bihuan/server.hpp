// The HTTP/JSON API server: Bihuan behind other systems' front ends.
//
// A Server serves one Engine over HTTP/1.1 (optionally TLS) with Boost.Beast on an Asio
// thread pool, one C++20 coroutine per connection. Routes live under /v1 and are listed
// in api/openapi.json (served at /v1/openapi.json). Every error is an RFC 9457
// application/problem+json document naming the request, the JSON Pointer of the bad
// element and what was expected.
//
// Security: every /v1 route but the OpenAPI document needs a bearer token: an opaque token
// from the configuration or the identity file (only SHA-256 hashes are stored), or a JWT
// verified against configured keys (docs/operations.md, "Identity"). The token's identity
// is the actor of every step it causes; nothing in a body can change that. Administrative
// routes need the role "admin". Each token has a rate limit (token bucket). Every 401/403
// is counted (bihuan_http_refused_total{reason}) and logged as one JSON line.
//
// Work that can take long (verify, backup, deploy, cancel, migrations, scans) runs on a
// small worker pool the server owns, never on the `threads` io threads; shutdown() joins it.
//
// Thread-safety: start() and shutdown() from one controlling thread; port() and
// metrics_text() from any thread. The Engine must outlive the Server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bihuan/attachments.hpp"
#include "bihuan/engine.hpp"
#include "bihuan/instance.hpp"
#include "bihuan/problem.hpp"

namespace bihuan {

class PluginRegistry;  // bihuan/plugin_host.hpp

struct ApiToken {
  std::string name;            // for logs and metrics ("office-admin")
  std::string sha256_hex;      // SHA-256 of the secret token text, lowercase hex
  Actor actor;                 // who the bearer is (id, roles, attrs)
  double rate_per_second = 0;  // 0 = the server default
  double burst = 0;            // 0 = the server default
};

struct TlsConfig {
  std::string certificate_file;  // PEM chain
  std::string private_key_file;  // PEM
};

// The "server" section of the configuration file (docs/operations.md):
//   {"listen": "127.0.0.1:8080", "threads": 2, "timezone": "Asia/Shanghai",
//    "limits": {"bodyBytes": 1048576, "headerBytes": 16384, "requestTimeoutMs": 10000,
//               "connections": 1024, "ratePerSecond": 200, "burst": 400},
//    "tokens": [{"name": "admin", "sha256": "<hex>", "actor": "admin", "roles": ["admin"],
//                "attrs": {"unit": "golmud"}}],
//    "identityFile": "identity.json",
//    "tls": {"certificate": "cert.pem", "privateKey": "key.pem"}, "metricsPublic": true}
struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 = any free port (see Server::port())
  std::size_t threads = 2;
  std::string timezone = "UTC";  // how times are written in answers
  std::size_t body_limit = 1u << 20;
  std::size_t header_limit = 16u << 10;
  std::chrono::milliseconds request_timeout{10000};  // to read a request / write an answer
  std::size_t max_connections = 1024;
  double rate_per_second = 200;  // per token
  double burst = 400;
  // /metrics without a token. Only ever on a loopback listen address (127.0.0.0/8, ::1):
  // elsewhere /metrics needs a valid token whatever this says; false asks for one on
  // loopback too.
  bool metrics_public = true;
  std::vector<ApiToken> tokens;
  // The reloadable identity file ("identityFile", resolved; "" = none): {"tokens": [...],
  // "jwt": {...}}. Its tokens add to `tokens`. Read by Server::start and by
  // Server::reload_identity().
  std::string identity_file;
  std::optional<TlsConfig> tls;
  // POST /v1/backup writes only inside this directory ("backupRoot"; "" = "<data
  // directory>-backups" beside the data directory). See docs/operations.md.
  std::string backup_root;
  // Roles that may read definitions (list, source, graph): "definitionReaders". Empty =
  // every authenticated caller (definitions describe processes, not cases); global
  // administrators always may. docs/authorization.md.
  std::vector<std::string> definition_readers;
  // Evidence files ("attachments": {"maxBytes", "types", "orphanHours", "store"}): POST
  // /v1/attachments, docs/attachments.md. "store" names a file-store plugin instance
  // (attachments.store); resolve_attachment_store() sets attachments.files from it.
  AttachmentOptions attachments;

  // Reads the "server" section (`doc` is that object); relative paths resolve against
  // `base_dir`. Problems carry JSON Pointers under `at` (e.g. "/server").
  static std::optional<ServerConfig> from_json(const json& doc, const std::string& base_dir,
                                               const std::string& at, Problems& problems);
  // A "tokens" array (`list`, at JSON Pointer `at`): each {name, sha256, actor, roles,
  // attrs, ratePerSecond, burst}. Entries with problems are left out.
  static std::vector<ApiToken> tokens_from_json(const json& list, const std::string& at,
                                                Problems& problems);
  // SHA-256 of a token's text, as ApiToken::sha256_hex wants it.
  static std::string hash_token(const std::string& token);
  // A new random token: "bh_" and 40 hex digits from OpenSSL's CSPRNG.
  static std::string generate_token();
};

// Sets config.attachments.files to the plugin instance config.attachments.store names
// (nothing to do when it names none). False with an error at `at` + "/attachments/store"
// (e.g. "/server/attachments/store") when no loaded instance has that name or the
// instance is not a file store.
bool resolve_attachment_store(ServerConfig& config, const PluginRegistry& registry,
                              const std::string& at, Problems& problems);

// What the server reports beyond the engine (the dispatcher lives beside it).
struct ServerHooks {
  std::function<std::string()> extra_metrics;  // more Prometheus text (may be empty)
  std::function<bool()> ready;                 // readiness beyond "engine open"
  // One JSON log line (without newline). Default: the process log (bihuan/log.hpp).
  std::function<void(const std::string&)> log;
};

class Server {
 public:
  // Binds the listening socket and starts the worker threads. nullptr and problems when
  // the address cannot be bound or TLS files cannot be loaded.
  static std::unique_ptr<Server> start(Engine& engine, ServerConfig config, ServerHooks hooks,
                                       Problems& problems);
  virtual ~Server() = default;

  virtual std::uint16_t port() const = 0;
  // Graceful: stops accepting, lets requests in flight finish (each within `grace`),
  // closes idle connections, joins the threads. Idempotent.
  virtual void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10)) = 0;
  // Blocks until shutdown() has completed (from another thread or a signal handler).
  virtual void wait() = 0;
  virtual std::string metrics_text() const = 0;
  // Every route as "METHOD /pattern" (what api/openapi.json must describe).
  virtual std::vector<std::string> routes() const = 0;
  // Reads the identity file (and its JWKS file) again and swaps the whole identity table
  // at once: the configuration's tokens plus the file's tokens and JWT settings. On any
  // problem (listed in `problems`, with JSON Pointers) nothing changes and false is
  // returned. With no identity file configured: false and one problem. Thread-safe; what
  // SIGHUP and POST /v1/admin/identity/reload call.
  virtual bool reload_identity(Problems& problems) = 0;
};

// The OpenAPI 3.1 document (api/openapi.json, compiled in).
const char* openapi_document();

}  // namespace bihuan
