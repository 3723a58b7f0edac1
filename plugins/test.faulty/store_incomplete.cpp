// A file store whose object table ends where ABI 1.0 ended (no file_* entries): the host
// must refuse it at load.
#include "bihuan/plugin/abi.hpp"

namespace {
const bihuan_descriptor descriptor = {BIHUAN_PLUGIN_ABI_MAJOR,
                                      BIHUAN_PLUGIN_ABI_MINOR,
                                      sizeof(bihuan_descriptor),
                                      BIHUAN_KIND_FILE_STORE,
                                      "test.store-incomplete",
                                      "1.0.0",
                                      "{}",
                                      "a file store without its functions"};
int token;
void destroy_nothing(void*) {}
int32_t create_incomplete(const bihuan_host*, bihuan_object* out, void*, bihuan_reply_fn) {
  out->struct_size = BIHUAN_OBJECT_SIZE_1_0;
  out->self = &token;
  out->destroy = &destroy_nothing;
  out->notify = nullptr;
  out->query = nullptr;
  out->run_task = nullptr;
  return 0;
}
}  // namespace

BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor)
BIHUAN_PLUGIN_ALIAS(bihuan_plugin_create, create_incomplete)
