-- LuaRocks: the iotlua module (iotlua.so, with its Lua parts embedded, and those Lua
-- sources) for a stock Lua 5.4, built by the project's CMake with -DIOTLUA_MODULE_ONLY=ON.
--   luarocks --lua-version 5.4 make            (from a clone; --tree DIR, --local as usual)
-- Needs the Debian packages of scripts/bootstrap's build list (liblua5.4-dev,
-- lua-cjson-dev, libcurl4-openssl-dev, libssl-dev, libevent-dev, cmake, pkg-config).
-- CMAKE_BUILD_PARALLEL_LEVEL=N builds with N jobs.
rockspec_format = "3.0"
package = "iotlua"
version = "dev-1"
-- `luarocks make` builds the clone it runs in; source.url is not read then (no public
-- address is published yet).
source = {
  url = "file://.",
}
description = {
  summary = "Lua-scriptable automation for the AWS IoT Data Plane",
  detailed = [[
The AWS IoT Data Plane operations (publish, send_direct_message, get_connection,
list_subscriptions, shadows, retained messages) as Lua functions, with a native SigV4
signer, an MQTT 3.1.1/5 client, tasks on one event loop, logging and run locks.]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    IOTLUA_MODULE_ONLY = "ON",
    IOTLUA_LUA_CMOD_DIR = "$(LIBDIR)",
    IOTLUA_LUA_LMOD_DIR = "$(LUADIR)",
  },
}
