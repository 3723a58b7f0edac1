// Delivery state of outbox messages (attempts, next attempt, dead letter, last error),
// kept in the message's own record, and the two structures beside it: the due index
// (`outbox_due`) the dispatcher reads, and the dead letters' own database (`dead`). See
// docs/storage.md (outbox) and docs/plugins.md.
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
// The message the stored map `m` holds.
OutboxMessage outbox_message(std::uint64_t seq, const json& m);

// The due index key of a waiting message: channel \0 be64(due ms) be64(seq), the due
// time clamped at 0 (before 1970 sorts first).
std::string outbox_due_key(std::string_view channel, std::int64_t due_ms, std::uint64_t seq);
// The due time of a stored message (map `m`): `at` (its next attempt) if it has one,
// else `created` (a message never attempted is due from the step that wrote it).
std::int64_t outbox_due_ms(const json& m);
// The due index key the stored message `m` (key `seq`) has.
std::string outbox_due_key_of(const json& m, std::uint64_t seq);

}  // namespace bihuan::runtime
