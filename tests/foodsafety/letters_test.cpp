// Commitment letter (承诺书) and responsibility list (责任清单) on the virtual clock:
// happy path, return, overdue reminders and escalation, change-of-cadre deadline in
// working days, supersede, void, and the signatory-level guard.
#include "fs_fixture.hpp"

using namespace bihuan;
using namespace bihuan::testing;

namespace {

const std::string kHash(64, 'a');

json letter(const std::string& cadre_id, const std::string& reason = "new_binding") {
  return {{"cadreId", cadre_id},
          {"cadreName", "王干部"},
          {"level", "village"},
          {"reason", reason},
          {"businessIds", {"B0001", "B0002"}},
          {"signatoryId", "sec-1"},
          {"signatoryLevel", "village"},
          {"adminId", "adm-t1"},
          {"upperAdminId", "adm-city"},
          {"unitPath", "HX/GM/T01/V001"},
          {"responsibilityListVer", 1},
          {"taskListVer", 1}};
}
json signature() {
  return {
      {"cadreSignature", "王干部"}, {"signatorySignature", "李书记"}, {"signedOn", "2023-04-03"}};
}
json upload() { return {{"fileHash", kHash}, {"fileName", "letter.pdf"}}; }

class LetterTest : public FoodSafetyTest {};

TEST_F(LetterTest, HappyPathSignsUploadsAndFiles) {
  auto id = begin("food-safety.commitment-letter", letter("c-1"), "letter/c-1/2023");
  EXPECT_EQ(state(id), "AWAITING_SIGNATURE");
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "c-1", "请签署"), 1u);
  EXPECT_EQ(count_to(notes, "sec-1", "请签署"), 1u);
  // 15 days to sign by default (calendar days).
  EXPECT_EQ(engine_->get(id)->deadline, at("2023-04-18T09:00:00+08:00"));

  ok(id, "sign", signatory("sec-1"), signature());
  EXPECT_EQ(state(id), "SIGNED");
  ok(id, "upload", cadre("c-1"), upload());
  EXPECT_EQ(state(id), "UPLOADED");
  EXPECT_EQ(count_to(take_notes(), "adm-t1", "请审核备案"), 1u);
  clock_->set(at("2023-04-04T10:00:00+08:00"));
  ok(id, "approve", admin("adm-t1"));
  auto v = engine_->get(id);
  EXPECT_EQ(v->status, InstanceStatus::completed);
  EXPECT_EQ(v->outcome, "filed");
  EXPECT_EQ(v->data["filedBy"], "adm-t1");
  EXPECT_EQ(v->data["fileHash"], kHash);
  EXPECT_EQ(count_to(take_notes(), "c-1", "已审核备案"), 1u);
  EXPECT_EQ(events(id), (std::vector<std::string>{"start", "issue", "sign", "upload", "approve"}));
}

TEST_F(LetterTest, AReturnedLetterIsUploadedAgain) {
  auto id = begin("food-safety.commitment-letter", letter("c-1"));
  ok(id, "sign", cadre("c-1"), signature());
  ok(id, "upload", cadre("c-1"), upload());
  EXPECT_EQ(act(id, "return", admin("adm-t1")).error, StepError::payload_invalid)
      << "a return needs a reason";
  ok(id, "return", admin("adm-t1"), {{"reason", "扫描件不清晰"}});
  EXPECT_EQ(state(id), "RETURNED");
  EXPECT_EQ(count_to(take_notes(), "c-1", "扫描件不清晰"), 1u);
  ok(id, "upload", cadre("c-1"), {{"fileHash", std::string(64, 'b')}, {"fileName", "letter2.jpg"}});
  ok(id, "approve", admin("adm-t1"));
  EXPECT_EQ(engine_->get(id)->outcome, "filed");
  EXPECT_EQ(data(id)["returnCount"], 1);
}

TEST_F(LetterTest, OnlyTheNamedSignersAtTheCadresLevelMaySign) {
  auto id = begin("food-safety.commitment-letter", letter("c-1"));
  EXPECT_EQ(act(id, "sign", cadre("c-2"), signature()).error, StepError::not_found)
      << "another cadre does not even see the letter";
  EXPECT_EQ(
      act(id, "sign", Actor{"sec-9", {"SIGNATORY"}, {{"unit", "HX/GM/T01"}}}, signature()).error,
      StepError::actor_not_allowed)
      << "a signatory who sees the letter (through a unit) but is not the one named";
  EXPECT_EQ(act(id, "sign", cadre("c-1"), {{"cadreSignature", "x"}}).error,
            StepError::payload_invalid);
  json wrong = letter("c-3");
  wrong["signatoryLevel"] = "township";
  auto w = begin("food-safety.commitment-letter", wrong);
  auto r = act(w, "sign", cadre("c-3"), signature());
  EXPECT_EQ(r.error, StepError::guard_false);
  FS_EXPECT_HAS(r.message, "签署人须为干部同级主要负责人");
}

