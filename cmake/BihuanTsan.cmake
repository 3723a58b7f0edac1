# BIHUAN_TSAN=ON builds every target (engine, API, plugins, CLI, tests) with
# ThreadSanitizer at -O1 -g1 (enough for TSan's reports, and far quicker to build than
# -O2 -g), in a build folder of its own (scripts/test.sh uses build-tsan;
# docs/testing.md, "ThreadSanitizer"). Jemalloc is off there: TSan replaces the allocator.
option(BIHUAN_TSAN "Build everything with ThreadSanitizer (-fsanitize=thread)" OFF)
if(BIHUAN_TSAN)
  if(BIHUAN_FUZZ)
    message(FATAL_ERROR "BIHUAN_TSAN and BIHUAN_FUZZ cannot be combined (TSan and ASan exclude each other)")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -O1 -g1)
  add_link_options(-fsanitize=thread)
  set(BIHUAN_JEMALLOC OFF CACHE BOOL "Link the bihuan executable and the benchmarks with jemalloc" FORCE)
  message(STATUS "bihuan: ThreadSanitizer build (jemalloc off)")
endif()
