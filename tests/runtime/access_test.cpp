// A definition's `access` block: unit and reader keys computed after every step, the
// start rule, events on instances the sender may not see, `actors` naming keys
// (docs/authorization.md).
#include "engine_fixture.hpp"
#include "runtime/step_access.hpp"

using namespace bihuan;
using bihuan::testing::EngineTest;

namespace {

const char* kCase = R"({
  "id": "t.case", "version": 1,
  "access": {
    "unit": {"var": "data.unitPath"},
    "readers": [{"cat": ["actor:", {"var": "data.cadreId"}]},
                {"cat": ["station:", {"var": "data.stationId"}]},
                {"var": "data.extraReaders"}],
    "start": {"or": [{"in": ["ADMIN", {"var": "actor.roles"}]},
                     {"==": [{"var": "data.cadreId"}, {"var": "actor.id"}]}]}
  },
  "initial": "OPEN",
  "states": {
    "OPEN": {"on": {
      "claim": {"roles": ["REGULATOR"], "actors": {"cat": ["station:", {"var": "data.stationId"}]},
                "set": {"/claimedBy": {"var": "actor.id"}}},
      "transfer": {"roles": ["REGULATOR"], "actors": {"cat": ["station:", {"var": "data.stationId"}]},
                   "set": {"/stationId": {"var": "event.payload.to"}}},
      "note": {"roles": ["CADRE"], "actors": {"var": "data.cadreId"}},
      "move": {"roles": ["ADMIN"], "set": {"/unitPath": {"var": "event.payload.unit"}}},
      "close": {"roles": ["ADMIN"], "target": "DONE"}}},
    "DONE": {"type": "final", "outcome": "done"}
  }
})";

Actor office(const std::string& unit) { return {"adm", {"ADMIN"}, {{"unit", unit}}}; }
Actor station(const std::string& st) {
  return {"st-person-" + st, {"REGULATOR"}, {{"station", st}}};
}
Actor cadre(const std::string& id) { return {id, {"CADRE"}, json::object()}; }

class AccessTest : public EngineTest {
 protected:
  StepResult start_as(const Actor& a, json data, std::string key = {}, std::string idem = {}) {
    StartRequest r;
    r.definition = "t.case";
    r.data = std::move(data);
    r.actor = a;
    r.business_key = std::move(key);
    r.idempotency_key = std::move(idem);
    return engine_->start(r);
  }
  json sample() const {
    return {{"unitPath", "HX/GM/T03/V012"}, {"cadreId", "CD0022"}, {"stationId", "ST02"}};
  }
};

}  // namespace

TEST(ActorKeys, IdRolesAndStringAttributesSortedAndUnique) {
  Actor a{"CD1", {"CADRE", "CADRE"}, {{"station", "ST01"}, {"tags", {"x", 3, "y"}}, {"level", 2}}};
  EXPECT_EQ(a.keys(), (std::vector<std::string>{"*", "actor:CD1", "role:CADRE", "station:ST01",
                                                "tags:x", "tags:y"}));
  // Attributes named "actor" or "role" give no keys: they would forge another id or a role.
  Actor forged{"CD2", {"CADRE"}, {{"actor", "CD1"}, {"role", {"admin", "system"}}}};
  EXPECT_EQ(forged.keys(), (std::vector<std::string>{"*", "actor:CD2", "role:CADRE"}));
  EXPECT_TRUE(unit_covers("HX/GM", "HX/GM/T03"));
  EXPECT_TRUE(unit_covers("HX/GM", "HX/GM"));
  EXPECT_FALSE(unit_covers("HX/G", "HX/GM"));
  EXPECT_FALSE(unit_covers("", "HX"));
  EXPECT_FALSE(unit_covers("HX/GM/T03", "HX/GM"));
  EXPECT_TRUE((Actor{"root", {"admin"}, json::object()}).global_admin());
  EXPECT_FALSE((Actor{"a", {"admin"}, {{"unit", "HX"}}}).global_admin());
}

TEST_F(AccessTest, UnitAndReadersAreComputedAtStartAndFollowTheData) {
  deploy(kCase);
  auto s = start_as(office("HX/GM/T03"), sample());
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(s.instance->unit, "HX/GM/T03/V012");
  EXPECT_EQ(s.instance->readers, (std::vector<std::string>{"actor:CD0022", "station:ST02"}));

  // Station ST02 may transfer it; afterwards ST05 reads it and ST02 no longer does.
  auto t = send(s.instance->id, "transfer", {{"to", "ST05"}}, station("ST02"));
  ASSERT_TRUE(t.ok()) << t.message;
  EXPECT_EQ(t.instance->readers, (std::vector<std::string>{"actor:CD0022", "station:ST05"}));
  auto v = engine_->get(s.instance->id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->readers, t.instance->readers);
  EXPECT_TRUE(visible(*v, station("ST05")));
  EXPECT_FALSE(visible(*v, station("ST02")));
  EXPECT_TRUE(visible(*v, cadre("CD0022")));
  EXPECT_FALSE(visible(*v, cadre("CD0023")));
  EXPECT_TRUE(visible(*v, office("HX/GM/T03")));
  EXPECT_TRUE(visible(*v, office("HX/GM")));
  EXPECT_FALSE(visible(*v, office("HX/GM/T04")));
  EXPECT_TRUE(visible(*v, Actor{"root", {"admin"}, json::object()}));

  // The unit follows the data too (and survives a reopen).
  ASSERT_TRUE(send(s.instance->id, "move", {{"unit", "HX/GM/T04"}}, office("HX/GM")).ok());
  reopen();
  v = engine_->get(s.instance->id);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->unit, "HX/GM/T04");
  EXPECT_FALSE(visible(*v, office("HX/GM/T03")));
}

