/*
 * net_stream.c — a non-blocking TCP connection with optional TLS over memory BIOs; see
 * net_stream.h.
 */
#define _GNU_SOURCE
#include "net_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine.h"
#include "tls_trust.h"

#define NET_READ_CHUNK 16384

/* ================================================================ errors */

/* Empty OpenSSL's error queue before an I/O call, so that SSL_get_error reports that
 * call. The queue is nearly always empty already: peeking is cheap, clearing walks every
 * slot (a tenth of a TLS exchange's instructions went to it). */
static void clear_tls_errors(void)
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

static void socket_error(struct iot_error *err, const char *what, int code)
{
    iot_error_set(err, "NetworkError", "%s: %s", what, strerror(code));
}

/* ================================================================ TLS set-up */

/* Verification on: the peer's chain against tls->ca_file, else the system store
 * (tls_trust.h). With defer_trust the store is left empty, to be filled by
 * load_deferred_trust while the server answers the first ClientHello. */
static int set_verify(SSL_CTX *ctx, const struct net_tls *tls, int defer_trust,
                      struct iot_error *err)
{
    SSL_CTX_set_verify(ctx, tls->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (!tls->verify || defer_trust)
        return 0;
    return tls_trust_load(ctx, tls->ca_file, err);
}

static int load_identity(SSL_CTX *ctx, const struct net_tls *tls, struct iot_error *err)
{
    if (!tls->cert_file && !tls->key_file)
        return 0;
    if (!tls->cert_file || !tls->key_file) {
        iot_error_set(err, "ConfigError", "mutual TLS needs both cert and key");
        return -1;
    }
    char what[300];
    if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
        snprintf(what, sizeof what, "cannot read the certificate '%.200s'", tls->cert_file);
        tls_set_error(err, what);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof what, "cannot read the private key '%.200s'", tls->key_file);
        tls_set_error(err, what);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_set_error(err, "the private key does not match the certificate");
        return -1;
    }
    return 0;
}

static int set_alpn(SSL_CTX *ctx, const char *alpn, struct iot_error *err)
{
    if (!alpn)
        return 0;
    size_t n = strlen(alpn);
    if (n == 0 || n > 255) {
        iot_error_set(err, "ConfigError", "alpn must be 1 to 255 bytes");
        return -1;
    }
    unsigned char wire[256];
    wire[0] = (unsigned char)n;
    memcpy(wire + 1, alpn, n);
    if (SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)n + 1) != 0) {
        tls_set_error(err, "cannot set ALPN");
        return -1;
    }
    return 0;
}

/* The name checked against the server's certificate, and SNI for a host name. */
static int set_peer_name(SSL *ssl, const char *name, int verify, struct iot_error *err)
{
    int ip = net_is_ip_literal(name);
    if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1) {
        tls_set_error(err, "cannot set the server name");
        return -1;
    }
    if (!verify)
        return 0;
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                : SSL_set1_host(ssl, name);
    if (ok != 1) {
        tls_set_error(err, "cannot set the name to verify");
        return -1;
    }
    return 0;
}

/* The settings every client context gets: TLS 1.2 at least, trust (or its deferral),
 * identity, ALPN. */
static int ctx_configure(SSL_CTX *ctx, const struct net_tls *tls, int defer_trust,
                         struct iot_error *err)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (set_verify(ctx, tls, defer_trust, err) != 0 || load_identity(ctx, tls, err) != 0 ||
        set_alpn(ctx, tls->alpn, err) != 0)
        return -1;
    return 0;
}

/* A connection of ctx on ns (memory BIOs), checking name; ns->ssl set. 0 or -1. */
static int ssl_attach(struct net_stream *ns, SSL_CTX *ctx, const char *name, int verify,
                      struct iot_error *err)
{
    SSL *ssl = SSL_new(ctx);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    if (!ssl || !in || !out) {
        SSL_free(ssl);
        BIO_free(in);
        BIO_free(out);
        tls_set_error(err, "cannot create a TLS connection");
        return -1;
    }
    SSL_set_bio(ssl, in, out);
    ns->ssl = ssl;
    SSL_set_app_data(ssl, ns);
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_connect_state(ssl);
    return set_peer_name(ssl, name, verify, err);
}

