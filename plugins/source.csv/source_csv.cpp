// source.csv: tables loaded from CSV (RFC 4180, UTF-8, a header row) or JSON (an array of
// objects) files, answered by named queries: a table, equality filters taken from the
// call's params, and optionally the columns to return.
//
// Config: {"tables": {"business": {"file": "/data/business.csv"}},          // format by
//          "queries": {"business-by-id": {"table": "business",              // extension,
//                                         "filter": ["id"],                 // or "format"
//                                         "columns": ["id", "name"]}}}
// - Every filter column is a required parameter; a row matches when each of its filter
//   cells equals the parameter (CSV cells are text: a number or boolean parameter compares
//   as its JSON text). Unknown or missing parameters and unknown queries fail clearly.
// - CSV cells come back as strings, JSON values as they are; a missing column is null.
// - Files are read at start (a missing or broken file refuses the configuration). At each
//   query the table's file is stat()ed; when its mtime or size changed it is reloaded. A
//   changed file that is broken (or unreadable) keeps the old rows, and the plugin says
//   so once per change through the host log (warning). Filter and column names are checked
//   against every version of a CSV table's header (JSON tables have no fixed columns).
// Thread-safety: tables are guarded by a mutex; a query copies out the rows it returns.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bihuan/plugin/sdk.hpp"

namespace {

using namespace bihuan::plugin;
using nlohmann::json;

constexpr const char* kSchema = R"json({
  "type": "object",
  "required": ["tables", "queries"],
  "additionalProperties": false,
  "properties": {
    "tables": {
      "type": "object", "minProperties": 1,
      "additionalProperties": {
        "type": "object", "required": ["file"], "additionalProperties": false,
        "properties": {"file": {"type": "string", "minLength": 1}, "format": {"enum": ["csv", "json"]}}
      }
    },
    "queries": {
      "type": "object", "minProperties": 1,
      "additionalProperties": {
        "type": "object", "required": ["table"], "additionalProperties": false,
        "properties": {
          "table": {"type": "string"},
          "filter": {"type": "array", "items": {"type": "string"}, "description": "columns matched by params of the same name"},
          "columns": {"type": "array", "items": {"type": "string"}, "description": "columns returned (default all)"}
        }
      }
    }
  }
})json";

// RFC 4180 with LF or CRLF line ends and an optional UTF-8 BOM; blank lines are skipped.
// Throws with the line number. `header` gets the column names.
std::vector<json> parse_csv(const std::string& text, std::vector<std::string>& header) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  std::size_t line = 1;
  bool quoted = false, was_quoted = false;
  auto where = [&] { return "line " + std::to_string(line) + ": "; };
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    was_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    if (!(record.size() == 1 && record[0].empty())) records.push_back(std::move(record));
    record.clear();
  };
  for (std::size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else if (c == '"')
        quoted = false, was_quoted = true;
      else
        field += c, line += c == '\n';
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
    } else if (was_quoted) {
      throw std::runtime_error(where() + "text after a closing quote");
    } else if (c == '"') {
      if (!field.empty()) throw std::runtime_error(where() + "a quote inside an unquoted field");
      quoted = true;
    } else {
      field += c;
    }
  }
  if (quoted) throw std::runtime_error("an unterminated quoted field at the end of the file");
  if (!field.empty() || was_quoted || !record.empty()) end_record();
  if (records.empty()) throw std::runtime_error("no header row");
  header = records[0];
  std::set<std::string> seen;
  for (const auto& h : header)
    if (h.empty() || !seen.insert(h).second)
      throw std::runtime_error("header: empty or duplicate column name \"" + h + "\"");
  std::vector<json> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != header.size())
      throw std::runtime_error("record " + std::to_string(r + 1) + " has " +
                               std::to_string(records[r].size()) + " fields; the header has " +
                               std::to_string(header.size()));
    json row = json::object();
    for (std::size_t c = 0; c < header.size(); ++c) row[header[c]] = records[r][c];
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<json> parse_json_rows(const std::string& text) {
  json doc = json::parse(text);  // throws with the byte position
  if (!doc.is_array()) throw std::runtime_error("the file must hold a JSON array of objects");
  std::vector<json> rows;
  for (auto& r : doc) {
    if (!r.is_object())
      throw std::runtime_error("element " + std::to_string(rows.size()) + " is not an object");
    rows.push_back(std::move(r));
  }
  return rows;
}

struct Table {
  std::string name, file;
  bool is_json = false;
  std::vector<json> rows;
  std::set<std::string> columns;  // in any row
  std::int64_t mtime_ns = -1, size = -1;
  std::int64_t bad_mtime_ns = -2, bad_size = -2;  // the broken version already reported
};

struct QuerySpec {
  std::string table;
  std::vector<std::string> filter, columns;
};

bool matches(const json& cell, const json& param) {
  if (cell == param) return true;
  return cell.is_string() && !param.is_string() &&
         cell.get_ref<const std::string&>() == param.dump();
}

