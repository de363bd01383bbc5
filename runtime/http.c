/*
 * http.c — the engine's HTTP layer: transfers, the queue of those waiting for a slot,
 * and libcurl's multi handle; see http.h. The engine (engine.c) drives it.
 *
 * http:// and https:// transfers go through the native HTTP/1.1 transport (http1.h)
 * unless it declines them (a host name that needs DNS, a proxy, a file body, HTTP/2
 * chosen); the rest through libcurl. Both count against max_inflight.
 *
 * Memory: a transfer waiting for a slot costs only its own struct; at most max_inflight
 * easy handles exist (pooled and reused, so their connection-independent state is
 * allocated once); the multi handle's connection cache keeps connections alive across
 * calls, tasks and clients.
 */
#include "http.h"
#include "http1.h"
#include "tls_trust.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_CONNECTIONS 64

struct http_layer {
    CURLM *multi;               /* NULL until the first transfer libcurl carries */
    int max_connections, max_inflight, http2;
    int inflight_fixed;         /* max_inflight was given: it does not follow the cap */
    int inflight;               /* both transports */
    int curl_active;            /* of which on the curl multi handle */
    int head_waits;             /* the queue's head waits on the native transport's I/O */
    uint64_t curl_transfers;    /* started on libcurl (iot_engine_http_stats) */
    struct h1_pool *h1;         /* the native HTTP/1.1 transport */
    struct tls_trust *system_trust;     /* libcurl's, once a connection verified with it */
    struct http_handle *pool;   /* idle easy handles */
    size_t npool;
    struct dl waiting;          /* http_xfer.queue */
};

/* ================================================================ transfers */

void http_xfer_init(struct http_xfer *x)
{
    memset(x, 0, sizeof *x);
    dl_init(&x->queue);
    eng_timer_init(&x->deadline, NULL);
}

void http_xfer_reset(struct http_xfer *x)
{
    h1_headers_reset(&x->headers);
    curl_slist_free_all(x->curl_headers);
    x->curl_headers = NULL;
    x->result = CURLE_OK;
    x->status = 0;
    x->os_errno = 0;
    x->connected = 0;
    x->wait_began_ms = 0;
    x->waited_ms = 0;
    x->timed_out_waiting_for = NULL;
    x->http_version = 0;
    x->new_connection = 0;
    x->too_large = 0;
    x->file_sent = 0;
    x->errbuf[0] = '\0';
    buf_reset(&x->head);
    buf_reset(&x->body_in);
}

void http_xfer_free(struct http_xfer *x)
{
    h1_headers_free(&x->headers);
    curl_slist_free_all(x->curl_headers);
    x->curl_headers = NULL;
    buf_free(&x->head);
    buf_free(&x->body_in);
}

int http_xfer_add_header(struct http_xfer *x, const char *name, const char *value)
{
    return h1_headers_add(&x->headers, name, value);
}

/* Headers libcurl adds on its own unless the list says "Name:"; the native transport
 * sends none of them either. */
static const char *const curl_default_headers[] = {"Accept", "Content-Type", "Expect"};
#define N_CURL_DEFAULTS (sizeof curl_default_headers / sizeof curl_default_headers[0])

/* One line for libcurl's list: "Name: value", or "Name;" for an empty value (libcurl
 * drops a header written "Name:"). */
static struct curl_slist *append_curl_line(struct curl_slist *list, struct buf *line,
                                           const char *name, size_t name_len,
                                           const char *value, size_t value_len)
{
    buf_reset(line);
    if (buf_append(line, name, name_len) != 0 ||
        buf_append(line, value_len ? ": " : ";", value_len ? 2 : 1) != 0 ||
        buf_append(line, value, value_len) != 0)
        return NULL;
    return curl_slist_append(list, buf_cstr(line));
}

/* x->curl_headers made from x->headers, plus "Name:" for each of libcurl's default
 * headers the request does not set itself. 0, or -1 out of memory. */
