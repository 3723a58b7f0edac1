// Yellow cards (黄牌警告) on the virtual clock: a supervision visit not submitted by its
// period end starts the cadre's record (food-safety.cadre-record, once) and tells it; a
// cadre late in two periods in a row gets a yellow card, told to the cadre, their office
// and the office above; two late visits of one period count as one period; a gap resets.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

json task(const std::string& period, const std::string& start, const std::string& end,
          const std::string& business, const std::string& cadre_id = "c-1") {
  return {{"bindingId", "bd-" + business + "-" + cadre_id},
          {"cadreId", cadre_id},
          {"cadreName", "王干部"},
          {"level", "village"},
          {"businessId", business},
          {"businessName", "张记小吃"},
          {"period", period},
          {"periodStart", start},
          {"periodEnd", end},
          {"checklist", {"staff"}},
          {"adminId", "adm-t1"},
          {"upperAdminId", "adm-city"},
          {"stationId", "st-1"},
          {"unitPath", "HX/GM/T01/V001"}};
}

class CadreRecordTest : public FoodSafetyTest {
 protected:
  const char* start_time() const override { return "2022-12-28T09:00:00+08:00"; }
  void quarter(const std::string& q, const char* start, const char* end,
               const std::string& business, const std::string& cadre_id = "c-1") {
    begin("food-safety.supervision", task(q, start, end, business, cadre_id),
          "sup/" + q + "/" + business + "/" + cadre_id);
  }
};

TEST_F(CadreRecordTest, LatenessInTwoPeriodsInARowGivesAYellowCard) {
  quarter("2023Q1", "2023-01-01T00:00:00+08:00", "2023-03-31T23:59:59+08:00", "B1");
  quarter("2023Q1", "2023-01-01T00:00:00+08:00", "2023-03-31T23:59:59+08:00", "B2");
  quarter("2023Q2", "2023-04-01T00:00:00+08:00", "2023-06-30T23:59:59+08:00", "B1");
  quarter("2023Q1", "2023-01-01T00:00:00+08:00", "2023-03-31T23:59:59+08:00", "B3", "c-2");
  quarter("2023Q3", "2023-07-01T00:00:00+08:00", "2023-09-30T23:59:59+08:00", "B3", "c-2");
  go("2023-04-01T00:00:00+08:00");
  auto record = engine_->get_by_business_key("cadre/c-1");
  ASSERT_TRUE(record) << "the first late visit starts the cadre's record";
  EXPECT_EQ(record->data["lateTasks"], 2);
  EXPECT_EQ(record->data["latePeriods"], json({"2023Q1"})) << "two late visits, one period";
  EXPECT_EQ(record->data["yellowCards"], nullptr);
  EXPECT_EQ(by_definition("food-safety.cadre-record").size(), 2u) << "one record per cadre";
  take_notes();

  go("2023-07-01T00:00:00+08:00");
  record = engine_->get_by_business_key("cadre/c-1");
  EXPECT_EQ(record->data["yellowCards"], 1);
  EXPECT_EQ(record->data["cards"][0]["period"], "2023Q2");
  EXPECT_EQ(record->data["cards"][0]["previous"], "2023Q1");
  auto notes = take_notes();
  for (const char* who : {"c-1", "adm-t1", "adm-city"})
    EXPECT_EQ(count_to(notes, who, "黄牌警告"), 1u) << who;
  EXPECT_EQ(count_to(notes, "c-1", "2023Q1、2023Q2"), 1u) << "the card names both periods";

  go("2023-10-01T00:00:00+08:00");
  auto other = engine_->get_by_business_key("cadre/c-2");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->data["latePeriods"], json({"2023Q1", "2023Q3"}));
  EXPECT_EQ(other->data["yellowCards"], nullptr) << "Q1 and Q3 do not follow each other";
  EXPECT_EQ(count_to(take_notes(), "c-2", "黄牌警告"), 0u);
}

TEST_F(CadreRecordTest, OnlyTheEngineWritesTheRecordAndOnlyItsPeopleSeeIt) {
  quarter("2023Q1", "2023-01-01T00:00:00+08:00", "2023-03-31T23:59:59+08:00", "B1");
  go("2023-04-01T00:00:00+08:00");
  auto record = engine_->get_by_business_key("cadre/c-1");
  ASSERT_TRUE(record);
  json late = {{"period", "2023Q2"},
               {"periodStart", "2023-04-01T00:00:00+08:00"},
               {"periodEnd", "2023-06-30T23:59:59+08:00"}};
  EXPECT_EQ(act(record->id, "late", cadre("c-1"), late).error, StepError::role_not_allowed);
  EXPECT_EQ(act(record->id, "late", admin("adm-t1"), late).error, StepError::role_not_allowed);
  EXPECT_EQ(act(record->id, "late", cadre("c-2"), late).error, StepError::not_found);
  EXPECT_EQ(act(record->id, "late", admin("adm-t2", "HX/GM/T02"), late).error,
            StepError::not_found);
  EXPECT_EQ(act(record->id, "late", regulator("st-1"), late).error, StepError::not_found);
  StartRequest r;
  r.definition = "food-safety.cadre-record";
  r.data = {{"cadreId", "c-9"}, {"adminId", "adm-t1"}};
  r.actor = admin("adm-t1", "HX/GM/T01");
  EXPECT_EQ(engine_->start(r).error, StepError::start_not_allowed);
}

}  // namespace
