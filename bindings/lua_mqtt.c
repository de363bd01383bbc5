/*
 * lua_mqtt.c — the C half of iotlua.mqtt: connection handles over runtime/mqtt_client.h.
 *
 * A handle is a userdata box holding the struct iot_mqtt; its user value is a table for
 * the Lua half (iotlua/mqtt.lua: waiters, handlers). While the connection exists the
 * handle is anchored in the engine's in-flight table, so core.poll can hand it to the
 * scheduler whenever the connection has notices (iotlua_mqtt_deliver); close, __close
 * and __gc free the connection and release the anchor.
 *
 * The functions here take arguments the Lua half has checked already (types, ranges,
 * names); they only convert. Nothing here runs beneath the runtime: the runtime never
 * calls back into Lua, notices are pulled by _notices.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "bindings.h"
#include "buf.h"
#include "encode.h"
#include "mqtt_client.h"

static const char mqtt_mt_key = 'm';
static const char methods_key = 'M';

#define MQTT_MT "iotlua.mqtt.connection"

struct mqtt_box {
    struct iot_mqtt *m;                 /* NULL once closed */
    void *slot;                         /* the anchor in the in-flight table */
};

static struct mqtt_box *check_box(lua_State *L, int idx)
{
    struct mqtt_box *box = iotlua_test_box(L, idx, &mqtt_mt_key);
    if (!box)
        luaL_typeerror(L, idx, "iotlua mqtt connection");
    return box;
}

static struct iot_mqtt *check_open(lua_State *L, int idx)
{
    struct mqtt_box *box = check_box(L, idx);
    if (!box->m)
        luaL_error(L, "the mqtt connection was closed with close()");
    return box->m;
}

/* The error fields of an MQTT failure: status (the reason code) becomes reason_code. */
static void push_mqtt_error(lua_State *L, const struct iot_error *e)
{
    iotlua_push_error(L, e);
    if (e->status > 0) {
        lua_pushinteger(L, e->status);
        lua_setfield(L, -2, "reason_code");
        lua_pushnil(L);
        lua_setfield(L, -2, "status");
    }
    lua_pushnil(L);
    lua_setfield(L, -2, "attempts");
}

static int fail(lua_State *L, const struct iot_error *e)
{
    lua_pushnil(L);
    push_mqtt_error(L, e);
    return 2;
}

/* ================================================================ reading options */

static const char *opt_str(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);                      /* the table keeps the string alive */
    return s;
}