// A step that changes no member the access reads keeps the access (Stepper::seal skips
// the computation); one that does, or an access that reads the instance, recomputes it.
TEST_F(AccessTest, AccessIsRecomputedWhenWhatItReadsChanges) {
  deploy(kCase);
  auto s = start_as(office("HX/GM/T03"), sample());
  ASSERT_TRUE(s.ok()) << s.message;
  auto c = send(s.instance->id, "claim", json::object(), station("ST02"));
  ASSERT_TRUE(c.ok()) << c.message;
  EXPECT_EQ(c.instance->readers, (std::vector<std::string>{"actor:CD0022", "station:ST02"}));
  EXPECT_EQ(c.instance->unit, "HX/GM/T03/V012");
  auto t = send(s.instance->id, "transfer", {{"to", "ST05"}}, station("ST02"));
  ASSERT_TRUE(t.ok()) << t.message;
  EXPECT_EQ(t.instance->readers, (std::vector<std::string>{"actor:CD0022", "station:ST05"}));

  deploy(R"({"id": "t.staged", "version": 1,
             "access": {"unit": "HX", "readers": {"cat": ["stage:", {"var": "instance.state"}]}},
             "initial": "A",
             "states": {"A": {"on": {"go": {"target": "B", "set": {"/n": 1}}}},
                        "B": {"type": "final", "outcome": "ok"}}})");
  auto a = start("t.staged");
  ASSERT_TRUE(a.ok()) << a.message;
  EXPECT_EQ(a.instance->readers, std::vector<std::string>{"stage:A"});
  auto b = send(a.instance->id, "go", json::object(), Actor{"root", {"admin"}, json::object()});
  ASSERT_TRUE(b.ok()) << b.message;
  EXPECT_EQ(b.instance->readers, std::vector<std::string>{"stage:B"});
}

TEST(AccessReadsScan, NamesTheDataMembersOrGivesUp) {
  auto reads = [](const std::string& access) {
    Problems p;
    auto def = compile_definition(
        json::parse(R"({"id": "t.r", "version": 1, "access": )" + access +
                    R"(, "initial": "A", "states": {"A": {"type": "final", "outcome": "x"}}})"),
        p, {});
    EXPECT_TRUE(def);
    return def ? runtime::access_reads(*def) : runtime::AccessReads{};
  };
  auto daily = reads(R"({"unit": {"var": "data.unitPath"},
      "readers": [{"cat": ["station:", {"var": "data.stationId"}]},
                  {"map": [{"filter": [{"merge": [{"var": "data.officerId"}, {"var": "data.x.y"}]},
                                       {"var": ""}]},
                           {"cat": ["actor:", {"var": ""}]}]}]})");
  EXPECT_TRUE(daily.pure);
  EXPECT_EQ(daily.members,
            (std::set<std::string, std::less<>>{"officerId", "stationId", "unitPath", "x"}));
  EXPECT_FALSE(daily.touched_by({"claimedBy", "zeroRisk"}));
  EXPECT_TRUE(daily.touched_by({"zeroRisk", "x"}));
  EXPECT_TRUE(daily.touched_by({""}));  // the whole data
  EXPECT_TRUE(reads(R"({"unit": {"var": "data"}})").touched_by({"any"}));
  EXPECT_FALSE(reads(R"({"unit": {"var": "instance.businessKey"}})").pure);
  EXPECT_FALSE(reads(R"({"unit": {"var": {"cat": ["data.", "u"]}}})").pure);
  EXPECT_FALSE(reads(R"({"readers": {"cat": ["t:", {"now": []}]}})").pure);
  EXPECT_FALSE(reads(R"({"readers": {"missing": ["data.a"]}})").pure);
  EXPECT_TRUE(reads(R"({"readers": {"map": [{"var": "data.list"}, {"missing": ["a"]}]}})").pure);
}

