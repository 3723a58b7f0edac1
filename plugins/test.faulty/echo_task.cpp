// A task handler: answers {"echo": <input>}; an input containing "fail" fails permanently,
// one containing "malformed" answers with text that is not JSON; one containing "emit"
// first sends the instance a "poke" event through the host ({"from": <instance name>}).
#include "bihuan/plugin/sdk.hpp"

namespace {
using namespace bihuan::plugin;

class EchoTask final : public TaskHandler {
 public:
  explicit EchoTask(const Host& host) : host_(host) {}
  Result run(const Task& t) override {
    if (t.input_json.find("emit") != std::string_view::npos &&
        !host_.emit_event(t.instance_id, "poke",
                          "{\"from\":" + json_quote(host_.instance_name()) + "}"))
      return Result::retry("the host refused the poke event");
    if (t.input_json.find("malformed") != std::string_view::npos) return Result::ok("{\"echo\": ");
    if (t.input_json.find("fail") != std::string_view::npos)
      return Result::fail("the input asked me to fail");
    return Result::ok("{\"echo\":" + std::string(t.input_json) +
                      ",\"attempt\":" + std::to_string(t.attempt) + "}");
  }

 private:
  Host host_;
};
}  // namespace

BIHUAN_PLUGIN(EchoTask, "test.echo-task", "1.0.0", R"({"type":"object"})", "Echoes its input")
