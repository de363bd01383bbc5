# packaging/package.cmake — the man pages and the Debian package.
#
#   cmake --build build && (cd build && cpack -G DEB)
#
# gives build/iotlua_<version>_<arch>.deb: /usr/bin/iotlua, /usr/bin/iotlua-emulator,
# the module (/usr/lib/lua/5.4/iotlua.so, the Lua sources in /usr/share/lua/5.4/iotlua)
# and the man pages iotlua(1), iotlua-emulator(1). Depends is computed by dpkg-shlibdeps
# from what the binaries really link (the host links libcurl and OpenSSL statically by
# default, host/static_curl.cmake, so then it needs neither), plus lua-cjson, which the
# module requires at run time on a stock lua5.4 and no ELF dependency shows.

# The man pages, compressed as Debian installs them (gzip -n: no name or time inside,
# so the package is the same from one build to the next).
set(IOTLUA_MAN_PAGES iotlua.1 iotlua-emulator.1)
set(IOTLUA_MAN_OUTPUTS "")
foreach(page IN LISTS IOTLUA_MAN_PAGES)
  set(src ${PROJECT_SOURCE_DIR}/man/${page})
  set(out ${PROJECT_BINARY_DIR}/man/${page}.gz)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND gzip -9nc ${src} > ${out}
    DEPENDS ${src}
    COMMENT "Compressing man/${page}")
  list(APPEND IOTLUA_MAN_OUTPUTS ${out})
endforeach()
add_custom_target(iotlua_man ALL DEPENDS ${IOTLUA_MAN_OUTPUTS})
install(FILES ${IOTLUA_MAN_OUTPUTS} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

set(CPACK_PACKAGE_NAME iotlua)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "iotlua maintainers <iotlua@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Lua-scriptable automation for the AWS IoT Data Plane, with a local emulator")
set(CPACK_PACKAGE_DESCRIPTION
    "iotlua runs Lua 5.4 scripts against AWS IoT Core: the data-plane operations,
SigV4 signing, an MQTT 3.1.1/5 client, tasks, logging and locks. iotlua-emulator
is a local AWS IoT Core (data-plane HTTP API and MQTT broker) for tests.")
set(CPACK_DEBIAN_PACKAGE_SECTION interpreters)
set(CPACK_STRIP_FILES ON)   # the build's debug information stays in the build tree
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "lua-cjson")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
include(CPack)
