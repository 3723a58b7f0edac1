#include "runtime/msgpack.hpp"

#include <algorithm>
#include <cstring>

namespace bihuan::runtime::msgpack {

void Writer::grow(std::size_t n) {
  std::size_t len = size();
  out_.resize(std::max<std::size_t>(2 * out_.size(), len + n + 64));
  sync(len);
}

void Writer::str(std::string_view s) {
  std::size_t n = s.size();
  char* p;
  if (n < 32) {
    p = room(1 + n);
    *p++ = static_cast<char>(0xa0 | n);
  } else {
    int bytes = n < 256 ? 1 : n < 65536 ? 2 : 4;
    head(bytes == 1 ? 0xd9 : bytes == 2 ? 0xda : 0xdb, n, bytes);
    p = room(n);
  }
  if (n) std::memcpy(p, s.data(), n);
}

void Writer::uint(std::uint64_t v) {
  if (v < 128)
    byte(static_cast<unsigned>(v));
  else if (v < 256)
    head(0xcc, v, 1);
  else if (v < 65536)
    head(0xcd, v, 2);
  else if (v <= 0xffffffffu)
    head(0xce, v, 4);
  else
    head(0xcf, v, 8);
}

void Writer::sint(std::int64_t v) {
  if (v >= 0) return uint(static_cast<std::uint64_t>(v));
  auto u = static_cast<std::uint64_t>(v);
  if (v >= -32)
    byte(static_cast<unsigned>(u & 0xff));
  else if (v >= INT8_MIN)
    head(0xd0, u, 1);
  else if (v >= INT16_MIN)
    head(0xd1, u, 2);
  else if (v >= INT32_MIN)
    head(0xd2, u, 4);
  else
    head(0xd3, u, 8);
}

void Writer::value(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return nil();
    case json::value_t::boolean:
      return boolean(j.get<bool>());
    case json::value_t::number_integer:
      return sint(j.get<std::int64_t>());
    case json::value_t::number_unsigned:
      return uint(j.get<std::uint64_t>());
    case json::value_t::number_float: {
      double d = j.get<double>();
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      return head(0xcb, bits, 8);
    }
    case json::value_t::string:
      return str(j.get_ref<const std::string&>());
    case json::value_t::array:
      array(static_cast<std::uint32_t>(j.size()));
      for (const auto& v : j) value(v);
      return;
    case json::value_t::object:
      map(static_cast<std::uint32_t>(j.size()));
      for (const auto& [k, v] : j.items()) str(k), value(v);
      return;
    default: {  // binary (JSON never makes one)
      std::string bin;
      json::to_msgpack(j, bin);
      std::memcpy(room(bin.size()), bin.data(), bin.size());
    }
  }
}

std::optional<std::uint64_t> Reader::be(int bytes) {
  if (pos_ + static_cast<std::size_t>(bytes) > in_.size()) return std::nullopt;
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in_[pos_++]);
  return v;
}

