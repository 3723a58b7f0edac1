# CPACK_PRE_BUILD_SCRIPTS (cmake/BihuanPackage.cmake): the files a Debian package puts
# outside /usr, copied into CPack's staging tree before it is packed.
set(stage ${CPACK_TEMPORARY_INSTALL_DIRECTORY})
file(INSTALL ${CPACK_BIHUAN_PACKAGING_DIR}/bihuan.service DESTINATION ${stage}/lib/systemd/system
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL ${CPACK_BIHUAN_PACKAGING_DIR}/bihuan.json DESTINATION ${stage}/etc/bihuan
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
