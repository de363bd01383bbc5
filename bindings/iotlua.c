/*
 * iotlua.c — luaopen_iotlua: the entry point of the module.
 *
 * Registers every embedded Lua source (lua_sources.h) under package.preload, stores
 * the table of C functions as package.loaded["iotlua.core"], then returns what the Lua
 * module "iotlua.api" returns: the public module table.
 */
#include <string.h>

#include "bindings.h"
#include "lua_sources.h"

void *iotlua_push_gc_box(lua_State *L, size_t size, const char *mt, lua_CFunction gc)
{
    void *box = lua_newuserdatauv(L, size, 0);
    memset(box, 0, size);
    if (luaL_newmetatable(L, mt)) {
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}

/* The metatable registered under the name tname, also kept at registry[key] (a static
 * address: looked up by pointer, no string hashing). Creates it on first use; returns 1
 * when it was just created (fill it in). [-0, +1] */
int iotlua_push_metatable(lua_State *L, const void *key, const char *tname)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE)
        return 0;
    lua_pop(L, 1);
    int fresh = luaL_newmetatable(L, tname);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
    return fresh;
}

/* The userdata at idx when its metatable is the one kept at registry[key], else NULL:
 * luaL_testudata without looking the metatable up by name. [-0, +0] */
void *iotlua_test_box(lua_State *L, int idx, const void *key)
{
    void *p = lua_touserdata(L, idx);
    if (p == NULL || !lua_getmetatable(L, idx))
        return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}

/* package.preload loader: upvalue 1 is the index of the source. [-0, +1] */
static int load_embedded(lua_State *L)
{
    const struct iotlua_lua_module *m = &iotlua_lua_modules[lua_tointeger(L, lua_upvalueindex(1))];
    const char *name = luaL_checkstring(L, 1);
    if (luaL_loadbuffer(L, m->source, m->len, m->chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, name);
    lua_pushstring(L, m->chunkname + 1);
    lua_call(L, 2, 1);
    return 1;
}

/* Registers the embedded sources; an entry already preloaded is left alone. [-0, +0] */
static void register_preloads(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (lua_Integer i = 0; iotlua_lua_modules[i].name; i++) {
        if (lua_getfield(L, -1, iotlua_lua_modules[i].name) == LUA_TNIL) {
            lua_pushinteger(L, i);
            lua_pushcclosure(L, load_embedded, 1);
            lua_setfield(L, -3, iotlua_lua_modules[i].name);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Builds package.loaded["iotlua.core"]. [-0, +0] */
static void register_core(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_newtable(L);
    lua_pushliteral(L, IOTLUA_VERSION);
    lua_setfield(L, -2, "version");
    iotlua_core_loop(L);
    iotlua_core_request(L);
    iotlua_core_sigv4(L);
    iotlua_core_client(L);
    iotlua_core_mqtt(L);
    iotlua_core_credentials(L);
    iotlua_core_lock(L);
    iotlua_core_aws_request(L);
    lua_setfield(L, -2, "iotlua.core");
    lua_pop(L, 1);
}

int luaopen_iotlua(lua_State *L)
{
    register_preloads(L);
    register_core(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "iotlua.api");
    lua_call(L, 1, 1);
    return 1;
}
