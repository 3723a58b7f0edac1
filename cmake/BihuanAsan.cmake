# BIHUAN_ASAN=ON builds every target with AddressSanitizer (and UBSan's cheap checks) at
# -O1 -g1, in a build folder of its own (scripts/test.sh builds only the engine, the C API
# and its tests there: build-asan; docs/c-api.md, "Tests"). Jemalloc is off: ASan replaces
# the allocator.
option(BIHUAN_ASAN "Build everything with AddressSanitizer (-fsanitize=address)" OFF)
if(BIHUAN_ASAN)
  if(BIHUAN_TSAN)
    message(FATAL_ERROR "BIHUAN_ASAN and BIHUAN_TSAN cannot be combined")
  endif()
  add_compile_options(-fsanitize=address -fno-omit-frame-pointer -O1 -g1)
  add_link_options(-fsanitize=address)
  set(BIHUAN_JEMALLOC OFF CACHE BOOL "Link the bihuan executable and the benchmarks with jemalloc" FORCE)
  message(STATUS "bihuan: AddressSanitizer build (jemalloc off)")
endif()
