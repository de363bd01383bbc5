/*
 * engine.c — the event loop: lists, the clock, the timer heap, items and their events,
 * fd sources, and the loop that drives the transports (engine.h, client.h).
 *
 * One turn of iot_engine_poll: due timers fire, the HTTP layer makes progress, the
 * engine waits (at most until the next timer) for the transports' descriptors and the
 * fd sources together, reports ready sources, and the HTTP layer goes on. Events queue
 * in completion order and are popped by the caller.
 */
#include "engine.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "http.h"

struct iot_engine {
    struct http_layer *http;    /* libcurl and the native HTTP/1.1 transport */
    struct eng_timer **heap;    /* min-heap on (due_ms, seq) */
    size_t nheap, heap_cap;
    uint64_t timer_seq;
    struct dl items;            /* eng_item.live: not yet finished */
    size_t nitems;
    struct dl events;           /* eng_item.ready: events to pop */
    size_t nevents;
    uint64_t next_id;
    struct dl sources;          /* eng_source.link */
    size_t nsources;
    struct pollfd *pfds;        /* the sources' descriptors for one wait (reused) */
    struct eng_source **waited; /* waited[i] is the source of pfds[i]; NULL once removed */
    size_t pfds_cap;
    uint64_t rng;
    double (*random)(void *ctx);
    void *random_ctx;
    time_t (*wall_clock)(void *ctx);
    void *clock_ctx;
    int64_t deadline_ms;        /* monotonic; 0: none */
    int deadline_expired;       /* the live items were expired for deadline_ms */
    struct eng_dns *dns;        /* host names for the streams (engine_dns.c); NULL until one */
    struct eng_tls *tls;        /* TLS contexts for the streams (engine_tls.c); NULL until one */
};

struct eng_dns **eng_dns_slot(struct iot_engine *e)
{
    return &e->dns;
}

struct eng_tls **eng_tls_slot(struct iot_engine *e)
{
    return &e->tls;
}

struct http_layer *eng_http(struct iot_engine *e)
{
    return e->http;
}

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

void eng_item_finish(struct iot_engine *e, struct eng_item *item)
{
    item_forget(e, item);
    item->destroy(e, item);
}

int iot_engine_next_event(struct iot_engine *e, struct iot_event *ev_out)
{
    if (!e || dl_empty(&e->events))
        return 0;
    struct eng_item *item = DL_CONTAINER(e->events.next, struct eng_item, ready);
    ev_out->kind = item->kind;
    ev_out->id = item->id;
    ev_out->user = item->user;
    ev_out->result = item->result;
    ev_out->payload = NULL;
    item->result = NULL;
    if (item->stream) {
        dl_remove(&item->ready);
        e->nevents--;
        item->pop(e, item, ev_out);
        return 1;
    }
    item_forget(e, item);
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
        eng_item_finish(e, item);
        return 1;
    }
    return 0;
}

size_t iot_engine_pending(const struct iot_engine *e)
{
    return e ? e->nitems : 0;
}

/* ================================================================ fd sources */

void eng_source_init(struct eng_source *s, int fd, unsigned interest,
                     void (*ready)(struct iot_engine *, struct eng_source *, unsigned))
{
    s->fd = fd;
    s->interest = interest;
    s->ready = ready;
    s->slot = SIZE_MAX;
    dl_init(&s->link);
}

void eng_source_add(struct iot_engine *e, struct eng_source *s)
{
    if (dl_linked(&s->link))
        return;
    dl_push_back(&e->sources, &s->link);
    e->nsources++;
}

void eng_source_remove(struct iot_engine *e, struct eng_source *s)
{
    if (!dl_linked(&s->link))
        return;
    dl_remove(&s->link);
    e->nsources--;
    if (s->slot != SIZE_MAX) {          /* removed while its wait is being reported */
        e->waited[s->slot] = NULL;
        s->slot = SIZE_MAX;
    }
}

void eng_source_set_interest(struct eng_source *s, unsigned interest)
{
    s->interest = interest;
}

/* The sources that wait for something, as pollfds in e->pfds; their number, or -1 when
 * memory runs out. */
static int gather_sources(struct iot_engine *e)
{
    if (e->nsources > e->pfds_cap) {
        struct pollfd *p = realloc(e->pfds, e->nsources * sizeof *p);
        if (!p)
            return -1;
        e->pfds = p;
        struct eng_source **w = realloc(e->waited, e->nsources * sizeof *w);
        if (!w)
            return -1;
        e->waited = w;
        e->pfds_cap = e->nsources;
    }
    int n = 0;
    for (struct dl *l = e->sources.next; l != &e->sources; l = l->next) {
        struct eng_source *s = DL_CONTAINER(l, struct eng_source, link);
        if (!s->interest)
            continue;
        e->pfds[n].fd = s->fd;
        e->pfds[n].events = (short)((s->interest & ENG_READ ? POLLIN : 0) |
                                    (s->interest & ENG_WRITE ? POLLOUT : 0));
        e->pfds[n].revents = 0;
        e->waited[n] = s;
        n++;
    }
    return n;
}

/* Runs the ready hook of each source gathered whose descriptor reported. A hook may
 * remove any source (eng_source_remove then clears its slot), so a slot is read again
 * just before its hook runs: one pass, however many sources there are. */