// Issue 20: only the letter's own (same-level) office reviews it; the upper office only
// once the signing has been escalated to it. Another township's office does not even see
// the letter (not-found, as an unknown id); the city office sees it through its unit but
// may not act (actor-not-allowed).
TEST_F(LetterTest, AnotherTownshipsOfficeCannotApproveReturnOrVoidTheLetter) {
  auto id = begin("food-safety.commitment-letter", letter("c-1"));
  const Actor other = admin("adm-t2", "HX/GM/T02"), city = admin("adm-city", "HX/GM");
  EXPECT_EQ(act(id, "void", other, {{"reason", "x"}}).error, StepError::not_found);
  EXPECT_EQ(act(id, "void", city, {{"reason", "x"}}).error, StepError::actor_not_allowed);
  ok(id, "sign", cadre("c-1"), signature());
  EXPECT_EQ(act(id, "upload", cadre("c-2"), upload()).error, StepError::not_found);
  EXPECT_EQ(act(id, "upload", other, upload()).error, StepError::not_found);
  EXPECT_EQ(act(id, "upload", city, upload()).error, StepError::actor_not_allowed);
  ok(id, "upload", cadre("c-1"), upload());
  EXPECT_EQ(act(id, "approve", other).error, StepError::not_found);
  EXPECT_EQ(act(id, "return", other, {{"reason", "x"}}).error, StepError::not_found);
  EXPECT_EQ(act(id, "approve", city).error, StepError::actor_not_allowed);
  EXPECT_EQ(act(id, "return", city, {{"reason", "x"}}).error, StepError::actor_not_allowed);
  ok(id, "approve", admin("adm-t1", "HX/GM/T01"));
  EXPECT_EQ(engine_->get(id)->outcome, "filed");
}

TEST_F(LetterTest, OverdueSigningRemindsThenNotifiesTheOfficeThenEscalates) {
  auto id = begin("food-safety.commitment-letter", letter("c-1"));
  take_notes();
  go("2023-04-15T09:00:00+08:00");  // T-3d
  EXPECT_EQ(count_to(take_notes(), "c-1", "3 天后到期"), 1u);
  go("2023-04-18T09:00:00+08:00");  // T-0: reminder and overdue
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "sec-1", "今日到期"), 1u);
  EXPECT_EQ(count_to(notes, "adm-t1", "签署逾期"), 1u);
  EXPECT_EQ(data(id)["signOverdue"], true);
  EXPECT_EQ(data(id).value("signEscalated", false), false);
  go("2023-04-25T09:00:00+08:00");  // +7d
  EXPECT_EQ(count_to(take_notes(), "adm-city", "逾期 7 天"), 1u);
  EXPECT_EQ(data(id)["signEscalated"], true);
  EXPECT_EQ(state(id), "AWAITING_SIGNATURE")
      << "a missed SLA marks the letter; it does not move it";
  EXPECT_EQ(act(id, "void", admin("adm-t2", "HX/GM/T02"), {{"reason", "x"}}).error,
            StepError::not_found);
  // Escalated: the upper office (adm-city) may act on the letter now; another may not.
  EXPECT_EQ(act(id, "void", admin("adm-x", "HX/GM"), {{"reason", "x"}}).error,
            StepError::actor_not_allowed);
  ok(id, "sign", cadre("c-1"), signature());  // still possible, late
  EXPECT_EQ(state(id), "SIGNED");
}

TEST_F(LetterTest, AfterACadreChangeTheNewLetterIsDueInSevenWorkingDaysAndTheOldOneIsSuperseded) {
  clock_->set(at("2023-09-27T09:00:00+08:00"));  // before the National Day holiday (forward)
  auto old_id = begin("food-safety.commitment-letter", letter("c-old"));
  auto new_id = begin("food-safety.commitment-letter", letter("c-new", "change"));
  // Working days: Sep 28 (1), [Sep 29-Oct 6 off], Oct 7 (2, make-up Saturday), Oct 8 (3,
  // make-up Sunday), Oct 9..12 (4..7).
  EXPECT_EQ(engine_->get(new_id)->deadline, at("2023-10-12T09:00:00+08:00"));
  ok(old_id, "supersede", admin("adm-t1"), {{"reason", "cadre_change"}, {"newLetterId", new_id}});
  auto v = engine_->get(old_id);
  EXPECT_EQ(v->outcome, "superseded");
  EXPECT_EQ(v->data["newLetterId"], new_id);
  go("2023-12-31T00:00:00+08:00");
  EXPECT_EQ(engine_->get(old_id)->version, v->version) << "a superseded letter's timers are gone";
}

