// A notifier as an ABI 1.0 plugin built it: abi_minor 0 and an object table that ends
// before the file_* entries (struct_size BIHUAN_OBJECT_SIZE_1_0). The host must load and
// call it unchanged, reading nothing past its table.
#include <string.h>

#include "bihuan/plugin/abi.hpp"

namespace {
const bihuan_descriptor descriptor = {BIHUAN_PLUGIN_ABI_MAJOR,
                                      0,
                                      sizeof(bihuan_descriptor),
                                      BIHUAN_KIND_NOTIFIER,
                                      "test.abi10-notifier",
                                      "1.0.0",
                                      "{}",
                                      "an ABI 1.0 notifier"};
int token;
void destroy_nothing(void*) {}
void notify_ok(void*, const bihuan_message*, void* ctx, bihuan_reply_fn reply) {
  reply(ctx, BIHUAN_STATUS_OK, bihuan_text{"sent by 1.0", 11});
}
int32_t create_abi10(const bihuan_host*, bihuan_object* out, void*, bihuan_reply_fn) {
  // What a 1.0 plugin writes: its own, shorter struct; the rest is garbage to it.
  memset(reinterpret_cast<char*>(out) + BIHUAN_OBJECT_SIZE_1_0, 0x5a,
         sizeof(bihuan_object) - BIHUAN_OBJECT_SIZE_1_0);
  out->struct_size = BIHUAN_OBJECT_SIZE_1_0;
  out->self = &token;
  out->destroy = &destroy_nothing;
  out->notify = &notify_ok;
  out->query = nullptr;
  out->run_task = nullptr;
  return 0;
}
}  // namespace

BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor)
BIHUAN_PLUGIN_ALIAS(bihuan_plugin_create, create_abi10)
