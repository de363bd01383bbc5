/*
 * http.c — the engine: HTTP on one libcurl multi handle, timers and the event queue;
 * see client.h (public) and http.h (internal).
 *
 * Plain http:// transfers go through the native HTTP/1.1 transport (http1.h) unless it
 * declines them; the rest through libcurl. Both count against max_inflight.
 *
 * Memory: a transfer waiting for a slot costs only its own struct; at most max_inflight
 * easy handles exist (pooled and reused, so their connection-independent state is
 * allocated once); the multi handle's connection cache keeps connections alive across
 * calls, tasks and clients.
 */
#include "http.h"
#include "http1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <poll.h>
#include <time.h>

#define DEFAULT_MAX_CONNECTIONS 64

struct iot_engine {
    CURLM *multi;               /* NULL until the first transfer libcurl carries */
    int max_connections, max_inflight, http2;
    int inflight_fixed;         /* max_inflight was given: it does not follow the cap */
    int inflight;               /* both transports */
    int curl_active;            /* of which on the curl multi handle */
    struct h1_pool *h1;         /* the native HTTP/1.1 transport */
    struct http_handle *pool;        /* idle easy handles */
    size_t npool;
    struct dl waiting;          /* http_xfer.queue */
    struct eng_timer **heap;    /* min-heap on (due_ms, seq) */
    size_t nheap, heap_cap;
    uint64_t timer_seq;
    struct dl items;            /* eng_item.live: not yet popped */
    size_t nitems;
    struct dl events;           /* eng_item.ready: events to pop */
    size_t nevents;
    uint64_t next_id;
    uint64_t rng;
    double (*random)(void *ctx);
    void *random_ctx;
    time_t (*wall_clock)(void *ctx);
    void *clock_ctx;
};

/* ================================================================ lists */

void dl_init(struct dl *head)
{
    head->prev = head->next = head;
}

int dl_empty(const struct dl *head)
{
    return head->next == head;
}

void dl_push_back(struct dl *head, struct dl *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

void dl_remove(struct dl *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    dl_init(node);
}

int dl_linked(const struct dl *node)
{
    return node->next != node;
}

/* ================================================================ clocks, random */

int64_t eng_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t eng_now_ms(void)
{
    return eng_now_us() / 1000;
}

double eng_random(struct iot_engine *e)
{
    if (e->random) {
        double r = e->random(e->random_ctx);
        return r < 0 ? 0 : r >= 1 ? 0.999999 : r;
    }
    /* xorshift64*: jitter needs spread, not secrecy. */
    e->rng ^= e->rng >> 12;
    e->rng ^= e->rng << 25;
    e->rng ^= e->rng >> 27;
    return (double)((e->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

time_t eng_wall_clock(struct iot_engine *e)
{
    return e->wall_clock ? e->wall_clock(e->clock_ctx) : time(NULL);
}

/* ================================================================ timer heap */

static int timer_less(const struct eng_timer *a, const struct eng_timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_set(struct iot_engine *e, size_t i, struct eng_timer *t)
{
    e->heap[i] = t;
    t->heap_index = i;
}

static void heap_up(struct iot_engine *e, size_t i)
{
    struct eng_timer *t = e->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(t, e->heap[parent]))
            break;
        heap_set(e, i, e->heap[parent]);
        i = parent;
    }
    heap_set(e, i, t);
}

static void heap_down(struct iot_engine *e, size_t i)
{
    struct eng_timer *t = e->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= e->nheap)
            break;
        if (c + 1 < e->nheap && timer_less(e->heap[c + 1], e->heap[c]))
            c++;
        if (!timer_less(e->heap[c], t))
            break;
        heap_set(e, i, e->heap[c]);
        i = c;
    }
    heap_set(e, i, t);
}

void eng_timer_init(struct eng_timer *t, void (*fire)(struct iot_engine *, struct eng_timer *))
{
    t->due_ms = 0;
    t->seq = 0;
    t->heap_index = SIZE_MAX;
    t->fire = fire;
}

int eng_timer_arm(struct iot_engine *e, struct eng_timer *t, long delay_ms)
{
    eng_timer_disarm(e, t);
    if (e->nheap == e->heap_cap) {
        size_t cap = e->heap_cap ? e->heap_cap * 2 : 64;
        struct eng_timer **h = realloc(e->heap, cap * sizeof *h);
        if (!h)
            return -1;
        e->heap = h;
        e->heap_cap = cap;
    }
    t->due_ms = eng_now_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->seq = ++e->timer_seq;
    heap_set(e, e->nheap++, t);
    heap_up(e, e->nheap - 1);
    return 0;
}

void eng_timer_disarm(struct iot_engine *e, struct eng_timer *t)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX || i >= e->nheap || e->heap[i] != t)
        return;
    t->heap_index = SIZE_MAX;
    struct eng_timer *last = e->heap[--e->nheap];
    if (i == e->nheap)
        return;
    heap_set(e, i, last);
    heap_down(e, i);
    heap_up(e, last->heap_index);
}

