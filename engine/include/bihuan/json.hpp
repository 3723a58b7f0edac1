// JSON values and the strict, bounded loader for untrusted JSON text.
//
// bihuan::json is nlohmann::json (ordered keys are not needed; objects are std::map).
// load_json() never throws and never recurses on input depth: it rejects documents
// nested deeper than Limits::max_depth, strings longer than max_string, invalid UTF-8,
// duplicate object keys and trailing garbage, each as a Problem with line:column.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bihuan/problem.hpp"

namespace bihuan {

using json = nlohmann::json;

struct JsonLimits {
  std::size_t max_depth = 256;
  std::size_t max_string = 4u << 20;  // bytes in one string
  std::size_t max_bytes = 64u << 20;  // whole document
};

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool valid_utf8(std::string_view s);

// Why `v` could not be stored and served as JSON, or nullopt: it nests arrays/objects
// more than `max_depth` levels ({} and [1] are 1 deep, a scalar 0, as load_json counts),
// or a string or member name is not UTF-8 (named by its JSON Pointer). The text reads
// after a subject: "is nested more than 256 levels deep", "has a string that is not
// UTF-8 at /a/0". Recurses at most max_depth + 1 deep.
std::optional<std::string> json_defect(const json& v, std::size_t max_depth);

// Parses `text`. On failure returns nullopt and adds at least one error to `problems`
// (with line:column of the fault). On success returns the value; duplicate keys are
// errors too (reported with the pointer of the second occurrence).
std::optional<json> load_json(std::string_view text, Problems& problems,
                              const JsonLimits& limits = {});

// Reads a whole file then load_json(); a missing/unreadable file is one error.
std::optional<json> load_json_file(const std::string& path, Problems& problems,
                                   const JsonLimits& limits = {});

struct TextPosition {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

// Finds where the element named by `pointer` starts in the (valid) JSON `text`.
// Returns nullopt if the pointer does not resolve. Runs in O(size of text).
std::optional<TextPosition> locate(std::string_view text, std::string_view pointer);

// Fills line/column of every problem in `problems` that has a pointer but no position,
// using locate() over `text`.
void attach_positions(std::string_view text, Problems& problems);

// Escapes one reference token for a JSON Pointer ("~" -> "~0", "/" -> "~1").
std::string pointer_escape(std::string_view token);
// The unescaped reference tokens of a JSON Pointer ("/a~1b/0" -> {"a/b", "0"}; "" -> {}).
std::vector<std::string> split_pointer(std::string_view pointer);

}  // namespace bihuan
