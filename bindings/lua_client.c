/*
 * lua_client.c — client handles ("iotlua.client") and the generic call of an operation.
 *
 * core.client_new(opts) resolves the configuration (config.h: region, endpoint,
 * profile, credentials chain) and creates an iot_client on the state's engine. It
 * returns the handle, or nil and an error table (ConfigError, CredentialsError) when the
 * configuration cannot be resolved. The options were type-checked by iotlua/client.lua.
 *
 * core.call(client, operation, params, json_names) fills an iot_params from the Lua
 * table member by member, starts the call and returns a request handle; misuse (as
 * reported by the validator) comes back as nil, message for the Lua wrapper to raise at
 * the caller's level. No operation is known here by name: the methods are generated in
 * Lua from core.operations().
 *
 * Ownership: every C allocation lives in a userdata box whose __gc frees it (the client
 * box owns the iot_client, the credentials provider and the cached credentials; a params
 * box owns an iot_params until iot_call_start takes it), so a Lua error never leaks. A
 * client box stays alive while its calls are in flight (the request handles refer to
 * it), because the credentials callback reads from it; close() only drops the iot_client.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bindings.h"
#include "client.h"
#include "config.h"
#include "credentials/cache.h"
#include "credentials/chain.h"

#define CLIENT_MT "iotlua.client"

static const char methods_key = 'm';
static const char client_mt_key = 'c';     /* registry[&client_mt_key]: the metatable */

struct client_box {
    struct iot_client *client;        /* NULL once closed */
    struct cred_cache *credentials;   /* freed by __gc only (in-flight retries use it) */
};

/* ---------------------------------------------------------------- the environment used for resolution */

/*
 * The _env option (tests): a table of strings used instead of the process environment.
 * Snapshot into an array of pointers to the table's strings (anchored: the table stays
 * on the stack while resolution runs), so the lookups made from config.c never call Lua.
 */
struct env_var {
    const char *name;
    const char *value;
};

struct table_env {
    struct env_var *vars;
    size_t n;
};

static const char *table_getenv(void *ud, const char *name)
{
    const struct table_env *te = ud;
    for (size_t i = 0; i < te->n; i++)
        if (strcmp(te->vars[i].name, name) == 0)
            return te->vars[i].value;
    return NULL;
}

/* Snapshots the table at idx (string keys and values only; iotlua/client.lua checked it)
 * into a userdata pushed on the stack. */
static void snapshot_env(lua_State *L, int idx, struct table_env *te_out)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        n++;
        lua_pop(L, 1);
    }
    te_out->vars = lua_newuserdatauv(L, (n ? n : 1) * sizeof *te_out->vars, 0);
    te_out->n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING && te_out->n < n) {
            te_out->vars[te_out->n].name = lua_tostring(L, -2);
            te_out->vars[te_out->n].value = lua_tostring(L, -1);
            te_out->n++;
        }
        lua_pop(L, 1);
    }
}

/* ---------------------------------------------------------------- client handles */

/* Copies text into a fixed buffer, truncating. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static struct client_box *check_client(lua_State *L, int idx)
{
    struct client_box *box = iotlua_test_box(L, idx, &client_mt_key);
    return box ? box : luaL_checkudata(L, idx, CLIENT_MT);
}

static int client_close(lua_State *L)
{
    struct client_box *box = check_client(L, 1);
    iot_client_free(box->client);
    box->client = NULL;
    return 0;
}

static int client_gc(lua_State *L)
{
    struct client_box *box = check_client(L, 1);
    iot_client_free(box->client);
    box->client = NULL;
    cred_cache_free(box->credentials);
    box->credentials = NULL;
    return 0;
}

struct iot_client *iotlua_client_of(lua_State *L, int idx)
{
    return check_client(L, idx)->client;
}

struct cred_cache *iotlua_client_credentials(lua_State *L, int idx)
{
    struct client_box *box = iotlua_test_box(L, idx, &client_mt_key);
    return box ? box->credentials : NULL;
}

/* __index: the methods (registry table), then the fields kept in the user value. */
static int client_index(lua_State *L)
{
    check_client(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &methods_key);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL)
        return 1;
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int client_tostring(lua_State *L)
{
    struct client_box *box = check_client(L, 1);
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "region");
    lua_getfield(L, -2, "endpoint");
    lua_pushfstring(L, "iotlua client (%s, %s%s)", luaL_optstring(L, -2, "?"),
                    luaL_optstring(L, -1, "?"), box->client ? "" : ", closed");
    return 1;
}