static int make_curl_headers(struct http_xfer *x)
{
    const struct h1_headers *h = &x->headers;
    struct curl_slist *list = NULL, *l;
    struct buf line = BUF_INIT;
    int named[N_CURL_DEFAULTS] = {0};
    size_t name_len, value_len;
    const char *value;
    for (const char *at = h->lines.data, *next;
         (next = h1_headers_next(h, at, &name_len, &value, &value_len)) != NULL; at = next) {
        for (size_t i = 0; i < N_CURL_DEFAULTS; i++)
            named[i] |= strlen(curl_default_headers[i]) == name_len &&
                        strncasecmp(curl_default_headers[i], at, name_len) == 0;
        if (!(l = append_curl_line(list, &line, at, name_len, value, value_len)))
            goto oom;
        list = l;
    }
    for (size_t i = 0; i < N_CURL_DEFAULTS; i++) {
        if (named[i])
            continue;
        buf_reset(&line);
        if (buf_printf(&line, "%s:", curl_default_headers[i]) != 0 ||
            !(l = curl_slist_append(list, buf_cstr(&line))))
            goto oom;
        list = l;
    }
    buf_free(&line);
    curl_slist_free_all(x->curl_headers);
    x->curl_headers = list;
    return 0;
oom:
    buf_free(&line);
    curl_slist_free_all(list);
    return -1;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct http_xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
        buf_reset(&x->head);    /* a new response (after 100 Continue, for example) */
    if (x->head.len + len > 1024 * 1024) {
        x->too_large = 1;
        return 0;
    }
    if (buf_append(&x->head, data, len) != 0)
        return 0;
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct http_xfer *x = ud;
    size_t len = size * n;
    if (x->body_in.len + len > HTTP_MAX_RESPONSE_BYTES) {
        x->too_large = 1;
        return 0;
    }
    return buf_append(&x->body_in, data, len) == 0 ? len : 0;
}

static size_t on_read(char *dest, size_t size, size_t n, void *ud)
{
    struct http_xfer *x = ud;
    size_t want = size * n;
    int64_t left = x->file_len - x->file_sent;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    size_t got = fread(dest, 1, want, x->file);
    if (got == 0)
        return CURL_READFUNC_ABORT;     /* the file shrank or failed: never send short */
    x->file_sent += (int64_t)got;
    return got;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct http_xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || offset > x->file_len)
        return CURL_SEEKFUNC_CANTSEEK;
    if (fseeko(x->file, (off_t)(x->file_start + offset), SEEK_SET) != 0)
        return CURL_SEEKFUNC_FAIL;
    x->file_sent = offset;
    return CURL_SEEKFUNC_OK;
}

static CURLcode set_body(CURL *c, struct http_xfer *x)
{
    CURLcode rc = CURLE_OK;
    if (x->file) {
        if (fseeko(x->file, (off_t)x->file_start, SEEK_SET) != 0)
            return CURLE_READ_ERROR;
        x->file_sent = 0;
        rc |= curl_easy_setopt(c, CURLOPT_POST, 1L);
        rc |= curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        rc |= curl_easy_setopt(c, CURLOPT_READDATA, x);
        rc |= curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        rc |= curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
        rc |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->file_len);
    } else {
        rc |= curl_easy_setopt(c, CURLOPT_POST, 1L);
        rc |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        rc |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body ? x->body : "");
    }
    if (strcmp(x->method, "POST") != 0)
        rc |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
    return rc;
}

static CURLcode set_method(CURL *c, struct http_xfer *x)
{
    if (x->has_body)
        return set_body(c, x);
    CURLcode rc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (strcmp(x->method, "GET") != 0)
        rc |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
    return rc;
}

/* libcurl's TLS connections verify against the system store as the native transport
 * does (tls_trust.h: certificates read as chains ask for them, one store shared by the
 * engine's connections) instead of libcurl decoding its whole CA bundle for the first
 * connection: one HTTPS publish through libcurl took 253 million instructions that way
 * with Debian's 145 certificates, 28 million this way (callgrind). */
static CURLcode on_curl_ssl_ctx(CURL *c, void *ssl_ctx, void *engine)
{
    (void)c;
    struct http_layer *hl = eng_http(engine);
    struct iot_error err;
    if (!hl->system_trust && !(hl->system_trust = eng_tls_trust(engine, NULL, &err)))
        return CURLE_OUT_OF_MEMORY;
    return tls_trust_attach(hl->system_trust, ssl_ctx, &err) == 0 ? CURLE_OK
                                                                  : CURLE_SSL_CACERT_BADFILE;
}

