/*
 * lua_credentials.c — a client's resolved credentials for Lua (iot:credentials(), and
 * through it iotlua.sigv4.sign{ credentials = iot }): the same chain and cache its calls
 * sign with.
 *
 * core.client_credentials(client[, wait]) answers at once with the credentials table,
 * or nil, err; or, when the credentials are being fetched over the network, false and a
 * wait handle that core.credentials_woken(wait) reports on. The Lua half (client.lua)
 * lets the loop run until then and asks again. The handle keeps the client alive while
 * it waits and lets go of the cache's list when collected.
 */
#include <string.h>
#include <time.h>

#include "bindings.h"
#include "credentials/cache.h"

#define WAIT_MT "iotlua.credentials_wait"

struct wait_box {
    struct iot_credentials_wait w;
    int woken, ok;
    char message[CRED_ERROR_LEN];
};

static void wait_woken(struct iot_engine *engine, struct iot_credentials_wait *w, int ok,
                       const char *message)
{
    (void)engine;
    struct wait_box *box = (struct wait_box *)w;
    box->woken = 1;
    box->ok = ok;
    snprintf(box->message, sizeof box->message, "%s", message ? message : "");
}

static int wait_gc(lua_State *L)
{
    struct wait_box *box = luaL_checkudata(L, 1, WAIT_MT);
    cred_cache_forget(box->w.holder, &box->w);
    return 0;
}

static void push_error(lua_State *L, const char *message)
{
    struct iot_error e;
    memset(&e, 0, sizeof e);
    iot_error_set(&e, "CredentialsError", "%s", message);
    lua_pushnil(L);
    iotlua_push_error(L, &e);
}

static void push_credentials(lua_State *L, const struct cred_credentials *c)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, c->access_key_id);
    lua_setfield(L, -2, "access_key_id");
    lua_pushstring(L, c->secret_access_key);
    lua_setfield(L, -2, "secret_access_key");
    if (c->session_token) {
        lua_pushstring(L, c->session_token);
        lua_setfield(L, -2, "session_token");
    }
    if (c->expiration) {
        lua_pushinteger(L, (lua_Integer)c->expiration);
        lua_setfield(L, -2, "expiration");
    }
    lua_pushstring(L, c->source);
    lua_setfield(L, -2, "source");
}

/* core.client_credentials(client[, wait]) -> table | nil, err | false, wait */
static int core_client_credentials(lua_State *L)
{
    struct cred_cache *cache = iotlua_client_credentials(L, 1);
    if (!cache)
        return luaL_typeerror(L, 1, "iotlua client");
    struct wait_box *box = lua_isnoneornil(L, 2) ? NULL : luaL_checkudata(L, 2, WAIT_MT);
    if (box && box->woken && !box->ok) {
        push_error(L, box->message);
        return 2;
    }
    struct iot_engine *engine = iotlua_push_engine(L);
    lua_pop(L, 1);
    if (!box) {
        box = lua_newuserdatauv(L, sizeof *box, 1);
        memset(box, 0, sizeof *box);
        if (luaL_newmetatable(L, WAIT_MT)) {
            lua_pushcfunction(L, wait_gc);
            lua_setfield(L, -2, "__gc");
        }
        lua_setmetatable(L, -2);
        lua_pushvalue(L, 1);
        lua_setiuservalue(L, -2, 1);        /* the wait keeps its client (and cache) alive */
    } else {
        lua_pushvalue(L, 2);
    }
    box->woken = 0;
    box->w.wake = wait_woken;
    struct cred_credentials c;
    char msg[CRED_ERROR_LEN];
    int rc = cred_cache_acquire(cache, engine, time(NULL), &c, msg, &box->w);
    if (rc == 1) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pop(L, 1);
    if (rc != 0) {
        push_error(L, msg);
        return 2;
    }
    push_credentials(L, &c);
    cred_credentials_free(&c);
    return 1;
}

/* core.credentials_woken(wait) -> true once the fetch it waits for has ended */
static int core_credentials_woken(lua_State *L)
{
    struct wait_box *box = luaL_checkudata(L, 1, WAIT_MT);
    lua_pushboolean(L, box->woken);
    return 1;
}

void iotlua_core_credentials(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"client_credentials", core_client_credentials},
        {"credentials_woken", core_credentials_woken},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
