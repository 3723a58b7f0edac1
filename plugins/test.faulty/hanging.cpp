// A notifier that never answers in time: each call sleeps "hangMs" (default one hour).
#include <chrono>
#include <thread>

#include "bihuan/plugin/sdk.hpp"

namespace {
using namespace bihuan::plugin;

class Hanging final : public Notifier {
 public:
  explicit Hanging(const Host& host) : hang_ms_(std::stoll(host.config_or("/hangMs", "3600000"))) {}
  Result notify(const Message&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(hang_ms_));
    return Result::ok();
  }

 private:
  long long hang_ms_;
};
}  // namespace

BIHUAN_PLUGIN(Hanging, "test.hanging", "1.0.0",
              R"({"type":"object","properties":{"hangMs":{"type":"integer","minimum":0}}})",
              "Hangs")
