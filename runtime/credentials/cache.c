/*
 * cache.c — credentials kept until due, refreshed once for every waiter, and the
 * client's credentials function (cache.h).
 */
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "engine.h"

/* After an advisory refresh failed, the next is not tried for this long (the old
 * credentials are still good; a failing endpoint is not asked on every call). */
#define ADVISORY_RETRY_S 10

struct cred_cache {
    struct cred_provider *provider;
    struct cred_credentials cached;     /* the provider's last answer */
    int have_cached;
    int advisory_s, mandatory_s;
    struct cred_credentials handed;     /* what the client's last attempt was given */
    int refreshing;                     /* a refresh through the engine is under way */
    time_t advisory_failed_at;          /* when the last advisory refresh failed, or 0 */
    int last_ok;                        /* how the last refresh ended, and why it failed */
    char last_error[CRED_ERROR_LEN];
    unsigned refreshes;
    struct iot_credentials_wait waiters; /* list head: callers woken when it ends */
};

struct cred_cache *cred_cache_new(struct cred_provider *provider, char err_out[CRED_ERROR_LEN])
{
    if (!provider)
        return NULL;
    struct cred_cache *c = calloc(1, sizeof *c);
    if (!c) {
        cred_provider_free(provider);
        cred_set_error(err_out, "out of memory");
        return NULL;
    }
    c->provider = provider;
    c->advisory_s = CRED_ADVISORY_WINDOW_S;
    c->mandatory_s = CRED_MANDATORY_WINDOW_S;
    c->waiters.prev = c->waiters.next = &c->waiters;
    return c;
}

struct cred_cache *cred_cache_resolve(const struct cred_chain_settings *settings,
                                      char err_out[CRED_ERROR_LEN])
{
    return cred_cache_new(cred_chain_resolve(settings, err_out), err_out);
}

/* ================================================================ waiters */

static void waiter_unlink(struct iot_credentials_wait *w)
{
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->holder = NULL;
}

static void waiter_keep(struct cred_cache *c, struct iot_credentials_wait *w)
{
    if (w->holder)
        return;     /* kept already */
    w->holder = c;
    w->prev = c->waiters.prev;
    w->next = &c->waiters;
    c->waiters.prev->next = w;
    c->waiters.prev = w;
}

void cred_cache_forget(void *holder, struct iot_credentials_wait *w)
{
    if (holder && w->holder == holder)
        waiter_unlink(w);
}

/* Wakes every waiter kept when the refresh ended; one woken may be kept again (it asks
 * at once and a new refresh starts), so the list is taken first. */
static void wake_all(struct cred_cache *c, struct iot_engine *engine, int ok, const char *msg)
{
    struct iot_credentials_wait taken = {NULL, NULL, NULL, NULL};
    if (c->waiters.next == &c->waiters)
        return;
    taken.next = c->waiters.next;
    taken.prev = c->waiters.prev;
    taken.next->prev = taken.prev->next = &taken;
    c->waiters.prev = c->waiters.next = &c->waiters;
    for (struct iot_credentials_wait *w = taken.next; w != &taken; w = w->next)
        w->holder = &taken;     /* forgotten while others wake: still unlinks safely */
    while (taken.next != &taken) {
        struct iot_credentials_wait *w = taken.next;
        waiter_unlink(w);
        w->wake(engine, w, ok, msg);
    }
}

void cred_cache_free(struct cred_cache *c)
{
    if (!c)
        return;
    while (c->waiters.next != &c->waiters)
        waiter_unlink(c->waiters.next);
    cred_credentials_free(&c->cached);
    cred_credentials_free(&c->handed);
    cred_provider_free(c->provider);
    free(c);
}

void cred_cache_set_windows(struct cred_cache *c, int advisory_s, int mandatory_s)
{
    c->mandatory_s = mandatory_s < 0 ? 0 : mandatory_s;
    c->advisory_s = advisory_s < c->mandatory_s ? c->mandatory_s : advisory_s;
}

const char *cred_cache_source(const struct cred_cache *c)
{
    return cred_provider_source(c->provider);
}

int cred_cache_refreshing(const struct cred_cache *c)
{
    return c->refreshing;
}

unsigned cred_cache_refreshes(const struct cred_cache *c)
{
    return c->refreshes;
}

/* ================================================================ windows */

enum freshness { FRESH, ADVISORY, MANDATORY };

static enum freshness freshness_at(const struct cred_cache *c, time_t now)
{
    if (!c->have_cached)
        return MANDATORY;
    if (c->cached.expiration == 0 || now < c->cached.expiration - c->advisory_s)
        return FRESH;
    return now < c->cached.expiration - c->mandatory_s ? ADVISORY : MANDATORY;
}

static int copy_cached(const struct cred_cache *c, struct cred_credentials *out,
                       char err_out[CRED_ERROR_LEN])
{
    if (cred_credentials_copy(&c->cached, out) != 0) {
        cred_set_error(err_out, "out of memory");
        return -1;
    }
    return 0;
}

/* The provider's answer now, into the cache. 0, or -1 with err_out. */
static int take_from_provider(struct cred_cache *c, time_t now, char err_out[CRED_ERROR_LEN])
{
    struct cred_credentials got;
    if (cred_provider_get(c->provider, now, &got, err_out) != 0)
        return -1;
    cred_credentials_free(&c->cached);
    c->cached = got;
    c->have_cached = 1;
    return 0;
}

