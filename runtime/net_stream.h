/*
 * net_stream.h — one non-blocking TCP connection, plain or TLS (OpenSSL), for the
 * long-lived connections the engine drives (MQTT). No I/O happens on its own: the owner
 * adds net_stream_fd() to the engine as an fd source with net_stream_interest(), and
 * calls net_stream_progress / _read / _write when it is ready.
 *
 * TLS runs over a BIO of its own: OpenSSL's reads and writes are recv and send on the
 * socket (MSG_NOSIGNAL, so a peer that went away is an error, never a SIGPIPE), and what
 * the socket does not take yet is kept here until it has room. Verification of the server is on unless asked off: the chain
 * against `ca_file` (else the system store) and the name (host name or IP address).
 *
 * Errors are struct iot_error with code NetworkError (resolution, refused, reset,
 * closed), TLSError (handshake, verification, certificate or key files) or ConfigError
 * (an option that cannot work). No secret ever goes into a message.
 */
#ifndef IOTLUA_NET_STREAM_H
#define IOTLUA_NET_STREAM_H

#include "dns_cache.h"
#include <stddef.h>

#include "client.h"

struct net_tls {
    const char *ca_file;                /* NULL: the system's trust store */
    const char *cert_file, *key_file;   /* client certificate and key (mutual TLS) */
    const char *alpn;                   /* one protocol name, e.g. "x-amzn-mqtt-ca" */
    const char *server_name;            /* SNI and the name verified; NULL: the host */
    int verify;                         /* 0: accept any server (tests only) */
    /* With shared set, the connection is made with that context (net_tls_ctx_new, made
     * from these same options; engine_tls.c keeps them) instead of a context of its own,
     * and resumes the session it keeps for session_key (host:port), which must stay
     * valid while the stream is open. */
    struct net_tls_ctx *shared;
    const char *session_key;
    /* For net_tls_ctx_new: the trust store to share (tls_trust.h; it must be for
     * ca_file), NULL for one of the context's own. */
    struct tls_trust *trust;
};

enum net_state { NET_CONNECTING = 1, NET_HANDSHAKE, NET_OPEN, NET_CLOSED };

/* How a connection ended, once net_stream_read has returned -1. */
enum net_eof { NET_EOF_NONE, NET_EOF_NOTIFY /* TLS close_notify */, NET_EOF_TCP /* FIN */ };

struct net_tls_ctx;
struct tls_trust;

struct net_stream {
    int fd;                             /* -1 once closed */
    enum net_state state;
    unsigned want;                      /* ENG_READ / ENG_WRITE the next step waits for */
    void *ssl;                          /* SSL *, NULL for plain TCP */
    void *ssl_ctx;                      /* SSL_CTX *, owned (NULL with a shared context) */
    char *pending;                      /* TLS records OpenSSL wrote, not yet sent: */
    size_t pending_off, pending_len;    /* pending_len bytes from pending + pending_off */
    size_t pending_cap;
    int send_errno, recv_errno;         /* a send / recv under OpenSSL that failed */
    int hold_reads;                     /* TLS reads wait: the trust is not loaded yet */
    enum net_eof eof;                   /* set when a read saw the end */
    int cert_rejected;                  /* the handshake failed verifying the server */
    int last_recv_short;                /* the last recv left the socket empty */
    struct net_tls_ctx *shared;         /* the context sessions are kept in, or NULL */
    const char *session_key;            /* the server's name in shared's session cache */
    struct dns_addrs *addrs;            /* while connecting: the addresses (a reference), */
    const struct addrinfo *next_addr;   /* and the next one to try if this one fails */
};

/* ================================================================ shared TLS contexts */

/* A TLS client context for many connections (the HTTP/1.1 transport's; the engine's for
 * MQTT, engine_tls.c): the trust settings are loaded once, by the first handshake after
 * its ClientHello went out (a CA file that cannot be read fails that handshake with
 * TLSError and is tried again by the next), the client certificate and key now, and the
 * session each server gave last is kept per key (host:port) and offered on the next
 * connection to it, so reconnecting resumes rather than repeating the full handshake.
 * Sessions are only kept from handshakes this context verified. NULL with err set (a
 * certificate or key that cannot be read: TLSError). */
