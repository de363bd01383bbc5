/*
 * http1.c — the native HTTP/1.1 transport's connections (see http1.h): non-blocking
 * sockets on one epoll set, kept alive and reused per host:port, at most
 * max_connections open at once.
 *
 * One exchange at a time per connection. A transfer's deadline is an engine timer
 * (connect timeout until connected, then the total timeout). Completed transfers wait on
 * pool->completed and are handed to the engine by h1_flush, after the I/O batch that
 * completed them: done callbacks never run while epoll events are being walked.
 *
 * Only IP literals and "localhost" are connected to here: a name that needs DNS goes
 * through libcurl and its asynchronous resolver, so a slow resolver never stalls the loop.
 *
 * https:// connections run TLS through net_stream (a socket BIO of its own) once the TCP
 * connect has finished (the TLS side is in http1_tls.c, the shared structures in
 * http1_internal.h); the connect timeout covers the handshake too. A connection is reused
 * only for the same origin, scheme and TLS context (so never one made with verification
 * off for a transfer that wants it on). A TLS body delimited by the connection's end must
 * end with close_notify: a bare TCP close is a truncation.
 */
#define _GNU_SOURCE
#include "http1.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "http.h"
#include "http1_internal.h"
#include "net_stream.h"

#define RECV_CHUNK 16384
#define IDLE_MAX_MS 118000              /* as libcurl's default CURLOPT_MAXAGE_CONN */
/* How recent epoll's report on every connection must be for an idle connection to be
 * reused without a peek of its own (see conn_alive). */
#define REPORT_FRESH_US 200
#define DEFAULT_CONNECT_TIMEOUT_MS 300000

/* ================================================================ the pool */

/* 1 when one of the variables libcurl reads for the scheme's proxy is set (libcurl
 * also applies no_proxy; any proxy variable leaves the scheme to libcurl). */
static int proxy_configured(int tls)
{
    static const char *const plain[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    static const char *const secure[] = {"https_proxy", "HTTPS_PROXY", "all_proxy",
                                         "ALL_PROXY", NULL};
    for (const char *const *n = tls ? secure : plain; *n; n++) {
        const char *v = getenv(*n);
        if (v && *v)
            return 1;
    }
    return 0;
}

static int transport_is_curl(void)
{
    const char *v = getenv("IOTLUA_HTTP_TRANSPORT");
    return v && strcasecmp(v, "curl") == 0;
}

struct h1_pool *h1_pool_new(int max_connections, int tls)
{
    struct h1_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->epfd = -1;
    p->enabled = !transport_is_curl() && !proxy_configured(0);
    p->tls_enabled = tls && !transport_is_curl() && !proxy_configured(1);
    p->max_connections = max_connections > 0 ? max_connections : 1;
    eng_timer_init(&p->session_wait, h1_tls_session_wait_over);
    dl_init(&p->idle);
    dl_init(&p->busy);
    dl_init(&p->completed);
    dl_init(&p->unsent);
    return p;
}

void h1_pool_set_max(struct h1_pool *p, int max_connections)
{
    if (p && max_connections > 0)
        p->max_connections = max_connections;
}

int h1_poll_fd(const struct h1_pool *p)
{
    return p ? p->epfd : -1;
}

int h1_busy(const struct h1_pool *p)
{
    return p ? p->nbusy : 0;
}

const struct h1_stats *h1_pool_stats(const struct h1_pool *p)
{
    return &p->stats;
}

int h1_wants(const struct h1_pool *p, const struct http_xfer *x)
{
    if (!p || x->file)
        return 0;
    if (strncasecmp(x->url, "http://", 7) == 0)
        return p->enabled;
    return p->tls_enabled && strncasecmp(x->url, "https://", 8) == 0;
}

int h1_slot_free(const struct h1_pool *p)
{
    return p->nbusy < p->max_connections;
}

/* ================================================================ connections */

static void conn_close(struct h1_conn *c)
{
    struct h1_pool *p = c->pool;
    if (c->ns.ssl) {
        /* close_notify keeps the session resumable; not after the server dropped the
         * connection without one (a truncation: OpenSSL then forgets the session) */
        if (c->ns.eof != NET_EOF_TCP)
            net_stream_shutdown(&c->ns);
        net_stream_close(&c->ns);       /* closes fd */
    }
    else if (c->fd >= 0)
        close(c->fd);
    if (c->x)
        p->nbusy--;
    dl_remove(&c->link);
    dl_remove(&c->unsent);
    p->nconns--;
    buf_free(&c->out);
    dns_addrs_release(c->addrs);
    free(c);
}

static void set_socket_options(int fd)
{
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
}

/* Start connecting to the next address; 0 in progress or done, -1 (errno) none left. */
static int connect_next(struct h1_conn *c)
{
    struct h1_pool *p = c->pool;
    int err = ECONNREFUSED;
    while (c->next_addr) {
        const struct addrinfo *a = c->next_addr;
        c->next_addr = a->ai_next;
        if (c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
        c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            err = errno;
            continue;
        }
        set_socket_options(c->fd);
        struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, {.ptr = c}};
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            err = errno;
            continue;
        }
        if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
            c->connecting = 1;
            return 0;
        }
        err = errno;
    }
    errno = err;
    return -1;
}

