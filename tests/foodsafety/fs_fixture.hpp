// Shared by the food-safety workflow tests: a real engine (LMDB in a temp dir, virtual
// clock, shipped calendars) with every definition of workflows/food-safety/ deployed, the
// package's actors, and readers for the outbox (notifications, tasks) and history.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/engine_fixture.hpp"

namespace bihuan::testing {

// EXPECT_HAS(text, part): `part` occurs in `text`.
#define FS_EXPECT_HAS(text, part)                            \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "expected \"" << (part) << "\" in:\n"               \
      << (text)

inline json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

// The package's people. A station's people carry the attribute `station` (their key
// "station:<id>" is what a problem's events admit); an office carries `unit` when given.
inline Actor cadre(const std::string& id) { return {id, {"CADRE"}}; }
inline Actor admin(const std::string& id, const std::string& unit = "") {
  return {id, {"ADMIN"}, unit.empty() ? json::object() : json{{"unit", unit}}};
}
inline Actor signatory(const std::string& id) { return {id, {"SIGNATORY"}}; }
inline Actor regulator(const std::string& station) {
  return {station, {"REGULATOR"}, {{"station", station}}};
}
inline Actor inspector(const std::string& id, const std::string& station = "st-1") {
  return {id, {"INSPECTOR"}, {{"station", station}}};
}
inline Actor principal(const std::string& id) { return {id, {"PRINCIPAL"}}; }
inline Actor officer(const std::string& id) { return {id, {"OFFICER"}}; }
inline Actor director(const std::string& id) { return {id, {"DIRECTOR"}}; }

// Start data of a supervision task of business B0001 (village HX/GM/T01/V001, station
// st-1, office adm-t1) for `period`, as the scheduler's row gives it.
inline json fs_visit(const std::string& period, const std::string& start, const std::string& end,
                     const std::string& binding = "bd-1", const std::string& cadre_id = "c-1") {
  return {{"bindingId", binding},
          {"cadreId", cadre_id},
          {"cadreName", "王干部"},
          {"level", "village"},
          {"businessId", "B0001"},
          {"businessName", "张记小吃"},
          {"businessType", "small_restaurant"},
          {"riskLevel", "B"},
          {"baobaoGrade", "D"},
          {"principalId", "p-1"},
          {"period", period},
          {"periodStart", start},
          {"periodEnd", end},
          {"checklist", {"staff", "hygiene"}},
          {"adminId", "adm-t1"},
          {"upperAdminId", "adm-city"},
          {"stationId", "st-1"},
          {"unitPath", "HX/GM/T01/V001"}};
}

class FoodSafetyTest : public EngineTest {
 protected:
  // The virtual clock starts here (the engine never lets step times go backwards, so a
  // test that needs an earlier moment must start there rather than set the clock back).
  virtual const char* start_time() const { return "2023-04-03T09:00:00+08:00"; }
  void SetUp() override {
    dir_ = make_temp_dir("fs");
    init_store();
    clock_ = std::make_shared<VirtualClock>(at(start_time()));
    open();
    for (const auto& e :
         std::filesystem::directory_iterator(BIHUAN_SOURCE_DIR "/workflows/food-safety"))
      if (e.path().extension() == ".json") deploy(read_json_file(e.path().string()).dump());
  }

  // Starts `def` and runs the timers due now (PT0S issue/push steps).
  std::string begin(const std::string& def, json data, const std::string& key = {}) {
    auto r = start(def, std::move(data), key);
    EXPECT_TRUE(r.ok()) << r.message << " " << r.details.dump();
    engine_->advance_to(clock_->now());
    return r.instance ? r.instance->id : "";
  }
  // Starts `def` as `who` (access.start applies), without running the timers.
  StepResult start_by(const std::string& def, json data, const Actor& who) {
    StartRequest r;
    r.definition = def;
    r.data = std::move(data);
    r.actor = who;
    return engine_->start(r);
  }
  StepResult act(const std::string& id, const std::string& event, const Actor& who,
                 json payload = json::object()) {
    return send(id, event, std::move(payload), who);
  }
  void ok(const std::string& id, const std::string& event, const Actor& who,
          json payload = json::object()) {
    auto r = act(id, event, who, std::move(payload));
    ASSERT_TRUE(r.ok()) << event << " by " << who.id << ": " << to_string(r.error) << ": "
                        << r.message << " " << r.details.dump();
  }
  std::string state(const std::string& id) { return engine_->get(id)->state; }
  json data(const std::string& id) { return engine_->get(id)->data; }
  void go(const char* iso) { engine_->advance_to(at(iso)); }

  // Notifications written since the last call to take_notes() (the outbox is never
  // drained in these tests, so a cursor is kept).
  std::vector<json> take_notes() {
    std::vector<json> out;
    while (true) {
      auto page = engine_->outbox(500, seen_);
      if (page.empty()) break;
      for (auto& m : page) {
        seen_ = m.seq;
        if (m.kind == "notify")
          out.push_back(m.body);
        else
          tasks_.push_back(m);
      }
    }
    return out;
  }
  // Notifications to `who` whose text contains `part`, among `notes`.
  static std::size_t count_to(const std::vector<json>& notes, const std::string& who,
                              const std::string& part = "") {
    return std::count_if(notes.begin(), notes.end(), [&](const json& n) {
      bool to = std::find(n["to"].begin(), n["to"].end(), json(who)) != n["to"].end();
      return to && n["text"].get<std::string>().find(part) != std::string::npos;
    });
  }
  // The event names of an instance's history, in order.
  std::vector<std::string> events(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& h : engine_->history(id)) out.push_back(h.kind == "start" ? "start" : h.event);
    return out;
  }
  std::vector<InstanceView> by_definition(const std::string& def) {
    InstanceQuery q;
    q.definition = def;
    q.limit = 1000;
    std::vector<InstanceView> out;
    while (true) {
      auto page = engine_->query(q);
      for (auto& v : page.items) out.push_back(std::move(v));
      if (page.next_cursor.empty()) return out;
      q.cursor = page.next_cursor;
    }
  }

  std::uint64_t seen_ = 0;
  std::vector<OutboxMessage> tasks_;
};

}  // namespace bihuan::testing
