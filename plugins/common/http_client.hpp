// A small blocking HTTP/1.1 client for bundled plugins (notify.webhook, task.http): one
// request per connection, http:// and https:// (Boost.Beast over Asio, OpenSSL), with one
// deadline for the whole exchange (connect, TLS handshake, write, read). Not part of the
// engine or the SDK: plugins link it statically (target bihuan_plugin_http).
//
// Contract:
//  - send() never throws and never outlives its timeout by more than scheduling noise,
//    except for name resolution, which the system resolver bounds (resolv.conf timeouts):
//    use an IP address or /etc/hosts for a hard bound.
//  - An HttpClient is immutable after construction; send() may run on many threads at once.
//  - https verifies the peer against the system's CAs (plus ca_file) and checks the host
//    name unless verify_tls is false. Redirects are not followed (a 3xx is an answer).
//  - Response bodies above 16 MiB are an error.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bihuan::plugins::http {

struct Url {
  bool tls = false;
  std::string host, port, target;  // target: path and query, at least "/"
  std::string text;                // as given
  // "http(s)://host[:port][/path][?query]" (IPv6 as [::1]); nullopt and *error otherwise.
  static std::optional<Url> parse(std::string_view text, std::string* error);
};

struct Request {
  std::string method = "POST";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, Content-Length
  std::string body;
  std::chrono::milliseconds timeout{10000};
};

struct Response {
  enum class Transport { ok, timeout, error };
  Transport transport = Transport::error;
  int status = 0;  // when transport == ok
  std::string body, content_type;
  std::string error;  // when transport != ok: what went wrong
};

struct ClientOptions {
  std::string ca_file;  // extra trusted CA certificates (PEM) for https
  bool verify_tls = true;
};

class HttpClient {
 public:
  // Throws std::runtime_error when the TLS context cannot be set up (e.g. bad ca_file).
  explicit HttpClient(const ClientOptions& options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  Response send(const Request& request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a plugin should do with a response: 2xx ok; timeouts, connection errors, 408, 429
// and 5xx retry; anything else (other 4xx, 3xx, 1xx) fails permanently.
enum class Verdict { ok, retry, fail };
Verdict classify(const Response& r);

// One sentence for logs and errors: "POST http://h/p: HTTP 500 Internal...: <body start>"
// or "POST http://h/p: timed out after 3000 ms".
std::string describe(const Request& request, const Response& response);

// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// ASCII case-insensitive equality (header names).
bool iequals(std::string_view a, std::string_view b);

// Percent-encodes everything but RFC 3986 unreserved characters (for URL templates).
std::string percent_encode(std::string_view s);

}  // namespace bihuan::plugins::http
