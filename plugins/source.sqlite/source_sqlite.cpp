// source.sqlite: answers named, parameterised queries that the administrator wrote in the
// configuration, against a SQLite database file, read-only.
//
// Config: {"database": "/path/db.sqlite", "timeoutMs": 5000, "maxRows": 10000,
//          "queries": {"business-by-id": {"sql": "SELECT * FROM business WHERE id = :id",
//                                         "params": ["id"]}}}
// - The database is opened with SQLITE_OPEN_READONLY and PRAGMA query_only; every query is
//   prepared at start, so a missing file, bad SQL, a statement that writes, a positional
//   "?" parameter, or a `params` list that differs from the SQL's :named parameters refuses
//   the configuration with the query's name.
// - A call binds params by name (":id", "@id" or "$id" in SQL; "id" in the params object):
//   strings as TEXT, integers as INTEGER, other numbers as REAL, booleans as 0/1, null as
//   NULL, arrays/objects as their JSON text. A missing or unknown parameter, or an unknown
//   query name, fails with a sentence saying which.
// - Rows come back as JSON objects by column name: INTEGER and REAL as numbers, TEXT as
//   strings, NULL as null, BLOB as base64 text.
// - Each call is bounded by timeoutMs (sqlite3_progress_handler interrupts it) and maxRows.
// Thread-safety: one connection; calls are serialised by a mutex.
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "bihuan/plugin/sdk.hpp"

namespace {

using namespace bihuan::plugin;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kSchema = R"json({
  "type": "object",
  "required": ["database", "queries"],
  "additionalProperties": false,
  "properties": {
    "database": {"type": "string", "minLength": 1, "description": "the SQLite file (opened read-only)"},
    "timeoutMs": {"type": "integer", "minimum": 1, "description": "per query (default 5000)"},
    "maxRows": {"type": "integer", "minimum": 1, "description": "a query returning more fails (default 10000)"},
    "queries": {
      "type": "object",
      "minProperties": 1,
      "additionalProperties": {
        "type": "object",
        "required": ["sql"],
        "additionalProperties": false,
        "properties": {
          "sql": {"type": "string", "minLength": 1},
          "params": {"type": "array", "items": {"type": "string"}, "description": "its :named parameters"}
        }
      }
    }
  }
})json";

std::string base64(const unsigned char* p, int n) {
  static constexpr char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (int i = 0; i < n; i += 3) {
    unsigned v = p[i] << 16;
    if (i + 1 < n) v |= p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += i + 1 < n ? t[(v >> 6) & 63] : '=';
    out += i + 2 < n ? t[v & 63] : '=';
  }
  return out;
}

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  std::map<std::string, int> params;  // name without prefix -> bind index
};

