// A library that exports a descriptor but no factory.
#include "bihuan/plugin/abi.hpp"

namespace {
const bihuan_descriptor descriptor = {BIHUAN_PLUGIN_ABI_MAJOR,
                                      BIHUAN_PLUGIN_ABI_MINOR,
                                      sizeof(bihuan_descriptor),
                                      BIHUAN_KIND_NOTIFIER,
                                      "test.missing-factory",
                                      "1.0.0",
                                      "{}",
                                      "no factory"};
}  // namespace

BIHUAN_PLUGIN_ALIAS(bihuan_plugin_descriptor, descriptor)
