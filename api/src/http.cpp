#include "http.hpp"

#include <cctype>

namespace bihuan::api {

Reply Reply::json_body(unsigned status, const json& body) {
  Reply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

Reply Reply::text(unsigned status, std::string content_type, std::string body) {
  Reply r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

namespace {

const char* title_of(unsigned status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

Reply refused_by_scope(Reply not_found, std::string reason) {
  not_found.refusal = std::move(reason);
  return not_found;
}

Reply problem(unsigned status, const std::string& code, const std::string& detail,
              std::vector<FieldError> errors, json extra) {
  json j = {{"type", "https://bihuan.dev/problems/" + code},
            {"title", title_of(status)},
            {"status", status},
            {"code", code},
            {"detail", detail}};
  if (!errors.empty()) {
    json list = json::array();
    for (auto& e : errors)
      list.push_back({{"pointer", e.pointer}, {"code", e.code}, {"detail", e.detail}});
    j["errors"] = std::move(list);
  }
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  Reply r = Reply::json_body(status, j);
  r.content_type = "application/problem+json";
  return r;
}

const std::string* Call::query_value(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return &v;
  return nullptr;
}

std::string Call::header(http::field f) const {
  auto it = req.find(f);
  return it == req.end() ? std::string() : std::string(it->value());
}

std::string Call::header(std::string_view name) const {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string() : std::string(it->value());
}

std::optional<json> body_json(const Call& call, Reply& error, const json* empty_default) {
  const std::string& body = call.req.body();
  if (body.empty()) {
    if (empty_default) return *empty_default;
    error = problem(400, "body-required", "this request needs a JSON body");
    return std::nullopt;
  }
  std::string type = call.header(http::field::content_type);
  std::string media = type.substr(0, type.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool is_json = media == "application/json" ||
                 (media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0);
  if (!is_json) {
    error = problem(
        415, "unsupported-media-type",
        "the body must be application/json" +
            (type.empty() ? std::string(" (no Content-Type was given)") : " (got " + type + ")"),
        {{"header:Content-Type", "expected-json", "expected application/json"}});
    return std::nullopt;
  }
  Problems problems("request body");
  auto doc = load_json(body, problems);
  if (!doc) {
    std::vector<FieldError> errors;
    json positioned = json::array();  // `problems`: each with its line and column
    std::string detail = "the body is not valid JSON";
    for (const auto& p : problems.items()) {
      json one = {
          {"severity", "error"}, {"pointer", p.pointer}, {"code", p.code}, {"message", p.message}};
      if (p.line) one["line"] = p.line, one["column"] = p.column;
      positioned.push_back(std::move(one));
      std::string where =
          p.line ? " at line " + std::to_string(p.line) + ", column " + std::to_string(p.column)
                 : "";
      errors.push_back({p.pointer, p.code, p.message + where});
      if (errors.size() == 1) detail += where + ": " + p.message;
    }
    error = problem(400, "invalid-json", detail, std::move(errors),
                    {{"problems", std::move(positioned)}});
    return std::nullopt;
  }
  return doc;
}

std::optional<std::uint64_t> parse_uint(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

std::optional<std::string> percent_decode(std::string_view text, bool query) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && query) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace bihuan::api
