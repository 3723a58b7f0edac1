// A data source whose answers are malformed: query "broken" returns truncated JSON,
// "object" a JSON object instead of rows, "silent" never replies; anything else one row.
#include "bihuan/plugin/abi.hpp"
#include "bihuan/plugin/sdk.hpp"

namespace {
using namespace bihuan::plugin;

const bihuan_descriptor descriptor = {BIHUAN_PLUGIN_ABI_MAJOR,
                                      BIHUAN_PLUGIN_ABI_MINOR,
                                      sizeof(bihuan_descriptor),
                                      BIHUAN_KIND_DATA_SOURCE,
                                      "test.malformed",
                                      "1.0.0",
                                      "{}",
                                      "malformed JSON"};
void destroy(void*) {}
void query(void*, const bihuan_query* q, void* ctx, bihuan_reply_fn reply) {
  std::string_view name = view(q->name);
  if (name == "silent") return;
  if (name == "broken") return reply(ctx, BIHUAN_STATUS_OK, text("[{\"a\": 1,"));
  if (name == "object") return reply(ctx, BIHUAN_STATUS_OK, text("{\"a\": 1}"));
  if (name == "status") return reply(ctx, 7, text("?"));
  reply(ctx, BIHUAN_STATUS_OK, text("[{\"a\": 1, \"name\": \"食品\"}]"));
}
int32_t create(const bihuan_host*, bihuan_object* out, void*, bihuan_reply_fn) {
  *out = bihuan_object{sizeof(bihuan_object), nullptr, &destroy, nullptr, &query, nullptr};
  return 0;
}
}  // namespace

BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor)
BIHUAN_PLUGIN_ALIAS(bihuan_plugin_create, create)
