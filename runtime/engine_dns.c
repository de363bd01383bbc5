/*
 * engine_dns.c — the engine's host names for its streams (the MQTT client): one
 * dns_cache (dns_cache.h) per engine, its eventfd one of the engine's sources while a
 * name is being resolved, and the streams waiting for an answer. A device simulation
 * that connects a thousand clients to one endpoint resolves its name once, off the loop.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dns_cache.h"
#include "engine.h"

struct eng_dns {
    struct dns_cache *cache;
    struct eng_source source;
    struct dl waiters;                  /* eng_dns_waiter.link */
};

void eng_dns_waiter_init(struct eng_dns_waiter *w,
                         void (*answered)(struct iot_engine *, struct eng_dns_waiter *))
{
    dl_init(&w->link);
    w->answered = answered;
}

void eng_dns_unwait(struct eng_dns_waiter *w)
{
    dl_remove(&w->link);
}

/* The cache's eventfd is readable: take the answers, then tell every waiter (each looks
 * its name up again, and may wait again). */
static void answers_came(struct iot_engine *e, struct eng_source *s, unsigned events)
{
    (void)events;
    struct eng_dns *d = DL_CONTAINER(s, struct eng_dns, source);
    dns_cache_collect(d->cache);
    struct dl told;
    dl_init(&told);
    while (!dl_empty(&d->waiters)) {        /* move them out: a waiter may wait again */
        struct dl *n = d->waiters.next;
        dl_remove(n);
        dl_push_back(&told, n);
    }
    while (!dl_empty(&told)) {
        struct eng_dns_waiter *w = DL_CONTAINER(told.next, struct eng_dns_waiter, link);
        dl_remove(&w->link);
        w->answered(e, w);
    }
    eng_source_set_interest(&d->source, dns_cache_pending(d->cache) ? ENG_READ : 0);
}

static struct eng_dns *engine_dns(struct iot_engine *e)
{
    struct eng_dns **slot = eng_dns_slot(e);
    if (*slot)
        return *slot;
    struct eng_dns *d = calloc(1, sizeof *d);
    if (!d || !(d->cache = dns_cache_new())) {
        free(d);
        return NULL;
    }
    dl_init(&d->waiters);
    eng_source_init(&d->source, dns_cache_fd(d->cache), 0, answers_came);
    eng_source_add(e, &d->source);
    return *slot = d;
}

int eng_dns_lookup(struct iot_engine *e, const char *host, int port, struct dns_addrs **out,
                   char *err, size_t err_size, struct eng_dns_waiter *w)
{
    struct eng_dns *d = engine_dns(e);
    if (!d) {
        snprintf(err, err_size, "cannot resolve '%.100s': no resolver (out of memory)", host);
        return -1;
    }
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    int r = dns_cache_lookup(d->cache, host, service, out, err, err_size);
    if (r == 0) {
        if (w) {
            dl_remove(&w->link);
            dl_push_back(&d->waiters, &w->link);
        }
        eng_source_set_interest(&d->source, ENG_READ);
    }
    return r;
}

void eng_dns_free(struct iot_engine *e)
{
    struct eng_dns **slot = eng_dns_slot(e);
    struct eng_dns *d = *slot;
    if (!d)
        return;
    while (!dl_empty(&d->waiters))
        dl_remove(d->waiters.next);
    eng_source_remove(e, &d->source);
    dns_cache_free(d->cache);
    free(d);
    *slot = NULL;
}
