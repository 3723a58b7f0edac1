# The engine's areas (engine/src/<area>/) and what each may include: the table that
# docs/ARCHITECTURE.md ("Modules") describes, enforced by the build.
#
#   BIHUAN_AREA_<area>_AREAS   private headers of other areas ("<area>/x.hpp") it may include
#   BIHUAN_AREA_<area>_PUBLIC  public headers (engine/include/bihuan/<name>.hpp) it may include
#   BIHUAN_AREA_<area>_THIRD   third-party headers it may include (names from BIHUAN_THIRD_PARTY)
#   BIHUAN_AREA_<area>_LINK    CMake targets it compiles against
#
# engine/CMakeLists.txt compiles each area as its own object library whose include path
# holds only the areas listed (so a private include across a forbidden line fails to
# compile); cmake/CheckBoundaries.cmake fails the build when an area includes a public or
# third-party header outside its lists (those live on paths every compiler sees).

set(BIHUAN_AREAS json expr time schema render config storage definition plugins runtime dispatch
    attachments preview)

# Third-party header prefixes we police, by name.
set(BIHUAN_THIRD_PARTY_nlohmann "nlohmann/")
set(BIHUAN_THIRD_PARTY_lmdb "lmdb.h")
set(BIHUAN_THIRD_PARTY_valijson "valijson/")
set(BIHUAN_THIRD_PARTY_mustache "kainjow/")
set(BIHUAN_THIRD_PARTY_boost_dll "boost/dll")
set(BIHUAN_THIRD_PARTY_boost_asio "boost/asio")
set(BIHUAN_THIRD_PARTY_boost_container "boost/container")
set(BIHUAN_THIRD_PARTY_openssl "openssl/")
set(BIHUAN_THIRD_PARTY_spdlog "spdlog/")
set(BIHUAN_THIRD_PARTY_boost "boost/")
set(BIHUAN_THIRD_PARTY_magic "magic.h")
set(BIHUAN_THIRD_PARTY_jpeg "jpeglib.h")
set(BIHUAN_THIRD_PARTY_png "png.h")
set(BIHUAN_THIRD_PARTY_zstd "zstd.h")
set(BIHUAN_THIRD_PARTY_libpq "libpq-fe.h")
set(BIHUAN_THIRD_PARTY nlohmann lmdb valijson mustache boost_dll boost_asio boost_container openssl spdlog boost
    magic jpeg png zstd libpq)

# Areas built as libraries of their own, outside bihuan_engine (so the engine's package and
# link dependencies do not change), policed the same way.
set(BIHUAN_SIDE_AREAS pg)

set(BIHUAN_AREA_json_AREAS "")
set(BIHUAN_AREA_json_PUBLIC json problem problem_json log)
set(BIHUAN_AREA_json_THIRD nlohmann)

set(BIHUAN_AREA_expr_AREAS "")
set(BIHUAN_AREA_expr_PUBLIC expr json problem)
set(BIHUAN_AREA_expr_THIRD "")

set(BIHUAN_AREA_time_AREAS "")
set(BIHUAN_AREA_time_PUBLIC time clock json problem log)
set(BIHUAN_AREA_time_THIRD "")

set(BIHUAN_AREA_schema_AREAS "")
set(BIHUAN_AREA_schema_PUBLIC schema schema_attachments json problem)
set(BIHUAN_AREA_schema_THIRD valijson)
set(BIHUAN_AREA_schema_LINK bihuan_valijson)

set(BIHUAN_AREA_render_AREAS "")
set(BIHUAN_AREA_render_PUBLIC json problem)
set(BIHUAN_AREA_render_THIRD mustache)

set(BIHUAN_AREA_config_AREAS "")
set(BIHUAN_AREA_config_PUBLIC config schema json problem)
set(BIHUAN_AREA_config_THIRD "")

set(BIHUAN_AREA_storage_AREAS "")
set(BIHUAN_AREA_storage_PUBLIC history_month)  # a plain struct: Remote::history_months
set(BIHUAN_AREA_storage_THIRD lmdb zstd)
set(BIHUAN_AREA_storage_LINK bihuan_lmdb)

# definition: SHA-256 of a definition's canonical text (its digest).
set(BIHUAN_AREA_definition_AREAS render)
set(BIHUAN_AREA_definition_PUBLIC definition expr time schema json problem)
set(BIHUAN_AREA_definition_THIRD openssl)
set(BIHUAN_AREA_definition_LINK OpenSSL::Crypto)

set(BIHUAN_AREA_plugins_AREAS "")
set(BIHUAN_AREA_plugins_PUBLIC plugin_host attachments config schema json problem plugin log)
set(BIHUAN_AREA_plugins_THIRD boost_dll)
set(BIHUAN_AREA_plugins_LINK Boost::headers ${CMAKE_DL_LIBS})

# runtime: the history's hash chain (OpenSSL EVP), the writer's timers (Asio io_context
# and steady_timer), small vectors (Boost.Container).
set(BIHUAN_AREA_runtime_AREAS render storage)
set(BIHUAN_AREA_runtime_PUBLIC engine verify_report stats_fields changes retention attachment_check attachments schema_attachments query_match instance migration definition expr time clock schema config json problem log)
set(BIHUAN_AREA_runtime_THIRD boost_asio boost_container openssl zstd)
set(BIHUAN_AREA_runtime_LINK Boost::headers OpenSSL::Crypto)

# dispatch: holds the data directory (serve_lock), reads an outbox message's stored body (runtime/record.hpp) and calls plugins.
set(BIHUAN_AREA_dispatch_AREAS runtime)
set(BIHUAN_AREA_dispatch_PUBLIC dispatcher serve_lock log plugin_host engine instance config schema definition expr time clock json problem plugin engine_source stats_fields)
set(BIHUAN_AREA_dispatch_THIRD "")

# attachments: evidence files stored by content (SHA-256 from OpenSSL EVP) under the data
# directory; libmagic says what a file really is.
set(BIHUAN_AREA_attachments_AREAS "")
set(BIHUAN_AREA_attachments_PUBLIC attachments time clock json problem)
set(BIHUAN_AREA_attachments_THIRD openssl magic)
set(BIHUAN_AREA_attachments_LINK OpenSSL::Crypto bihuan_magic)

# preview: small JPEG previews of image attachments (libjpeg-turbo decodes and encodes,
# libpng decodes); nothing else of the engine.
set(BIHUAN_AREA_preview_AREAS "")
set(BIHUAN_AREA_preview_PUBLIC preview)
set(BIHUAN_AREA_preview_THIRD jpeg png)
set(BIHUAN_AREA_preview_LINK JPEG::JPEG PNG::PNG)

# pg: the engine's store over PostgreSQL (libpq), library bihuan_pg (docs/design-scale-out.md):
# it implements storage/remote.hpp and enables it (bihuan/postgres.hpp); nothing of LMDB's.
set(BIHUAN_AREA_pg_AREAS storage)
set(BIHUAN_AREA_pg_PUBLIC postgres)
set(BIHUAN_AREA_pg_THIRD libpq)
set(BIHUAN_AREA_pg_LINK bihuan_libpq)