class CsvSource final : public DataSource {
 public:
  explicit CsvSource(const Host& host) : host_(host) {
    json config = json::parse(host.config_json());
    for (const auto& [name, t] : config["tables"].items()) {
      Table table;
      table.name = name;
      table.file = t["file"].get<std::string>();
      std::string format = t.value("format", "");
      table.is_json =
          format == "json" || (format.empty() && table.file.size() > 5 &&
                               table.file.compare(table.file.size() - 5, 5, ".json") == 0);
      std::string error;
      if (!load(table, &error)) throw std::runtime_error("table " + name + ": " + error);
      tables_[name] = std::move(table);
    }
    for (const auto& [name, q] : config["queries"].items()) {
      QuerySpec spec;
      spec.table = q["table"].get<std::string>();
      if (!tables_.count(spec.table))
        throw std::runtime_error("query " + name + ": no table \"" + spec.table + "\"");
      spec.filter = q.value("filter", std::vector<std::string>{});
      spec.columns = q.value("columns", std::vector<std::string>{});
      if (auto missing = unknown_column(tables_[spec.table], spec); !missing.empty())
        throw std::runtime_error("query " + name + ": table " + spec.table + " has no column \"" +
                                 missing + "\"");
      queries_[name] = std::move(spec);
    }
  }

  Result query(const Query& q) override {
    auto it = queries_.find(std::string(q.name));
    if (it == queries_.end()) {
      std::string known;
      for (const auto& [name, s] : queries_) known += (known.empty() ? "" : ", ") + name;
      return Result::fail("unknown query \"" + std::string(q.name) + "\" (configured: " + known +
                          ")");
    }
    const QuerySpec& spec = it->second;
    json params = json::parse(q.params_json, nullptr, false);
    if (!params.is_object())
      return Result::fail("query " + it->first + ": params must be a JSON object");
    for (const auto& [name, v] : params.items())
      if (std::find(spec.filter.begin(), spec.filter.end(), name) == spec.filter.end())
        return Result::fail("query " + it->first + " has no parameter \"" + name + "\"");
    for (const auto& f : spec.filter)
      if (!params.contains(f))
        return Result::fail("query " + it->first + " needs parameter \"" + f + "\"");
    std::lock_guard lock(mu_);
    Table& table = tables_[spec.table];
    refresh(table);
    json out = json::array();
    for (const auto& row : table.rows) {
      bool ok = true;
      for (const auto& f : spec.filter) {
        auto cell = row.find(f);
        if (cell == row.end() || !matches(*cell, params[f])) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (spec.columns.empty()) {
        out.push_back(row);
      } else {
        json r = json::object();
        for (const auto& c : spec.columns) r[c] = row.contains(c) ? row[c] : json();
        out.push_back(std::move(r));
      }
    }
    return Result::ok(out.dump());
  }

 private:
  // A filter or output column that a CSV table's header lacks ("" if none). JSON tables
  // have no fixed columns: a row without a filter column does not match, a missing output
  // column is null.
  static std::string unknown_column(const Table& t, const QuerySpec& spec) {
    if (t.is_json) return "";
    for (const auto* list : {&spec.filter, &spec.columns})
      for (const auto& c : *list)
        if (!t.columns.count(c)) return c;
    return "";
  }

  static bool stat_file(const std::string& file, std::int64_t& mtime_ns, std::int64_t& size) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return false;
    mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    size = static_cast<std::int64_t>(st.st_size);
    return true;
  }

  // (Re)reads a table's file; on failure leaves `t` as it was and sets *error.
  static bool load(Table& t, std::string* error) {
    std::int64_t mtime = 0, size = 0;
    if (!stat_file(t.file, mtime, size)) {
      *error = "cannot read " + t.file;
      return false;
    }
    std::ifstream in(t.file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      *error = "cannot read " + t.file;
      return false;
    }
    try {
      std::vector<std::string> header;
      std::vector<json> rows = t.is_json ? parse_json_rows(ss.str()) : parse_csv(ss.str(), header);
      std::set<std::string> columns(header.begin(), header.end());
      for (const auto& r : rows)
        for (const auto& [k, v] : r.items()) columns.insert(k);
      t.rows = std::move(rows);
      t.columns = std::move(columns);
      t.mtime_ns = mtime;
      t.size = size;
      return true;
    } catch (const std::exception& e) {
      *error = t.file + ": " + e.what();
      return false;
    }
  }

  void refresh(Table& t) {
    std::int64_t mtime = 0, size = 0;
    bool present = stat_file(t.file, mtime, size);
    if (present && mtime == t.mtime_ns && size == t.size) return;
    if (!present) mtime = -3, size = -3;
    if (mtime == t.bad_mtime_ns && size == t.bad_size) return;  // broken version, already reported
    Table next = t;
    std::string error;
    if (present && load(next, &error)) {
      std::string missing;
      for (const auto& [name, q] : queries_)
        if (q.table == t.name && (missing = unknown_column(next, q)).empty() == false) break;
      if (missing.empty()) {
        t = std::move(next);
        host_.log(LogLevel::info, "table " + t.name + " reloaded from " + t.file + " (" +
                                      std::to_string(t.rows.size()) + " rows)");
        return;
      }
      error = t.file + ": the new version has no column \"" + missing + "\" that a query uses";
    } else if (!present) {
      error = "cannot read " + t.file;
    }
    t.bad_mtime_ns = mtime;
    t.bad_size = size;
    host_.log(LogLevel::warning, "table " + t.name + ": keeping the previous data (" +
                                     std::to_string(t.rows.size()) + " rows): " + error);
  }

  Host host_;
  std::map<std::string, Table> tables_;
  std::map<std::string, QuerySpec> queries_;
  std::mutex mu_;
};

}  // namespace

BIHUAN_PLUGIN(
    CsvSource, "source.csv", "1.0.0", kSchema,
    "Named equality queries over tables loaded from CSV or JSON files, reloaded when they change")
