// InstanceQuery::unit: an organisation unit and its subtree, read from the unit index
// (uidx) when no viewer scope applies, and as a filter on a scoped read.
#include <set>

#include "engine_fixture.hpp"

namespace bihuan::testing {
namespace {

const char* kUnitCase = R"({
  "id": "t.unitcase", "version": 1,
  "access": {"unit": {"var": "data.unit"}},
  "initial": "OPEN",
  "states": {"OPEN": {"on": {"close": {"target": "DONE"}}}, "DONE": {"type": "final", "outcome": "closed"}}
})";

class UnitQueryTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    deploy(kUnitCase);
    // 5 in T03 (3 in its villages), 2 in T030 (not below T03), 1 in T04, 1 without a unit.
    for (const char* u : {"HX/GM/T03", "HX/GM/T03/V1", "HX/GM/T03/V1", "HX/GM/T03/V2", "HX/GM/T03",
                          "HX/GM/T030", "HX/GM/T030/V9", "HX/GM/T04", ""}) {
      auto r = start("t.unitcase", {{"unit", u}});
      ASSERT_TRUE(r.ok()) << r.message;
      units_[r.instance->id] = u;
    }
  }
  // Every page of `q` (limit 2), the units of what it listed; each instance at most once.
  std::multiset<std::string> all_pages(InstanceQuery q) {
    std::multiset<std::string> out;
    q.limit = 2;
    for (int i = 0; i < 20; ++i) {
      auto page = engine_->query(q);
      EXPECT_TRUE(page.error.empty()) << page.error;
      for (const auto& v : page.items) out.insert(units_[v.id]);
      if (page.next_cursor.empty()) break;
      q.cursor = page.next_cursor;
    }
    return out;
  }
  std::map<std::string, std::string> units_;
};

TEST_F(UnitQueryTest, AUnitTakesItsSubtreeAndNotASiblingWithTheSamePrefix) {
  InstanceQuery q;
  q.definition = "t.unitcase";
  q.unit = "HX/GM/T03";
  EXPECT_EQ(all_pages(q), (std::multiset<std::string>{"HX/GM/T03", "HX/GM/T03", "HX/GM/T03/V1",
                                                      "HX/GM/T03/V1", "HX/GM/T03/V2"}));
  q.unit = "HX/GM";
  EXPECT_EQ(all_pages(q).size(), 8u);  // all but the one without a unit
  q.unit = "HX/GM/T0";                 // a prefix of a segment is no unit
  EXPECT_TRUE(all_pages(q).empty());
}

TEST_F(UnitQueryTest, WithoutADefinitionAndWithOtherFiltersTheUnitStillApplies) {
  InstanceQuery q;
  q.unit = "HX/GM/T030";
  EXPECT_EQ(all_pages(q), (std::multiset<std::string>{"HX/GM/T030", "HX/GM/T030/V9"}));
  // A state filter reads the state index and checks the unit on each record.
  for (const auto& [id, u] : units_) {
    if (u == "HX/GM/T03/V1") {
      ASSERT_TRUE(send(id, "close", json::object(), Actor::system()).ok());
    }
  }
  q = {};
  q.definition = "t.unitcase";
  q.unit = "HX/GM/T03";
  q.status = InstanceStatus::running;
  EXPECT_EQ(all_pages(q), (std::multiset<std::string>{"HX/GM/T03", "HX/GM/T03", "HX/GM/T03/V2"}));
  q.status.reset();
  q.state = "DONE";
  EXPECT_EQ(all_pages(q), (std::multiset<std::string>{"HX/GM/T03/V1", "HX/GM/T03/V1"}));
}

TEST_F(UnitQueryTest, AScopedReadFiltersByUnitInsideTheViewersScope) {
  InstanceQuery q;
  q.definition = "t.unitcase";
  q.viewer = Actor{"office", {"ADMIN"}, {{"unit", "HX/GM/T03"}}};
  q.unit = "HX/GM/T03/V1";
  EXPECT_EQ(all_pages(q), (std::multiset<std::string>{"HX/GM/T03/V1", "HX/GM/T03/V1"}));
  q.unit = "HX/GM/T04";  // outside the viewer's unit: nothing, not T04's instance
  EXPECT_TRUE(all_pages(q).empty());
  q.unit = "HX/GM";  // wider than the viewer's: only what it sees
  EXPECT_EQ(all_pages(q).size(), 5u);
}

}  // namespace
}  // namespace bihuan::testing