TEST_F(AccessTest, StartRuleRefusesOthersAndHoldsForReplays) {
  deploy(kCase);
  auto other = start_as(cadre("CD0023"), sample(), "", "k1");
  EXPECT_EQ(other.error, StepError::start_not_allowed) << other.message;
  auto own = start_as(cadre("CD0022"), sample(), "", "k1");
  ASSERT_TRUE(own.ok()) << own.message;
  // The same key by the same actor replays; the data naming someone else is refused first.
  auto again = start_as(cadre("CD0022"), sample(), "", "k1");
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_TRUE(again.replayed);
  json others = sample();
  others["cadreId"] = "CD0099";
  EXPECT_EQ(start_as(cadre("CD0022"), others, "", "k1").error, StepError::start_not_allowed);
  EXPECT_TRUE(start_as(Actor{"root", {"admin"}, json::object()}, sample()).ok());
  EXPECT_TRUE(start_as(Actor::system(), sample()).ok());
}

TEST_F(AccessTest, AnEventOnAnInstanceTheSenderCannotSeeIsNotFound) {
  deploy(kCase);
  auto s = start_as(office("HX/GM/T03"), sample(), "BK-1");
  ASSERT_TRUE(s.ok()) << s.message;
  auto foreign = send(s.instance->id, "claim", json::object(), station("ST01"));
  EXPECT_EQ(foreign.error, StepError::not_found) << foreign.message;
  EXPECT_EQ(foreign.message, "no instance with id " + s.instance->id);
  // Exactly what an unknown id says (no existence leak).
  auto unknown = send("00000000000000ff", "claim", json::object(), station("ST01"));
  EXPECT_EQ(unknown.error, StepError::not_found);
  // A visible instance whose `actors` excludes the sender: 403-class, not 404.
  auto wrong_cadre =
      send(s.instance->id, "note", json::object(), Actor{"x", {"CADRE"}, {{"unit", "HX"}}});
  EXPECT_EQ(wrong_cadre.error, StepError::actor_not_allowed);
  auto claim = send(s.instance->id, "claim", json::object(), station("ST02"));
  ASSERT_TRUE(claim.ok()) << claim.message;
  EXPECT_EQ(claim.instance->data["claimedBy"], "st-person-ST02");

  // The business key of an instance the caller cannot see is not named to it.
  StartRequest dup;
  dup.definition = "t.case";
  dup.data = sample();
  dup.business_key = "BK-1";
  dup.actor = Actor{"adm2", {"ADMIN"}, {{"unit", "HX/GM/T09"}}};
  dup.return_existing = true;
  auto d = engine_->start(dup);
  EXPECT_EQ(d.error, StepError::duplicate_business_key);
  EXPECT_FALSE(d.instance);
  EXPECT_TRUE(d.details.is_null()) << d.details.dump();
  dup.actor = office("HX/GM");
  d = engine_->start(dup);
  ASSERT_TRUE(d.ok()) << d.message;
  EXPECT_EQ(d.instance->id, s.instance->id);
}

TEST_F(AccessTest, BadAccessValuesRefuseTheStepAndBadBlocksTheDeploy) {
  deploy(kCase);
  json bad = sample();
  bad["extraReaders"] = json::array({"ok:1", 7});
  auto r = start_as(office("HX"), bad);
  EXPECT_EQ(r.error, StepError::expression_error);
  EXPECT_NE(r.message.find("/access/readers"), std::string::npos) << r.message;
  bad = sample();
  bad["unitPath"] = "HX//T03";
  r = start_as(office("HX"), bad);
  EXPECT_EQ(r.error, StepError::expression_error);
  EXPECT_NE(r.message.find("/access/unit"), std::string::npos) << r.message;

  json doc = json::parse(kCase);
  doc["version"] = 2;
  doc["access"]["owner"] = "x";
  auto d = engine_->deploy(doc, "bad.json");
  EXPECT_FALSE(d.ok);
  bool named = false;
  for (const auto& p : d.problems.items()) named |= p.pointer.rfind("/access", 0) == 0;
  EXPECT_TRUE(named);
  doc = json::parse(kCase);
  doc["version"] = 3;
  doc["access"]["start"] = {{"no-such-op", 1}};
  d = engine_->deploy(doc, "bad.json");
  EXPECT_FALSE(d.ok);
  named = false;
  for (const auto& p : d.problems.items()) named |= p.pointer == "/access/start";
  EXPECT_TRUE(named);
}

TEST_F(AccessTest, ADefinitionWithoutAccessIsOpen) {
  deploy(R"({"id": "t.open", "version": 1, "initial": "A",
             "states": {"A": {"on": {"go": {"roles": ["USER"], "target": "B"}}},
                        "B": {"type": "final", "outcome": "ok"}}})");
  auto s = start("t.open");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.instance->readers, std::vector<std::string>{"*"});
  EXPECT_TRUE(visible(*s.instance, Actor{"anyone", {}, json::object()}));
  EXPECT_TRUE(send(s.instance->id, "go").ok());
}
