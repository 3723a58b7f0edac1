// notify.hello: the smallest useful notifier. It appends "<greeting>, <recipient>: <text>"
// lines to a file. Configuration: {"path": "...", "greeting": "你好"}.
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>

#include <bihuan/plugin/sdk.hpp>

namespace {

using namespace bihuan::plugin;

constexpr const char* kSchema = R"json({
  "type": "object",
  "required": ["path"],
  "additionalProperties": false,
  "properties": {
    "path": {"type": "string", "minLength": 1},
    "greeting": {"type": "string"}
  }
})json";

class Hello final : public Notifier {
 public:
  // Read the configuration once; throwing here refuses it with a clear message.
  explicit Hello(const Host& host)
      : host_(host), path_(*host.config("/path")), greeting_(host.config_or("/greeting", "Hello")) {
    std::ofstream probe(path_, std::ios::app);
    if (!probe) throw std::runtime_error("cannot write to " + path_);
  }

  // Called from several threads at once: guard the file.
  Result notify(const Message& m) override {
    std::lock_guard lock(mu_);
    std::ofstream out(path_, std::ios::app);
    for (auto to : m.to) out << greeting_ << ", " << to << ": " << m.text << " [" << m.key << "]\n";
    if (!out) return Result::retry("cannot append to " + path_);  // transient: try again later
    host_.log(LogLevel::debug, "greeted " + std::to_string(m.to.size()) + " recipients");
    return Result::ok();
  }

 private:
  Host host_;
  std::string path_, greeting_;
  std::mutex mu_;
};

}  // namespace

BIHUAN_PLUGIN(Hello, "notify.hello", "1.0.0", kSchema, "Greets each recipient in a text file")
