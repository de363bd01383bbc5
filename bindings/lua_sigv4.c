/*
 * lua_sigv4.c — iotlua.sigv4.sign{ method, url, headers, body, region, service, credentials,
 * time, normalize_path, double_encode, content_sha256_header, payload }: signs any AWS
 * request with the runtime's signer (runtime/sigv4.h), by the service's rules
 * (sigv4_service_flags: S3-like names sign the path as given with X-Amz-Content-Sha256,
 * the others normalise it and encode it once more) unless the booleans override them;
 * payload ("UNSIGNED-PAYLOAD" or 64 hex digits) is signed instead of the body's hash.
 *
 * Returns the table of headers to add (Authorization, X-Amz-Date, X-Amz-Security-Token
 * when a session token is given) and, second, the signer's working: canonical_request,
 * string_to_sign, signature, signed_headers, credential_scope. Bad input (a missing or
 * mistyped field, a URL the signer cannot read) raises, naming the field. The header
 * array and the signer's result live in userdata boxes, so nothing leaks on error.
 */
#include <string.h>
#include <time.h>

#include "bindings.h"
#include "sigv4.h"

#define SIGN_RESULT_MT "iotlua.sigv4.result"
/* The function's name for errors: both functions carry it as their upvalue. */
#define FN(L) lua_tostring((L), lua_upvalueindex(1))

struct sign_box {
    struct sigv4_result r;
    int set;
};

static int sign_box_gc(lua_State *L)
{
    struct sign_box *sb = lua_touserdata(L, 1);
    if (sb->set)
        sigv4_result_free(&sb->r);
    sb->set = 0;
    return 0;
}

static struct sign_box *push_sign_box(lua_State *L)
{
    return iotlua_push_gc_box(L, sizeof(struct sign_box), SIGN_RESULT_MT, sign_box_gc);
}

const char *iotlua_field_string(lua_State *L, int idx, const char *name, int required,
                                size_t *len_out, const char *fn)
{
    int t = lua_getfield(L, idx, name);
    const char *s = NULL;
    if (t == LUA_TSTRING)
        s = lua_tolstring(L, -1, len_out);
    else if (t != LUA_TNIL || required)
        luaL_error(L, "bad argument #1 to '%s' (field '%s' must be a string, got %s)", fn,
                   name, t == LUA_TNIL ? "no value" : luaL_typename(L, -1));
    lua_pop(L, 1);
    return s;
}

#define field_string(L, idx, name, required, len_out) \
    iotlua_field_string((L), (idx), (name), (required), (len_out), FN(L))

