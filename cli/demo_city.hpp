// A deterministic, seeded Golmud-shaped city (DOMAIN §7): regions (prefecture → city →
// 10 township-level units → 61 villages; 71 responsible units), regulator stations,
// 2,397 businesses (包保 grade A 4, B 21, C 59, D 2,313; types; an independent risk level),
// 429 cadres (B 16, C 36, D 377) plus prefecture cadres for grade A, one binding per
// business, and seeded changes during 2023 (cadre churn about 2% a quarter with
// replacement cadres, 2-3% of businesses closing mid-year) as dated bindings.
//
// Contract: the same seed gives the same city, byte for byte, on every platform (own
// PRNG, no std distributions). Times are ISO 8601 text at +08:00, so string order is time
// order. Nothing here knows the engine: the city is master data, loaded through a
// data-source plugin (source.sqlite or source.csv).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bihuan::cli::demo {

// splitmix64: tiny, fast, identical everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
  double unit() { return double(next() >> 11) / double(1ull << 53); }  // [0, 1)
  bool chance(double p) { return unit() < p; }

 private:
  std::uint64_t s_;
};

struct Region {
  std::string id, name, kind,
      parent_id;  // kind: prefecture | city | street | town | township | zone | village
};
struct Station {
  std::string id, name, townships;  // townships: ids joined by '|'
};
struct Cadre {
  std::string id, name, level, region_id, township_id, village_id;
  std::string admin_id, upper_admin_id, signatory_id;
  std::string start_at, end_at, replaces;  // end_at "" = still serving
};
struct Business {
  std::string id, name, grade, type, risk_level, township_id, village_id, station_id;
  std::string principal_id, director_id, officer_id, closed_on;  // closed_on "" = open
  bool requires_director = false;
};
struct Binding {
  std::string id, cadre_id, business_id, level, start_at, end_at;
};
struct Unit {  // responsible unit (责任清单 filer)
  std::string id, name, kind, clerk_id, reviewer_id, upper_admin_id;
};

struct City {
  std::vector<Region> regions;
  std::vector<Station> stations;
  std::vector<Cadre> cadres;
  std::vector<Business> businesses;
  std::vector<Binding> bindings;
  std::vector<Unit> units;
};

City generate_city(std::uint64_t seed);

// The organisation path of a region: its id and its ancestors' ids from the root, joined
// by '/' ("HX", "HX/GM", "HX/GM/T03", "HX/GM/T03/V012"): the `unitPath` of the instances
// that belong to it (docs/authorization.md). "" for an unknown id (or an empty one).
std::string region_path(const City& city, const std::string& region_id);

// Writes regions/stations/cadres/businesses/bindings/units as CSV (RFC 4180, UTF-8) and
// the same tables as one SQLite database, plus engine-config.json naming the data source
// "master-data" (source.sqlite, query active_bindings) and the notifier "notify-log".
// Returns "" or an error sentence.
std::string write_city(const City& city, const std::string& dir);

}  // namespace bihuan::cli::demo
