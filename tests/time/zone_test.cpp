#include "bihuan/time.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

namespace bihuan {
namespace {

constexpr std::int64_t kHour = 3'600'000;

TimePoint utc(const char* text) {
  auto t = parse_time(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(TimePoint{});
}

std::shared_ptr<const TimeZone> zone(const std::string& name) {
  Problems problems;
  auto z = TimeZone::load(name, &problems);
  EXPECT_TRUE(z) << name;
  EXPECT_FALSE(problems.has_errors());
  return z;
}

std::string local_text(const TimeZone& z, TimePoint t) {
  LocalDate d;
  std::int64_t ms = 0;
  z.to_local(t, d, ms);
  return d.to_string() + " " + std::to_string(ms / kHour) + ":" + std::to_string(ms / 60'000 % 60);
}

TEST(TimeZone, UtcIsAlwaysZero) {
  auto z = TimeZone::utc();
  EXPECT_EQ(z->name(), "UTC");
  EXPECT_EQ(z->offset_at(utc("2023-06-01T00:00:00Z")), 0);
  EXPECT_EQ(z->from_local({2023, 6, 1}, 0), utc("2023-06-01T00:00:00Z"));
  EXPECT_EQ(TimeZone::utc(), z);  // one shared instance
  auto loaded = zone("UTC");
  EXPECT_EQ(loaded->offset_at(utc("1900-01-01T00:00:00Z")), 0);
}

TEST(TimeZone, ShanghaiToday) {
  auto sh = zone("Asia/Shanghai");
  EXPECT_EQ(sh->name(), "Asia/Shanghai");
  EXPECT_EQ(sh->offset_at(utc("2023-04-03T01:00:00Z")), 8 * 3600);
  EXPECT_EQ(sh->from_local({2023, 4, 3}, 9 * kHour), utc("2023-04-03T01:00:00Z"));
  EXPECT_EQ(local_text(*sh, utc("2023-04-03T01:00:00Z")), "2023-04-03 9:0");
  EXPECT_EQ(local_text(*sh, utc("2023-12-31T16:00:00Z")), "2024-01-01 0:0");
  EXPECT_EQ(sh->offset_at(utc("2150-01-01T00:00:00Z")), 8 * 3600);  // footer "CST-8"
}

// China observed DST from 1986 to 1991: 02:00 -> 03:00 in spring, 02:00 -> 01:00 in autumn.
TEST(TimeZone, ShanghaiDaylightSavingYears) {
  auto sh = zone("Asia/Shanghai");
  EXPECT_EQ(sh->offset_at(utc("1988-07-01T00:00:00Z")), 9 * 3600);
  EXPECT_EQ(sh->offset_at(utc("1988-12-01T00:00:00Z")), 8 * 3600);
  EXPECT_EQ(sh->offset_at(utc("1992-07-01T00:00:00Z")), 8 * 3600);
  // 1986-05-04 02:00 CST became 03:00 CDT (at 1986-05-03T18:00Z).
  EXPECT_EQ(sh->offset_at(utc("1986-05-03T17:59:59Z")), 8 * 3600);
  EXPECT_EQ(sh->offset_at(utc("1986-05-03T18:00:00Z")), 9 * 3600);
  // A wall time in the gap uses the offset before it: 02:30 -> 18:30Z (03:30 CDT).
  EXPECT_EQ(sh->from_local({1986, 5, 4}, 2 * kHour + 30 * 60'000), utc("1986-05-03T18:30:00Z"));
  EXPECT_EQ(sh->from_local({1986, 5, 4}, 3 * kHour), utc("1986-05-03T18:00:00Z"));
  EXPECT_EQ(sh->from_local({1986, 5, 4}, 1 * kHour + 59 * 60'000), utc("1986-05-03T17:59:00Z"));
  // 1986-09-14 02:00 CDT fell back to 01:00 CST: 01:30 happened twice; the earlier wins.
  EXPECT_EQ(sh->from_local({1986, 9, 14}, 1 * kHour + 30 * 60'000), utc("1986-09-13T16:30:00Z"));
  EXPECT_EQ(local_text(*sh, utc("1986-09-13T17:30:00Z")), "1986-09-14 1:30");  // second 01:30
  EXPECT_EQ(sh->from_local({1986, 9, 14}, 2 * kHour), utc("1986-09-13T18:00:00Z"));
  // Every year of the period has its summer hour.
  for (int y = 1986; y <= 1991; ++y) {
    EXPECT_EQ(
        sh->from_local({y, 7, 1}, 12 * kHour),
        TimePoint(Millis(sh->from_local({y, 7, 1}, 0).time_since_epoch().count() + 12 * kHour)));
    EXPECT_EQ(sh->offset_at(sh->from_local({y, 7, 1}, 12 * kHour)), 9 * 3600) << y;
  }
}

TEST(TimeZone, NewYorkGapAndOverlap) {
  auto ny = zone("America/New_York");
  EXPECT_EQ(ny->offset_at(utc("2023-01-15T12:00:00Z")), -5 * 3600);
  EXPECT_EQ(ny->offset_at(utc("2023-07-15T12:00:00Z")), -4 * 3600);
  // 2023-03-12 02:00 EST -> 03:00 EDT; 02:30 does not exist and maps to 03:30 EDT.
  EXPECT_EQ(ny->from_local({2023, 3, 12}, 2 * kHour + 30 * 60'000), utc("2023-03-12T07:30:00Z"));
  EXPECT_EQ(local_text(*ny, utc("2023-03-12T07:30:00Z")), "2023-03-12 3:30");
  EXPECT_EQ(ny->from_local({2023, 3, 12}, 1 * kHour + 59 * 60'000), utc("2023-03-12T06:59:00Z"));
  EXPECT_EQ(ny->from_local({2023, 3, 12}, 3 * kHour), utc("2023-03-12T07:00:00Z"));
  // 2023-11-05 02:00 EDT -> 01:00 EST; 01:30 happens at 05:30Z and 06:30Z; the earlier wins.
  EXPECT_EQ(ny->from_local({2023, 11, 5}, 1 * kHour + 30 * 60'000), utc("2023-11-05T05:30:00Z"));
  EXPECT_EQ(local_text(*ny, utc("2023-11-05T06:30:00Z")), "2023-11-05 1:30");
  EXPECT_EQ(ny->from_local({2023, 11, 5}, 2 * kHour), utc("2023-11-05T07:00:00Z"));
  // Past the last stored transition (2037 in fat files), the footer rule carries on.
  EXPECT_EQ(ny->offset_at(utc("2100-07-01T00:00:00Z")), -4 * 3600);
  EXPECT_EQ(ny->offset_at(utc("2100-12-01T00:00:00Z")), -5 * 3600);
  EXPECT_EQ(ny->from_local({2150, 3, 8}, 2 * kHour + 30 * 60'000),  // second Sunday of March
            utc("2150-03-08T07:30:00Z"));
}

// Every hour of 1900-2150 (every 7h), against the C library reading the same database.
TEST(TimeZone, AgreesWithTheCLibrary) {
  const char* old_tz = std::getenv("TZ");
  const std::string saved = old_tz ? old_tz : "";
  for (const char* name :
       {"Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata",
        "America/Sao_Paulo", "Pacific/Chatham", "Asia/Tehran", "Africa/Casablanca"}) {
    SCOPED_TRACE(name);
    auto z = zone(name);
    ASSERT_TRUE(z);
    ::setenv("TZ", name, 1);
    ::tzset();
    const std::int64_t from = utc("1902-01-01T00:00:00Z").time_since_epoch().count() / 1000;
    const std::int64_t to = utc("2150-01-01T00:00:00Z").time_since_epoch().count() / 1000;
    int mismatches = 0;
    for (std::int64_t s = from; s < to && mismatches < 5; s += 7 * 3600) {
      const std::time_t tt = static_cast<std::time_t>(s);
      std::tm tm{};
      ::localtime_r(&tt, &tm);
      const TimePoint t{Millis(s * 1000)};
      if (z->offset_at(t) != tm.tm_gmtoff) {
        ++mismatches;
        ADD_FAILURE() << "at " << s << ": " << z->offset_at(t) << " vs " << tm.tm_gmtoff;
      }
      // The wall time maps back to the same instant unless it is the second of two.
      LocalDate d;
      std::int64_t ms = 0;
      z->to_local(t, d, ms);
      const TimePoint back = z->from_local(d, ms);
      if (back != t) {
        EXPECT_LT(back, t);
        EXPECT_EQ(z->offset_at(back) - z->offset_at(t),
                  (t - back).count() / 1000);  // earlier occurrence, same wall time
      }
    }
  }
  if (old_tz) {
    ::setenv("TZ", saved.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
}

TEST(TimeZone, RejectsUnsafeAndUnknownNames) {
  for (const char* name : {"", "../etc/passwd", "/etc/localtime", "Asia/../UTC", "Asia/Shang hai",
                           "Asia\\Shanghai", "Asia/Shanghai\n", "Nowhere/City", "Asia", "Asia/",
                           "zone.tab", "Asia//Shanghai", "/usr/share/zoneinfo/UTC"}) {
    SCOPED_TRACE(name);
    Problems problems;
    EXPECT_EQ(TimeZone::load(name, &problems), nullptr);
    ASSERT_EQ(problems.items().size(), 1u);
    EXPECT_EQ(problems.items()[0].code, "unknown-timezone");
    EXPECT_EQ(problems.items()[0].pointer, "");
    EXPECT_EQ(TimeZone::load(name), nullptr);  // problems are optional
  }
}

class ZoneTempDir {
 public:
  ZoneTempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("bihuan-time-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~ZoneTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, const std::string& bytes) const {
    std::filesystem::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << bytes;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Truncated or corrupted files are refused cleanly, never read out of bounds.
TEST(TimeZone, SurvivesBrokenFiles) {
  const std::string good = read_file("/usr/share/zoneinfo/America/New_York");
  ASSERT_GT(good.size(), 1000u);
  ZoneTempDir dir;
  int loaded = 0;
  for (std::size_t n = 0; n < good.size(); n += 7) {
    dir.write("Cut/Zone", good.substr(0, n));
    Problems problems;
    auto z = TimeZone::load("Cut/Zone", &problems, dir.path().string());
    if (z) {
      ++loaded;
    } else {
      EXPECT_EQ(problems.error_count(), 1u);
    }
  }
  EXPECT_LT(loaded, 10);  // only cuts inside the footer still parse
  std::string flipped = good;
  for (std::size_t i = 20; i < 44; ++i) flipped[i] = '\xff';  // absurd counts
  dir.write("Bad/Counts", flipped);
  EXPECT_EQ(TimeZone::load("Bad/Counts", nullptr, dir.path().string()), nullptr);
  dir.write("Bad/Text", "# not a zone\n");
  Problems problems;
  EXPECT_EQ(TimeZone::load("Bad/Text", &problems, dir.path().string()), nullptr);
  ASSERT_EQ(problems.items().size(), 1u);
  EXPECT_NE(problems.items()[0].message.find("not a TZif file"), std::string::npos);
}

void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

// A version-1 file (32-bit times only, no footer), written by hand.
TEST(TimeZone, ReadsVersionOneFiles) {
  std::string f = "TZif";
  f += '\0';
  f += std::string(15, '\0');
  for (std::uint32_t count : {0u, 0u, 0u, 2u, 2u, 8u}) put32(f, count);  // 2 times, 2 types
  put32(f, 1'000'000'000);  // 2001-09-09T01:46:40Z -> type 1
  put32(f, 1'100'000'000);  // 2004-11-09T11:33:20Z -> type 0
  f += '\1';
  f += '\0';
  put32(f, 3600);  // type 0: +01:00
  f += '\0';
  f += '\0';
  put32(f, static_cast<std::uint32_t>(-7200));  // type 1: -02:00
  f += '\1';
  f += '\4';
  f += std::string("AAA\0BBB\0", 8);
  ZoneTempDir dir;
  dir.write("Test/V1", f);
  Problems problems;
  auto z = TimeZone::load("Test/V1", &problems, dir.path().string());
  ASSERT_TRUE(z) << (problems.items().empty() ? "" : problems.items()[0].to_string());
  EXPECT_EQ(z->offset_at(TimePoint(Millis(0))), 3600);
  EXPECT_EQ(z->offset_at(TimePoint(Millis(1'000'000'000'000))), -7200);
  EXPECT_EQ(z->offset_at(TimePoint(Millis(1'099'999'999'999))), -7200);
  EXPECT_EQ(z->offset_at(TimePoint(Millis(1'100'000'000'000))), 3600);
  EXPECT_EQ(z->offset_at(TimePoint(Millis(-1))), 3600);
}

TEST(TimeZone, ConstructedZonesAreNormalised) {
  // Unsorted input, a no-op transition and two entries for one instant.
  TimeZone z("Test", {{200, 7200}, {100, 3600}, {150, 3600}, {200, 0}}, 0);
  EXPECT_EQ(z.offset_at(TimePoint(Millis(99'999))), 0);
  EXPECT_EQ(z.offset_at(TimePoint(Millis(100'000))), 3600);
  EXPECT_EQ(z.offset_at(TimePoint(Millis(199'999))), 3600);
  EXPECT_EQ(z.offset_at(TimePoint(Millis(200'000))), 0);
}

}  // namespace
}  // namespace bihuan
