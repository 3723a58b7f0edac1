// notify.webhook: POSTs each notification as a JSON body (the message object the host
// passes: key, channel, instance, to, subject, text, ...) to a configured http(s) URL.
//
// Headers: Content-Type: application/json; Idempotency-Key: <message key> (the same on
// every attempt); X-Bihuan-Timestamp: <ms since the epoch, engine clock>;
// X-Bihuan-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes, key = secret>;
// plus the configured `headers` (which may not replace these).
// Outcome: 2xx ok; timeout, connection/TLS error, 408, 429, 5xx retry; other statuses
// (4xx, 3xx) fail permanently. The plugin enforces `timeoutMs` itself (whole exchange);
// keep it below the channel's timeoutMs so the plugin, not the dispatcher, reports it.
// Thread-safe: each call uses its own connection.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "bihuan/plugin/sdk.hpp"
#include "http_client.hpp"

namespace {

using namespace bihuan::plugin;
namespace http = bihuan::plugins::http;

constexpr const char* kSchema = R"json({
  "type": "object",
  "required": ["url", "secret"],
  "additionalProperties": false,
  "properties": {
    "url": {"type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://", "description": "where to POST (http or https)"},
    "secret": {"type": "string", "minLength": 1, "description": "HMAC-SHA256 key for X-Bihuan-Signature"},
    "timeoutMs": {"type": "integer", "minimum": 1, "maximum": 600000, "description": "whole request (default 10000)"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "extra request headers"},
    "caFile": {"type": "string", "description": "extra trusted CA certificates (PEM) for https"},
    "verifyTls": {"type": "boolean", "description": "verify the server certificate (default true)"}
  }
})json";

const char* const kReserved[] = {"Content-Type",    "Content-Length",     "Host",
                                 "Idempotency-Key", "X-Bihuan-Signature", "X-Bihuan-Timestamp"};

http::ClientOptions client_options(const Host& host) {
  http::ClientOptions o;
  o.ca_file = host.config_or("/caFile", "");
  o.verify_tls = host.config_or("/verifyTls", "true") == "true";
  return o;
}

class WebhookNotifier final : public Notifier {
 public:
  explicit WebhookNotifier(const Host& host) : host_(host), client_(client_options(host)) {
    std::string error;
    auto url = http::Url::parse(host.config_or("/url", ""), &error);
    if (!url) throw std::runtime_error(error);
    url_ = *url;
    secret_ = host.config_or("/secret", "");
    timeout_ = std::chrono::milliseconds(std::stoll(host.config_or("/timeoutMs", "10000")));
    auto headers = nlohmann::json::parse(host.config_or("/headers", "{}"));
    for (const auto& [name, value] : headers.items()) {
      for (const char* reserved : kReserved)
        if (http::iequals(name, reserved))
          throw std::runtime_error("header " + name + " is set by notify.webhook itself");
      headers_.emplace_back(name, value.get<std::string>());
    }
  }

  Result notify(const Message& m) override {
    http::Request req;
    req.method = "POST";
    req.url = url_;
    req.timeout = timeout_;
    req.body = std::string(m.json);
    req.headers = headers_;
    req.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    req.headers.emplace_back("Idempotency-Key", std::string(m.key));
    req.headers.emplace_back("X-Bihuan-Timestamp", std::to_string(host_.now_ms()));
    req.headers.emplace_back("X-Bihuan-Signature",
                             "sha256=" + http::hmac_sha256_hex(secret_, req.body));
    auto res = client_.send(req);
    switch (http::classify(res)) {
      case http::Verdict::ok:
        return Result::ok("HTTP " + std::to_string(res.status));
      case http::Verdict::retry:
        return Result::retry(http::describe(req, res));
      case http::Verdict::fail:
        break;
    }
    return Result::fail(http::describe(req, res));
  }

 private:
  Host host_;
  http::HttpClient client_;
  http::Url url_;
  std::string secret_;
  std::chrono::milliseconds timeout_{10000};
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace

BIHUAN_PLUGIN(WebhookNotifier, "notify.webhook", "1.0.0", kSchema,
              "POSTs each notification as signed JSON (HMAC-SHA256) to an http(s) URL")
