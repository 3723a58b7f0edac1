// The city a simulation runs on (bihuan simulate): generated in-process from the demo
// generator (demo_city.hpp) or read back from a `bihuan demo-data` directory's CSV files,
// optionally cut down to some townships (the QUICK setting of the tests).
//
// Contract: load_city_csv() reads regions/stations/cadres/businesses/bindings/units.csv
// as write_city() wrote them (columns by header name) and returns "" or an error
// sentence. subset() keeps the businesses of the given township ids, their bindings, the
// cadres bound to them (and their replacements), the regions and units of those
// townships and every station; an empty set keeps everything.
#pragma once

#include <set>
#include <string>

#include "demo_city.hpp"

namespace bihuan::cli::sim {

std::string load_city_csv(const std::string& dir, demo::City& out);
demo::City subset(const demo::City& city, const std::set<std::string>& townships);

}  // namespace bihuan::cli::sim
