/*
 * request.c — request handles: one per call in flight, and its result as Lua values.
 *
 * A request handle is a userdata ("iotlua.request") that owns the parameters of its call
 * while core.call fills them (until iot_call_start takes them over) and the iot_result
 * once core.poll delivers it; its user values keep the client and the payload file alive
 * while the call runs. core.result(req) turns the result into the Lua values of the API
 * contract (a table with the model's member names and ResponseMetadata, or nil and an
 * error table) and frees it. Nothing here holds C memory that Lua does not own.
 */
#include <string.h>

#include "bindings.h"
#include "buf.h"
#include "client.h"

#define REQUEST_MT "iotlua.request"

static const char request_mt_key = 'r';    /* registry[&request_mt_key]: the metatable */

struct request_box {
    uint64_t id;
    struct iot_params *params;  /* owned while being filled; NULL once the call started */
    struct iot_result *result;  /* owned; NULL until completed and after core.result */
    int completed;
};

/* The request handle at idx; raises the usual "bad argument" error for anything else. */
static struct request_box *check_request(lua_State *L, int idx)
{
    struct request_box *box = iotlua_test_box(L, idx, &request_mt_key);
    return box ? box : luaL_checkudata(L, idx, REQUEST_MT);
}

static int request_gc(lua_State *L)
{
    struct request_box *box = check_request(L, 1);
    iot_params_free(box->params);
    box->params = NULL;
    iot_result_free(box->result);
    box->result = NULL;
    return 0;
}

static int request_tostring(lua_State *L)
{
    struct request_box *box = check_request(L, 1);
    lua_pushfstring(L, "iotlua request %I (%s)", (lua_Integer)box->id,
                    box->completed ? "completed" : "in flight");
    return 1;
}

/* Pushes a new request handle with no call yet, owning fresh parameters for op (raises
 * when memory runs out; none for op NULL, a call built otherwise: iotlua.aws_request);
 * user values: client, payload file. Returns the parameters. */
struct iot_params *iotlua_push_request(lua_State *L, const struct iot_op *op)
{
    struct request_box *box = lua_newuserdatauv(L, sizeof *box, 2);
    box->id = 0;
    box->params = NULL;
    box->result = NULL;
    box->completed = 0;
    if (iotlua_push_metatable(L, &request_mt_key, REQUEST_MT)) {
        lua_pushcfunction(L, request_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, request_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    if (op == NULL)
        return NULL;
    box->params = iot_params_new(op);
    if (box->params == NULL)
        luaL_error(L, "not enough memory");
    return box->params;
}

/* The request at idx hands its parameters over (to iot_call_start); it owns none after. */
void iotlua_request_release_params(lua_State *L, int idx)
{
    struct request_box *box = lua_touserdata(L, idx);
    box->params = NULL;
}

/* The request at idx (made by iotlua_push_request) started as call `id`. */
void iotlua_request_set_id(lua_State *L, int idx, uint64_t id)
{
    struct request_box *box = lua_touserdata(L, idx);
    box->id = id;
}

/* Hands `result` to the request handle at idx; 0 (nothing taken) if idx is not one. */
int iotlua_request_complete(lua_State *L, int idx, struct iot_result *result)
{
    struct request_box *box = iotlua_test_box(L, idx, &request_mt_key);
    if (box == NULL || box->completed)
        return 0;
    box->result = result;
    box->completed = 1;
    return 1;
}

/* ---------------------------------------------------------------- result → Lua */

static void push_out(lua_State *L, const struct iot_out *o)
{
    luaL_checkstack(L, 3, "result too deeply nested");
    switch (o->kind) {
    case IOT_OUT_STRING: lua_pushlstring(L, o->str ? o->str : "", o->len); break;
    case IOT_OUT_INTEGER: lua_pushinteger(L, (lua_Integer)o->i); break;
    case IOT_OUT_NUMBER: lua_pushnumber(L, o->d); break;
    case IOT_OUT_BOOLEAN: lua_pushboolean(L, o->b); break;
    case IOT_OUT_LIST:
        lua_createtable(L, (int)o->n, 0);
        for (size_t i = 0; i < o->n; i++) {
            push_out(L, &o->items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    case IOT_OUT_MAP:
        lua_createtable(L, 0, (int)o->n);
        for (size_t i = 0; i < o->n; i++) {
            if (o->items[i].key == NULL || o->items[i].kind == IOT_OUT_NULL)
                continue;
            push_out(L, &o->items[i]);
            lua_setfield(L, -2, o->items[i].key);
        }
        break;
    case IOT_OUT_NULL:
    default: lua_pushnil(L); break;
    }
}

/* Pushes the result table: the output members, with room for ResponseMetadata. */
static void push_output(lua_State *L, const struct iot_out *o)
{
    if (o == NULL || o->kind != IOT_OUT_MAP) {
        lua_createtable(L, 0, 1);
        return;
    }
    lua_createtable(L, 0, (int)o->n + 1);
    for (size_t i = 0; i < o->n; i++) {
        if (o->items[i].key == NULL || o->items[i].kind == IOT_OUT_NULL)
            continue;
        push_out(L, &o->items[i]);
        lua_setfield(L, -2, o->items[i].key);
    }
}

static void set_string(lua_State *L, const char *field, const char *value)
{
    if (value && *value) {
        lua_pushstring(L, value);
        lua_setfield(L, -2, field);
    }
}

/* Pushes the table of the result's headers, lower-case name -> value. [-0, +1] */
void iotlua_push_headers(lua_State *L, const struct iot_result *r)
{
    /* lua_pushlstring and lua_rawset: names and values live in the result, at new
     * addresses each time, so lua_pushstring's and lua_setfield's cache of strings by
     * address would only cost a strcmp per string. */
    lua_createtable(L, 0, (int)r->nheaders);
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *value = r->headers[i].value ? r->headers[i].value : "";
        lua_pushlstring(L, r->headers[i].name, strlen(r->headers[i].name));
        lua_pushlstring(L, value, strlen(value));
        lua_rawset(L, -3);
    }
}

/* Pushes ResponseMetadata = { RequestId, HTTPStatusCode, HTTPHeaders, RetryAttempts }. */
static void push_metadata(lua_State *L, const struct iot_result *r)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, r->request_id ? r->request_id : "");
    lua_setfield(L, -2, "RequestId");
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "HTTPStatusCode");
    iotlua_push_headers(L, r);
    lua_setfield(L, -2, "HTTPHeaders");
    lua_pushinteger(L, r->attempts > 0 ? r->attempts - 1 : 0);
    lua_setfield(L, -2, "RetryAttempts");
}

