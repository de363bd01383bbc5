/*
 * http.h — the HTTP layer of the engine: transfers (one HTTP exchange each), a FIFO of
 * transfers waiting for a slot, libcurl's multi handle with a pool of easy handles, and
 * the native HTTP/1.1 transport (http1.h) beside it. Used by client.c and the unit tests;
 * the engine (engine.h) drives it.
 *
 * Nothing here calls out of the runtime: completion hooks (xfer->done) are runtime
 * functions, run from iot_engine_poll after libcurl has returned.
 */
#ifndef IOTLUA_HTTP_H
#define IOTLUA_HTTP_H

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "client.h"
#include "engine.h"
#include "http1.h"

struct h1_conn;
struct pollfd;

/* An easy handle of the engine's pool, with what it was last set up with beyond the
 * options every transfer sets: a transfer with the same settings skips curl_easy_reset
 * and the constant options (a reset frees them all and they are copied in again). */
struct easy_cfg {
    const char *ca_bundle;  /* the transfer's (http_handle keeps a copy instead) */
    int verify_tls;
    int http2;          /* CURL_HTTP_VERSION_2TLS + PIPEWAIT rather than 1.1 */
    int streamed;       /* a read callback was set (file body) */
};

struct http_handle {
    CURL *easy;
    struct easy_cfg cfg;
    char *ca_copy;      /* owned copy of the CA bundle the handle is set up with */
    int set_up;         /* cfg and ca_copy hold what the handle is set up with */
};

/* One HTTP exchange (one attempt). The owner sets the request fields, then submits. */
struct http_xfer {
    /* request */
    const char *url;
    const char *method;
    struct h1_headers headers;          /* added with http_xfer_add_header; besides them
                                         * only Host, User-Agent and Content-Length go */
    const char *body;                   /* in-memory body, body_len bytes */
    size_t body_len;
    int has_body;                       /* send a body (possibly empty) */
    FILE *file;                         /* or stream file_len bytes from file_start */
    int64_t file_start, file_len, file_sent;
    long timeout_ms, connect_timeout_ms;
    const char *ca_bundle;
    int verify_tls;
    /* response */
    CURLcode result;
    long status;
    long os_errno;
    int connected;                      /* TCP (and TLS) connect completed */
    int http_version;                   /* 10, 11, 20 (0: no response) */
    int new_connection;                 /* this attempt opened a connection */
    struct buf head;                    /* raw header lines of the last response */
    struct buf body_in;
    int too_large;
    char errbuf[CURL_ERROR_SIZE];
    /* engine */
    int native;                         /* on the native HTTP/1.1 transport (http1.h) */
    struct h1_conn *conn;               /* native: the connection while in flight */
    struct eng_timer deadline;          /* native: connect or total timeout */
    int64_t started_ms;                 /* native: when the exchange began */
    /* At the queue's head, waiting for its host name or a TLS session (http1.h): since
     * when (0: not now), why, and how long the waits before took (its connect timeout
     * covers them all). */
    int64_t wait_began_ms;
    int wait_reason;
    long waited_ms;
    /* what it still waited for when its connect timeout ran out there ("its host name to
     * resolve", "a TLS session"); NULL when that is not how it failed */
    const char *timed_out_waiting_for;
    struct http_handle handle;          /* handle.easy: the pool's handle while active */
    struct curl_slist *curl_headers;    /* libcurl: the list made from headers */
    struct dl queue;                    /* engine->waiting while queued */
    int active;                         /* added to the multi handle */
    void (*done)(struct iot_engine *engine, struct http_xfer *x);
    /* Optional: run when x leaves the queue, right before it goes to curl (sign here so
     * the date is fresh and queued transfers hold no headers). Returns 0 to go on; -1
     * when it has dealt with x itself (x is then not started, done is not called). */
    int (*prepare)(struct iot_engine *engine, struct http_xfer *x);
};

#define HTTP_MAX_RESPONSE_BYTES (64u * 1024u * 1024u)

void http_xfer_init(struct http_xfer *x);
/* Back to the state after init (no headers), keeping the buffers' memory. */
void http_xfer_reset(struct http_xfer *x);
void http_xfer_free(struct http_xfer *x);
/* Add a request header. 0; -1 out of memory; -2 a name that is not an HTTP token or a
 * value holding CR or LF (nothing is added). */
int http_xfer_add_header(struct http_xfer *x, const char *name, const char *value);

/* Queue x; it starts when a slot is free; x->done runs on completion. 0 / -1 (OOM). */
int http_submit(struct iot_engine *engine, struct http_xfer *x);
/* Abort x wherever it is (queued or in flight); x->done is not called. */
void http_abort(struct iot_engine *engine, struct http_xfer *x);

/* The native transport finished x (x->result and the response fields are set). */
void http_native_done(struct iot_engine *engine, struct http_xfer *x);

/* ================================================================ the layer the engine drives */

/* engine.c owns the layer: made with the engine, freed after its items are destroyed. */
struct http_layer *http_layer_new(const struct iot_engine_opts *opts);  /* NULL: OOM */
void http_layer_free(struct iot_engine *engine);
void http_layer_set_max_connections(struct iot_engine *engine, int max_connections);
/* 1 while a transfer is queued or in flight. */
int http_layer_pending(struct iot_engine *engine);
/* How soon the layer needs a turn: -1 nothing to do, 0 now, else milliseconds. */
long http_layer_timeout_ms(struct iot_engine *engine);
/* A turn without waiting: start queued transfers, let both transports read and write,
 * complete what finished. 0, or -1 when libcurl fails. */
int http_layer_progress(struct iot_engine *engine);
/* After the turn's timers: start what they queued and send what was started. */
void http_layer_flush(struct iot_engine *engine);
/* Wait at most wait_ms for either transport's I/O or for one of extra[0..n) (their
 * revents are filled in). 0, or -1 on failure. */
int http_layer_wait(struct iot_engine *engine, int wait_ms, struct pollfd *extra, size_t n);

#endif
