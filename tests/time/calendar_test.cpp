#include "bihuan/time.hpp"

#include <gtest/gtest.h>

#include "time/civil.hpp"

namespace bihuan {
namespace {

// The shipped calendar, loaded the way the engine loads it.
class CnMainland : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Problems problems;
    calendars_ =
        new Calendars(Calendars::load_dir(BIHUAN_SOURCE_DIR "/workflows/calendars", problems));
    for (const auto& p : problems.items()) ADD_FAILURE() << p.to_string();
  }
  static void TearDownTestSuite() {
    delete calendars_;
    calendars_ = nullptr;
  }
  void SetUp() override {
    cal_ = calendars_->find("cn-mainland");
    ASSERT_TRUE(cal_);
  }

  TimePoint at(const char* text) const {
    auto t = parse_time(text, &cal_->zone());
    EXPECT_TRUE(t.has_value()) << text;
    return t.value_or(TimePoint{});
  }
  std::string add(const char* from, const char* duration, bool working = true) const {
    auto d = parse_duration(duration);
    EXPECT_TRUE(d.has_value()) << duration;
    return format_time(cal_->add(at(from), *d, working), cal_->zone());
  }
  std::int64_t between(const char* from, const char* to) const {
    return cal_->working_days_between(at(from), at(to));
  }
  bool working(const char* date) const { return cal_->is_working_day(*parse_local_date(date)); }

  static inline Calendars* calendars_ = nullptr;
  std::shared_ptr<const Calendar> cal_;
};

TEST_F(CnMainland, Identity) {
  EXPECT_EQ(cal_->id(), "cn-mainland");
  EXPECT_EQ(cal_->zone().name(), "Asia/Shanghai");
  EXPECT_EQ(cal_->zone_ptr().get(), &cal_->zone());
  EXPECT_EQ(calendars_->ids(), std::vector<std::string>{"cn-mainland"});
  EXPECT_EQ(calendars_->find("nope"), nullptr);
  for (int y : {2022, 2023, 2024, 2025, 2026}) EXPECT_TRUE(cal_->covers_year(y)) << y;
  for (int y : {2021, 2027, 1970}) EXPECT_FALSE(cal_->covers_year(y)) << y;
}

TEST_F(CnMainland, WorkingDays2023) {
  EXPECT_TRUE(working("2023-01-28"));   // Saturday, make-up working day
  EXPECT_TRUE(working("2023-01-29"));   // Sunday, make-up
  EXPECT_FALSE(working("2023-01-02"));  // Monday, New Year holiday
  EXPECT_FALSE(working("2023-01-23"));  // Monday, Spring Festival
  EXPECT_FALSE(working("2023-04-05"));  // Wednesday, Qingming
  EXPECT_TRUE(working("2023-04-23"));   // Sunday, make-up
  EXPECT_TRUE(working("2023-05-06"));   // Saturday, make-up
  EXPECT_FALSE(working("2023-06-23"));  // Friday, Dragon Boat
  EXPECT_TRUE(working("2023-06-25"));   // Sunday, make-up
  EXPECT_FALSE(working("2023-09-29"));  // Friday, Mid-Autumn
  EXPECT_FALSE(working("2023-10-06"));  // Friday, National Day
  EXPECT_TRUE(working("2023-10-07"));   // Saturday, make-up
  EXPECT_TRUE(working("2023-10-08"));   // Sunday, make-up
  EXPECT_TRUE(working("2023-10-09"));   // Monday
  EXPECT_FALSE(working("2023-10-14"));  // ordinary Saturday
  EXPECT_TRUE(working("2023-03-15"));   // ordinary Wednesday
  EXPECT_FALSE(working("2022-12-31"));  // Saturday, New Year holiday of 2023
  EXPECT_FALSE(working("2022-10-07"));  // Friday, National Day 2022
  EXPECT_TRUE(working("2022-10-08"));   // Saturday, make-up 2022
  EXPECT_FALSE(working("2024-02-16"));  // Friday, Spring Festival 2024
  EXPECT_TRUE(working("2024-02-18"));   // Sunday, make-up 2024
  EXPECT_TRUE(working("2024-09-29"));   // Sunday, make-up for National Day 2024
}

