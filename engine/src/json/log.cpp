// The JSON log (bihuan/log.hpp).
#include "bihuan/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>

namespace bihuan {

namespace {

std::mutex sink_mu;
std::shared_ptr<const std::function<void(const std::string&)>> sink;  // null: stderr

std::string now_utc() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

void write_stderr(const std::string& line) {
  std::string text = line + "\n";
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(2, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to log that the log failed
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string log_text(std::string_view level, std::string_view msg, const json& fields) {
  json line = {{"ts", now_utc()}, {"level", std::string(level)}, {"msg", std::string(msg)}};
  if (fields.is_object())
    for (auto it = fields.begin(); it != fields.end(); ++it) line[it.key()] = it.value();
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

void log_write(const std::string& line) {
  std::shared_ptr<const std::function<void(const std::string&)>> s;
  {
    std::lock_guard lock(sink_mu);
    s = sink;
  }
  if (s)
    (*s)(line);
  else
    write_stderr(line);
}

void log_event(std::string_view level, std::string_view msg, const json& fields) {
  log_write(log_text(level, msg, fields));
}

void set_log_sink(std::function<void(const std::string& line)> f) {
  std::lock_guard lock(sink_mu);
  sink =
      f ? std::make_shared<const std::function<void(const std::string&)>>(std::move(f)) : nullptr;
}

}  // namespace bihuan