/* The addresses of u's host: an IP literal's at once, a name's from the engine's cache
 * (h1_wait_to_start saw it resolved). 1 *out set; 0 not resolved yet (libcurl takes the
 * request); -1 failed, why in err. */
static int resolve(struct iot_engine *e, const struct h1_url *u, struct dns_addrs **out,
                   char *err, size_t err_size)
{
    char port[8];
    snprintf(port, sizeof port, "%d", u->port);
    if (!net_is_ip_literal(u->host))
        return eng_dns_lookup(e, u->host, u->port, out, err, err_size, NULL);
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    if (getaddrinfo(u->host, port, &hints, &list) != 0)
        return 0;
    *out = dns_addrs_wrap(list);
    if (!*out) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 1;
}

static int ensure_epoll(struct h1_pool *p)
{
    if (p->epfd < 0)
        p->epfd = epoll_create1(EPOLL_CLOEXEC);
    return p->epfd >= 0 ? 0 : -1;
}

static struct h1_conn *conn_open(struct h1_pool *p, const struct h1_url *u,
                                 struct dns_addrs *addrs, struct net_tls_ctx *tls_ctx)
{
    struct h1_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = -1;
    c->ns.fd = -1;
    c->tls_ctx = tls_ctx;
    c->pool = p;
    c->addrs = addrs;
    c->next_addr = addrs->list;
    snprintf(c->host_port, sizeof c->host_port, "%s", u->host_port);
    snprintf(c->host, sizeof c->host, "%s", u->host);
    dl_init(&c->link);
    dl_init(&c->unsent);
    dl_push_back(&p->busy, &c->link);
    p->nconns++;
    return c;
}

/* 1 when epoll's latest report vouches for idle connection c: the report is a moment
 * old, c was idle before it, and the read that ended c's last response emptied the
 * socket. Idle connections stay in the epoll set (edge-triggered) and any data or close
 * that reaches one is reported and closes it (on_idle_event), so nothing can be waiting
 * on c; something arriving after the report races with the request as it would a moment
 * after a peek. Connections that went idle while the report was being handled are not
 * vouched for: a close that trails a response by microseconds may not be in it. */
static int vouched_for(const struct h1_pool *p, const struct h1_conn *c, int64_t now_us)
{
    return c->drained && c->idle_since_us < p->reported_us &&
           now_us - p->reported_us <= REPORT_FRESH_US;
}

/* 1 when an idle connection is still usable: not too old, nothing to read, not closed by
 * the peer (a peek unless vouched_for). */
