# What `cmake --install` puts under the prefix (docs/embedding.md, "Installing"):
#
#   bin/bihuan                                   the CLI (serve, validate, ...)
#   lib/libbihuan_engine.{so,a}                  the engine (Bihuan::engine, ::engine_static)
#   lib/libbihuan_server.{so,a}                  the HTTP server and Node (Bihuan::server, ...)
#   lib/bihuan/plugins/*.so                      the bundled plugins (plugins/CMakeLists.txt)
#   include/bihuan/                              the public headers and the plugin SDK
#   lib/cmake/Bihuan/                            find_package(Bihuan)
#   lib/pkgconfig/bihuan.pc, bihuan-server.pc    pkg-config
#   share/bihuan/workflows/                      the bundled workflows, schema/ and calendars/
#
# The installed bihuan finds its plugins, workflows and calendars relative to itself
# (../lib/bihuan/plugins, ../share/bihuan/workflows): nothing to configure.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BIHUAN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Bihuan)
# The installed bihuan finds the shared libraries beside it: <prefix>/lib, also for a
# prefix that is not on the loader's path.
# The graph layout's dot plugin is linked from Graphviz's private folder
# (api/CMakeLists.txt), which the loader does not search: it is on the RPATH too.
get_filename_component(BIHUAN_GV_PLUGIN_DIR ${BIHUAN_GV_DOT_LAYOUT} DIRECTORY)
set_target_properties(bihuan PROPERTIES
  INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR};${BIHUAN_GV_PLUGIN_DIR}")
set_target_properties(bihuan_api_shared PROPERTIES INSTALL_RPATH "$ORIGIN;${BIHUAN_GV_PLUGIN_DIR}")

install(TARGETS bihuan RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# The plugin SDK alone (`--component plugin_sdk`, all an out-of-tree plugin needs):
# BihuanSdkTargets.cmake, its headers and the package files.
install(TARGETS bihuan_plugin_sdk EXPORT BihuanSdkTargets COMPONENT plugin_sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/bihuan/plugin
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bihuan COMPONENT plugin_sdk FILES_MATCHING PATTERN "*.hpp")
# Shared libraries: BihuanTargets.cmake (loaded by BihuanConfig.cmake when installed).
install(TARGETS bihuan_engine_shared bihuan_api_shared EXPORT BihuanTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Static libraries: BihuanStaticTargets.cmake (find_package(Bihuan COMPONENTS static)).
install(TARGETS bihuan_engine bihuan_api EXPORT BihuanStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/engine/include/bihuan ${PROJECT_SOURCE_DIR}/api/include/bihuan
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.hpp"
        PATTERN plugin EXCLUDE PATTERN postgres.hpp EXCLUDE)  # with bihuan_pg, not installed
install(DIRECTORY ${PROJECT_SOURCE_DIR}/workflows/ DESTINATION ${CMAKE_INSTALL_DATADIR}/bihuan/workflows
        COMPONENT runtime PATTERN "*.md" EXCLUDE)

install(EXPORT BihuanSdkTargets NAMESPACE Bihuan:: DESTINATION ${BIHUAN_CMAKE_DIR} COMPONENT plugin_sdk)
install(EXPORT BihuanTargets NAMESPACE Bihuan:: DESTINATION ${BIHUAN_CMAKE_DIR} COMPONENT dev)
install(EXPORT BihuanStaticTargets NAMESPACE Bihuan:: DESTINATION ${BIHUAN_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/BihuanConfig.cmake.in
  ${PROJECT_BINARY_DIR}/BihuanConfig.cmake INSTALL_DESTINATION ${BIHUAN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/BihuanConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/BihuanConfig.cmake ${PROJECT_BINARY_DIR}/BihuanConfigVersion.cmake
        DESTINATION ${BIHUAN_CMAKE_DIR} COMPONENT plugin_sdk)

# pkg-config: bihuan.pc (the engine) and bihuan-server.pc (the server and Node).
foreach(pc IN ITEMS bihuan bihuan-server)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT dev)
endforeach()
