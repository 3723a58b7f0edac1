// Throws from its constructor ({"throwIn": "constructor"}) or from notify ("notify"): the
// SDK catches both, so nothing crosses the boundary.
#include <stdexcept>

#include "bihuan/plugin/sdk.hpp"

namespace {
using namespace bihuan::plugin;

class Throwing final : public Notifier {
 public:
  explicit Throwing(const Host& host) : where_(host.config_or("/throwIn", "notify")) {
    if (where_ == "constructor") throw std::runtime_error("configuration rejected on purpose");
  }
  Result notify(const Message&) override {
    if (where_ == "notify-int") throw 42;
    throw std::runtime_error("boom");
  }

 private:
  std::string where_;
};
}  // namespace

BIHUAN_PLUGIN(
    Throwing, "test.throwing", "1.0.0",
    R"({"type":"object","properties":{"throwIn":{"enum":["constructor","notify","notify-int"]}}})",
    "Throws")