/* The options that stay the same for every transfer of the engine. */
static CURLcode setup_constant(struct iot_engine *e, CURL *c, const struct easy_cfg *cfg)
{
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(c, CURLOPT_USERAGENT, iot_user_agent());
    rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, cfg->verify_tls ? 1L : 0L);
    rc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, cfg->verify_tls ? 2L : 0L);
    if (cfg->ca_bundle) {
        rc |= curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_bundle);
    } else if (cfg->verify_tls) {           /* the system store, through on_curl_ssl_ctx */
        rc |= curl_easy_setopt(c, CURLOPT_CAINFO, (char *)NULL);
        rc |= curl_easy_setopt(c, CURLOPT_CAPATH, (char *)NULL);
        rc |= curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_curl_ssl_ctx);
        rc |= curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, (void *)e);
    }
    if (cfg->http2) {
        rc |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        rc |= curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    } else {
        rc |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }
    return rc;
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void handle_free(struct http_handle *h)
{
    curl_easy_cleanup(h->easy);
    h->easy = NULL;
    free(h->ca_copy);
    h->ca_copy = NULL;
    h->set_up = 0;
}

static CURLcode xfer_setup(struct iot_engine *e, struct http_xfer *x, struct http_handle *h)
{
    struct http_layer *hl = eng_http(e);
    CURLcode rc = CURLE_OK;
    CURL *c = h->easy;
    struct easy_cfg cfg = {x->ca_bundle, x->verify_tls,
                           strncasecmp(x->url, "https:", 6) == 0 && hl->http2 > 0,
                           x->has_body && x->file != NULL};
    /* Same settings as last time (and no read callback to clear): only the options of
     * this transfer change. Otherwise start over from a clean handle. The CA bundle is
     * compared with the handle's own copy (the client that named it may be gone). */
    if (!h->set_up || h->cfg.streamed || cfg.streamed || h->cfg.verify_tls != cfg.verify_tls ||
        h->cfg.http2 != cfg.http2 || !same_text(h->ca_copy, cfg.ca_bundle)) {
        h->set_up = 0;
        curl_easy_reset(c);
        rc |= setup_constant(e, c, &cfg);
        if (rc != CURLE_OK)
            return rc;
        free(h->ca_copy);
        h->ca_copy = cfg.ca_bundle ? strdup(cfg.ca_bundle) : NULL;
        h->cfg = cfg;
        h->cfg.ca_bundle = NULL;
        h->set_up = !cfg.ca_bundle || h->ca_copy;   /* no copy: start over next time */
    }
    rc |= curl_easy_setopt(c, CURLOPT_URL, x->url);
    rc |= curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    if (make_curl_headers(x) != 0)
        return CURLE_OUT_OF_MEMORY;
    rc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->curl_headers);
    rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->timeout_ms);
    rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms);
    /* set_method sets CUSTOMREQUEST only for other methods: clear the last one's. */
    rc |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    rc |= set_method(c, x);
    if (rc != CURLE_OK)
        h->set_up = 0;      /* unknown state: the next transfer starts over */
    return rc;
}

static int pool_get(struct iot_engine *e, struct http_handle *out)
{
    struct http_layer *hl = eng_http(e);
    if (hl->npool > 0) {
        *out = hl->pool[--hl->npool];
        return 0;
    }
    out->easy = curl_easy_init();
    out->ca_copy = NULL;
    out->set_up = 0;
    return out->easy ? 0 : -1;
}

static void pool_put(struct iot_engine *e, struct http_handle *h)
{
    struct http_layer *hl = eng_http(e);
    if (hl->npool < (size_t)hl->max_inflight)
        hl->pool[hl->npool++] = *h;
    else
        handle_free(h);
}

