/*
 * provider.h — the credentials provider interface, and what every provider shares: the
 * credentials value a provider produces, and the RFC 3339 times providers read
 * expirations from.
 *
 * A provider is one source (the environment, a file section, credential_process; the
 * instance metadata service, a container endpoint, assume-role and web identity come as
 * more providers). credentials/chain.c picks the provider botocore would; cache.c keeps
 * what it got until it is due for refresh. A provider whose fetch is network I/O offers
 * refresh_start, which fetches through the engine without blocking; the others are
 * asked with get, which may block (credential_process runs a command).
 *
 * Secrets: the secret key and the session token are wiped (OPENSSL_cleanse) before
 * they are freed; no message of this module quotes them.
 */
#ifndef IOTLUA_CRED_PROVIDER_H
#define IOTLUA_CRED_PROVIDER_H

#include <time.h>

#include "buf.h"

struct iot_engine;

#define CRED_ERROR_LEN 1024
#define CRED_SOURCE_LEN 512

/* ================================================================ credentials */

/* Owned strings; a zeroed struct holds nothing. */
struct cred_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;              /* NULL when none */
    time_t expiration;                /* 0 when they do not expire */
    char source[CRED_SOURCE_LEN];     /* "environment", "shared credentials file ...", ... */
};

/* Wipes and frees the strings; the struct is zeroed (safe twice, safe on zeroed). */
void cred_credentials_free(struct cred_credentials *c);
/* Fills *c with copies (an empty token is none). 0, or -1 out of memory (*c zeroed). */
int cred_credentials_set(struct cred_credentials *c, const char *akid, const char *secret,
                         const char *token, time_t expiration, const char *source);
/* *to = a copy of *from. 0, or -1 out of memory. */
int cred_credentials_copy(const struct cred_credentials *from, struct cred_credentials *to);

/* ================================================================ providers */

struct cred_provider;

/* Called from iot_engine_poll when a refresh started with refresh_start ends: ok 1 (the
 * next get returns the new credentials) or 0 with a message (no secrets in it). */
typedef void (*cred_refresh_done)(void *ctx, struct iot_engine *engine, int ok,
                                  const char *message);

struct cred_provider_ops {
    /* Current credentials into *out (the caller's, cred_credentials_free). 0, or -1 with
     * err_out. May block. */
    int (*get)(struct cred_provider *p, time_t now, struct cred_credentials *out,
               char err_out[CRED_ERROR_LEN]);
    /* Optional: fetch fresh credentials without blocking, through the engine's items,
     * timers and fd sources; done(ctx, ...) runs once when it ends. 0 started, -1 with
     * err_out when it could not. NULL: the provider has nothing to fetch ahead. */
    int (*refresh_start)(struct cred_provider *p, struct iot_engine *engine,
                         cred_refresh_done done, void *ctx, char err_out[CRED_ERROR_LEN]);
    void (*free)(struct cred_provider *p);
};

/* Every provider starts with this. */
struct cred_provider {
    const struct cred_provider_ops *ops;
    char source[CRED_SOURCE_LEN];       /* where its credentials come from, for messages */
};

int cred_provider_get(struct cred_provider *p, time_t now, struct cred_credentials *out,
                      char err_out[CRED_ERROR_LEN]);
const char *cred_provider_source(const struct cred_provider *p);
void cred_provider_free(struct cred_provider *p);           /* safe with NULL */

/* Fixed credentials (the client's, the environment's, a file section's): get copies
 * them. NULL with err_out when out of memory. */
struct cred_provider *cred_static_new(const char *akid, const char *secret, const char *token,
                                      const char *source, char err_out[CRED_ERROR_LEN]);

/* The instance metadata service (imds.c): IMDSv2 token (falling back to IMDSv1 when the
 * token call is refused with 403/404/405, unless v1 is disabled), the role name, then its
 * credentials. */
