// Who sees what in the food-safety package (issue 20, docs/authorization.md):
// each definition's `access` (unit = data.unitPath, readers = the people named
// in the case and the problem's station) against each kind of demo caller: a
// global administrator, the city office, a township office (own and another),
// cadres, regulator stations and inspectors, principals, an officer, a clerk.
// The hazard, risk review and status change likewise. Also who may start what, the cadre's inbox
// (only their own re-checks), and a re-routed problem moving to the new station.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

const Actor kGlobal{"admin", {"admin"}};
const Actor kCity{"adm-GM", {"ADMIN", "admin"}, {{"unit", "HX/GM"}, {"level", "city"}}};
const Actor kT1{"adm-t1", {"ADMIN"}, {{"unit", "HX/GM/T01"}, {"level", "township"}}};
const Actor kT2{"adm-t2", {"ADMIN"}, {{"unit", "HX/GM/T02"}, {"level", "township"}}};
const Actor kCadre1{"c-1", {"CADRE"}, {{"level", "village"}, {"region", "V001"}}};
const Actor kCadre2{"c-2", {"CADRE"}, {{"level", "village"}, {"region", "V009"}}};
const Actor kSt1 = regulator("st-1");
const Actor kSt2 = regulator("st-2");
const Actor kInsp1 = inspector("insp-1", "st-1");
const Actor kP1{"p-1", {"PRINCIPAL"}, {{"business", "B0001"}}};
const Actor kP2{"p-2", {"PRINCIPAL"}, {{"business", "B0002"}}};
const Actor kO1{"o-1", {"OFFICER"}, {{"business", "B0001"}}};
const Actor kSig1{"sec-1", {"SIGNATORY"}};
const Actor kClerk1{"clerk-t1", {"ADMIN"}};

// A supervision task of cadre c-<n> for business B000<n> in township T0<n>'s
// first village.
json task(int n) {
  std::string s = std::to_string(n), village = n == 1 ? "V001" : "V009";
  return {{"bindingId", "bd-" + s},
          {"cadreId", "c-" + s},
          {"level", "village"},
          {"businessId", "B000" + s},
          {"businessName", "主体" + s},
          {"riskLevel", "B"},
          {"principalId", "p-" + s},
          {"period", "2023Q2"},
          {"periodStart", "2023-04-01T00:00:00+08:00"},
          {"periodEnd", "2023-06-30T23:59:59+08:00"},
          {"checklist", {"hygiene"}},
          {"adminId", "adm-t" + s},
          {"upperAdminId", "adm-GM"},
          {"stationId", "st-" + s},
          {"unitPath", "HX/GM/T0" + s + "/" + village}};
}

class AccessTest : public FoodSafetyTest {
 protected:
  // Supervision task n, visited with one non-compliant answer: returns the
  // problem it spawned, taken to EVIDENCE_SUBMITTED (evidence by the
  // principal).
  std::string problem_of(int n) {
    std::string s = std::to_string(n);
    auto sup = begin("food-safety.supervision", task(n));
    sups_.push_back(sup);
    ok(sup, "check_in", cadre("c-" + s), {{"lat", 36.4}, {"lng", 94.9}, {"mode", "ONSITE"}});
    ok(sup, "submit", cadre("c-" + s),
       {{"answers",
         {{{"itemId", "hygiene"},
           {"compliant", false},
           {"note", "油污"},
           {"severity", "minor"}}}}});
    engine_->advance_to(clock_->now());
    auto p = engine_->get_by_business_key(sup + "/hygiene");
    EXPECT_TRUE(p);
    if (!p) return "";
    ok(p->id, "claim", regulator("st-" + s));
    ok(p->id, "order_rectification", inspector("insp-" + s, "st-" + s), {{"measure", "清洁"}});
    ok(p->id, "submit_evidence", principal("p-" + s), {{"note", "已清洁"}});
    return p->id;
  }
  // Who of `who` sees instance `id`, as "name:0/1" pairs (one failure message
  // per row).
  std::string seen(const std::string& id, const std::vector<std::pair<std::string, Actor>>& who) {
    auto v = engine_->get(id);
    std::string out;
    for (const auto& [name, a] : who)
      out += (out.empty() ? "" : " ") + name + ":" + (visible(*v, a) ? "1" : "0");
    return out;
  }
  std::vector<std::string> sups_;
};

const std::vector<std::pair<std::string, Actor>> kEveryone = {
    {"admin", kGlobal}, {"city", kCity}, {"t1", kT1},     {"t2", kT2},        {"c1", kCadre1},
    {"c2", kCadre2},    {"st1", kSt1},   {"st2", kSt2},   {"insp1", kInsp1},  {"p1", kP1},
    {"p2", kP2},        {"o1", kO1},     {"sig1", kSig1}, {"clerk1", kClerk1}};

