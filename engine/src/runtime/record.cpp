#include "runtime/record.hpp"

#include <openssl/sha.h>

#include <cstdio>

#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

using storage::be32;
using storage::be64;
using storage::read_be32;
using storage::read_be64;

std::string id_to_text(std::uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
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
  json timers = json::array();
  for (const auto& t : r.timers) timers.push_back({t.due_ms, t.seq, t.state, t.timer, t.fired});
  json j = {{"i", r.id}, {"d", r.definition}, {"v", r.definition_version}, {"s", r.state},
            {"st", static_cast<int>(r.status)}, {"n", r.version}, {"x", r.data},
            {"c", r.created_ms}, {"u", r.updated_ms}, {"h", r.last_hash}, {"t", timers},
            {"ts", r.next_timer_seq}};
  if (!r.business_key.empty()) j["k"] = r.business_key;
  if (!r.outcome.empty()) j["o"] = r.outcome;
  if (!r.deadlines.empty()) j["dl"] = r.deadlines;
  if (r.parent) {
    j["p"] = r.parent;
    j["pe"] = r.parent_event;
  }
  auto bytes = json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

std::optional<InstanceRecord> decode_instance(std::string_view bytes) {
  json j = json::from_msgpack(bytes.begin(), bytes.end(), true, false);
  if (!j.is_object()) return std::nullopt;
  try {
    InstanceRecord r;
    r.id = j.at("i").get<std::uint64_t>();
    r.definition = j.at("d").get<std::string>();
    r.definition_version = j.at("v").get<std::int64_t>();
    r.state = j.at("s").get<int>();
    r.status = static_cast<InstanceStatus>(j.at("st").get<int>());
    r.version = j.at("n").get<std::uint64_t>();
    r.data = std::move(j.at("x"));
    r.created_ms = j.at("c").get<std::int64_t>();
    r.updated_ms = j.at("u").get<std::int64_t>();
    r.last_hash = j.at("h").get<std::string>();
    r.next_timer_seq = j.at("ts").get<std::uint32_t>();
    for (const auto& t : j.at("t"))
      r.timers.push_back({t[0].get<std::uint64_t>(), t[1].get<std::uint32_t>(), t[2].get<int>(),
                          t[3].get<int>(), t[4].get<std::uint32_t>()});
    if (auto it = j.find("k"); it != j.end()) r.business_key = it->get<std::string>();
    if (auto it = j.find("o"); it != j.end()) r.outcome = it->get<std::string>();
    if (auto it = j.find("dl"); it != j.end())
      r.deadlines = it->get<std::vector<std::pair<int, std::int64_t>>>();
    if (auto it = j.find("p"); it != j.end()) {
      r.parent = it->get<std::uint64_t>();
      r.parent_event = j.value("pe", std::string());
    }
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string timer_key(const TimerRef& t, std::uint64_t instance) {
  return be64(t.due_ms) + be64(instance) + be32(t.seq);
}

StoredTimer parse_timer_key(std::string_view key) {
  return {read_be64(key, 0), read_be64(key, 8), read_be32(key, 16)};
}

std::string history_key(std::uint64_t instance, std::uint32_t seq) { return be64(instance) + be32(seq); }

json history_to_json(const HistoryEntry& e) {
  json j = {{"q", e.seq},     {"t", e.at.time_since_epoch().count()}, {"k", e.kind}, {"e", e.event},
            {"a", e.actor},   {"r", e.roles},  {"f", e.from}, {"o", e.to},     {"p", e.payload},
            {"c", e.changes}, {"s", e.status}, {"prev", e.prev_hash}};
  return j;
}

std::string history_hash(const HistoryEntry& e) {
  auto bytes = json::to_msgpack(history_to_json(e));
  std::string material = e.prev_hash;
  material.append(bytes.begin(), bytes.end());
  return sha256_hex(material);
}

std::string encode_history(const HistoryEntry& e) {
  json j = history_to_json(e);
  j["hash"] = e.hash;
  auto bytes = json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

std::optional<HistoryEntry> history_from_bytes(std::string_view bytes) {
  json j = json::from_msgpack(bytes.begin(), bytes.end(), true, false);
  if (!j.is_object()) return std::nullopt;
  try {
    HistoryEntry e;
    e.seq = j.at("q").get<std::uint64_t>();
    e.at = TimePoint(Millis(j.at("t").get<std::int64_t>()));
    e.kind = j.at("k").get<std::string>();
    e.event = j.at("e").get<std::string>();
    e.actor = j.at("a").get<std::string>();
    e.roles = j.at("r").get<std::vector<std::string>>();
    e.from = j.at("f").get<std::string>();
    e.to = j.at("o").get<std::string>();
    e.payload = j.at("p");
    e.changes = j.at("c");
    e.status = j.at("s").get<std::string>();
    e.prev_hash = j.at("prev").get<std::string>();
    e.hash = j.at("hash").get<std::string>();
    return e;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * static_cast<std::size_t>(i)] = hex[md[i] >> 4];
    out[2 * static_cast<std::size_t>(i) + 1] = hex[md[i] & 15];
  }
  return out;
}

}  // namespace bihuan::runtime