/* Fire every timer due by now; returns how many fired. */
static int fire_due_timers(struct iot_engine *e)
{
    int fired = 0;
    int64_t now = eng_now_ms();
    while (e->nheap > 0 && e->heap[0]->due_ms <= now) {
        struct eng_timer *t = e->heap[0];
        eng_timer_disarm(e, t);
        t->fire(e, t);
        fired++;
    }
    return fired;
}

/* ================================================================ items and events */

uint64_t eng_next_id(struct iot_engine *e)
{
    return ++e->next_id;
}

void eng_item_track(struct iot_engine *e, struct eng_item *item)
{
    dl_init(&item->ready);
    dl_push_back(&e->items, &item->live);
    e->nitems++;
}

void eng_item_ready(struct iot_engine *e, struct eng_item *item)
{
    if (dl_linked(&item->ready))
        return;
    dl_push_back(&e->events, &item->ready);
    e->nevents++;
}

static void item_forget(struct iot_engine *e, struct eng_item *item)
{
    if (dl_linked(&item->ready)) {
        dl_remove(&item->ready);
        e->nevents--;
    }
    if (dl_linked(&item->live)) {
        dl_remove(&item->live);
        e->nitems--;
    }
}

int iot_engine_next_event(struct iot_engine *e, struct iot_event *ev_out)
{
    if (!e || dl_empty(&e->events))
        return 0;
    struct eng_item *item = DL_CONTAINER(e->events.next, struct eng_item, ready);
    item_forget(e, item);
    ev_out->kind = item->kind;
    ev_out->id = item->id;
    ev_out->user = item->user;
    ev_out->result = item->result;
    item->result = NULL;
    item->destroy(e, item);
    return 1;
}

int iot_engine_cancel(struct iot_engine *e, uint64_t id)
{
    if (!e)
        return 0;
    for (struct dl *n = e->items.next; n != &e->items; n = n->next) {
        struct eng_item *item = DL_CONTAINER(n, struct eng_item, live);
        if (item->id != id)
            continue;
        item_forget(e, item);
        iot_result_free(item->result);
        item->result = NULL;
        item->destroy(e, item);
        return 1;
    }
    return 0;
}

size_t iot_engine_pending(const struct iot_engine *e)
{
    return e ? e->nitems : 0;
}

/* ---------------------------------------------------------------- user timers */

struct user_timer {
    struct eng_item item;
    struct eng_timer timer;
};

static void user_timer_fire(struct iot_engine *e, struct eng_timer *t)
{
    struct user_timer *ut = DL_CONTAINER(t, struct user_timer, timer);
    eng_item_ready(e, &ut->item);
}

static void user_timer_destroy(struct iot_engine *e, struct eng_item *item)
{
    struct user_timer *ut = DL_CONTAINER(item, struct user_timer, item);
    eng_timer_disarm(e, &ut->timer);
    free(ut);
}