static int conn_alive(const struct h1_pool *p, struct h1_conn *c, int64_t now_us)
{
    if (now_us - c->idle_since_us > (int64_t)IDLE_MAX_MS * 1000)
        return 0;
    if (vouched_for(p, c, now_us))
        return 1;
    if (c->tls_ctx)
        return h1_tls_idle_quiet(c);
    char byte;
    ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct h1_conn *reuse(struct h1_pool *p, struct h1_conn *c)
{
    dl_remove(&c->link);
    dl_push_back(&p->busy, &c->link);
    c->reused = 1;
    return c;
}

/* The most recently used idle connection to host_port with TLS context tls_ctx (NULL:
 * plain) that is still usable, closing the dead ones met on the way. */
static struct h1_conn *take_idle(struct h1_pool *p, const char *host_port,
                                 const struct net_tls_ctx *tls_ctx)
{
    int64_t now_us = eng_now_us();
    for (struct dl *n = p->idle.prev; n != &p->idle;) {
        struct h1_conn *c = DL_CONTAINER(n, struct h1_conn, link);
        n = n->prev;
        if (c->tls_ctx != tls_ctx || strcmp(c->host_port, host_port) != 0)
            continue;
        if (!conn_alive(p, c, now_us)) {
            conn_close(c);
            continue;
        }
        return reuse(p, c);
    }
    return NULL;
}

/* 1 when the most recently idle connection (the one take_idle tries first) is not
 * vouched for by the latest report: a new report costs one epoll_wait for every idle
 * connection, where peeks cost a recv each. */
static int report_wanted(const struct h1_pool *p)
{
    if (dl_empty(&p->idle))
        return 0;
    const struct h1_conn *last = DL_CONTAINER(p->idle.prev, struct h1_conn, link);
    return last->idle_since_us >= p->reported_us ||
           eng_now_us() - p->reported_us > REPORT_FRESH_US;
}

/* Make room for one more connection by closing the least recently used idle ones. */
static void make_room(struct h1_pool *p)
{
    while (p->nconns >= p->max_connections && !dl_empty(&p->idle))
        conn_close(DL_CONTAINER(p->idle.next, struct h1_conn, link));
}

/* ================================================================ exchanges */

static void deadline_fire(struct iot_engine *e, struct eng_timer *t);

void h1_set_error(struct http_xfer *x, const char *text)
{
    snprintf(x->errbuf, sizeof x->errbuf, "%.*s", (int)sizeof x->errbuf - 1, text);
}

/* x is finished: detach it from its connection (closed unless reusable) and queue it
 * for h1_flush. */
static void finish(struct iot_engine *e, struct h1_pool *p, struct http_xfer *x,
                   CURLcode result, int keep_conn)
{
    struct h1_conn *c = x->conn;
    eng_timer_disarm(e, &x->deadline);
    x->result = result;
    x->conn = NULL;
    if (c) {
        c->x = NULL;
        p->nbusy--;
        /* A report taken while requests were being started (h1_start) may carry the
         * answer before h1_send_started ran: an idle connection, or one given the next
         * request, must not stay on the list (twice on it, it would unlink its neighbours
         * and h1_send_started would spin). */
        dl_remove(&c->unsent);
        c->answered |= result == CURLE_OK;
        if (keep_conn && c->fd >= 0) {
            buf_reset(&c->out);
            c->idle_since_us = eng_now_us();
            dl_remove(&c->link);
            dl_push_back(&p->idle, &c->link);
        } else {
            conn_close(c);
        }
    }
    dl_push_back(&p->completed, &x->queue);
}

void h1_fail_xfer(struct iot_engine *e, struct h1_pool *p, struct http_xfer *x,
                  CURLcode result, const char *text)
{
    if (text)
        h1_set_error(x, text);
    finish(e, p, x, result, 0);
}

static void fail_errno(struct iot_engine *e, struct h1_pool *p, struct http_xfer *x,
                       CURLcode result, int err)
{
    x->os_errno = err;
    h1_set_error(x, strerror(err));
    finish(e, p, x, result, 0);
}

long h1_connect_timeout_ms(const struct http_xfer *x)
{
    long ms = x->connect_timeout_ms > 0 ? x->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    if (x->timeout_ms > 0 && x->timeout_ms < ms)
        ms = x->timeout_ms;
    return ms;
}

/* Arm the deadline that applies now: connect timeout while connecting, then the rest of
 * the total timeout (none when timeout_ms is 0). */
static void arm_deadline(struct iot_engine *e, struct http_xfer *x, int connecting)
{
    eng_timer_disarm(e, &x->deadline);
    x->deadline.fire = deadline_fire;
    if (connecting) {
        long ms = h1_connect_timeout_ms(x);
        eng_timer_arm(e, &x->deadline, x->waited_ms < ms ? ms - x->waited_ms : 0);
    } else if (x->timeout_ms > 0) {
        int64_t left = x->started_ms + x->timeout_ms - eng_now_ms();
        eng_timer_arm(e, &x->deadline, left > 0 ? (long)left : 0);
    }
}

static void complete_response(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c,
                              int leftover, int peer_done)
{
    struct http_xfer *x = c->x;
    x->status = c->resp.status;
    x->http_version = c->resp.version;
    /* A reply that came before the whole request went out leaves the connection in an
     * unknown state: close it. So does a peer that has already closed its side (epoll
     * said so with the response), whatever its headers said. */
    int reusable = c->resp.keep_alive && !leftover && !peer_done && c->out_sent == c->out.len &&
                   !(c->tls_ctx && net_stream_has_pending(&c->ns));
    finish(e, p, x, CURLE_OK, reusable);
}

static void parse_failed(struct iot_engine *e, struct h1_pool *p, struct http_xfer *x,
                         const struct h1_response *r)
{
    x->too_large = r->too_large;
    h1_fail_xfer(e, p, x, r->too_large ? CURLE_WRITE_ERROR : CURLE_WEIRD_SERVER_REPLY, r->error);
}

/* The peer closed the connection or reset it during the exchange. */
void h1_peer_closed(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c, int err)
{
    struct http_xfer *x = c->x;
    if (!err && h1_response_eof(&c->resp) == 0) {
        complete_response(e, p, c, 0, 1);
        return;
    }
    if (!c->got_bytes) {
        if (err)
            fail_errno(e, p, x, CURLE_RECV_ERROR, err);
        else
            h1_fail_xfer(e, p, x, CURLE_GOT_NOTHING, "the server closed the connection "
                         "without a response");
        return;
    }
    if (err)
        fail_errno(e, p, x, CURLE_RECV_ERROR, err);
    else
        h1_fail_xfer(e, p, x, CURLE_PARTIAL_FILE, c->resp.error);
}

/* Bytes received into chunk (> 0), 0 nothing now, -1 x was finished (closed/failed). */
static ssize_t conn_recv(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c,
                         char *chunk, size_t len)
{
    if (c->tls_ctx) {
        struct iot_error err;
        long n = net_stream_read(&c->ns, chunk, len, &err);
        if (n < 0)
            h1_tls_read_ended(e, p, c, &err);
        return n;
    }
    for (;;) {
        ssize_t n = recv(c->fd, chunk, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            h1_peer_closed(e, p, c, n < 0 ? errno : 0);
            return -1;
        }
        return n;
    }
}

/* ev: the epoll events that woke us (EPOLLRDHUP: the peer will send nothing more). */
static void read_response(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c,
                          uint32_t ev)
{
    char chunk[RECV_CHUNK];
    for (;;) {
        ssize_t n = conn_recv(e, p, c, chunk, sizeof chunk);
        if (n <= 0)
            return;
        c->got_bytes = 1;
        size_t used = h1_response_feed(&c->resp, chunk, (size_t)n);
        if (c->resp.state == H1_ERROR) {
            parse_failed(e, p, c->x, &c->resp);
            return;
        }
        if (c->resp.state == H1_DONE) {
            /* recv hands over all that is queued, up to the room given */
            c->drained = c->tls_ctx ? net_stream_drained(&c->ns) : (size_t)n < sizeof chunk;
            complete_response(e, p, c, used < (size_t)n, (ev & (EPOLLRDHUP | EPOLLHUP)) != 0);
            return;
        }
    }
}

/* Send what is left of the request; 0 sent or waiting for room, -1 x was finished. */
static int send_request(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c)
{
    if (c->tls_ctx)
        return h1_tls_send_request(e, p, c);
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0) {
            fail_errno(e, p, c->x, CURLE_SEND_ERROR, errno);
            return -1;
        }
        c->out_sent += (size_t)n;
    }
    return 0;
}

