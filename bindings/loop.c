/*
 * loop.c — the per-state event loop's C side: the engine box, polling, and the clock.
 *
 * One iot_engine per Lua state, created on first use (so start-up costs nothing) and
 * kept in a userdata box in the registry under the address of `engine_key`. The box's
 * user value is a table holding the request handles in flight (luaL_ref slots: an array
 * with a free list, so anchoring and releasing never rehash), which keeps each handle
 * alive until its event arrives; the slot number travels with the call as its `user`
 * pointer. The handles get their results from core.poll, the only place events are
 * popped. The scheduler (iotlua/tasks.lua) calls
 * core.poll with the timeout of its nearest timer; no Lua code ever runs beneath it.
 */
#include <math.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "bindings.h"
#include "client.h"

static const char engine_key = 'e';

#define ENGINE_MT "iotlua.engine"

struct engine_box {
    struct iot_engine *engine;   /* NULL once freed */
};

static int engine_gc(lua_State *L)
{
    struct engine_box *box = luaL_checkudata(L, 1, ENGINE_MT);
    iot_engine_free(box->engine);
    box->engine = NULL;
    return 0;
}

/* The deadline in the registry, in engine milliseconds (0: none). [-0, +0] */
static int64_t registry_deadline_ms(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, IOTLUA_DEADLINE_KEY);
    int isnum = 0;
    lua_Number at = lua_tonumberx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum)
        return 0;
    int64_t ms = (int64_t)ceil(at * 1000.0);
    return ms > 0 ? ms : 1;             /* 0 would mean none: the earliest time instead */
}

/* Pushes the engine box, creating it on first use. Raises when the engine cannot be made. */
struct iot_engine *iotlua_push_engine(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &engine_key) == LUA_TUSERDATA) {
        struct engine_box *box = lua_touserdata(L, -1);
        return box->engine;
    }
    lua_pop(L, 1);
    struct engine_box *box = lua_newuserdatauv(L, sizeof *box, 1);
    box->engine = NULL;
    if (luaL_newmetatable(L, ENGINE_MT)) {
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    struct iot_error err = {0};
    box->engine = iot_engine_new(NULL, &err);
    if (box->engine == NULL)
        luaL_error(L, "cannot start the event loop: %s", err.message);
    iot_engine_set_deadline(box->engine, registry_deadline_ms(L));
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &engine_key);
    return box->engine;
}

/* The engine if it exists yet, else NULL. [-0, +0] */
static struct iot_engine *existing_engine(lua_State *L)
{
    struct iot_engine *engine = NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &engine_key) == LUA_TUSERDATA)
        engine = ((struct engine_box *)lua_touserdata(L, -1))->engine;
    lua_pop(L, 1);
    return engine;
}

/* Anchors the request handle at idx in the engine's in-flight table; returns its slot
 * as a pointer-sized value. Raises only when memory runs out. [-0, +0] */
void *iotlua_anchor_call(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    iotlua_push_engine(L);
    lua_getiuservalue(L, -1, 1);
    lua_pushvalue(L, idx);
    int ref = luaL_ref(L, -2);
    lua_pop(L, 2);
    return (void *)(intptr_t)ref;
}

/* Releases a slot of iotlua_anchor_call. [-0, +0] */
void iotlua_unanchor_call(lua_State *L, void *slot)
{
    iotlua_push_engine(L);
    lua_getiuservalue(L, -1, 1);
    luaL_unref(L, -1, (int)(intptr_t)slot);
    lua_pop(L, 2);
}

static void sleep_seconds(double s)
{
    if (!(s > 0))
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A call's event: its request handle (anchored at ev->user in the in-flight table on
 * top of the stack) gets the result and goes into the results array below that table
 * as results[++*n]. [-0, +0] */
static void deliver_call(lua_State *L, const struct iot_event *ev, lua_Integer *n)
{
    int ref = (int)(intptr_t)ev->user;
    lua_rawgeti(L, -1, ref);
    if (!iotlua_request_complete(L, -1, ev->result)) {
        iot_result_free(ev->result);
        lua_pop(L, 1);
        return;
    }
    luaL_unref(L, -2, ref);
    lua_rawseti(L, -4, ++*n);       /* results[n] = req */
}

/*
 * core.poll(timeout) -> array of the request handles completed. timeout in seconds; a
 * negative one waits until something completes. With nothing in flight it just sleeps.
 */
static int core_poll(lua_State *L)
{
    double timeout = luaL_checknumber(L, 1);
    struct iot_engine *engine = existing_engine(L);
    /* Nothing of the engine's to wait for (no item, and no transfer or timer of its own,
     * as a credentials fetch has): just sleep. */
    if (engine == NULL ||
        (iot_engine_pending(engine) == 0 && iot_engine_next_timeout_ms(engine) < 0)) {
        sleep_seconds(timeout);
        lua_newtable(L);
        return 1;
    }
    int ms = timeout < 0 ? -1 : timeout > 86400.0 ? 86400000 : (int)ceil(timeout * 1000.0);
    int ready = iot_engine_poll(engine, ms);
    if (ready < 0)
        return luaL_error(L, "the event loop failed (libcurl)");
    lua_createtable(L, ready, 0);   /* sized once: one slot per event ready */
    iotlua_push_engine(L);
    lua_getiuservalue(L, -1, 1);
    lua_Integer n = 0;
    struct iot_event ev;
    while (iot_engine_next_event(engine, &ev)) {
        switch (ev.kind) {
        case IOT_EV_CALL:
            deliver_call(L, &ev, &n);
            break;
        case IOT_EV_MQTT:
            iotlua_mqtt_deliver(L, &ev, &n);
            break;
        default:    /* every kind the runtime makes has its case here */
            return luaL_error(L, "the event loop got an event of unknown kind %d",
                              (int)ev.kind);
        }
    }
    lua_pop(L, 2);
    return 1;
}