/* Pushes a new client handle in the closed state (nothing to free yet). */
static struct client_box *push_client(lua_State *L)
{
    struct client_box *box = lua_newuserdatauv(L, sizeof *box, 2);
    memset(box, 0, sizeof *box);
    if (iotlua_push_metatable(L, &client_mt_key, CLIENT_MT)) {
        static const luaL_Reg mt[] = {
            {"__gc", client_gc},       {"__close", client_close}, {"__index", client_index},
            {"__tostring", client_tostring}, {NULL, NULL},
        };
        luaL_setfuncs(L, mt, 0);
        lua_pushliteral(L, "iotlua.client");
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
    return box;
}

/* ---------------------------------------------------------------- reading options */

/* The string field of the table at idx, or NULL (anchored in the table). */
static const char *opt_string(lua_State *L, int idx, const char *field)
{
    const char *s = NULL;
    lua_getfield(L, idx, field);
    if (lua_type(L, -1) == LUA_TSTRING)
        s = lua_tostring(L, -1);
    lua_pop(L, 1);
    return s;
}

/* Boolean field: -1 unset, 0, 1. */
static int opt_bool(lua_State *L, int idx, const char *field)
{
    lua_getfield(L, idx, field);
    int v = lua_isboolean(L, -1) ? lua_toboolean(L, -1) : -1;
    lua_pop(L, 1);
    return v;
}

/* Number field, or dflt. */
static double opt_number(lua_State *L, int idx, const char *field, double dflt)
{
    lua_getfield(L, idx, field);
    double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

static void fill_explicit(lua_State *L, int opts, struct cfg_explicit *ex)
{
    ex->profile = opt_string(L, opts, "profile");
    ex->region = opt_string(L, opts, "region");
    ex->endpoint = opt_string(L, opts, "endpoint");
    ex->retry_mode = opt_string(L, opts, "retry_mode");
    ex->ca_bundle = opt_string(L, opts, "ca_bundle");
    ex->max_attempts = (int)opt_number(L, opts, "max_attempts", -1);
    ex->use_fips_endpoint = opt_bool(L, opts, "use_fips_endpoint");
    ex->use_dualstack_endpoint = opt_bool(L, opts, "use_dualstack_endpoint");
    ex->mfa_code = opt_string(L, opts, "_mfa_code");
    if (lua_getfield(L, opts, "credentials") == LUA_TTABLE) {
        ex->access_key_id = opt_string(L, -1, "access_key_id");
        ex->secret_access_key = opt_string(L, -1, "secret_access_key");
        ex->session_token = opt_string(L, -1, "session_token");
    }
    lua_pop(L, 1);  /* the credentials table stays anchored in opts */
}

/* Pushes nil and an error table with `code` and `message` (not truncated: a missing
 * credential's message lists every place looked at); returns 2. */
static int push_failure(lua_State *L, const char *code, const char *message)
{
    lua_pushnil(L);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "retryable");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "attempts");
    return 2;
}

static long seconds_to_ms(double s)
{
    return s > 0 ? (long)ceil(s * 1000.0) : 0;
}

/* The resolved settings of a client, kept as readable fields. [-0, +1] */
static void push_fields(lua_State *L, const struct cfg_resolved *r, const char *creds_source)
{
    lua_createtable(L, 0, 8);
    lua_pushstring(L, r->region);
    lua_setfield(L, -2, "region");
    lua_pushstring(L, r->endpoint);
    lua_setfield(L, -2, "endpoint");
    lua_pushstring(L, r->profile);
    lua_setfield(L, -2, "profile");
    lua_pushstring(L, r->region_source);
    lua_setfield(L, -2, "region_source");
    lua_pushstring(L, r->endpoint_source);
    lua_setfield(L, -2, "endpoint_source");
    lua_pushstring(L, creds_source);
    lua_setfield(L, -2, "credentials_source");
    lua_pushinteger(L, r->max_attempts);
    lua_setfield(L, -2, "max_attempts");
    lua_pushstring(L, r->retry_mode);
    lua_setfield(L, -2, "retry_mode");
}

