# Every third-party dependency comes from a Debian 12 package (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(Boost 1.81 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)

find_path(LMDB_INCLUDE_DIR lmdb.h REQUIRED)
find_library(LMDB_LIBRARY lmdb REQUIRED)
add_library(bihuan_lmdb INTERFACE)
target_include_directories(bihuan_lmdb SYSTEM INTERFACE ${LMDB_INCLUDE_DIR})
target_link_libraries(bihuan_lmdb INTERFACE ${LMDB_LIBRARY})
# libmagic (Debian libmagic-dev): what an uploaded attachment really is (engine/src/attachments).
find_path(MAGIC_INCLUDE_DIR magic.h REQUIRED)
find_library(MAGIC_LIBRARY magic REQUIRED)
add_library(bihuan_magic INTERFACE)
target_include_directories(bihuan_magic SYSTEM INTERFACE ${MAGIC_INCLUDE_DIR})
target_link_libraries(bihuan_magic INTERFACE ${MAGIC_LIBRARY})
# libjpeg-turbo and libpng (Debian libjpeg62-turbo-dev, libpng-dev): previews of image
# attachments (engine/src/preview).
find_package(JPEG REQUIRED)
find_package(PNG REQUIRED)
# libzstd (Debian libzstd-dev): retention's archive files (engine/src/runtime/archive*.cpp).
find_path(ZSTD_INCLUDE_DIR zstd.h REQUIRED)
find_library(ZSTD_LIBRARY zstd REQUIRED)

# libpq (Debian libpq-dev): the PostgreSQL key-value store (engine/src/pg, library
# bihuan_pg; issue 26). Its tests start a real server (Debian postgresql-15).
find_path(PQ_INCLUDE_DIR libpq-fe.h PATH_SUFFIXES postgresql REQUIRED)
find_library(PQ_LIBRARY pq REQUIRED)
add_library(bihuan_libpq INTERFACE)
target_include_directories(bihuan_libpq SYSTEM INTERFACE ${PQ_INCLUDE_DIR})
target_link_libraries(bihuan_libpq INTERFACE ${PQ_LIBRARY})

find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp REQUIRED)
add_library(bihuan_valijson INTERFACE)
target_include_directories(bihuan_valijson SYSTEM INTERFACE ${VALIJSON_INCLUDE_DIR})
# Valijson reports unusable schemas by exception (we catch them); without this it aborts.
target_compile_definitions(bihuan_valijson INTERFACE VALIJSON_USE_EXCEPTIONS=1)

if(BIHUAN_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(BIHUAN_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# The allocator of the executables we ship (bihuan, the benchmarks; not the library, whose
# embedders choose their own). Steps allocate many small JSON nodes; with jemalloc the
# simulated year takes about 25% less CPU than with glibc's malloc (docs/PERFORMANCE.md,
# "Allocator"). BIHUAN_JEMALLOC=OFF, or libjemalloc-dev missing, keeps glibc's.
option(BIHUAN_JEMALLOC "Link the bihuan executable and the benchmarks with jemalloc" ON)
find_library(BIHUAN_JEMALLOC_LIBRARY jemalloc)
add_library(bihuan_allocator INTERFACE)
if(BIHUAN_JEMALLOC AND BIHUAN_JEMALLOC_LIBRARY)
  target_link_libraries(bihuan_allocator INTERFACE ${BIHUAN_JEMALLOC_LIBRARY})
  message(STATUS "bihuan: executables use jemalloc (${BIHUAN_JEMALLOC_LIBRARY})")
endif()
