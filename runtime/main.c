/* Placeholder host until the real one lands: runs one script. */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    int rc = argc > 1 ? luaL_dofile(L, argv[1]) : 0;
    if (rc != 0)
        fprintf(stderr, "iotlua: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return rc ? 1 : 0;
}
