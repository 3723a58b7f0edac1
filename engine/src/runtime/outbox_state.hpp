// Delivery state of outbox messages (attempts, next attempt, dead letter, last error),
// kept in the message's own record. See docs/storage.md (outbox) and docs/plugins.md.
#pragma once

#include "bihuan/engine.hpp"

namespace bihuan::runtime {

// Fills msg's delivery fields from the stored map `m` (keys n, at, dead, err).
void read_delivery_state(const json& m, OutboxMessage& msg);

}  // namespace bihuan::runtime
