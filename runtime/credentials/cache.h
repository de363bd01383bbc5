/*
 * cache.h — a provider's credentials kept until they are due for refresh, and the
 * iot_credentials_fn a client asks before every attempt (client.h).
 *
 * The cache owns its provider. Credentials without an Expiration are fetched once;
 * expiring ones are fetched again `refresh_margin` seconds (default 60) before they
 * expire. When that refresh fails while the old credentials are still valid, the old
 * ones are used (botocore's advisory refresh); once they have expired the failure is
 * the answer. A provider with refresh_start can be refreshed ahead through the engine
 * (cred_cache_refresh_async), so no attempt waits for it. Not thread-safe; one cache
 * per client.
 */
#ifndef IOTLUA_CRED_CACHE_H
#define IOTLUA_CRED_CACHE_H

#include "client.h"
#include "config.h"
#include "provider.h"

struct cred_cache;

/* A cache over provider (which it now owns; NULL provider gives NULL). NULL with
 * err_out when out of memory (the provider is freed then). */
struct cred_cache *cred_cache_new(struct cred_provider *provider, char err_out[CRED_ERROR_LEN]);
/* cred_cache_new over the chain's provider (chain.h): NULL with err_out when no
 * credentials can be found. */
struct cred_cache *cred_cache_resolve(const struct cfg_explicit *ex, const struct cfg_env *env,
                                      char err_out[CRED_ERROR_LEN]);
void cred_cache_free(struct cred_cache *c);                 /* safe with NULL */
void cred_cache_set_refresh_margin(struct cred_cache *c, int seconds);
const char *cred_cache_source(const struct cred_cache *c);

/* A copy of the current credentials at `now` (cred_credentials_free it), fetching them
 * when none are cached or they are due. 0, or -1 with err_out. */
int cred_cache_get(struct cred_cache *c, time_t now, struct cred_credentials *out,
                   char err_out[CRED_ERROR_LEN]);

/* The iot_credentials_fn of a client: ctx is the cache. The strings handed out stay
 * valid until the next call on the same cache. Failures are CredentialsError. */
int cred_cache_credentials_fn(void *ctx, struct iot_credentials *creds_out,
                              struct iot_error *err_out);

/* Starts fetching fresh credentials through the engine when the provider can (its
 * refresh_start) and no refresh is under way: 1 started, 0 nothing to do (a provider
 * without refresh_start, or one already running), -1 with err_out. When it ends the
 * cache holds the new credentials (or, on failure, keeps the old ones and the message). */
int cred_cache_refresh_async(struct cred_cache *c, struct iot_engine *engine,
                             char err_out[CRED_ERROR_LEN]);
/* 1 while an asynchronous refresh is under way. */
int cred_cache_refreshing(const struct cred_cache *c);

#endif
