#include "bihuan/time.hpp"

#include <gtest/gtest.h>

#include "time/civil.hpp"

namespace bihuan {
namespace {

using time_detail::civil_from_days;
using time_detail::days_from_civil;

TEST(Civil, KnownDayNumbers) {
  EXPECT_EQ(days_from_civil({1970, 1, 1}), 0);
  EXPECT_EQ(days_from_civil({1969, 12, 31}), -1);
  EXPECT_EQ(days_from_civil({2000, 3, 1}), 11017);
  EXPECT_EQ(days_from_civil({2023, 1, 28}), 19385);
  EXPECT_EQ(days_from_civil({1, 1, 1}), -719162);
  EXPECT_EQ(days_from_civil({0, 3, 1}), -719468);
}

// Walks day by day over about 5,500 years (including negative years, century and
// 400-year leap rules) and checks both directions against a simple successor function.
TEST(Civil, RoundTripsEveryDayOverMillennia) {
  LocalDate d{-1000, 1, 1};
  std::int64_t n = days_from_civil(d);
  const std::int64_t end = days_from_civil({4500, 12, 31});
  for (; n <= end; ++n) {
    ASSERT_EQ(days_from_civil(d), n) << d.to_string();
    ASSERT_EQ(civil_from_days(n), d) << n;
    ASSERT_EQ(iso_weekday(d), static_cast<unsigned>(((n % 7) + 7 + 3) % 7 + 1));
    // Successor.
    if (d.day < time_detail::days_in_month(d.year, d.month)) {
      ++d.day;
    } else if (d.month < 12) {
      ++d.month;
      d.day = 1;
    } else {
      ++d.year;
      d.month = 1;
      d.day = 1;
    }
  }
}

TEST(Civil, IsoWeekday) {
  EXPECT_EQ(iso_weekday({1970, 1, 1}), 4u);   // Thursday
  EXPECT_EQ(iso_weekday({2023, 1, 28}), 6u);  // Saturday (a make-up working day)
  EXPECT_EQ(iso_weekday({2023, 10, 8}), 7u);  // Sunday
  EXPECT_EQ(iso_weekday({2023, 10, 9}), 1u);  // Monday
  EXPECT_EQ(iso_weekday({2000, 2, 29}), 2u);  // Tuesday
  EXPECT_EQ(iso_weekday({1600, 1, 1}), 6u);   // Saturday
}

TEST(Civil, LeapYears) {
  EXPECT_TRUE(time_detail::is_leap_year(2000));
  EXPECT_TRUE(time_detail::is_leap_year(2024));
  EXPECT_FALSE(time_detail::is_leap_year(1900));
  EXPECT_FALSE(time_detail::is_leap_year(2100));
  EXPECT_FALSE(time_detail::is_leap_year(2023));
  EXPECT_TRUE(time_detail::is_leap_year(-4));
}

TEST(Civil, ParseLocalDateAcceptsRealDates) {
  for (const char* text : {"2023-01-28", "2024-02-29", "2000-02-29", "1999-12-31", "0000-01-01",
                           "9999-12-31", "2023-04-30", "2023-12-31"}) {
    SCOPED_TRACE(text);
    const auto d = parse_local_date(text);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->to_string(), text);
  }
  EXPECT_EQ(*parse_local_date("2023-10-08"), (LocalDate{2023, 10, 8}));
}

TEST(Civil, ParseLocalDateRejectsEverythingElse) {
  for (const char* text : {"",
                           "2023-02-29",
                           "2100-02-29",
                           "1900-02-29",
                           "2023-04-31",
                           "2023-13-01",
                           "2023-00-10",
                           "2023-01-00",
                           "2023-01-32",
                           "2023-1-01",
                           "2023-01-1",
                           "23-01-01",
                           "2023/01/01",
                           "20230101",
                           " 2023-01-01",
                           "2023-01-01 ",
                           "2023-01-01T00:00",
                           "+2023-01-01",
                           "2023-0a-01",
                           "2023--1-01",
                           "２０２３-01-01"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_local_date(text).has_value());
  }
}

TEST(Civil, ToStringPadsAndSigns) {
  EXPECT_EQ((LocalDate{2023, 1, 2}).to_string(), "2023-01-02");
  EXPECT_EQ((LocalDate{33, 3, 4}).to_string(), "0033-03-04");
  EXPECT_EQ((LocalDate{-1, 12, 31}).to_string(), "-0001-12-31");
  EXPECT_EQ((LocalDate{12345, 1, 1}).to_string(), "+12345-01-01");
}

TEST(Civil, AddMonthsClampsToMonthEnd) {
  using time_detail::add_months;
  EXPECT_EQ(add_months({2023, 1, 31}, 1), (LocalDate{2023, 2, 28}));
  EXPECT_EQ(add_months({2024, 1, 31}, 1), (LocalDate{2024, 2, 29}));
  EXPECT_EQ(add_months({2023, 3, 31}, -1), (LocalDate{2023, 2, 28}));
  EXPECT_EQ(add_months({2023, 11, 30}, 3), (LocalDate{2024, 2, 29}));
  EXPECT_EQ(add_months({2023, 1, 15}, -13), (LocalDate{2021, 12, 15}));
  EXPECT_EQ(add_months({2023, 12, 31}, 12 * 100), (LocalDate{2123, 12, 31}));
  EXPECT_EQ(add_months({2024, 2, 29}, 12), (LocalDate{2025, 2, 28}));
}

}  // namespace
}  // namespace bihuan
