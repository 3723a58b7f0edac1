// task.http: runs a task step by calling an HTTP endpoint and returns the response's JSON
// as the task result (the engine sends it to the instance as the step's onResult event).
//
// Request: `method` (default POST) to `url`, where every {name} is replaced by the task
// input's field `name` (percent-encoded; a string as is, other values as JSON text); the
// body is the task input as JSON (none for GET and DELETE). Headers: Content-Type and
// Accept application/json, Idempotency-Key: <task key> (the same on every attempt), plus
// the configured `headers`.
// Outcome: 2xx with a JSON body -> ok(body); 2xx with an empty body -> ok({}); 2xx with a
// body that is not JSON -> fail; timeout, connection error, 408, 429, 5xx -> retry; other
// statuses -> fail. Failure messages name the method, the URL and the status.
// Thread-safe: each call uses its own connection.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "bihuan/plugin/sdk.hpp"
#include "http_client.hpp"

namespace {

using namespace bihuan::plugin;
namespace http = bihuan::plugins::http;
using nlohmann::json;

constexpr const char* kSchema = R"json({
  "type": "object",
  "required": ["url"],
  "additionalProperties": false,
  "properties": {
    "url": {"type": "string", "pattern": "^[hH][tT][tT][pP][sS]?://", "description": "URL template: {field} takes the task input's field"},
    "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "description": "default POST"},
    "timeoutMs": {"type": "integer", "minimum": 1, "maximum": 600000, "description": "whole request (default 10000)"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "caFile": {"type": "string", "description": "extra trusted CA certificates (PEM) for https"},
    "verifyTls": {"type": "boolean", "description": "verify the server certificate (default true)"}
  }
})json";

class HttpTask final : public TaskHandler {
 public:
  explicit HttpTask(const Host& host)
      : client_(http::ClientOptions{host.config_or("/caFile", ""),
                                    host.config_or("/verifyTls", "true") == "true"}) {
    url_template_ = host.config_or("/url", "");
    method_ = host.config_or("/method", "POST");
    timeout_ = std::chrono::milliseconds(std::stoll(host.config_or("/timeoutMs", "10000")));
    std::string error;
    // The template must be a valid URL with its placeholders filled in.
    std::string probe = url_template_;
    for (auto open = probe.find('{'); open != std::string::npos; open = probe.find('{')) {
      auto close = probe.find('}', open);
      if (close == std::string::npos)
        throw std::runtime_error("url: unclosed { in " + url_template_);
      probe.replace(open, close - open + 1, "x");
    }
    if (!http::Url::parse(probe, &error)) throw std::runtime_error("url: " + error);
    json headers = json::parse(host.config_or("/headers", "{}"));
    for (const auto& [name, value] : headers.items())
      headers_.emplace_back(name, value.get<std::string>());
  }

  Result run(const Task& task) override {
    json input = json::parse(task.input_json, nullptr, false);
    std::string url_text, error;
    if (!fill(input, url_text, error)) return Result::fail(error);
    auto url = http::Url::parse(url_text, &error);
    if (!url) return Result::fail(error);
    http::Request req;
    req.method = method_;
    req.url = *url;
    req.timeout = timeout_;
    if (method_ != "GET" && method_ != "DELETE") {
      req.body = std::string(task.input_json);
      req.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    }
    req.headers.emplace_back("Accept", "application/json");
    req.headers.emplace_back("Idempotency-Key", std::string(task.key));
    for (const auto& h : headers_) req.headers.push_back(h);
    auto res = client_.send(req);
    switch (http::classify(res)) {
      case http::Verdict::retry:
        return Result::retry(http::describe(req, res));
      case http::Verdict::fail:
        return Result::fail(http::describe(req, res));
      case http::Verdict::ok:
        break;
    }
    if (res.body.find_first_not_of(" \t\r\n") == std::string::npos) return Result::ok("{}");
    if (!json::accept(res.body))
      return Result::fail(req.method + " " + req.url.text + ": HTTP " + std::to_string(res.status) +
                          " answered with a body that is not JSON (Content-Type: " +
                          (res.content_type.empty() ? "none" : res.content_type) +
                          "): " + res.body.substr(0, 200));
    return Result::ok(res.body);
  }

 private:
  // Replaces each {name} in the URL template with the input's field, percent-encoded.
  bool fill(const json& input, std::string& out, std::string& error) const {
    out.clear();
    for (std::size_t i = 0; i < url_template_.size();) {
      if (url_template_[i] != '{') {
        out += url_template_[i++];
        continue;
      }
      auto close = url_template_.find('}', i);
      std::string name = url_template_.substr(i + 1, close - i - 1);
      if (!input.is_object() || !input.contains(name) || input[name].is_null()) {
        error =
            "the task input has no field \"" + name + "\" for the URL template " + url_template_;
        return false;
      }
      const json& v = input[name];
      out += http::percent_encode(v.is_string() ? v.get<std::string>() : v.dump());
      i = close + 1;
    }
    return true;
  }

  http::HttpClient client_;
  std::string url_template_, method_;
  std::chrono::milliseconds timeout_{10000};
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace

BIHUAN_PLUGIN(HttpTask, "task.http", "1.0.0", kSchema,
              "Runs a task step as an HTTP call; the response JSON is the task's result")
