// Printing for the embedded-mode commands: JSON documents for tools, aligned tables and
// key/value blocks for people. Times print in the instance's definition time zone.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "bihuan/engine.hpp"
#include "bihuan/problem_json.hpp"

namespace bihuan::cli {

// The zone an instance's times print in: its definition's timezone, else UTC.
const TimeZone& zone_of(const Engine& engine, const std::string& definition, std::int64_t version);
const TimeZone& zone_of(const Engine& engine, const InstanceView& v);

// Pretty JSON on stdout, one document per command.
void print_json(const json& doc);

// Columns padded to the widest cell (display width: CJK characters count two).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size() - 1; }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Terminal columns `text` takes (UTF-8; East Asian wide characters count two).
std::size_t display_width(const std::string& text);

// The instance as "name  value" lines: id, definition, key, state, status, version,
// deadline, times, the events its current state accepts, and its data.
void print_instance(std::ostream& out, const Engine& engine, const InstanceView& v);

// The first 12 hex digits of a hash.
std::string short_hash(const std::string& hash);

}  // namespace bihuan::cli
