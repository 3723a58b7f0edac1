// Private: the TZif binary format (RFC 8536) and the POSIX TZ rule string in its footer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/time.hpp"

namespace bihuan::time_detail {

struct TzifData {
  std::vector<TimeZone::Transition> transitions;  // as stored, ascending
  std::int32_t initial_offset = 0;                // local time type 0
  std::string footer;                             // POSIX TZ string ("" if none / v1)
};

// Parses a whole TZif file. Prefers the 64-bit (v2+) data block when present. Returns
// nullopt with *why set on any structural fault; never reads out of bounds.
std::optional<TzifData> parse_tzif(std::string_view bytes, std::string* why);

// Extends `transitions` (ascending) with the transitions that the POSIX TZ string `spec`
// (e.g. "EST5EDT,M3.2.0,M11.1.0") implies after the last one, up to the end of
// `last_year`. A spec without DST adds nothing. Returns false (and leaves `transitions`
// unchanged) if `spec` is not understood.
bool extend_with_posix_rule(std::string_view spec, std::vector<TimeZone::Transition>& transitions,
                            std::int32_t last_year);

}  // namespace bihuan::time_detail