int iot_engine_timer(struct iot_engine *e, long delay_ms, void *user, uint64_t *id_out)
{
    struct user_timer *ut = calloc(1, sizeof *ut);
    if (!ut)
        return -1;
    ut->item.id = eng_next_id(e);
    ut->item.user = user;
    ut->item.kind = IOT_EV_TIMER;
    ut->item.destroy = user_timer_destroy;
    eng_timer_init(&ut->timer, user_timer_fire);
    if (eng_timer_arm(e, &ut->timer, delay_ms) != 0) {
        free(ut);
        return -1;
    }
    eng_item_track(e, &ut->item);
    if (id_out)
        *id_out = ut->item.id;
    return 0;
}

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

/* The options that stay the same for every transfer of the engine. */
static CURLcode setup_constant(CURL *c, const struct easy_cfg *cfg)
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
    if (cfg->ca_bundle)
        rc |= curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_bundle);
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
    CURLcode rc = CURLE_OK;
    CURL *c = h->easy;
    struct easy_cfg cfg = {x->ca_bundle, x->verify_tls,
                           strncasecmp(x->url, "https:", 6) == 0 && e->http2 > 0,
                           x->has_body && x->file != NULL};
    /* Same settings as last time (and no read callback to clear): only the options of
     * this transfer change. Otherwise start over from a clean handle. The CA bundle is
     * compared with the handle's own copy (the client that named it may be gone). */
    if (!h->set_up || h->cfg.streamed || cfg.streamed || h->cfg.verify_tls != cfg.verify_tls ||
        h->cfg.http2 != cfg.http2 || !same_text(h->ca_copy, cfg.ca_bundle)) {
        h->set_up = 0;
        curl_easy_reset(c);
        rc |= setup_constant(c, &cfg);
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
    if (e->npool > 0) {
        *out = e->pool[--e->npool];
        return 0;
    }
    out->easy = curl_easy_init();
    out->ca_copy = NULL;
    out->set_up = 0;
    return out->easy ? 0 : -1;
}

static void pool_put(struct iot_engine *e, struct http_handle *h)
{
    if (e->npool < (size_t)e->max_inflight)
        e->pool[e->npool++] = *h;
    else
        handle_free(h);
}

static void xfer_finish(struct iot_engine *e, struct http_xfer *x, CURLcode result)
{
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
        curl_multi_remove_handle(e->multi, x->handle.easy);
        pool_put(e, &x->handle);
        memset(&x->handle, 0, sizeof x->handle);   /* the pool owns it now */
        e->inflight--;
        e->curl_active--;
    }
    x->active = 0;
    x->done(e, x);
}

void http_native_done(struct iot_engine *e, struct http_xfer *x)
{
    x->native = 0;
    x->active = 0;
    e->inflight--;
    x->done(e, x);
}

/* Hand x to the native transport; 0 it took x, 1 it declined (libcurl's turn). */
static int start_native(struct iot_engine *e, struct http_xfer *x)
{
    x->native = 1;
    x->active = 1;
    e->inflight++;
    if (h1_start(e, e->h1, x) == 0)
        return 0;
    x->native = 0;
    x->active = 0;
    e->inflight--;
    return 1;
}

static void apply_limits(struct iot_engine *e);

/* libcurl is set up for the first transfer it carries, not with the engine: a script
 * whose calls all take the native transport (plain http to an IP literal or localhost,
 * as with the emulator) never pays for curl_global_init, which initialises OpenSSL's
 * library (about 1.5 ms of a start-up of 5 here). 0 ready, -1 it cannot be set up. */
static int curl_ready(struct iot_engine *e)
{
    if (e->multi)
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(e->multi = curl_multi_init()))
        return -1;
    apply_limits(e);
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return 0;
}

