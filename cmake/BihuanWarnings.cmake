# Warnings for our own targets only (third-party headers are SYSTEM includes).
add_library(bihuan_warnings INTERFACE)
target_compile_options(bihuan_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers)
