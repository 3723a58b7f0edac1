// The Golmud-shaped city generator (demo_city.hpp). Counts are fixed by the city report;
// everything else (names, types, risk levels, loads, churn, closures) comes from the seed.
#include "demo_city.hpp"

#include <array>
#include <cstdio>

namespace bihuan::cli::demo {
namespace {

std::string num(const char* prefix, int n, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%0*d", prefix, width, n);
  return buf;
}

// A date in 2023 from a day-of-year (0-based), as local midnight.
std::string day_of_2023(int doy) {
  static const std::array<int, 12> len = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int m = 0;
  while (m < 11 && doy >= len[m]) doy -= len[m++];
  char buf[40];
  std::snprintf(buf, sizeof buf, "2023-%02d-%02dT00:00:00+08:00", m + 1, doy + 1);
  return buf;
}

const char* kSurnames[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄",
                           "周", "吴", "马", "韩", "才", "索", "更"};
const char* kGiven[] = {"建国", "海燕", "志强", "秀英", "玉兰", "德明",
                        "卓玛", "扎西", "文华", "桂芳", "永红", "国庆"};
std::string person(Rng& r) {
  return std::string(kSurnames[r.below(std::size(kSurnames))]) + kGiven[r.below(std::size(kGiven))];
}

struct Township {
  const char* id;
  const char* name;
  const char* kind;
  int villages;
  int c_cadres;
};
// 10 township-level units (5 streets, 2 towns, 2 townships, 1 development zone) with 61
// villages/communities in all, and 36 township-level cadres.
const Township kTownships[] = {
    {"T01", "昆仑路街道", "street", 8, 4},   {"T02", "黄河路街道", "street", 7, 4},
    {"T03", "金峰路街道", "street", 6, 4},   {"T04", "河西街道", "street", 7, 4},
    {"T05", "西藏路街道", "street", 6, 4},   {"T06", "郭勒木德镇", "town", 9, 4},
    {"T07", "唐古拉山镇", "town", 4, 3},     {"T08", "大格勒乡", "township", 6, 3},
    {"T09", "乌图美仁乡", "township", 5, 3}, {"T10", "昆仑经济技术开发区", "zone", 3, 3},
};

const char* kTypesAB[] = {"producer", "supermarket", "large_canteen"};
const char* kTypesC[] = {"restaurant", "retailer", "school_canteen", "restaurant"};
const char* kTypesD[] = {"small_restaurant", "small_restaurant", "small_workshop", "stall",
                         "grocery",          "grocery"};

std::string risk(Rng& r) {  // A 20%, B 50%, C 25%, D 5%
  double u = r.unit();
  return u < 0.20 ? "A" : u < 0.70 ? "B" : u < 0.95 ? "C" : "D";
}

}  // namespace

City generate_city(std::uint64_t seed) {
  Rng r(seed ? seed : 1);
  City c;
  const std::string start = "2022-11-15T00:00:00+08:00";
  c.regions.push_back({"HX", "海西州", "prefecture", ""});
  c.regions.push_back({"GM", "格尔木市", "city", "HX"});
  std::vector<std::string> village_ids, village_township, village_names;
  int vn = 0;
  for (const auto& t : kTownships) {
    c.regions.push_back({t.id, t.name, t.kind, "GM"});
    for (int i = 0; i < t.villages; ++i) {
      std::string vid = num("V", ++vn, 3);
      village_names.push_back(std::string(t.name) + "第" + std::to_string(i + 1) +
                              (t.kind == std::string("street") ? "社区" : "村"));
      c.regions.push_back({vid, village_names.back(), "village", t.id});
      village_ids.push_back(vid);
      village_township.push_back(t.id);
    }
  }
  for (int s = 0; s < 5; ++s)
    c.stations.push_back({num("ST", s + 1, 2),
                          std::string("格尔木市场监督管理局第") + std::to_string(s + 1) + "监管所",
                          std::string(kTownships[2 * s].id) + "|" + kTownships[2 * s + 1].id});
  auto station_of = [](const std::string& township) {
    return num("ST", (std::stoi(township.substr(1)) + 1) / 2, 2);
  };

  // Responsible units: 10 township-level + 61 villages = 71.
  for (const auto& t : kTownships)
    c.units.push_back({t.id, t.name, "township", "clerk-" + std::string(t.id), "adm-GM", "adm-HX"});
  for (std::size_t i = 0; i < village_ids.size(); ++i)
    c.units.push_back({village_ids[i], village_names[i], "village", "clerk-" + village_ids[i],
                       "adm-" + village_township[i], "adm-GM"});

  // Cadres: prefecture 3 (grade A), city 16 (B), township 36 (C), village 377 (D).
  std::vector<int> pref, city, town, vill;
  auto add_cadre = [&](const std::string& id, const std::string& level, const std::string& region,
                       const std::string& township, const std::string& village) {
    Cadre k{id, person(r), level, region, township, village, "", "", "", start, "", ""};
    if (level == "prefecture")
      k.admin_id = "adm-HX", k.upper_admin_id = "adm-QH", k.signatory_id = "sig-HX";
    else if (level == "city")
      k.admin_id = "adm-GM", k.upper_admin_id = "adm-HX", k.signatory_id = "sig-GM";
    else if (level == "township")
      k.admin_id = "adm-" + township, k.upper_admin_id = "adm-GM",
      k.signatory_id = "sig-" + township;
    else
      k.admin_id = "adm-" + township, k.upper_admin_id = "adm-GM",
      k.signatory_id = "sig-" + village;
    c.cadres.push_back(k);
    return int(c.cadres.size()) - 1;
  };
  for (int i = 1; i <= 3; ++i)
    pref.push_back(add_cadre(num("CA", i, 3), "prefecture", "HX", "", ""));
  for (int i = 1; i <= 16; ++i) city.push_back(add_cadre(num("CB", i, 3), "city", "GM", "", ""));
  int cn = 0;
  for (const auto& t : kTownships)
    for (int i = 0; i < t.c_cadres; ++i)
      town.push_back(add_cadre(num("CC", ++cn, 3), "township", t.id, t.id, ""));
  // 377 village cadres over 61 villages: 11 villages with 7, 50 with 6.
  int dn = 0;
  for (std::size_t v = 0; v < village_ids.size(); ++v)
    for (int i = 0; i < (v < 11 ? 7 : 6); ++i)
      vill.push_back(add_cadre(num("CD", ++dn, 4), "village", village_ids[v], village_township[v],
                               village_ids[v]));

  // Businesses, each bound to one cadre of its grade's level.
  int bn = 0;
  auto add_business = [&](const std::string& grade, int cadre_index, const char* type) {
    const Cadre& k = c.cadres[cadre_index];
    Business b;
    b.id = num("B", ++bn, 4);
    b.grade = grade;
    b.type = type;
    b.risk_level = risk(r);
    std::size_t v = k.village_id.empty() ? 0 : std::size_t(std::stoi(k.village_id.substr(1)) - 1);
    if (k.village_id.empty()) {  // A/B/C: a village of the cadre's township (any for A/B)
      do v = r.below(village_ids.size());
      while (!k.township_id.empty() && village_township[v] != k.township_id);
    }
    b.village_id = village_ids[v];
    b.township_id = village_township[v];
    b.station_id = station_of(b.township_id);
    b.name = std::string(kSurnames[r.below(std::size(kSurnames))]) + "记" +
             (b.type == "school_canteen"   ? "学校食堂"
              : b.type == "producer"       ? "食品厂"
              : b.type == "supermarket"    ? "超市"
              : b.type == "stall"          ? "摊点"
              : b.type == "grocery"        ? "便利店"
              : b.type == "small_workshop" ? "小作坊"
                                           : "餐馆") +
             b.id.substr(1);
    b.principal_id = "P-" + b.id;
    b.officer_id = "O-" + b.id;
    b.requires_director = grade == "A" || grade == "B" || (b.type == "school_canteen") ||
                          (grade == "C" && r.chance(0.3));
    if (b.requires_director) b.director_id = "DR-" + b.id;
    c.businesses.push_back(b);
    c.bindings.push_back({num("BD", bn, 4), k.id, b.id, k.level, start, ""});
  };
  for (int i = 0; i < 4; ++i) add_business("A", pref[i % 3], kTypesAB[r.below(3)]);
  for (int i = 0; i < 21; ++i) add_business("B", city[i % 16], kTypesAB[r.below(3)]);
  for (int i = 0; i < 59; ++i)
    add_business("C", town[i < 36 ? i : r.below(36)], kTypesC[r.below(4)]);
  // D: every village cadre gets at least one; the rest skewed (weight 1..20, squared).
  std::vector<std::uint64_t> weight(vill.size());
  std::uint64_t total = 0;
  for (auto& w : weight) total += (w = 1 + r.below(20) * r.below(20) / 19);
  for (std::size_t i = 0; i < vill.size(); ++i) add_business("D", vill[i], kTypesD[r.below(6)]);
  for (int i = int(vill.size()); i < 2313; ++i) {
    std::uint64_t x = r.below(total);
    std::size_t k = 0;
    while (x >= weight[k]) x -= weight[k++];
    add_business("D", vill[k], kTypesD[r.below(6)]);
  }

  // 2023 changes. Closures: 2.5% of businesses close on a day between March and October.
  for (auto& b : c.businesses)
    if (r.chance(0.025)) b.closed_on = day_of_2023(59 + int(r.below(245)));
  for (auto& bd : c.bindings) {
    const Business& b = c.businesses[std::stoi(bd.business_id.substr(1)) - 1];
    if (!b.closed_on.empty()) bd.end_at = b.closed_on;
  }
  // Churn: each quarter about 2% of cadres leave; a replacement takes over their open
  // bindings on the same day (re-binding), and signs a new letter.
  int rn = 0;
  std::size_t initial = c.cadres.size();
  for (int q = 0; q < 4; ++q)
    for (std::size_t i = 0; i < initial; ++i) {
      if (!c.cadres[i].end_at.empty() || !r.chance(0.02)) continue;
      std::string when = day_of_2023(q * 91 + 5 + int(r.below(80)));
      Cadre next = c.cadres[i];
      next.id = num("CN", ++rn, 3);
      next.name = person(r);
      next.start_at = when;
      next.replaces = c.cadres[i].id;
      c.cadres[i].end_at = when;
      std::size_t nb = c.bindings.size();
      for (std::size_t j = 0; j < nb; ++j) {
        Binding old = c.bindings[j];
        if (old.cadre_id != c.cadres[i].id || (!old.end_at.empty() && old.end_at <= when)) continue;
        c.bindings[j].end_at = when;
        c.bindings.push_back({num("BN", int(c.bindings.size()) + 1, 4), next.id, old.business_id,
                              old.level, when, old.end_at});
      }
      c.cadres.push_back(next);
    }
  return c;
}

std::string region_path(const City& city, const std::string& region_id) {
  std::string path, id = region_id;
  for (std::size_t depth = 0; !id.empty() && depth <= city.regions.size(); ++depth) {
    const Region* r = nullptr;
    for (const auto& x : city.regions)
      if (x.id == id) r = &x;
    if (!r) return "";
    path = path.empty() ? r->id : r->id + "/" + path;
    id = r->parent_id;
  }
  return path;
}

}  // namespace bihuan::cli::demo
