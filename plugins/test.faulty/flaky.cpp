// A notifier for dispatcher tests. Config: "failures" (attempts of each message that fail
// with retry before one succeeds; -1 = always), "permanent" (fail instead of retry),
// "sleepMs" (per call), "statsPath" (file where it writes "<calls> <max concurrent>" after
// every call), "logPath" (a line "<key> <attempt>" per successful call).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "bihuan/plugin/sdk.hpp"

namespace {
using namespace bihuan::plugin;

void append(const std::string& path, const std::string& line, bool truncate) {
  if (path.empty()) return;
  int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND), 0644);
  if (fd < 0) return;
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
  ::close(fd);
}

class Flaky final : public Notifier {
 public:
  explicit Flaky(const Host& host)
      : failures_(std::stoll(host.config_or("/failures", "0"))),
        permanent_(host.config_or("/permanent", "false") == "true"),
        sleep_ms_(std::stoll(host.config_or("/sleepMs", "0"))),
        stats_(host.config_or("/statsPath", "")),
        log_(host.config_or("/logPath", "")) {}

  Result notify(const Message& m) override {
    int now = ++in_flight_;
    int seen = max_.load();
    while (now > seen && !max_.compare_exchange_weak(seen, now)) {
    }
    if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    --in_flight_;
    {
      // Counted and written under one lock, so the file always ends with the latest count.
      std::lock_guard lock(mu_);
      long long calls = ++calls_;
      append(stats_, std::to_string(calls) + " " + std::to_string(max_.load()) + "\n", true);
    }
    if (failures_ < 0 || static_cast<long long>(m.attempt) <= failures_) {
      std::string why = "flaky failure on attempt " + std::to_string(m.attempt);
      return permanent_ ? Result::fail(why) : Result::retry(why);
    }
    append(log_, std::string(m.key) + " " + std::to_string(m.attempt) + "\n", false);
    return Result::ok("delivered");
  }

 private:
  long long failures_;
  bool permanent_;
  long long sleep_ms_;
  std::string stats_, log_;
  std::atomic<int> in_flight_{0}, max_{0};
  std::atomic<long long> calls_{0};
  std::mutex mu_;
};
}  // namespace

BIHUAN_PLUGIN(Flaky, "test.flaky", "1.0.0", R"({"type":"object","properties":{
  "failures":{"type":"integer"},"permanent":{"type":"boolean"},"sleepMs":{"type":"integer","minimum":0},
  "statsPath":{"type":"string"},"logPath":{"type":"string"}}})",
              "Fails on purpose")