static void start_waiting(struct iot_engine *e)
{
    while (e->inflight < e->max_inflight && !dl_empty(&e->waiting)) {
        struct http_xfer *x = DL_CONTAINER(e->waiting.next, struct http_xfer, queue);
        int native = h1_wants(e->h1, x);
        if (native && !h1_slot_free(e->h1))
            break;                      /* every native connection is busy: x waits */
        dl_remove(&x->queue);
        if (x->prepare && x->prepare(e, x) != 0)
            continue;
        if (native && start_native(e, x) == 0)
            continue;
        if (curl_ready(e) != 0) {
            snprintf(x->errbuf, sizeof x->errbuf, "libcurl could not be initialised");
            xfer_finish(e, x, CURLE_FAILED_INIT);
            continue;
        }
        struct http_handle h;
        /* xfer_setup ORs the setopt results: any failure is reported as FAILED_INIT. */
        int got = pool_get(e, &h) == 0;
        CURLcode rc = !got ? CURLE_OUT_OF_MEMORY
                      : xfer_setup(e, x, &h) != CURLE_OK ? CURLE_FAILED_INIT : CURLE_OK;
        if (rc == CURLE_OK && curl_multi_add_handle(e->multi, h.easy) != CURLM_OK)
            rc = CURLE_OUT_OF_MEMORY;
        if (rc != CURLE_OK) {
            if (got)
                pool_put(e, &h);
            xfer_finish(e, x, rc);
            continue;
        }
        x->handle = h;
        x->active = 1;
        e->inflight++;
        e->curl_active++;
    }
    h1_send_started(e, e->h1);
}

int http_submit(struct iot_engine *e, struct http_xfer *x)
{
    if (x->active || dl_linked(&x->queue))
        return -1;
    dl_push_back(&e->waiting, &x->queue);
    return 0;
}

void http_abort(struct iot_engine *e, struct http_xfer *x)
{
    if (dl_linked(&x->queue))
        dl_remove(&x->queue);
    if (x->active && x->native) {
        h1_abort(e, e->h1, x);
        x->native = 0;
        e->inflight--;
    } else if (x->active && x->handle.easy) {
        curl_multi_remove_handle(e->multi, x->handle.easy);
        pool_put(e, &x->handle);
        memset(&x->handle, 0, sizeof x->handle);   /* the pool owns it now */
        e->inflight--;
        e->curl_active--;
    }
    x->active = 0;
}

static void drain_completions(struct iot_engine *e)
{
    CURLMsg *m;
    int left;
    if (!e->multi)
        return;
    while ((m = curl_multi_info_read(e->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct http_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            xfer_finish(e, x, m->data.result);
    }
}

/* ================================================================ engine */

static void apply_limits(struct iot_engine *e)
{
    if (!e->multi)
        return;
    curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)e->max_connections);
    curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)e->max_connections);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->max_connections);
}

static int set_pool_size(struct iot_engine *e, int max_inflight)
{
    struct http_handle *pool = realloc(e->pool, (size_t)max_inflight * sizeof *pool);
    if (!pool)
        return -1;
    e->pool = pool;
    while (e->npool > (size_t)max_inflight)
        handle_free(&e->pool[--e->npool]);
    e->max_inflight = max_inflight;
    return 0;
}

static void engine_error(struct iot_error *err, const char *code, const char *message)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%s", message);
}

struct iot_engine *iot_engine_new(const struct iot_engine_opts *opts, struct iot_error *err_out)
{
    static const struct iot_engine_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    struct iot_engine *e = calloc(1, sizeof *e);
    if (!e)
        goto fail;
    dl_init(&e->waiting);
    dl_init(&e->items);
    dl_init(&e->events);
    e->max_connections = opts->max_connections > 0 ? opts->max_connections
                                                   : DEFAULT_MAX_CONNECTIONS;
    e->http2 = opts->http2 >= 0 ? 1 : 0;
    /* By default one transfer per connection: more would wait inside libcurl for a
     * connection with their timeout already running. With HTTP/2 they multiplex. */
    e->inflight_fixed = opts->max_inflight > 0;
    int inflight = e->inflight_fixed ? opts->max_inflight : e->max_connections;
    if (set_pool_size(e, inflight) != 0 || !(e->h1 = h1_pool_new(e->max_connections)))
        goto fail;
    e->random = opts->random;
    e->random_ctx = opts->random_ctx;
    e->wall_clock = opts->wall_clock;
    e->clock_ctx = opts->clock_ctx;
    if (getrandom(&e->rng, sizeof e->rng, GRND_NONBLOCK) != (ssize_t)sizeof e->rng || !e->rng)
        e->rng = (uint64_t)eng_now_ms() * 0x9E3779B97F4A7C15ULL | 1;
    return e;
fail:
    if (e)
        free(e->pool);
    free(e);
    engine_error(err_out, "InternalError", "out of memory creating the HTTP engine");
    return NULL;
}

