#include "expr/text.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace bihuan::expr {
namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the sequence starting with lead byte `c` (1 for malformed bytes).
std::size_t sequence_length(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

// Decodes the code point at `pos` and advances it.
std::uint32_t decode(std::string_view s, std::size_t& pos) {
  auto lead = static_cast<unsigned char>(s[pos]);
  std::size_t len = sequence_length(lead);
  if (len == 1 || pos + len > s.size()) {
    ++pos;
    return lead;
  }
  std::uint32_t cp = lead & (0x7F >> len);
  for (std::size_t i = 1; i < len; ++i) {
    auto c = static_cast<unsigned char>(s[pos + i]);
    if (!is_continuation(c)) {
      ++pos;
      return lead;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  pos += len;
  return cp;
}

// Sort key of a code point in UTF-16 order: astral characters sort by their high
// surrogate (0xD800..0xDBFF), below U+E000..U+FFFF.
std::uint64_t utf16_key(std::uint32_t cp) {
  if (cp < 0x10000) return static_cast<std::uint64_t>(cp) << 21;
  std::uint64_t high = 0xD800 + ((cp - 0x10000) >> 10);
  return (high << 21) | cp;
}

}  // namespace

std::size_t code_point_count(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t pos = 0; pos < s.size(); ++n) decode(s, pos);
  return n;
}

std::size_t code_point_offset(std::string_view s, std::size_t index) {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < index && pos < s.size(); ++i) decode(s, pos);
  return pos;
}

int compare_utf16(std::string_view a, std::string_view b) {
  auto mismatch = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  if (mismatch.first == a.end() && mismatch.second == b.end()) return 0;
  if (mismatch.first == a.end()) return -1;
  if (mismatch.second == b.end()) return 1;
  // Back up to the start of the differing character in each string.
  auto i = static_cast<std::size_t>(mismatch.first - a.begin());
  while (i > 0 && is_continuation(static_cast<unsigned char>(a[i]))) --i;
  std::size_t ia = i, ib = i;
  std::uint64_t ka = utf16_key(decode(a, ia));
  std::uint64_t kb = utf16_key(decode(b, ib));
  if (ka != kb) return ka < kb ? -1 : 1;
  return a.substr(i) < b.substr(i) ? -1 : 1;  // malformed bytes: plain byte order
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    prev2.swap(prev);
    prev.swap(cur);
  }
  return prev[m];
}

std::string escape_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace bihuan::expr