/* TCP and (for https) TLS are up: the exchange's total timeout runs from here. */
void h1_conn_ready(struct iot_engine *e, struct h1_conn *c)
{
    c->x->connected = 1;
    arm_deadline(e, c->x, 0);
}

/* The non-blocking connect finished: on to the next address (1), the TLS handshake
 * (handshake_step's result), or start the exchange (0); -1 x was finished. */
static int connect_done(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == 0) {
        c->connecting = 0;
        dns_addrs_release(c->addrs);
        c->addrs = NULL;
        c->next_addr = NULL;
        if (c->tls_ctx)
            return h1_tls_start_handshake(e, p, c);
        h1_conn_ready(e, c);
        return 0;
    }
    if (connect_next(c) == 0)
        return 1;                       /* trying the next address */
    fail_errno(e, p, c->x, CURLE_COULDNT_CONNECT, err);
    return -1;
}

static void on_idle_event(struct h1_conn *c)
{
    /* An idle connection has nothing to say: data or a close ends it (over TLS, a
     * session ticket does not). */
    if (c->tls_ctx && h1_tls_idle_quiet(c))
        return;
    conn_close(c);
}

static void on_event(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c, uint32_t ev)
{
    if (!c->x) {
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            on_idle_event(c);
        return;
    }
    if (c->connecting) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int r = connect_done(e, p, c);
        if (r != 0)
            return;
    } else if (c->handshaking && h1_tls_handshake_step(e, p, c) != 0) {
        return;
    }
    if (send_request(e, p, c) != 0)
        return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        read_response(e, p, c, ev);
}

