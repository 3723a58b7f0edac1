// The shipped cn-mainland data, year by year, against the State Council notices it cites
// (workflows/calendars/README.md), and what happens outside its years.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "bihuan/time.hpp"
#include "time/civil.hpp"

namespace bihuan {
namespace {

class CnMainlandData : public ::testing::Test {
 protected:
  void SetUp() override {
    Problems problems;
    calendars_ = Calendars::load_dir(BIHUAN_SOURCE_DIR "/workflows/calendars", problems);
    for (const auto& p : problems.items()) ADD_FAILURE() << p.to_string();
    cal_ = calendars_.find("cn-mainland");
    ASSERT_TRUE(cal_);
  }
  bool working(const char* date) const { return cal_->is_working_day(*parse_local_date(date)); }
  TimePoint at(const char* text) const { return *parse_time(text, &cal_->zone()); }
  std::string add(const char* from, const char* duration) const {
    return format_time(cal_->add(at(from), *parse_duration(duration), true), cal_->zone());
  }
  // Working days in the year, by walking every date.
  int working_days_in(std::int32_t year) const {
    int n = 0;
    for (LocalDate d{year, 1, 1}; d.year == year; d = time_detail::add_days(d, 1))
      n += cal_->is_working_day(d);
    return n;
  }
  // Weekdays (Mon-Fri) of [from, to] that are not working days.
  int weekdays_off(const char* from, const char* to) const {
    int n = 0;
    for (LocalDate d = *parse_local_date(from); d <= *parse_local_date(to);
         d = time_detail::add_days(d, 1))
      n += iso_weekday(d) <= 5 && !cal_->is_working_day(d);
    return n;
  }

