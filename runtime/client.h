/*
 * client.h — the client core's public API: what the Lua bindings use. Pure C, no Lua.
 *
 * Objects and who owns them
 *   iot_engine   one per Lua state: the event loop (engine.h): the timers (retry
 *                backoff, deadlines), fd sources, the queue of completed events, and
 *                the HTTP layer (http.h: libcurl's multi handle with its connection
 *                cache, HTTP/2, max_connections; the native HTTP/1.1 transport). Everything runs when the caller runs
 *                iot_engine_poll; nothing runs on another thread and no callback ever
 *                leaves this library (events are popped, never pushed).
 *   iot_client   endpoint, region, credentials, timeouts, TLS and retry settings.
 *                Reference counted: calls in flight keep their client alive, so
 *                iot_client_free may be called at any time.
 *   iot_params   the parameters of one call, filled member by member (values are
 *                copied), validated against the model; iot_call_start takes it over.
 *   iot_result   the outcome of one call, popped from the engine; the caller frees it.
 *
 * How a call runs (the same inside and outside a task):
 *   p = iot_params_new(op);
 *   for each field: if (iot_params_set(p, name, &value, msg, sizeof msg)) raise(msg)
 *   if (iot_call_start(client, p, user, &id, msg, sizeof msg)) raise(msg)   // misuse only
 *   loop: iot_engine_poll(engine, timeout); while (iot_engine_next_event(engine, &ev)) ...
 *   ev.kind == IOT_EV_CALL: ev.id == id, ev.user == user, ev.result (yours to free)
 *
 * Misuse (unknown/missing parameter, wrong type, constraint) is reported synchronously
 * by iot_params_set / iot_call_start with a message naming the parameter and the rule,
 * before any I/O. Every failure of the world (credentials, network, TLS, timeouts,
 * service errors) arrives as a completed call with result->ok == 0 and result->error.
 */
#ifndef IOTLUA_CLIENT_H
#define IOTLUA_CLIENT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "operations.h"

/* ---------------------------------------------------------------- errors */

/*
 * Error codes. Service errors carry the AWS code (from x-amzn-ErrorType, else the body's
 * __type/code). Local codes, all documented here and asserted by the tests:
 *   NetworkError      connection refused ("connection refused by HOST"), reset, closed
 *                     without a response or before the whole response (retryable)
 *   DNSError          the endpoint's host name does not resolve (retryable)
 *   TLSError          TLS handshake failed (retryable) or the certificate could not be
 *                     verified / the CA bundle is unusable (not retryable)
 *   TimeoutError      "connect timeout: ..." (connect_timeout, TCP+TLS) or "timeout: ..."
 *                     (timeout, the whole attempt); retryable, 10 quota tokens;
 *                     "deadline passed: ..." (the engine's deadline) or "call timeout:
 *                     ..." (the call's own timeout), both not retryable
 *   CredentialsError  no usable credentials (from the credentials callback)
 *   ConfigError       the client configuration is unusable (bad endpoint URL, ...)
 *   UnknownError      a non-2xx response that names no error code: empty body, JSON
 *                     without __type/code, or a body that is not JSON at all (truncated
 *                     JSON, HTML from a proxy...); the message has the HTTP status and
 *                     text and a printable snippet of the body
 *   InvalidResponse   a 2xx response whose body is not the JSON object the model
 *                     promises (message: status and snippet), or larger than 64 MiB
 *   InternalError     out of memory, a payload file that cannot be read, libcurl failures
 * Retryable service errors: HTTP 500/502/503/504/429, throttling codes (retry.h).
 */
#define IOT_ERR_CODE_MAX 96
#define IOT_ERR_MESSAGE_MAX 1024
#define IOT_REQUEST_ID_MAX 128

struct iot_error {
    char code[IOT_ERR_CODE_MAX];            /* "" when there is no error */
    char message[IOT_ERR_MESSAGE_MAX];
    long status;                            /* HTTP status, 0 when no response */
    char request_id[IOT_REQUEST_ID_MAX];    /* "" when unknown */
    const char *operation;                  /* model name ("Publish"), static; may be NULL */
    int retryable;                          /* 1 when the retry policy treats it as transient */
    int attempts;                           /* attempts made (1 = no retry) */
};

/* Make err the empty error (no code, no message, every field 0) writing only the first
 * byte of its text buffers: a result carries one, filled only when the call fails, and
 * zeroing its 1.2 KiB for every response cost a cache miss per 64 bytes under load.
 * A field added to struct iot_error is set here too. */
void iot_error_empty(struct iot_error *err);

