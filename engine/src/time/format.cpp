// ISO 8601 / RFC 3339 instants: strict parsing and formatting with the zone's offset.
#include <cstdio>

#include "time/civil.hpp"

namespace bihuan {
namespace {

using time_detail::kMillisPerDay;
using time_detail::parse_fixed_digits;

// Parses "Z", "+08:00", "+0800" or "+08:05:43" filling the offset in seconds.
bool parse_offset(std::string_view s, std::int32_t& offset) {
  if (s == "Z") {
    offset = 0;
    return true;
  }
  if (s.size() < 5 || (s[0] != '+' && s[0] != '-')) return false;
  unsigned h = 0, m = 0, sec = 0;
  if (!parse_fixed_digits(s, 1, 2, h)) return false;
  if (s.size() == 5) {  // +HHMM
    if (!parse_fixed_digits(s, 3, 2, m)) return false;
  } else if (s.size() == 6 || s.size() == 9) {  // +HH:MM, +HH:MM:SS
    if (s[3] != ':' || !parse_fixed_digits(s, 4, 2, m)) return false;
    if (s.size() == 9 && (s[6] != ':' || !parse_fixed_digits(s, 7, 2, sec))) return false;
  } else {
    return false;
  }
  if (h > 23 || m > 59 || sec > 59) return false;
  const auto magnitude = static_cast<std::int32_t>(h * 3600 + m * 60 + sec);
  offset = s[0] == '-' ? -magnitude : magnitude;
  return true;
}

bool is_utc_name(const std::string& name) { return name == "UTC" || name == "Etc/UTC"; }

}  // namespace

std::optional<TimePoint> parse_time(std::string_view text, const TimeZone* tz) {
  const TimeZone& zone = tz ? *tz : *TimeZone::utc();
  const auto date = parse_local_date(text.substr(0, 10));
  if (!date) return std::nullopt;
  if (text.size() == 10) return zone.from_local(*date, 0);

  // "THH:MM", then optional ":SS" and ".fraction", then an optional offset.
  unsigned h = 0, m = 0, sec = 0;
  if (text.size() < 16 || text[10] != 'T' || !parse_fixed_digits(text, 11, 2, h) ||
      text[13] != ':' || !parse_fixed_digits(text, 14, 2, m)) {
    return std::nullopt;
  }
  std::size_t pos = 16;
  std::int64_t millis = 0;
  if (pos < text.size() && text[pos] == ':') {
    if (!parse_fixed_digits(text, pos + 1, 2, sec)) return std::nullopt;
    pos += 3;
    if (pos < text.size() && text[pos] == '.') {
      // Up to nanoseconds are accepted (other systems print them); kept to milliseconds.
      std::size_t digits = 0;
      for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
        if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      }
      if (digits == 0 || digits > 9) return std::nullopt;
      for (std::size_t k = digits; k < 3; ++k) millis *= 10;
    }
  }
  if (h > 23 || m > 59 || sec > 59) return std::nullopt;
  const std::int64_t millis_of_day =
      (std::int64_t{h} * 3600 + std::int64_t{m} * 60 + sec) * 1000 + millis;
  if (pos == text.size()) return zone.from_local(*date, millis_of_day);  // local wall time

  std::int32_t offset = 0;
  if (!parse_offset(text.substr(pos), offset)) return std::nullopt;
  const std::int64_t utc = time_detail::days_from_civil(*date) * kMillisPerDay + millis_of_day -
                           std::int64_t{offset} * 1000;
  return TimePoint(Millis(utc));
}

namespace {

// Appends v as exactly `width` decimal digits (v >= 0). Hot: every step formats "now".
void digits(std::string& out, std::int64_t v, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  out.append(buf, static_cast<std::size_t>(width));
}

}  // namespace

std::string format_time(TimePoint t, const TimeZone& tz) {
  LocalDate d;
  std::int64_t ms = 0;
  tz.to_local(t, d, ms);
  const std::int32_t offset = tz.offset_at(t);

  std::string out;
  out.reserve(32);
  if (d.year >= 0 && d.year <= 9999) {
    digits(out, d.year, 4);
    out += '-';
    digits(out, d.month, 2);
    out += '-';
    digits(out, d.day, 2);
  } else {
    out = d.to_string();
  }
  out += 'T';
  digits(out, ms / 3'600'000, 2);
  out += ':';
  digits(out, ms / 60'000 % 60, 2);
  out += ':';
  digits(out, ms / 1000 % 60, 2);
  if (ms % 1000 != 0) {
    out += '.';
    digits(out, ms % 1000, 3);
  }
  if (offset == 0 && is_utc_name(tz.name())) return out + "Z";
  const int magnitude = offset < 0 ? -offset : offset;
  out += offset < 0 ? '-' : '+';
  digits(out, magnitude / 3600, 2);
  out += ':';
  digits(out, magnitude / 60 % 60, 2);
  if (magnitude % 60 != 0) {  // local mean time before 1901 ("+08:05:43")
    out += ':';
    digits(out, magnitude % 60, 2);
  }
  return out;
}

}  // namespace bihuan
