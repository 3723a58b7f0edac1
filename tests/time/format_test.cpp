#include "bihuan/time.hpp"

#include <gtest/gtest.h>

namespace bihuan {
namespace {

std::shared_ptr<const TimeZone> fmt_zone(const std::string& name) {
  auto z = TimeZone::load(name);
  EXPECT_TRUE(z) << name;
  return z;
}

std::int64_t ms(std::optional<TimePoint> t) {
  EXPECT_TRUE(t.has_value());
  return t ? t->time_since_epoch().count() : -1;
}

TEST(ParseTime, AcceptedForms) {
  const std::int64_t base = 1'680'483'600'000;  // 2023-04-03T01:00:00Z
  EXPECT_EQ(ms(parse_time("2023-04-03T01:00:00Z")), base);
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00+08:00")), base);
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00+0800")), base);
  EXPECT_EQ(ms(parse_time("2023-04-02T20:00:00-05:00")), base);
  EXPECT_EQ(ms(parse_time("2023-04-03T01:00:00-00:00")), base);
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00+08:00")), base);  // seconds omitted
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00.250+08:00")), base + 250);
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00.5+08:00")), base + 500);
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00.123456789+08:00")), base + 123);  // truncated
  EXPECT_EQ(ms(parse_time("2023-04-03T09:05:43+08:05:43")), base);
  EXPECT_EQ(ms(parse_time("1970-01-01T00:00:00Z")), 0);
  EXPECT_EQ(ms(parse_time("1969-12-31T23:59:59.999Z")), -1);
}

TEST(ParseTime, DatesAndLocalTimesUseTheZone) {
  auto sh = fmt_zone("Asia/Shanghai");
  EXPECT_EQ(ms(parse_time("2023-04-03", sh.get())), ms(parse_time("2023-04-02T16:00:00Z")));
  EXPECT_EQ(ms(parse_time("2023-04-03")), ms(parse_time("2023-04-03T00:00:00Z")));
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00", sh.get())),
            ms(parse_time("2023-04-03T01:00:00Z")));
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00", sh.get())), ms(parse_time("2023-04-03T01:00:00Z")));
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00")), ms(parse_time("2023-04-03T09:00:00Z")));
  // An explicit offset wins over the zone.
  EXPECT_EQ(ms(parse_time("2023-04-03T09:00:00Z", sh.get())),
            ms(parse_time("2023-04-03T09:00:00Z")));
}

TEST(ParseTime, RejectsGarbage) {
  for (const char* text : {"",
                           "2023",
                           "2023-04",
                           "2023-02-30T00:00:00Z",
                           "2023-02-29",
                           "2023-13-01T00:00:00Z",
                           "2023-04-03T24:00:00Z",
                           "2023-04-03T23:60:00Z",
                           "2023-04-03T23:59:60Z",
                           "2023-04-03 09:00:00Z",
                           "2023-04-03t09:00:00Z",
                           "2023-04-03T09:00:00z",
                           "2023-04-03T9:00:00Z",
                           "2023-04-03T09:0:00Z",
                           "2023-04-03T09:00:0Z",
                           "2023-04-03T09:00:00.Z",
                           "2023-04-03T09:00:00.1234567890Z",
                           "2023-04-03T09:00:00+8:00",
                           "2023-04-03T09:00:00+08",
                           "2023-04-03T09:00:00+08:0",
                           "2023-04-03T09:00:00+24:00",
                           "2023-04-03T09:00:00+08:60",
                           "2023-04-03T09:00:00+08:00 ",
                           " 2023-04-03T09:00:00Z",
                           "2023-04-03T09:00:00ZZ",
                           "2023-04-03T09:00:00UTC",
                           "2023-04-03T09:00:00+08:00:1",
                           "2023-04-03T",
                           "2023-04-03T09",
                           "2023-04-03T09:",
                           "2023-04-03T09:00:",
                           "+2023-04-03",
                           "2023-04-03T09:00:00.25.5Z",
                           "2023-04-03T09:00:00,5Z",
                           "now"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_time(text).has_value());
  }
}

TEST(FormatTime, OffsetsAndFractions) {
  auto sh = fmt_zone("Asia/Shanghai");
  auto t = *parse_time("2023-04-03T01:00:00Z");
  EXPECT_EQ(format_time(t, *sh), "2023-04-03T09:00:00+08:00");
  EXPECT_EQ(format_time(t + Millis(250), *sh), "2023-04-03T09:00:00.250+08:00");
  EXPECT_EQ(format_time(t + Millis(7), *sh), "2023-04-03T09:00:00.007+08:00");
  EXPECT_EQ(format_time(t, *TimeZone::utc()), "2023-04-03T01:00:00Z");
  EXPECT_EQ(format_time(t, *fmt_zone("UTC")), "2023-04-03T01:00:00Z");
  EXPECT_EQ(format_time(t, *fmt_zone("Etc/UTC")), "2023-04-03T01:00:00Z");
  EXPECT_EQ(format_time(t, *fmt_zone("Africa/Abidjan")), "2023-04-03T01:00:00+00:00");
  EXPECT_EQ(format_time(t, *fmt_zone("America/New_York")), "2023-04-02T21:00:00-04:00");
  EXPECT_EQ(format_time(t, *fmt_zone("Asia/Kolkata")), "2023-04-03T06:30:00+05:30");
  EXPECT_EQ(format_time(*parse_time("1988-07-01T00:00:00Z"), *sh), "1988-07-01T09:00:00+09:00");
  EXPECT_EQ(format_time(TimePoint(Millis(-1)), *TimeZone::utc()), "1969-12-31T23:59:59.999Z");
  // Local mean time before standard time (Shanghai: +08:05:43 until 1901).
  const std::string lmt = format_time(*parse_time("1900-01-01T00:00:00Z"), *sh);
  EXPECT_EQ(lmt, "1900-01-01T08:05:43+08:05:43");
  EXPECT_EQ(parse_time(lmt), parse_time("1900-01-01T00:00:00Z"));
}

TEST(FormatTime, RoundTripsThroughParse) {
  for (const char* name : {"Asia/Shanghai", "America/New_York", "UTC", "Australia/Lord_Howe"}) {
    auto z = fmt_zone(name);
    const std::int64_t start = ms(parse_time("1980-01-01T00:00:00Z"));
    const std::int64_t end = ms(parse_time("2040-01-01T00:00:00Z"));
    for (std::int64_t v = start; v < end; v += 3'600'007 * 5) {  // odd step: hits fractions
      const TimePoint t{Millis(v)};
      const std::string text = format_time(t, *z);
      ASSERT_EQ(parse_time(text), t) << name << " " << text;
    }
  }
}

TEST(AddDuration, CalendarUnitsInLocalTime) {
  auto sh = fmt_zone("Asia/Shanghai");
  auto add = [&](const char* from, const char* d) {
    return format_time(add_duration(*parse_time(from), *parse_duration(d), *sh), *sh);
  };
  EXPECT_EQ(add("2023-04-03T09:00:00+08:00", "P15D"), "2023-04-18T09:00:00+08:00");
  EXPECT_EQ(add("2023-01-31T09:00:00+08:00", "P1M"), "2023-02-28T09:00:00+08:00");
  EXPECT_EQ(add("2024-01-31T09:00:00+08:00", "P1M"), "2024-02-29T09:00:00+08:00");
  EXPECT_EQ(add("2023-11-30T09:00:00+08:00", "P3M"), "2024-02-29T09:00:00+08:00");
  EXPECT_EQ(add("2023-08-31T09:00:00+08:00", "P3M"), "2023-11-30T09:00:00+08:00");
  EXPECT_EQ(add("2024-02-29T09:00:00+08:00", "P1Y"), "2025-02-28T09:00:00+08:00");
  // Years and months first, then days: Jan 31 + P1M1D = Feb 28 + 1 = Mar 1.
  EXPECT_EQ(add("2023-01-31T09:00:00+08:00", "P1M1D"), "2023-03-01T09:00:00+08:00");
  EXPECT_EQ(add("2023-01-01T00:00:00+08:00", "P1W"), "2023-01-08T00:00:00+08:00");
  EXPECT_EQ(add("2023-01-01T23:30:00+08:00", "PT1H"), "2023-01-02T00:30:00+08:00");
  EXPECT_EQ(add("2023-01-01T00:00:00+08:00", "P1DT1.5S"), "2023-01-02T00:00:01.500+08:00");
  // Negative durations subtract (reminders before a deadline).
  EXPECT_EQ(add("2023-04-18T09:00:00+08:00", "-P3D"), "2023-04-15T09:00:00+08:00");
  EXPECT_EQ(add("2023-03-31T09:00:00+08:00", "-P1M"), "2023-02-28T09:00:00+08:00");
  EXPECT_EQ(add("2023-04-18T09:00:00+08:00", "-PT4H"), "2023-04-18T05:00:00+08:00");
  EXPECT_EQ(add("2023-03-01T09:00:00+08:00", "-P1DT1H"), "2023-02-28T08:00:00+08:00");
  EXPECT_EQ(add("2023-03-01T09:00:00+08:00", "PT0S"), "2023-03-01T09:00:00+08:00");
}

TEST(AddDuration, AcrossDaylightSaving) {
  auto ny = fmt_zone("America/New_York");
  auto add = [&](const char* from, const char* d) {
    return format_time(add_duration(*parse_time(from), *parse_duration(d), *ny), *ny);
  };
  // A calendar day keeps the wall time (23 real hours here); PT24H is exact.
  EXPECT_EQ(add("2023-03-11T09:00:00-05:00", "P1D"), "2023-03-12T09:00:00-04:00");
  EXPECT_EQ(add("2023-03-11T09:00:00-05:00", "PT24H"), "2023-03-12T10:00:00-04:00");
  // Landing in the spring gap moves forward by the gap.
  EXPECT_EQ(add("2023-03-11T02:30:00-05:00", "P1D"), "2023-03-12T03:30:00-04:00");
  // PT1H from the first 01:30 of the autumn overlap is the second 01:30.
  EXPECT_EQ(add("2023-11-05T01:30:00-04:00", "PT1H"), "2023-11-05T01:30:00-05:00");
  EXPECT_EQ(add("2023-11-05T01:30:00-05:00", "PT0S"), "2023-11-05T01:30:00-05:00");
  EXPECT_EQ(add("2023-11-04T01:30:00-04:00", "P1D"), "2023-11-05T01:30:00-04:00");
  EXPECT_EQ(add("2023-11-05T12:00:00-05:00", "-P1D"), "2023-11-04T12:00:00-04:00");
}

}  // namespace
}  // namespace bihuan