TEST_F(CnMainland, AddWorkingDays) {
  EXPECT_EQ(add("2023-01-20T09:00:00+08:00", "P1D"), "2023-01-28T09:00:00+08:00");
  EXPECT_EQ(add("2023-01-20T09:00:00+08:00", "P2D"), "2023-01-29T09:00:00+08:00");
  EXPECT_EQ(add("2023-01-20T09:00:00+08:00", "P3D"), "2023-01-30T09:00:00+08:00");
  EXPECT_EQ(add("2023-09-28T17:30:00+08:00", "P1D"), "2023-10-07T17:30:00+08:00");
  EXPECT_EQ(add("2023-09-28T17:30:00+08:00", "P2D"), "2023-10-08T17:30:00+08:00");
  EXPECT_EQ(add("2023-09-28T17:30:00+08:00", "P3D"), "2023-10-09T17:30:00+08:00");
  EXPECT_EQ(add("2023-04-28T10:00:00+08:00", "P1D"), "2023-05-04T10:00:00+08:00");
  // From a non-working day: the first working day after it.
  EXPECT_EQ(add("2023-10-01T10:00:00+08:00", "P1D"), "2023-10-07T10:00:00+08:00");
  EXPECT_EQ(add("2023-01-22T10:00:00+08:00", "P1D"), "2023-01-28T10:00:00+08:00");
  // Qingming: 2023-04-03 + 15 working days skips Apr 5 and counts Sunday Apr 23.
  EXPECT_EQ(add("2023-04-03T09:00:00+08:00", "P15D"), "2023-04-24T09:00:00+08:00");
  // A week is five working days.
  EXPECT_EQ(add("2023-01-20T09:00:00+08:00", "P1W"), "2023-02-01T09:00:00+08:00");
  // The time part is added after the working days.
  EXPECT_EQ(add("2023-01-20T17:00:00+08:00", "P1DT2H"), "2023-01-28T19:00:00+08:00");
  EXPECT_EQ(add("2023-01-20T17:00:00+08:00", "PT8H"), "2023-01-21T01:00:00+08:00");
  // Months stay calendar months, clamped, before the working days.
  EXPECT_EQ(add("2023-08-31T09:00:00+08:00", "P1M"), "2023-09-30T09:00:00+08:00");
  EXPECT_EQ(add("2023-08-31T09:00:00+08:00", "P1M1D"), "2023-10-07T09:00:00+08:00");
  // Zero stays put, even on a holiday.
  EXPECT_EQ(add("2023-10-01T10:00:00+08:00", "P0D"), "2023-10-01T10:00:00+08:00");
  // Spanning years: Dec 30 2022 (Fri) + 1 = Jan 3 2023 (Dec 31 - Jan 2 holiday).
  EXPECT_EQ(add("2022-12-30T09:00:00+08:00", "P1D"), "2023-01-03T09:00:00+08:00");
}

TEST_F(CnMainland, SubtractWorkingDays) {
  EXPECT_EQ(add("2023-01-28T09:00:00+08:00", "-P1D"), "2023-01-20T09:00:00+08:00");
  EXPECT_EQ(add("2023-10-09T09:00:00+08:00", "-P3D"), "2023-09-28T09:00:00+08:00");
  EXPECT_EQ(add("2023-10-09T09:00:00+08:00", "-P1D"), "2023-10-08T09:00:00+08:00");
  EXPECT_EQ(add("2023-05-04T09:00:00+08:00", "-P1D"), "2023-04-28T09:00:00+08:00");
  // A reminder 4 hours before a deadline is exact time, not working time.
  EXPECT_EQ(add("2023-10-07T09:00:00+08:00", "-PT4H"), "2023-10-07T05:00:00+08:00");
  EXPECT_EQ(add("2023-01-03T09:00:00+08:00", "-P1D"), "2022-12-30T09:00:00+08:00");
}

TEST_F(CnMainland, PlainCalendarDaysIgnoreHolidays) {
  EXPECT_EQ(add("2023-04-03T09:00:00+08:00", "P15D", false), "2023-04-18T09:00:00+08:00");
  EXPECT_EQ(add("2023-09-28T09:00:00+08:00", "P1D", false), "2023-09-29T09:00:00+08:00");
  EXPECT_EQ(add("2023-11-30T09:00:00+08:00", "P3M", false), "2024-02-29T09:00:00+08:00");
  EXPECT_EQ(add("2023-04-18T09:00:00+08:00", "-P3D", false), "2023-04-15T09:00:00+08:00");
}

