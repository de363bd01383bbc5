/*
 * http1.h — the native HTTP/1.1 transport: keep-alive connections the engine manages
 * itself for http:// and https:// endpoints whose host is an IP address or localhost
 * (the local emulator, a VPC proxy), where libcurl's per-request work (URL parsing,
 * header assembly one byte at a time) would cost more CPU than everything else of a call
 * together. TLS is net_stream.h's over OpenSSL: verification of the chain and the name on
 * unless verify_tls is off, SNI for host names, ALPN http/1.1, one context per set of CA
 * options and engine, sessions resumed per host:port. Host names that need DNS, proxies,
 * streamed file bodies and HTTP/2 when chosen keep going through libcurl.
 *
 * Two halves:
 *   - a response parser and a request writer that never touch a socket (fuzzed by
 *     fuzz/fuzz_http1_response.c, tested in spec/unit/test_http1.c);
 *   - the connection pool (http1.c), driven by http.c through the h1_* functions.
 *
 * Errors are reported as the CURLcode libcurl would give for the same failure, so the
 * client classifies both transports' failures with one table.
 */
#ifndef IOTLUA_HTTP1_H
#define IOTLUA_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct iot_engine;
struct http_xfer;

/* ================================================================ response parser */

enum h1_state {
    H1_HEAD,            /* reading the status line and header lines */
    H1_BODY_LENGTH,     /* Content-Length bytes to go */
    H1_CHUNK_SIZE,      /* a chunk-size line */
    H1_CHUNK_DATA,      /* chunk bytes to go */
    H1_CHUNK_END,       /* the CRLF after a chunk's data */
    H1_TRAILER,         /* trailer lines after the last chunk */
    H1_BODY_CLOSE,      /* the body ends when the server closes the connection */
    H1_DONE,
    H1_ERROR
};

#define H1_MAX_HEAD_BYTES (1024u * 1024u)

struct h1_response {
    /* Output: the raw header block of the final (non-1xx) response, status line first,
     * ending with its empty line, and the decoded body. Both are the caller's. */
    struct buf *head;
    struct buf *body;
    size_t max_body;            /* larger bodies fail with too_large */
    int no_body;                /* the request was HEAD: the response has no body */
    enum h1_state state;
    int status;                 /* 100..999 once the head is read */
    int version;                /* 10 or 11 */
    int keep_alive;             /* the connection may carry another request */
    int too_large;              /* with H1_ERROR: a limit was hit */
    const char *error;          /* with H1_ERROR: what was wrong (static text) */
    /* internal */
    int newline_seen;           /* the head's last line break, to find the empty line */
    int chunked;
    uint64_t remaining;         /* body or chunk bytes to go */
    size_t trailer_bytes;
    char line[128];             /* chunk-size or trailer line being read */
    size_t line_len;
};

/* Ready to read one response into head and body (both reset here). */
void h1_response_init(struct h1_response *r, struct buf *head, struct buf *body,
                      size_t max_body, int no_body);
/* Feed received bytes; returns how many were used. Afterwards r->state is H1_DONE (the
 * rest, if any, is not part of this response), H1_ERROR, or a state wanting more. */
size_t h1_response_feed(struct h1_response *r, const char *data, size_t len);
/* The server closed the connection: a close-delimited body is complete (returns 0);
 * any other unfinished response is truncated (returns -1). */
int h1_response_eof(struct h1_response *r);

/* ================================================================ request writer */

/* The header lines of one request, kept as they go on the wire ("Name: value\r\n" each,
 * in the order added) so the writer copies them in one piece; the libcurl path makes its
 * list from them (http.c). h1_headers_reset keeps the memory for the next request. */
struct h1_headers {
    struct buf lines;
    int has_host, has_user_agent;
};

void h1_headers_reset(struct h1_headers *h);
void h1_headers_free(struct h1_headers *h);
/* Add one header (an empty value is allowed). 0; -1 out of memory; -2 when the name is
 * not an HTTP token (empty, spaces, separators such as ':') or the value holds CR or LF. */
int h1_headers_add(struct h1_headers *h, const char *name, const char *value);
/* Walk the lines: start with at = h->lines.data; returns where the next line starts,
 * NULL once past the last. The name starts at the at given (name_len bytes), the value
 * is value_len bytes; neither is NUL-terminated. */
const char *h1_headers_next(const struct h1_headers *h, const char *at, size_t *name_len,
                            const char **value, size_t *value_len);

/* Append the request head and body to out: the request line, Host from host_port unless
 * headers has one, User-Agent from user_agent (when not NULL) unless headers has one, the
 * header lines (headers may be NULL), Content-Length when has_body, the body.
 * Returns 0, -1 out of memory, -2 the method or target holds a space, CR or LF. */
int h1_write_request(struct buf *out, const char *method, const char *target,
                     const char *host_port, const struct h1_headers *headers,
                     const char *user_agent, const char *body, size_t body_len, int has_body);

