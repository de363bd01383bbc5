/*
 * net_stream.c — a non-blocking TCP connection with optional TLS; see net_stream.h.
 */
#define _GNU_SOURCE
#include "net_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "engine.h"
#include "net_tls_internal.h"
#include "tls_trust.h"

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

/* ================================================================ the socket BIO */

/* OpenSSL reads and writes ns's socket through this BIO. A read is one recv into
 * OpenSSL's own buffer (read-ahead on: what the socket has, up to a record's size and
 * more, in one call); a write goes straight to send when nothing waits before it, and
 * what the socket does not take is kept in ns->pending for tls_flush. Every write is
 * taken whole, so SSL_write never has to be repeated. A failed send or recv is kept in
 * ns (send_errno, recv_errno, eof) for the caller to report; a read is held back (a retry)
 * while ns->hold_reads, so that a shared context's trust is loaded before the server's
 * certificate can be read. Memory BIOs cost a copy more each way: 100,840 against 98,518
 * instructions per HTTPS publish (callgrind, 10,000 publishes at concurrency 64). */

/* Keeps data after what waits already. The bytes sent from the front are given back
 * here, when the end has no room (moved once, not at every send). */
static int pending_append(struct net_stream *ns, const char *data, size_t len)
{
    if (ns->pending_off + ns->pending_len + len > ns->pending_cap && ns->pending_off) {
        memmove(ns->pending, ns->pending + ns->pending_off, ns->pending_len);
        ns->pending_off = 0;
    }
    if (ns->pending_len + len > ns->pending_cap) {
        size_t cap = ns->pending_cap ? ns->pending_cap : 4096;
        while (cap < ns->pending_len + len)
            cap *= 2;
        char *p = realloc(ns->pending, cap);
        if (!p)
            return -1;
        ns->pending = p;
        ns->pending_cap = cap;
    }
    memcpy(ns->pending + ns->pending_off + ns->pending_len, data, len);
    ns->pending_len += len;
    return 0;
}

/* Sends what the socket takes of data now: the count sent. A failure is kept in
 * ns->send_errno (tls_flush reports it) and stops sending. */
static size_t send_some(struct net_stream *ns, const char *data, size_t len)
{
    size_t sent = 0;
    while (sent < len && ns->send_errno == 0) {
        ssize_t n = send(ns->fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0)
            sent += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else
            ns->send_errno = n < 0 ? errno : EIO;
    }
    return sent;
}

static int sock_bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    struct net_stream *ns = BIO_get_data(b);
    size_t sent = ns->pending_len == 0 ? send_some(ns, data, len) : 0;
    if (ns->send_errno == 0 && sent < len && pending_append(ns, data + sent, len - sent) != 0)
        ns->send_errno = ENOMEM;
    *written = len;
    return 1;
}

static int sock_bio_read(BIO *b, char *buf, size_t len, size_t *got)
{
    struct net_stream *ns = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (ns->hold_reads) {
        BIO_set_retry_read(b);
        return 0;
    }
    for (;;) {
        ssize_t n = recv(ns->fd, buf, len, 0);
        if (n > 0) {
            ns->last_recv_short = (size_t)n < len;
            *got = (size_t)n;
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ns->last_recv_short = 1;
            BIO_set_retry_read(b);
        } else if (n == 0) {
            ns->eof = NET_EOF_TCP;
        } else {
            ns->recv_errno = errno;
        }
        return 0;
    }
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    struct net_stream *ns = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;                       /* tls_flush sends what is kept */
    case BIO_CTRL_EOF:
        return ns->eof != NET_EOF_NONE;
    case BIO_CTRL_WPENDING:
        return (long)ns->pending_len;
    default:
        return 0;
    }
}

static BIO_METHOD *sock_bio_method_made;

static void sock_bio_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "iotlua net_stream socket");
    if (m && (BIO_meth_set_write_ex(m, sock_bio_write) != 1 ||
              BIO_meth_set_read_ex(m, sock_bio_read) != 1 ||
              BIO_meth_set_ctrl(m, sock_bio_ctrl) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    sock_bio_method_made = m;
}

static BIO *sock_bio_new(struct net_stream *ns)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sock_bio_method_make);
    BIO *b = sock_bio_method_made ? BIO_new(sock_bio_method_made) : NULL;
    if (b) {
        BIO_set_data(b, ns);
        BIO_set_init(b, 1);
    }
    return b;
}

