// What route handlers see: the request, its decoded path parameters and query, the
// caller, and the Reply they build. Internal to the api module (Beast lives here).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

#include "bihuan/instance.hpp"
#include "bihuan/json.hpp"

namespace bihuan {
class AttachmentUpload;  // bihuan/attachments.hpp
}

namespace bihuan::api {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;

struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Audit: why the caller was refused. The server counts and logs every 401 and 403 (reason:
  // this, else the problem's type code) and every other reply where this is set, such as
  // a 404 given because the instance is out of the caller's scope (refused_by_scope()).
  std::string refusal;
  // A streamed body (HTTP/1.1 chunked transfer coding) instead of `body`: the server
  // calls chunks() on its worker pool (never on an io thread) until it answers "" and
  // writes each piece as it comes, so a large answer (an export) is never held whole.
  // nullopt: it failed (and logged why); the connection is then closed without the last
  // chunk, so the client sees a truncated body. It does not throw.
  std::function<std::optional<std::string>()> chunks;

  static Reply json_body(unsigned status, const json& body);
  static Reply text(unsigned status, std::string content_type, std::string body);
};

// One entry of a problem's "errors": where (JSON Pointer into the body, or a parameter
// name such as "query:limit" / "header:If-Match"), a code, and what was expected.
struct FieldError {
  std::string pointer;
  std::string code;
  std::string detail;
};

// RFC 9457 problem details: type https://bihuan.dev/problems/<code>, title, status,
// detail, instance (the request path), errors, plus `extra` members.
Reply problem(unsigned status, const std::string& code, const std::string& detail,
              std::vector<FieldError> errors = {}, json extra = json::object());

// A 404 "no such instance" that hides an instance out of the caller's scope: answered
// exactly as an unknown one, but audited (bihuan_http_refused_total{reason="out-of-scope"}
// and a log line).
Reply refused_by_scope(Reply not_found, std::string reason = "out-of-scope");

// The authenticated caller (nullptr on public routes).
struct Principal {
  std::string token_name;  // the configured token's name, or "jwt:<actor id>"
  Actor actor;             // id, roles, attrs
};

struct Call {
  const HttpRequest& req;
  std::string path;                                        // decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::vector<std::string> params;                         // path parameters, decoded
  const Principal* who = nullptr;
  // POST /v1/attachments: the body, streamed to a temp file while it was read (server.cpp);
  // null when the body is in `req` (no store, or no body).
  AttachmentUpload* upload = nullptr;

  const std::string* query_value(std::string_view name) const;  // first; nullptr if absent
  std::string header(http::field f) const;
  std::string header(std::string_view name) const;
};

// Reads the body as JSON: 415 unless Content-Type is application/json (or +json), 400
// with line:column and the pointer of the bad element for broken JSON or invalid UTF-8.
// An empty body is `empty_default` when given, else 400.
std::optional<json> body_json(const Call& call, Reply& error, const json* empty_default = nullptr);

// A decimal unsigned integer of 1 to 19 digits, nothing else; nullopt otherwise.
std::optional<std::uint64_t> parse_uint(std::string_view text);

// Percent-decoding of a path segment or query component ('+' is a space only in queries).
std::optional<std::string> percent_decode(std::string_view text, bool query);

using Handler = std::function<boost::asio::awaitable<Reply>(Call&)>;

}  // namespace bihuan::api