static void xfer_finish(struct iot_engine *e, struct http_xfer *x, CURLcode result)
{
    struct http_layer *hl = eng_http(e);
    x->result = result;
    if (x->handle.easy) {
        curl_easy_getinfo(x->handle.easy, CURLINFO_RESPONSE_CODE, &x->status);
        curl_easy_getinfo(x->handle.easy, CURLINFO_OS_ERRNO, &x->os_errno);
        /* Request bytes went out only once connected (TCP and, for https, TLS). */
        long sent = 0;
        curl_easy_getinfo(x->handle.easy, CURLINFO_REQUEST_SIZE, &sent);
        x->connected = sent > 0;
        long version = 0, nconn = 0;
        curl_easy_getinfo(x->handle.easy, CURLINFO_HTTP_VERSION, &version);
        curl_easy_getinfo(x->handle.easy, CURLINFO_NUM_CONNECTS, &nconn);
        x->http_version = version == CURL_HTTP_VERSION_2_0 ? 20
                          : version == CURL_HTTP_VERSION_1_1 ? 11
                          : version == CURL_HTTP_VERSION_1_0 ? 10 : 0;
        x->new_connection = nconn > 0;
        curl_multi_remove_handle(hl->multi, x->handle.easy);
        pool_put(e, &x->handle);
        memset(&x->handle, 0, sizeof x->handle);   /* the pool owns it now */
        hl->inflight--;
        hl->curl_active--;
    }
    x->active = 0;
    x->done(e, x);
}

void http_native_done(struct iot_engine *e, struct http_xfer *x)
{
    struct http_layer *hl = eng_http(e);
    x->native = 0;
    x->active = 0;
    hl->inflight--;
    x->done(e, x);
}

/* Hand x to the native transport; 0 it took x, 1 it declined (libcurl's turn). */
static int start_native(struct iot_engine *e, struct http_xfer *x)
{
    struct http_layer *hl = eng_http(e);
    x->native = 1;
    x->active = 1;
    hl->inflight++;
    if (h1_start(e, hl->h1, x) == 0)
        return 0;
    x->native = 0;
    x->active = 0;
    hl->inflight--;
    return 1;
}

static void apply_limits(struct http_layer *hl)
{
    if (!hl->multi)
        return;
    curl_multi_setopt(hl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)hl->max_connections);
    curl_multi_setopt(hl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)hl->max_connections);
    curl_multi_setopt(hl->multi, CURLMOPT_MAXCONNECTS, (long)hl->max_connections);
}

/* libcurl is set up for the first transfer it carries, not with the engine: a script
 * whose calls all take the native transport (plain http to an IP literal or localhost,
 * as with the emulator) never pays for curl_global_init, which initialises OpenSSL's
 * library (about 1.5 ms of a start-up of 5 here). 0 ready, -1 it cannot be set up. */
static int curl_ready(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    if (hl->multi)
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(hl->multi = curl_multi_init()))
        return -1;
    apply_limits(hl);
    curl_multi_setopt(hl->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return 0;
}

/* The connect timeout of x ran out while it waited at the queue's head (a resolver that
 * does not answer): it fails as libcurl's resolving would, and the queue moves on. */
static void wait_timed_out(struct iot_engine *e, struct eng_timer *t)
{
    struct http_xfer *x = DL_CONTAINER(t, struct http_xfer, deadline);
    dl_remove(&x->queue);
    x->wait_began_ms = 0;
    x->timed_out_waiting_for = x->wait_reason == H1_WAIT_DNS ? "its host name to resolve"
                                                             : "a TLS session";
    snprintf(x->errbuf, sizeof x->errbuf, "no connection in time: waiting for %s",
             x->timed_out_waiting_for);
    xfer_finish(e, x, CURLE_OPERATION_TIMEDOUT);
}

/* x waits at the queue's head for a reason of its own: the wait counts against its
 * connect timeout, from when it began. */
static void bound_wait(struct iot_engine *e, struct http_xfer *x, int reason)
{
    x->wait_reason = reason;
    if (x->wait_began_ms)
        return;
    long left = h1_connect_timeout_ms(x) - x->waited_ms;
    x->wait_began_ms = eng_now_ms();
    x->deadline.fire = wait_timed_out;
    eng_timer_arm(e, &x->deadline, left > 0 ? left : 0);
}

/* x's wait of its own is over (it starts, or waits for a connection slot, which is the
 * queue's and not counted): what it took is kept for the connect timeout. */
