// Writes a generated city (demo_city.hpp) as CSV files, one SQLite database and an engine
// configuration that serves it through the bundled source.sqlite plugin.
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "bihuan/json.hpp"
#include "demo_city.hpp"

namespace bihuan::cli::demo {
namespace {

using Row = std::vector<std::string>;

struct Table {
  std::string name;
  Row columns;
  std::vector<Row> rows;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::vector<Table> tables_of(const City& c) {
  std::vector<Table> t;
  t.push_back({"regions", {"id", "name", "kind", "parentId", "path"}, {}});
  for (const auto& x : c.regions)
    t.back().rows.push_back({x.id, x.name, x.kind, x.parent_id, region_path(c, x.id)});
  t.push_back({"stations", {"id", "name", "townships"}, {}});
  for (const auto& x : c.stations) t.back().rows.push_back({x.id, x.name, x.townships});
  t.push_back({"cadres",
               {"id", "name", "level", "regionId", "townshipId", "villageId", "adminId",
                "upperAdminId", "signatoryId", "startAt", "endAt", "replaces"},
               {}});
  for (const auto& x : c.cadres)
    t.back().rows.push_back({x.id, x.name, x.level, x.region_id, x.township_id, x.village_id,
                             x.admin_id, x.upper_admin_id, x.signatory_id, x.start_at, x.end_at,
                             x.replaces});
  t.push_back({"businesses",
               {"id", "name", "grade", "type", "riskLevel", "townshipId", "villageId", "stationId",
                "principalId", "directorId", "officerId", "requiresDirector", "closedOn"},
               {}});
  for (const auto& x : c.businesses)
    t.back().rows.push_back({x.id, x.name, x.grade, x.type, x.risk_level, x.township_id,
                             x.village_id, x.station_id, x.principal_id, x.director_id,
                             x.officer_id, x.requires_director ? "1" : "0", x.closed_on});
  t.push_back({"bindings", {"id", "cadreId", "businessId", "level", "startAt", "endAt"}, {}});
  for (const auto& x : c.bindings)
    t.back().rows.push_back({x.id, x.cadre_id, x.business_id, x.level, x.start_at, x.end_at});
  t.push_back({"units", {"id", "name", "kind", "clerkId", "reviewerId", "upperAdminId"}, {}});
  for (const auto& x : c.units)
    t.back().rows.push_back({x.id, x.name, x.kind, x.clerk_id, x.reviewer_id, x.upper_admin_id});
  return t;
}

// The scheduler's query (workflows/food-safety/scheduler.json): active bindings of open
// businesses at :asOf, optionally of some cadre levels and business grades (:levels, :grades,
// JSON arrays; [] = all; a binding's grade is its business's baobaoGrade). unitPath is
// the organisation path of the business's village (its township if none).
const char* kActiveBindings =
    "SELECT b.id AS bindingId, c.id AS cadreId, c.name AS cadreName, c.level AS level, s.id AS "
    "businessId, "
    "s.name AS businessName, s.type AS businessType, s.riskLevel AS riskLevel, s.grade AS "
    "baobaoGrade, "
    "s.principalId AS principalId, c.adminId AS adminId, c.upperAdminId AS upperAdminId, "
    "s.stationId AS stationId, "
    "s.townshipId AS townshipId, s.villageId AS villageId, COALESCE(v.path, '') AS unitPath "
    "FROM bindings b JOIN cadres c ON c.id = b.cadreId JOIN businesses s ON s.id = b.businessId "
    "LEFT JOIN regions v ON v.id = (CASE WHEN s.villageId = '' THEN s.townshipId ELSE "
    "s.villageId END) "
    "WHERE b.startAt <= :asOf AND (b.endAt = '' OR b.endAt > :asOf) AND (s.closedOn = '' OR "
    "s.closedOn > :asOf) "
    "AND (:levels = '[]' OR c.level IN (SELECT value FROM json_each(:levels))) "
    "AND (:grades = '[]' OR s.grade IN (SELECT value FROM json_each(:grades))) AND :period IS NOT "
    "NULL "
    "ORDER BY b.id";

std::string write_sqlite(const std::vector<Table>& tables, const std::string& path) {
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::string e = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return path + ": " + e;
  }
  std::string error;
  auto exec = [&](const std::string& sql) {
    char* msg = nullptr;
    if (error.empty() && sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK)
      error = path + ": " + (msg ? msg : "error") + " in: " + sql.substr(0, 80);
    sqlite3_free(msg);
  };
  exec("BEGIN");
  for (const auto& t : tables) {
    std::string create = "CREATE TABLE " + t.name + " (",
                insert = "INSERT INTO " + t.name + " VALUES (";
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      create += (i ? ", " : "") + t.columns[i] + (i ? " TEXT NOT NULL" : " TEXT PRIMARY KEY");
      insert += i ? ", ?" : "?";
    }
    exec(create + ")");
    sqlite3_stmt* st = nullptr;
    if (error.empty() &&
        sqlite3_prepare_v2(db, (insert + ")").c_str(), -1, &st, nullptr) != SQLITE_OK)
      error = path + ": " + sqlite3_errmsg(db);
    for (const auto& row : t.rows) {
      if (!error.empty()) break;
      sqlite3_reset(st);
      for (std::size_t i = 0; i < row.size(); ++i)
        sqlite3_bind_text(st, int(i) + 1, row[i].c_str(), int(row[i].size()), SQLITE_TRANSIENT);
      if (sqlite3_step(st) != SQLITE_DONE) error = path + ": " + sqlite3_errmsg(db);
    }
    sqlite3_finalize(st);
  }
  exec("CREATE INDEX bindings_cadre ON bindings (cadreId)");
  exec("COMMIT");
  sqlite3_close(db);
  return error;
}

}  // namespace

std::string write_city(const City& city, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return dir + ": " + ec.message();
  auto tables = tables_of(city);
  for (const auto& t : tables) {
    std::ofstream out(dir + "/" + t.name + ".csv", std::ios::binary | std::ios::trunc);
    auto line = [&](const Row& r) {
      for (std::size_t i = 0; i < r.size(); ++i) out << (i ? "," : "") << csv_field(r[i]);
      out << "\r\n";
    };
    line(t.columns);
    for (const auto& r : t.rows) line(r);
    if (!out) return dir + "/" + t.name + ".csv: write failed";
  }
  std::string db = std::filesystem::absolute(dir + "/city.sqlite").lexically_normal().string();
  if (auto e = write_sqlite(tables, db); !e.empty()) return e;
  json config = {
      {"plugins",
       {{"master-data",
         {{"plugin", "source.sqlite"},
          {"config",
           {{"database", db},
            {"maxRows", 100000},
            {"queries",
             {{"active_bindings",
               {{"sql", kActiveBindings}, {"params", {"asOf", "grades", "levels", "period"}}}},
              {"units", {{"sql", "SELECT * FROM units ORDER BY id"}}},
              {"cadres", {{"sql", "SELECT * FROM cadres ORDER BY id"}}},
              {"businesses", {{"sql", "SELECT * FROM businesses ORDER BY id"}}}}}}}}},
        {"notify-log",
         {{"plugin", "notify.log"},
          {"config",
           {{"path", std::filesystem::absolute(dir + "/notifications.jsonl")
                         .lexically_normal()
                         .string()}}}}}}}};
  std::ofstream(dir + "/engine-config.json", std::ios::trunc) << config.dump(2) << "\n";
  return {};
}

}  // namespace bihuan::cli::demo