/* The signing time: the `time` field as "YYYYMMDDTHHMMSSZ" or epoch seconds, else now. */
static time_t field_time(lua_State *L, int idx)
{
    time_t t = time(NULL);
    int type = lua_getfield(L, idx, "time");
    if (type == LUA_TNUMBER) {
        if (!lua_isinteger(L, -1) && lua_tonumber(L, -1) != (lua_Number)(lua_Integer)lua_tonumber(L, -1))
            luaL_error(L, "bad argument #1 to '%s' (field 'time' must be whole epoch seconds)",
                       FN(L));
        t = (time_t)lua_tonumber(L, -1);
    } else if (type == LUA_TSTRING) {
        if (sigv4_parse_time(lua_tostring(L, -1), &t) != 0)
            luaL_error(L, "bad argument #1 to '%s' (field 'time' must look like "
                          "\"20150830T123600Z\", got \"%s\")", FN(L), lua_tostring(L, -1));
    } else if (type != LUA_TNIL) {
        luaL_error(L, "bad argument #1 to '%s' (field 'time' must be a string or a number, "
                      "got %s)", FN(L), luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return t;
}

/* Sets or clears bit in *flags from the boolean field `name`, when present. */
static void field_flag(lua_State *L, int idx, const char *name, unsigned bit, unsigned *flags)
{
    int t = lua_getfield(L, idx, name);
    if (t == LUA_TBOOLEAN)
        *flags = lua_toboolean(L, -1) ? (*flags | bit) : (*flags & ~bit);
    else if (t != LUA_TNIL)
        luaL_error(L, "bad argument #1 to '%s' (field '%s' must be a boolean, got %s)", FN(L),
                   name, luaL_typename(L, -1));
    lua_pop(L, 1);
}

/* The flags for the request at idx: the service's defaults, then the overrides. */
static unsigned field_flags(lua_State *L, int idx, const char *service)
{
    unsigned flags = sigv4_service_flags(service);
    unsigned encode = (flags & SIGV4_NO_URI_ENCODE) ? 0 : 1;
    field_flag(L, idx, "normalize_path", SIGV4_NORMALIZE_PATH, &flags);
    field_flag(L, idx, "double_encode", 1, &encode);
    flags = encode ? (flags & ~SIGV4_NO_URI_ENCODE) : (flags | SIGV4_NO_URI_ENCODE);
    field_flag(L, idx, "content_sha256_header", SIGV4_ADD_CONTENT_SHA256, &flags);
    return flags;
}

/* The payload field: "UNSIGNED-PAYLOAD" or a SHA-256 in hex; NULL when absent. */
static const char *field_payload(lua_State *L, int idx)
{
    const char *p = field_string(L, idx, "payload", 0, NULL);
    if (!p || strcmp(p, "UNSIGNED-PAYLOAD") == 0)
        return p;
    size_t n = strspn(p, "0123456789abcdefABCDEF");
    if (n != SIGV4_HASH_HEX_LEN || p[n])
        luaL_error(L, "bad argument #1 to '%s' (field 'payload' must be \"UNSIGNED-PAYLOAD\" "
                      "or a SHA-256 as 64 hex digits)", FN(L));
    return p;
}

size_t iotlua_collect_headers(lua_State *L, int tbl, struct sigv4_header **out, const char *fn)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl) != 0) {
        n++;
        lua_pop(L, 1);
    }
    struct sigv4_header *h = lua_newuserdatauv(L, (n ? n : 1) * sizeof *h, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad argument #1 to '%s' (field 'headers' must map names to "
                          "strings, got %s = %s)", fn, luaL_typename(L, -2),
                       luaL_typename(L, -1));
        size_t nlen, vlen;
        h[i].name = lua_tolstring(L, -2, &nlen);
        h[i].value = lua_tolstring(L, -1, &vlen);
        if (strlen(h[i].name) != nlen || strlen(h[i].value) != vlen)
            luaL_error(L, "bad argument #1 to '%s' (field 'headers': a header name or value "
                          "holds a NUL byte)", fn);
        i++;
        lua_pop(L, 1);
    }
    *out = h;
    return n;
}

/* Pushes the table of headers to add and the table of the signer's working. */
static void push_signed(lua_State *L, const struct sigv4_result *r)
{
    lua_createtable(L, 0, (int)r->nadd);
    for (size_t i = 0; i < r->nadd; i++) {
        lua_pushstring(L, r->add[i].value);
        lua_setfield(L, -2, r->add[i].name);
    }
    lua_createtable(L, 0, 6);
    lua_pushstring(L, r->canonical_request);
    lua_setfield(L, -2, "canonical_request");
    lua_pushstring(L, r->string_to_sign);
    lua_setfield(L, -2, "string_to_sign");
    lua_pushstring(L, r->signature);
    lua_setfield(L, -2, "signature");
    lua_pushstring(L, r->signed_headers);
    lua_setfield(L, -2, "signed_headers");
    lua_pushstring(L, r->credential_scope);
    lua_setfield(L, -2, "credential_scope");
    lua_pushstring(L, r->amz_date);
    lua_setfield(L, -2, "amz_date");
}

