// Idempotency records (Db::idem; docs/storage.md, "Idempotency records"): what a step made
// with an Idempotency-Key, so that a retry is answered with the original result and a key
// reused for another request is refused.
//
// A key is scoped to its caller: a start's record is found by (actor id, key), an event's
// by (instance, actor id, key). The record holds what is compared of the request (a start:
// definition, requested version, business key, a digest of the data; an event: event
// name, a digest of the payload, the expected version), the roles the event needed where
// it was accepted (a replay is authorized again), and the result (instance version, state,
// status, outcome, definition version, updated and deadline times).
//
// Records written before requests were recorded (`s\0`key -> be64(id), `e\0`be64(id)key ->
// SHA-256 hex of event name and payload) are still honoured: they are found when no new
// record is, and compared as far as they tell (`legacy`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bihuan/definition.hpp"
#include "bihuan/instance.hpp"
#include "runtime/record.hpp"

namespace bihuan::runtime {

struct Batch;

struct IdemRecord {
  bool legacy =
      false;  // an old record: only `instance` (a start) or `legacy_fingerprint` (an event)
  std::string legacy_fingerprint;
  std::uint64_t instance = 0;
  // The request as far as it is compared.
  std::string definition;                         // start
  std::optional<std::int64_t> requested_version;  // start: the version asked for (none = latest)
  std::string business_key;                       // start
  std::string body_digest;                        // start: of the data; event: of the payload (hex)
  std::string event;                              // event
  std::optional<std::uint64_t> expected_version;  // event
  std::vector<std::string> roles;  // event: roles it needed where accepted (empty = any)
  // The result of the step.
  std::uint64_t version = 0;
  std::string state;
  InstanceStatus status = InstanceStatus::running;
  std::string outcome;
  std::int64_t definition_version = 0;
  std::int64_t updated_ms = 0;
  std::optional<std::int64_t> deadline_ms;
};

namespace idem {

// Keys of new records. The actor id enters as 32 hex digits of its SHA-256, so that a
// key stays within LMDB's 511 bytes whatever the actor id's length.
std::string start_key(const std::string& actor_id, const std::string& key);
std::string event_key(std::uint64_t instance, const std::string& actor_id, const std::string& key);
// A new (MessagePack) record's contents, or nullopt if it does not decode (verify).
std::optional<IdemRecord> decode_record(std::string_view bytes);

// The record of a start / an event with this key by this actor: the new record, else an
// old one, else nullopt. A record that cannot be read refuses the step (storage-error);
// one that does not decode refuses it too (record-damaged): never "absent", which would
// apply the request again.
std::optional<IdemRecord> find_start(Batch& b, const StartRequest& req);
std::optional<IdemRecord> find_event(Batch& b, std::uint64_t instance, const EventRequest& req);

// The record a successful step writes (its key: start_key / event_key).
IdemRecord of_start(const StartRequest& req, const InstanceView& after);
IdemRecord of_event(const EventRequest& req, const std::vector<std::string>& roles,
                    const InstanceView& after);
std::string encode(const IdemRecord& r);

// Fails the step (StepError::idempotency_key_reused, details.problems naming each part by
// its pointer) when the request differs from the one the record was made by. `current`
// is the instance the record names (old start records are compared with it).
void check_same_start(const IdemRecord& r, const StartRequest& req, const InstanceView& current);
void check_same_event(const IdemRecord& r, const EventRequest& req);
// Fails the step (role-not-allowed) when the actor could not send the event now: a new
// record's roles; for an old one, the roles of every state of `def` that accepts it.
// Runs before check_same_event: a caller who would be refused learns nothing of the key.
void authorize_event(const IdemRecord& r, const EventRequest& req, const Definition& def);

// The answer to a replay: `current` (the instance now) with the step's version, state,
// status, outcome and times. When the instance has moved on since, its data is not the
// step's, so it is left out (null) and `moved_on` is set. An old record answers `current`.
InstanceView replay_view(const IdemRecord& r, InstanceView current, bool& moved_on);

}  // namespace idem
}  // namespace bihuan::runtime