TEST_F(LetterTest, ALetterForACadreWithoutBusinessesIsVoid) {
  json d = letter("c-1");
  d["businessIds"] = json::array();
  auto id = begin("food-safety.commitment-letter", d);
  EXPECT_EQ(engine_->get(id)->outcome, "void");
}

json unit_list() {
  return {{"unitId", "T01"},
          {"unitName", "河西街道"},
          {"unitPath", "HX/GM/T01"},
          {"year", 2023},
          {"submitterId", "clerk-t1"},
          {"reviewerId", "adm-city"},
          {"upperAdminId", "adm-pref"},
          {"dueAt", "2023-04-20T18:00:00+08:00"}};
}

TEST_F(LetterTest, ResponsibilityListIsSubmittedReturnedAndAccepted) {
  auto id = begin("food-safety.responsibility-list", unit_list());
  EXPECT_EQ(state(id), "DUE");
  json sub = {{"listVersion", 1}, {"fileHash", kHash}, {"fileName", "list.pdf"}};
  EXPECT_EQ(act(id, "submit", admin("someone"), sub).error, StepError::not_found)
      << "an office that neither is named nor covers the unit does not see the list";
  EXPECT_EQ(act(id, "submit", admin("adm-x", "HX/GM"), sub).error, StepError::actor_not_allowed)
      << "an office above sees it but does not file it";
  ok(id, "submit", admin("clerk-t1"), sub);
  EXPECT_EQ(act(id, "accept", admin("clerk-t1")).error, StepError::actor_not_allowed)
      << "no self-acceptance";
  ok(id, "return", admin("adm-city"), {{"reason", "缺少村级清单"}});
  EXPECT_EQ(state(id), "RETURNED");
  sub["listVersion"] = 2;
  ok(id, "submit", admin("clerk-t1"), sub);
  ok(id, "accept", admin("adm-city"));
  EXPECT_EQ(engine_->get(id)->outcome, "accepted");
}

TEST_F(LetterTest, AnotherTownshipsOfficeCannotAcceptAVillageList) {
  json village = unit_list();
  village["unitId"] = "V001";
  village["unitPath"] = "HX/GM/T01/V001";
  village["submitterId"] = "clerk-v1";
  village["reviewerId"] = "adm-t1";
  village["upperAdminId"] = "adm-city";
  auto id = begin("food-safety.responsibility-list", village);
  ok(id, "submit", admin("clerk-v1"),
     {{"listVersion", 1}, {"fileHash", kHash}, {"fileName", "list.pdf"}});
  const Actor other = admin("adm-t2", "HX/GM/T02"), city = admin("adm-city", "HX/GM");
  EXPECT_EQ(act(id, "accept", other).error, StepError::not_found);
  EXPECT_EQ(act(id, "return", other, {{"reason", "x"}}).error, StepError::not_found);
  EXPECT_EQ(act(id, "cancel", other, {{"reason", "x"}}).error, StepError::not_found);
  EXPECT_EQ(act(id, "accept", city).error, StepError::actor_not_allowed)
      << "the city sees its villages' lists; their township reviews them";
  ok(id, "accept", admin("adm-t1", "HX/GM/T01"));
  EXPECT_EQ(engine_->get(id)->outcome, "accepted");
}

TEST_F(LetterTest, ResponsibilityListOverdueNotifiesThenEscalates) {
  auto id = begin("food-safety.responsibility-list", unit_list());
  take_notes();
  go("2023-04-19T18:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "clerk-t1", "明日截止"), 1u);
  go("2023-04-20T18:00:00+08:00");
  auto notes = take_notes();
  EXPECT_EQ(count_to(notes, "clerk-t1", "未按期报送"), 1u);
  EXPECT_EQ(count_to(notes, "adm-city", "未按期报送"), 1u);
  go("2023-04-27T18:00:00+08:00");
  EXPECT_EQ(count_to(take_notes(), "adm-pref", "逾期 7 天"), 1u);
  EXPECT_EQ(data(id)["escalated"], true);
}

}  // namespace