/* Resolution box: owns a cfg_resolved while the client is being built. */
struct resolved_box {
    struct cfg_resolved r;
    int set;
};

static int resolved_gc(lua_State *L)
{
    struct resolved_box *rb = lua_touserdata(L, 1);
    if (rb->set)
        cfg_resolved_free(&rb->r);
    rb->set = 0;
    return 0;
}

static struct resolved_box *push_resolved(lua_State *L)
{
    return iotlua_push_gc_box(L, sizeof(struct resolved_box), "iotlua.resolved", resolved_gc);
}

/* Stack slot of the new client box in core_client_new. */
#define CLIENT_SLOT 4

/* Everything but the resolution: the iot_client on the engine. 0 or -1 with *err_out. */
static int start_client(lua_State *L, int opts, struct client_box *box,
                        const struct cfg_resolved *r, struct iot_error *err_out)
{
    struct iot_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.endpoint = r->endpoint;
    cfg.region = r->region;
    cfg.credentials_fn = cred_cache_credentials_fn;
    cfg.credentials_ctx = box->credentials;
    cfg.credentials_forget = cred_cache_forget;
    cfg.timeout_ms = seconds_to_ms(opt_number(L, opts, "timeout", 0));
    cfg.connect_timeout_ms = seconds_to_ms(opt_number(L, opts, "connect_timeout", 0));
    cfg.max_attempts = r->max_attempts > 0 ? r->max_attempts : 0;
    cfg.ca_bundle = r->ca_bundle;
    cfg.verify_tls = opt_bool(L, opts, "verify_tls") == 0 ? -1 : 1;
    cfg.max_connections = (int)opt_number(L, opts, "max_connections", 0);
    char msg[256];
    if (iot_retry_mode_parse(r->retry_mode, &cfg.retry_mode, msg, sizeof msg) != 0) {
        copy_text(err_out->code, sizeof err_out->code, "ConfigError");
        copy_text(err_out->message, sizeof err_out->message, msg);
        return -1;
    }
    struct iot_engine *engine = iotlua_push_engine(L);
    lua_setiuservalue(L, CLIENT_SLOT, 2);   /* the client box keeps the engine box alive */
    box->client = iot_client_new(engine, &cfg, err_out);
    return box->client ? 0 : -1;
}

/* core.client_new(opts) -> client | nil, err */
static int core_client_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    /* The engine box must exist before any client box: at lua_close finalizers run in
     * the reverse order of creation, so every client is freed before the engine. */
    iotlua_push_engine(L);
    lua_pop(L, 1);
    struct cfg_explicit ex = CFG_EXPLICIT_INIT;
    fill_explicit(L, 1, &ex);
    struct table_env te = {NULL, 0};
    struct cfg_env env = cfg_env_process();
    if (lua_getfield(L, 1, "_env") == LUA_TTABLE) {     /* 2: anchors the strings */
        snapshot_env(L, 2, &te);
        env.getenv = table_getenv;
        env.ud = &te;
    } else {
        lua_pushnil(L);                                  /* 3: the snapshot, or nil */
    }
    struct client_box *box = push_client(L);             /* 4 = CLIENT_SLOT */
    struct resolved_box *rb = push_resolved(L);          /* 5 */
    char msg[CFG_ERROR_LEN];
    rb->set = 1;
    if (cfg_resolve(&ex, &env, &rb->r, msg) != 0)
        return push_failure(L, "ConfigError", msg);
    char mfa_serial[256] = "";
    struct cred_chain_settings chain = {&ex, &env, rb->r.region, mfa_serial, sizeof mfa_serial};
    box->credentials = cred_cache_resolve(&chain, msg);
    if (box->credentials == NULL) {
        int n = push_failure(L, "CredentialsError", msg);
        if (mfa_serial[0]) {
            lua_pushstring(L, mfa_serial);
            lua_setfield(L, -2, "mfa_serial");     /* client.lua asks mfa_token for a code */
        }
        return n;
    }
    struct iot_error err;
    memset(&err, 0, sizeof err);
    if (start_client(L, 1, box, &rb->r, &err) != 0)
        return push_failure(L, err.code[0] ? err.code : "ConfigError", err.message);
    push_fields(L, &rb->r, cred_cache_source(box->credentials));
    lua_setiuservalue(L, CLIENT_SLOT, 1);
    lua_pushvalue(L, CLIENT_SLOT);
    return 1;
}

