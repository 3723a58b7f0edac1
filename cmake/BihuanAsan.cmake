# BIHUAN_ASAN=ON builds every target with AddressSanitizer at -O0 -g1, in a build folder of
# its own: scripts/test.sh builds only the engine, the C API (libbihuan.so) and its tests
# there, in build-asan (docs/c-api.md, "Tests"). Jemalloc is off: ASan replaces the
# allocator. ASan and TSan exclude each other.
option(BIHUAN_ASAN "Build everything with AddressSanitizer (-fsanitize=address)" OFF)
if(BIHUAN_ASAN AND (BIHUAN_TSAN OR BIHUAN_FUZZ))
  message(FATAL_ERROR "BIHUAN_ASAN cannot be combined with BIHUAN_TSAN or BIHUAN_FUZZ")
elseif(BIHUAN_ASAN)
  add_compile_options(-fsanitize=address -fno-omit-frame-pointer -O0 -g1)
  add_link_options(-fsanitize=address)
  set(BIHUAN_JEMALLOC OFF CACHE BOOL "Link the bihuan executable and the benchmarks with jemalloc" FORCE)
  message(STATUS "bihuan: AddressSanitizer build, jemalloc off (C API tests: ctest -L capi)")
endif()