/* A connection of ctx on ns (the socket BIO), checking name; ns->ssl set. 0 or -1. */
static int ssl_attach(struct net_stream *ns, SSL_CTX *ctx, const char *name, int verify,
                      struct iot_error *err)
{
    SSL *ssl = SSL_new(ctx);
    BIO *bio = sock_bio_new(ns);
    if (!ssl || !bio) {
        SSL_free(ssl);
        BIO_free(bio);
        tls_set_error(err, "cannot create a TLS connection");
        return -1;
    }
    SSL_set_bio(ssl, bio, bio);         /* one reference, for both directions */
    ns->ssl = ssl;
    SSL_set_app_data(ssl, ns);
    SSL_set_read_ahead(ssl, 1);
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
    if (net_tls_configure(ctx, tls, 0, err) != 0)
        return -1;
    return ssl_attach(ns, ctx, name, tls->verify, err);
}

/* TLS on ns through shared context ctx (a reference taken until net_stream_close). */
static int attach_shared(struct net_stream *ns, struct net_tls_ctx *ctx, const char *name,
                         const char *session_key, struct iot_error *err)
{
    ns->shared = net_tls_ctx_ref(ctx);
    ns->session_key = session_key;
    ns->hold_reads = !ctx->trust_loaded;
    if (ssl_attach(ns, ctx->ctx, name, ctx->verify, err) != 0)
        return -1;
    net_tls_ctx_offer_session(ctx, ns->ssl, session_key);
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

int net_stream_resumed(const struct net_stream *ns)
{
    return ns->ssl && SSL_session_reused(ns->ssl);
}

int net_stream_drained(const struct net_stream *ns)
{
    if (!ns->ssl)
        return ns->last_recv_short;
    return ns->last_recv_short && !SSL_has_pending(ns->ssl);
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

/* Sends what the socket BIO kept (ns->pending), as much as the socket takes. 0, or -1
 * with err set (a send that failed, here or in the BIO). */
static int tls_flush(struct net_stream *ns, struct iot_error *err)
{
    /* (pending is NULL until a send fell short) */
    size_t sent = ns->pending_len ? send_some(ns, ns->pending + ns->pending_off,
                                              ns->pending_len) : 0;
    if (ns->send_errno) {
        socket_error(err, "cannot send", ns->send_errno);
        return -1;
    }
    ns->pending_len -= sent;
    ns->pending_off = ns->pending_len ? ns->pending_off + sent : 0;
    return 0;
}

/* The socket under a TLS call that failed: -1 with err set when a send or a receive
 * failed or the peer closed it (the BIO kept which), else 0. */
static int tls_socket_failed(struct net_stream *ns, struct iot_error *err)
{
    if (ns->send_errno) {
        socket_error(err, "cannot send", ns->send_errno);
        return -1;
    }
    if (ns->eof == NET_EOF_TCP) {
        iot_error_set(err, "NetworkError", "connection closed by the server");
        return -1;
    }
    if (ns->recv_errno) {
        socket_error(err, "cannot receive", ns->recv_errno);
        return -1;
    }
    return 0;
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
    if (ns->shared && net_tls_ctx_load_trust(ns->shared, err) != 0) {
        ns->cert_rejected = 1;
        return -1;
    }
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
            if (tls_socket_failed(ns, err) != 0)
                iot_error_set(err, "TLSError", "the server closed the connection during the "
                              "TLS handshake (a client certificate or ALPN it did not "
                              "accept?)");
            else
                handshake_failed(ns, err);
            return -1;
        }
        if (ns->hold_reads) {           /* the ClientHello is out: trust, then read */
            if (load_deferred_trust(ns, err) != 0)
                return -1;
            ns->hold_reads = 0;
            continue;
        }
        ns->want = ENG_READ | (ns->pending_len ? ENG_WRITE : 0);
        return 0;
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
    clear_tls_errors();
    int r = SSL_read(ns->ssl, buf, len > 0x7fffffff ? 0x7fffffff : (int)len);
    if (tls_flush(ns, err) != 0)        /* what reading answered (a key update) */
        return -1;
    if (r > 0)
        return r;
    int e = SSL_get_error(ns->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
        ns->eof = NET_EOF_NOTIFY;
        iot_error_set(err, "NetworkError", "connection closed by the server");
        return -1;
    }
    if (tls_socket_failed(ns, err) == 0)
        tls_set_error(err, "TLS read failed");
    return -1;
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
        if (tls_socket_failed(ns, err) == 0)
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
    SSL_free(ns->ssl);              /* frees its BIO */
    SSL_CTX_free(ns->ssl_ctx);
    net_tls_ctx_free(ns->shared);
    ns->ssl = NULL;
    ns->ssl_ctx = NULL;
    ns->shared = NULL;
    free(ns->pending);
    ns->pending = NULL;
    ns->pending_off = ns->pending_len = ns->pending_cap = 0;
    dns_addrs_release(ns->addrs);
    ns->addrs = NULL;
    ns->next_addr = NULL;
}