static const char *opt_bytes(lua_State *L, int t, const char *k, size_t *len)
{
    lua_getfield(L, t, k);
    const char *s = lua_tolstring(L, -1, len);
    lua_pop(L, 1);
    return s;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer dflt)
{
    lua_getfield(L, t, k);
    lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int t, const char *k, int dflt)
{
    lua_getfield(L, t, k);
    int v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Message properties from fields of the table at t (checked by the Lua half:
 * userProperties is an array of { key, value } pairs there). The array of user
 * properties lives in a userdata left on the stack. [-0, +1] */
static void read_props(lua_State *L, int t, struct iot_mqtt_props *p)
{
    t = lua_absindex(L, t);
    memset(p, 0, sizeof *p);
    p->content_type = opt_str(L, t, "contentType");
    p->response_topic = opt_str(L, t, "responseTopic");
    p->correlation_data = opt_bytes(L, t, "correlationData", &p->correlation_len);
    p->message_expiry = opt_int(L, t, "messageExpiry", -1);
    p->payload_format = (int)opt_int(L, t, "payloadFormat", -1);
    lua_getfield(L, t, "userProperties");
    size_t n = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0;
    struct iot_mqtt_user_prop *user = lua_newuserdatauv(L, (n ? n : 1) * sizeof *user, 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        user[i].key = lua_tostring(L, -2);
        user[i].value = lua_tostring(L, -1);
        lua_pop(L, 3);                  /* the pair tables keep the strings */
    }
    lua_remove(L, -2);
    p->user = user;
    p->user_count = n;
}

static void read_tls(lua_State *L, int t, struct net_tls *tls)
{
    memset(tls, 0, sizeof *tls);
    tls->ca_file = opt_str(L, t, "ca");
    tls->cert_file = opt_str(L, t, "cert");
    tls->key_file = opt_str(L, t, "key");
    tls->alpn = opt_str(L, t, "alpn");
    tls->server_name = opt_str(L, t, "server_name");
    tls->verify = opt_bool(L, t, "verify", 1);
}

/* The will at field "will" of t, if any (its props userdata left on the stack). [-0, +1] */
static const struct iot_mqtt_will *read_will(lua_State *L, int t, struct iot_mqtt_will *w)
{
    lua_getfield(L, t, "will");
    if (!lua_istable(L, -1))
        return NULL;                    /* leaves the nil: one slot either way */
    int wi = lua_gettop(L);
    memset(w, 0, sizeof *w);
    w->topic = opt_str(L, wi, "topic");
    w->payload = opt_bytes(L, wi, "payload", &w->payload_len);
    if (!w->payload)
        w->payload = "";
    w->qos = (int)opt_int(L, wi, "qos", 0);
    w->retain = opt_bool(L, wi, "retain", 0);
    w->delay = (uint32_t)opt_int(L, wi, "delay", 0);
    read_props(L, wi, &w->props);
    lua_replace(L, wi);                 /* the props' userdata in the will's slot */
    return w;
}

/* ================================================================ connecting */

/* core.mqtt_connect(opts) -> handle | nil, err: starts connecting. */
static int core_mqtt_connect(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct iot_engine *engine = iotlua_push_engine(L);
    struct net_tls tls;
    struct iot_mqtt_will will;
    struct iot_mqtt_opts o = {0};
    o.host = opt_str(L, 1, "host");
    o.port = (int)opt_int(L, 1, "port", 1883);
    read_tls(L, 1, &tls);
    o.tls = opt_bool(L, 1, "tls", 0) ? &tls : NULL;
    o.ws_target = opt_str(L, 1, "ws_target");
    o.client_id = opt_str(L, 1, "client_id");
    o.username = opt_str(L, 1, "username");
    o.password = opt_bytes(L, 1, "password", &o.password_len);
    o.version = (int)opt_int(L, 1, "version", 5);
    o.keepalive = (int)opt_int(L, 1, "keepalive", 60);
    o.clean_start = opt_bool(L, 1, "clean_start", 1);
    o.session_expiry = opt_int(L, 1, "session_expiry", -1);
    o.auto_ack = opt_bool(L, 1, "auto_ack", 1);
    o.connect_timeout_ms = (long)opt_int(L, 1, "timeout_ms", 10000);
    o.queue_limit = (size_t)opt_int(L, 1, "queue_limit", 0);
    o.will = read_will(L, 1, &will);
    if (!o.host)
        return luaL_error(L, "mqtt_connect: no host");

    struct mqtt_box *box = lua_newuserdatauv(L, sizeof *box, 1);
    box->m = NULL;
    box->slot = NULL;
    if (iotlua_push_metatable(L, &mqtt_mt_key, MQTT_MT))
        luaL_error(L, "the mqtt metatable is not set up");
    lua_setmetatable(L, -2);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    box->slot = iotlua_anchor_call(L, -1);
    struct iot_error err = {0};
    box->m = iot_mqtt_connect(engine, &o, box->slot, &err);
    if (!box->m) {
        iotlua_unanchor_call(L, box->slot);
        box->slot = NULL;
        return fail(L, &err);
    }
    return 1;
}

static int mqtt_close(lua_State *L)
{
    struct mqtt_box *box = check_box(L, 1);
    if (box->m) {
        iot_mqtt_free(box->m);
        box->m = NULL;
        iotlua_unanchor_call(L, box->slot);
        box->slot = NULL;
    }
    return 0;
}

/* ================================================================ operations */

/* h:_publish(topic, payload, qos, retain, props) -> packet id (0 for QoS 0) | nil, err */
static int mqtt_publish(lua_State *L)
{
    struct iot_mqtt *m = check_open(L, 1);
    struct iot_mqtt_publish p = {0};
    p.topic = luaL_checkstring(L, 2);
    p.payload = luaL_checklstring(L, 3, &p.payload_len);
    p.qos = (int)luaL_checkinteger(L, 4);
    p.retain = lua_toboolean(L, 5);
    luaL_checktype(L, 6, LUA_TTABLE);
    read_props(L, 6, &p.props);
    uint16_t id;
    struct iot_error err = {0};
    if (iot_mqtt_publish(m, &p, &id, &err) != 0)
        return fail(L, &err);
    lua_pushinteger(L, id);
    return 1;
}

/* h:_subscribe({ {filter, qos, no_local, retain_as_published, retain_handling}, ... },
 * subscription_id) -> packet id | nil, err */
static int mqtt_subscribe(lua_State *L)
{
    struct iot_mqtt *m = check_open(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    uint32_t sub_id = (uint32_t)luaL_optinteger(L, 3, 0);
    size_t n = (size_t)lua_rawlen(L, 2);
    if (n == 0 || n > IOT_MQTT_MAX_CODES)
        return luaL_error(L, "subscribe: 1 to %d filters at a time", IOT_MQTT_MAX_CODES);
    struct iot_mqtt_subscription subs[IOT_MQTT_MAX_CODES];
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        int e = lua_gettop(L);
        subs[i].filter = opt_str(L, e, "filter");
        subs[i].qos = (int)opt_int(L, e, "qos", 0);
        subs[i].no_local = opt_bool(L, e, "no_local", 0);
        subs[i].retain_as_published = opt_bool(L, e, "retain_as_published", 0);
        subs[i].retain_handling = (int)opt_int(L, e, "retain_handling", 0);
        lua_pop(L, 1);                  /* the array keeps the strings */
        if (!subs[i].filter)
            return luaL_error(L, "subscribe: entry %d has no filter", (int)i + 1);
    }
    uint16_t id;
    struct iot_error err = {0};
    if (iot_mqtt_subscribe(m, subs, n, sub_id, &id, &err) != 0)
        return fail(L, &err);
    lua_pushinteger(L, id);
    return 1;
}

/* h:_unsubscribe({ filter, ... }) -> packet id | nil, err */
static int mqtt_unsubscribe(lua_State *L)
{
    struct iot_mqtt *m = check_open(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)lua_rawlen(L, 2);
    if (n == 0 || n > IOT_MQTT_MAX_CODES)
        return luaL_error(L, "unsubscribe: 1 to %d filters at a time", IOT_MQTT_MAX_CODES);
    const char *filters[IOT_MQTT_MAX_CODES];
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        filters[i] = luaL_checkstring(L, -1);
        lua_pop(L, 1);
    }
    uint16_t id;
    struct iot_error err = {0};
    if (iot_mqtt_unsubscribe(m, filters, n, &id, &err) != 0)
        return fail(L, &err);
    lua_pushinteger(L, id);
    return 1;
}