void iot_engine_set_max_connections(struct iot_engine *e, int max_connections)
{
    if (!e || max_connections <= 0)
        return;
    e->max_connections = max_connections;
    apply_limits(e);
    h1_pool_set_max(e->h1, max_connections);
    if (!e->inflight_fixed)
        set_pool_size(e, max_connections);  /* on failure the old size stays: still correct */
}

void iot_engine_free(struct iot_engine *e)
{
    if (!e)
        return;
    while (!dl_empty(&e->items)) {
        struct eng_item *item = DL_CONTAINER(e->items.next, struct eng_item, live);
        iot_engine_cancel(e, item->id);
    }
    h1_pool_free(e->h1);
    while (e->npool > 0)
        handle_free(&e->pool[--e->npool]);
    free(e->pool);
    free(e->heap);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    free(e);
}

long iot_engine_next_timeout_ms(struct iot_engine *e)
{
    if (!e)
        return -1;
    if (!dl_empty(&e->events))
        return 0;
    long best = -1;
    if (e->inflight > 0 || !dl_empty(&e->waiting)) {
        long curl_ms = -1;
        if (e->multi)
            curl_multi_timeout(e->multi, &curl_ms);
        best = curl_ms < 0 ? 100 : curl_ms;   /* curl without a timer still has sockets */
        if (!dl_empty(&e->waiting) && e->inflight < e->max_inflight)
            best = 0;
    }
    if (e->nheap > 0) {
        int64_t d = e->heap[0]->due_ms - eng_now_ms();
        long t = d < 0 ? 0 : (long)d;
        if (best < 0 || t < best)
            best = t;
    }
    return best;
}

/* One round of work that never waits. */
static int run_once(struct iot_engine *e)
{
    int running = 0;
    fire_due_timers(e);
    start_waiting(e);
    if (e->curl_active > 0 && curl_multi_perform(e->multi, &running) != CURLM_OK)
        return -1;
    drain_completions(e);
    h1_process(e, e->h1);
    fire_due_timers(e);
    start_waiting(e);
    h1_flush(e, e->h1);
    return 0;
}

/* Wait for I/O on either transport or for wait_ms to pass. */
static int wait_for_io(struct iot_engine *e, int wait_ms)
{
    int h1_fd = h1_poll_fd(e->h1);
    if (e->curl_active > 0) {
        struct curl_waitfd extra = {h1_fd, CURL_WAIT_POLLIN, 0};
        return curl_multi_poll(e->multi, &extra, h1_fd >= 0 ? 1 : 0, wait_ms, NULL) == CURLM_OK
               ? 0 : -1;
    }
    if (h1_busy(e->h1) > 0) {
        h1_wait(e->h1, wait_ms);
        return 0;
    }
    poll(NULL, 0, wait_ms);             /* only timers pending */
    return 0;
}

int iot_engine_poll(struct iot_engine *e, int timeout_ms)
{
    if (!e)
        return -1;
    if (run_once(e) != 0)
        return -1;
    if (!dl_empty(&e->events) || timeout_ms == 0)
        return (int)e->nevents;
    int wait = timeout_ms;
    if (e->nheap > 0) {
        int64_t d = e->heap[0]->due_ms - eng_now_ms();
        int t = d < 0 ? 0 : d > INT32_MAX ? INT32_MAX : (int)d;
        if (wait < 0 || t < wait)
            wait = t;
    }
    if (e->inflight == 0 && dl_empty(&e->waiting) && e->nheap == 0)
        return (int)e->nevents;     /* nothing pending: never block forever */
    if (wait < 0)
        wait = 1000;
    if (wait > 0 && wait_for_io(e, wait) != 0)
        return -1;
    if (run_once(e) != 0)
        return -1;
    return (int)e->nevents;
}
