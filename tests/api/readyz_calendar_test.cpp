// /readyz reports each working-day calendar's covered years and the years outside them
// that the engine computed working days in (issue 19: never silently weekends only).
#include "server_fixture.hpp"

using namespace bihuan;
using namespace bihuan::test;

namespace {

const char* kWorkingDeadline =
    R"({"id": "t.wd", "version": 1, "calendar": "cn-mainland", "initial": "open",
  "states": {"open": {"deadline": {"after": "P5D", "workingDays": true}, "on": {"done": {"target": "end", "roles": ["USER"]}}},
             "end": {"type": "final", "outcome": "done"}}})";

}  // namespace

TEST_F(ServerTest, ReadyzListsCalendarCoverageAndUncoveredYearsUsed) {
  engine_->close();
  Problems problems;
  EngineOptions eo;
  eo.data_dir = dir_ + "/data";
  eo.clock = std::make_shared<VirtualClock>(*parse_time("2026-12-29T09:00:00+08:00"));
  eo.calendars = std::make_shared<Calendars>(
      Calendars::load_dir(BIHUAN_SOURCE_DIR "/workflows/calendars", problems));
  engine_ = Engine::open(eo, problems);
  ASSERT_TRUE(engine_);
  ASSERT_TRUE(engine_->deploy(json::parse(kWorkingDeadline), "wd").ok);
  serve();
  HttpClient c(port_);
  auto before = c.get("/readyz");
  ASSERT_EQ(before.status, 200);
  json cals = before.json_body()["calendars"];
  ASSERT_EQ(cals.size(), 1u) << before.body;
  EXPECT_EQ(cals[0]["id"], "cn-mainland");
  EXPECT_EQ(cals[0]["years"], json::array({2022, 2023, 2024, 2025, 2026}));
  EXPECT_EQ(cals[0]["uncoveredYearsUsed"], json::array());

  // The deadline, 5 working days after 2026-12-29, lies in 2027: no holiday data there.
  ::testing::internal::CaptureStderr();
  StartRequest s;
  s.definition = "t.wd";
  auto started = engine_->start(s);
  std::string logged = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(started.ok()) << started.message;
  EXPECT_NE(logged.find("\"year\":2027"), std::string::npos) << logged;
  auto after = c.get("/readyz");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.json_body()["calendars"][0]["uncoveredYearsUsed"], json::array({2027}))
      << after.body;
}
