// Breaks the ABI on purpose: written against the C tables without the SDK, its notify
// lets a C++ exception escape into the host (which must catch it).
#include <stdexcept>

#include "bihuan/plugin/abi.hpp"

namespace {
const bihuan_descriptor descriptor = {BIHUAN_PLUGIN_ABI_MAJOR,
                                      BIHUAN_PLUGIN_ABI_MINOR,
                                      sizeof(bihuan_descriptor),
                                      BIHUAN_KIND_NOTIFIER,
                                      "test.raw-throw",
                                      "1.0.0",
                                      "{}",
                                      "throws across"};
void destroy(void*) {}
void notify(void*, const bihuan_message*, void*, bihuan_reply_fn) {
  throw std::runtime_error("escaped");
}
int32_t create(const bihuan_host*, bihuan_object* out, void*, bihuan_reply_fn) {
  *out = bihuan_object{sizeof(bihuan_object), nullptr, &destroy, &notify, nullptr, nullptr};
  return 0;
}
}  // namespace

BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor)
BIHUAN_PLUGIN_ALIAS(bihuan_plugin_create, create)
