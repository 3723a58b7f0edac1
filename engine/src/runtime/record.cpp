#include "runtime/record.hpp"

#include <openssl/evp.h>

#include "runtime/msgpack.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

using storage::be32;
using storage::be64;
using storage::read_be32;
using storage::read_be64;

std::string id_to_text(std::uint64_t id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, id >>= 4) out[static_cast<std::size_t>(i)] = kHex[id & 0xf];
  return out;
}

std::optional<std::uint64_t> id_from_text(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return v;
}

std::string encode(const InstanceRecord& r) {
  std::string out;
  out.reserve(256);
  msgpack::Writer w(out);
  std::uint32_t n =
      13 + !r.business_key.empty() + !r.outcome.empty() + !r.deadlines.empty() + (r.parent ? 2 : 0);
  const bool open_access = r.unit.empty() && r.readers.size() == 1 && r.readers[0] == "*";
  if (!open_access) n += 2;
  w.map(n);
  w.str("i"), w.uint(r.id);
  w.str("d"), w.str(r.definition);
  w.str("v"), w.sint(r.definition_version);
  w.str("s"), w.sint(r.state);
  w.str("st"), w.uint(static_cast<std::uint64_t>(r.status));
  w.str("n"), w.uint(r.version);
  w.str("x"), w.value(r.data);
  w.str("c"), w.sint(r.created_ms);
  w.str("u"), w.sint(r.updated_ms);
  w.str("h"), w.str(r.last_hash);
  w.str("hq"), w.uint(r.last_entry);
  w.str("t"), w.array(static_cast<std::uint32_t>(r.timers.size()));
  for (const auto& t : r.timers) {
    w.array(5);
    w.uint(t.due_ms), w.uint(t.seq), w.sint(t.state), w.sint(t.timer), w.uint(t.fired);
  }
  w.str("ts"), w.uint(r.next_timer_seq);
  if (!r.business_key.empty()) w.str("k"), w.str(r.business_key);
  if (!r.outcome.empty()) w.str("o"), w.str(r.outcome);
  if (!r.deadlines.empty()) {
    w.str("dl"), w.array(static_cast<std::uint32_t>(r.deadlines.size()));
    for (const auto& [state, due] : r.deadlines) w.array(2), w.sint(state), w.sint(due);
  }
  if (r.parent) {
    w.str("p"), w.uint(r.parent);
    w.str("pe"), w.str(r.parent_event);
  }
  if (!open_access) {
    w.str("au"), w.str(r.unit);
    w.str("ar"), w.array(static_cast<std::uint32_t>(r.readers.size()));
    for (const auto& k : r.readers) w.str(k);
  }
  w.finish();
  return out;
}

std::optional<InstanceRecord> decode_instance(std::string_view bytes) {
  msgpack::Reader rd(bytes);
  auto n = rd.map();
  if (!n) return std::nullopt;
  InstanceRecord r;
  auto str = [&](std::string& into) {
    auto v = rd.str();
    if (v) into.assign(*v);
    return v.has_value();
  };
  auto num = [&](auto& into) {
    auto v = rd.integer();
    if (v) into = static_cast<std::remove_reference_t<decltype(into)>>(*v);
    return v.has_value();
  };
  for (std::uint32_t i = 0; i < *n; ++i) {
    auto key = rd.str();
    if (!key) return std::nullopt;
    bool ok = true;
    if (*key == "i")
      ok = num(r.id);
    else if (*key == "d")
      ok = str(r.definition);
    else if (*key == "v")
      ok = num(r.definition_version);
    else if (*key == "s")
      ok = num(r.state);
    else if (*key == "st") {
      int st = 0;
      ok = num(st) && st >= 0 && st <= 2;
      r.status = static_cast<InstanceStatus>(st);
    } else if (*key == "n")
      ok = num(r.version);
    else if (*key == "x") {
      auto v = rd.value();
      ok = v.has_value();
      if (ok) r.data = std::move(*v);
    } else if (*key == "c")
      ok = num(r.created_ms);
    else if (*key == "u")
      ok = num(r.updated_ms);
    else if (*key == "h")
      ok = str(r.last_hash);
    else if (*key == "hq")
      ok = num(r.last_entry);
    else if (*key == "t") {
      auto count = rd.array();
      ok = count.has_value();
      for (std::uint32_t k = 0; ok && k < *count; ++k) {
        TimerRef t;
        ok = rd.array() == 5u && num(t.due_ms) && num(t.seq) && num(t.state) && num(t.timer) &&
             num(t.fired);
        r.timers.push_back(t);
      }
    } else if (*key == "ts")
      ok = num(r.next_timer_seq);
    else if (*key == "k")
      ok = str(r.business_key);
    else if (*key == "o")
      ok = str(r.outcome);
    else if (*key == "dl") {
      auto count = rd.array();
      ok = count.has_value();
      for (std::uint32_t k = 0; ok && k < *count; ++k) {
        std::pair<int, std::int64_t> d;
        ok = rd.array() == 2u && num(d.first) && num(d.second);
        r.deadlines.push_back(d);
      }
    } else if (*key == "p")
      ok = num(r.parent);
    else if (*key == "pe")
      ok = str(r.parent_event);
    else if (*key == "au")
      ok = str(r.unit);
    else if (*key == "ar") {
      auto count = rd.array();
      ok = count.has_value();
      r.readers.clear();
      for (std::uint32_t k = 0; ok && k < *count; ++k) {
        std::string key_text;
        ok = str(key_text);
        r.readers.push_back(std::move(key_text));
      }
    } else
      ok = rd.skip();  // a field from a newer minor format: ignore
    if (!ok) return std::nullopt;
  }
  return r;
}