TEST_F(AccessTest, EachKindOfCallerSeesExactlyItsOwnCases) {
  auto p1 = problem_of(1), p2 = problem_of(2);
  // Problems: the offices above, the reporting cadre, the station and its
  // inspectors, the business's principal.
  EXPECT_EQ(seen(p1, kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:1 c2:0 st1:1 "
            "st2:0 insp1:1 p1:1 p2:0 o1:0 sig1:0 "
            "clerk1:0");
  EXPECT_EQ(seen(p2, kEveryone),
            "admin:1 city:1 t1:0 t2:1 c1:0 c2:1 st1:0 "
            "st2:1 insp1:0 p1:0 p2:1 o1:0 sig1:0 "
            "clerk1:0");
  // A supervision task: the offices and the cadre (not the station, not the
  // principal).
  EXPECT_EQ(seen(sups_[0], kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:1 c2:0 st1:0 st2:0 insp1:0 p1:0 p2:0 "
            "o1:0 sig1:0 "
            "clerk1:0");

  json letter = {
      {"cadreId", "c-1"},         {"level", "village"},      {"unitPath", "HX/GM/T01/V001"},
      {"businessIds", {"B0001"}}, {"signatoryId", "sec-1"},  {"signatoryLevel", "village"},
      {"adminId", "adm-t1"},      {"upperAdminId", "adm-GM"}};
  auto l1 = begin("food-safety.commitment-letter", letter);
  EXPECT_EQ(seen(l1, kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:1 c2:0 st1:0 "
            "st2:0 insp1:0 p1:0 p2:0 o1:0 sig1:1 "
            "clerk1:0");

  json day = {{"businessId", "B0001"}, {"unitPath", "HX/GM/T01/V001"},
              {"date", "2023-04-03"},  {"officerId", "o-1"},
              {"principalId", "p-1"},  {"cadreId", "c-1"},
              {"stationId", "st-1"},   {"missedStreak", 0}};
  auto d1 = begin("food-safety.daily-record", day);
  EXPECT_EQ(seen(d1, kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:1 c2:0 st1:1 "
            "st2:0 insp1:1 p1:1 p2:0 o1:1 sig1:0 "
            "clerk1:0");

  json list = {{"unitId", "T01"},
               {"unitPath", "HX/GM/T01"},
               {"year", 2023},
               {"submitterId", "clerk-t1"},
               {"reviewerId", "adm-GM"},
               {"upperAdminId", "adm-HX"},
               {"dueAt", "2023-04-20T18:00:00+08:00"}};
  auto u1 = begin("food-safety.responsibility-list", list);
  EXPECT_EQ(seen(u1, kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:0 c2:0 st1:0 "
            "st2:0 insp1:0 p1:0 p2:0 o1:0 sig1:0 "
            "clerk1:1");
  EXPECT_EQ(engine_->get(u1)->unit, "HX/GM/T01");
}

TEST_F(AccessTest, HazardsRiskReviewsAndStatusChangesSeeTheirOwnPeople) {
  // A hazard of B0001's daily record: as the daily record (the station, the business's
  // people, the cadre).
  json hazard = {{"businessId", "B0001"},
                 {"unitPath", "HX/GM/T01/V001"},
                 {"description", "冷藏柜温度偏高"},
                 {"measure", "转移食材"},
                 {"fixDeadline", "2023-04-06T09:00:00+08:00"},
                 {"officerId", "o-1"},
                 {"principalId", "p-1"},
                 {"cadreId", "c-1"},
                 {"stationId", "st-1"}};
  auto h1 = begin("food-safety.hazard", hazard);
  EXPECT_EQ(seen(h1, kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:1 c2:0 st1:1 "
            "st2:0 insp1:1 p1:1 p2:0 o1:1 sig1:0 "
            "clerk1:0");
  // A risk review and a status change: the offices, the station and the bound cadre; not
  // the business's own people.
  json review = {{"businessId", "B0001"},
                 {"unitPath", "HX/GM/T01/V001"},
                 {"year", 2023},
                 {"currentLevel", "B"},
                 {"stationId", "st-1"},
                 {"adminId", "adm-t1"},
                 {"upperAdminId", "adm-GM"},
                 {"cadreId", "c-1"}};
  auto r1 = begin("food-safety.risk-review", review);
  EXPECT_EQ(seen(r1, kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:1 c2:0 st1:1 "
            "st2:0 insp1:1 p1:0 p2:0 o1:0 sig1:0 "
            "clerk1:0");
  json change = {{"businessId", "B0001"},         {"unitPath", "HX/GM/T01/V001"},
                 {"stationId", "st-1"},           {"adminId", "adm-t1"},
                 {"upperAdminId", "adm-GM"},      {"kind", "close"},
                 {"effectiveDate", "2023-04-03"}, {"cadreId", "c-1"}};
  auto s1 = begin("food-safety.status-change", change);
  EXPECT_EQ(seen(s1, kEveryone),
            "admin:1 city:1 t1:1 t2:0 c1:1 c2:0 st1:1 "
            "st2:0 insp1:1 p1:0 p2:0 o1:0 sig1:0 "
            "clerk1:0");
  // Who may act: the business's officer mitigates, the station proposes, the office
  // confirms; the others are turned away.
  EXPECT_EQ(act(h1, "mitigate", kCadre1, {{"note", "x"}}).error, StepError::role_not_allowed);
  EXPECT_EQ(act(r1, "propose", kInsp1, {{"riskLevel", "B"}}).error, StepError::role_not_allowed);
  EXPECT_EQ(act(s1, "confirm", kCity).error, StepError::actor_not_allowed);
  ok(h1, "mitigate", kO1, {{"note", "已维修"}});
  ok(r1, "propose", kSt1, {{"riskLevel", "B"}});
  ok(s1, "confirm", kT1);
}

TEST_F(AccessTest, ACadresInboxListsOnlyTheirOwnReChecks) {
  auto p1 = problem_of(1), p2 = problem_of(2);
  auto ids = [&](const Actor& a) {
    std::set<std::string> out;
    for (const auto& item : engine_->inbox(a, 100))
      if (std::find(item.events.begin(), item.events.end(), "start_recheck") != item.events.end())
        out.insert(item.instance.id);
    return out;
  };
  EXPECT_EQ(ids(kCadre1), (std::set<std::string>{p1}));
  EXPECT_EQ(ids(kCadre2), (std::set<std::string>{p2}));
  EXPECT_EQ(ids(kInsp1), (std::set<std::string>{p1})) << "the station's inspector: its own";
  EXPECT_EQ(act(p2, "start_recheck", kCadre1).error, StepError::not_found)
      << "another cadre's problem is not even visible to them";
}

TEST_F(AccessTest, AReRoutedProblemMovesToTheNewStation) {
  json data = {{"businessId", "B0001"}, {"unitPath", "HX/GM/T01/V001"}, {"severity", "minor"},
               {"description", "x"},    {"reporterId", "c-1"},          {"stationId", "st-1"},
               {"adminId", "adm-t1"}};
  auto id = begin("food-safety.problem", data);
  EXPECT_TRUE(visible(*engine_->get(id), kSt1));
  EXPECT_FALSE(visible(*engine_->get(id), kSt2));
  ok(id, "reroute", kSt1, {{"stationId", "st-2"}, {"reason", "辖区调整"}});
  EXPECT_FALSE(visible(*engine_->get(id), kSt1)) << "the old station no longer sees it";
  EXPECT_TRUE(visible(*engine_->get(id), kSt2));
  EXPECT_TRUE(visible(*engine_->get(id), kCadre1)) << "the reporter still follows it";
}

TEST_F(AccessTest, WhoMayStartWhat) {
  auto start_as = [&](const std::string& def, json data, const Actor& who) {
    StartRequest r;
    r.definition = def;
    r.data = std::move(data);
    r.actor = who;
    return engine_->start(r);
  };
  json problem = {{"businessId", "B0001"}, {"unitPath", "HX/GM/T01/V001"}, {"severity", "minor"},
                  {"description", "x"},    {"reporterId", "c-1"},          {"stationId", "st-1"},
                  {"adminId", "adm-t1"}};
  EXPECT_EQ(start_as("food-safety.problem", problem, kCadre2).error, StepError::start_not_allowed)
      << "a cadre reports in their own name only";
  EXPECT_EQ(start_as("food-safety.problem", problem, kP1).error, StepError::start_not_allowed);
  EXPECT_TRUE(start_as("food-safety.problem", problem, kCadre1).ok());
  EXPECT_EQ(start_as("food-safety.supervision", task(1), kCadre1).error,
            StepError::start_not_allowed)
      << "a cadre cannot make their own tasks";
  EXPECT_TRUE(start_as("food-safety.supervision", task(1), kT1).ok());
  json day = {{"businessId", "B0001"},
              {"unitPath", "HX/GM/T01/V001"},
              {"date", "2023-04-03"},
              {"officerId", "o-1"},
              {"principalId", "p-1"}};
  EXPECT_EQ(start_as("food-safety.daily-record", day, kP2).error, StepError::start_not_allowed)
      << "another business's principal";
  EXPECT_TRUE(start_as("food-safety.daily-record", day, kO1).ok());
}

}  // namespace
