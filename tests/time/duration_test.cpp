#include "bihuan/time.hpp"

#include <gtest/gtest.h>

namespace bihuan {
namespace {

struct Valid {
  const char* text;
  bool negative;
  std::int32_t years, months, weeks, days;
  std::int64_t millis;
  const char* canonical;
};

TEST(Duration, ParsesValidText) {
  const Valid cases[] = {
      {"P1Y2M10DT2H30M", false, 1, 2, 0, 10, 9'000'000, "P1Y2M10DT2H30M"},
      {"P15D", false, 0, 0, 0, 15, 0, "P15D"},
      {"P3M", false, 0, 3, 0, 0, 0, "P3M"},
      {"P2W", false, 0, 0, 2, 0, 0, "P2W"},
      {"P1W3D", false, 0, 0, 1, 3, 0, "P1W3D"},
      {"P1Y1W", false, 1, 0, 1, 0, 0, "P1Y1W"},
      {"PT2H", false, 0, 0, 0, 0, 7'200'000, "PT2H"},
      {"PT90M", false, 0, 0, 0, 0, 5'400'000, "PT1H30M"},
      {"PT1.5S", false, 0, 0, 0, 0, 1'500, "PT1.5S"},
      {"PT0,25S", false, 0, 0, 0, 0, 250, "PT0.25S"},
      {"PT0.001S", false, 0, 0, 0, 0, 1, "PT0.001S"},
      {"PT1.500000S", false, 0, 0, 0, 0, 1'500, "PT1.5S"},
      {"PT36H", false, 0, 0, 0, 0, 129'600'000, "PT36H"},
      {"PT1H0M5S", false, 0, 0, 0, 0, 3'605'000, "PT1H5S"},
      {"P1DT0S", false, 0, 0, 0, 1, 0, "P1D"},
      {"-P3D", true, 0, 0, 0, 3, 0, "-P3D"},
      {"-PT4H", true, 0, 0, 0, 0, 14'400'000, "-PT4H"},
      {"PT0S", false, 0, 0, 0, 0, 0, "PT0S"},
      {"P0D", false, 0, 0, 0, 0, 0, "PT0S"},
      {"-PT0S", false, 0, 0, 0, 0, 0, "PT0S"},
      {"P10000Y", false, 10000, 0, 0, 0, 0, "P10000Y"},
      {"P0010D", false, 0, 0, 0, 10, 0, "P10D"},
  };
  for (const Valid& c : cases) {
    SCOPED_TRACE(c.text);
    std::string why;
    const auto d = parse_duration(c.text, &why);
    ASSERT_TRUE(d.has_value()) << why;
    EXPECT_EQ(d->negative, c.negative);
    EXPECT_EQ(d->years, c.years);
    EXPECT_EQ(d->months, c.months);
    EXPECT_EQ(d->weeks, c.weeks);
    EXPECT_EQ(d->days, c.days);
    EXPECT_EQ(d->millis, c.millis);
    EXPECT_EQ(d->to_string(), c.canonical);
    // The canonical text parses back to the same value.
    const auto again = parse_duration(d->to_string());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->to_string(), d->to_string());
    EXPECT_EQ(again->millis, d->millis);
  }
}

struct Invalid {
  const char* text;
  const char* why_contains;
};

TEST(Duration, RejectsMalformedTextWithAReason) {
  const Invalid cases[] = {
      {"", "starts with 'P'"},
      {"P", "at least one part"},
      {"PT", "'T' must be followed"},
      {"P1DT", "'T' must be followed"},
      {"-P", "at least one part"},
      {"1D", "starts with 'P'"},
      {"p1d", "starts with 'P'"},
      {"P1H", "must follow 'T'"},
      {"P1S", "must follow 'T'"},
      {"PT1D", "must come before 'T'"},
      {"PT1Y", "must come before 'T'"},
      {"P1D1Y", "must come before"},
      {"P1M1Y", "must come before"},
      {"PT1S1H", "must come before"},
      {"P1Y1Y", "twice"},
      {"PT1H2H", "twice"},
      {"P1DT1H1M1M", "twice"},
      {"PTT1H", "'T' appears twice"},
      {"P1X", "unknown designator"},
      {"P1.5D", "only seconds"},
      {"PT1.5H", "only seconds"},
      {"PT1.S", "digits after the decimal point"},
      {"PT0.0001S", "milliseconds"},
      {"P1", "without a designator"},
      {"PD", "expected a number"},
      {"P-1D", "expected a number"},
      {"+P1D", "starts with 'P'"},
      {"--P1D", "starts with 'P'"},
      {"P1D ", "expected a number"},
      {" P1D", "starts with 'P'"},
      {"P10001Y", "years must be at most 10000"},
      {"P99999999999999999999D", "too large"},
      {"P2147483648M", "months must be at most"},
      {"PT999999999999H", "hours must be at most"},
      {"PT87600000H87600000H", "twice"},
  };
  for (const Invalid& c : cases) {
    SCOPED_TRACE(c.text);
    std::string why;
    EXPECT_FALSE(parse_duration(c.text, &why).has_value());
    EXPECT_NE(why.find(c.why_contains), std::string::npos) << "why: " << why;
    EXPECT_FALSE(parse_duration(c.text).has_value());  // why is optional
  }
}

TEST(Duration, TimePartTotalIsBounded) {
  std::string why;
  // Each part within its own bound, the sum beyond ten thousand years.
  EXPECT_FALSE(parse_duration("PT87840000H5270400000M", &why).has_value());
  EXPECT_NE(why.find("too long"), std::string::npos) << why;
}

TEST(Duration, IsZero) {
  EXPECT_TRUE(Duration{}.is_zero());
  EXPECT_TRUE(parse_duration("PT0.000S")->is_zero());
  EXPECT_FALSE(parse_duration("PT0.001S")->is_zero());
  EXPECT_FALSE(parse_duration("P1W")->is_zero());
}

TEST(Duration, CanonicalTextOfBuiltValues) {
  Duration d;
  d.days = 1;
  d.millis = 3'600'000 + 60'000 + 1'001;
  EXPECT_EQ(d.to_string(), "P1DT1H1M1.001S");
  d.negative = true;
  EXPECT_EQ(d.to_string(), "-P1DT1H1M1.001S");
  Duration ms;
  ms.millis = 20;
  EXPECT_EQ(ms.to_string(), "PT0.02S");
}

}  // namespace
}  // namespace bihuan
