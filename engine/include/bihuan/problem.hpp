// Problems found in untrusted input (definitions, calendars, configs, HTTP bodies).
//
// A Problem names where (file, JSON Pointer, and line:column when known) and what was
// expected. Validators collect every problem they find instead of stopping at the first.
// Thread-safety: plain value types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bihuan {

enum class Severity { error, warning };

struct Problem {
  Severity severity = Severity::error;
  std::string file;          // the file or request the input came from ("" if none)
  std::string pointer;       // RFC 6901 JSON Pointer of the offending element ("" = whole doc)
  std::uint32_t line = 0;    // 1-based; 0 when unknown
  std::uint32_t column = 0;  // 1-based, in bytes; 0 when unknown
  std::string code;          // stable machine-readable code, e.g. "unknown-target"
  std::string message;       // plain sentence for a person

  // "file:line:col: error: message [pointer] (code)"
  std::string to_string() const;
};

class Problems {
 public:
  explicit Problems(std::string file = {}) : file_(std::move(file)) {}

  void error(std::string pointer, std::string code, std::string message);
  void warning(std::string pointer, std::string code, std::string message);
  void add(Problem p) { items_.push_back(std::move(p)); }
  void append(const Problems& other);

  bool has_errors() const;
  std::size_t error_count() const;
  std::size_t warning_count() const;
  const std::vector<Problem>& items() const { return items_; }
  std::vector<Problem>& items() { return items_; }
  const std::string& file() const { return file_; }
  void set_file(std::string f) { file_ = std::move(f); }

 private:
  std::string file_;
  std::vector<Problem> items_;
};

}  // namespace bihuan
