// A minimal MessagePack writer and reader for the runtime's records: they are written
// field by field (no JSON DOM in between), and JSON-valued fields (data, payloads) are
// encoded and decoded here directly (nlohmann's codec only for binary and extension
// types, which JSON never produces). See docs/storage.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bihuan/json.hpp"

namespace bihuan::runtime::msgpack {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void map(std::uint32_t n);
  void array(std::uint32_t n);
  void str(std::string_view s);
  void uint(std::uint64_t v);
  void sint(std::int64_t v);
  void boolean(bool b) { out_.push_back(b ? '\xc3' : '\xc2'); }
  void nil() { out_.push_back('\xc0'); }
  void value(const json& j);  // any JSON value
  std::size_t size() const { return out_.size(); }

 private:
  void be(std::uint64_t v, int bytes);
  std::string& out_;
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
  bool skip();                  // skips one value
  std::size_t pos() const { return pos_; }
  bool done() const { return pos_ >= in_.size(); }

 private:
  std::optional<std::uint64_t> be(int bytes);
  bool decode(json& out, int depth);
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace bihuan::runtime::msgpack
