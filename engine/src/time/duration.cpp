// ISO 8601 durations: a strict parser that says what is wrong, and the canonical printer.
#include <array>
#include <cstdint>
#include <string>

#include "bihuan/time.hpp"

namespace bihuan {
namespace {

// Bounds: about ten thousand years in every unit, so that any sum of parts stays far
// inside int64 milliseconds and inside int32 calendar years.
constexpr std::int64_t kMaxYears = 10'000;
constexpr std::int64_t kMaxMonths = kMaxYears * 12;
constexpr std::int64_t kMaxWeeks = kMaxYears * 53;
constexpr std::int64_t kMaxDays = kMaxYears * 366;
constexpr std::int64_t kMaxMillis = kMaxDays * 86'400'000;

struct Part {
  char letter;
  const char* name;
  std::int32_t Duration::*field;  // date parts; nullptr for the time parts
  std::int64_t millis;            // time parts: milliseconds per unit
  std::int64_t limit;             // in the part's own unit
};

// Date parts then time parts, in the only order ISO 8601 allows.
constexpr std::array<Part, 7> kParts{{
    {'Y', "years", &Duration::years, 0, kMaxYears},
    {'M', "months", &Duration::months, 0, kMaxMonths},
    {'W', "weeks", &Duration::weeks, 0, kMaxWeeks},
    {'D', "days", &Duration::days, 0, kMaxDays},
    {'H', "hours", nullptr, 3'600'000, kMaxMillis / 3'600'000},
    {'M', "minutes", nullptr, 60'000, kMaxMillis / 60'000},
    {'S', "seconds", nullptr, 1'000, kMaxMillis / 1'000},
}};

bool fail(std::string* why, std::string message) {
  if (why) *why = std::move(message);
  return false;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Index into kParts of designator `c` in the date (time=false) or time section; -1 if none.
int part_index(char c, bool time) {
  for (std::size_t i = 0; i < kParts.size(); ++i) {
    if (kParts[i].letter == c && (kParts[i].field == nullptr) == time) return static_cast<int>(i);
  }
  return -1;
}

// The parser proper; returns false with *why set.
bool parse_into(std::string_view text, Duration& out, std::string* why) {
  std::size_t pos = 0;
  if (pos < text.size() && text[pos] == '-') {
    out.negative = true;
    ++pos;
  }
  if (pos >= text.size() || text[pos] != 'P') {
    return fail(why, "a duration starts with 'P' (optionally '-P'), e.g. P3D or PT2H");
  }
  ++pos;
  bool in_time = false, any_part = false, any_time_part = false;
  int last = -1;  // index in kParts of the previous part, to enforce order
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == 'T') {
      if (in_time) return fail(why, "'T' appears twice");
      in_time = true;
      ++pos;
      continue;
    }
    if (!is_digit(c)) {
      return fail(why, std::string("expected a number at offset ") + std::to_string(pos) +
                           ", found '" + c + "'");
    }
    // Whole part: at most 18 digits, so the value cannot overflow before the bound check.
    std::int64_t value = 0;
    std::size_t digits = 0;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, ++digits) {
      if (digits >= 18) return fail(why, "number too large");
      value = value * 10 + (text[pos] - '0');
    }
    std::int64_t frac_millis = 0;
    bool has_fraction = false;
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      has_fraction = true;
      ++pos;
      std::size_t frac_digits = 0;
      for (; pos < text.size() && is_digit(text[pos]); ++pos, ++frac_digits) {
        const int v = text[pos] - '0';
        if (frac_digits < 3) {
          frac_millis = frac_millis * 10 + v;
        } else if (v != 0) {
          return fail(why, "seconds are precise to milliseconds at most (3 decimals)");
        }
      }
      if (frac_digits == 0) return fail(why, "expected digits after the decimal point");
      for (std::size_t k = frac_digits; k < 3; ++k) frac_millis *= 10;
    }
    if (pos >= text.size()) return fail(why, "number without a designator at the end");
    const char letter = text[pos++];
    const int index = part_index(letter, in_time);
    if (index < 0) {
      if (!in_time && part_index(letter, true) >= 0) {
        return fail(why, std::string("'") + letter + "' (" + kParts[part_index(letter, true)].name +
                             ") must follow 'T', e.g. PT1" + letter);
      }
      if (in_time && part_index(letter, false) >= 0) {
        return fail(why, std::string("'") + letter + "' (" +
                             kParts[part_index(letter, false)].name + ") must come before 'T'");
      }
      return fail(why, std::string("unknown designator '") + letter + "'");
    }
    const Part& part = kParts[index];
    if (index == last) return fail(why, std::string(part.name) + " are given twice");
    if (index < last) {
      return fail(why, std::string(part.name) + " must come before " + kParts[last].name +
                           " (order is PnYnMnWnDTnHnMnS)");
    }
    if (has_fraction && part.letter != 'S') {
      return fail(why, "only seconds may have a fraction, e.g. PT1.5S");
    }
    if (value > part.limit) {
      return fail(why, std::string(part.name) + " must be at most " + std::to_string(part.limit));
    }
    last = index;
    any_part = true;
    if (part.field) {
      out.*part.field = static_cast<std::int32_t>(value);
    } else {
      any_time_part = true;
      out.millis += value * part.millis + frac_millis;  // only seconds have a fraction
      if (out.millis > kMaxMillis) return fail(why, "the time part is too long");
    }
  }
  if (in_time && !any_time_part) {
    return fail(why, "'T' must be followed by hours, minutes or seconds");
  }
  if (!any_part) return fail(why, "a duration needs at least one part, e.g. P1D or PT0S");
  return true;
}

}  // namespace

bool Duration::is_zero() const {
  return years == 0 && months == 0 && weeks == 0 && days == 0 && millis == 0;
}

std::string Duration::to_string() const {
  if (is_zero()) return "PT0S";
  std::string out = negative ? "-P" : "P";
  auto put = [&out](std::int64_t v, char letter) {
    if (v != 0) out += std::to_string(v) + letter;
  };
  put(years, 'Y');
  put(months, 'M');
  put(weeks, 'W');
  put(days, 'D');
  if (millis != 0) {
    out += 'T';
    put(millis / 3'600'000, 'H');
    put(millis / 60'000 % 60, 'M');
    const std::int64_t ms = millis % 60'000;
    if (ms != 0) {
      out += std::to_string(ms / 1000);
      if (ms % 1000 != 0) {
        std::string frac = std::to_string(1000 + ms % 1000).substr(1);  // zero-padded
        while (frac.back() == '0') frac.pop_back();
        out += '.' + frac;
      }
      out += 'S';
    }
  }
  return out;
}

std::optional<Duration> parse_duration(std::string_view text, std::string* why) {
  Duration out;
  if (!parse_into(text, out, why)) return std::nullopt;
  if (out.is_zero()) out.negative = false;  // "-PT0S" is just zero
  return out;
}

}  // namespace bihuan
