/*
 * cache.h — a provider's credentials kept until they are due for refresh, and the
 * iot_credentials_fn a client asks before every attempt (client.h).
 *
 * The cache owns its provider. Credentials without an Expiration are fetched once.
 * Expiring ones follow botocore's two windows: inside the advisory window (default 15
 * minutes before they expire) a refresh is tried while the old credentials are still
 * handed out, and its failure keeps them; inside the mandatory window (default 10
 * minutes) every caller waits for the refresh and its failure is the answer.
 *
 * A provider that fetches over the network (refresh_start) is refreshed through the
 * engine: callers that must wait give a struct iot_credentials_wait and are woken when
 * the one refresh under way ends, so a thousand calls waiting cause one fetch. A provider
 * without refresh_start (static keys, credential_process) is asked with get, which may
 * block. Not thread-safe; one cache per client (or per assume-role source).
 */
#ifndef IOTLUA_CRED_CACHE_H
#define IOTLUA_CRED_CACHE_H

#include "client.h"
#include "chain.h"
#include "config.h"
#include "provider.h"

#define CRED_ADVISORY_WINDOW_S (15 * 60)
#define CRED_MANDATORY_WINDOW_S (10 * 60)

struct cred_cache;

/* A cache over provider (which it now owns; NULL provider gives NULL). NULL with
 * err_out when out of memory (the provider is freed then). */
struct cred_cache *cred_cache_new(struct cred_provider *provider, char err_out[CRED_ERROR_LEN]);
/* cred_cache_new over the chain's provider (chain.h): NULL with err_out when no
 * credentials can be found. */
struct cred_cache *cred_cache_resolve(const struct cred_chain_settings *settings,
                                      char err_out[CRED_ERROR_LEN]);
/* Frees the cache and its provider (a refresh under way is stopped); waiters still kept
 * are let go unwoken (their holder cleared). NULL is fine. */
void cred_cache_free(struct cred_cache *c);
/* The windows, in seconds before expiry (mandatory <= advisory). */
void cred_cache_set_windows(struct cred_cache *c, int advisory_s, int mandatory_s);
const char *cred_cache_source(const struct cred_cache *c);

/*
 * A copy of the current credentials at `now` into *out (cred_credentials_free it): 0;
 * -1 with err_out; or 1 when they are being fetched through engine and `wait` (not
 * NULL) is kept until the fetch ends. With engine or wait NULL a provider that must
 * fetch over the network gives -1 with a message saying so.
 */
int cred_cache_acquire(struct cred_cache *c, struct iot_engine *engine, time_t now,
                       struct cred_credentials *out, char err_out[CRED_ERROR_LEN],
                       struct iot_credentials_wait *wait);
/* cred_cache_acquire without waiting or engine (blocking providers only). */
int cred_cache_get(struct cred_cache *c, time_t now, struct cred_credentials *out,
                   char err_out[CRED_ERROR_LEN]);
/* Lets go of a kept wait (iot_credentials_forget_fn; holder is the cache). */
void cred_cache_forget(void *holder, struct iot_credentials_wait *wait);

/* The iot_credentials_fn of a client: ctx is the cache. The strings handed out stay
 * valid until the next call on the same cache. Failures are CredentialsError. */
int cred_cache_credentials_fn(void *ctx, struct iot_engine *engine,
                              struct iot_credentials *creds_out, struct iot_error *err_out,
                              struct iot_credentials_wait *wait);

/* 1 while a refresh through the engine is under way. */
int cred_cache_refreshing(const struct cred_cache *c);
/* How many refreshes the provider was asked for (started or blocking), for tests. */
unsigned cred_cache_refreshes(const struct cred_cache *c);

#endif