/* h:_ack(packet_id, generation) -> true | nil, err */
static int mqtt_ack(lua_State *L)
{
    struct iot_mqtt *m = check_open(L, 1);
    uint16_t id = (uint16_t)luaL_checkinteger(L, 2);
    uint64_t gen = (uint64_t)luaL_checkinteger(L, 3);
    struct iot_error err = {0};
    if (iot_mqtt_ack(m, id, gen, &err) != 0)
        return fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* h:_disconnect(reason, session_expiry | -1) */
static int mqtt_disconnect(lua_State *L)
{
    struct iot_mqtt *m = check_open(L, 1);
    iot_mqtt_disconnect(m, (uint8_t)luaL_optinteger(L, 2, 0), luaL_optinteger(L, 3, -1));
    return 0;
}

static int mqtt_drop(lua_State *L)
{
    iot_mqtt_drop(check_open(L, 1));
    return 0;
}

/* h:_reconnect([ws_target]) -> true | nil, err (ws_target: the next upgrade's, freshly
 * signed) */
static int mqtt_reconnect(lua_State *L)
{
    struct iot_mqtt *m = check_open(L, 1);
    const char *ws_target = luaL_optstring(L, 2, NULL);
    struct iot_error err = {0};
    if (ws_target && iot_mqtt_set_ws_target(m, ws_target) != 0) {
        iot_error_set(&err, "InternalError", "out of memory");
        return fail(L, &err);
    }
    if (iot_mqtt_reconnect(m, &err) != 0)
        return fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* ================================================================ state and notices */

static const char *state_name(enum iot_mqtt_state s)
{
    return s == IOT_MQTT_CONNECTED ? "connected" : s == IOT_MQTT_CONNECTING ? "connecting"
                                                                             : "closed";
}

/* h:_state() -> "connecting" | "connected" | "closed" (with the reason's error fields) */
static int mqtt_state(lua_State *L)
{
    struct mqtt_box *box = check_box(L, 1);
    if (!box->m) {
        lua_pushliteral(L, "closed");
        return 1;
    }
    enum iot_mqtt_state s = iot_mqtt_state(box->m);
    lua_pushstring(L, state_name(s));
    if (s != IOT_MQTT_CLOSED)
        return 1;
    push_mqtt_error(L, iot_mqtt_close_reason(box->m));
    return 2;
}

static int mqtt_stats(lua_State *L)
{
    struct iot_mqtt_stats st;
    iot_mqtt_get_stats(check_open(L, 1), &st);
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, (lua_Integer)st.received);
    lua_setfield(L, -2, "received");
    lua_pushinteger(L, (lua_Integer)st.dropped);
    lua_setfield(L, -2, "dropped");
    lua_pushinteger(L, (lua_Integer)st.queued);
    lua_setfield(L, -2, "queued");
    lua_pushinteger(L, (lua_Integer)st.queue_limit);
    lua_setfield(L, -2, "queue_limit");
    lua_pushboolean(L, st.session_present);
    lua_setfield(L, -2, "session_present");
    lua_pushinteger(L, st.keepalive);
    lua_setfield(L, -2, "keepalive");
    lua_pushinteger(L, st.version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, st.client_id);
    lua_setfield(L, -2, "client_id");
    return 1;
}

static const char *const NOTICE_KINDS[] = {
    [IOT_MQTT_N_CONNACK] = "connack", [IOT_MQTT_N_SUBACK] = "suback",
    [IOT_MQTT_N_UNSUBACK] = "unsuback", [IOT_MQTT_N_PUBACK] = "puback",
    [IOT_MQTT_N_MESSAGES] = "messages", [IOT_MQTT_N_CLOSED] = "closed",
};

static void push_notice(lua_State *L, const struct iot_mqtt_notice *n)
{
    lua_createtable(L, 0, 6);
    lua_pushstring(L, NOTICE_KINDS[n->kind]);
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, n->packet_id);
    lua_setfield(L, -2, "packet_id");
    lua_pushinteger(L, n->reason);
    lua_setfield(L, -2, "reason");
    lua_pushboolean(L, n->session_present);
    lua_setfield(L, -2, "session_present");
    lua_createtable(L, (int)n->count, 0);
    for (size_t i = 0; i < n->count; i++) {
        lua_pushinteger(L, n->codes[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "codes");
    if (n->error.code[0]) {
        push_mqtt_error(L, &n->error);
        lua_setfield(L, -2, "error");
    }
}

/* h:_notices() -> array of notices, oldest first */
static int mqtt_notices(lua_State *L)
{
    struct mqtt_box *box = check_box(L, 1);
    lua_newtable(L);
    if (!box->m)
        return 1;
    struct iot_mqtt_notice n;
    lua_Integer i = 0;
    while (iot_mqtt_next_notice(box->m, &n)) {
        push_notice(L, &n);
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

/* ================================================================ messages */

static void set_lstring(lua_State *L, const char *k, const void *p, size_t n)
{
    lua_pushlstring(L, (const char *)p, n);
    lua_setfield(L, -2, k);
}

static void push_user_props(lua_State *L, const struct mqtt_props *props)
{
    lua_createtable(L, (int)props->user_count, 0);
    size_t off = 0;
    struct mqtt_str k, v;
    lua_Integer i = 0;
    while (mqtt_props_next_user(props, &off, &k, &v)) {
        lua_createtable(L, 0, 1);
        lua_pushlstring(L, k.p, k.len);
        lua_pushlstring(L, v.p, v.len);
        lua_rawset(L, -3);
        lua_rawseti(L, -2, ++i);
    }
    lua_setfield(L, -2, "userProperties");
}

static void push_subscription_ids(lua_State *L, const struct mqtt_props *props)
{
    lua_newtable(L);
    size_t off = 0;
    uint8_t id;
    struct mqtt_bin raw;
    lua_Integer i = 0;
    while (mqtt_props_next(props, &off, &id, &raw)) {
        if (id != MQTT_P_SUBSCRIPTION_ID)
            continue;
        uint32_t v = 0, shift = 0;
        for (size_t j = 1; j < raw.len && shift < 28; j++, shift += 7)
            v |= (uint32_t)(raw.p[j] & 0x7F) << shift;
        lua_pushinteger(L, v);
        lua_rawseti(L, -2, ++i);
    }
    lua_setfield(L, -2, "subscriptionIdentifiers");
}

static void push_message(lua_State *L, const struct iot_mqtt_message *msg)
{
    const struct mqtt_publish *p = &msg->pub;
    const struct mqtt_props *props = &p->props;
    lua_createtable(L, 0, 14);
    set_lstring(L, "topic", p->topic.p, p->topic.len);
    set_lstring(L, "payload", p->payload.p, p->payload.len);
    lua_pushinteger(L, p->qos);
    lua_setfield(L, -2, "qos");
    lua_pushboolean(L, p->retain);
    lua_setfield(L, -2, "retain");
    lua_pushboolean(L, p->dup);
    lua_setfield(L, -2, "dup");
    if (props->has_content_type)
        set_lstring(L, "contentType", props->content_type.p, props->content_type.len);
    if (props->has_response_topic)
        set_lstring(L, "responseTopic", props->response_topic.p, props->response_topic.len);
    if (props->has_correlation)
        set_lstring(L, "correlationData", props->correlation.p, props->correlation.len);
    if (props->has_message_expiry) {
        lua_pushinteger(L, props->message_expiry);
        lua_setfield(L, -2, "messageExpiry");
    }
    if (props->payload_format >= 0) {
        lua_pushstring(L, props->payload_format ? "UTF8_DATA" : "UNSPECIFIED_BYTES");
        lua_setfield(L, -2, "payloadFormatIndicator");
    }
    push_user_props(L, props);
    push_subscription_ids(L, props);
    if (p->qos > 0) {
        lua_pushinteger(L, p->packet_id);
        lua_setfield(L, -2, "packet_id");
        lua_pushinteger(L, (lua_Integer)msg->generation);
        lua_setfield(L, -2, "_generation");
        lua_pushboolean(L, msg->acked);
        lua_setfield(L, -2, "_acked");
    }
}

static int free_held_message(lua_State *L)
{
    struct iot_mqtt_message **holder = lua_touserdata(L, 1);
    iot_mqtt_message_free(*holder);
    *holder = NULL;
    return 0;
}

/* h:_take(filter | nil) -> the oldest queued message matching filter, or nil */
static int mqtt_take(lua_State *L)
{
    struct iot_mqtt *m = check_open(L, 1);
    size_t flen = 0;
    const char *filter = luaL_optlstring(L, 2, NULL, &flen);
    struct iot_mqtt_message *msg = iot_mqtt_take(m, filter, flen);
    if (!msg) {
        lua_pushnil(L);
        return 1;
    }
    /* The box owns msg while the table is built: a memory error there frees it. */
    struct iot_mqtt_message **holder =
        iotlua_push_gc_box(L, sizeof *holder, "iotlua.mqtt.message_box", free_held_message);
    *holder = msg;
    push_message(L, msg);
    *holder = NULL;
    iot_mqtt_message_free(msg);
    return 1;
}

/* h:_data() -> the handle's table for the Lua half */
static int mqtt_data(lua_State *L)
{
    check_box(L, 1);
    lua_getiuservalue(L, 1, 1);
    return 1;
}

/* ================================================================ the loop's side */

void iotlua_mqtt_deliver(lua_State *L, const struct iot_event *ev, lua_Integer *n)
{
    lua_rawgeti(L, -1, (int)(intptr_t)ev->user);   /* the handle, from the in-flight table */
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_rawseti(L, -4, ++*n);
}

/* core.mqtt_methods() -> the methods table of connections (the Lua half adds to it) */
static int core_mqtt_methods(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &methods_key);
    return 1;
}

/* core.mqtt_reason_name(code) -> "NotAuthorized", ... */
static int core_mqtt_reason_name(lua_State *L)
{
    char scratch[16];
    lua_pushstring(L, iot_mqtt_reason_name((uint8_t)luaL_checkinteger(L, 1), scratch));
    return 1;
}

/* core.mqtt_metatable() -> the metatable of connections (the Lua half sets __close) */
static int core_mqtt_metatable(lua_State *L)
{
    iotlua_push_metatable(L, &mqtt_mt_key, MQTT_MT);
    return 1;
}

/* core.random_hex(n) -> 2n lowercase hex digits of n random bytes (n <= 64): client ids
 * and correlation data. */
static int core_random_hex(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 64, 1, "1 to 64 bytes");
    unsigned char bytes[64];
    size_t got = 0;
    while (got < (size_t)n) {
        ssize_t r = getrandom(bytes + got, (size_t)n - got, 0);
        if (r <= 0)
            return luaL_error(L, "random_hex: no random bytes from the system");
        got += (size_t)r;
    }
    char hex[129];
    enc_hex_to(hex, bytes, (size_t)n);
    lua_pushlstring(L, hex, (size_t)n * 2);
    return 1;
}

/* core.base64_encode(s) -> s in base64 (the HTTP API's form of correlation data) */
static int core_base64_encode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    struct buf out = BUF_INIT;
    if (enc_base64(&out, s, n) != 0) {
        buf_free(&out);
        return luaL_error(L, "base64_encode: out of memory");
    }
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    buf_free(&out);
    return 1;
}

void iotlua_core_mqtt(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"_publish", mqtt_publish},   {"_subscribe", mqtt_subscribe},
        {"_unsubscribe", mqtt_unsubscribe}, {"_ack", mqtt_ack},
        {"_disconnect", mqtt_disconnect}, {"drop", mqtt_drop},
        {"_reconnect", mqtt_reconnect}, {"_state", mqtt_state},
        {"_stats", mqtt_stats},       {"_notices", mqtt_notices},
        {"_take", mqtt_take},         {"_data", mqtt_data},
        {"close", mqtt_close},        {NULL, NULL},
    };
    static const luaL_Reg fns[] = {
        {"mqtt_connect", core_mqtt_connect}, {"mqtt_methods", core_mqtt_methods},
        {"mqtt_reason_name", core_mqtt_reason_name},
        {"mqtt_metatable", core_mqtt_metatable}, {"random_hex", core_random_hex},
        {"base64_encode", core_base64_encode}, {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
    if (iotlua_push_metatable(L, &mqtt_mt_key, MQTT_MT)) {
        lua_pushcfunction(L, mqtt_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, mqtt_close);
        lua_setfield(L, -2, "__close");
        luaL_newlib(L, methods);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &methods_key);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
