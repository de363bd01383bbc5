/*
 * fetch.h — one HTTP request through the engine, with attempts: what the credential
 * providers send (the instance metadata service, a container endpoint, STS, the SSO
 * portal) and anything else in the runtime that is not a data-plane operation.
 *
 * A fetch copies its request, runs it on the engine's HTTP layer (no second HTTP stack),
 * optionally signs each attempt with SigV4 (fresh date each time), and retries what the
 * data-plane calls retry (transport failures, 429 and 5xx; every non-2xx when
 * retry_any_status) up to max_attempts, with a fixed delay or the standard policy's
 * backoff. `done` runs once, from iot_engine_poll, with the last attempt's outcome; the
 * fetch frees itself after it returns. fetch_cancel stops it instead (done not called).
 */
#ifndef IOTLUA_FETCH_H
#define IOTLUA_FETCH_H

#include <stddef.h>

#include "buf.h"
#include "client.h"
#include "sigv4.h"

#define FETCH_MAX_HEADERS 8
#define FETCH_ERROR_LEN 1024

struct fetch_request {
    const char *method;             /* "GET", "PUT", "POST" */
    const char *url;                /* http(s)://host[:port]/path?query */
    const char *header_names[FETCH_MAX_HEADERS];
    const char *header_values[FETCH_MAX_HEADERS];
    size_t nheaders;
    const char *body;               /* NULL: none */
    size_t body_len;
    long timeout_ms;                /* each attempt; 0 = 10000 */
    long connect_timeout_ms;        /* 0 = timeout_ms */
    int max_attempts;               /* 0 = 1 */
    long retry_delay_ms;            /* between attempts; -1 = the standard backoff */
    int retry_any_status;           /* retry every non-2xx answer, not just 429/5xx */
    const char *ca_bundle;          /* NULL: the system store */
    /* SigV4: set sign_service to sign each attempt with these (copied) credentials. */
    const char *sign_service, *sign_region;
    struct sigv4_credentials sign_credentials;
};

struct fetch_response {
    int transport_ok;               /* an HTTP answer came (look at status) */
    long status;
    const struct buf *body;         /* the answer's body (empty on a transport failure) */
    const struct buf *head;         /* its raw header lines */
    int attempts;
    char error[FETCH_ERROR_LEN];    /* transport failure: what went wrong, naming the host */
};

typedef void (*fetch_done)(void *ctx, const struct fetch_response *response);

struct fetch;

/* Starts the request; NULL with a message in err (bad URL, out of memory). */
struct fetch *fetch_start(struct iot_engine *engine, const struct fetch_request *req,
                          fetch_done done, void *ctx, char *err, size_t errlen);
/* Stops a fetch whose done has not run yet; its memory is freed. NULL is fine. */
void fetch_cancel(struct iot_engine *engine, struct fetch *f);

/* The value of header `name` (case-insensitive) in raw header lines into out: 1 found,
 * 0 not (out ""). */
int fetch_header(const struct buf *head, const char *name, char *out, size_t outlen);

#endif