/* Pushes the error fields of the contract as a plain table (iotlua.errors adds the
 * metatable). [-0, +1] */
void iotlua_push_error(lua_State *L, const struct iot_error *e)
{
    lua_createtable(L, 0, 8);
    lua_pushstring(L, e->code[0] ? e->code : "UnknownError");
    lua_setfield(L, -2, "code");
    lua_pushstring(L, e->message);
    lua_setfield(L, -2, "message");
    if (e->status > 0) {
        lua_pushinteger(L, e->status);
        lua_setfield(L, -2, "status");
    }
    set_string(L, "request_id", e->request_id);
    set_string(L, "operation", e->operation);
    lua_pushboolean(L, e->retryable);
    lua_setfield(L, -2, "retryable");
    lua_pushinteger(L, e->attempts);
    lua_setfield(L, -2, "attempts");
}

/* The result of the completed request handle at idx, still owned by the handle until
 * iotlua_request_free_result; raises when it has not completed or was taken already. */
const struct iot_result *iotlua_request_result(lua_State *L, int idx)
{
    struct request_box *box = check_request(L, idx);
    if (!box->completed)
        luaL_error(L, "request %I has not completed", (lua_Integer)box->id);
    if (box->result == NULL)
        luaL_error(L, "the result of request %I was already taken", (lua_Integer)box->id);
    return box->result;
}

void iotlua_request_free_result(lua_State *L, int idx)
{
    struct request_box *box = check_request(L, idx);
    iot_result_free(box->result);
    box->result = NULL;
}

/*
 * core.result(req) -> result table | nil, error fields. The request's result is freed;
 * a second call raises.
 */
static int core_result(lua_State *L)
{
    const struct iot_result *r = iotlua_request_result(L, 1);
    int nret = r->ok ? 1 : 2;
    if (!r->ok) {
        lua_pushnil(L);
        iotlua_push_error(L, &r->error);
    } else {
        push_output(L, r->output);
        push_metadata(L, r);
        lua_setfield(L, -2, "ResponseMetadata");
    }
    iotlua_request_free_result(L, 1);
    return nret;
}

/* core.done(req) -> true once the request's event was delivered by core.poll. */
static int core_done(lua_State *L)
{
    struct request_box *box = check_request(L, 1);
    lua_pushboolean(L, box->completed);
    return 1;
}

/* An error line's buffer, freed by __gc also when pushing the line raises. */
struct line_box {
    struct buf line;
};

static int line_box_gc(lua_State *L)
{
    struct line_box *box = lua_touserdata(L, 1);
    buf_free(&box->line);
    return 0;
}

/* Pushes tostring(t[name]), or nothing and returns NULL when it is nil. [-0, +(0|1)] */
static const char *field_text(lua_State *L, int t, const char *name, size_t *len_out)
{
    int type = lua_getfield(L, t, name);
    lua_pop(L, 1);
    if (type == LUA_TNIL)
        return NULL;
    lua_getfield(L, t, name);
    const char *s = luaL_tolstring(L, -1, len_out);
    lua_remove(L, -2);
    return s;
}

static long field_integer(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    long v = lua_isnumber(L, -1) ? (long)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    return v;
}

/* core.error_line(err) -> the one readable line of an error table (iot_error_line), as
 * tostring(err) shows it. */
static int core_error_line(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct iot_error_parts parts = {0};
    size_t ignored;
    parts.code = field_text(L, 1, "code", &ignored);
    parts.message = field_text(L, 1, "message", &parts.message_len);
    parts.operation = field_text(L, 1, "operation", &ignored);
    parts.request_id = field_text(L, 1, "request_id", &ignored);
    parts.status = field_integer(L, 1, "status");
    parts.attempts = field_integer(L, 1, "attempts");
    struct line_box *box = iotlua_push_gc_box(L, sizeof *box, "iotlua.error_line", line_box_gc);
    if (iot_error_line(&box->line, &parts) != 0)
        return luaL_error(L, "not enough memory");
    lua_pushlstring(L, box->line.data ? box->line.data : "", box->line.len);
    buf_free(&box->line);
    return 1;
}

void iotlua_core_request(lua_State *L)
{
    lua_pushcfunction(L, core_result);
    lua_setfield(L, -2, "result");
    lua_pushcfunction(L, core_error_line);
    lua_setfield(L, -2, "error_line");
    lua_pushcfunction(L, core_done);
    lua_setfield(L, -2, "done");
}