class SqliteSource final : public DataSource {
 public:
  explicit SqliteSource(const Host& host) {
    path_ = host.config_or("/database", "");
    timeout_ = std::chrono::milliseconds(std::stoll(host.config_or("/timeoutMs", "5000")));
    max_rows_ = std::stoll(host.config_or("/maxRows", "10000"));
    if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      close();
      throw std::runtime_error("cannot open the database " + path_ + " read-only: " + why);
    }
    exec("PRAGMA query_only = 1");
    exec("SELECT count(*) FROM sqlite_schema");  // a file that is not a database fails here
    sqlite3_progress_handler(db_, 1000, &SqliteSource::progress, this);
    try {
      json config = json::parse(host.config_json());
      for (const auto& [name, q] : config["queries"].items()) prepare(name, q);
    } catch (...) {
      close();
      throw;
    }
  }
  ~SqliteSource() override { close(); }
  SqliteSource(const SqliteSource&) = delete;
  SqliteSource& operator=(const SqliteSource&) = delete;

  Result query(const Query& q) override {
    auto it = statements_.find(std::string(q.name));
    if (it == statements_.end()) {
      std::string known;
      for (const auto& [name, s] : statements_) known += (known.empty() ? "" : ", ") + name;
      return Result::fail("unknown query \"" + std::string(q.name) + "\" (configured: " + known +
                          ")");
    }
    json params = json::parse(q.params_json, nullptr, false);
    if (!params.is_object())
      return Result::fail("query " + it->first + ": params must be a JSON object");
    std::lock_guard lock(mu_);
    sqlite3_stmt* st = it->second.stmt;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (const auto& [name, value] : params.items())
      if (!it->second.params.count(name))
        return Result::fail("query " + it->first + " has no parameter \"" + name + "\"" +
                            expected(it->second));
    for (const auto& [name, index] : it->second.params) {
      if (!params.contains(name))
        return Result::fail("query " + it->first + " needs parameter \"" + name + "\"");
      bind(st, index, params[name]);
    }
    deadline_ = Clock::now() + timeout_;
    json rows = json::array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (static_cast<long long>(rows.size()) >= max_rows_) {
        sqlite3_reset(st);
        return Result::fail("query " + it->first + " returned more than maxRows (" +
                            std::to_string(max_rows_) + ") rows");
      }
      json row = json::object();
      for (int c = 0, n = sqlite3_column_count(st); c < n; ++c)
        row[sqlite3_column_name(st, c)] = column(st, c);
      rows.push_back(std::move(row));
    }
    std::string error = sqlite3_errmsg(db_);
    sqlite3_reset(st);
    if (rc == SQLITE_INTERRUPT)
      return Result::fail("query " + it->first + " exceeded its time limit of " +
                          std::to_string(timeout_.count()) + " ms");
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
      return Result::retry("query " + it->first + ": database busy: " + error);
    if (rc != SQLITE_DONE) return Result::fail("query " + it->first + " failed: " + error);
    return Result::ok(rows.dump());
  }

 private:
  static int progress(void* self) {
    return Clock::now() > static_cast<SqliteSource*>(self)->deadline_ ? 1 : 0;
  }

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string why = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw std::runtime_error("database " + path_ + ": " + why);
    }
  }

  void prepare(const std::string& name, const json& q) {
    std::string sql = q["sql"].get<std::string>();
    Statement s;
    const char* tail = nullptr;
    deadline_ = Clock::now() + timeout_;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &s.stmt, &tail) != SQLITE_OK ||
        !s.stmt) {
      std::string why = s.stmt ? "" : sqlite3_errmsg(db_);
      sqlite3_finalize(s.stmt);
      throw std::runtime_error("query " + name + ": " + (why.empty() ? "the SQL is empty" : why));
    }
    statements_[name] = s;  // finalized by close() from here on
    if (tail && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos)
      throw std::runtime_error("query " + name + ": only one SQL statement is allowed");
    if (!sqlite3_stmt_readonly(s.stmt))
      throw std::runtime_error("query " + name +
                               ": the statement would write; only reads are allowed");
    for (int i = 1, n = sqlite3_bind_parameter_count(s.stmt); i <= n; ++i) {
      const char* p = sqlite3_bind_parameter_name(s.stmt, i);
      if (!p || p[0] == '?')
        throw std::runtime_error("query " + name + ": use named parameters (:name), not ?");
      statements_[name].params[p + 1] = i;
    }
    if (q.contains("params")) {
      std::set<std::string> listed;
      for (const auto& p : q["params"]) listed.insert(p.get<std::string>());
      std::set<std::string> in_sql;
      for (const auto& [p, i] : statements_[name].params) in_sql.insert(p);
      for (const auto& p : listed)
        if (!in_sql.count(p))
          throw std::runtime_error("query " + name + ": parameter \"" + p +
                                   "\" is listed but the SQL has no :" + p);
      for (const auto& p : in_sql)
        if (!listed.count(p))
          throw std::runtime_error("query " + name + ": the SQL uses :" + p +
                                   " but params does not list it");
    }
  }

  static std::string expected(const Statement& s) {
    std::string out;
    for (const auto& [name, i] : s.params) out += (out.empty() ? "" : ", ") + name;
    return out.empty() ? " (it takes none)" : " (it takes: " + out + ")";
  }

  static void bind(sqlite3_stmt* st, int i, const json& v) {
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    } else if (v.is_boolean()) {
      sqlite3_bind_int(st, i, v.get<bool>() ? 1 : 0);
    } else if (v.is_number_integer()) {
      sqlite3_bind_int64(st, i, v.get<sqlite3_int64>());
    } else if (v.is_number()) {
      sqlite3_bind_double(st, i, v.get<double>());
    } else if (v.is_null()) {
      sqlite3_bind_null(st, i);
    } else {
      std::string s = v.dump();
      sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
  }

  static json column(sqlite3_stmt* st, int c) {
    switch (sqlite3_column_type(st, c)) {
      case SQLITE_INTEGER:
        return sqlite3_column_int64(st, c);
      case SQLITE_FLOAT:
        return sqlite3_column_double(st, c);
      case SQLITE_TEXT:
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                           static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
      case SQLITE_BLOB:
        return base64(static_cast<const unsigned char*>(sqlite3_column_blob(st, c)),
                      sqlite3_column_bytes(st, c));
      default:
        return nullptr;
    }
  }

  void close() {
    for (auto& [name, s] : statements_) sqlite3_finalize(s.stmt);
    statements_.clear();
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, Statement> statements_;
  std::chrono::milliseconds timeout_{5000};
  long long max_rows_ = 10000;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::mutex mu_;
};

}  // namespace

BIHUAN_PLUGIN(SqliteSource, "source.sqlite", "1.0.0", kSchema,
              "Named, parameterised read-only queries against a SQLite database")
