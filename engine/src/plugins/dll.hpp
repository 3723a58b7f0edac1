// The one place that includes Boost.DLL (with std::filesystem, so nothing to link).
#pragma once

#ifndef BOOST_DLL_USE_STD_FS
#define BOOST_DLL_USE_STD_FS 1
#endif
#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "bihuan/plugin/abi.hpp"
#include "bihuan/plugin_host.hpp"
#include "bihuan/schema.hpp"

namespace bihuan {

struct PluginLibrary::Impl {
  boost::dll::shared_library library;
  const bihuan_descriptor* descriptor = nullptr;
  bihuan_create_fn create = nullptr;
  std::shared_ptr<const JsonSchema> schema;
};

namespace plugins {

// The bihuan_host table lent to one object, and what its functions return.
struct HostContext {
  bihuan_host table{};
  std::string name;
  std::string config_text;
  json config;
  std::shared_ptr<HostServices> services;
  std::mutex mu;
  std::map<std::string, std::string> values;  // config_value answers (stable addresses)
};
void init_host_table(HostContext& ctx);

// Collects a plugin's reply (see bihuan_reply_fn).
struct Reply {
  bool called = false;
  std::int32_t status = BIHUAN_STATUS_FAIL;
  std::string body;
};
void reply_to(void* context, std::int32_t status, bihuan_text body) noexcept;

}  // namespace plugins

struct PluginObject::Impl {
  std::shared_ptr<PluginLibrary::Impl> library;  // declared first: released last
  PluginInfo info;
  std::unique_ptr<plugins::HostContext> host;
  bihuan_object object{};

  ~Impl();
  // "<file>: plugin <name> ("<instance>")", the prefix of host-made error sentences.
  std::string where() const;
};

}  // namespace bihuan
