// Archive files: writing, reading and checking them (runtime/archive.hpp).
#include "runtime/archive.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "bihuan/attachments.hpp"
#include "runtime/record.hpp"
#include "storage/lmdb_env.hpp"

namespace bihuan::runtime {

namespace {

json record_json(const InstanceRecord& r) {
  json j = {{"definition", r.definition}, {"definitionVersion", r.definition_version},
            {"state", r.state},           {"status", to_string(r.status)},
            {"version", r.version},       {"data", r.data},
            {"createdMs", r.created_ms},  {"updatedMs", r.updated_ms},
            {"lastHash", r.last_hash}};
  if (!r.business_key.empty()) j["businessKey"] = r.business_key;
  if (!r.outcome.empty()) j["outcome"] = r.outcome;
  if (r.parent) j["parent"] = id_to_text(r.parent);
  if (!r.unit.empty()) j["unit"] = r.unit;
  j["readers"] = r.readers;
  return j;
}

void collect(const json& v, std::set<std::string>& out) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() == 71 && s.compare(0, 7, "sha256:") == 0 &&
        s.find_first_not_of("0123456789abcdef", 7) == std::string::npos)
      out.insert(s);
  } else if (v.is_structured()) {
    for (const auto& x : v) collect(x, out);
  }
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::optional<std::string> unhex_member(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return storage::unhex(it->get_ref<const std::string&>());
}

}  // namespace

void archive_crash_point(const char* where) {
  const char* v = std::getenv("BIHUAN_ARCHIVE_CRASH");
  if (v && std::strcmp(v, where) == 0) ::kill(::getpid(), SIGKILL);  // the crash test
}

std::vector<std::string> attachment_addresses(const json& data) {
  std::set<std::string> out;
  collect(data, out);
  return {out.begin(), out.end()};
}

std::string archive_lines(const json& header, const std::vector<ArchivedInstance>& items,
                          std::string* sha256) {
  std::string text = header.dump() + "\n";
  const TimeZone& utc = *TimeZone::utc();
  std::size_t entries = 0;
  for (const auto& it : items) {
    json line = {{"instance", id_to_text(it.id)}, {"recordBytes", storage::hex(it.record)}};
    if (auto r = decode_instance(it.record)) line["record"] = record_json(*r);
    json history = json::array();
    const bool keyed = it.keys.size() == it.entries.size();
    for (std::size_t k = 0; k < it.entries.size(); ++k) {
      const std::string& sealed = it.entries[k];
      json h = {{"sealed", storage::hex(sealed)}};
      if (keyed) h["key"] = storage::hex(storage::be64(it.keys[k]));
      if (auto e = history_from_bytes(sealed)) h["entry"] = e->to_json(utc);
      history.push_back(std::move(h));
    }
    entries += it.entries.size();
    line["history"] = std::move(history);
    line["attachments"] = it.attachments;
    text += line.dump() + "\n";
  }
  std::string sha = sha256_hex(text);
  text +=
      json{{"trailer", true}, {"instances", items.size()}, {"entries", entries}, {"sha256", sha}}
          .dump() +
      "\n";
  if (sha256) *sha256 = sha;
  return text;
}

std::string write_archive(const std::string& dir, const std::string& name,
                          const std::string& lines) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create " + dir + ": " + ec.message();
  std::string packed(ZSTD_compressBound(lines.size()), '\0');
  std::size_t n = ZSTD_compress(packed.data(), packed.size(), lines.data(), lines.size(), 3);
  if (ZSTD_isError(n)) return std::string("zstd: ") + ZSTD_getErrorName(n);
  packed.resize(n);
  std::string final_path = dir + "/" + name, tmp = final_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  bool ok = write_all(fd, packed.data(), packed.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + std::strerror(err);
  }
  archive_crash_point("before-rename");
  if (::rename(tmp.c_str(), final_path.c_str()) != 0)
    return "cannot rename " + tmp + ": " + std::strerror(errno);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    err = errno;
    if (dfd >= 0) ::close(dfd);
    return "cannot fsync " + dir + ": " + std::strerror(err);
  }
  ::close(dfd);
  archive_crash_point("after-rename");
  return "";
}

