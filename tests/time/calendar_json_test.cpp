#include "bihuan/time.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace bihuan {
namespace {

using Found = std::vector<std::pair<std::string, std::string>>;  // (pointer, code)

Found errors_of(const Problems& problems) {
  Found out;
  for (const auto& p : problems.items()) {
    if (p.severity == Severity::error) out.emplace_back(p.pointer, p.code);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Found warnings_of(const Problems& problems) {
  Found out;
  for (const auto& p : problems.items()) {
    if (p.severity == Severity::warning) out.emplace_back(p.pointer, p.code);
  }
  std::sort(out.begin(), out.end());
  return out;
}

json valid_doc() {
  return json::parse(R"({
    "id": "test", "title": "Test", "timezone": "Asia/Shanghai",
    "weekend": ["saturday", "sunday"],
    "years": {"2023": {"holidays": ["2023-01-01/2023-01-02", "2023-04-05"],
                       "workdays": ["2023-01-28"], "source": "test"}}
  })");
}

TEST(CalendarJson, ValidDocument) {
  Problems problems;
  auto c = Calendar::from_json(valid_doc(), problems);
  ASSERT_TRUE(c);
  EXPECT_TRUE(problems.items().empty());
  EXPECT_EQ(c->id(), "test");
  EXPECT_FALSE(c->is_working_day({2023, 1, 2}));
  EXPECT_TRUE(c->is_working_day({2023, 1, 28}));
  EXPECT_TRUE(c->covers_year(2023));
}

TEST(CalendarJson, WeekendDefaultsAndOtherWeekends) {
  json doc = valid_doc();
  doc.erase("weekend");
  Problems problems;
  auto c = Calendar::from_json(doc, problems);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->is_working_day({2023, 3, 4}));  // Saturday
  doc["weekend"] = {"friday", "saturday"};
  doc["years"]["2023"]["workdays"] = {"2023-01-27"};  // a Friday
  c = Calendar::from_json(doc, problems);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->is_working_day({2023, 3, 5}));   // Sunday
  EXPECT_FALSE(c->is_working_day({2023, 3, 3}));  // Friday
  EXPECT_TRUE(problems.items().empty());
}

TEST(CalendarJson, ReportsEveryProblemWithItsPointer) {
  json doc = json::parse(R"({
    "id": "bad id!",
    "colour": "red",
    "a/b~c": 1,
    "timezone": "Mars/Olympus_Mons",
    "weekend": ["saturday", "Sunday", "saturday", 7],
    "years": {
      "2023": {
        "holidays": ["2023-01-01", "2023-02-30", "2024-01-01", "2023-05-03/2023-05-01",
                     5, "2023-06-01/2023-06-31", "2023-10-01/2023-10-07"],
        "workdays": ["2023-01-01", "2023-10-07", "2023-01-28"],
        "note": "x"
      },
      "23": {},
      "2024": {"holidays": "2024-01-01"},
      "2025": []
    }
  })");
  Problems problems("cal.json");
  EXPECT_EQ(Calendar::from_json(doc, problems), nullptr);
  const Found expected = {
      {"/a~1b~0c", "unknown-key"},
      {"/colour", "unknown-key"},
      {"/id", "bad-id"},
      {"/timezone", "unknown-timezone"},
      {"/weekend/1", "bad-weekday"},
      {"/weekend/2", "duplicate-weekday"},
      {"/weekend/3", "bad-weekday"},
      {"/years/2023/holidays/1", "bad-date"},
      {"/years/2023/holidays/2", "date-outside-year"},
      {"/years/2023/holidays/3", "bad-range"},
      {"/years/2023/holidays/4", "bad-date"},
      {"/years/2023/holidays/5", "bad-range"},
      {"/years/2023/note", "unknown-key"},
      {"/years/2023/workdays/0", "holiday-and-workday"},
      {"/years/2023/workdays/1", "holiday-and-workday"},
      {"/years/2024/holidays", "bad-type"},
      {"/years/2025", "bad-type"},
      {"/years/23", "bad-year"},
  };
  EXPECT_EQ(errors_of(problems), expected);
  for (const auto& p : problems.items()) {
    EXPECT_EQ(p.file, "cal.json");
    EXPECT_FALSE(p.message.empty());
  }
}

