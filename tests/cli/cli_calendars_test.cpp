// `bihuan validate` and calendars (issue 19): the bundled calendars are found wherever it
// is run from, the calendars used are listed with their years, and a definition counting
// working days of a calendar whose data ends before next year gets a warning.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "bihuan/json.hpp"
#include "cli_run.hpp"

namespace {

namespace fs = std::filesystem;
using bihuan::json;
using bihuan::testing::CliRun;
using bihuan::testing::run_bihuan;

// A definition with a working-day deadline on calendar `cal`.
std::string uses(const std::string& cal) {
  return json({{"id", "t.cal"},
               {"version", 1},
               {"calendar", cal},
               {"initial", "open"},
               {"states",
                {{"open",
                  {{"deadline", {{"after", "P3D"}, {"workingDays", true}}},
                   {"on", {{"done", {{"target", "end"}, {"roles", {"USER"}}}}}}}},
                 {"end", {{"type", "final"}, {"outcome", "done"}}}}}})
      .dump(2);
}

// A calendar `id` covering `year` (no holidays listed).
std::string calendar(const std::string& id, const std::string& year) {
  return json({{"id", id},
               {"timezone", "Asia/Shanghai"},
               {"years", {{year, {{"holidays", json::array()}}}}}})
      .dump();
}

class CliCalendarsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::mt19937_64 rng(std::random_device{}());
    dir_ = fs::temp_directory_path() / ("bihuan-cal-" + std::to_string(rng()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    unsetenv("BIHUAN_CALENDARS");
    fs::remove_all(dir_);
  }
  void write(const fs::path& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel) << text;
  }
  CliRun bihuan(const std::vector<std::string>& args) { return run_bihuan(dir_, args); }

  fs::path dir_;
};

TEST_F(CliCalendarsTest, ValidateFindsTheBundledCalendarsFromAnotherDirectory) {
  // Nothing above the temp dir holds calendars: only the bundled ones can resolve it.
  write("def.json", uses("cn-mainland"));
  auto r = bihuan({"validate", "--format", "json", "def.json"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  json doc = r.doc();
  EXPECT_EQ(doc["errors"], 0) << r.out;
  ASSERT_EQ(doc["calendars"].size(), 1u) << r.out;
  EXPECT_EQ(doc["calendars"][0]["id"], "cn-mainland");
  EXPECT_EQ(doc["calendars"][0]["years"], json::array({2022, 2023, 2024, 2025, 2026}));
  ASSERT_EQ(doc["calendarDirs"].size(), 1u);
  EXPECT_TRUE(fs::exists(fs::path(doc["calendarDirs"][0].get<std::string>()) / "cn-mainland.json"));
  // Text mode says which years the data covers.
  auto text = bihuan({"validate", "def.json"});
  EXPECT_NE(text.out.find("calendar cn-mainland: holiday data for 2022-2026"), std::string::npos)
      << text.out;
}

TEST_F(CliCalendarsTest, ACalendarWhoseDataEndsBeforeNextYearIsAWarning) {
  write("calendars/old.json", calendar("old", "2020"));
  write("calendars/far.json", calendar("far", "9999"));
  write("old-def.json", uses("old"));
  write("far-def.json", uses("far"));
  auto r = bihuan({"validate", "--format", "json", "old-def.json"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;  // a warning, not an error
  json doc = r.doc();
  EXPECT_EQ(doc["warnings"], 1) << r.out;
  json p = doc["files"][0]["problems"][0];
  EXPECT_EQ(p["code"], "calendar-coverage");
  EXPECT_EQ(p["pointer"], "/calendar");
  EXPECT_NE(p["message"].get<std::string>().find("holiday data for 2020 only"), std::string::npos)
      << p;
  EXPECT_EQ(bihuan({"validate", "--strict", "old-def.json"}).rc, 1);
  // A calendar with data for next year: nothing to say.
  auto far = bihuan({"validate", "--format", "json", "far-def.json"});
  EXPECT_EQ(far.doc()["warnings"], 0) << far.out;
}

TEST_F(CliCalendarsTest, BihuanCalendarsOverridesTheSearch) {
  write("mine/own.json", calendar("own", "9999"));
  write("def.json", uses("own"));
  EXPECT_EQ(bihuan({"validate", "def.json"}).rc, 1);  // "own" is nowhere else
  setenv("BIHUAN_CALENDARS", (dir_ / "mine").c_str(), 1);
  auto r = bihuan({"validate", "--format", "json", "def.json"});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.doc()["calendars"][0]["id"], "own");
}

}  // namespace