TEST_F(CnMainland, WorkingDaysBetween) {
  EXPECT_EQ(between("2023-09-28T09:00:00+08:00", "2023-10-09T09:00:00+08:00"), 3);
  EXPECT_EQ(between("2023-10-09T09:00:00+08:00", "2023-09-28T09:00:00+08:00"), -3);
  EXPECT_EQ(between("2023-09-28T09:00:00+08:00", "2023-09-28T18:00:00+08:00"), 0);
  EXPECT_EQ(between("2023-01-20T23:00:00+08:00", "2023-01-28T00:30:00+08:00"), 1);
  // Whole years (in (Dec 31, Dec 31]): 2022 and 2023 had 249 working days, 2024 had 251.
  EXPECT_EQ(between("2022-12-31", "2023-12-31"), 249);
  EXPECT_EQ(between("2023-12-31", "2024-12-31"), 251);
  EXPECT_EQ(between("2021-12-31", "2022-12-31"), 249);
  // Local dates count, not UTC ones: 2023-01-27T23:00+08:00 is still Jan 27 locally.
  EXPECT_EQ(cal_->working_days_between(*parse_time("2023-01-27T15:00:00Z"),
                                       *parse_time("2023-01-27T16:30:00Z")),
            1);  // Jan 27 23:00 -> Jan 28 00:30 local
}

// add() and working_days_between() agree with a day-by-day walk, inside and far outside
// the years with data (where whole weeks are skipped at once).
TEST_F(CnMainland, AgreesWithADayByDayWalk) {
  const auto walk = [&](LocalDate d, int n) {
    const int dir = n > 0 ? 1 : -1;
    for (int left = n > 0 ? n : -n; left > 0;) {
      d = time_detail::add_days(d, dir);
      if (cal_->is_working_day(d)) --left;
    }
    return d;
  };
  const auto start_of = [&](const LocalDate& d) {
    return cal_->zone().from_local(d, 9 * 3'600'000);
  };
  for (LocalDate d{2021, 12, 1}; d < LocalDate{2025, 2, 1}; d = time_detail::add_days(d, 3)) {
    for (int n : {-40, -12, -5, -1, 1, 2, 5, 7, 12, 40}) {
      Duration dur;
      dur.negative = n < 0;
      dur.days = n < 0 ? -n : n;
      const LocalDate expected = walk(d, n);
      ASSERT_EQ(cal_->add(start_of(d), dur, true), start_of(expected)) << d.to_string() << " " << n;
      // (from, to] counts `to` but not `from`: going backwards from a non-working day the
      // interval (expected, d] holds one working day fewer.
      const int between = n > 0 ? n : n + (cal_->is_working_day(d) ? 0 : 1);
      ASSERT_EQ(cal_->working_days_between(start_of(d), start_of(expected)), between)
          << d.to_string();
    }
  }
  // Far from the data: thousands of working days.
  for (int n : {-3000, -700, 700, 3000}) {
    const LocalDate d{2023, 6, 1};
    Duration dur;
    dur.negative = n < 0;
    dur.days = n < 0 ? -n : n;
    const LocalDate expected = walk(d, n);
    EXPECT_EQ(cal_->add(start_of(d), dur, true), start_of(expected)) << n;
    EXPECT_EQ(cal_->working_days_between(start_of(d), start_of(expected)), n);  // d works
  }
}

TEST(Calendar, WeekendOfAllDaysRunsOut) {
  // Only constructible directly (from_json rejects it); add() must still terminate.
  Calendar c("none", TimeZone::utc(), {1, 2, 3, 4, 5, 6, 7}, {}, {{2023, 1, 7}}, {2023});
  Duration one;
  one.days = 1;
  const TimePoint jan1 = *parse_time("2023-01-01T00:00:00Z");
  EXPECT_EQ(c.add(jan1, one, true), *parse_time("2023-01-07T00:00:00Z"));
  one.days = 2;
  EXPECT_EQ(c.add(jan1, one, true), TimePoint::max());
  one.negative = true;
  EXPECT_EQ(c.add(jan1, one, true), TimePoint::min());
  EXPECT_EQ(c.working_days_between(jan1, *parse_time("2024-01-01T00:00:00Z")), 1);
}

TEST(Calendar, OtherWeekends) {
  // A Friday/Saturday weekend, no holiday data.
  Calendar c("fri-sat", TimeZone::utc(), {5, 6}, {}, {}, {});
  Duration d;
  d.days = 1;
  const TimePoint thu = *parse_time("2023-06-01T08:00:00Z");            // Thursday
  EXPECT_EQ(c.add(thu, d, true), *parse_time("2023-06-04T08:00:00Z"));  // Sunday
  d.weeks = 2;
  d.days = 0;
  EXPECT_EQ(c.add(thu, d, true), *parse_time("2023-06-15T08:00:00Z"));
  EXPECT_EQ(c.working_days_between(thu, *parse_time("2023-06-15T08:00:00Z")), 10);
}

}  // namespace
}  // namespace bihuan