TEST(CalendarJson, MissingKeysAndWrongTypes) {
  Problems problems;
  EXPECT_EQ(Calendar::from_json(json::array(), problems), nullptr);
  EXPECT_EQ(errors_of(problems), (Found{{"", "bad-type"}}));

  Problems missing;
  EXPECT_EQ(Calendar::from_json(json::object(), missing), nullptr);
  EXPECT_EQ(errors_of(missing),
            (Found{{"", "missing-key"}, {"", "missing-key"}, {"", "missing-key"}}));

  json doc = valid_doc();
  doc["id"] = 5;
  doc["title"] = false;
  doc["timezone"] = json::array();
  doc["weekend"] = "saturday";
  doc["years"] = json::array();
  Problems typed;
  EXPECT_EQ(Calendar::from_json(doc, typed), nullptr);
  EXPECT_EQ(errors_of(typed), (Found{{"/id", "bad-id"},
                                     {"/timezone", "bad-type"},
                                     {"/title", "bad-type"},
                                     {"/weekend", "bad-type"},
                                     {"/years", "bad-type"}}));
}

TEST(CalendarJson, WholeWeekWeekendIsRejected) {
  json doc = valid_doc();
  doc["weekend"] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  Problems problems;
  EXPECT_EQ(Calendar::from_json(doc, problems), nullptr);
  EXPECT_EQ(errors_of(problems), (Found{{"/weekend", "no-working-weekday"}}));
}

TEST(CalendarJson, WarningsDoNotStopLoading) {
  json doc = valid_doc();
  doc["years"]["2023"]["holidays"] = {"2023-04-05", "2023-04-03/2023-04-05"};
  doc["years"]["2023"]["workdays"] = {"2023-01-28", "2023-01-30"};  // Jan 30 is a Monday
  Problems problems;
  EXPECT_TRUE(Calendar::from_json(doc, problems));
  EXPECT_EQ(warnings_of(problems), (Found{{"/years/2023/holidays/1", "duplicate-date"},
                                          {"/years/2023/workdays/1", "workday-not-weekend"}}));
  EXPECT_FALSE(problems.has_errors());
}

TEST(CalendarJson, ErrorsBeforeDoNotCount) {
  Problems problems;
  problems.error("/elsewhere", "other", "an earlier error from another check");
  EXPECT_TRUE(Calendar::from_json(valid_doc(), problems));
}

class TempDir {
 public:
  TempDir() {
    path_ =
        std::filesystem::temp_directory_path() /
        ("bihuan-calendar-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return (path_ / name).string();
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(Calendars, LoadDirNamesEachFile) {
  TempDir dir;
  const std::string a = dir.write("a.json", valid_doc().dump(2));
  const std::string b = dir.write("b.json", valid_doc().dump(2));  // same id
  const std::string broken = dir.write("c.json", "{\"id\": \"x\",");
  json other = valid_doc();
  other["id"] = "other";
  other["years"]["2023"]["holidays"][1] = "2023-04-31";
  const std::string invalid = dir.write("d.json", other.dump(2));
  other["years"]["2023"]["holidays"][1] = "2023-04-30";
  dir.write("e.json", other.dump(2));
  dir.write("notes.txt", "not a calendar");

  Problems problems;
  Calendars cals = Calendars::load_dir(dir.path(), problems);
  EXPECT_EQ(cals.ids(), (std::vector<std::string>{"other", "test"}));

  std::map<std::string, std::vector<Problem>> by_file;
  for (const auto& p : problems.items()) by_file[p.file].push_back(p);
  EXPECT_EQ(by_file.count(a), 0u);
  ASSERT_EQ(by_file[b].size(), 1u);
  EXPECT_EQ(by_file[b][0].code, "duplicate-calendar");
  EXPECT_EQ(by_file[b][0].pointer, "/id");
  EXPECT_NE(by_file[b][0].message.find("a.json"), std::string::npos);
  EXPECT_EQ(by_file[b][0].line, 2u);  // positions are attached from the file text
  ASSERT_FALSE(by_file[broken].empty());
  EXPECT_EQ(by_file[broken][0].severity, Severity::error);
  ASSERT_EQ(by_file[invalid].size(), 1u);
  EXPECT_EQ(by_file[invalid][0].pointer, "/years/2023/holidays/1");
  EXPECT_EQ(by_file[invalid][0].code, "bad-date");
  EXPECT_GT(by_file[invalid][0].line, 0u);
}

TEST(Calendars, MissingDirectoryIsAnError) {
  Problems problems;
  Calendars cals = Calendars::load_dir("/nonexistent/bihuan/calendars", problems);
  EXPECT_TRUE(cals.ids().empty());
  ASSERT_EQ(problems.error_count(), 1u);
  EXPECT_EQ(problems.items()[0].file, "/nonexistent/bihuan/calendars");
}

TEST(Calendars, AddAndFind) {
  Calendars cals;
  cals.add(nullptr);
  EXPECT_TRUE(cals.ids().empty());
  Problems problems;
  cals.add(Calendar::from_json(valid_doc(), problems));
  ASSERT_TRUE(cals.find("test"));
  EXPECT_EQ(cals.find("test")->id(), "test");
}

}  // namespace
}  // namespace bihuan