struct cred_imds_settings {
    const char *base_url;               /* "http://169.254.169.254/" (ends with '/') */
    long timeout_ms;                    /* each request */
    int attempts;
    int v1_disabled;
    /* When it is the chain's last resort: the places looked at before it, so that its
     * failure reads "Unable to locate credentials. Looked in: ...". NULL otherwise. */
    const char *looked_in;
};
struct cred_provider *cred_imds_new(const struct cred_imds_settings *s,
                                    char err_out[CRED_ERROR_LEN]);

/* A container credentials endpoint (container.c), ECS or EKS Pod Identity: GET url with
 * the Authorization token, read from token_file on every fetch when set. */
struct cred_container_settings {
    const char *url;
    const char *token;                  /* NULL: none */
    const char *token_file;             /* NULL: none; preferred over token */
};
struct cred_provider *cred_container_new(const struct cred_container_settings *s,
                                         char err_out[CRED_ERROR_LEN]);

/* IAM Identity Center (sso.c): the access token `aws sso login` left in the token
 * cache (read on every fetch; an expired one says to log in again), then the portal's
 * GetRoleCredentials. */
struct cred_sso_settings {
    const char *portal_url;             /* "https://portal.sso.eu-west-1.amazonaws.com" */
    const char *cache_dir;              /* "~/.aws/sso/cache", expanded */
    const char *cache_key;              /* the sso_session's name, or the start URL */
    const char *login_hint;             /* "aws sso login --sso-session corp" */
    const char *account_id, *role_name;
    const char *ca_bundle;
    const char *source_name;            /* "sso:corp" */
};
struct cred_provider *cred_sso_new(const struct cred_sso_settings *s,
                                   char err_out[CRED_ERROR_LEN]);

/* ================================================================ fetching providers */

/* What a provider that fetches over the network keeps (fetched.c): its last answer and
 * the refresh under way. Its get hands out the last answer; cache.c starts a refresh
 * before the first get and whenever they are due. */
struct cred_fetched {
    struct cred_credentials last;
    int have_last;
    cred_refresh_done done;             /* the refresh under way reports here */
    void *done_ctx;
    struct iot_engine *engine;
};

/* A copy of the last answer (its source the provider's). 0, or -1 with err_out. */
int cred_fetched_get(const struct cred_fetched *f, const struct cred_provider *p,
                     struct cred_credentials *out, char err_out[CRED_ERROR_LEN]);
void cred_fetched_begin(struct cred_fetched *f, struct iot_engine *engine,
                        cred_refresh_done done, void *ctx);
/* Ends the refresh: with got (taken over; NULL when it failed) or a message. */
void cred_fetched_finish(struct cred_fetched *f, struct cred_credentials *got,
                         const char *message);
void cred_fetched_free(struct cred_fetched *f);

/* The names a JSON credentials document uses (IMDS and containers: AccessKeyId,
 * SecretAccessKey, Token, Expiration as RFC 3339). */
struct cred_json_names {
    const char *akid, *secret, *token, *expiration;
    int expiration_ms;                  /* Expiration is epoch milliseconds (SSO) */
};
extern const struct cred_json_names CRED_JSON_METADATA;

/* Parses a JSON credentials document (obj: the object holding the fields) into *out.
 * `what` names the answer for messages ("the instance metadata service"). 0, or -1
 * with err_out (never quoting a secret). */
int cred_parse_json(const char *text, size_t len, const char *container_key,
                    const struct cred_json_names *names, const char *what,
                    struct cred_credentials *out, char err_out[CRED_ERROR_LEN]);

/* A token from its file into out (appended; trailing line breaks dropped; at most 16
 * KiB, not empty). `what` names it for messages. 0, or -1 with err_out. */
int cred_read_token_file(const char *path, const char *what, struct buf *out,
                         char err_out[CRED_ERROR_LEN]);

/* ================================================================ messages */

/* Formats a message into err_out (truncated to CRED_ERROR_LEN). */
void cred_set_error(char err_out[CRED_ERROR_LEN], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ================================================================ times */

/* Parses an RFC 3339 / ISO 8601 UTC time ("2026-11-22T05:00:00Z", fractional seconds
 * and +hh:mm offsets accepted). Returns 0 or -1. */
int cred_parse_rfc3339(const char *s, time_t *t_out);

#endif
