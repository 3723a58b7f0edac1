// The log: one JSON object per line, {"ts", "level", "msg", ...fields}, so that every line
// a Bihuan process writes can be parsed (docs/operations.md, "Observability").
//
//   log_event("error", "storage write failed", {{"file", path}, {"error", text}});
//   {"ts":"2024-04-03T08:00:00.123Z","level":"error","msg":"storage write failed","file":...}
//
// `ts` is UTC with milliseconds; `level` is "debug", "info", "warn" or "error"; fields are
// added after `msg` (a field named ts, level or msg replaces it). Invalid UTF-8 in any
// string is replaced, never an exception.
//
// Thread-safety: every function may be called from any thread. The default sink writes
// each line with one write(2) to stderr, so lines from different threads never interleave.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "bihuan/json.hpp"

namespace bihuan {

// The line (without newline) log_event would write.
std::string log_text(std::string_view level, std::string_view msg,
                     const json& fields = json::object());

// Writes one line to the sink.
void log_event(std::string_view level, std::string_view msg, const json& fields = json::object());

// Writes an already formatted line (log_text's result) to the sink.
void log_write(const std::string& line);

// Replaces the sink (it receives each line without newline); an empty function restores
// stderr. For embedding programs that collect logs elsewhere, and tests.
void set_log_sink(std::function<void(const std::string& line)> sink);

}  // namespace bihuan
