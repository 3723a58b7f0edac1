// Declares a configuration schema that is not JSON: refused at load.
#include "bihuan/plugin/sdk.hpp"

namespace {
class BadSchema final : public bihuan::plugin::Notifier {
 public:
  explicit BadSchema(const bihuan::plugin::Host&) {}
  bihuan::plugin::Result notify(const bihuan::plugin::Message&) override {
    return bihuan::plugin::Result::ok();
  }
};
}  // namespace

BIHUAN_PLUGIN(BadSchema, "test.bad-schema", "1.0.0", R"({"type": "object", "properties": )",
              "Bad schema")
