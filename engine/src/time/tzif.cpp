// TZif reader (RFC 8536): header, transition times, local time types; leap-second
// records and the isstd/isut indicators are skipped (they matter only for POSIX
// "right/" zones and for rule-less footers, neither of which we support).
#include "time/tzif.hpp"

namespace bihuan::time_detail {
namespace {

constexpr std::size_t kHeaderSize = 44;
constexpr std::uint32_t kMaxTimes = 1u << 20;
constexpr std::uint32_t kMaxTypes = 256;
// RFC 8536: utoff in [-89999, 93599] (about -25h to +26h).
constexpr std::int32_t kMinUtoff = -89999, kMaxUtoff = 93599;

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::int64_t be64(const unsigned char* p) {
  return static_cast<std::int64_t>((std::uint64_t{be32(p)} << 32) | be32(p + 4));
}

struct Header {
  char version = 0;
  std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  std::uint64_t data_size(std::uint64_t time_size) const {
    return std::uint64_t{timecnt} * time_size + timecnt + std::uint64_t{typecnt} * 6 + charcnt +
           std::uint64_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
  }
};

bool read_header(std::string_view bytes, std::size_t at, Header& h, std::string* why) {
  if (bytes.size() < at || bytes.size() - at < kHeaderSize || bytes.substr(at, 4) != "TZif") {
    if (why) *why = "not a TZif file";
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  h.version = static_cast<char>(p[4]);
  h.isutcnt = be32(p + 20);
  h.isstdcnt = be32(p + 24);
  h.leapcnt = be32(p + 28);
  h.timecnt = be32(p + 32);
  h.typecnt = be32(p + 36);
  h.charcnt = be32(p + 40);
  if (h.typecnt == 0 || h.typecnt > kMaxTypes || h.timecnt > kMaxTimes || h.leapcnt > kMaxTimes ||
      (h.isutcnt != 0 && h.isutcnt != h.typecnt) || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
    if (why) *why = "TZif header counts are inconsistent";
    return false;
  }
  return true;
}

// Reads one data block that starts at `at` with `time_size`-byte transition times.
bool read_block(std::string_view bytes, std::size_t at, const Header& h, std::size_t time_size,
                TzifData& out, std::string* why) {
  if (bytes.size() - at < h.data_size(time_size)) {
    if (why) *why = "TZif data is truncated";
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  const unsigned char* times = p;
  const unsigned char* indices = times + std::size_t{h.timecnt} * time_size;
  const unsigned char* types = indices + h.timecnt;

  std::vector<std::int32_t> offsets(h.typecnt);
  for (std::uint32_t i = 0; i < h.typecnt; ++i) {
    const auto utoff = static_cast<std::int32_t>(be32(types + 6 * std::size_t{i}));
    if (utoff < kMinUtoff || utoff > kMaxUtoff) {
      if (why) *why = "TZif UTC offset out of range";
      return false;
    }
    offsets[i] = utoff;
  }
  out.initial_offset = offsets[0];
  out.transitions.clear();
  out.transitions.reserve(h.timecnt);
  for (std::uint32_t i = 0; i < h.timecnt; ++i) {
    const unsigned char* t = times + std::size_t{i} * time_size;
    const std::int64_t at_seconds = time_size == 8 ? be64(t) : static_cast<std::int32_t>(be32(t));
    if (indices[i] >= h.typecnt) {
      if (why) *why = "TZif transition names an unknown local time type";
      return false;
    }
    if (!out.transitions.empty() && at_seconds <= out.transitions.back().at_seconds) {
      if (why) *why = "TZif transition times are not ascending";
      return false;
    }
    out.transitions.push_back({at_seconds, offsets[indices[i]]});
  }
  return true;
}

}  // namespace

std::optional<TzifData> parse_tzif(std::string_view bytes, std::string* why) {
  Header h1;
  if (!read_header(bytes, 0, h1, why)) return std::nullopt;
  TzifData out;
  if (h1.version == 0) {
    if (!read_block(bytes, kHeaderSize, h1, 4, out, why)) return std::nullopt;
    return out;
  }
  // Version 2+: skip the 32-bit block; the 64-bit one follows with its own header.
  const std::uint64_t v1_size = h1.data_size(4);
  if (bytes.size() - kHeaderSize < v1_size) {
    if (why) *why = "TZif data is truncated";
    return std::nullopt;
  }
  const std::size_t at2 = kHeaderSize + static_cast<std::size_t>(v1_size);
  Header h2;
  if (!read_header(bytes, at2, h2, why)) return std::nullopt;
  const std::size_t data2 = at2 + kHeaderSize;
  if (!read_block(bytes, data2, h2, 8, out, why)) return std::nullopt;
  // Footer: "\n" POSIX-TZ "\n".
  const std::size_t footer_at = data2 + static_cast<std::size_t>(h2.data_size(8));
  if (footer_at < bytes.size() && bytes[footer_at] == '\n') {
    const std::size_t end = bytes.find('\n', footer_at + 1);
    if (end != std::string_view::npos)
      out.footer = bytes.substr(footer_at + 1, end - footer_at - 1);
  }
  return out;
}

}  // namespace bihuan::time_detail
