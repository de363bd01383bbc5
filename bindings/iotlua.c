/* Placeholder until the module lands: luaopen_iotlua returns an empty table. */
#include <lua.h>
#include <lauxlib.h>

int luaopen_iotlua(lua_State *L);

int luaopen_iotlua(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
