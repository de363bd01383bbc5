# static_curl.cmake — the host's start-up time: libcurl linked statically.
#
# Debian's libcurl.so needs ~30 further shared libraries (GnuTLS, Kerberos, OpenLDAP, SASL,
# libssh2, librtmp, p11-kit...); mapping and relocating them took ~4 ms of every start of
# the host. With IOTLUA_STATIC_CURL the host links libcurl.a and the archives of the
# libraries iotlua does use (OpenSSL, nghttp2, libpsl, libidn2, libunistring, zstd,
# brotli, zlib), and host/curl_stubs.c in place of the back-ends iotlua never
# reaches (LDAP, RTMP, SCP/SFTP, GSS-API). Only the host: iotlua.so, the emulator and the
# tests keep the shared libraries. When an archive is missing, or the trial link fails
# (another libcurl.a), the host links the shared libcurl as before and says so.
# The price: a security update of Debian's libcurl or OpenSSL reaches the host only when it
# is rebuilt (-DIOTLUA_STATIC_CURL=OFF links the shared libraries).
#
# Sets IOTLUA_HOST_STATIC_LIBS (empty when off) and adds the stubs and -Wl,--as-needed
# to the target iotlua.
option(IOTLUA_STATIC_CURL "Link libcurl and its libraries statically into the host" ON)
set(IOTLUA_HOST_STATIC_LIBS "")

if(IOTLUA_STATIC_CURL)
  # Link order: each archive before the ones it needs.
  set(_iotlua_archives curl nghttp2 psl idn2 unistring ssl crypto zstd brotlidec brotlicommon z)
  set(_iotlua_paths "")
  set(_iotlua_missing "")
  foreach(_lib IN LISTS _iotlua_archives)
    find_library(IOTLUA_STATIC_LIB_${_lib} NAMES lib${_lib}.a)
    if(IOTLUA_STATIC_LIB_${_lib})
      list(APPEND _iotlua_paths ${IOTLUA_STATIC_LIB_${_lib}})
    else()
      list(APPEND _iotlua_missing lib${_lib}.a)
    endif()
  endforeach()
  set(_iotlua_stubs ${CMAKE_CURRENT_SOURCE_DIR}/curl_stubs.c)

  if(_iotlua_missing)
    message(STATUS "iotlua host: shared libcurl (missing ${_iotlua_missing})")
  else()
    set(_iotlua_probe ${CMAKE_CURRENT_BINARY_DIR}/host_static_curl_probe.c)
    file(WRITE ${_iotlua_probe} "#include <curl/curl.h>
int main(void)
{
    CURL *c = curl_easy_init();
    CURLM *m = curl_multi_init();
    const char *v = curl_version();
    curl_multi_cleanup(m);
    curl_easy_cleanup(c);
    return v == 0;
}
")
    try_compile(IOTLUA_HOST_STATIC_CURL_LINKS ${CMAKE_CURRENT_BINARY_DIR}/host_static_curl_probe
                SOURCES ${_iotlua_probe} ${_iotlua_stubs}
                CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${CURL_INCLUDE_DIRS}"
                LINK_LIBRARIES ${_iotlua_paths} ${CMAKE_DL_LIBS} pthread
                OUTPUT_VARIABLE _iotlua_probe_output)
    if(IOTLUA_HOST_STATIC_CURL_LINKS)
      message(STATUS "iotlua host: static libcurl")
      set(IOTLUA_HOST_STATIC_LIBS ${_iotlua_paths} ${CMAKE_DL_LIBS} pthread)
      target_sources(iotlua PRIVATE ${_iotlua_stubs})
      # The shared libcurl/OpenSSL that iotlua_runtime names come after the archives on
      # the link line; --as-needed keeps them out of the host's dependencies.
      target_link_options(iotlua PRIVATE -Wl,--as-needed)
    else()
      message(STATUS "iotlua host: shared libcurl (the static link failed; see "
                     "CMakeFiles/CMakeConfigureLog.yaml)")
    endif()
  endif()
endif()
