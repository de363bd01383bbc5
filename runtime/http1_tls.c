/*
 * http1_tls.c — the TLS side of the native HTTP/1.1 transport (see http1.h): the pool's
 * contexts (one shared net_tls_ctx, net_stream.h, per set of CA options in use, made when
 * a connection first needs it, so the trust store is loaded once per engine rather than
 * once per connection, and the servers' sessions are kept for resumption), the handshake
 * of a connection, its reads and writes through the stream, and the wait for the first
 * connection's session.
 */
#define _GNU_SOURCE
#include "http1_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "http.h"
#include "tls_trust.h"

struct h1_tls_entry {
    char *ca_bundle;                /* NULL: the system store */
    int verify;
    struct net_tls_ctx *ctx;
};

static int same_ca(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

struct net_tls_ctx *h1_tls_ctx(struct iot_engine *e, struct h1_tls_set *set,
                               const char *ca_bundle, int verify, struct iot_error *err)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i].verify == verify && same_ca(set->v[i].ca_bundle, ca_bundle))
            return set->v[i].ctx;
    struct net_tls alpn = {ca_bundle, NULL, NULL, "http/1.1", NULL, verify, NULL, NULL, NULL};
    struct h1_tls_entry *v = realloc(set->v, (set->n + 1) * sizeof *v);
    if (!v) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    set->v = v;
    char *copy = ca_bundle ? strdup(ca_bundle) : NULL;
    if (ca_bundle && !copy) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    alpn.trust = verify ? eng_tls_trust(e, ca_bundle, err) : NULL;
    struct net_tls_ctx *ctx = !verify || alpn.trust ? net_tls_ctx_new(&alpn, err) : NULL;
    tls_trust_free(alpn.trust);         /* the context holds its own reference */
    if (!ctx) {
        free(copy);
        return NULL;
    }
    v[set->n++] = (struct h1_tls_entry){copy, verify, ctx};
    return ctx;
}

void h1_tls_set_free(struct h1_tls_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].ca_bundle);
        net_tls_ctx_free(set->v[i].ctx);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

/* ================================================================ connections */

void h1_tls_session_wait_over(struct iot_engine *e, struct eng_timer *t)
{
    (void)e;
    (void)t;                            /* the turn after the timers starts the queue */
}

/* 1 when idle TLS connection c has had nothing to say: what reached it (a session
 * ticket, say) is read through TLS, and any data, close_notify or close ends it. */
int h1_tls_idle_quiet(struct h1_conn *c)
{
    char byte;
    struct iot_error err;
    return net_stream_read(&c->ns, &byte, 1, &err) == 0;
}

/* The TLS session of c ended or failed during the exchange (err says how). A body that
 * ends with the connection must end with close_notify: a bare TCP close could be an
 * attacker's truncation. */
void h1_tls_read_ended(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c,
                       const struct iot_error *err)
{
    if (c->ns.eof == NET_EOF_NOTIFY || (c->ns.eof == NET_EOF_TCP &&
                                        c->resp.state != H1_BODY_CLOSE)) {
        h1_peer_closed(e, p, c, 0);
        return;
    }
    h1_fail_xfer(e, p, c->x, c->ns.eof ? CURLE_PARTIAL_FILE : CURLE_RECV_ERROR,
                 c->ns.eof ? "the TLS connection closed without close_notify before the "
                             "body's end" : err->message);
}

/* send_request over TLS: the records of what is left, and those still queued. */
int h1_tls_send_request(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c)
{
    struct iot_error err;
    while (c->out_sent < c->out.len || net_stream_has_pending(&c->ns)) {
        long n = net_stream_write(&c->ns, c->out.data + c->out_sent,
                                  c->out.len - c->out_sent, &err);
        if (n < 0) {
            h1_fail_xfer(e, p, c->x, CURLE_SEND_ERROR, err.message);
            return -1;
        }
        if (n == 0)
            return 0;                   /* the socket is full: on to the next event */
        c->out_sent += (size_t)n;
    }
    return 0;
}

