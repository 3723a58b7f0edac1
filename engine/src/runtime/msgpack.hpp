// A minimal MessagePack writer and reader for the runtime's records: they are written
// field by field (no JSON DOM in between), and JSON-valued fields (data, payloads) are
// encoded and decoded here directly (nlohmann's codec only for binary and extension
// types, which JSON never produces). See docs/storage.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bihuan/json.hpp"

namespace bihuan::runtime::msgpack {

// Appends to `out`. The writer manages the string's length itself (it grows the string
// ahead and writes bytes in place: a push_back per header byte was a tenth of a step's
// instructions); call finish() before reading `out` again. The destructor finishes too.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {
    std::size_t len = out.size();
    out_.resize(out_.capacity());  // spare capacity (a caller's reserve) is room
    sync(len);
  }
  // Trims what finish() would; after finish() (and no write since) it leaves `out` alone,
  // which may have been moved from by then (`return out;` runs before the destructor).
  ~Writer() {
    if (p_ != end_) finish();
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void map(std::uint32_t n) {
    n < 16 ? byte(0x80 | n) : n < 65536 ? head(0xde, n, 2) : head(0xdf, n, 4);
  }
  void array(std::uint32_t n) {
    n < 16 ? byte(0x90 | n) : n < 65536 ? head(0xdc, n, 2) : head(0xdd, n, 4);
  }
  void str(std::string_view s);
  void uint(std::uint64_t v);
  void sint(std::int64_t v);
  void boolean(bool b) { byte(b ? 0xc3 : 0xc2); }
  void nil() { byte(0xc0); }
  void value(const json& j);  // any JSON value
  std::size_t size() const { return static_cast<std::size_t>(p_ - base_); }
  // Trims `out` to what was written; more may be written after.
  void finish() {
    std::size_t len = size();
    if (out_.size() != len) out_.resize(len);
    sync(len);
  }

 private:
  char* room(std::size_t n) {  // n writable bytes at the end
    if (static_cast<std::size_t>(end_ - p_) < n) grow(n);
    char* at = p_;
    p_ += n;
    return at;
  }
  void grow(std::size_t n);
  // Points at `out`, of which len bytes are written and the rest is room.
  void sync(std::size_t len) {
    base_ = out_.data();
    p_ = base_ + len;
    end_ = base_ + out_.size();
  }
  void byte(unsigned c) { *room(1) = static_cast<char>(c); }
  // A type byte and `bytes` big-endian bytes of v.
  void head(unsigned type, std::uint64_t v, int bytes) {
    char* p = room(1 + static_cast<std::size_t>(bytes));
    p[0] = static_cast<char>(type);
    for (int i = bytes; i >= 1; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
  }
  std::string& out_;
  char* base_ = nullptr;  // out_.data()
  char* p_ = nullptr;     // the next byte to write
  char* end_ = nullptr;   // out_.data() + out_.size()
};

// Reads values in order from a MessagePack buffer. Every method returns nullopt/false on
// malformed input instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::optional<std::uint32_t> map();
  std::optional<std::uint32_t> array();
  std::optional<std::string_view> str();
  std::optional<std::int64_t> integer();
  std::optional<bool> boolean();
  bool nil();  // consumes a nil if present
  // Any value. Integers keep nlohmann's types: positive fixint and uint* are unsigned,
  // negative fixint and int* signed; a map's repeated key keeps its last value.
  std::optional<json> value();
  bool skip();  // skips one value
  std::size_t pos() const { return pos_; }
  bool done() const { return pos_ >= in_.size(); }

 private:
  std::optional<std::uint64_t> be(int bytes);
  bool decode(json& out, int depth);
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace bihuan::runtime::msgpack