/* Set err's code and its message from fmt (truncated to the carrier's size). */
void iot_error_set(struct iot_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The parts of an error's line; strings may be NULL or "", status and attempts 0 when
 * unknown. The message is given with its length (Lua strings may be longer than
 * struct iot_error holds). */
struct iot_error_parts {
    const char *code;               /* NULL or "": "Error" */
    const char *message;
    size_t message_len;
    long status;
    const char *operation;
    const char *request_id;
    long attempts;
};

/* One readable line, the same from C and from Lua's tostring(err):
 *   "ResourceNotFoundException: No connection for clientId sensor-42 (HTTP 404,
 *    GetConnection, request abc, 1 attempt)"
 * Line breaks inside the message become one space each run. Appends to out (buf.h);
 * 0, or -1 out of memory. */
struct buf;
int iot_error_line(struct buf *out, const struct iot_error_parts *parts);
/* The same for a struct iot_error, into out[outlen] (truncated, NUL-terminated).
 * Returns the length of the whole line. */
size_t iot_error_format(const struct iot_error *err, char *out, size_t outlen);

/* ---------------------------------------------------------------- engine */

struct iot_engine_opts {
    int max_connections;    /* cap on open connections (total and per host); 0 = 64 */
    int max_inflight;       /* requests handed to curl at once; 0 = max_connections (each
                               attempt's timeout starts when it is handed over). Further
                               requests wait in the engine's queue, costing only their
                               small descriptor, not signed until they leave it. */
    int http2;              /* -1 off, 0 default (on), 1 on: HTTP/2 over TLS via ALPN
                               with multiplexing; HTTP/1.1 for http:// endpoints */
    /* Test hooks (NULL = the real thing): jitter source in [0, 1), signing clock. */
    double (*random)(void *ctx);
    void *random_ctx;
    time_t (*wall_clock)(void *ctx);
    void *clock_ctx;
};

struct iot_engine;

/* A new engine, or NULL with *err_out filled. opts may be NULL (all defaults). */
struct iot_engine *iot_engine_new(const struct iot_engine_opts *opts, struct iot_error *err_out);
/* Cancels everything still pending (no events) and frees the engine. NULL is fine. */
void iot_engine_free(struct iot_engine *engine);
/* What the HTTP layer carried so far, by transport (a debug counter: tests assert the
 * path their requests took, so a silent fall-back to libcurl fails them). */
struct iot_http_stats {
    uint64_t native;            /* attempts on the native HTTP/1.1 transport */
    uint64_t native_tls;        /* of which over its TLS (https://) */
    uint64_t tls_handshakes;    /* TLS handshakes it completed */
    uint64_t tls_resumed;       /* of which resumed an earlier session */
    uint64_t libcurl;           /* attempts on libcurl */
};
void iot_engine_http_stats(struct iot_engine *engine, struct iot_http_stats *out);
/* The TLS of the engine's streams (MQTT): contexts made (one per set of TLS options in
 * use at once), trust stores made (one per CA file, or the system's, in use at once:
 * shared by the contexts that verify against it), handshakes completed, and of those
 * the resumed ones. */
struct iot_stream_tls_stats {
    uint64_t contexts;
    uint64_t stores;
    uint64_t handshakes;
    uint64_t resumed;
};
void iot_engine_stream_tls_stats(struct iot_engine *engine, struct iot_stream_tls_stats *out);
/* Raise or lower the connection cap later (a client's max_connections). */
void iot_engine_set_max_connections(struct iot_engine *engine, int max_connections);
/* How many transfers the engine carries at once (the connection cap unless the engine's
 * max_inflight was given); more wait in its queue. */
int iot_engine_max_inflight(struct iot_engine *engine);

/*
 * Run the event loop once: wait at most timeout_ms (0 = do not wait, -1 = until something
 * happens) for network activity or a timer, run the transfers, fire due timers, queue
 * the completions. Returns the number of events ready to pop, or -1 on an internal error.
 * Returns early (0 events) when nothing is pending at all.
 */
int iot_engine_poll(struct iot_engine *engine, int timeout_ms);
/*
 * The deadline of everything the engine runs (a script's --deadline, iotlua.deadline):
 * deadline_ms on the monotonic clock (eng_now_ms; 0 clears it). When it passes, every
 * call in flight (sending, waiting for a retry's backoff or for its credentials) is
 * aborted and completes with TimeoutError ("deadline passed"), and a call started after
 * it completes so at once, with no attempt made; calls given their own timeout
 * (struct iot_call_opts) are not subject to it. Setting it again starts over.
 */
void iot_engine_set_deadline(struct iot_engine *engine, int64_t deadline_ms);

/* How long until the engine needs iot_engine_poll again: -1 nothing pending, 0 now. */
long iot_engine_next_timeout_ms(struct iot_engine *engine);
/* Items not yet finished: calls in flight, queued or waiting to pop, and live streams. */
size_t iot_engine_pending(const struct iot_engine *engine);

/* What an event is about. A call has one event (its result); later kinds (a connection's
 * messages) come from stream items, any number each, until their owner ends them. */
enum iot_event_kind {
    IOT_EV_CALL = 1,
    IOT_EV_MQTT,                    /* an MQTT connection has notices (mqtt_client.h) */
};

struct iot_event {
    enum iot_event_kind kind;
    uint64_t id;                    /* from iot_call_start */
    void *user;                     /* as given there */
    struct iot_result *result;      /* IOT_EV_CALL: owned by the caller now */
    void *payload;                  /* IOT_EV_MQTT: the struct iot_mqtt */
};

/* Pop one completed event into *ev_out: 1 popped, 0 none ready. Completion order. */
int iot_engine_next_event(struct iot_engine *engine, struct iot_event *ev_out);

/* Forget a call (or any item): no event will come for it (an already queued event is
 * dropped). A call in flight is aborted. Returns 1 if something was cancelled. */
int iot_engine_cancel(struct iot_engine *engine, uint64_t id);

/* ---------------------------------------------------------------- client */

/* Credentials; the strings belong to whoever filled the struct. */
struct iot_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;      /* NULL or "" when none */
};

