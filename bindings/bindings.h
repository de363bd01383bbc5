/*
 * bindings.h — the pieces of the iotlua Lua module, shared by the C files of bindings/.
 *
 * luaopen_iotlua (iotlua.c) builds the table "iotlua.core" of C functions, one
 * iotlua_core_<part> per C file adding its functions to the table on top of the stack,
 * then hands over to the embedded Lua module "iotlua.api", which builds the public API.
 *
 * Conventions (as in Lua's own libraries): misuse raises with luaL_argerror-style
 * messages naming the parameter; failures of the world return nil, err. No C globals
 * hold per-state data: per-state objects live in the registry under the addresses of
 * static variables.
 */
#ifndef IOTLUA_BINDINGS_H
#define IOTLUA_BINDINGS_H

#include <lua.h>
#include <lauxlib.h>

int luaopen_iotlua(lua_State *L);

/* Each adds its functions to the table on top of the stack. [-0, +0] */
void iotlua_core_loop(lua_State *L);     /* now, poll, pending, isatty, quiet (loop.c) */
void iotlua_core_sigv4(lua_State *L);    /* sigv4_sign (lua_sigv4.c) */
void iotlua_core_client(lua_State *L);   /* client_new, operations (lua_client.c) */

void iotlua_core_request(lua_State *L); /* result, done (request.c) */
void iotlua_core_mqtt(lua_State *L);    /* mqtt_connect, mqtt_methods (lua_mqtt.c) */
void iotlua_core_credentials(lua_State *L); /* client_credentials (lua_credentials.c) */
void iotlua_core_lock(lua_State *L);    /* lock (lua_lock.c) */

#include <stdint.h>
struct iot_engine;
struct iot_result;
struct iot_error;

/* loop.c: the state's engine (created on first use), pushed as its box. Raises on failure. */
struct iot_engine *iotlua_push_engine(lua_State *L);
/* loop.c: anchors the request handle at idx while its call is in flight; returns the
 * slot to pass to iot_call_start as `user` (core.poll finds the handle by it). */
void *iotlua_anchor_call(lua_State *L, int idx);
/* loop.c: releases a slot from iotlua_anchor_call whose call did not start. */
void iotlua_unanchor_call(lua_State *L, void *slot);

/* lua_mqtt.c: an MQTT connection's event: its handle (anchored in the in-flight table
 * on top of the stack) goes into the results array below the engine box. */
struct iot_event;
void iotlua_mqtt_deliver(lua_State *L, const struct iot_event *ev, lua_Integer *n);

/* request.c: request handles and results. */
struct iot_op;
struct iot_params;
struct iot_params *iotlua_push_request(lua_State *L, const struct iot_op *op);
void iotlua_request_release_params(lua_State *L, int idx);
void iotlua_request_set_id(lua_State *L, int idx, uint64_t id);
int iotlua_request_complete(lua_State *L, int idx, struct iot_result *result);
void iotlua_push_error(lua_State *L, const struct iot_error *e);

/* lua_client.c: the credentials cache of the client handle at idx (NULL when it is not
 * a client handle or has none). [-0, +0] */
struct cred_cache;
struct cred_cache *iotlua_client_credentials(lua_State *L, int idx);

/* iotlua.c: a new zero-filled userdata of `size` bytes with metatable `mt` (created on
 * first use with `gc` as __gc), left on the stack. Raises on lack of memory. [-0, +1] */
void *iotlua_push_gc_box(lua_State *L, size_t size, const char *mt, lua_CFunction gc);

/* iotlua.c: typed boxes checked by metatable identity. iotlua_push_metatable pushes the
 * metatable named tname, kept at registry[key] too, creating it on first use (returns 1
 * then: fill it in). [-0, +1] iotlua_test_box: the userdata at idx if its metatable is
 * the one at registry[key], else NULL. [-0, +0] */
int iotlua_push_metatable(lua_State *L, const void *key, const char *tname);
void *iotlua_test_box(lua_State *L, int idx, const void *key);

/* Registry key set to true by the host for --quiet. */
#define IOTLUA_QUIET_KEY "iotlua.quiet"
/* Registry keys the host sets to the strings of --log-format and --log-level. */
#define IOTLUA_LOG_FORMAT_KEY "iotlua.log_format"
#define IOTLUA_LOG_LEVEL_KEY "iotlua.log_level"
/* The run's deadline (--deadline, iotlua.deadline): a number on core.now()'s monotonic
 * clock, in seconds; absent when there is none. */
#define IOTLUA_DEADLINE_KEY "iotlua.deadline"
/* loop.c, for the host: iotlua_deadline_start sets the run's deadline `seconds` from now
 * (before the engine exists); iotlua_deadline_passed is 1 when the run has a deadline
 * (--deadline or an earlier iotlua.deadline) and it has passed. [-0, +0] */
void iotlua_deadline_start(lua_State *L, double seconds);
int iotlua_deadline_passed(lua_State *L);

#endif