std::string timer_key(const TimerRef& t, std::uint64_t instance) {
  return be64(t.due_ms) + be64(instance) + be32(t.seq);
}

StoredTimer parse_timer_key(std::string_view key) {
  return {read_be64(key, 0), read_be64(key, 8), read_be32(key, 16)};
}

std::string history_value(std::uint64_t instance, std::uint64_t prev_entry,
                          std::string_view sealed) {
  std::string out;
  out.reserve(16 + sealed.size());
  out.append(be64(instance)).append(be64(prev_entry)).append(sealed);
  return out;
}

std::optional<StoredEntry> split_history_value(std::string_view bytes) {
  if (bytes.size() < 16) return std::nullopt;
  return StoredEntry{read_be64(bytes, 0), read_be64(bytes, 8), bytes.substr(16)};
}

std::string encode_history_body(const HistoryFields& e) {
  std::string out;
  out.reserve(256);
  msgpack::Writer w(out);
  w.map(13);  // the 13th member, "hash", follows the body
  w.str("q"), w.uint(e.seq);
  w.str("t"), w.sint(e.at_ms);
  w.str("k"), w.str(e.kind);
  w.str("e"), w.str(e.event);
  w.str("a"), w.str(e.actor);
  w.str("r"), w.array(static_cast<std::uint32_t>(e.roles.size()));
  for (const auto& role : e.roles) w.str(role);
  w.str("f"), w.str(e.from);
  w.str("o"), w.str(e.to);
  w.str("p"), w.value(e.payload);
  w.str("c"), w.value(e.changes);
  w.str("s"), w.str(e.status);
  w.str("prev"), w.str(e.prev_hash);
  w.finish();
  return out;
}

std::string history_hash(std::string_view prev_hash, std::string_view body) {
  return sha256_hex(prev_hash, body);
}

std::string seal_history(std::string body, const std::string& hash) {
  msgpack::Writer w(body);
  w.str("hash"), w.str(hash);
  w.finish();
  return body;
}

std::optional<HistoryEntry> history_from_bytes(std::string_view bytes, std::string_view* body) {
  msgpack::Reader rd(bytes);
  auto n = rd.map();
  if (!n) return std::nullopt;
  HistoryEntry e;
  bool has_hash = false;
  for (std::uint32_t i = 0; i < *n; ++i) {
    std::size_t key_pos = rd.pos();
    auto key = rd.str();
    if (!key) return std::nullopt;
    bool ok = true;
    auto str = [&](std::string& into) {
      auto v = rd.str();
      if (v) into.assign(*v);
      return v.has_value();
    };
    if (*key == "q") {
      auto v = rd.integer();
      ok = v && *v >= 0;
      if (ok) e.seq = static_cast<std::uint64_t>(*v);
    } else if (*key == "t") {
      auto v = rd.integer();
      ok = v.has_value();
      if (ok) e.at = TimePoint(Millis(*v));
    } else if (*key == "k")
      ok = str(e.kind);
    else if (*key == "e")
      ok = str(e.event);
    else if (*key == "a")
      ok = str(e.actor);
    else if (*key == "r") {
      auto count = rd.array();
      ok = count.has_value();
      for (std::uint32_t k = 0; ok && k < *count; ++k) ok = str(e.roles.emplace_back());
    } else if (*key == "f")
      ok = str(e.from);
    else if (*key == "o")
      ok = str(e.to);
    else if (*key == "p" || *key == "c") {
      auto v = rd.value();
      ok = v.has_value();
      if (ok) (*key == "p" ? e.payload : e.changes) = std::move(*v);
    } else if (*key == "s")
      ok = str(e.status);
    else if (*key == "prev")
      ok = str(e.prev_hash);
    else if (*key == "hash") {
      ok = str(e.hash);
      has_hash = true;
      if (body) *body = bytes.substr(0, key_pos);
    } else
      ok = rd.skip();
    if (!ok) return std::nullopt;
  }
  if (!has_hash) return std::nullopt;
  return e;
}

std::string sha256_hex(std::string_view bytes) { return sha256_hex(bytes, {}); }

std::string sha256_hex(std::string_view first, std::string_view second) {
  // One digest context per thread, reused: OpenSSL's one-shot SHA256() looks the
  // algorithm up on every call, which costs more than hashing a history entry.
  struct Ctx {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(md);
    }
  };
  thread_local Ctx c;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestInit_ex(c.ctx, c.md, nullptr);
  EVP_DigestUpdate(c.ctx, first.data(), first.size());
  if (!second.empty()) EVP_DigestUpdate(c.ctx, second.data(), second.size());
  EVP_DigestFinal_ex(c.ctx, md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  return out;
}

}  // namespace bihuan::runtime