/*
 * A call waiting for credentials that are being fetched (a refresh through the engine).
 * The credentials source keeps the wait in its list (holder set) and runs wake once,
 * from iot_engine_poll, when the fetch ends: ok 1 (ask again), or 0 with a message (no
 * secrets in it). When the source goes away first it clears holder.
 */
struct iot_credentials_wait {
    struct iot_credentials_wait *prev, *next;   /* the holder's list */
    void *holder;                               /* the source keeping it, or NULL */
    void (*wake)(struct iot_engine *engine, struct iot_credentials_wait *w, int ok,
                 const char *message);
};

/*
 * Asked before every attempt (each attempt is signed afresh). Returns 0 with *creds_out
 * filled (strings valid until the next call of the function on the same ctx); -1 with
 * err_out->message (code defaults to CredentialsError); or 1 when the credentials are
 * being fetched: wait is kept and woken later (the attempt goes when they are there).
 * Runs inside iot_engine_poll or iot_call_start; it must not call into Lua.
 */
typedef int (*iot_credentials_fn)(void *ctx, struct iot_engine *engine,
                                  struct iot_credentials *creds_out, struct iot_error *err_out,
                                  struct iot_credentials_wait *wait);
/* Drops a kept wait (its call was cancelled): holder is the wait's holder. */
typedef void (*iot_credentials_forget_fn)(void *holder, struct iot_credentials_wait *wait);

enum iot_retry_mode { IOT_RETRY_STANDARD = 0, IOT_RETRY_LEGACY = 1 };

struct iot_client_config {
    const char *endpoint;           /* "https://host[:port][/base]" (resolved by config.h) */
    const char *region;             /* required */
    const char *signing_name;       /* NULL = "iotdata" */
    struct iot_credentials credentials; /* static credentials (copied), used when no fn */
    iot_credentials_fn credentials_fn;  /* else this is asked before each attempt */
    void *credentials_ctx;
    iot_credentials_forget_fn credentials_forget;   /* with a credentials_fn that waits */
    long timeout_ms;                /* whole attempt; 0 = 60000 */
    long connect_timeout_ms;        /* TCP+TLS connect; 0 = 10000 */
    int max_attempts;               /* 0 = 3; 1 = no retries */
    enum iot_retry_mode retry_mode; /* standard (default) or legacy */
    const char *ca_bundle;          /* PEM file, NULL = system store */
    int verify_tls;                 /* -1 off; 0 or 1 on (default on) */
    int max_connections;            /* 0 = leave the engine's; else iot_engine_set_max_connections */
};

struct iot_client;

/* The one list of retry modes: "standard" (the default) and "legacy". botocore's
 * "adaptive" (client-side rate limiting) is not implemented and refused everywhere: the
 * settings resolver, the Lua client options and iot_client_new all ask this function. */
#define IOT_RETRY_MODE_NAMES "standard, legacy"

/* Parse "standard"/"legacy" (NULL = standard): 0, or -1 with a message in msg. */
int iot_retry_mode_parse(const char *s, enum iot_retry_mode *mode_out, char *msg, size_t msglen);

/* A new client on engine, or NULL with *err_out (code ConfigError: bad endpoint URL,
 * missing region, max_attempts < 1, ...). The engine must outlive the client's calls. */
struct iot_client *iot_client_new(struct iot_engine *engine, const struct iot_client_config *cfg,
                                  struct iot_error *err_out);
/* Drop the caller's reference; calls in flight finish normally. NULL is fine. */
void iot_client_free(struct iot_client *client);

/* "iotlua/0.1.0 libcurl/7.88.1" — the User-Agent sent. Static storage. */
const char *iot_user_agent(void);

