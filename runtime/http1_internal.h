/*
 * http1_internal.h — what the native HTTP/1.1 transport's files share (http1.c: the
 * pool, connections and exchanges; http1_tls.c: their TLS side): the connection and pool
 * structures and the functions each calls in the other. Not for use outside them.
 */
#ifndef IOTLUA_HTTP1_INTERNAL_H
#define IOTLUA_HTTP1_INTERNAL_H

#include "dns_cache.h"
#include <curl/curl.h>
#include <netdb.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "engine.h"
#include "http1.h"
#include "net_stream.h"

#define MAX_EVENTS 256

/* How long after its handshake the first connection to a server may keep the others
 * waiting for the session it should bring (TLS 1.3 tickets come after the handshake; a
 * server that gives none, or answers slowly, delays them by no more than this). */
#define SESSION_WAIT_MS 100

struct h1_conn {
    int fd;
    struct h1_pool *pool;
    struct dl link;                     /* pool->idle or pool->busy */
    struct dl unsent;                   /* pool->unsent while its request waits to go out */
    char host_port[270];                /* the origin: the reuse key */
    char host[256];                     /* https://: SNI and the name verified */
    struct http_xfer *x;                /* the exchange on it; NULL when idle */
    struct buf out;                     /* the request being sent */
    size_t out_sent;
    struct h1_response resp;
    int connecting;
    int reused;                         /* carried an earlier exchange */
    int answered;                       /* an exchange on it completed */
    int64_t tls_ready_ms;               /* when its handshake completed */
    int got_bytes;                      /* this exchange has received bytes */
    struct dns_addrs *addrs;            /* while connecting: the addresses, and */
    const struct addrinfo *next_addr;   /* the next one to try */
    int64_t idle_since_us;              /* eng_now_us() when it went idle */
    int drained;                        /* the read that ended the last response left
                                           nothing unread in the socket */
    struct net_tls_ctx *tls_ctx;        /* https://: the context; NULL for plain */
    int handshaking;                    /* TCP connected, TLS handshake under way */
    struct net_stream ns;               /* https://: the TLS session (ns.fd is fd) */
};

struct h1_pool {
    int epfd;
    int enabled;                        /* http:// */
    int tls_enabled;                    /* https:// */
    struct h1_tls_set tls;
    struct h1_stats stats;
    int max_connections;
    int nconns;                         /* open: busy + idle */
    int nbusy;
    struct dl idle;                     /* most recently used last */
    struct dl busy;
    struct dl completed;                /* http_xfer.queue: finished, not yet handed back */
    struct dl unsent;                   /* h1_conn.unsent: requests written, not yet sent */
    int64_t reported_us;                /* when epoll_wait last reported on every connection */
    struct eng_timer session_wait;      /* wakes the loop when a session wait is over */
    struct epoll_event events[MAX_EVENTS];
};

/* ---------------------------------------------------------------- in http1.c */

void h1_set_error(struct http_xfer *x, const char *text);
/* x failed with result (text into its error buffer when not NULL); its connection closes. */
void h1_fail_xfer(struct iot_engine *e, struct h1_pool *p, struct http_xfer *x,
                  CURLcode result, const char *text);
/* The peer closed (err 0) or reset (err: errno) c during its exchange. */
void h1_peer_closed(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c, int err);
void h1_conn_ready(struct iot_engine *e, struct h1_conn *c);

/* ---------------------------------------------------------------- in http1_tls.c */

/* h1_wait_to_start's half for https:// (u is x's URL): 1 while x should wait for the
 * first connection to its server to bring a session back (see http1.h). */
int h1_tls_wait_for_session(struct iot_engine *e, struct h1_pool *p,
                            const struct http_xfer *x, const struct h1_url *u);

/* The TLS context for x's CA options, or NULL with x finished (queued as completed). */
struct net_tls_ctx *h1_tls_ctx_for(struct iot_engine *engine, struct h1_pool *p,
                                   struct http_xfer *x);
/* TLS over c's connected socket: 0 open, 1 handshaking, -1 x was finished. */
int h1_tls_start_handshake(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c);
int h1_tls_handshake_step(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c);
/* send_request over TLS: 0 sent or waiting for room, -1 x was finished. */
int h1_tls_send_request(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c);
/* c's TLS read ended or failed (err says how); x is finished. */
void h1_tls_read_ended(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c,
                       const struct iot_error *err);
/* 1 when idle connection c has had nothing to say (a session ticket is read and kept). */
int h1_tls_idle_quiet(struct h1_conn *c);
void h1_tls_session_wait_over(struct iot_engine *e, struct eng_timer *t);

#endif
