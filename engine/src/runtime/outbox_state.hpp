// Delivery state of outbox messages (attempts, next attempt, dead letter, last error),
// kept in the message's own record. See docs/storage.md (outbox) and docs/plugins.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bihuan/engine.hpp"

namespace bihuan::runtime {

// Fills msg's delivery fields from the stored map `m` (keys n, at, dead, err).
void read_delivery_state(const json& m, OutboxMessage& msg);

// A member of a stored outbox map, or `fallback` if it is missing or of another type. A
// damaged record must not throw (json::value() would) out of a read or the writer.
std::string text_member(const json& m, const char* key);
std::int64_t int_member(const json& m, const char* key, std::int64_t fallback = 0);
bool bool_member(const json& m, const char* key);

// The whole message as stored (`seq` its key), or nullopt if it does not decode to a map.
std::optional<OutboxMessage> decode_outbox(std::uint64_t seq, std::string_view bytes);

}  // namespace bihuan::runtime
