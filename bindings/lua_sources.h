/*
 * lua_sources.h — the Lua parts of the module, embedded at build time.
 *
 * bindings/embed_lua.cmake generates the table from bindings/lua/iotlua/<name>.lua; luaopen_iotlua
 * registers each entry under package.preload, so the module needs no files at run time.
 */
#ifndef IOTLUA_LUA_SOURCES_H
#define IOTLUA_LUA_SOURCES_H

#include <stddef.h>

struct iotlua_lua_module {
    const char *name;       /* module name, e.g. "iotlua.tasks"; NULL ends the table */
    const char *chunkname;  /* "@iotlua/tasks.lua", for error messages and tracebacks */
    const char *source;
    size_t len;
};

extern const struct iotlua_lua_module iotlua_lua_modules[];

#endif
