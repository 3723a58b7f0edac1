// An object table that ends where ABI 1.0 ended (struct_size BIHUAN_OBJECT_SIZE_1_0, no
// file_* entries), built twice (CMakeLists.txt):
//   test.abi10-notifier     an ABI 1.0 notifier, garbage past its table: the host must
//                           load and call it unchanged, reading nothing past the table;
//   test.store-incomplete   (BIHUAN_TEST_FILE_STORE) a file store with that table: the
//                           host must refuse it at load.
#include <string.h>

#include "bihuan/plugin/abi.hpp"

namespace {
#ifdef BIHUAN_TEST_FILE_STORE
const bihuan_descriptor descriptor = {BIHUAN_PLUGIN_ABI_MAJOR,
                                      BIHUAN_PLUGIN_ABI_MINOR,
                                      sizeof(bihuan_descriptor),
                                      BIHUAN_KIND_FILE_STORE,
                                      "test.store-incomplete",
                                      "1.0.0",
                                      "{}",
                                      "a file store without its functions"};
#else
const bihuan_descriptor descriptor = {BIHUAN_PLUGIN_ABI_MAJOR,
                                      0,
                                      sizeof(bihuan_descriptor),
                                      BIHUAN_KIND_NOTIFIER,
                                      "test.abi10-notifier",
                                      "1.0.0",
                                      "{}",
                                      "an ABI 1.0 notifier"};
#endif
int token;
void destroy_nothing(void*) {}
[[maybe_unused]] void notify_ok(void*, const bihuan_message*, void* ctx, bihuan_reply_fn reply) {
  reply(ctx, BIHUAN_STATUS_OK, bihuan_text{"sent by 1.0", 11});
}
int32_t create_short(const bihuan_host*, bihuan_object* out, void*, bihuan_reply_fn) {
  // What a 1.0 plugin writes: its own, shorter struct; the rest is not its own.
  memset(reinterpret_cast<char*>(out) + BIHUAN_OBJECT_SIZE_1_0, 0x5a,
         sizeof(bihuan_object) - BIHUAN_OBJECT_SIZE_1_0);
  out->struct_size = BIHUAN_OBJECT_SIZE_1_0;
  out->self = &token;
  out->destroy = &destroy_nothing;
#ifdef BIHUAN_TEST_FILE_STORE
  out->notify = nullptr;
#else
  out->notify = &notify_ok;
#endif
  out->query = nullptr;
  out->run_task = nullptr;
  return 0;
}
}  // namespace

BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor)
BIHUAN_PLUGIN_ALIAS(bihuan_plugin_create, create_short)
