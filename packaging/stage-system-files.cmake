# CPACK_PRE_BUILD_SCRIPTS (cmake/BihuanPackage.cmake): the files a Debian package puts
# outside /usr, copied into CPack's staging tree before it is packed. (file(COPY), not
# file(INSTALL): CPack sets DESTDIR, which file(INSTALL) would add again.)
set(stage ${CPACK_TEMPORARY_INSTALL_DIRECTORY})
set(perms FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(COPY ${CPACK_BIHUAN_PACKAGING_DIR}/bihuan.service DESTINATION ${stage}/lib/systemd/system ${perms})
file(COPY ${CPACK_BIHUAN_PACKAGING_DIR}/bihuan.json DESTINATION ${stage}/etc/bihuan ${perms})
file(COPY ${CPACK_BIHUAN_PACKAGING_DIR}/lintian-overrides DESTINATION ${stage}/usr/share/lintian/overrides ${perms})
file(RENAME ${stage}/usr/share/lintian/overrides/lintian-overrides ${stage}/usr/share/lintian/overrides/bihuan)
# CPACK_STRIP_FILES strips the executable and shared libraries, not the static ones: their
# debug information (about 350 MB) is left out of the package too.
file(GLOB archives ${stage}/usr/lib/*.a)
foreach(a IN LISTS archives)
  execute_process(COMMAND strip --strip-debug ${a} COMMAND_ERROR_IS_FATAL ANY)
endforeach()
