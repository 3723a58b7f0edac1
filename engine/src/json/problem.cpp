#include "bihuan/problem.hpp"

#include "bihuan/problem_json.hpp"

namespace bihuan {

std::string Problem::to_string() const {
  std::string out = file.empty() ? std::string("<input>") : file;
  if (line) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += severity == Severity::error ? ": error: " : ": warning: ";
  out += message;
  if (!pointer.empty()) out += " [at " + pointer + "]";
  if (!code.empty()) out += " (" + code + ")";
  return out;
}

void Problems::error(std::string pointer, std::string code, std::string message) {
  items_.push_back(
      {Severity::error, file_, std::move(pointer), 0, 0, std::move(code), std::move(message)});
}

void Problems::warning(std::string pointer, std::string code, std::string message) {
  items_.push_back(
      {Severity::warning, file_, std::move(pointer), 0, 0, std::move(code), std::move(message)});
}

void Problems::append(const Problems& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Problems::has_errors() const { return error_count() > 0; }

std::size_t Problems::error_count() const {
  std::size_t n = 0;
  for (const auto& p : items_) n += p.severity == Severity::error;
  return n;
}

std::size_t Problems::warning_count() const { return items_.size() - error_count(); }

json problem_json(const Problem& p, bool with_file) {
  json j = {{"severity", p.severity == Severity::error ? "error" : "warning"}};
  if (with_file) j["file"] = p.file;
  j["pointer"] = p.pointer;
  j["code"] = p.code;
  j["message"] = p.message;
  if (p.line) {
    j["line"] = p.line;
    j["column"] = p.column;
  }
  return j;
}

json problems_json(const Problems& problems) {
  json out = json::array();
  for (const auto& p : problems.items()) out.push_back(problem_json(p));
  return out;
}

}  // namespace bihuan
