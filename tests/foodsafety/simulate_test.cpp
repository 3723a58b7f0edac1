// Oracles over a simulated year (`bihuan simulate`), on a QUICK setting: one township
// (T07, about 170 businesses) up to mid-July 2023 (the December round, Q1, Q2, Q3's start).
// The command runs as a user would run it; the checks read its statistics JSON, the city
// files it wrote, and the engine's data directory it left behind:
// - the same seed gives byte-identical statistics (once durable, once --nosync);
// - each round's frozen denominator = active bindings at the round's start (counted from
//   the city's CSV files, independently of the engine) = tasks the scheduler spawned;
// - township roll-ups sum to the city total, for every period, level and count;
// - every closed problem has re-check >= evidence >= claim times;
// - --compliant gives 100% signing, filing and second-quarter supervision; the default
//   behaviour shows shortfalls.
#include <cstdlib>

#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

const char* kQuick = " --townships T07 --end 2023-07-15T00:00:00+08:00 --seed 7";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs bihuan simulate into a fresh directory; returns the exit status.
int simulate(const std::string& dir, const std::string& extra) {
  std::string cmd = std::string(BIHUAN_CLI) + " simulate -q --data " + dir + "/run --json " + dir +
                    "/stats.json" +
                    " --workflows " BIHUAN_SOURCE_DIR
                    "/workflows/food-safety --calendars " BIHUAN_SOURCE_DIR "/workflows/calendars" +
                    extra + " > " + dir + "/out.txt 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// T07's year (seed 7) as shipped and under a shipped policy (--compare, the data kept in
// <dir>/run): the --json document {policy, comparison, baseline, variant}, discarded when
// the run failed; the printout in <dir>/out.txt.
json compare_t07_year(const std::string& dir, const std::string& policy) {
  EXPECT_EQ(simulate(dir,
                     " --townships T07 --end 2023-12-31T00:00:00+08:00 --seed 7 --nosync "
                     "--keep --compare " BIHUAN_SOURCE_DIR "/workflows/food-safety/policies/" +
                         policy),
            0)
      << slurp(dir + "/out.txt");
  return json::parse(slurp(dir + "/stats.json"), nullptr, false);
}

// A CSV file as rows of named fields (the demo city has no quoted fields).
std::vector<std::map<std::string, std::string>> csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> f(1);
    for (char c : line) {
      if (c == ',')
        f.emplace_back();
      else
        f.back().push_back(c);
    }
    rows.push_back(f);
  }
  std::vector<std::map<std::string, std::string>> out;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    EXPECT_EQ(rows[r].size(), rows[0].size()) << path << " line " << r + 1;
    std::map<std::string, std::string> m;
    for (std::size_t i = 0; i < rows[0].size() && i < rows[r].size(); ++i)
      m[rows[0][i]] = rows[r][i];
    out.push_back(m);
  }
  return out;
}

class SimulateTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& d : dirs_) std::filesystem::remove_all(d);
  }
  std::string fresh() { return dirs_.emplace_back(make_temp_dir("sim")); }
  // With the clock at the quick run's end: a real clock would fire the timers due since.
  std::unique_ptr<Engine> open_engine(const std::string& dir,
                                      const char* end = "2023-07-15T00:00:00+08:00") {
    EngineOptions o;
    o.data_dir = dir + "/run/engine";
    o.clock = std::make_shared<VirtualClock>(at(end));
    o.calendars = shipped_calendars();
    Problems p;
    return Engine::open(o, p);
  }
  std::vector<std::string> dirs_;
};

