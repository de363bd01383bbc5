# check_layers.cmake — the layering rules of the tree, checked on every build:
#   cmake -DROOT=<source tree> [-DSTAMP=<file>] -P check_layers.cmake
#
#   runtime/   the C core: no Lua header, nothing of bindings/, host/ or emulator/
#              (runtime/mqtt_codec/ included: the codec the broker and a client share)
#   bindings/  the Lua face of the runtime: nothing of host/ or emulator/
#   host/      the iotlua program: nothing of emulator/
#   emulator/  no Lua header, nothing of bindings/ or host/
# So runtime <- bindings <- host, and runtime <- emulator. A header counts as another
# layer's when its file name is one of that layer's headers and not one of the including
# layer's own, or when the include path names that layer's folder. Every violation is
# listed as file:line; the check fails when there is one.
cmake_minimum_required(VERSION 3.25)
if(NOT ROOT)
  message(FATAL_ERROR "check_layers: pass -DROOT=<source tree>")
endif()
get_filename_component(ROOT ${ROOT} ABSOLUTE)

set(_layers runtime bindings host emulator)
set(_lua_headers lua.h lauxlib.h lualib.h luaconf.h lua.hpp)
set(_forbidden_runtime bindings host emulator)
set(_forbidden_bindings host emulator)
set(_forbidden_host emulator)
set(_forbidden_emulator bindings host)
set(_lua_free runtime emulator)

foreach(layer IN LISTS _layers)
  file(GLOB_RECURSE _headers ${ROOT}/${layer}/*.h)
  set(_names_${layer} "")
  foreach(h IN LISTS _headers)
    get_filename_component(n ${h} NAME)
    list(APPEND _names_${layer} ${n})
  endforeach()
endforeach()

set(_violations "")
foreach(layer IN LISTS _layers)
  file(GLOB_RECURSE _files ${ROOT}/${layer}/*.c ${ROOT}/${layer}/*.h)
  foreach(f IN LISTS _files)
    file(STRINGS ${f} _lines)
    set(_lineno 0)
    foreach(line IN LISTS _lines)
      math(EXPR _lineno "${_lineno} + 1")
      if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
        continue()
      endif()
      set(inc ${CMAKE_MATCH_1})
      get_filename_component(inc_name ${inc} NAME)
      file(RELATIVE_PATH rel ${ROOT} ${f})
      if(layer IN_LIST _lua_free AND inc_name IN_LIST _lua_headers)
        list(APPEND _violations "${rel}:${_lineno}: ${layer}/ includes the Lua header ${inc}")
        continue()
      endif()
      foreach(other IN LISTS _forbidden_${layer})
        if(inc MATCHES "(^|/)${other}/" OR
           (inc_name IN_LIST _names_${other} AND NOT inc_name IN_LIST _names_${layer}))
          list(APPEND _violations "${rel}:${_lineno}: ${layer}/ includes ${inc} of ${other}/")
        endif()
      endforeach()
    endforeach()
  endforeach()
endforeach()

if(_violations)
  list(JOIN _violations "\n  " _text)
  message(FATAL_ERROR "check_layers: the layering rules are broken:\n  ${_text}")
endif()
if(STAMP)
  file(TOUCH ${STAMP})
endif()