struct net_tls_ctx *net_tls_ctx_new(const struct net_tls *tls, struct iot_error *err);
/* A context is counted: its maker holds one reference, each stream made with it another
 * until net_stream_close. net_tls_ctx_free drops one and frees the context with the last
 * (NULL is fine), telling the owner set by net_tls_ctx_set_owner first. */
struct net_tls_ctx *net_tls_ctx_ref(struct net_tls_ctx *ctx);
void net_tls_ctx_free(struct net_tls_ctx *ctx);
void net_tls_ctx_set_owner(struct net_tls_ctx *ctx, void *owner,
                           void (*gone)(void *owner, struct net_tls_ctx *ctx));

/* TLS over fd, whose TCP connect has completed: ns takes fd over (closed by
 * net_stream_close, also when this fails) and the handshake runs in net_stream_progress.
 * host: SNI (not for an IP address) and the name verified; session_key must stay valid
 * while ns is open. 0, or -1 with err set. */
int net_stream_start_tls(struct net_stream *ns, int fd, const char *host,
                         struct net_tls_ctx *ctx, const char *session_key,
                         struct iot_error *err);

/* 1 when ctx holds a resumable session for key. */
int net_tls_ctx_has_session(struct net_tls_ctx *ctx, const char *key);

/* After the handshake: 1 when it resumed an earlier session. */
int net_stream_resumed(const struct net_stream *ns);

/* 1 when the last read left nothing behind: the socket was emptied and OpenSSL holds no
 * bytes (for plain TCP: the last recv was short). */
int net_stream_drained(const struct net_stream *ns);

/* Resolves host (getaddrinfo, which blocks for a name: an IP address does not) and
 * starts a non-blocking connect to port; tls NULL for plain TCP. 0, or -1 with err set
 * (ns is then closed). As net_stream_open_addrs from there. */
int net_stream_open(struct net_stream *ns, const char *host, int port,
                    const struct net_tls *tls, struct iot_error *err);
/* Starts a non-blocking connect to the first of addrs (resolved already: dns_cache.h;
 * a reference is taken while connecting) that takes one; when that connect fails, the
 * next address is tried, so ns->fd may change while net_stream_progress answers 0.
 * host is the name TLS checks (and sends as SNI unless an IP address). 0, or -1 with
 * err set (ns is then closed). */
int net_stream_open_addrs(struct net_stream *ns, const char *host, struct dns_addrs *addrs,
                          const struct net_tls *tls, struct iot_error *err);
/* 1 when host is an IPv4 or IPv6 address (no resolution needed). */
int net_is_ip_literal(const char *host);
/* A stream that is not open (fd -1): what net_stream_close may be given before any open. */
void net_stream_init(struct net_stream *ns);

/* Drives the connect and the TLS handshake: 1 open, 0 still going (ns->want says for
 * what), -1 failed with err set. */
int net_stream_progress(struct net_stream *ns, struct iot_error *err);

/* Bytes read into buf (> 0), 0 when nothing is ready, -1 when the connection ended or
 * failed (err says which: "connection closed by the server" for an orderly end). */
long net_stream_read(struct net_stream *ns, void *buf, size_t len, struct iot_error *err);

/* Bytes of data taken (0 when the socket is full: call again once writable), -1 failed. */
long net_stream_write(struct net_stream *ns, const void *data, size_t len,
                      struct iot_error *err);

/* 1 while TLS output is still queued in the stream (net_stream_write(ns, NULL, 0, err)
 * sends it). */
int net_stream_has_pending(const struct net_stream *ns);

/* What the owner's fd source should wait for now. */
unsigned net_stream_interest(const struct net_stream *ns, int has_output);

/* Sends TLS close_notify, best effort (what the socket takes now), so the session stays
 * resumable: OpenSSL marks a session not resumable when its connection is freed without
 * one. No-op for plain TCP or a connection not open. */
void net_stream_shutdown(struct net_stream *ns);

/* Closes the socket at once (no TLS close_notify: to the peer this is the connection
 * dropping) and frees everything; safe to call twice. */
void net_stream_close(struct net_stream *ns);

#endif