  Calendars calendars_;
  std::shared_ptr<const Calendar> cal_;
};

TEST_F(CnMainlandData, CoversEveryPublishedYear) {
  // 2027's notice was not published when this data was last updated (2026-12-04): it is
  // not invented. docs/operations.md says how to add it.
  EXPECT_EQ(cal_->years(), (std::set<std::int32_t>{2022, 2023, 2024, 2025, 2026}));
}

TEST_F(CnMainlandData, WorkingDaysPerYear) {
  // 365 or 366 days, less weekends and weekday holidays, plus weekend make-up days.
  const std::map<std::int32_t, int> expected = {
      {2022, 249}, {2023, 249}, {2024, 251}, {2025, 248}, {2026, 248}};
  for (const auto& [year, n] : expected) EXPECT_EQ(working_days_in(year), n) << year;
}

TEST_F(CnMainlandData, SpringFestival2024) {
  // 2月10日至17日放假调休，共8天。2月4日（星期日）、2月18日（星期日）上班。
  for (const char* d : {"2024-02-10", "2024-02-11", "2024-02-12", "2024-02-13", "2024-02-14",
                        "2024-02-15", "2024-02-16", "2024-02-17"})
    EXPECT_FALSE(working(d)) << d;
  EXPECT_TRUE(working("2024-02-04"));
  EXPECT_TRUE(working("2024-02-18"));
  EXPECT_TRUE(working("2024-02-09"));  // 除夕 2024 was a working Friday (before the 2025 rules)
  EXPECT_EQ(cal_->working_days_between(at("2024-02-09T09:00:00"), at("2024-02-18T09:00:00")), 1);
  EXPECT_EQ(add("2024-02-09T09:00:00", "P1D"), "2024-02-18T09:00:00+08:00");
}

TEST_F(CnMainlandData, Rules2025AddSpringFestivalEveAndMayTheSecond) {
  // From 2025 (国务院令第795号) 除夕 and 5月2日 are public holidays: 13 days a year.
  EXPECT_FALSE(working("2025-01-28"));  // 除夕, Tuesday
  EXPECT_FALSE(working("2025-05-02"));  // Friday
  // 春节 1月28日至2月4日 (8 days), 1月26日（周日）、2月8日（周六）上班.
  EXPECT_EQ(weekdays_off("2025-01-28", "2025-02-04"), 6);
  EXPECT_TRUE(working("2025-01-26"));
  EXPECT_TRUE(working("2025-02-08"));
  // 劳动节 5月1日至5日, 4月27日（周日）上班; 国庆、中秋 10月1日至8日,
  // 9月28日（周日）、10月11日（周六）上班.
  EXPECT_EQ(weekdays_off("2025-05-01", "2025-05-05"), 3);
  EXPECT_TRUE(working("2025-04-27"));
  EXPECT_EQ(weekdays_off("2025-10-01", "2025-10-08"), 6);
  EXPECT_TRUE(working("2025-09-28"));
  EXPECT_TRUE(working("2025-10-11"));
  EXPECT_FALSE(working("2025-06-02"));  // 端午 5月31日至6月2日
}

TEST_F(CnMainlandData, Year2026) {
  // 元旦 1月1日至3日, 1月4日（周日）上班; 春节 2月15日至23日 (9 days),
  // 2月14日（周六）、2月28日（周六）上班.
  EXPECT_FALSE(working("2026-01-02"));
  EXPECT_TRUE(working("2026-01-04"));
  EXPECT_EQ(weekdays_off("2026-02-15", "2026-02-23"), 6);  // Sunday the 15th to Monday the 23rd
  // A make-up working day on a weekend counts: Friday 2026-02-13 + 1 working day is Saturday the
  // 14th.
  EXPECT_TRUE(working("2026-02-14"));
  EXPECT_EQ(add("2026-02-13T10:00:00", "P1D"), "2026-02-14T10:00:00+08:00");
  EXPECT_EQ(add("2026-02-14T10:00:00", "P1D"), "2026-02-24T10:00:00+08:00");
  EXPECT_TRUE(working("2026-02-28"));
  // 中秋 9月25日至27日 and 国庆 10月1日至7日 apart;
  // 9月20日（周日）、10月10日（周六）、5月9日（周六）上班.
  EXPECT_FALSE(working("2026-09-25"));
  EXPECT_EQ(weekdays_off("2026-10-01", "2026-10-07"), 5);
  for (const char* d : {"2026-05-09", "2026-09-20", "2026-10-10"}) EXPECT_TRUE(working(d)) << d;
  EXPECT_FALSE(working("2026-06-19"));  // 端午
}

TEST_F(CnMainlandData, UncoveredYearsAreReportedAndLoggedOncePerCalendarAndYear) {
  EXPECT_TRUE(cal_->uncovered_years(at("2023-01-01T00:00:00"), at("2026-12-31T23:00:00")).empty());
  EXPECT_EQ(cal_->uncovered_years(at("2026-12-30T09:00:00"), at("2027-01-05T09:00:00")),
            std::vector<std::int32_t>{2027});
  EXPECT_EQ(cal_->uncovered_years(at("2021-12-30T09:00:00"), at("2022-01-05T09:00:00")),
            std::vector<std::int32_t>{2021});

  ::testing::internal::CaptureStderr();
  calendars_.note_use(*cal_, at("2024-01-01T09:00:00"),
                      at("2024-03-01T09:00:00"));  // covered: silent
  std::string covered = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(covered, "");
  EXPECT_TRUE(calendars_.gaps().empty());

  ::testing::internal::CaptureStderr();
  calendars_.note_use(*cal_, at("2026-12-30T09:00:00"), at("2027-01-05T09:00:00"));
  calendars_.note_use(*cal_, at("2027-02-01T09:00:00"),
                      at("2027-02-03T09:00:00"));  // again: not logged
  std::string logged = ::testing::internal::GetCapturedStderr();
  auto line = json::parse(logged.substr(0, logged.find('\n')));
  EXPECT_EQ(line["level"], "warn");
  EXPECT_EQ(line["calendar"], "cn-mainland");
  EXPECT_EQ(line["year"], 2027);
  EXPECT_NE(line["msg"].get<std::string>().find("2022-2026"), std::string::npos) << line;
  EXPECT_EQ(std::count(logged.begin(), logged.end(), '\n'), 1) << logged;
  ASSERT_EQ(calendars_.gaps().size(), 1u);
  EXPECT_EQ(calendars_.gaps()[0].calendar, "cn-mainland");
  EXPECT_EQ(calendars_.gaps()[0].year, 2027);
}

}  // namespace
}  // namespace bihuan