static void deadline_fire(struct iot_engine *e, struct eng_timer *t)
{
    struct http_xfer *x = DL_CONTAINER(t, struct http_xfer, deadline);
    struct h1_conn *c = x->conn;
    if (!c)
        return;
    h1_fail_xfer(e, c->pool, x, CURLE_OPERATION_TIMEDOUT, x->connected
                 ? "no complete response in time" : "no connection in time");
}

/* Begin the exchange of x on c: write the request, arm the deadline, send. */
static void begin_exchange(struct iot_engine *e, struct h1_pool *p, struct h1_conn *c,
                           struct http_xfer *x, const struct h1_url *u)
{
    c->x = x;
    c->got_bytes = 0;
    c->out_sent = 0;
    p->nbusy++;
    x->conn = c;
    x->started_ms = eng_now_ms();
    buf_reset(&c->out);
    h1_response_init(&c->resp, &x->head, &x->body_in, HTTP_MAX_RESPONSE_BYTES,
                     strcmp(x->method, "HEAD") == 0);
    int rc = h1_write_request(&c->out, x->method, u->target, u->host_port, &x->headers,
                              iot_user_agent(), x->body, x->body_len, x->has_body);
    if (rc != 0) {
        h1_fail_xfer(e, p, x, rc == -1 ? CURLE_OUT_OF_MEMORY : CURLE_BAD_FUNCTION_ARGUMENT,
                     rc == -1 ? "out of memory"
                              : "the request method or target holds a space or line break");
        return;
    }
    p->stats.exchanges++;
    p->stats.tls_exchanges += c->tls_ctx != NULL;
    arm_deadline(e, x, c->connecting || c->handshaking);
    if (!c->connecting && !c->handshaking)
        dl_push_back(&p->unsent, &c->unsent);
}

void h1_send_started(struct iot_engine *e, struct h1_pool *p)
{
    while (!dl_empty(&p->unsent)) {
        struct h1_conn *c = DL_CONTAINER(p->unsent.next, struct h1_conn, unsent);
        dl_remove(&c->unsent);
        send_request(e, p, c);
    }
}

/* Handle what epoll reports on every connection now. With fewer than MAX_EVENTS events
 * nothing is left unreported, and reported_us says when. */
static void take_report(struct iot_engine *e, struct h1_pool *p)
{
    if (p->epfd < 0 || p->nconns == 0)
        return;
    int64_t at = eng_now_us();
    int n = epoll_wait(p->epfd, p->events, MAX_EVENTS, 0);
    /* Each connection appears once per batch, and only its own event closes it. */
    for (int i = 0; i < n; i++)
        on_event(e, p, p->events[i].data.ptr, p->events[i].events);
    if (n >= 0 && n < MAX_EVENTS)
        p->reported_us = at;
}

