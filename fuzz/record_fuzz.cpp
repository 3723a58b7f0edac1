// libFuzzer target for the stored forms (docs/storage.md): any bytes as an instance
// record, a history value and a MessagePack value. A damaged data file can hold anything,
// so the decoders must answer every input with a value or nullopt: never a crash, an
// out-of-bounds read, a hang or runaway memory. It also traps when a record that decodes
// does not survive encode -> decode unchanged (the step path re-encodes every record it
// loads).
//
//   build-fuzz/fuzz/record_fuzz -max_total_time=300 -max_len=4096 -timeout=5 \
//     -rss_limit_mb=2048 /tmp/corpus/record tests/runtime/damaged
//
// Crashing inputs go to tests/runtime/damaged/, which tests/runtime/damaged_test.cpp
// replays through the same decoders.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/msgpack.hpp"
#include "runtime/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  using namespace bihuan::runtime;
  std::string_view in(reinterpret_cast<const char*>(bytes), size);

  if (auto r = decode_instance(in)) {
    std::string again = encode(*r);
    auto back = decode_instance(again);
    if (!back || encode(*back) != again) __builtin_trap();
  }

  if (auto stored = split_history_value(in)) {
    std::string_view body;
    if (auto e = history_from_bytes(stored->sealed, &body)) {
      if (body.size() > stored->sealed.size()) __builtin_trap();
      (void)history_hash(e->prev_hash, body);
    }
  }
  (void)history_from_bytes(in);

  msgpack::Reader value(in);
  (void)value.value();
  msgpack::Reader skipped(in);
  (void)skipped.skip();
  (void)parse_timer_key(in);
  return 0;
}