/* sigv4.sign(request) -> headers to add, working */
static int l_sign(lua_State *L)
{
    if (!lua_istable(L, 1))
        return luaL_error(L, "bad argument #1 to '%s' (table expected, got %s)", FN(L),
                          lua_isnoneornil(L, 1) ? "nil" : luaL_typename(L, 1));
    lua_settop(L, 1);
    size_t body_len = 0;
    const char *method = field_string(L, 1, "method", 1, NULL);
    const char *url = field_string(L, 1, "url", 1, NULL);
    const char *body = field_string(L, 1, "body", 0, &body_len);
    const char *region = field_string(L, 1, "region", 1, NULL);
    const char *service = field_string(L, 1, "service", 1, NULL);
    time_t t = field_time(L, 1);
    unsigned flags = field_flags(L, 1, service);
    const char *payload = field_payload(L, 1);
    if (lua_getfield(L, 1, "credentials") != LUA_TTABLE)              /* 2 */
        return luaL_error(L, "bad argument #1 to '%s' (field 'credentials' must be a table, "
                             "got %s)", FN(L), luaL_typename(L, -1));
    struct sigv4_credentials creds;
    creds.access_key_id = field_string(L, 2, "access_key_id", 1, NULL);
    creds.secret_access_key = field_string(L, 2, "secret_access_key", 1, NULL);
    creds.session_token = field_string(L, 2, "session_token", 0, NULL);
    int ht = lua_getfield(L, 1, "headers");                              /* 3 */
    if (ht != LUA_TNIL && ht != LUA_TTABLE)
        return luaL_error(L, "bad argument #1 to '%s' (field 'headers' must be a table, "
                             "got %s)", FN(L), luaL_typename(L, -1));
    struct sigv4_header *headers = NULL;
    size_t nheaders = 0;
    if (ht == LUA_TTABLE)
        nheaders = iotlua_collect_headers(L, 3, &headers, FN(L));       /* 4 */
    struct sign_box *sb = push_sign_box(L);
    sb->set = 1;
    if (sigv4_sign_url(method, url, headers, nheaders, body, body_len, payload, region, service,
                       &creds, t, flags, &sb->r) != 0)
        return luaL_error(L, "bad argument #1 to '%s' (%s)", FN(L), sb->r.error);
    push_signed(L, &sb->r);
    return 2;
}

/* The expires field: whole seconds 1..604800, 3600 when absent. */
static long field_expires(lua_State *L, int idx)
{
    long expires = 3600;
    int t = lua_getfield(L, idx, "expires");
    if (t != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 604800)
            luaL_error(L, "bad argument #1 to '%s' (field 'expires' must be whole seconds "
                          "from 1 to 604800)", FN(L));
        expires = (long)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return expires;
}

static int buf_box_gc(lua_State *L)
{
    buf_free(lua_touserdata(L, 1));
    return 0;
}

/* sigv4.presign(request) -> the presigned URL */
static int l_presign(lua_State *L)
{
    if (!lua_istable(L, 1))
        return luaL_error(L, "bad argument #1 to '%s' (table expected, got %s)", FN(L),
                          lua_isnoneornil(L, 1) ? "nil" : luaL_typename(L, 1));
    lua_settop(L, 1);
    struct sigv4_params p;
    const char *method = field_string(L, 1, "method", 1, NULL);
    const char *url = field_string(L, 1, "url", 1, NULL);
    p.region = field_string(L, 1, "region", 1, NULL);
    p.service = field_string(L, 1, "service", 1, NULL);
    p.time = field_time(L, 1);
    p.flags = field_flags(L, 1, p.service);
    long expires = field_expires(L, 1);
    if (lua_getfield(L, 1, "credentials") != LUA_TTABLE)              /* 2 */
        return luaL_error(L, "bad argument #1 to '%s' (field 'credentials' must be a "
                             "table, got %s)", FN(L), luaL_typename(L, -1));
    p.credentials.access_key_id = field_string(L, 2, "access_key_id", 1, NULL);
    p.credentials.secret_access_key = field_string(L, 2, "secret_access_key", 1, NULL);
    p.credentials.session_token = field_string(L, 2, "session_token", 0, NULL);
    struct buf *out = iotlua_push_gc_box(L, sizeof *out, "iotlua.sigv4.buf", buf_box_gc);
    char error[SIGV4_ERROR_LEN];
    if (sigv4_presign_url(method, url, &p, expires, out, error, sizeof error) != 0)
        return luaL_error(L, "bad argument #1 to '%s' (%s)", FN(L), error);
    lua_pushlstring(L, out->data, out->len);
    return 1;
}

void iotlua_core_sigv4(lua_State *L)
{
    lua_pushliteral(L, "sign");
    lua_pushcclosure(L, l_sign, 1);
    lua_setfield(L, -2, "sigv4_sign");
    lua_pushliteral(L, "presign");
    lua_pushcclosure(L, l_presign, 1);
    lua_setfield(L, -2, "sigv4_presign");
}