static int attach_shared(struct net_stream *ns, struct net_tls_ctx *ctx, const char *name,
                         const char *session_key, struct iot_error *err);

static int tls_start(struct net_stream *ns, const char *host, const struct net_tls *tls,
                     struct iot_error *err)
{
    const char *name = tls->server_name ? tls->server_name : host;
    if (tls->shared)
        return attach_shared(ns, tls->shared, name, tls->session_key, err);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_set_error(err, "cannot create a TLS context");
        return -1;
    }
    ns->ssl_ctx = ctx;
    if (ctx_configure(ctx, tls, 0, err) != 0)
        return -1;
    return ssl_attach(ns, ctx, name, tls->verify, err);
}

/* ================================================================ shared contexts */

struct net_session {
    char *key;
    SSL_SESSION *session;
};

/* A shared context's trust store is filled after the first ClientHello has gone out, so
 * that reading a CA file (a decoded public key per certificate, half a millisecond or
 * more) overlaps the server's work on its answer instead of preceding the connection. */
struct net_tls_ctx {
    SSL_CTX *ctx;
    int verify;
    int refs;                       /* its maker's, and one per stream using it */
    void (*gone)(void *owner, struct net_tls_ctx *ctx);     /* told when freed */
    void *owner;
    char *ca_file;                  /* NULL: the system store */
    int trust_loaded;               /* 1 also when nothing is verified */
    struct net_session *sessions;   /* a handful of servers: searched in order */
    size_t nsessions;
};

static struct net_session *session_slot(struct net_tls_ctx *t, const char *key)
{
    for (size_t i = 0; i < t->nsessions; i++)
        if (strcmp(t->sessions[i].key, key) == 0)
            return &t->sessions[i];
    return NULL;
}

/* OpenSSL's new-session callback: keep the session as the latest for its server.
 * Returns 1 when the session is kept (its reference is ours), 0 otherwise. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    struct net_stream *ns = SSL_get_app_data(ssl);
    if (!ns || !ns->shared || !ns->session_key)
        return 0;
    struct net_tls_ctx *t = ns->shared;
    struct net_session *slot = session_slot(t, ns->session_key);
    if (!slot) {
        char *key = strdup(ns->session_key);
        struct net_session *v = key ? realloc(t->sessions, (t->nsessions + 1) * sizeof *v)
                                    : NULL;
        if (!v) {
            free(key);
            return 0;
        }
        t->sessions = v;
        slot = &v[t->nsessions++];
        slot->key = key;
        slot->session = NULL;
    }
    SSL_SESSION_free(slot->session);
    slot->session = session;
    return 1;
}

struct net_tls_ctx *net_tls_ctx_new(const struct net_tls *tls, struct iot_error *err)
{
    struct net_tls_ctx *t = calloc(1, sizeof *t);
    if (!t || !(t->ctx = SSL_CTX_new(TLS_client_method()))) {
        free(t);
        tls_set_error(err, "cannot create a TLS context");
        return NULL;
    }
    t->verify = tls->verify;
    t->refs = 1;
    t->trust_loaded = !tls->verify;
    if (tls->ca_file && !(t->ca_file = strdup(tls->ca_file))) {
        iot_error_set(err, "InternalError", "out of memory");
        net_tls_ctx_free(t);
        return NULL;
    }
    if (ctx_configure(t->ctx, tls, 1, err) != 0) {
        net_tls_ctx_free(t);
        return NULL;
    }
    /* As libcurl does by default: a certificate of the bundle may anchor the chain even
     * when it is not self-signed (an intermediate CA given as the trust anchor). */
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(t->ctx), X509_V_FLAG_PARTIAL_CHAIN);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT |
                                           SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, on_new_session);
    return t;
}

