// Whether a stored instance record fits the definition version it names. LMDB keeps no
// checksums: a damaged data file (or a hand edit) can hold a record that decodes but
// names a state, timer or deadline its definition does not have, and every step and read
// indexes the definition with those numbers. Steps refuse such a record with
// StepError::record_damaged, reads skip it, and verify() lists it.
#pragma once

#include <string>

#include "bihuan/definition.hpp"
#include "runtime/record.hpp"

namespace bihuan::runtime {

// What is wrong with `r`, stored under the id `key_id`, against `def` ("state 7 is not a
// state of t.s v1"), or "".
std::string record_damage(const InstanceRecord& r, std::uint64_t key_id, const Definition& def);

// What is wrong with a stored record: `r` as decoded from the bytes under `key_id`
// (nullopt: they did not decode), checked against `def` when it is deployed. "" if sound.
std::string stored_record_damage(const std::optional<InstanceRecord>& r, std::uint64_t key_id,
                                 const Definition* def);

// The text steps and verify() give for a record that does not decode or does not fit.
inline std::string damaged_text(const std::string& what) {
  return "its stored record is damaged (" + what + "); `bihuan verify` lists every damaged record";
}

}  // namespace bihuan::runtime