std::optional<std::uint32_t> Reader::map() {
  if (pos_ >= in_.size()) return std::nullopt;
  auto c = static_cast<unsigned char>(in_[pos_]);
  if ((c & 0xf0) == 0x80) {
    ++pos_;
    return c & 0x0f;
  }
  if (c == 0xde) {
    ++pos_;
    auto v = be(2);
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  }
  if (c == 0xdf) {
    ++pos_;
    auto v = be(4);
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> Reader::array() {
  if (pos_ >= in_.size()) return std::nullopt;
  auto c = static_cast<unsigned char>(in_[pos_]);
  if ((c & 0xf0) == 0x90) {
    ++pos_;
    return c & 0x0f;
  }
  if (c == 0xdc) {
    ++pos_;
    auto v = be(2);
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  }
  if (c == 0xdd) {
    ++pos_;
    auto v = be(4);
    return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string_view> Reader::str() {
  if (pos_ >= in_.size()) return std::nullopt;
  auto c = static_cast<unsigned char>(in_[pos_]);
  std::optional<std::uint64_t> n;
  if ((c & 0xe0) == 0xa0) {
    ++pos_;
    n = c & 0x1f;
  } else if (c == 0xd9) {
    ++pos_;
    n = be(1);
  } else if (c == 0xda) {
    ++pos_;
    n = be(2);
  } else if (c == 0xdb) {
    ++pos_;
    n = be(4);
  }
  if (!n || pos_ + *n > in_.size()) return std::nullopt;
  auto s = in_.substr(pos_, *n);
  pos_ += *n;
  return s;
}

std::optional<std::int64_t> Reader::integer() {
  if (pos_ >= in_.size()) return std::nullopt;
  auto c = static_cast<unsigned char>(in_[pos_]);
  if (c < 0x80) {
    ++pos_;
    return c;
  }
  if (c >= 0xe0) {
    ++pos_;
    return static_cast<std::int8_t>(c);
  }
  ++pos_;
  std::optional<std::uint64_t> v;
  switch (c) {
    case 0xcc:
      v = be(1);
      break;
    case 0xcd:
      v = be(2);
      break;
    case 0xce:
      v = be(4);
      break;
    case 0xcf:
      v = be(8);
      break;
    case 0xd0:
      if ((v = be(1))) return static_cast<std::int8_t>(*v);
      return std::nullopt;
    case 0xd1:
      if ((v = be(2))) return static_cast<std::int16_t>(*v);
      return std::nullopt;
    case 0xd2:
      if ((v = be(4))) return static_cast<std::int32_t>(*v);
      return std::nullopt;
    case 0xd3:
      if ((v = be(8))) return static_cast<std::int64_t>(*v);
      return std::nullopt;
    default:
      --pos_;
      return std::nullopt;
  }
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

std::optional<bool> Reader::boolean() {
  if (pos_ >= in_.size()) return std::nullopt;
  auto c = static_cast<unsigned char>(in_[pos_]);
  if (c == 0xc2 || c == 0xc3) {
    ++pos_;
    return c == 0xc3;
  }
  return std::nullopt;
}

bool Reader::nil() {
  if (pos_ < in_.size() && static_cast<unsigned char>(in_[pos_]) == 0xc0) {
    ++pos_;
    return true;
  }
  return false;
}

bool Reader::skip() {
  // Iterative: `pending` counts values still to skip (containers add their children).
  std::uint64_t pending = 1;
  while (pending > 0) {
    if (pos_ >= in_.size()) return false;
    --pending;
    auto c = static_cast<unsigned char>(in_[pos_]);
    std::optional<std::uint64_t> n;
    if (c < 0x80 || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
      ++pos_;
      continue;
    }
    if ((c & 0xf0) == 0x80) {
      ++pos_;
      pending += 2ull * (c & 0x0f);
      continue;
    }
    if ((c & 0xf0) == 0x90) {
      ++pos_;
      pending += c & 0x0f;
      continue;
    }
    if ((c & 0xe0) == 0xa0) {
      ++pos_;
      n = c & 0x1f;
    } else {
      ++pos_;
      switch (c) {
        case 0xc4:
        case 0xd9:
          n = be(1);
          break;
        case 0xc5:
        case 0xda:
          n = be(2);
          break;
        case 0xc6:
        case 0xdb:
          n = be(4);
          break;
        case 0xcc:
        case 0xd0:
          n = 1;
          break;
        case 0xcd:
        case 0xd1:
          n = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          n = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          n = 8;
          break;
        case 0xd4:
          n = 2;
          break;
        case 0xd5:
          n = 3;
          break;
        case 0xd6:
          n = 5;
          break;
        case 0xd7:
          n = 9;
          break;
        case 0xd8:
          n = 17;
          break;
        case 0xc7: {
          auto l = be(1);
          if (!l) return false;
          n = *l + 1;
          break;
        }
        case 0xc8: {
          auto l = be(2);
          if (!l) return false;
          n = *l + 1;
          break;
        }
        case 0xc9: {
          auto l = be(4);
          if (!l) return false;
          n = *l + 1;
          break;
        }
        case 0xdc: {
          auto l = be(2);
          if (!l) return false;
          pending += *l;
          continue;
        }
        case 0xdd: {
          auto l = be(4);
          if (!l) return false;
          pending += *l;
          continue;
        }
        case 0xde: {
          auto l = be(2);
          if (!l) return false;
          pending += 2 * *l;
          continue;
        }
        case 0xdf: {
          auto l = be(4);
          if (!l) return false;
          pending += 2 * *l;
          continue;
        }
        default:
          return false;
      }
    }
    if (!n || pos_ + *n > in_.size()) return false;
    pos_ += *n;
  }
  return true;
}

std::optional<json> Reader::value() {
  json j;
  if (!decode(j, 0)) return std::nullopt;
  return j;
}

bool Reader::decode(json& out, int depth) {
  constexpr int kMaxDepth = 512;
  if (depth > kMaxDepth || pos_ >= in_.size()) return false;
  auto c = static_cast<unsigned char>(in_[pos_]);
  if (c < 0x80) {
    ++pos_;
    out = static_cast<std::uint64_t>(c);
    return true;
  }
  if (c >= 0xe0) {
    ++pos_;
    out = static_cast<std::int64_t>(static_cast<std::int8_t>(c));
    return true;
  }
  if ((c & 0xe0) == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb) {
    auto s = str();
    if (!s) return false;
    out = std::string(*s);
    return true;
  }
  if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf) {
    auto n = map();
    if (!n) return false;
    out = json::object();
    for (std::uint32_t i = 0; i < *n; ++i) {
      auto key = str();
      if (!key || !decode(out[std::string(*key)], depth + 1)) return false;
    }
    return true;
  }
  if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd) {
    auto n = array();
    if (!n) return false;
    out = json::array();
    auto& items = out.get_ref<json::array_t&>();
    items.reserve(std::min<std::size_t>(*n, in_.size() - pos_));  // each item is at least a byte
    for (std::uint32_t i = 0; i < *n; ++i)
      if (!decode(items.emplace_back(), depth + 1)) return false;
    return true;
  }
  ++pos_;
  std::optional<std::uint64_t> v;
  switch (c) {
    case 0xc0:
      out = nullptr;
      return true;
    case 0xc2:
      out = false;
      return true;
    case 0xc3:
      out = true;
      return true;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
      if (!(v = be(1 << (c - 0xcc)))) return false;
      out = *v;
      return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      int bytes = 1 << (c - 0xd0);
      if (!(v = be(bytes))) return false;
      std::int64_t x = bytes == 1   ? static_cast<std::int8_t>(*v)
                       : bytes == 2 ? static_cast<std::int16_t>(*v)
                       : bytes == 4 ? static_cast<std::int32_t>(*v)
                                    : static_cast<std::int64_t>(*v);
      out = x;
      return true;
    }
    case 0xca: {
      if (!(v = be(4))) return false;
      auto bits = static_cast<std::uint32_t>(*v);
      float f;
      std::memcpy(&f, &bits, sizeof f);
      out = static_cast<double>(f);
      return true;
    }
    case 0xcb: {
      if (!(v = be(8))) return false;
      double d;
      std::memcpy(&d, &*v, sizeof d);
      out = d;
      return true;
    }
    default: {  // binary and extension types: nlohmann's decoder
      std::size_t start = --pos_;
      if (!skip()) return false;
      auto bytes = in_.substr(start, pos_ - start);
      out = json::from_msgpack(bytes.begin(), bytes.end(), true, false);
      return !out.is_discarded();
    }
  }
}

}  // namespace bihuan::runtime::msgpack