struct net_tls_ctx *net_tls_ctx_ref(struct net_tls_ctx *t)
{
    t->refs++;
    return t;
}

void net_tls_ctx_set_owner(struct net_tls_ctx *t, void *owner,
                           void (*gone)(void *owner, struct net_tls_ctx *ctx))
{
    t->owner = owner;
    t->gone = gone;
}

void net_tls_ctx_free(struct net_tls_ctx *t)
{
    if (!t || --t->refs > 0)
        return;
    if (t->gone)
        t->gone(t->owner, t);
    for (size_t i = 0; i < t->nsessions; i++) {
        free(t->sessions[i].key);
        SSL_SESSION_free(t->sessions[i].session);
    }
    free(t->sessions);
    free(t->ca_file);
    SSL_CTX_free(t->ctx);
    free(t);
}

/* Offers the session ctx keeps for ns->session_key, if any, on ns's connection. */
static void offer_session(struct net_stream *ns)
{
    struct net_session *slot = ns->session_key ? session_slot(ns->shared, ns->session_key)
                                               : NULL;
    /* A copy for this connection: OpenSSL marks a TLS 1.3 session not resumable once a
     * connection has resumed it (tickets used once), which would leave the connections
     * opened with the first burst each a full handshake. The kept session is replaced by
     * the next ticket a server sends; no early data is ever sent on a resumption. */
    SSL_SESSION *copy = slot && SSL_SESSION_is_resumable(slot->session)
                        ? SSL_SESSION_dup(slot->session) : NULL;
    if (copy) {
        SSL_set_session(ns->ssl, copy);
        SSL_SESSION_free(copy);         /* the connection holds its own reference */
    }
}

/* TLS on ns through shared context ctx (a reference taken until net_stream_close). */
static int attach_shared(struct net_stream *ns, struct net_tls_ctx *ctx, const char *name,
                         const char *session_key, struct iot_error *err)
{
    ns->shared = net_tls_ctx_ref(ctx);
    ns->session_key = session_key;
    if (ssl_attach(ns, ctx->ctx, name, ctx->verify, err) != 0)
        return -1;
    offer_session(ns);
    return 0;
}

int net_stream_start_tls(struct net_stream *ns, int fd, const char *host,
                         struct net_tls_ctx *ctx, const char *session_key,
                         struct iot_error *err)
{
    memset(ns, 0, sizeof *ns);
    ns->fd = fd;
    ns->state = NET_HANDSHAKE;
    ns->want = ENG_WRITE;
    if (attach_shared(ns, ctx, host, session_key, err) != 0) {
        net_stream_close(ns);
        return -1;
    }
    return 0;
}

int net_tls_ctx_has_session(struct net_tls_ctx *ctx, const char *key)
{
    struct net_session *slot = session_slot(ctx, key);
    return slot && SSL_SESSION_is_resumable(slot->session);
}

int net_stream_resumed(const struct net_stream *ns)
{
    return ns->ssl && SSL_session_reused(ns->ssl);
}

int net_stream_drained(const struct net_stream *ns)
{
    if (!ns->ssl)
        return ns->last_recv_short;
    return ns->last_recv_short && SSL_pending(ns->ssl) == 0 &&
           BIO_ctrl_pending(SSL_get_rbio(ns->ssl)) == 0;
}

/* ================================================================ sockets */

static int start_connect(const struct addrinfo *ai, struct iot_error *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0) {
        socket_error(err, "cannot create a socket", errno);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        socket_error(err, "cannot connect", errno);
        close(fd);
        return -1;
    }
    return fd;
}