/* ================================================================ blocking providers */

static int acquire_blocking(struct cred_cache *c, time_t now, enum freshness f,
                            struct cred_credentials *out, char err_out[CRED_ERROR_LEN])
{
    c->refreshes++;
    if (take_from_provider(c, now, err_out) != 0) {
        if (f == ADVISORY) {        /* the old ones are still good */
            err_out[0] = '\0';
            return copy_cached(c, out, err_out);
        }
        return -1;
    }
    return copy_cached(c, out, err_out);
}

/* ================================================================ refreshing through the engine */

/* The provider's refresh ended: take its answer, wake whoever waits. */
static void refresh_done(void *ctx, struct iot_engine *engine, int ok, const char *message)
{
    struct cred_cache *c = ctx;
    char err[CRED_ERROR_LEN];
    time_t now = eng_wall_clock(engine);
    c->refreshing = 0;
    cred_set_error(err, "%s", message ? message : "the credentials could not be fetched");
    if (ok && take_from_provider(c, now, err) != 0)
        ok = 0;
    if (ok && c->cached.expiration && now >= c->cached.expiration) {
        cred_set_error(err, "%s gave credentials that have already expired",
                       cred_provider_source(c->provider));
        ok = 0;
    }
    c->advisory_failed_at = ok ? 0 : now;
    c->last_ok = ok;
    cred_set_error(c->last_error, "%s", ok ? "" : err);
    wake_all(c, engine, ok, err);
}

/* Starts the provider's refresh; it may end before this returns (refresh_done ran). */
static int start_refresh(struct cred_cache *c, struct iot_engine *engine,
                         char err_out[CRED_ERROR_LEN])
{
    if (c->refreshing)
        return 0;
    c->refreshes++;
    c->refreshing = 1;
    if (c->provider->ops->refresh_start(c->provider, engine, refresh_done, c, err_out) == 0)
        return 0;
    c->refreshing = 0;
    return -1;
}

static int acquire_fetched(struct cred_cache *c, struct iot_engine *engine, time_t now,
                           enum freshness f, struct cred_credentials *out,
                           char err_out[CRED_ERROR_LEN], struct iot_credentials_wait *wait)
{
    if (f == ADVISORY) {
        if (engine && !c->refreshing && now - c->advisory_failed_at >= ADVISORY_RETRY_S)
            start_refresh(c, engine, err_out);     /* a failure keeps the old ones */
        err_out[0] = '\0';
        return copy_cached(c, out, err_out);
    }
    if (!engine || !wait) {
        cred_set_error(err_out, "the credentials from %s must be fetched first (they are "
                       "fetched on the event loop by the first call that needs them)",
                       cred_provider_source(c->provider));
        return -1;
    }
    if (!c->refreshing) {
        if (start_refresh(c, engine, err_out) != 0)
            return -1;
        if (!c->refreshing) {           /* it ended at once (a token file missing, ...) */
            if (c->last_ok)
                return copy_cached(c, out, err_out);
            cred_set_error(err_out, "%s", c->last_error);
            return -1;
        }
    }
    waiter_keep(c, wait);
    return 1;
}

/* ================================================================ asking */

int cred_cache_acquire(struct cred_cache *c, struct iot_engine *engine, time_t now,
                       struct cred_credentials *out, char err_out[CRED_ERROR_LEN],
                       struct iot_credentials_wait *wait)
{
    memset(out, 0, sizeof *out);
    err_out[0] = '\0';
    enum freshness f = freshness_at(c, now);
    if (f == FRESH)
        return copy_cached(c, out, err_out);
    if (c->provider->ops->refresh_start)
        return acquire_fetched(c, engine, now, f, out, err_out, wait);
    return acquire_blocking(c, now, f, out, err_out);
}

int cred_cache_get(struct cred_cache *c, time_t now, struct cred_credentials *out,
                   char err_out[CRED_ERROR_LEN])
{
    return cred_cache_acquire(c, NULL, now, out, err_out, NULL);
}

/* ================================================================ the client's function */

static void hand_out(const struct cred_cache *c, struct iot_credentials *creds_out)
{
    creds_out->access_key_id = c->handed.access_key_id;
    creds_out->secret_access_key = c->handed.secret_access_key;
    creds_out->session_token = c->handed.session_token;
}

int cred_cache_credentials_fn(void *ctx, struct iot_engine *engine,
                              struct iot_credentials *creds_out, struct iot_error *err_out,
                              struct iot_credentials_wait *wait)
{
    struct cred_cache *c = ctx;
    if (c->handed.access_key_id && c->handed.expiration == 0) {
        /* Credentials that never expire are never fetched again either: the copy made
         * for the last attempt is what the cache would hand out again. */
        hand_out(c, creds_out);
        return 0;
    }
    char msg[CRED_ERROR_LEN];
    struct cred_credentials got;
    int rc = cred_cache_acquire(c, engine, engine ? eng_wall_clock(engine) : time(NULL), &got,
                                msg, wait);
    if (rc == 1)
        return 1;
    if (rc != 0) {
        iot_error_set(err_out, "CredentialsError", "%s", msg);
        return -1;
    }
    cred_credentials_free(&c->handed);
    c->handed = got;
    hand_out(c, creds_out);
    return 0;
}
