// Reading a demo city back from CSV, and cutting it down (simulate_city.hpp).
#include "simulate_city.hpp"

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace bihuan::cli::sim {
namespace {

using Row = std::map<std::string, std::string>;

// RFC 4180: quoted fields may hold commas, quotes ("") and line breaks.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field)), field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      rows.back().push_back(std::move(field)), field.clear();
      rows.emplace_back();
    } else {
      field += c, any = true;
    }
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(std::move(field));
  if (rows.back().empty()) rows.pop_back();
  (void)any;
  return rows;
}

std::string read_table(const std::string& dir, const std::string& name, std::vector<Row>& out) {
  std::ifstream in(dir + "/" + name + ".csv", std::ios::binary);
  if (!in)
    return dir + "/" + name + ".csv: cannot read (write it with bihuan demo-data --out " + dir +
           ")";
  std::stringstream s;
  s << in.rdbuf();
  auto rows = parse_csv(s.str());
  if (rows.empty()) return dir + "/" + name + ".csv: no header";
  for (std::size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() != rows[0].size())
      return dir + "/" + name + ".csv: line " + std::to_string(r + 1) + " has " +
             std::to_string(rows[r].size()) + " fields, the header " +
             std::to_string(rows[0].size());
    Row row;
    for (std::size_t i = 0; i < rows[0].size(); ++i) row[rows[0][i]] = rows[r][i];
    out.push_back(std::move(row));
  }
  return {};
}

}  // namespace

std::string load_city_csv(const std::string& dir, demo::City& c) {
  std::vector<Row> t;
  auto load = [&](const char* name) {
    t.clear();
    return read_table(dir, name, t);
  };
  if (auto e = load("regions"); !e.empty()) return e;
  for (auto& r : t) c.regions.push_back({r["id"], r["name"], r["kind"], r["parentId"]});
  if (auto e = load("stations"); !e.empty()) return e;
  for (auto& r : t) c.stations.push_back({r["id"], r["name"], r["townships"]});
  if (auto e = load("cadres"); !e.empty()) return e;
  for (auto& r : t)
    c.cadres.push_back({r["id"], r["name"], r["level"], r["regionId"], r["townshipId"],
                        r["villageId"], r["adminId"], r["upperAdminId"], r["signatoryId"],
                        r["startAt"], r["endAt"], r["replaces"]});
  if (auto e = load("businesses"); !e.empty()) return e;
  for (auto& r : t) {
    demo::Business b{r["id"],
                     r["name"],
                     r["grade"],
                     r["type"],
                     r["riskLevel"],
                     r["townshipId"],
                     r["villageId"],
                     r["stationId"],
                     r["principalId"],
                     r["directorId"],
                     r["officerId"],
                     r["closedOn"],
                     r["requiresDirector"] == "1"};
    c.businesses.push_back(b);
  }
  if (auto e = load("bindings"); !e.empty()) return e;
  for (auto& r : t)
    c.bindings.push_back(
        {r["id"], r["cadreId"], r["businessId"], r["level"], r["startAt"], r["endAt"]});
  if (auto e = load("units"); !e.empty()) return e;
  for (auto& r : t)
    c.units.push_back(
        {r["id"], r["name"], r["kind"], r["clerkId"], r["reviewerId"], r["upperAdminId"]});
  return {};
}

demo::City subset(const demo::City& city, const std::set<std::string>& townships) {
  if (townships.empty()) return city;
  demo::City c;
  c.stations = city.stations;
  std::set<std::string> villages, businesses, cadres;
  for (const auto& r : city.regions)
    if (r.kind != "village" || townships.count(r.parent_id)) {
      if (r.kind == "village") villages.insert(r.id);
      if (r.kind == "village" || townships.count(r.id) || r.kind == "city" ||
          r.kind == "prefecture")
        c.regions.push_back(r);
    }
  for (const auto& b : city.businesses)
    if (townships.count(b.township_id)) c.businesses.push_back(b), businesses.insert(b.id);
  for (const auto& b : city.bindings)
    if (businesses.count(b.business_id)) c.bindings.push_back(b), cadres.insert(b.cadre_id);
  for (const auto& k : city.cadres)
    if (cadres.count(k.id)) c.cadres.push_back(k);
  for (const auto& u : city.units)
    if (townships.count(u.id) || villages.count(u.id)) c.units.push_back(u);
  return c;
}

}  // namespace bihuan::cli::sim