/* core.pending() -> calls and timers of the engine not yet popped. */
static int core_pending(lua_State *L)
{
    struct iot_engine *engine = existing_engine(L);
    lua_pushinteger(L, engine ? (lua_Integer)iot_engine_pending(engine) : 0);
    return 1;
}

/* The clock of core.now() and of the run's deadline: monotonic seconds. */
static lua_Number monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9;
}

/* core.now() -> monotonic seconds (float). */
static int core_now(lua_State *L)
{
    lua_pushnumber(L, monotonic_seconds());
    return 1;
}

void iotlua_deadline_start(lua_State *L, double seconds)
{
    lua_pushnumber(L, monotonic_seconds() + seconds);
    lua_setfield(L, LUA_REGISTRYINDEX, IOTLUA_DEADLINE_KEY);
}

int iotlua_deadline_passed(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, IOTLUA_DEADLINE_KEY);
    int isnum = 0;
    lua_Number at = lua_tonumberx(L, -1, &isnum);
    lua_pop(L, 1);
    return isnum && monotonic_seconds() >= at;
}

/* core.isatty(fd) -> boolean. */
static int core_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

/* core.quiet() -> true when the host was started with --quiet. */
static int core_quiet(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, IOTLUA_QUIET_KEY);
    lua_pushboolean(L, lua_toboolean(L, -1));
    return 1;
}

/* core.log_options() -> format, level given to the host (--log-format, --log-level), or
 * nil for each not given. */
static int core_log_options(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, IOTLUA_LOG_FORMAT_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, IOTLUA_LOG_LEVEL_KEY);
    return 2;
}

/* core.deadline() -> the run's deadline (core.now() seconds), or nil. */
static int core_deadline(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, IOTLUA_DEADLINE_KEY);
    return 1;
}

/* core.set_deadline(at | nil): the run's deadline, for the engine's calls too. */
static int core_set_deadline(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checknumber(L, 1);
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, IOTLUA_DEADLINE_KEY);
    struct iot_engine *engine = existing_engine(L);
    if (engine)
        iot_engine_set_deadline(engine, registry_deadline_ms(L));
    return 0;
}

struct named_count {
    const char *name;
    uint64_t n;
};

/* A table of the n counts of f. [-0, +1] */
static int push_counts(lua_State *L, const struct named_count *f, int n)
{
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)f[i].n);
        lua_setfield(L, -2, f[i].name);
    }
    return 1;
}

/* core.http_stats() -> { native, native_tls, tls_handshakes, tls_resumed, libcurl }: the
 * engine's counts by transport (all 0 before the engine exists), for tests and debugging. */
static int core_http_stats(lua_State *L)
{
    struct iot_http_stats st = {0};
    struct iot_engine *engine = existing_engine(L);
    if (engine)
        iot_engine_http_stats(engine, &st);
    const struct named_count f[] = {
        {"native", st.native}, {"native_tls", st.native_tls},
        {"tls_handshakes", st.tls_handshakes}, {"tls_resumed", st.tls_resumed},
        {"libcurl", st.libcurl}};
    return push_counts(L, f, (int)(sizeof f / sizeof f[0]));
}

/* core.stream_tls_stats() -> { contexts, stores, handshakes, resumed }: the TLS of the
 * engine's MQTT connections (contexts made: one per set of TLS options in use; trust
 * stores made: one per CA in use), for tests. */
static int core_stream_tls_stats(lua_State *L)
{
    struct iot_stream_tls_stats st = {0};
    struct iot_engine *engine = existing_engine(L);
    if (engine)
        iot_engine_stream_tls_stats(engine, &st);
    const struct named_count f[] = {
        {"contexts", st.contexts}, {"stores", st.stores}, {"handshakes", st.handshakes},
        {"resumed", st.resumed}};
    return push_counts(L, f, (int)(sizeof f / sizeof f[0]));
}

/* core.max_inflight() -> the calls the engine carries at once (0 before it exists). */
static int core_max_inflight(lua_State *L)
{
    struct iot_engine *engine = existing_engine(L);
    lua_pushinteger(L, engine ? iot_engine_max_inflight(engine) : 0);
    return 1;
}

void iotlua_core_loop(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"poll", core_poll},     {"pending", core_pending}, {"now", core_now},
        {"isatty", core_isatty}, {"quiet", core_quiet},
        {"log_options", core_log_options}, {"deadline", core_deadline},
        {"set_deadline", core_set_deadline}, {"http_stats", core_http_stats},
        {"stream_tls_stats", core_stream_tls_stats},
        {"max_inflight", core_max_inflight},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
