/*
 * provider.h — what every credentials provider shares: the credentials value a provider
 * produces, and the RFC 3339 times providers read expirations from.
 *
 * Secrets: the secret key and the session token are wiped (OPENSSL_cleanse) before
 * they are freed; no message of this module quotes them.
 */
#ifndef IOTLUA_CRED_PROVIDER_H
#define IOTLUA_CRED_PROVIDER_H

#include <time.h>

#define CRED_ERROR_LEN 1024
#define CRED_SOURCE_LEN 160

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

/* ================================================================ messages */

/* Formats a message into err_out (truncated to CRED_ERROR_LEN). */
void cred_set_error(char err_out[CRED_ERROR_LEN], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ================================================================ times */

/* Parses an RFC 3339 / ISO 8601 UTC time ("2026-11-22T05:00:00Z", fractional seconds
 * and +hh:mm offsets accepted). Returns 0 or -1. */
int cred_parse_rfc3339(const char *s, time_t *t_out);

#endif