int net_is_ip_literal(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

void net_stream_init(struct net_stream *ns)
{
    memset(ns, 0, sizeof *ns);
    ns->fd = -1;
    ns->state = NET_CLOSED;
}

/* Starts connecting to the next address that takes a connect: ns->fd, or -1 with err
 * (none left). */
static int connect_next(struct net_stream *ns, struct iot_error *err)
{
    if (ns->fd >= 0)
        close(ns->fd);
    ns->fd = -1;
    while (ns->next_addr && ns->fd < 0) {
        const struct addrinfo *ai = ns->next_addr;
        ns->next_addr = ai->ai_next;
        ns->fd = start_connect(ai, err);
    }
    return ns->fd;
}

int net_stream_open_addrs(struct net_stream *ns, const char *host, struct dns_addrs *addrs,
                          const struct net_tls *tls, struct iot_error *err)
{
    net_stream_init(ns);
    if (tls && tls_start(ns, host, tls, err) != 0) {
        net_stream_close(ns);
        return -1;
    }
    ns->addrs = dns_addrs_ref(addrs);
    ns->next_addr = addrs->list;
    iot_error_set(err, "NetworkError", "no address to connect to");
    if (connect_next(ns, err) < 0) {
        net_stream_close(ns);
        return -1;
    }
    ns->state = NET_CONNECTING;
    ns->want = ENG_WRITE;
    return 0;
}

int net_stream_open(struct net_stream *ns, const char *host, int port,
                    const struct net_tls *tls, struct iot_error *err)
{
    net_stream_init(ns);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        iot_error_set(err, "NetworkError", "cannot resolve '%.200s': %s", host,
                      gai_strerror(rc));
        return -1;
    }
    struct dns_addrs *addrs = dns_addrs_wrap(res);
    if (!addrs) {
        iot_error_set(err, "InternalError", "out of memory");
        return -1;
    }
    rc = net_stream_open_addrs(ns, host, addrs, tls, err);
    dns_addrs_release(addrs);
    return rc;
}

/* ================================================================ moving TLS records */

/* Moves what OpenSSL wrote into ns->pending, then sends as much of it as the socket
 * takes. 0, or -1 with err set. */
