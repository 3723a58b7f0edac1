// notify.log: appends each notification as one JSON line to a file. The default notifier,
// for development and audits. Each line is the message as the host passed it (key,
// channel, instance, to, subject, text, ...) plus "loggedAt" (ms): receivers deduplicate
// on "key". One write(2) per line on an O_APPEND descriptor, so lines from several
// threads or instances sharing the file never interleave.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "bihuan/plugin/sdk.hpp"

namespace {

using namespace bihuan::plugin;

constexpr const char* kSchema = R"json({
  "type": "object",
  "required": ["path"],
  "additionalProperties": false,
  "properties": {
    "path": {"type": "string", "minLength": 1, "description": "the JSON-lines file (created with its directory)"},
    "fsync": {"type": "boolean", "description": "fdatasync after every line (default false)"}
  }
})json";

class LogNotifier final : public Notifier {
 public:
  explicit LogNotifier(const Host& host) : host_(host), path_(host.config_or("/path", "")) {
    fsync_ = host.config_or("/fsync", "false") == "true";
    std::error_code ec;
    auto dir = std::filesystem::path(path_).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw std::runtime_error("cannot open " + path_ + " for appending: " + std::strerror(errno));
  }
  ~LogNotifier() override {
    if (fd_ >= 0) ::close(fd_);
  }
  LogNotifier(const LogNotifier&) = delete;
  LogNotifier& operator=(const LogNotifier&) = delete;

  Result notify(const Message& m) override {
    // m.json is one JSON object: splice our field in front of its members.
    std::string line = "{\"loggedAt\":" + std::to_string(host_.now_ms());
    if (m.json.size() > 2)
      line += "," + std::string(m.json.substr(1));
    else
      line += "}";
    line += '\n';
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Result::retry("cannot append to " + path_ + ": " + std::strerror(errno));
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    if (fsync_ && ::fdatasync(fd_) != 0)
      return Result::retry("cannot sync " + path_ + ": " + std::strerror(errno));
    return Result::ok();
  }

 private:
  Host host_;
  std::string path_;
  bool fsync_ = false;
  int fd_ = -1;
};

}  // namespace

BIHUAN_PLUGIN(LogNotifier, "notify.log", "1.0.0", kSchema,
              "Appends each notification as a JSON line to a file")
