// The web console's files (console/ in the source tree), compiled into the server by
// cmake/EmbedAssets.cmake: the server reads nothing from disk to serve them.
#pragma once

#include <cstddef>
#include <span>

namespace bihuan::api {

struct ConsoleAsset {
  const char* name;          // file name in console/, e.g. "app.js"
  const char* content_type;  // by extension
  const char* etag;          // strong ETag: quoted SHA-256 prefix of the content
  const unsigned char* data;
  std::size_t size;
};

// Every file, sorted by name.
std::span<const ConsoleAsset> console_assets();

}  // namespace bihuan::api