/* Split an http:// or https:// URL into host (no brackets for IPv6), port (80 or 443
 * when absent) and the request target (path and query, "/" when absent). 0, or -1 for
 * anything else. */
struct h1_url {
    int tls;                    /* https:// */
    char host[256];
    char host_port[270];        /* as the Host header writes it */
    int port;
    const char *target;         /* points into the URL */
};
int h1_parse_url(const char *url, struct h1_url *out);

/* ================================================================ TLS contexts */

struct iot_error;
struct net_tls_ctx;

/* The pool's TLS contexts, one per (CA bundle, verify) in use (http1_tls.c). */
struct h1_tls_set {
    struct h1_tls_entry *v;
    size_t n;
};

/* The context for these options, made on first use with the engine's trust store for
 * ca_bundle (engine_tls.c: shared with libcurl's and the MQTT devices' contexts); NULL
 * with err set (InternalError: out of memory; a CA bundle that cannot be read fails the
 * first handshake instead). */
struct net_tls_ctx *h1_tls_ctx(struct iot_engine *engine, struct h1_tls_set *set,
                               const char *ca_bundle, int verify, struct iot_error *err);
void h1_tls_set_free(struct h1_tls_set *set);

/* ================================================================ connection pool */

struct h1_pool;

/* What the transport carried (a debug counter: tests assert which path was taken). */
struct h1_stats {
    uint64_t exchanges;                 /* requests sent, plain and TLS */
    uint64_t tls_exchanges;             /* of which over TLS */
    uint64_t tls_handshakes;            /* completed handshakes */
    uint64_t tls_resumed;               /* of which resumed a session */
};

/* NULL when out of memory. max_connections caps open connections (busy and idle); tls 0
 * leaves every https:// transfer to libcurl (HTTP/2 chosen). */
struct h1_pool *h1_pool_new(int max_connections, int tls);
const struct h1_stats *h1_pool_stats(const struct h1_pool *pool);
void h1_pool_free(struct iot_engine *engine, struct h1_pool *pool);
void h1_pool_set_max(struct h1_pool *pool, int max_connections);

/* 1 when x should go through this transport (http://, or https:// unless HTTP/2 was
 * chosen; no file body; not turned off by IOTLUA_HTTP_TRANSPORT=curl or a proxy variable
 * for the scheme: http_proxy, https_proxy/HTTPS_PROXY, all_proxy/ALL_PROXY). */
int h1_wants(const struct h1_pool *pool, const struct http_xfer *x);
/* 1 when a connection slot is free (fewer than max_connections busy). */
int h1_slot_free(const struct h1_pool *pool);
/* Nonzero when x should wait before it starts (H1_WAIT_DNS or H1_WAIT_SESSION):
 * - while its host name is being resolved, off the loop, in the engine's cache
 *   (engine_dns.c, shared with the MQTT client); a name not asked for yet is asked for
 *   now. A name resolved, or that failed (h1_start then fails x), does not wait;
 * - for https://, while the first connection to its server has not brought a session
 *   back: no session is kept for the server yet, no idle connection to it, and a
 *   connection to it is still handshaking or has finished its handshake less than 100 ms
 *   ago without an answer yet (a timer wakes the loop when that time is up). The others
 *   then resume that session rather than each paying a full handshake (certificate
 *   parsing and verification are most of one). */
enum { H1_WAIT_DNS = 1, H1_WAIT_SESSION = 2 };
int h1_wait_to_start(struct iot_engine *engine, struct h1_pool *pool,
                     const struct http_xfer *x);
/* x's connect timeout (its total timeout when that is shorter), in ms: it covers the
 * wait above, the TCP connect and the TLS handshake together, as libcurl's does. */
long h1_connect_timeout_ms(const struct http_xfer *x);
/* Start x on a pooled or new connection. 0 started (or already failed: done will run
 * from h1_flush); 2 x is not for this transport after all (a URL form or a host name
 * it leaves to libcurl). */
int h1_start(struct iot_engine *engine, struct h1_pool *pool, struct http_xfer *x);
/* Send the requests h1_start wrote, in one burst after a batch of starts. */
void h1_send_started(struct iot_engine *engine, struct h1_pool *pool);
/* Abandon x (its connection is closed); done is not called. */
void h1_abort(struct iot_engine *engine, struct h1_pool *pool, struct http_xfer *x);
/* Advance every connection with I/O ready, without waiting; completed transfers are
 * handed to http_native_done. */
void h1_process(struct iot_engine *engine, struct h1_pool *pool);
/* Hand finished transfers to the engine (http_native_done). */
void h1_flush(struct iot_engine *engine, struct h1_pool *pool);
/* Wait up to timeout_ms for I/O on the pool's connections. */
void h1_wait(struct h1_pool *pool, int timeout_ms);
/* A file descriptor readable when some connection has I/O ready (-1: none yet). */
int h1_poll_fd(const struct h1_pool *pool);
/* Transfers in flight on native connections. */
int h1_busy(const struct h1_pool *pool);

#endif