int h1_start(struct iot_engine *e, struct h1_pool *p, struct http_xfer *x)
{
    struct h1_url u;
    if (h1_parse_url(x->url, &u) != 0)
        return 2;
    struct net_tls_ctx *tls_ctx = NULL;
    if (u.tls && !(tls_ctx = h1_tls_ctx_for(e, p, x)))
        return 0;
    /* A fresh report spares the idle connections their peeks (vouched_for). */
    if (report_wanted(p))
        take_report(e, p);
    struct h1_conn *c = take_idle(p, u.host_port, tls_ctx);
    if (!c) {
        struct dns_addrs *addrs = NULL;
        char why[CURL_ERROR_SIZE];
        int r = resolve(e, &u, &addrs, why, sizeof why);
        if (r == 0)
            return 2;                   /* not resolved yet: libcurl resolves it */
        if (r < 0) {
            h1_set_error(x, why);
            dl_push_back(&p->completed, &x->queue);
            x->result = CURLE_COULDNT_RESOLVE_HOST;
            return 0;
        }
        if (ensure_epoll(p) != 0 ||
            !(c = (make_room(p), conn_open(p, &u, addrs, tls_ctx)))) {
            dns_addrs_release(addrs);
            h1_set_error(x, "cannot create a socket or an epoll set");
            dl_push_back(&p->completed, &x->queue);
            x->result = CURLE_OUT_OF_MEMORY;
            return 0;
        }
        x->new_connection = 1;
        c->x = x;                       /* so a failed connect is reported on x */
        p->nbusy++;
        x->conn = c;
        if (connect_next(c) != 0) {
            fail_errno(e, p, x, CURLE_COULDNT_CONNECT, errno);
            return 0;
        }
        p->nbusy--;
    }
    begin_exchange(e, p, c, x, &u);
    return 0;
}

void h1_abort(struct iot_engine *e, struct h1_pool *p, struct http_xfer *x)
{
    eng_timer_disarm(e, &x->deadline);
    if (dl_linked(&x->queue))
        dl_remove(&x->queue);           /* finished, not yet handed back */
    if (x->conn) {
        struct h1_conn *c = x->conn;
        x->conn = NULL;
        c->x = NULL;
        p->nbusy--;
        conn_close(c);
    }
}

/* ================================================================ host names */

/* 1 while the name of u is being resolved (the engine's cache: engine_dns.c, whose
 * eventfd wakes the loop; the queue is tried again on every turn); a name not asked for
 * yet is asked for now. */
static int wait_for_dns(struct iot_engine *e, const struct h1_url *u)
{
    if (net_is_ip_literal(u->host))
        return 0;
    char err[CURL_ERROR_SIZE];
    struct dns_addrs *addrs = NULL;
    int r = eng_dns_lookup(e, u->host, u->port, &addrs, err, sizeof err, NULL);
    dns_addrs_release(addrs);
    return r == 0;
}

int h1_wait_to_start(struct iot_engine *e, struct h1_pool *p, const struct http_xfer *x)
{
    struct h1_url u;
    if (h1_parse_url(x->url, &u) != 0)
        return 0;
    int resolving = wait_for_dns(e, &u);
    struct iot_error err;
    if (u.tls)      /* OpenSSL's set-up of the context runs while a thread resolves */
        (void)h1_tls_ctx(e, &p->tls, x->ca_bundle, x->verify_tls, &err);
    if (resolving)
        return H1_WAIT_DNS;
    return u.tls && h1_tls_wait_for_session(e, p, x, &u) ? H1_WAIT_SESSION : 0;
}

/* ================================================================ the loop */

void h1_wait(struct h1_pool *p, int timeout_ms)
{
    /* Only wait: the events are gathered by h1_process, after the timers and the queue
     * have had their turn (they may close connections an earlier gather would name). */
    if (p->epfd < 0)
        return;
    struct pollfd pfd = {p->epfd, POLLIN, 0};
    poll(&pfd, 1, timeout_ms);
}

void h1_flush(struct iot_engine *e, struct h1_pool *p)
{
    while (!dl_empty(&p->completed)) {
        struct http_xfer *x = DL_CONTAINER(p->completed.next, struct http_xfer, queue);
        dl_remove(&x->queue);
        http_native_done(e, x);
    }
}

void h1_process(struct iot_engine *e, struct h1_pool *p)
{
    take_report(e, p);
    h1_flush(e, p);
}

void h1_pool_free(struct iot_engine *e, struct h1_pool *p)
{
    if (!p)
        return;
    eng_timer_disarm(e, &p->session_wait);
    while (!dl_empty(&p->busy))
        conn_close(DL_CONTAINER(p->busy.next, struct h1_conn, link));
    while (!dl_empty(&p->idle))
        conn_close(DL_CONTAINER(p->idle.next, struct h1_conn, link));
    h1_tls_set_free(&p->tls);
    if (p->epfd >= 0)
        close(p->epfd);
    free(p);
}
