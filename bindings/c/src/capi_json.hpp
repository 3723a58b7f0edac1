// The C API's JSON face: requests read from JSON text (every member checked, named by its
// JSON Pointer) and results written as JSON, the same members as the HTTP API's. A bad
// request throws CapiError, which the boundary (capi.cpp) turns into a status and an error
// object; nothing here is visible outside libbihuan.so.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>

#include "bihuan.h"
#include "bihuan/engine.hpp"
#include "bihuan/problem_json.hpp"

namespace bihuan::capi {

// A failed call: its status (BIHUAN_E*) and error object {"status", "code", "type",
// "message", "problems", "details"}.
struct CapiError {
  int status;
  json body;
};

json error_body(int status, const std::string& type, const std::string& message,
                json problems = json::array(), json details = nullptr);
[[noreturn]] void fail(int status, const std::string& type, const std::string& message,
                       json problems = json::array(), json details = nullptr);
json problem_item(const std::string& pointer, const std::string& code, const std::string& message);

// Parses `text` (NULL: BIHUAN_EINVAL naming `what`); malformed JSON is BIHUAN_EINVAL with
// the problems (line:column). With `object`, anything but an object is refused too.
json parse_text(const char* text, const char* what, bool object = true);

// Typed, optional members of a request object; unknown members are refused.
class Members {
 public:
  Members(const json& body, const char* what, std::initializer_list<const char*> known);
  std::optional<std::string> text(const char* key, bool required = false) const;
  std::optional<std::int64_t> integer(const char* key, std::int64_t min, std::int64_t max) const;
  std::optional<bool> flag(const char* key) const;
  const json* object(const char* key) const;
  const json* array(const char* key) const;
  std::optional<Actor> actor(const char* key) const;
  std::optional<TimePoint> time(const char* key, const TimeZone* tz) const;
  std::optional<InstanceStatus> status(const char* key) const;
  std::vector<std::pair<std::string, json>> filters(const char* key) const;

 private:
  const json* find(const char* key, json::value_t type, const char* expected) const;
  const json& body_;
  std::string what_;
};

StartRequest start_request(const json& body);
EventRequest event_request(const json& body);
InstanceQuery instance_query(const json& body);
HistoryQuery history_query(const json& body);
InboxQuery inbox_query(const json& body);
StatsQuery stats_query(const json& body, std::shared_ptr<const TimeZone> tz);

// A step's answer: the instance with replayed/created, or CapiError for a refusal.
json step_json(const StepResult& r, const TimeZone& tz);
// The status and error object of a refused step (BIHUAN_OK and null when it succeeded).
std::pair<int, json> step_outcome(const StepResult& r);
json page_json(const InstancePage& page, const TimeZone& tz);
json history_json(const HistoryQuery& q, const HistoryPage& page, const TimeZone& tz);
json inbox_json(const Actor& actor, const InboxPage& page, const TimeZone& tz);
json stats_json(const StatsQuery& q, const StatsResult& r, const TimeZone& tz);

}  // namespace bihuan::capi
