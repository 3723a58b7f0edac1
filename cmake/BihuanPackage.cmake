# The Debian package: `cpack -G DEB` in the build directory (scripts/install-test.sh builds
# it and checks it with lintian; docs/operations.md, "The Debian package").
#
# It holds the install (cmake/BihuanInstall.cmake) under /usr, plus
#   /lib/systemd/system/bihuan.service   runs `bihuan serve` as the system user bihuan
#   /etc/bihuan/bihuan.json              the configuration (a conffile)
#   /usr/share/doc/bihuan/               copyright, changelog.gz
# and maintainer scripts (packaging/postinst, prerm, postrm) that create the user and
# /var/lib/bihuan, and enable the service.
include(GNUInstallDirs)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/bihuan COMPONENT runtime)
set(BIHUAN_CHANGELOG_GZ ${PROJECT_BINARY_DIR}/packaging/changelog.gz)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/packaging)
add_custom_command(OUTPUT ${BIHUAN_CHANGELOG_GZ}
  COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/packaging/changelog > ${BIHUAN_CHANGELOG_GZ}
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/changelog)
add_custom_target(bihuan_changelog ALL DEPENDS ${BIHUAN_CHANGELOG_GZ})
install(FILES ${BIHUAN_CHANGELOG_GZ} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/bihuan COMPONENT runtime)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bihuan)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Bihuan maintainers <bihuan@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "durable workflow engine with an HTTP/JSON API")
set(CPACK_PACKAGE_DESCRIPTION
    "Bihuan runs state machines written as JSON definitions durably (LMDB storage),\n\
delivers their notifications and tasks through plugins, and serves them over an\n\
HTTP/JSON API with a web console. The package holds the bihuan command, the\n\
engine and server libraries with their headers and CMake package, the bundled\n\
plugins and workflows, and a systemd service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/bihuan")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # the shlibs file of libbihuan_engine/_server
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
# The package's own libraries are found in the staging tree (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_INSTALL_LIBDIR})
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/prerm
    ${PROJECT_SOURCE_DIR}/packaging/postrm ${PROJECT_SOURCE_DIR}/packaging/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/triggers)
# Files outside the prefix (/etc, /lib/systemd) go into the staging tree just before it is
# packed: `cmake --install --prefix DIR` never writes outside DIR.
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/packaging/stage-system-files.cmake)
set(BIHUAN_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(CPACK_BIHUAN_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)
include(CPack)