/* ---------------------------------------------------------------- calls */

/* The value at the top of the stack as an iot_value; a file is anchored in req. */
static void to_value(lua_State *L, int req, int is_json, struct iot_value *v)
{
    memset(v, 0, sizeof *v);
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        v->kind = is_json ? IOT_V_JSON : IOT_V_STRING;
        v->str = lua_tolstring(L, -1, &v->len);
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            v->kind = IOT_V_INTEGER;
            v->i = (int64_t)lua_tointeger(L, -1);
        } else {
            v->kind = IOT_V_NUMBER;
            v->d = lua_tonumber(L, -1);
        }
        return;
    case LUA_TBOOLEAN:
        v->kind = IOT_V_BOOLEAN;
        v->b = lua_toboolean(L, -1);
        return;
    default: break;
    }
    luaL_Stream *file = luaL_testudata(L, -1, LUA_FILEHANDLE);
    if (file && file->closef) {
        v->kind = IOT_V_FILE;
        v->file = file->f;
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, req, 2);
        return;
    }
    v->kind = IOT_V_OTHER;
    v->type_name = file ? "closed file" : luaL_typename(L, -1);
}

/* Fills the params from the table at index 3. 0, or -1 with msg (misuse). */
static int fill_params(lua_State *L, struct iot_params *params, const struct iot_op *op,
                       int req, char *msg, size_t msglen)
{
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            snprintf(msg, msglen, "%s: parameter names must be strings (got a %s key)",
                     op->method_name, luaL_typename(L, -2));
            lua_pop(L, 2);
            return -1;
        }
        const char *name = lua_tostring(L, -2);
        int is_json = 0;
        if (lua_type(L, 4) == LUA_TTABLE) {     /* json_names, usually nil */
            lua_pushvalue(L, -2);
            is_json = lua_rawget(L, 4) != LUA_TNIL && lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
        struct iot_value v;
        to_value(L, req, is_json, &v);
        if (iot_params_set(params, name, &v, msg, msglen) != 0) {
            lua_pop(L, 2);
            return -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* The operation named by the argument at idx: its index in core.operations() (what the
 * generated methods pass: no lookup by name) or its model name. Raises if unknown. */
static const struct iot_op *check_op(lua_State *L, int idx)
{
    int isnum = 0;
    lua_Integer i = lua_tointegerx(L, idx, &isnum);
    if (isnum) {
        if (i < 1 || (lua_Unsigned)i > iot_op_count())
            luaL_error(L, "unknown operation %I", i);
        return iot_op_at((size_t)i - 1);
    }
    const char *opname = luaL_checkstring(L, idx);
    const struct iot_op *op = iot_op_find(opname);
    if (op == NULL)
        luaL_error(L, "unknown operation '%s'", opname);
    return op;
}

/* core.call(client, op, params, json_names) -> request | nil, misuse message
 * op: the operation's index in core.operations(), or its model name. */
static int core_call(lua_State *L)
{
    struct client_box *box = check_client(L, 1);
    const struct iot_op *op = check_op(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 5);   /* 4: json_names, a table or nil; 5: the call's timeout (s) or nil */
    struct iot_call_opts opts = {0};
    if (!lua_isnil(L, 5))
        opts.timeout_ms = (long)ceil(luaL_checknumber(L, 5) * 1000.0);
    if (box->client == NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: the client is closed", op->method_name);
        return 2;
    }
    struct iot_params *params = iotlua_push_request(L, op);    /* 6, owns params */
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 6, 1);
    char msg[512];
    uint64_t id = 0;
    if (fill_params(L, params, op, 6, msg, sizeof msg) != 0)
        goto misuse;
    void *slot = iotlua_anchor_call(L, 6);
    iotlua_request_release_params(L, 6);                       /* the call owns them */
    if (iot_call_start_opts(box->client, params, &opts, slot, &id, msg, sizeof msg) != 0) {
        iotlua_unanchor_call(L, slot);
        goto misuse;
    }
    iotlua_request_set_id(L, 6, id);
    lua_pushvalue(L, 6);
    return 1;
misuse:
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

/* ---------------------------------------------------------------- operations */

/* Pushes { name = "Publish", method = "publish", input = { member = {...} }, ... }. */
static void push_operation(lua_State *L, const struct iot_op *op)
{
    lua_createtable(L, 0, 5);
    lua_pushstring(L, op->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, op->method_name);
    lua_setfield(L, -2, "method");
    lua_createtable(L, 0, (int)op->ninput);
    for (size_t i = 0; i < op->ninput; i++) {
        const struct iot_member *m = &op->input[i];
        lua_createtable(L, 0, 5);
        lua_pushstring(L, iot_type_name(m->shape->type));
        lua_setfield(L, -2, "type");
        lua_pushstring(L, iot_location_name(m->location));
        lua_setfield(L, -2, "location");
        lua_pushboolean(L, m->required);
        lua_setfield(L, -2, "required");
        lua_pushboolean(L, m->jsonvalue);
        lua_setfield(L, -2, "jsonvalue");
        lua_setfield(L, -2, m->name);
    }
    lua_setfield(L, -2, "input");
    if (op->pagination) {
        const struct iot_pagination *p = op->pagination;
        lua_createtable(L, 0, 4);
        lua_pushstring(L, p->input_token);
        lua_setfield(L, -2, "input_token");
        lua_pushstring(L, p->output_token);
        lua_setfield(L, -2, "output_token");
        if (p->limit_key) {
            lua_pushstring(L, p->limit_key);
            lua_setfield(L, -2, "limit_key");
        }
        lua_pushstring(L, p->result_key);
        lua_setfield(L, -2, "result_key");
        lua_setfield(L, -2, "pagination");
    }
}

/* core.operations() -> array of operation descriptions, in model order. */
static int core_operations(lua_State *L)
{
    size_t n = iot_op_count();
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_operation(L, iot_op_at(i));
        lua_pushinteger(L, (lua_Integer)i + 1);
        lua_setfield(L, -2, "index");      /* what core.call takes instead of the name */
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* core.client_methods() -> the table the client handles' __index reads methods from. */
static int core_client_methods(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &methods_key);
    return 1;
}

/* core.retry_mode_valid(v) -> true | false, message: the runtime's one list of modes. */
static int core_retry_mode_valid(lua_State *L)
{
    enum iot_retry_mode mode;
    char msg[160];
    if (iot_retry_mode_parse(luaL_checkstring(L, 1), &mode, msg, sizeof msg) == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushstring(L, msg);
    return 2;
}

static int core_user_agent(lua_State *L)
{
    lua_pushstring(L, iot_user_agent());
    return 1;
}

void iotlua_core_client(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"client_new", core_client_new},   {"call", core_call},
        {"operations", core_operations},   {"client_methods", core_client_methods},
        {"user_agent", core_user_agent},   {"client_close", client_close},
        {"retry_mode_valid", core_retry_mode_valid},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
    lua_pushliteral(L, IOT_RETRY_MODE_NAMES);
    lua_setfield(L, -2, "retry_modes");
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &methods_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushcfunction(L, client_close);
        lua_setfield(L, -2, "close");
        lua_rawsetp(L, LUA_REGISTRYINDEX, &methods_key);
    } else {
        lua_pop(L, 1);
    }
}
