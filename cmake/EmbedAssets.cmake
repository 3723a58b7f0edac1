# cmake -DDIR=folder -DOUT=file.cpp -P EmbedAssets.cmake: embeds every file directly in DIR
# (not in sub-folders; names sorted) as a byte array in a table of api::ConsoleAsset
# (console_assets.hpp): name, content type by extension, a strong ETag (the content's
# SHA-256, first 32 hex digits) and the bytes. The server then needs nothing from the
# source tree at run time.
file(GLOB files LIST_DIRECTORIES false RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(arrays "")
set(table "")
set(i 0)
foreach(name IN LISTS files)
  if(name MATCHES "^\\.")
    continue()
  endif()
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(name MATCHES "\\.png$")
    set(type "image/png")
  elseif(name MATCHES "\\.json$")
    set(type "application/json")
  elseif(name MATCHES "\\.txt$")
    set(type "text/plain; charset=utf-8")
  else()
    message(FATAL_ERROR "${DIR}/${name}: no content type for this extension (EmbedAssets.cmake)")
  endif()
  file(READ ${DIR}/${name} hex HEX)
  file(SHA256 ${DIR}/${name} digest)
  string(SUBSTRING ${digest} 0 32 digest)
  file(SIZE ${DIR}/${name} size)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
  string(APPEND arrays "const unsigned char a${i}[] = {\n${bytes}0};\n")
  string(APPEND table "    {\"${name}\", \"${type}\", \"\\\"${digest}\\\"\", a${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from ${DIR} by cmake/EmbedAssets.cmake; do not edit.
#include \"console_assets.hpp\"

namespace bihuan::api {
namespace {
// clang-format off
${arrays}// clang-format on
const ConsoleAsset kAssets[] = {
${table}};
}  // namespace

std::span<const ConsoleAsset> console_assets() { return kAssets; }

}  // namespace bihuan::api
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
