/*
 * lua_aws_request.c — iotlua.aws_request's C face (the Lua half is iotlua/aws_request.lua).
 *
 * core.aws_request(client, request, timeout) checks the request table field by field,
 * starts it as a call of the client (runtime/aws_request.h) and returns its request
 * handle, which the scheduler waits on as on a data-plane call's (tasks.await): inside a
 * task only that task waits. Misuse raises "bad argument #1 to 'aws_request' (...)",
 * naming the field. core.aws_result(req) gives the outcome as Lua values and frees it.
 * Every string of the request lives in the request table or in userdata until the
 * runtime has copied it; nothing here holds C memory across a call that can raise.
 */
#include <math.h>
#include <string.h>

#include "aws_request.h"
#include "bindings.h"
#include "client.h"

#define FN "aws_request"

/* The request table at idx into r (the strings stay anchored in it; the headers array
 * is pushed as a userdata). Raises naming the field at fault. [-0, +1] */
static void read_request(lua_State *L, int idx, struct aws_request *r)
{
    r->service = iotlua_field_string(L, idx, "service", 1, NULL, FN);
    r->method = iotlua_field_string(L, idx, "method", 1, NULL, FN);
    r->url = iotlua_field_string(L, idx, "url", 1, NULL, FN);
    r->region = iotlua_field_string(L, idx, "region", 0, NULL, FN);
    r->body = iotlua_field_string(L, idx, "body", 0, &r->body_len, FN);
    int t = lua_getfield(L, idx, "headers");
    if (t != LUA_TNIL && t != LUA_TTABLE)
        luaL_error(L, "bad argument #1 to '%s' (field 'headers' must be a table of names "
                      "to strings, got %s)", FN, luaL_typename(L, -1));
    struct sigv4_header *headers = NULL;
    if (t == LUA_TTABLE)
        r->nheaders = iotlua_collect_headers(L, lua_gettop(L), &headers, FN);
    else
        lua_pushnil(L);
    lua_remove(L, -2);                  /* the headers table stays anchored in idx */
    r->headers = headers;
}

/* core.aws_request(client, request, timeout_seconds | nil) -> request handle */
static int core_aws_request(lua_State *L)
{
    struct iot_client *client = iotlua_client_of(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 3);
    struct aws_request r;
    memset(&r, 0, sizeof r);
    if (!lua_isnil(L, 3))
        r.timeout_ms = (long)ceil(luaL_checknumber(L, 3) * 1000.0);
    read_request(L, 2, &r);                                         /* 4: headers array */
    if (client == NULL)
        return luaL_error(L, "bad argument #1 to '%s' (field 'client': the client is closed)",
                          FN);
    iotlua_push_request(L, NULL);                                   /* 5: the handle */
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 5, 1);         /* the handle keeps the client alive */
    void *slot = iotlua_anchor_call(L, 5);
    char msg[512];
    uint64_t id = 0;
    if (aws_request_start(client, &r, slot, &id, msg, sizeof msg) != 0) {
        iotlua_unanchor_call(L, slot);
        return luaL_error(L, "bad argument #1 to '%s' (%s)", FN, msg);
    }
    iotlua_request_set_id(L, 5, id);
    lua_pushvalue(L, 5);
    return 1;
}

/* Pushes { status, headers, body, request_id, attempts } of a success. [-0, +1] */
static void push_answer(lua_State *L, const struct iot_result *r)
{
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    iotlua_push_headers(L, r);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
    lua_setfield(L, -2, "body");
    if (r->request_id && r->request_id[0]) {
        lua_pushstring(L, r->request_id);
        lua_setfield(L, -2, "request_id");
    }
    lua_pushinteger(L, r->attempts);
    lua_setfield(L, -2, "attempts");
}

/* core.aws_result(req) -> answer | nil, error fields (with the answer's headers and body
 * when one came). The result is freed; a second call raises. */
static int core_aws_result(lua_State *L)
{
    const struct iot_result *r = iotlua_request_result(L, 1);
    int nret = 1;
    if (r->ok) {
        push_answer(L, r);
    } else {
        lua_pushnil(L);
        iotlua_push_error(L, &r->error);
        if (r->status > 0) {
            iotlua_push_headers(L, r);
            lua_setfield(L, -2, "headers");
            lua_pushlstring(L, r->body ? r->body : "", r->body ? r->body_len : 0);
            lua_setfield(L, -2, "body");
        }
        nret = 2;
    }
    iotlua_request_free_result(L, 1);
    return nret;
}

void iotlua_core_aws_request(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"aws_request", core_aws_request},
        {"aws_result", core_aws_result},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
