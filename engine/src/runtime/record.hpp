// The stored form of an instance, its timers and history entries (see docs/storage.md).
// Records are MessagePack with short keys: compact, and decoded without text parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/instance.hpp"

namespace bihuan::runtime {

// An instance id: 48 bits of creation time in ms, 16 bits of counter. Sorts by creation.
std::string id_to_text(std::uint64_t id);
std::optional<std::uint64_t> id_from_text(std::string_view text);

struct TimerRef {
  std::uint64_t due_ms = 0;
  std::uint32_t seq = 0;    // unique per instance
  int state = -1;           // index of the state that armed it
  int timer = -1;           // index into StateSpec::timers
  std::uint32_t fired = 0;  // times a repeating timer has fired
};

struct InstanceRecord {
  std::uint64_t id = 0;
  std::string definition;
  std::int64_t definition_version = 0;
  std::string business_key;
  int state = -1;
  InstanceStatus status = InstanceStatus::running;
  std::string outcome;
  std::uint64_t version = 0;
  json data = json::object();
  std::int64_t created_ms = 0, updated_ms = 0;
  std::vector<std::pair<int, std::int64_t>>
      deadlines;  // (state with a deadline, due ms), outer first
  std::uint64_t parent = 0;
  std::string parent_event;      // event sent to the parent when this instance ends
  std::string last_hash;         // hash of the newest history entry (hex)
  std::uint64_t last_entry = 0;  // key (global seq) of the newest history entry
  std::vector<TimerRef> timers;
  std::uint32_t next_timer_seq = 0;
  // Access (the definition's `access` after the latest step; docs/authorization.md): the
  // unit path ("" = none) and the reader keys, sorted and unique. Not stored when they are
  // the open default ("" and ["*"]); a record without them decodes to that default.
  std::string unit;
  std::vector<std::string> readers{"*"};
};

std::string encode(const InstanceRecord& r);
std::optional<InstanceRecord> decode_instance(std::string_view bytes);

// Timer index key: be64(due) be64(instance) be32(seq).
constexpr std::size_t kTimerKeyBytes = 20;
std::string timer_key(const TimerRef& t, std::uint64_t instance);

struct StoredTimer {
  std::uint64_t due_ms = 0, instance = 0;
  std::uint32_t seq = 0;
};
StoredTimer parse_timer_key(std::string_view key);

// History is one append-only log: key be64(global seq); value be64(instance)
// be64(that instance's previous entry key, 0 for its first) and then the entry, a
// MessagePack map whose last member is "hash". The body is everything before that
// member; hash = SHA-256(prev_hash || body). The 16-byte link is outside the hash: a
// changed link breaks the chain walk instead (verify finds it).
std::string history_value(std::uint64_t instance, std::uint64_t prev_entry,
                          std::string_view sealed);
struct StoredEntry {
  std::uint64_t instance = 0, prev_entry = 0;
  std::string_view sealed;  // the entry itself
};
std::optional<StoredEntry> split_history_value(std::string_view bytes);  // nullopt if too short
// What a step records, as views into the step's own values (no copies).
struct HistoryFields {
  std::uint64_t seq = 0;
  std::int64_t at_ms = 0;
  std::string_view kind, event, actor;
  const std::vector<std::string>& roles;
  std::string_view from, to;
  const json& payload;
  const json& changes;
  std::string_view status, prev_hash;
};
std::string encode_history_body(const HistoryFields& e);
std::string history_hash(std::string_view prev_hash, std::string_view body);
std::string seal_history(std::string body, const std::string& hash);
// Decodes a stored entry; `body`, if given, receives the hashed part of `bytes`.
std::optional<HistoryEntry> history_from_bytes(std::string_view bytes,
                                               std::string_view* body = nullptr);

std::string sha256_hex(std::string_view bytes);
// The digest of `first` followed by `second`, without joining them.
std::string sha256_hex(std::string_view first, std::string_view second);

}  // namespace bihuan::runtime
