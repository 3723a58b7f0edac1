// A plugin built for a future ABI major (99): the host must refuse it without calling it.
#include <cstdlib>

#include "bihuan/plugin/abi.hpp"

namespace {
const bihuan_descriptor descriptor = {
    99,      0,    sizeof(bihuan_descriptor), BIHUAN_KIND_NOTIFIER, "test.wrong-abi",
    "1.0.0", "{}", "built for ABI 99"};
int32_t create(const bihuan_host*, bihuan_object*, void*, bihuan_reply_fn) {
  std::abort();
}  // must never run
}  // namespace

BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor)
BIHUAN_PLUGIN_ALIAS(bihuan_plugin_create, create)