static void report_sources(struct iot_engine *e, int n)
{
    for (int i = 0; i < n; i++)
        e->waited[i]->slot = (size_t)i;
    for (int i = 0; i < n; i++) {
        struct eng_source *s = e->waited[i];
        short rev = e->pfds[i].revents;
        if (!s || !rev)
            continue;
        unsigned events = (rev & (POLLIN | POLLERR | POLLHUP | POLLNVAL) ? ENG_READ : 0) |
                          (rev & POLLOUT ? ENG_WRITE : 0);
        s->ready(e, s, events & (s->interest | ENG_READ));
    }
    for (int i = 0; i < n; i++)
        if (e->waited[i])
            e->waited[i]->slot = SIZE_MAX;
}

/* ================================================================ engine */

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
    if (!e || !(e->http = http_layer_new(opts))) {
        free(e);
        engine_error(err_out, "InternalError", "out of memory creating the HTTP engine");
        return NULL;
    }
    dl_init(&e->items);
    dl_init(&e->events);
    dl_init(&e->sources);
    e->random = opts->random;
    e->random_ctx = opts->random_ctx;
    e->wall_clock = opts->wall_clock;
    e->clock_ctx = opts->clock_ctx;
    if (getrandom(&e->rng, sizeof e->rng, GRND_NONBLOCK) != (ssize_t)sizeof e->rng || !e->rng)
        e->rng = (uint64_t)eng_now_ms() * 0x9E3779B97F4A7C15ULL | 1;
    return e;
}

void iot_engine_set_max_connections(struct iot_engine *e, int max_connections)
{
    if (e && max_connections > 0)
        http_layer_set_max_connections(e, max_connections);
}

void iot_engine_free(struct iot_engine *e)
{
    if (!e)
        return;
    while (!dl_empty(&e->items))
        eng_item_finish(e, DL_CONTAINER(e->items.next, struct eng_item, live));
    eng_dns_free(e);
    eng_tls_free(e);
    http_layer_free(e);
    free(e->heap);
    free(e->pfds);
    free(e->waited);
    free(e);
}

/* ================================================================ the deadline */

void iot_engine_set_deadline(struct iot_engine *e, int64_t deadline_ms)
{
    if (!e)
        return;
    e->deadline_ms = deadline_ms > 0 ? deadline_ms : 0;
    e->deadline_expired = 0;
}

int eng_deadline_passed(const struct iot_engine *e)
{
    return e->deadline_ms > 0 && eng_now_ms() >= e->deadline_ms;
}

/* Once the deadline has passed, every live item with an expire hook and no event
 * waiting is expired (the hooks queue events, which leaves the live list as it is). */
static void expire_at_deadline(struct iot_engine *e)
{
    if (e->deadline_expired || !eng_deadline_passed(e))
        return;
    e->deadline_expired = 1;
    for (struct dl *n = e->items.next; n != &e->items; n = n->next) {
        struct eng_item *item = DL_CONTAINER(n, struct eng_item, live);
        if (item->expire && !dl_linked(&item->ready))
            item->expire(e, item);
    }
}

/* Milliseconds from now until due_ms on the monotonic clock: 0 when due, at most INT32_MAX. */
static long ms_until(int64_t due_ms)
{
    int64_t d = due_ms - eng_now_ms();
    return d < 0 ? 0 : d > INT32_MAX ? INT32_MAX : (long)d;
}

/* Milliseconds until the deadline matters (0 when due), or -1: no deadline, or no item
 * left for it to end. */
static long deadline_wait_ms(const struct iot_engine *e)
{
    if (!e->deadline_ms || e->deadline_expired || e->nitems == 0)
        return -1;
    return ms_until(e->deadline_ms);
}

/* Milliseconds until the nearest timer or the deadline (0 when due), or -1 when none. */
static long timer_wait_ms(const struct iot_engine *e)
{
    long best = deadline_wait_ms(e);
    if (e->nheap == 0)
        return best;
    long t = ms_until(e->heap[0]->due_ms);
    return best < 0 || t < best ? t : best;
}

/* Sources waiting for something. */
static int sources_waiting(const struct iot_engine *e)
{
    for (struct dl *l = e->sources.next; l != &e->sources; l = l->next)
        if (DL_CONTAINER(l, struct eng_source, link)->interest)
            return 1;
    return 0;
}

long iot_engine_next_timeout_ms(struct iot_engine *e)
{
    if (!e)
        return -1;
    if (!dl_empty(&e->events))
        return 0;
    long best = http_layer_timeout_ms(e);
    long t = timer_wait_ms(e);
    if (t >= 0 && (best < 0 || t < best))
        best = t;
    if (best < 0 && sources_waiting(e))
        best = 1000;                    /* only sources: they wake the wait themselves */
    return best;
}

/* One round of work that never waits. */
static int run_once(struct iot_engine *e)
{
    expire_at_deadline(e);
    fire_due_timers(e);
    if (http_layer_progress(e) != 0)
        return -1;
    fire_due_timers(e);
    http_layer_flush(e);
    return 0;
}

/* Wait for the transports' I/O and the sources, or for wait_ms to pass. */
static int wait_for_io(struct iot_engine *e, int wait_ms)
{
    int n = e->nsources ? gather_sources(e) : 0;
    if (n < 0)
        return -1;
    if (http_layer_wait(e, wait_ms, e->pfds, (size_t)n) != 0)
        return -1;
    report_sources(e, n);
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
    long t = timer_wait_ms(e);
    if (t >= 0 && (wait < 0 || t < wait))
        wait = (int)t;
    if (!http_layer_pending(e) && t < 0 && !sources_waiting(e))
        return (int)e->nevents;     /* nothing pending: never block forever */
    if (wait < 0)
        wait = 1000;
    if (wait > 0 && wait_for_io(e, wait) != 0)
        return -1;
    if (run_once(e) != 0)
        return -1;
    return (int)e->nevents;
}