ArchiveContents read_archive(const std::string& path) {
  ArchiveContents out;
  auto& check = out.check;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    check.problems.push_back(path + ": cannot be read");
    return out;
  }
  std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string text;
  {
    ZSTD_DStream* ds = ZSTD_createDStream();
    ZSTD_initDStream(ds);
    ZSTD_inBuffer ib{packed.data(), packed.size(), 0};
    std::string chunk(ZSTD_DStreamOutSize(), '\0');
    std::size_t last = 0;
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
      last = ZSTD_decompressStream(ds, &ob, &ib);
      if (ZSTD_isError(last)) break;
      text.append(chunk.data(), ob.pos);
      if (text.size() > (std::size_t{4} << 30)) break;
    }
    ZSTD_freeDStream(ds);
    if (ZSTD_isError(last) || last != 0) {
      check.problems.push_back(
          path + ": not a complete zstd stream" +
          (ZSTD_isError(last) ? std::string(" (") + ZSTD_getErrorName(last) + ")" : ""));
      return out;
    }
  }
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) {
      check.problems.push_back(path + ": the last line has no newline (cut short)");
      return out;
    }
    lines.emplace_back(text.data() + at, nl - at);
    at = nl + 1;
  }
  auto where = [&](std::size_t i) { return path + ": line " + std::to_string(i + 1) + ": "; };
  auto parse = [&](std::size_t i) -> std::optional<json> {
    try {
      return json::parse(lines[i]);
    } catch (const std::exception& e) {
      check.problems.push_back(where(i) + "not JSON (" + e.what() + ")");
      return std::nullopt;
    }
  };
  if (lines.size() < 2) {
    check.problems.push_back(path + ": no header and trailer");
    return out;
  }
  auto header = parse(0);
  if (!header || !header->is_object() || header->value("format", "") != kArchiveFormat ||
      header->value("version", 0) < 1 || header->value("version", 0) > kArchiveVersion) {
    check.problems.push_back(where(0) + "not a header of format \"" + kArchiveFormat +
                             "\" version 1 to " + std::to_string(kArchiveVersion));
    return out;
  }
  out.header = *header;
  check.readable = true;
  // Version 2: the files' copies beside the archive.
  std::optional<std::string> copies;
  if (header->value("version", 0) >= 2) {
    auto parent = std::filesystem::path(path).parent_path();
    copies = ((parent.empty() ? std::filesystem::path(".") : parent) / "files").string();
  }
  const TimeZone& utc = *TimeZone::utc();
  std::size_t trailer_at = lines.size() - 1;
  for (std::size_t i = 1; i < trailer_at; ++i) {
    auto line = parse(i);
    if (!line) continue;
    std::string id_text = line->value("instance", "");
    auto id = id_from_text(id_text);
    std::string at = where(i) + "instance " + id_text + ": ";
    auto raw = unhex_member(*line, "recordBytes");
    auto rec = raw ? decode_instance(*raw) : std::nullopt;
    if (!id || !rec || rec->id != *id) {
      check.problems.push_back(at + "the record is missing or does not decode as this instance");
      continue;
    }
    ArchivedInstance item{*id, *raw, {}, {}, {}};
    bool keyed = true;
    std::string prev;
    bool broken = false;
    const json* history = line->contains("history") ? &(*line)["history"] : nullptr;
    if (!history || !history->is_array()) {
      check.problems.push_back(at + "no history");
      continue;
    }
    for (std::size_t k = 0; k < history->size() && !broken; ++k) {
      std::string eat = at + "entry " + std::to_string(k + 1) + ": ";
      auto sealed = unhex_member((*history)[k], "sealed");
      std::string_view body;
      auto e = sealed ? history_from_bytes(*sealed, &body) : std::nullopt;
      if (!e) {
        check.problems.push_back(eat + "does not decode");
        broken = true;
      } else if (e->seq != k + 1) {
        check.problems.push_back(eat + "has step number " + std::to_string(e->seq));
        broken = true;
      } else if (e->prev_hash != prev) {
        check.problems.push_back(eat + "does not link to the entry before (prev hash " +
                                 e->prev_hash.substr(0, 12) + "...)");
        broken = true;
      } else if (history_hash(e->prev_hash, body) != e->hash) {
        check.problems.push_back(eat + "its hash does not match its content (altered)");
        broken = true;
      } else if (!(*history)[k].contains("entry") || (*history)[k]["entry"] != e->to_json(utc)) {
        check.problems.push_back(eat + "the readable entry differs from the sealed one");
        broken = true;
      } else {
        prev = e->hash;
        item.entries.push_back(std::move(*sealed));
        auto key = unhex_member((*history)[k], "key");
        if (key && key->size() == 8)
          item.keys.push_back(storage::read_be64(*key));
        else
          keyed = false;
      }
    }
    if (broken) continue;
    if (!keyed) item.keys.clear();
    if (rec->version != item.entries.size() || rec->last_hash != prev) {
      check.problems.push_back(at + "the record (version " + std::to_string(rec->version) +
                               ") does not end the chain of " +
                               std::to_string(item.entries.size()) + " entries");
      continue;
    }
    if (line->contains("attachments") && (*line)["attachments"].is_array())
      for (const auto& a : (*line)["attachments"])
        if (a.is_string()) item.attachments.push_back(a.get<std::string>());
    if (copies) {
      bool whole = true;
      for (const auto& a : item.attachments) switch (AttachmentStore::check_copy(*copies, a)) {
          case AttachmentStore::Check::ok:
            break;
          case AttachmentStore::Check::corrupt:
            check.problems.push_back(at + "the archived copy of " + a + " under " + *copies +
                                     " no longer hashes to its address (altered)");
            whole = false;
            break;
          default:
            check.problems.push_back(at + "the file " + a + " is missing from " + *copies);
            whole = false;
        }
      if (!whole) continue;
    }
    check.entries += item.entries.size();
    out.items.push_back(std::move(item));
  }
  check.instances = out.items.size();
  std::size_t before_trailer = static_cast<std::size_t>(lines[trailer_at].data() - text.data());
  check.sha256 = sha256_hex(std::string_view(text.data(), before_trailer));
  auto trailer = parse(trailer_at);
  if (!trailer || !trailer->is_object() || !trailer->value("trailer", false)) {
    check.problems.push_back(where(trailer_at) + "not a trailer (the file is cut short)");
  } else {
    if (trailer->value("sha256", "") != check.sha256)
      check.problems.push_back(where(trailer_at) +
                               "the batch hash does not match the lines before it (altered)");
    if (trailer->value("instances", std::size_t{0}) != trailer_at - 1)
      check.problems.push_back(where(trailer_at) + "counts " +
                               std::to_string(trailer->value("instances", std::size_t{0})) +
                               " instances, the file holds " + std::to_string(trailer_at - 1));
  }
  return out;
}

}  // namespace bihuan::runtime
