/*
 * engine.h — the engine's internals (client.h has its public half): intrusive lists, the
 * monotonic clock, one timer heap, event items and the queue of their events, and fd
 * sources. The transports (http.h: libcurl; http1.h: the native HTTP/1.1 transport) and
 * every later long-lived thing (a connection, a credential refresh) are users of these.
 *
 * Nothing here calls out of the runtime: timers fire, sources report and items queue
 * their events from inside iot_engine_poll; the events are popped by the caller.
 *
 * Items: something that produces events and can be cancelled by id. A one-shot item (a
 * call) is forgotten and destroyed when its event is popped. A stream item (a
 * connection) produces any number of events: it stays live after each pop, its `pop`
 * hook fills the event popped, and its owner ends it with eng_item_finish. Cancelling
 * or freeing the engine destroys an item wherever it is, through item->destroy only.
 */
#ifndef IOTLUA_ENGINE_H
#define IOTLUA_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "client.h"

/* ================================================================ lists */

/* Intrusive circular doubly-linked list; a head is a node pointing at itself. */
struct dl {
    struct dl *prev, *next;
};

#define DL_CONTAINER(ptr, type, field) ((type *)(void *)((char *)(ptr) - offsetof(type, field)))

void dl_init(struct dl *head);
int dl_empty(const struct dl *head);
void dl_push_back(struct dl *head, struct dl *node);
void dl_remove(struct dl *node);      /* node becomes a lone list (safe to remove twice) */
int dl_linked(const struct dl *node); /* 1 when node is in some list */

/* ================================================================ clocks, random */

int64_t eng_now_ms(void);                           /* monotonic */
int64_t eng_now_us(void);                           /* the same clock, in microseconds */
double eng_random(struct iot_engine *engine);       /* [0, 1) */
time_t eng_wall_clock(struct iot_engine *engine);   /* for signing */

/* ================================================================ timers */

/* A timer owned by someone else (a call's backoff, a transfer's deadline). */
struct eng_timer {
    int64_t due_ms;                     /* monotonic clock */
    uint64_t seq;                       /* ties fire in arming order */
    size_t heap_index;                  /* SIZE_MAX when not armed */
    void (*fire)(struct iot_engine *engine, struct eng_timer *timer);
};

void eng_timer_init(struct eng_timer *t, void (*fire)(struct iot_engine *, struct eng_timer *));
/* (Re)arm t to fire delay_ms from now. 0, or -1 out of memory (t is then not armed). */
int eng_timer_arm(struct iot_engine *engine, struct eng_timer *t, long delay_ms);
void eng_timer_disarm(struct iot_engine *engine, struct eng_timer *t);  /* armed or not */

/* ================================================================ items and events */

struct eng_item {
    uint64_t id;
    void *user;
    enum iot_event_kind kind;
    int stream;                         /* many events; live until eng_item_finish */
    struct dl live;                     /* engine->items while live */
    struct dl ready;                    /* engine->events while an event waits to pop */
    struct iot_result *result;          /* IOT_EV_CALL: the one event's result */
    /* Stream items: fill ev's payload for the event being popped (kind, id and user are
     * set already); call eng_item_ready again when more events wait. */
    void (*pop)(struct iot_engine *engine, struct eng_item *item, struct iot_event *ev);
    /* Frees the item and whatever it owns (a result not yet popped included). Runs once:
     * after a one-shot item's pop, on cancel, on eng_item_finish or on iot_engine_free. */
    void (*destroy)(struct iot_engine *engine, struct eng_item *item);
    /* Runs once when the engine's deadline (iot_engine_set_deadline) passes while the
     * item is live and has no event waiting: it ends the item's work and queues its
     * event (it must not destroy the item). NULL: the deadline does not concern it. */
    void (*expire)(struct iot_engine *engine, struct eng_item *item);
};