/* ---------------------------------------------------------------- parameters */

/* A Lua value as the bindings see it. Strings and blobs are copied by iot_params_set. */
enum iot_value_kind {
    IOT_V_STRING,   /* str/len: a Lua string (for blob members: the bytes) */
    IOT_V_INTEGER,  /* i: a Lua integer */
    IOT_V_NUMBER,   /* d: a Lua float (accepted for integer members when integral) */
    IOT_V_BOOLEAN,  /* b */
    IOT_V_FILE,     /* file: an open, seekable FILE* for a blob payload; streamed from its
                       current position to its end (the caller keeps it open until the
                       call completes; the position is restored for each attempt) */
    IOT_V_JSON,     /* str/len: JSON text the bindings encoded from a Lua table (payload
                       tables, userProperties arrays) */
    IOT_V_OTHER,    /* any other Lua type: always a type error naming type_name */
};

struct iot_value {
    enum iot_value_kind kind;
    const char *str;
    size_t len;
    int64_t i;
    double d;
    int b;
    FILE *file;
    const char *type_name;  /* IOT_V_OTHER: "table", "function", ... for the message */
};

struct iot_params;

/* Empty parameters for op (NULL on OOM). */
struct iot_params *iot_params_new(const struct iot_op *op);
void iot_params_free(struct iot_params *params);     /* NULL is fine */

/*
 * Set member `name` (the model member name). Checks at once: unknown member, duplicate,
 * type, enum, range, length, pattern, header-safe characters, JSON text for jsonvalue
 * members, seekable files. Returns 0, or -1 with a message like
 *   "publish: parameter 'qos' must be between 0 and 1 (got 2)".
 */
int iot_params_set(struct iot_params *params, const char *name, const struct iot_value *v,
                   char *msg, size_t msglen);

/* Check what only the whole set can tell (missing required members): 0 or -1 + msg.
 * iot_call_start runs it too. */
int iot_params_check(const struct iot_params *params, char *msg, size_t msglen);

/* ---------------------------------------------------------------- calls */

/*
 * Start a call: validates (iot_params_check), marshals, queues it on the client's engine
 * and takes ownership of params (also on failure). Returns 0 with *id_out, or -1 with a
 * misuse message in msg (nothing was sent). Everything else, even a credentials error,
 * arrives later as the call's event.
 */
int iot_call_start(struct iot_client *client, struct iot_params *params, void *user,
                   uint64_t *id_out, char *msg, size_t msglen);

/* Options of one call. */
struct iot_call_opts {
    long timeout_ms;    /* > 0: the call's whole budget, every attempt and backoff
                           included; when it passes the call ends with TimeoutError.
                           It replaces the engine's deadline for this call. 0: none */
};

/* iot_call_start with options (NULL: none). timeout_ms < 0 is misuse. */
int iot_call_start_opts(struct iot_client *client, struct iot_params *params,
                        const struct iot_call_opts *opts, void *user, uint64_t *id_out,
                        char *msg, size_t msglen);

/* The decoded output: a small tree the bindings turn into Lua values. */
enum iot_out_kind {
    IOT_OUT_NULL,
    IOT_OUT_STRING,     /* str/len (blobs decoded to bytes) */
    IOT_OUT_INTEGER,    /* i */
    IOT_OUT_NUMBER,     /* d */
    IOT_OUT_BOOLEAN,    /* b */
    IOT_OUT_LIST,       /* items[0..n) */
    IOT_OUT_MAP,        /* items[0..n), each with key (structure members use model names) */
};

struct iot_out {
    enum iot_out_kind kind;
    const char *key;            /* in a MAP: the field name; else NULL */
    const char *str;
    size_t len;
    int64_t i;
    double d;
    int b;
    struct iot_out *items;
    size_t n;
};

struct iot_header {
    const char *name;           /* lower-case; duplicates joined with ", " like botocore */
    const char *value;
};

struct iot_result {
    const struct iot_op *op;
    int ok;                     /* 1: success, output valid; 0: see error */
    long status;                /* HTTP status of the last attempt, 0 when none */
    const char *request_id;     /* x-amzn-RequestId (or x-amz-request-id), "" when none */
    int attempts;               /* RetryAttempts = attempts - 1 */
    int http_version;           /* of the last response: 11 or 20 (0: none) */
    int connections_opened;     /* new connections the attempts opened (0: all reused) */
    const struct iot_header *headers;  /* of the last response */
    size_t nheaders;
    const char *body;           /* raw body of the last response (NUL-terminated) */
    size_t body_len;
    const struct iot_out *output;  /* ok: a MAP with the model's output members present
                                      in the response (empty MAP for no output) */
    struct iot_error error;     /* !ok: code, message, status, request_id, ... */
};

void iot_result_free(struct iot_result *result);   /* NULL is fine */

#endif