/* Drive the handshake: 0 done (send the request), 1 still going, -1 x was finished. */
int h1_tls_handshake_step(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c)
{
    struct iot_error err;
    int r = net_stream_progress(&c->ns, &err);
    if (r == 0)
        return 1;
    if (r < 0) {
        h1_fail_xfer(e, p, c->x, c->ns.cert_rejected ? CURLE_PEER_FAILED_VERIFICATION
                                                     : CURLE_SSL_CONNECT_ERROR, err.message);
        return -1;
    }
    c->handshaking = 0;
    c->tls_ready_ms = eng_now_ms();
    p->stats.tls_handshakes++;
    p->stats.tls_resumed += (uint64_t)net_stream_resumed(&c->ns);
    h1_conn_ready(e, c);
    return 0;
}

int h1_tls_start_handshake(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c)
{
    struct iot_error err;
    if (net_stream_start_tls(&c->ns, c->fd, c->host, c->tls_ctx, c->host_port, &err) != 0) {
        c->fd = -1;                     /* closed with the stream */
        h1_fail_xfer(e, p, c->x, CURLE_SSL_CONNECT_ERROR, err.message);
        return -1;
    }
    c->handshaking = 1;
    return h1_tls_handshake_step(e, p, c);
}

/* The TLS context for x's CA options; NULL when it cannot be made (x is then finished;
 * an unreadable CA bundle shows later, failing the handshake as a certificate error, as
 * libcurl reports it). */
struct net_tls_ctx *h1_tls_ctx_for(struct iot_engine *e, struct h1_pool *p,
                                   struct http_xfer *x)
{
    struct iot_error err;
    struct net_tls_ctx *ctx = h1_tls_ctx(e, &p->tls, x->ca_bundle, x->verify_tls, &err);
    if (ctx)
        return ctx;
    h1_set_error(x, err.message);
    x->result = strcmp(err.code, "TLSError") == 0 ? CURLE_SSL_CACERT_BADFILE
                                                  : CURLE_OUT_OF_MEMORY;
    dl_push_back(&p->completed, &x->queue);
    return NULL;
}

/* How long c may still bring a session: -1 no longer, 0 until its I/O (connecting or
 * handshaking), else the milliseconds left of SESSION_WAIT_MS after the handshake. */
static long session_wait_left(const struct h1_conn *c, int64_t now_ms)
{
    if (c->connecting || c->handshaking)
        return 0;
    int64_t left = c->tls_ready_ms + SESSION_WAIT_MS - now_ms;
    return !c->answered && left > 0 ? (long)left : -1;
}

/* Over list's connections to host_port with tls_ctx: -1 none, else with fresh_only the
 * shortest wait (session_wait_left, -1 when none may bring a session), or 0. */
static long origin_conn(const struct dl *list, const char *host_port,
                        const struct net_tls_ctx *tls_ctx, int fresh_only)
{
    int64_t now_ms = eng_now_ms();
    long best = -1;
    for (const struct dl *n = list->next; n != list; n = n->next) {
        const struct h1_conn *c = DL_CONTAINER(n, struct h1_conn, link);
        if (c->tls_ctx != tls_ctx || strcmp(c->host_port, host_port) != 0)
            continue;
        long w = fresh_only ? session_wait_left(c, now_ms) : 0;
        if (w >= 0 && (best < 0 || w < best))
            best = w;
    }
    return best;
}

int h1_tls_wait_for_session(struct iot_engine *e, struct h1_pool *p,
                            const struct http_xfer *x, const struct h1_url *u)
{
    struct iot_error err;
    struct net_tls_ctx *ctx = h1_tls_ctx(e, &p->tls, x->ca_bundle, x->verify_tls, &err);
    if (!ctx || net_tls_ctx_has_session(ctx, u->host_port) ||
        origin_conn(&p->idle, u->host_port, ctx, 0) >= 0)
        return 0;
    long wait = origin_conn(&p->busy, u->host_port, ctx, 1);
    if (wait > 0 && eng_timer_arm(e, &p->session_wait, wait) != 0)
        return 0;                       /* no timer to wake us: do not wait */
    return wait >= 0;
}