uint64_t eng_next_id(struct iot_engine *engine);
void eng_item_track(struct iot_engine *engine, struct eng_item *item);   /* into live */
void eng_item_ready(struct iot_engine *engine, struct eng_item *item);   /* queue an event */
/* 1 when the engine has a deadline and it has passed. */
int eng_deadline_passed(const struct iot_engine *engine);
/* A stream item's owner ends it: no more events (a queued one is dropped), destroyed. */
void eng_item_finish(struct iot_engine *engine, struct eng_item *item);

/* ================================================================ fd sources */

enum { ENG_READ = 1, ENG_WRITE = 2 };

/* A file descriptor the engine waits on for its owner (a connection's socket). The
 * owner keeps the struct alive while it is added. `ready` runs from iot_engine_poll
 * with what the descriptor is ready for (ENG_READ / ENG_WRITE, ENG_READ also for an
 * error or hang-up, so the owner's read finds out). */
struct eng_source {
    int fd;
    unsigned interest;                  /* ENG_READ | ENG_WRITE */
    void (*ready)(struct iot_engine *engine, struct eng_source *source, unsigned events);
    struct dl link;                     /* engine->sources while added */
    size_t slot;                        /* its place in the wait being reported, or SIZE_MAX */
};

void eng_source_init(struct eng_source *s, int fd, unsigned interest,
                     void (*ready)(struct iot_engine *, struct eng_source *, unsigned));
void eng_source_add(struct iot_engine *engine, struct eng_source *s);
void eng_source_remove(struct iot_engine *engine, struct eng_source *s); /* added or not */
/* Change what s waits for (0: nothing, while it stays added). */
void eng_source_set_interest(struct eng_source *s, unsigned interest);

/* ================================================================ host names */

/* A stream waiting for its host name (engine_dns.c): answered runs on the loop when an
 * answer came; it then looks the name up again. */
struct dns_addrs;
struct eng_dns;
struct eng_dns_waiter {
    struct dl link;
    void (*answered)(struct iot_engine *engine, struct eng_dns_waiter *w);
};
void eng_dns_waiter_init(struct eng_dns_waiter *w,
                         void (*answered)(struct iot_engine *, struct eng_dns_waiter *));
/* The addresses of host:port from the engine's cache, resolved off the loop. 1 *out
 * holds a reference; 0 being resolved, w waits (w->answered runs when an answer came;
 * w NULL: the caller asks again on a later turn, as the HTTP queue does, the answer's
 * arrival waking the loop); -1 it could not be resolved, err says why. */
int eng_dns_lookup(struct iot_engine *engine, const char *host, int port,
                   struct dns_addrs **out, char *err, size_t err_size,
                   struct eng_dns_waiter *w);
void eng_dns_unwait(struct eng_dns_waiter *w);      /* waiting or not */
void eng_dns_free(struct iot_engine *engine);       /* from iot_engine_free */
struct eng_dns **eng_dns_slot(struct iot_engine *engine);

/* ================================================================ TLS contexts */

/* The engine's shared TLS context for a stream with options tls (engine_tls.c), a
 * reference the caller drops with net_tls_ctx_free; NULL with err set (a certificate or
 * key that cannot be read: TLSError). */
struct net_tls;
struct net_tls_ctx;
struct eng_tls;
struct net_tls_ctx *eng_tls_ctx(struct iot_engine *engine, const struct net_tls *tls,
                                struct iot_error *err);
/* The engine's shared trust store for ca_file (NULL: the system's) as the file is now
 * (tls_trust.h), a reference the caller drops with tls_trust_free; NULL with err set
 * (out of memory). */
struct tls_trust;
struct tls_trust *eng_tls_trust(struct iot_engine *engine, const char *ca_file,
                                struct iot_error *err);
/* A stream's TLS handshake completed (resumed: an earlier session). */
void eng_tls_count_handshake(struct iot_engine *engine, int resumed);
void eng_tls_free(struct iot_engine *engine);       /* from iot_engine_free */
struct eng_tls **eng_tls_slot(struct iot_engine *engine);

/* ================================================================ transports */

/* The HTTP layer (http.c) the engine owns; http.c reaches its state through this. */
struct http_layer;
struct http_layer *eng_http(struct iot_engine *engine);

#endif
