/*
 * shadow.h — the emulator's Device Shadow service: one store of classic and named
 * shadows that the HTTP API (GetThingShadow, UpdateThingShadow, DeleteThingShadow,
 * ListNamedShadowsForThing) and the broker's reserved topics
 * ($aws/things/<thing>/shadow[/name/<shadow>]/{get,update,delete}) both call, so an
 * update made one way is seen the other way.
 *
 * The store (shadow/shadow_store.c) and the document rules (shadow/shadow_doc.c) know
 * nothing of HTTP or MQTT: an operation takes names and a request body and fills a
 * struct shadow_reply, which each side turns into its own answer. Every accepted update
 * or delete is also told to the store's listener (the MQTT side, shadow/shadow_mqtt.c,
 * publishes it on update/accepted, update/delta, update/documents, delete/accepted),
 * whichever side made it.
 *
 * Rules, as AWS IoT documents them (see emulator/README.md for the sources and choices):
 * partial merges, null deletes a field (an object left empty goes too), arrays replaced
 * whole, per-field metadata timestamps (epoch seconds), a version incremented by each
 * update and checked when the request gives one (409), 8 KB of desired+reported, six
 * levels of nesting inside desired/reported, a client token of at most 64 bytes, and a
 * shadow re-created within 48 hours of its deletion continuing its version.
 *
 * Names passed in are borrowed for the call. All on the emulator's one thread.
 */
#ifndef IOTLUA_EMULATOR_SHADOW_H
#define IOTLUA_EMULATOR_SHADOW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct broker;

#define SHADOW_MAX_STATE_BYTES 8192          /* desired + reported, metadata excluded */
#define SHADOW_MAX_DEPTH 6                   /* levels inside desired / reported */
#define SHADOW_MAX_CLIENT_TOKEN 64           /* bytes */
#define SHADOW_MAX_REQUEST_BYTES (128 * 1024)    /* a request body (the MQTT payload limit) */
#define SHADOW_VERSION_KEEP_MS (48LL * 3600 * 1000)   /* a deleted shadow's version lives on */
#define SHADOW_MAX_THING_NAME 128
#define SHADOW_MAX_SHADOW_NAME 64
#define SHADOW_DEFAULT_PAGE_SIZE 25          /* ListNamedShadowsForThing without pageSize */

/* The clock: epoch milliseconds. Tests inject one to cross the 48 hours. */
typedef int64_t (*shadow_clock_fn)(void *arg);

/* What one operation produced. status 200: body is the response document (the HTTP
 * body, and what get/accepted carries). Otherwise status is the HTTP status (400, 404,
 * 409, 413, 500), code the model's exception name, message AWS's text, and body the
 * error document of the /rejected topics: {"code","message","timestamp","clientToken"}.
 * Owned by the caller: shadow_reply_init before, shadow_reply_free after. */
struct shadow_reply {
    int status;
    const char *code;                /* static; NULL on success */
    char message[160];
    struct buf body;
};
void shadow_reply_init(struct shadow_reply *r);
void shadow_reply_free(struct shadow_reply *r);

/* An accepted change, as the listener sees it. The documents are borrowed for the
 * call; delta is NULL when desired and reported agree (nothing to send). */
enum shadow_change { SHADOW_UPDATED, SHADOW_DELETED };
struct shadow_event {
    enum shadow_change change;
    const char *thing;
    const char *name;                /* "" for the classic shadow */
    const struct buf *accepted;      /* update/accepted or delete/accepted */
    const struct buf *delta;         /* update/delta, or NULL */
    const struct buf *documents;     /* update/documents (updates only) */
};
typedef void (*shadow_listener)(void *arg, const struct shadow_event *event);

struct shadow_store;

/* clock NULL: the real time. NULL when out of memory. */
struct shadow_store *shadow_store_new(shadow_clock_fn clock, void *clock_arg);
void shadow_store_free(struct shadow_store *store);   /* safe with NULL */
/* One listener (the MQTT side); NULL removes it. */
void shadow_store_set_listener(struct shadow_store *store, shadow_listener fn, void *arg);

/* NULL when the name is valid, else what is wrong ("thingName must ..."). A thing name
 * is [a-zA-Z0-9:_-]{1,128}; a shadow name [$a-zA-Z0-9:_-]{1,64}. */
const char *shadow_thing_name_problem(const char *s, size_t n);
const char *shadow_name_problem(const char *s, size_t n);

/* The operations. name NULL or "" is the classic shadow. The return value is
 * reply->status. client_token (may be NULL) is echoed in a get's answer. */
int shadow_get(struct shadow_store *store, const char *thing, const char *name,
               const char *client_token, struct shadow_reply *reply);
int shadow_update(struct shadow_store *store, const char *thing, const char *name,
                  const char *request, size_t request_len, struct shadow_reply *reply);
int shadow_delete(struct shadow_store *store, const char *thing, const char *name,
                  const char *client_token, struct shadow_reply *reply);

/* ListNamedShadowsForThing: {"results":[names…],"nextToken"?,"timestamp"} into reply
 * (names in byte order, page_size of them after the token's). A token this store did
 * not give is 400. */
int shadow_list_named(struct shadow_store *store, const char *thing, const char *next_token,
                      size_t page_size, struct shadow_reply *reply);

/* ---------------------------------------------------------------- the MQTT side
 * Watches the broker's publishes (a publish observer) for the shadow request topics and
 * answers on their response topics; becomes the store's listener, so every accepted
 * change, from HTTP or MQTT, is published. NULL when out of memory. */
struct shadow_mqtt;
struct shadow_mqtt *shadow_mqtt_new(struct broker *broker, struct shadow_store *store);
void shadow_mqtt_free(struct shadow_mqtt *sm);       /* safe with NULL */

#endif
