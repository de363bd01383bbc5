/*
 * lua_lock.c — iotlua.lock(path): a run's exclusive lock (runtime/lock.h) as a handle
 * that releases it on :release(), on <close>, when collected, or when the process ends.
 *
 * core.lock(path) -> handle | nil, err (code "LockHeld" with holder_pid when another run
 * holds it, "LockError" otherwise).
 */
#include <string.h>

#include "bindings.h"
#include "lock.h"

#define LOCK_MT "iotlua.lock"

struct lock_box {
    int fd;                 /* -1 once released */
};

static int lock_release_l(lua_State *L)
{
    struct lock_box *box = luaL_checkudata(L, 1, LOCK_MT);
    lock_release(box->fd);
    box->fd = -1;
    return 0;
}

static int lock_held(lua_State *L)
{
    struct lock_box *box = luaL_checkudata(L, 1, LOCK_MT);
    lua_pushboolean(L, box->fd >= 0);
    return 1;
}

static void push_failure(lua_State *L, int rc, pid_t holder, const char *message)
{
    lua_pushnil(L);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, rc == -1 ? "LockHeld" : "LockError");
    lua_setfield(L, -2, "code");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    if (holder > 0) {
        lua_pushinteger(L, (lua_Integer)holder);
        lua_setfield(L, -2, "holder_pid");
    }
}

/* core.lock(path) */
static int core_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct lock_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->fd = -1;
    if (luaL_newmetatable(L, LOCK_MT)) {
        static const luaL_Reg methods[] = {
            {"release", lock_release_l}, {"held", lock_held}, {NULL, NULL},
        };
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, lock_release_l);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, lock_release_l);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    char err[LOCK_ERROR_LEN];
    pid_t holder = 0;
    int fd = lock_take(path, &holder, err);
    if (fd < 0) {
        push_failure(L, fd, holder, err);
        return 2;
    }
    box->fd = fd;
    return 1;
}

void iotlua_core_lock(lua_State *L)
{
    static const luaL_Reg fns[] = {{"lock", core_lock}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}