static void end_wait(struct iot_engine *e, struct http_xfer *x)
{
    if (!x->wait_began_ms)
        return;
    x->waited_ms += (long)(eng_now_ms() - x->wait_began_ms);
    x->wait_began_ms = 0;
    eng_timer_disarm(e, &x->deadline);
}

/* x leaves the queue and starts: on the native transport, else on libcurl. */
static void start_one(struct iot_engine *e, struct http_xfer *x, int native)
{
    struct http_layer *hl = eng_http(e);
    dl_remove(&x->queue);
    end_wait(e, x);                     /* the transport arms its own deadline */
    if (x->prepare && x->prepare(e, x) != 0)
        return;
    if (native && start_native(e, x) == 0)
        return;
    if (curl_ready(e) != 0) {
        snprintf(x->errbuf, sizeof x->errbuf, "libcurl could not be initialised");
        xfer_finish(e, x, CURLE_FAILED_INIT);
        return;
    }
    struct http_handle h;
    /* xfer_setup ORs the setopt results: any failure is reported as FAILED_INIT. */
    int got = pool_get(e, &h) == 0;
    CURLcode rc = !got ? CURLE_OUT_OF_MEMORY
                  : xfer_setup(e, x, &h) != CURLE_OK ? CURLE_FAILED_INIT : CURLE_OK;
    if (rc == CURLE_OK && curl_multi_add_handle(hl->multi, h.easy) != CURLM_OK)
        rc = CURLE_OUT_OF_MEMORY;
    if (rc != CURLE_OK) {
        if (got)
            pool_put(e, &h);
        xfer_finish(e, x, rc);
        return;
    }
    x->handle = h;
    x->active = 1;
    hl->inflight++;
    hl->curl_active++;
    hl->curl_transfers++;
}

/* How far past a head that waits for its host name or TLS session the queue is looked
 * at: bounded, so that a long queue for that one host costs a few checks per turn. */
#define PAST_WAITING_HEAD 32

/* The node at place i of the queue (0: its head), or the queue itself when it is shorter. */
static struct dl *queue_at(struct http_layer *hl, int i)
{
    struct dl *n = hl->waiting.next;
    while (i-- > 0 && n != &hl->waiting)
        n = n->next;
    return n;
}

/* The head waits for its own host (a name resolving, a first TLS session): the calls
 * queued just behind it that can start now (another host, or libcurl's) start, so one
 * slow name does not hold back the rest. Calls that would wait too keep their places,
 * and their own wait is counted only once they reach the head. After a start the next
 * call is found again by its place in the queue: starting one runs callbacks (a signing
 * that fails, a credentials fetch that ends) that may take other calls off the queue. */
static void start_past_waiting_head(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    int at = 1;
    struct dl *n = queue_at(hl, at);
    for (int looked = 0; looked < PAST_WAITING_HEAD && n != &hl->waiting &&
                         hl->inflight < hl->max_inflight; looked++) {
        struct http_xfer *x = DL_CONTAINER(n, struct http_xfer, queue);
        int native = h1_wants(hl->h1, x);
        if (native && !h1_slot_free(hl->h1))
            return;
        if (native && h1_wait_to_start(e, hl->h1, x) != 0) {
            n = n->next;                /* x keeps its place */
            at++;
            continue;
        }
        start_one(e, x, native);
        n = queue_at(hl, at);           /* the call that took x's place */
    }
}

static void start_waiting(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    hl->head_waits = 0;
    while (hl->inflight < hl->max_inflight && !dl_empty(&hl->waiting)) {
        struct http_xfer *x = DL_CONTAINER(hl->waiting.next, struct http_xfer, queue);
        int native = h1_wants(hl->h1, x);
        /* every native connection is busy, x's host name is being resolved, or the
         * first connection to x's server has not brought its TLS session back yet: x
         * waits (woken by that I/O, no spinning) */
        if (native && !h1_slot_free(hl->h1)) {
            hl->head_waits = 1;
            end_wait(e, x);
            break;
        }
        int reason = native ? h1_wait_to_start(e, hl->h1, x) : 0;
        if (reason) {
            hl->head_waits = 1;
            bound_wait(e, x, reason);
            start_past_waiting_head(e);
            break;
        }
        start_one(e, x, native);
    }
    h1_send_started(e, hl->h1);
}

