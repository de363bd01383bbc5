/*
 * cache.c — credentials kept until due, and the client's credentials function
 * (cache.h).
 */
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"

struct cred_cache {
    struct cred_provider *provider;
    struct cred_credentials cached;     /* the provider's last answer */
    int have_cached;
    int refresh_margin;
    struct cred_credentials handed;     /* what the client's last attempt was given */
    int refreshing;                     /* an asynchronous refresh is under way */
    char refresh_error[CRED_ERROR_LEN]; /* why the last asynchronous refresh failed */
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
    c->refresh_margin = 60;
    return c;
}

struct cred_cache *cred_cache_resolve(const struct cfg_explicit *ex, const struct cfg_env *env,
                                      char err_out[CRED_ERROR_LEN])
{
    return cred_cache_new(cred_chain_resolve(ex, env, err_out), err_out);
}

void cred_cache_free(struct cred_cache *c)
{
    if (!c)
        return;
    cred_credentials_free(&c->cached);
    cred_credentials_free(&c->handed);
    cred_provider_free(c->provider);
    free(c);
}

void cred_cache_set_refresh_margin(struct cred_cache *c, int seconds)
{
    c->refresh_margin = seconds < 0 ? 0 : seconds;
}

const char *cred_cache_source(const struct cred_cache *c)
{
    return cred_provider_source(c->provider);
}

/* ================================================================ getting */

static int fresh_at(const struct cred_cache *c, time_t now)
{
    return c->have_cached &&
           (c->cached.expiration == 0 || now < c->cached.expiration - c->refresh_margin);
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

int cred_cache_get(struct cred_cache *c, time_t now, struct cred_credentials *out,
                   char err_out[CRED_ERROR_LEN])
{
    memset(out, 0, sizeof *out);
    err_out[0] = '\0';
    if (fresh_at(c, now) || (c->refreshing && c->have_cached && now < c->cached.expiration))
        return copy_cached(c, out, err_out);
    struct cred_credentials got;
    if (cred_provider_get(c->provider, now, &got, err_out) != 0) {
        /* Inside the refresh margin the old credentials are still valid: keep using them
         * (botocore's advisory refresh); once expired, the failure is reported. */
        if (c->have_cached && now < c->cached.expiration) {
            err_out[0] = '\0';
            return copy_cached(c, out, err_out);
        }
        return -1;
    }
    cred_credentials_free(&c->cached);
    c->cached = got;
    c->have_cached = 1;
    return copy_cached(c, out, err_out);
}

/* ================================================================ the client's function */

static void hand_out(const struct cred_cache *c, struct iot_credentials *creds_out)
{
    creds_out->access_key_id = c->handed.access_key_id;
    creds_out->secret_access_key = c->handed.secret_access_key;
    creds_out->session_token = c->handed.session_token;
}

int cred_cache_credentials_fn(void *ctx, struct iot_credentials *creds_out,
                              struct iot_error *err_out)
{
    struct cred_cache *c = ctx;
    if (c->handed.access_key_id && c->handed.expiration == 0) {
        /* Credentials that never expire are never fetched again either: the copy made
         * for the last attempt is what the cache would hand out again. */
        hand_out(c, creds_out);
        return 0;
    }
    cred_credentials_free(&c->handed);
    char msg[CRED_ERROR_LEN];
    if (cred_cache_get(c, time(NULL), &c->handed, msg) != 0) {
        iot_error_set(err_out, "CredentialsError", "%s", msg);
        return -1;
    }
    hand_out(c, creds_out);
    return 0;
}

/* ================================================================ refreshing ahead */

/* The provider's refresh ended: its next get answers from what it fetched. */
static void refresh_done(void *ctx, int ok, const char *message)
{
    struct cred_cache *c = ctx;
    c->refreshing = 0;
    c->refresh_error[0] = '\0';
    if (!ok) {
        cred_set_error(c->refresh_error, "%s", message ? message : "refresh failed");
        return;
    }
    char err[CRED_ERROR_LEN];
    struct cred_credentials got;
    if (cred_provider_get(c->provider, time(NULL), &got, err) != 0) {
        cred_set_error(c->refresh_error, "%s", err);
        return;
    }
    cred_credentials_free(&c->cached);
    c->cached = got;
    c->have_cached = 1;
}

int cred_cache_refresh_async(struct cred_cache *c, struct iot_engine *engine,
                             char err_out[CRED_ERROR_LEN])
{
    const struct cred_provider_ops *ops = c->provider->ops;
    if (!ops->refresh_start || c->refreshing)
        return 0;
    c->refreshing = 1;
    if (ops->refresh_start(c->provider, engine, refresh_done, c, err_out) != 0) {
        c->refreshing = 0;
        return -1;
    }
    return 1;
}

int cred_cache_refreshing(const struct cred_cache *c)
{
    return c->refreshing;
}