static int tls_flush(struct net_stream *ns, struct iot_error *err)
{
    BIO *out = SSL_get_wbio(ns->ssl);
    size_t queued = (size_t)BIO_ctrl_pending(out);
    if (queued) {
        if (ns->pending_len + queued > ns->pending_cap) {
            size_t cap = ns->pending_cap ? ns->pending_cap : 4096;
            while (cap < ns->pending_len + queued)
                cap *= 2;
            char *p = realloc(ns->pending, cap);
            if (!p) {
                iot_error_set(err, "InternalError", "out of memory");
                return -1;
            }
            ns->pending = p;
            ns->pending_cap = cap;
        }
        int n = BIO_read(out, ns->pending + ns->pending_len, (int)queued);
        if (n > 0)
            ns->pending_len += (size_t)n;
    }
    size_t sent = 0;
    while (sent < ns->pending_len) {
        ssize_t n = send(ns->fd, ns->pending + sent, ns->pending_len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        socket_error(err, "cannot send", errno);
        return -1;
    }
    memmove(ns->pending, ns->pending + sent, ns->pending_len - sent);
    ns->pending_len -= sent;
    return 0;
}

/* Reads what the socket has into OpenSSL's input: 1 some, 0 nothing now, -1 the peer
 * closed (err "closed") or the read failed. */
static int tls_pump_in(struct net_stream *ns, struct iot_error *err)
{
    char chunk[NET_READ_CHUNK];
    for (;;) {
        ssize_t n = recv(ns->fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            ns->last_recv_short = (size_t)n < sizeof chunk;
            BIO_write(SSL_get_rbio(ns->ssl), chunk, (int)n);
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ns->last_recv_short = 1;
            return 0;
        }
        if (n == 0) {
            ns->eof = NET_EOF_TCP;
            iot_error_set(err, "NetworkError", "connection closed by the server");
        } else {
            socket_error(err, "cannot receive", errno);
        }
        return -1;
    }
}

/* ================================================================ connecting */

static void handshake_failed(struct net_stream *ns, struct iot_error *err)
{
    long verify = SSL_get_verify_result(ns->ssl);
    if (verify != X509_V_OK) {
        ERR_clear_error();
        ns->cert_rejected = 1;
        iot_error_set(err, "TLSError", "the server's certificate was not accepted: %s",
                      X509_verify_cert_error_string(verify));
        return;
    }
    tls_set_error(err, "TLS handshake failed");
}

/* A shared context's trust store, loaded the first time one of its handshakes waits for
 * the server (its ClientHello sent, nothing to verify yet): 0, or -1 with err set. A CA
 * file that cannot be read is tried again by the next handshake (it may appear). */
static int load_deferred_trust(struct net_stream *ns, struct iot_error *err)
{
    struct net_tls_ctx *t = ns->shared;
    if (!t || t->trust_loaded)
        return 0;
    if (tls_trust_load(t->ctx, t->ca_file, err) != 0) {
        ns->cert_rejected = 1;
        return -1;
    }
    t->trust_loaded = 1;
    return 0;
}

static int handshake(struct net_stream *ns, struct iot_error *err)
{
    for (;;) {
        clear_tls_errors();
        int r = SSL_do_handshake(ns->ssl);
        if (tls_flush(ns, err) != 0)
            return -1;
        if (r == 1) {
            ns->state = NET_OPEN;
            ns->want = ENG_READ;
            return 1;
        }
        if (SSL_get_error(ns->ssl, r) != SSL_ERROR_WANT_READ) {
            handshake_failed(ns, err);
            return -1;
        }
        if (load_deferred_trust(ns, err) != 0)
            return -1;
        int in = tls_pump_in(ns, err);
        if (in < 0) {
            iot_error_set(err, "TLSError", "the server closed the connection during the "
                          "TLS handshake (a client certificate or ALPN it did not accept?)");
            return -1;
        }
        if (in == 0) {
            ns->want = ENG_READ | (ns->pending_len ? ENG_WRITE : 0);
            return 0;
        }
    }
}

static int finish_connect(struct net_stream *ns, struct iot_error *err)
{
    int code = 0;
    socklen_t len = sizeof code;
    if (getsockopt(ns->fd, SOL_SOCKET, SO_ERROR, &code, &len) != 0)
        code = errno;
    if (code == EINPROGRESS || code == EALREADY)
        return 0;
    if (code != 0) {
        socket_error(err, "cannot connect", code);
        return connect_next(ns, err) < 0 ? -1 : 0;     /* the next address, if any */
    }
    dns_addrs_release(ns->addrs);
    ns->addrs = NULL;
    ns->next_addr = NULL;
    if (!ns->ssl) {
        ns->state = NET_OPEN;
        ns->want = ENG_READ;
        return 1;
    }
    ns->state = NET_HANDSHAKE;
    return handshake(ns, err);
}

int net_stream_progress(struct net_stream *ns, struct iot_error *err)
{
    switch (ns->state) {
    case NET_CONNECTING:
        return finish_connect(ns, err);
    case NET_HANDSHAKE:
        return handshake(ns, err);
    case NET_OPEN:
        return 1;
    default:
        iot_error_set(err, "NetworkError", "the connection is closed");
        return -1;
    }
}

/* ================================================================ data */

static long plain_read(struct net_stream *ns, void *buf, size_t len, struct iot_error *err)
{
    for (;;) {
        ssize_t n = recv(ns->fd, buf, len, 0);
        if (n > 0) {
            ns->last_recv_short = (size_t)n < len;
            return (long)n;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n == 0) {
            ns->eof = NET_EOF_TCP;
            iot_error_set(err, "NetworkError", "connection closed by the server");
        } else
            socket_error(err, "cannot receive", errno);
        return -1;
    }
}

static long tls_read(struct net_stream *ns, void *buf, size_t len, struct iot_error *err)
{
    /* Nothing received and not yet decrypted: SSL_read could only ask for more. */
    if (!SSL_has_pending(ns->ssl) && BIO_ctrl_pending(SSL_get_rbio(ns->ssl)) == 0) {
        int in = tls_pump_in(ns, err);
        if (in <= 0)
            return in;
    }
    for (;;) {
        clear_tls_errors();
        int r = SSL_read(ns->ssl, buf, len > 0x7fffffff ? 0x7fffffff : (int)len);
        if (tls_flush(ns, err) != 0)
            return -1;
        if (r > 0)
            return r;
        int e = SSL_get_error(ns->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) {
            ns->eof = NET_EOF_NOTIFY;
            iot_error_set(err, "NetworkError", "connection closed by the server");
            return -1;
        }
        if (e != SSL_ERROR_WANT_READ) {
            tls_set_error(err, "TLS read failed");
            return -1;
        }
        int in = tls_pump_in(ns, err);
        if (in <= 0)
            return in;
    }
}

long net_stream_read(struct net_stream *ns, void *buf, size_t len, struct iot_error *err)
{
    if (ns->state != NET_OPEN) {
        iot_error_set(err, "NetworkError", "the connection is not open");
        return -1;
    }
    return ns->ssl ? tls_read(ns, buf, len, err) : plain_read(ns, buf, len, err);
}

static long plain_write(struct net_stream *ns, const void *data, size_t len,
                        struct iot_error *err)
{
    for (;;) {
        ssize_t n = send(ns->fd, data, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (long)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        socket_error(err, "cannot send", errno);
        return -1;
    }
}

static long tls_write(struct net_stream *ns, const void *data, size_t len,
                      struct iot_error *err)
{
    if (tls_flush(ns, err) != 0)
        return -1;
    if (ns->pending_len || len == 0)
        return 0;               /* the socket has not taken the last records yet */
    clear_tls_errors();
    int r = SSL_write(ns->ssl, data, len > 0x7fffffff ? 0x7fffffff : (int)len);
    if (r <= 0) {
        int e = SSL_get_error(ns->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        tls_set_error(err, "TLS write failed");
        return -1;
    }
    return tls_flush(ns, err) != 0 ? -1 : r;
}

long net_stream_write(struct net_stream *ns, const void *data, size_t len,
                      struct iot_error *err)
{
    if (ns->state != NET_OPEN) {
        iot_error_set(err, "NetworkError", "the connection is not open");
        return -1;
    }
    if (!ns->ssl)
        return len ? plain_write(ns, data, len, err) : 0;
    return tls_write(ns, data, len, err);
}

int net_stream_has_pending(const struct net_stream *ns)
{
    return ns->pending_len > 0;
}

unsigned net_stream_interest(const struct net_stream *ns, int has_output)
{
    switch (ns->state) {
    case NET_CONNECTING:
        return ENG_WRITE;
    case NET_HANDSHAKE:
        return ns->want;
    case NET_OPEN:
        return ENG_READ | (has_output || ns->pending_len ? ENG_WRITE : 0);
    default:
        return 0;
    }
}

void net_stream_shutdown(struct net_stream *ns)
{
    if (!ns->ssl || ns->state != NET_OPEN || ns->fd < 0)
        return;
    struct iot_error err;
    ERR_clear_error();
    SSL_shutdown(ns->ssl);
    tls_flush(ns, &err);
    ERR_clear_error();
}

void net_stream_close(struct net_stream *ns)
{
    if (ns->fd >= 0)
        close(ns->fd);
    ns->fd = -1;
    ns->state = NET_CLOSED;
    SSL_free(ns->ssl);              /* frees its BIOs */
    SSL_CTX_free(ns->ssl_ctx);
    net_tls_ctx_free(ns->shared);
    ns->ssl = NULL;
    ns->ssl_ctx = NULL;
    ns->shared = NULL;
    free(ns->pending);
    ns->pending = NULL;
    ns->pending_len = ns->pending_cap = 0;
    dns_addrs_release(ns->addrs);
    ns->addrs = NULL;
    ns->next_addr = NULL;
}
