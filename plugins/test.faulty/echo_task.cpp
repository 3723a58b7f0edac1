// A task handler: answers {"echo": <input>}; an input containing "fail" fails permanently,
// one containing "malformed" answers with text that is not JSON.
#include "bihuan/plugin/sdk.hpp"

namespace {
using namespace bihuan::plugin;

class EchoTask final : public TaskHandler {
 public:
  explicit EchoTask(const Host&) {}
  Result run(const Task& t) override {
    if (t.input_json.find("malformed") != std::string_view::npos) return Result::ok("{\"echo\": ");
    if (t.input_json.find("fail") != std::string_view::npos) return Result::fail("the input asked me to fail");
    return Result::ok("{\"echo\":" + std::string(t.input_json) + ",\"attempt\":" + std::to_string(t.attempt) + "}");
  }
};
}  // namespace

BIHUAN_PLUGIN(EchoTask, "test.echo-task", "1.0.0", R"({"type":"object"})", "Echoes its input")