TEST_F(SimulateTest, OraclesHoldAndTheSameSeedGivesIdenticalStatistics) {
  std::string a = fresh(), b = fresh();
  ASSERT_EQ(simulate(a, kQuick), 0) << slurp(a + "/out.txt");
  ASSERT_EQ(simulate(b, std::string(kQuick) + " --nosync"), 0) << slurp(b + "/out.txt");
  std::string sa = slurp(a + "/stats.json"), sb = slurp(b + "/stats.json");
  ASSERT_FALSE(sa.empty());
  if (sa != sb) {  // show where, and keep both files for a look
    std::size_t at_char = 0;
    while (at_char < sa.size() && at_char < sb.size() && sa[at_char] == sb[at_char]) ++at_char;
    std::ofstream(std::filesystem::temp_directory_path() / "bihuan-simulate-a.json") << sa;
    std::ofstream(std::filesystem::temp_directory_path() / "bihuan-simulate-b.json") << sb;
    ADD_FAILURE() << "same seed, different statistics from character " << at_char << ": \""
                  << sa.substr(at_char > 300 ? at_char - 300 : 0, 400) << "\" vs \""
                  << sb.substr(at_char > 300 ? at_char - 300 : 0, 400) << "\"";
  }
  json st = json::parse(sa);
  for (const auto& [name, o] : st["oracles"].items())
    EXPECT_TRUE(o["ok"].get<bool>()) << name << ": " << o.dump();

  auto engine = open_engine(a);
  ASSERT_TRUE(engine);
  // Nothing stepped after the end: not the run, and not the reopening for the statistics.
  {
    InstanceQuery all;
    all.limit = 1000;
    std::size_t seen = 0;
    for (;;) {
      auto page = engine->query(all);
      for (const auto& v : page.items) {
        ++seen;
        EXPECT_LE(v.updated_at, at("2023-07-15T00:00:00+08:00"))
            << v.id << " (" << v.definition << ", " << v.state << ") updated at "
            << format_time(v.updated_at, *TimeZone::utc());
      }
      if (page.next_cursor.empty()) break;
      all.cursor = page.next_cursor;
    }
    EXPECT_GT(seen, 100u);
  }
  auto scheduler = engine->get_by_business_key("scheduler/all/2023");
  ASSERT_TRUE(scheduler);
  const json& opened = scheduler->data["opened"];
  ASSERT_EQ(opened.size(), 4u) << "2022R1, 2023Q1, Q2, Q3 opened before mid-July";

  // Denominators: active bindings of open businesses at each round's start, from the CSV.
  auto bindings = csv(a + "/run/city/bindings.csv");
  std::map<std::string, std::string> closed_on;
  for (auto& biz : csv(a + "/run/city/businesses.csv")) closed_on[biz["id"]] = biz["closedOn"];
  InstanceQuery q;
  q.definition = "food-safety.supervision";
  q.limit = 1000;
  std::map<std::string, std::int64_t> spawned;
  for (;;) {
    auto page = engine->query(q);
    for (const auto& v : page.items)
      if (v.parent == scheduler->id) ++spawned[v.data["period"].get<std::string>()];
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  for (const auto& round : scheduler->data["rounds"]) {
    std::string period = round["period"], start = round["start"];
    if (*parse_time(start) > at("2023-07-15T00:00:00+08:00")) continue;
    std::int64_t active = 0;
    for (auto& bd : bindings) {
      auto s = *parse_time(bd["startAt"]), t0 = *parse_time(start);
      bool on = s <= t0 && (bd["endAt"].empty() || *parse_time(bd["endAt"]) > t0);
      std::string closed = closed_on[bd["businessId"]];
      if (on && (closed.empty() || *parse_time(closed) > t0)) ++active;
    }
    json frozen;
    for (const auto& o : opened)
      if (o["period"] == period) frozen = o["due"];
    EXPECT_EQ(frozen, active) << period;
    EXPECT_EQ(spawned[period], active) << period;
    EXPECT_EQ(st["city"]["byPeriod"][period]["all"]["due"], active) << period;
  }

  // Roll-ups: every count of the city is the sum over its townships.
  for (const auto& period : st["periods"])
    for (const auto& level : st["levels"]) {
      const json& city =
          st["city"]["byPeriod"][period.get<std::string>()][level.get<std::string>()];
      for (const auto& [field, value] : city.items()) {
        if (!value.is_number_integer()) continue;
        std::int64_t sum = 0;
        for (const auto& t : st["townships"])
          sum += t["byPeriod"][period.get<std::string>()][level.get<std::string>()][field]
                     .get<std::int64_t>();
        EXPECT_EQ(sum, value.get<std::int64_t>()) << period << " " << level << " " << field;
      }
    }

  // Closed problems: re-check >= evidence >= claim.
  q = {};
  q.definition = "food-safety.problem";
  q.limit = 1000;
  std::size_t closed = 0, rechecked = 0;
  for (;;) {
    auto page = engine->query(q);
    for (const auto& v : page.items) {
      if (v.outcome != "closed") continue;
      ++closed;
      const json& d = v.data;
      ASSERT_TRUE(d.contains("claimedAt")) << v.id;
      auto claim = *parse_time(d["claimedAt"].get<std::string>());
      EXPECT_GE(*parse_time(d["closedAt"].get<std::string>()), claim) << v.id;
      if (!d.contains("recheckedAt")) continue;  // closed by concluding a case
      ++rechecked;
      auto evidence = *parse_time(d["evidenceAt"].get<std::string>());
      EXPECT_GE(evidence, claim) << v.id;
      EXPECT_GE(*parse_time(d["recheckedAt"].get<std::string>()), evidence) << v.id;
    }
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  EXPECT_GT(closed, 10u);
  EXPECT_GT(rechecked, 10u);

  // The default behaviour falls short somewhere, as real cadres do.
  const json& q2 = st["city"]["byPeriod"]["2023Q2"]["all"];
  EXPECT_LT(q2["supervisionOnTime"].get<double>(), 1.0);
  EXPECT_GT(q2["supervisionOnTime"].get<double>(), 0.8);
  EXPECT_GT(q2["problemsFound"].get<int>(), 0);
  engine->close();
}

TEST_F(SimulateTest, CompliantActorsReproduceTheReportsHundredPercentShape) {
  std::string a = fresh();
  ASSERT_EQ(simulate(a, std::string(kQuick) + " --compliant --nosync"), 0) << slurp(a + "/out.txt");
  json st = json::parse(slurp(a + "/stats.json"));
  for (const char* period : {"2022R1", "2023Q1", "2023Q2"}) {
    const json& m = st["city"]["byPeriod"][period]["all"];
    EXPECT_EQ(m["signRate"], 1.0) << period;
    EXPECT_EQ(m["filingRate"], 1.0) << period;
    EXPECT_EQ(m["supervisionCompletion"], 1.0) << period;
    EXPECT_EQ(m["supervisionOnTime"], 1.0) << period;
    EXPECT_GT(m["lettersRequired"].get<int>(), 0) << period;
  }
  EXPECT_EQ(st["city"]["byPeriod"]["2022R1"]["all"]["listFilingRate"], 1.0);
  EXPECT_EQ(st["city"]["byPeriod"]["2023Q2"]["all"]["reopenRate"], 0.0);
  // The headline in the report's shape: every letter signed and filed, every unit's list
  // filed, Q2 fully covered; the only shortfall a partial period after the run's end.
  const json& hl = st["headline"];
  EXPECT_EQ(hl["letters"]["signed"], hl["letters"]["required"]);
  EXPECT_EQ(hl["letters"]["filed"], hl["letters"]["required"]);
  EXPECT_GT(hl["letters"]["required"].get<int>(), 0);
  EXPECT_EQ(hl["units"]["listsFiled"], hl["units"]["listsDue"]);
  EXPECT_EQ(hl["units"]["listsDue"], hl["units"]["total"]) << "one list per unit";
  EXPECT_EQ(hl["businesses"]["total"], st["city"]["businesses"]);
  json q2;
  for (const auto& p : hl["supervision"])
    if (p["period"] == "2023Q2") q2 = p;
  ASSERT_TRUE(q2.is_object());
  EXPECT_EQ(q2["visited"], q2["due"]);
  EXPECT_EQ(q2["coverage"], 1.0);
  for (const auto& g : hl["shortfalls"]) {
    std::string key = g["key"];
    EXPECT_TRUE(key.ends_with("/2023Q3") || key == "problemsOpen") << g.dump();
  }
}

// The year's risk-grade reviews and status changes (README (h), (i)): a review per business
// open on 2023-01-03, collecting the year's flags; proposed in December and approved, the
// business file taking the new grade; a closure cancels its business's review; moves and
// grade changes are reported and confirmed, late ones marked.
TEST_F(SimulateTest, RiskReviewsAndStatusChangesRunToTheirEnds) {
  const std::string year = " --townships T07 T08 --seed 7 --nosync";
  std::string d = fresh(), c = fresh();
  ASSERT_EQ(simulate(d, year), 0) << slurp(d + "/out.txt");
  json st = json::parse(slurp(d + "/stats.json"));
  const json& rr = st["riskReviews"];
  const json& sc = st["statusChanges"];
  ASSERT_GT(rr["opened"].get<int>(), 100);
  const int approved = rr["byState"].value("APPROVED", 0),
            cancelled = rr["byState"].value("CANCELLED", 0);
  EXPECT_EQ(approved + cancelled, rr["opened"].get<int>())
      << "every review ended by the statistics' day: " << rr.dump();
  EXPECT_EQ(cancelled, sc["close"]["byState"].value("CLOSED_OUT", -1))
      << "each confirmed closure cancels its review (every closure is after 2023-01-03)";
  EXPECT_EQ(rr["raised"].get<int>() + rr["unchanged"].get<int>() + rr["lowered"].get<int>(),
            approved);
  EXPECT_GT(rr["flaggedBusinesses"].get<int>(), 0) << "overdue rectifications flag the review";
  EXPECT_LE(rr["raised"].get<int>(), rr["flaggedBusinesses"].get<int>());
  EXPECT_GT(rr["raised"].get<int>(), 0);
  EXPECT_GT(rr["proposeOverdue"].get<int>(), 0) << "the late stations propose in January";
  int changes = 0;
  for (const char* kind : {"move", "grade"})
    if (sc.contains(kind)) {
      const json& k = sc[kind];
      changes += k["reported"].get<int>();
      EXPECT_EQ(k["byState"].value("CONFIRMED", 0) + k["byState"].value("WITHDRAWN", 0),
                k["reported"].get<int>())
          << kind << ": " << k.dump();
    }
  EXPECT_GT(changes, 0) << sc.dump();

  // The approved grade reached the business file.
  auto engine = open_engine(d, "2024-01-31T00:00:00+08:00");
  ASSERT_TRUE(engine);
  InstanceQuery q;
  q.definition = "food-safety.risk-review";
  q.limit = 1000;
  int checked = 0;
  for (const auto& v : engine->query(q).items) {
    if (v.state != "APPROVED" || v.data["proposedShift"] == 0) continue;
    auto file = engine->get_by_business_key("biz/" + v.data["businessId"].get<std::string>());
    ASSERT_TRUE(file) << v.business_key;
    EXPECT_EQ(file->data["riskLevel"], v.data["newLevel"]) << v.business_key;
    EXPECT_EQ(file->data["riskYear"], 2024) << v.business_key;
    ++checked;
  }
  EXPECT_GT(checked, 0);
  engine.reset();

  // Compliant: every proposal is in December, none overdue, none returned.
  ASSERT_EQ(simulate(c, year + " --compliant"), 0) << slurp(c + "/out.txt");
  json cr = json::parse(slurp(c + "/stats.json"))["riskReviews"];
  EXPECT_EQ(cr["proposeOverdue"], 0);
  EXPECT_EQ(cr["returned"], 0);
  EXPECT_EQ(cr["byState"].value("APPROVED", 0) + cr["byState"].value("CANCELLED", 0),
            cr["opened"].get<int>());
}

// The whole seeded city, compliant, to mid-July 2023: the headline reproduces the Golmud
// report's figures (DOMAIN §7): 2,397 businesses A4/B21/C59/D2313, 429 city cadres
// (16/36/377) plus the prefecture's 3 for grade A, 71 of 71 units' lists, every letter
// signed and filed, Q2 covered 100%.
TEST_F(SimulateTest, TheCompliantCityReproducesTheGolmudHeadline) {
  std::string d = fresh();
  ASSERT_EQ(simulate(d, " --compliant --nosync --end 2023-07-15T00:00:00+08:00"), 0)
      << slurp(d + "/out.txt");
  json hl = json::parse(slurp(d + "/stats.json"))["headline"];
  EXPECT_EQ(hl["businesses"]["total"], 2397);
  EXPECT_EQ(hl["businesses"]["byGrade"], json({{"A", 4}, {"B", 21}, {"C", 59}, {"D", 2313}}));
  EXPECT_EQ(hl["cadres"]["servingByLevel"],
            json({{"prefecture", 3}, {"city", 16}, {"township", 36}, {"village", 377}}));
  EXPECT_EQ(hl["cadres"]["total"].get<int>(), 432 + hl["cadres"]["replacements"].get<int>())
      << "the span's count differs by the replacements, and the note says so";
  EXPECT_FALSE(hl["cadres"]["notes"].empty());
  EXPECT_EQ(hl["units"]["total"], 71);
  EXPECT_EQ(hl["units"]["listsFiled"], 71);
  EXPECT_EQ(hl["letters"]["signed"], hl["letters"]["required"]);
  EXPECT_EQ(hl["letters"]["filed"], hl["letters"]["required"]);
  for (const auto& p : hl["supervision"])
    if (p["period"] != "2023Q3") {
      EXPECT_EQ(p["visited"], p["due"]) << p.dump();
      EXPECT_EQ(p["visitedOnTime"], p["due"]) << p.dump();
    }
}

// The default preset falls short, and the headline says where and why: each shortfall a
// count with its reason, and the counts add up to the figures they explain.
TEST_F(SimulateTest, TheDefaultPresetsShortfallsAreListedWithTheirReasons) {
  std::string d = fresh();
  ASSERT_EQ(simulate(d, std::string(kQuick) + " --nosync --csv " + d + "/csv"), 0)
      << slurp(d + "/out.txt");
  json st = json::parse(slurp(d + "/stats.json"));
  const json& hl = st["headline"];
  std::map<std::string, json> gaps;
  for (const auto& g : hl["shortfalls"]) gaps[g["key"]] = g;
  ASSERT_FALSE(gaps.empty());
  for (const auto& [key, g] : gaps) {
    EXPECT_GT(g["count"].get<int>(), 0) << key;
    EXPECT_FALSE(g["zh"].get<std::string>().empty()) << key;
    EXPECT_FALSE(g["en"].get<std::string>().empty()) << key;
  }
  int unsigned_letters =
      gaps.count("lettersUnsigned") ? gaps["lettersUnsigned"]["count"].get<int>() : 0;
  int unfiled = gaps.count("lettersNotFiled") ? gaps["lettersNotFiled"]["count"].get<int>() : 0;
  EXPECT_EQ(hl["letters"]["required"].get<int>() - unsigned_letters - unfiled,
            hl["letters"]["filed"].get<int>());
  for (const auto& p : hl["supervision"]) {
    std::string key = "notVisited/" + p["period"].get<std::string>();
    int missed = gaps.count(key) ? gaps[key]["count"].get<int>() : 0;
    EXPECT_EQ(p["due"].get<int>() - missed, p["visited"].get<int>()) << key;
  }
  EXPECT_TRUE(gaps.count("visitedLate/2023Q2")) << "the default preset visits some late";
  // The same figures in the CSV export.
  std::string head = slurp(d + "/csv/headline.csv");
  EXPECT_EQ(head.substr(0, 3), "\xEF\xBB\xBF") << "a BOM";
  EXPECT_NE(head.find("/letters/filed," + hl["letters"]["filed"].dump() + "\r\n"),
            std::string::npos);
}

}  // namespace

TEST_F(SimulateTest, ABadEndIsRefusedBeforeAnythingRuns) {
  std::string d = fresh();
  EXPECT_EQ(simulate(d, " --end 2023-13-45 --nosync"), 1);
  EXPECT_NE(slurp(d + "/out.txt").find("--end: \"2023-13-45\" is not an ISO 8601 time"),
            std::string::npos)
      << slurp(d + "/out.txt");
  EXPECT_FALSE(std::filesystem::exists(d + "/run/engine"));
}

TEST_F(SimulateTest, AnUnknownTownshipIsRefusedNotAnEmptyRun) {
  std::string d = fresh();
  EXPECT_EQ(simulate(d, " --townships T01 T99 --nosync"), 1);
  std::string out = slurp(d + "/out.txt");
  EXPECT_NE(out.find("--townships: no township \"T99\" in the city (its townships: T01 "),
            std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(d + "/run/engine"));
}

TEST_F(SimulateTest, WeeklyAndMonthlyRecordsRunBesideTheDailyOnes) {
  std::string d = fresh();
  ASSERT_EQ(simulate(d, " --townships T08 --end 2023-02-25T00:00:00+08:00 --daily --nosync"), 0)
      << slurp(d + "/out.txt");
  json st = json::parse(slurp(d + "/stats.json"));
  const json& sm = st["selfManagement"];
  std::size_t open = st["city"]["businesses"];
  ASSERT_GT(open, 0u);
  // Mondays from 2 January to 20 February 2023: 8; first days of January and February: 2.
  EXPECT_EQ(sm["weekly"], 8 * open) << sm;
  EXPECT_EQ(sm["monthly"], 2 * open) << sm;
  EXPECT_GT(sm["weeklyFiled"].get<std::size_t>(), sm["weekly"].get<std::size_t>() / 2) << sm;
  EXPECT_LT(sm["weeklyFiled"], sm["weekly"]) << "some weeks are missed: " << sm;
  EXPECT_GT(sm["monthlyHeld"].get<std::size_t>(), 0u) << sm;
  EXPECT_LE(sm["monthlyHeld"], sm["monthly"]) << sm;
  std::string out = slurp(d + "/out.txt");
  EXPECT_EQ(out.find("hold:"), std::string::npos) << "no refused minutes: " << out;
  EXPECT_EQ(out.find("submit: actor"), std::string::npos) << out;
}

// --compare: the same township and seed under the shipped definitions and under a policy
// (5 working days instead of 7 for a minor problem): the visits are the same, the
// rectification figures move, and the policy's patch reached the variant's definitions.
TEST_F(SimulateTest, ComparingAPolicyShowsWhatItChanges) {
  std::string d = fresh();
  json doc = compare_t07_year(d, "minor-5-days.json");
  ASSERT_FALSE(doc.is_discarded());
  std::string out = slurp(d + "/out.txt");
  EXPECT_NE(out.find("政策对比 Policy comparison: 5 working days"), std::string::npos) << out;
  std::map<std::string, json> rows;
  for (const auto& r : doc["comparison"]) rows[r["key"]] = r;
  EXPECT_EQ(rows["coverage"]["difference"], 0.0) << "the visits do not change";
  EXPECT_EQ(rows["problemsFound"]["difference"], 0.0);
  EXPECT_GT(rows["overdueRectifications"]["difference"].get<double>(), 0.0)
      << "a shorter deadline is missed more often";
  EXPECT_LT(rows["onTimeRectificationRate"]["difference"].get<double>(), 0.0);
  EXPECT_TRUE(rows.count("cadreSteps"));
  EXPECT_EQ(doc["baseline"]["city"]["byPeriod"]["year"]["all"]["overdueRectifications"],
            rows["overdueRectifications"]["baseline"]);
  std::string problem = slurp(d + "/run/variant-workflows/problem.json");
  EXPECT_NE(problem.find("\"P5D\""), std::string::npos);
  EXPECT_EQ(problem.find("\"P7D\""), std::string::npos);
}

// --compare with a plan (policies/monthly-grade-c.json): grade C is visited each month,
// the other grades each quarter. The variant's months are grade-C tasks only, with their own
// frozen denominators; the quarters no longer hold grade C; the comparison shows more
// grade-C visits and more visits per township cadre (grade C sits with township cadres).
TEST_F(SimulateTest, GradeCVisitedMonthlyShowsMoreGradeCVisitsSideBySide) {
  std::string d = fresh();
  json doc = compare_t07_year(d, "monthly-grade-c.json");
  ASSERT_FALSE(doc.is_discarded());
  std::string out = slurp(d + "/out.txt");
  FS_EXPECT_HAS(out, "政策对比 Policy comparison: grade C visited monthly");
  FS_EXPECT_HAS(out, "visits to grade C businesses");
  std::map<std::string, json> rows;
  for (const auto& r : doc["comparison"]) rows[r["key"]] = r;
  const json &base = doc["baseline"], &variant = doc["variant"];
  double c_base = rows["visits/C"]["baseline"].get<double>(),
         c_variant = rows["visits/C"]["variant"].get<double>();
  EXPECT_GT(c_base, 0.0) << "T07 has grade-C businesses";
  EXPECT_GT(c_variant, 2 * c_base) << "12 months instead of 4 quarters";
  EXPECT_EQ(rows["visits/D"]["difference"], 0.0) << "grade D is visited as before";
  EXPECT_GT(rows["visitsPerCadre/township"]["difference"].get<double>(), 0.0);
  EXPECT_EQ(rows["visitsPerCadre/village"]["difference"], 0.0);
  EXPECT_GT(rows["visits"]["difference"].get<double>(), 0.0);
  EXPECT_TRUE(rows.count("meanDaysToClose") && rows.count("coverage"));

  // The variant's periods: each month covers grade C only, with its own denominator; a
  // quarter's denominator is the other grades' (the baseline's quarter minus grade C).
  EXPECT_EQ(variant["periodScope"]["2023M03"]["grades"], json({"C"}));
  EXPECT_EQ(variant["periodScope"]["2023Q2"]["grades"], json({"A", "B", "D"}));
  EXPECT_FALSE(base["periodScope"].contains("2023Q2")) << "the baseline's rounds cover all";
  const json& vp = variant["city"]["byPeriod"];
  std::int64_t c_due = vp["2023M04"]["all"]["due"];
  EXPECT_GT(c_due, 0);
  EXPECT_EQ(vp["2023Q2"]["all"]["due"].get<std::int64_t>() + c_due,
            base["city"]["byPeriod"]["2023Q2"]["all"]["due"].get<std::int64_t>())
      << "no business closed or changed grade on April 1st, so the two add up";
  for (const auto& o : variant["oracles"]["denominators"]["periods"])
    EXPECT_EQ(o["frozen"], o["counted"]) << o;
  // The engine's tasks: every month's task is a grade-C binding's, no quarter's is.
  EngineOptions eo;
  eo.data_dir = d + "/run/variant/engine";
  eo.clock = std::make_shared<VirtualClock>(at("2023-12-31T00:00:00+08:00"));
  eo.calendars = shipped_calendars();
  Problems p;
  auto engine = Engine::open(eo, p);
  ASSERT_TRUE(engine);
  InstanceQuery q;
  q.definition = "food-safety.supervision";
  q.limit = 1000;
  std::size_t months = 0;
  for (;;) {
    auto page = engine->query(q);
    for (const auto& v : page.items) {
      std::string period = v.data["period"];
      if (period.rfind("2023M", 0) == 0) {
        ++months;
        EXPECT_EQ(v.data["baobaoGrade"], "C") << v.business_key;
      } else if (period.rfind("2023Q", 0) == 0) {
        EXPECT_NE(v.data["baobaoGrade"], "C") << v.business_key;
      }
    }
    if (page.next_cursor.empty()) break;
    q.cursor = page.next_cursor;
  }
  EXPECT_GE(months, 12 * std::size_t(c_due) - 2);
  engine->close();
}

TEST_F(SimulateTest, ABadPolicyIsRefusedWithItsPointerBeforeAnythingRuns) {
  std::string d = fresh();
  auto refused = [&](const std::string& policy, const std::string& expected) {
    std::ofstream(d + "/policy.json") << policy;
    EXPECT_EQ(simulate(d, " --townships T07 --nosync --compare " + d + "/policy.json"), 1)
        << policy;
    std::string out = slurp(d + "/out.txt");
    EXPECT_NE(out.find(expected), std::string::npos) << out;
  };
  refused(R"({"name": )", "policy.json:1:");  // not JSON: the file, line and column
  refused(R"({"name": "x", "deadline": 5})", "policy.json: /deadline: unknown member");
  refused(R"({"behaviour": {"reopen": "often"}})", "policy.json: /behaviour: ");
  refused(R"({"definitions": {"food-safety.nothing": []}})",
          "policy.json: /definitions/food-safety.nothing: no definition with that id");
  refused(R"({"definitions": {"food-safety.problem": [
            {"op": "test", "path": "/version", "value": 999}]}})",
          "policy.json: /definitions/food-safety.problem/0: the operation does not apply");
  // A plan naming a grade or level the scheme does not have, or leaving one without (or with
  // two) frequencies.
  refused(R"({"plan": [{"every": "quarter", "grades": ["A", "B", "D"]},
                       {"every": "month", "grades": ["C", "E"]}]})",
          "policy.json: /plan/1/grades/1: unknown business grade \"E\" (expected one of A, B, "
          "C, D)");
  refused(R"({"plan": [{"every": "month", "levels": ["province"]}]})",
          "policy.json: /plan/0/levels/0: unknown cadre level \"province\" (expected one of "
          "prefecture, city, county, township, village)");
  refused(R"({"plan": [{"every": "weekly"}]})",
          "policy.json: /plan/0/every: expected \"quarter\", \"month\", \"half-year\" or "
          "\"year\"");
  refused(R"({"plan": [{"every": "month", "grades": ["C"]}]})",
          "policy.json: /plan: no rule gives level prefecture, grade A a frequency");
  refused(R"({"plan": [{"every": "quarter"}, {"every": "month", "grades": ["C"]}]})",
          "policy.json: /plan/1: level prefecture, grade C already has a frequency in /plan/0");
  refused(R"({"plan": []})", "policy.json: /plan: expected a non-empty array");
}