int http_submit(struct iot_engine *e, struct http_xfer *x)
{
    struct http_layer *hl = eng_http(e);
    if (x->active || dl_linked(&x->queue))
        return -1;
    dl_push_back(&hl->waiting, &x->queue);
    return 0;
}

void http_abort(struct iot_engine *e, struct http_xfer *x)
{
    struct http_layer *hl = eng_http(e);
    if (dl_linked(&x->queue)) {
        dl_remove(&x->queue);
        end_wait(e, x);
    }
    if (x->active && x->native) {
        h1_abort(e, hl->h1, x);
        x->native = 0;
        hl->inflight--;
    } else if (x->active && x->handle.easy) {
        curl_multi_remove_handle(hl->multi, x->handle.easy);
        pool_put(e, &x->handle);
        memset(&x->handle, 0, sizeof x->handle);   /* the pool owns it now */
        hl->inflight--;
        hl->curl_active--;
    }
    x->active = 0;
}

static void drain_completions(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    CURLMsg *m;
    int left;
    if (!hl->multi)
        return;
    while ((m = curl_multi_info_read(hl->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct http_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            xfer_finish(e, x, m->data.result);
    }
}

/* ================================================================ the layer the engine drives */

static int set_pool_size(struct http_layer *hl, int max_inflight)
{
    struct http_handle *pool = realloc(hl->pool, (size_t)max_inflight * sizeof *pool);
    if (!pool)
        return -1;
    hl->pool = pool;
    while (hl->npool > (size_t)max_inflight)
        handle_free(&hl->pool[--hl->npool]);
    hl->max_inflight = max_inflight;
    return 0;
}

struct http_layer *http_layer_new(const struct iot_engine_opts *opts)
{
    struct http_layer *hl = calloc(1, sizeof *hl);
    if (!hl)
        return NULL;
    dl_init(&hl->waiting);
    hl->max_connections = opts->max_connections > 0 ? opts->max_connections
                                                    : DEFAULT_MAX_CONNECTIONS;
    hl->http2 = opts->http2 >= 0 ? 1 : 0;
    /* HTTP/2 chosen (1, not the default 0) leaves every https:// transfer to libcurl. */
    int native_tls = opts->http2 <= 0;
    /* By default one transfer per connection: more would wait inside libcurl for a
     * connection with their timeout already running. With HTTP/2 they multiplex. */
    hl->inflight_fixed = opts->max_inflight > 0;
    int inflight = hl->inflight_fixed ? opts->max_inflight : hl->max_connections;
    if (set_pool_size(hl, inflight) != 0 || !(hl->h1 = h1_pool_new(hl->max_connections, native_tls))) {
        free(hl->pool);
        free(hl);
        return NULL;
    }
    return hl;
}

int iot_engine_max_inflight(struct iot_engine *e)
{
    return eng_http(e)->max_inflight;
}

void iot_engine_http_stats(struct iot_engine *e, struct iot_http_stats *out)
{
    struct http_layer *hl = eng_http(e);
    const struct h1_stats *n = h1_pool_stats(hl->h1);
    out->native = n->exchanges;
    out->native_tls = n->tls_exchanges;
    out->tls_handshakes = n->tls_handshakes;
    out->tls_resumed = n->tls_resumed;
    out->libcurl = hl->curl_transfers;
}

void http_layer_set_max_connections(struct iot_engine *e, int max_connections)
{
    struct http_layer *hl = eng_http(e);
    hl->max_connections = max_connections;
    apply_limits(hl);
    h1_pool_set_max(hl->h1, max_connections);
    if (!hl->inflight_fixed)
        set_pool_size(hl, max_connections);  /* on failure the old size stays: still correct */
}

void http_layer_free(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    h1_pool_free(e, hl->h1);
    while (hl->npool > 0)
        handle_free(&hl->pool[--hl->npool]);
    free(hl->pool);
    if (hl->multi)
        curl_multi_cleanup(hl->multi);
    tls_trust_free(hl->system_trust);
    free(hl);
}

int http_layer_pending(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    return hl->inflight > 0 || !dl_empty(&hl->waiting);
}

long http_layer_timeout_ms(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    if (hl->inflight == 0 && dl_empty(&hl->waiting))
        return -1;
    long curl_ms = -1;
    if (hl->multi)
        curl_multi_timeout(hl->multi, &curl_ms);
    long best = curl_ms < 0 ? 100 : curl_ms;   /* curl without a timer still has sockets */
    if (!dl_empty(&hl->waiting) && hl->inflight < hl->max_inflight && !hl->head_waits)
        best = 0;
    return best;
}

int http_layer_progress(struct iot_engine *e)
{
    struct http_layer *hl = eng_http(e);
    int running = 0;
    start_waiting(e);
    if (hl->curl_active > 0 && curl_multi_perform(hl->multi, &running) != CURLM_OK)
        return -1;
    drain_completions(e);
    h1_process(e, hl->h1);
    return 0;
}

void http_layer_flush(struct iot_engine *e)
{
    start_waiting(e);
    h1_flush(e, eng_http(e)->h1);
}

/* Waits in curl_multi_poll with the native transport's descriptor and the extra ones
 * beside libcurl's own; copies back what the extra ones reported. */
static int wait_with_curl(struct http_layer *hl, int wait_ms, struct pollfd *extra, size_t n)
{
    struct curl_waitfd stack_fds[8];
    struct curl_waitfd *fds = stack_fds;
    size_t nfds = n + 1;
    if (nfds > sizeof stack_fds / sizeof stack_fds[0] && !(fds = malloc(nfds * sizeof *fds)))
        return -1;
    int h1_fd = h1_poll_fd(hl->h1);
    size_t k = 0;
    if (h1_fd >= 0)
        fds[k++] = (struct curl_waitfd){h1_fd, CURL_WAIT_POLLIN, 0};
    size_t first_extra = k;
    for (size_t i = 0; i < n; i++)
        fds[k++] = (struct curl_waitfd){extra[i].fd,
                                        (short)((extra[i].events & POLLIN ? CURL_WAIT_POLLIN : 0) |
                                                (extra[i].events & POLLOUT ? CURL_WAIT_POLLOUT : 0)),
                                        0};
    int rc = curl_multi_poll(hl->multi, fds, (unsigned)k, wait_ms, NULL) == CURLM_OK ? 0 : -1;
    for (size_t i = 0; i < n; i++) {
        short r = fds[first_extra + i].revents;
        extra[i].revents = (short)((r & CURL_WAIT_POLLIN ? POLLIN : 0) |
                                   (r & CURL_WAIT_POLLOUT ? POLLOUT : 0) |
                                   (r & CURL_WAIT_POLLPRI ? POLLPRI : 0));
    }
    if (fds != stack_fds)
        free(fds);
    return rc;
}

int http_layer_wait(struct iot_engine *e, int wait_ms, struct pollfd *extra, size_t n)
{
    struct http_layer *hl = eng_http(e);
    if (hl->curl_active > 0)
        return wait_with_curl(hl, wait_ms, extra, n);
    if (n == 0) {
        if (h1_busy(hl->h1) > 0)
            h1_wait(hl->h1, wait_ms);
        else
            poll(NULL, 0, wait_ms);     /* only timers pending */
        return 0;
    }
    /* The extra descriptors, and the native transport's after them when it is busy. */
    struct pollfd stack_fds[8];
    struct pollfd *fds = n + 1 <= 8 ? stack_fds : malloc((n + 1) * sizeof *fds);
    if (!fds)
        return -1;
    memcpy(fds, extra, n * sizeof *fds);
    nfds_t k = (nfds_t)n;
    if (h1_busy(hl->h1) > 0 && h1_poll_fd(hl->h1) >= 0)
        fds[k++] = (struct pollfd){h1_poll_fd(hl->h1), POLLIN, 0};
    int rc = poll(fds, k, wait_ms) < 0 && errno != EINTR ? -1 : 0;
    memcpy(extra, fds, n * sizeof *fds);
    if (fds != stack_fds)
        free(fds);
    return rc;
}
