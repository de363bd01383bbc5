/* http_server.c — the emulator's HTTP/1.1 server, plain and over TLS; see http_server.h.
 *
 * A connection reads with one recv (or SSL_read) per readiness into its own buffer, parses every
 * complete request there in place (http_wire.c), and writes the answers gathered in one
 * send; only a send that cannot finish arms a write event. While a request waits for its
 * answer the connection is not read (as evhttp did), so the buffer and the pointers into
 * it stay put. Every entry point (read, write, a late hs_reply or hs_drop) ends in
 * settle(), the one place that parses, flushes, frees and picks the events to watch. */
#include "http_server.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

#define HS_READ_ROOM 4096
#define HS_MAX_BUFFER (HW_MAX_HEAD + HW_MAX_CHUNKED + HS_READ_ROOM)
#define HS_SWEEP_SECONDS 5
#define HS_KEEP_BUFFER (64 * 1024)     /* larger buffers are given back once empty */
#define HS_LISTEN_BACKLOG 4096          /* the accept queue (the kernel caps it at somaxconn) */

struct hs_conn {
    struct hs_server *srv;
    evutil_socket_t fd;             /* -1 once closed */
    SSL *ssl;                       /* HTTPS: the TLS session on fd; NULL for plain HTTP */
    bool tls_failed;                /* no close_notify: the session is broken or dropped */
    bool read_wants_write;          /* SSL_read waits for the socket to take bytes */
    bool write_wants_read;          /* SSL_write waits for bytes from the peer */
    bool tls_starved;               /* the last SSL_read waited for bytes from the socket */
    struct event *rd, *wr;
    char *in;                       /* received bytes: in[pos..len) not yet parsed */
    size_t in_len, in_cap, pos;
    struct buf out;                 /* answers: out.data[sent..out.len) not yet sent */
    size_t sent;
    struct hw_request req;          /* the request being served (busy) */
    time_t last_active;
    bool busy;                      /* req dispatched, hs_reply/hs_drop not yet called */
    bool in_dispatch;               /* inside the request callback */
    bool closing;                   /* close once the answers are sent */
    bool dead;                      /* socket closed; freed when no longer busy */
    bool continue_sent;             /* "100 Continue" sent for the request being read */
    bool linger;                    /* after an error page: read and discard until EOF */
    bool eof;                       /* the client shut its side */
    bool reading, writing;          /* rd / wr added */
    hs_upgrade_cb upgrade_cb;       /* hs_upgrade: given away at the next settle */
    void *upgrade_arg;
    struct hs_conn *next, **pprev;
};

struct hs_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sweeper;
    SSL_CTX *tls;                   /* borrowed; NULL: plain HTTP */
    hs_request_cb on_request;
    void *arg;
    struct hs_conn *conns;
    time_t date_time;
    char date[64];                  /* "Date: ...\r\n" for date_time */
    size_t date_len;
};

/* ---------------------------------------------------------------- answers */

static const char *date_line(struct hs_server *s, size_t *len_out)
{
    time_t now = time(NULL);
    if (now != s->date_time || !s->date_len) {
        struct tm tm;
        gmtime_r(&now, &tm);
        s->date_len = strftime(s->date, sizeof s->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n",
                               &tm);
        s->date_time = now;
    }
    *len_out = s->date_len;
    return s->date;
}

static void put(struct buf *o, const char *s, size_t n)
{
    memcpy(o->data + o->len, s, n);
    o->len += n;
}

static void put_str(struct buf *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_uint(struct buf *o, size_t v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[sizeof digits - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, digits + sizeof digits - n, n);
}

static void put_header(struct buf *o, const char *name, size_t name_len, const char *value)
{
    put(o, name, name_len);
    put_str(o, value);
    put(o, "\r\n", 2);
}

/* The status line and the headers evhttp wrote, in its order. minor < 0: the request
 * line was not understood (HTTP/1.1, an HTML error). */
struct answer {
    int minor, status;
    const char *reason, *error_type, *content_type, *request_id;
    const char *body;
    size_t body_len;
    bool error_page;                /* evhttp_send_error: "Connection: close" first */
};

static size_t answer_room(const struct answer *a)
{
    size_t n = 256 + strlen(a->reason) + strlen(a->content_type) + a->body_len;
    if (a->error_type)
        n += strlen(a->error_type);
    if (a->request_id)
        n += strlen(a->request_id);
    return n;
}

static void append_answer(struct hs_conn *c, const struct answer *a, const struct hw_request *r)
{
    struct buf *o = &c->out;
    if (buf_reserve(o, answer_room(a)) != 0) {
        c->closing = true;          /* out of memory: no answer, the client sees a close */
        return;
    }
    int minor = a->minor < 0 ? 1 : a->minor;
    bool keep_alive = r && !a->error_page && r->keep_alive;
    bool needs_body = !r || r->method != HW_HEAD;
    put(o, "HTTP/1.", 7);
    put_uint(o, (size_t)minor);
    put(o, " ", 1);
    put_uint(o, (size_t)a->status);
    put(o, " ", 1);
    put_str(o, a->reason);
    put(o, "\r\n", 2);
    if (a->error_type)
        put_header(o, "x-amzn-ErrorType: ", 18, a->error_type);
    put_header(o, "Content-Type: ", 14, a->content_type);
    if (a->request_id)
        put_header(o, "x-amzn-RequestId: ", 18, a->request_id);
    if (a->error_page)
        put(o, "Connection: close\r\n", 19);
    if (minor >= 1) {
        size_t n;
        const char *d = date_line(c->srv, &n);
        put(o, d, n);
    }
    if (minor == 0 && keep_alive)
        put(o, "Connection: keep-alive\r\n", 24);
    if ((minor >= 1 || keep_alive) && needs_body) {
        put(o, "Content-Length: ", 16);
        put_uint(o, a->body_len);
        put(o, "\r\n", 2);
    }
    if (r && r->close_requested && !a->error_page)
        put(o, "Connection: close\r\n", 19);
    put(o, "\r\n", 2);
    if (needs_body && a->body_len)
        put(o, a->body, a->body_len);
    o->data[o->len] = '\0';
    if (!keep_alive)
        c->closing = true;
}

static const char *error_reason(int status)
{
    switch (status) {
    case 413: return "Request Entity Too Large";
    case 417: return "Expectation Failed";
    case 501: return "Not Implemented";
    default: return "Bad Request";
    }
}

/* evhttp's HTML page for a request it would not hand over; the connection then closes. */
static void append_error_page(struct hs_conn *c, int status, int minor)
{
    const char *reason = error_reason(status);
    char body[256];
    int n = snprintf(body, sizeof body,
                     "<HTML><HEAD>\n<TITLE>%d %s</TITLE>\n</HEAD><BODY>\n<H1>%s</H1>\n"
                     "</BODY></HTML>\n", status, reason, reason);
    struct answer a = {.minor = minor, .status = status, .reason = reason,
                       .content_type = "text/html", .body = body, .body_len = (size_t)n,
                       .error_page = true};
    append_answer(c, &a, NULL);
    c->closing = true;
    c->linger = true;
}

/* ---------------------------------------------------------------- connections */

static void conn_close_socket(struct hs_conn *c)
{
    if (c->fd < 0)
        return;
    event_del(c->rd);
    event_del(c->wr);
    c->reading = c->writing = false;
    if (c->ssl) {
        if (!c->tls_failed && SSL_is_init_finished(c->ssl)) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);   /* close_notify, once, without waiting for the peer's */
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->fd = -1;
    c->dead = true;
}

/* ---------------------------------------------------------------- transport */

/* What one read or write on the connection came to. */
enum io_result { IO_DONE, IO_AGAIN, IO_EOF, IO_FAILED };

/* An SSL_read_ex/SSL_write_ex that did not move bytes: wait for which event, or give up.
 * A peer that closes without close_notify ends the stream like a TCP close. */
static enum io_result tls_failure(struct hs_conn *c, int rc, bool reading)
{
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        if (!reading)
            c->write_wants_read = true;
        else
            c->tls_starved = true;
        return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            c->read_wants_write = true;
        return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return IO_EOF;
    case SSL_ERROR_SYSCALL:
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return IO_AGAIN;
        c->tls_failed = true;
        return IO_FAILED;
    default:                        /* not TLS (garbage), a bad record, a failed handshake */
        c->tls_failed = true;
        return IO_FAILED;
    }
}

/* Reads what is there (up to n bytes) into p; *got the count. */
static enum io_result conn_read(struct hs_conn *c, char *p, size_t n, size_t *got)
{
    *got = 0;
    if (c->ssl) {
        c->read_wants_write = false;
        ERR_clear_error();
        int rc = SSL_read_ex(c->ssl, p, n, got);
        if (rc == 1)
            c->tls_starved = false;
        return rc == 1 ? IO_DONE : tls_failure(c, rc, true);
    }
    ssize_t r = recv(c->fd, p, n, 0);
    if (r > 0) {
        *got = (size_t)r;
        return IO_DONE;
    }
    if (r == 0)
        return IO_EOF;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_FAILED;
}

/* Writes what the socket takes of p[0..n); *put the count. */
static enum io_result conn_write(struct hs_conn *c, const char *p, size_t n, size_t *put)
{
    *put = 0;
    if (c->ssl) {
        c->write_wants_read = false;
        ERR_clear_error();
        int rc = SSL_write_ex(c->ssl, p, n, put);
        return rc == 1 ? IO_DONE : tls_failure(c, rc, false);
    }
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
    if (r >= 0) {
        *put = (size_t)r;
        return IO_DONE;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IO_AGAIN : IO_FAILED;
}

static void conn_free(struct hs_conn *c)
{
    if (c->upgrade_cb)              /* never handed over: its taker frees what it holds */
        c->upgrade_cb(c->upgrade_arg, -1, NULL, NULL, 0, NULL, 0);
    conn_close_socket(c);
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
    if (c->rd)
        event_free(c->rd);
    if (c->wr)
        event_free(c->wr);
    free(c->in);
    buf_free(&c->out);
    free(c);
}

/* Parses and dispatches what the buffer holds, one request at a time. */
static void process(struct hs_conn *c)
{
    struct hs_server *s = c->srv;
    while (!c->busy && !c->closing && !c->dead && !c->upgrade_cb && c->pos < c->in_len) {
        enum hw_result res = hw_parse(c->in + c->pos, c->in_len - c->pos, &c->req);
        if (res == HW_ERROR) {
            append_error_page(c, c->req.error_status, c->req.head_len ? c->req.minor : -1);
            break;
        }
        if (res == HW_MORE) {
            /* evhttp's rule: "100 Continue" once the head is in and no body byte is */
            if (c->req.head_len && c->req.expect_continue && !c->continue_sent &&
                c->pos + c->req.head_len == c->in_len && buf_append_str(&c->out,
                                                        "HTTP/1.1 100 Continue\r\n\r\n") == 0)
                c->continue_sent = true;
            if (c->in_len == HS_MAX_BUFFER)
                append_error_page(c, 413, -1);
            break;
        }
        c->continue_sent = false;
        c->busy = true;
        c->in_dispatch = true;
        s->on_request(s->arg, c, &c->req);
        c->in_dispatch = false;
        c->pos += c->req.consumed;
    }
    if (!c->busy && c->pos) {
        memmove(c->in, c->in + c->pos, c->in_len - c->pos);
        c->in_len -= c->pos;
        c->pos = 0;
    }
    if (!c->busy && c->in_len == 0 && c->in_cap > HS_KEEP_BUFFER) {
        char *p = realloc(c->in, HS_READ_ROOM);
        if (p) {
            c->in = p;
            c->in_cap = HS_READ_ROOM;
        }
    }
}

/* Sends what is queued; arms the write event when the socket is full. */
static void flush(struct hs_conn *c)
{
    while (c->sent < c->out.len) {
        size_t n;
        enum io_result r = conn_write(c, c->out.data + c->sent, c->out.len - c->sent, &n);
        if (r == IO_DONE && n > 0) {
            c->sent += n;
            c->last_active = time(NULL);
        } else if (r == IO_AGAIN) {
            break;
        } else {
            conn_close_socket(c);
            return;
        }
    }
    /* the write event also serves an SSL_read that waits to write; an SSL_write that
     * waits to read has the read event on (settle) */
    bool unsent = c->sent < c->out.len;
    bool pending = (unsent && !c->write_wants_read) || c->read_wants_write;
    if (!unsent) {
        if (c->out.cap > HS_KEEP_BUFFER)
            buf_free(&c->out);
        buf_reset(&c->out);
        c->sent = 0;
    }
    if (pending != c->writing) {
        if (pending)
            event_add(c->wr, NULL);
        else
            event_del(c->wr);
        c->writing = pending;
    }
}

static void set_reading(struct hs_conn *c, bool on)
{
    if (on == c->reading)
        return;
    if (on)
        event_add(c->rd, NULL);
    else
        event_del(c->rd);
    c->reading = on;
}

/* Room for at least HS_READ_ROOM more bytes, up to HS_MAX_BUFFER. -1 when full. */
static int make_room(struct hs_conn *c)
{
    if (c->in_cap - c->in_len >= HS_READ_ROOM)
        return 0;
    if (c->in_cap >= HS_MAX_BUFFER)
        return c->in_len < c->in_cap ? 0 : -1;
    size_t cap = c->in_cap * 2;
    if (cap > HS_MAX_BUFFER)
        cap = HS_MAX_BUFFER;
    char *p = realloc(c->in, cap);
    if (!p)
        return c->in_len < c->in_cap ? 0 : -1;
    c->in = p;
    c->in_cap = cap;
    return 0;
}

/* 1 when OpenSSL holds bytes of c that a read would return without the socket being
 * readable again: decrypted ones, or whole records read ahead (not a record's first part
 * that waits for the rest, which the socket will announce). */
static bool tls_buffered(const struct hs_conn *c)
{
    return c->ssl && (SSL_pending(c->ssl) > 0 || (SSL_has_pending(c->ssl) && !c->tls_starved));
}

/* Moves what OpenSSL holds for c into the buffer (the taker's bufferevent would not see
 * it: the socket is not readable for it). -1 when it does not fit. */
static int drain_tls(struct hs_conn *c)
{
    while (tls_buffered(c)) {
        size_t n;
        if (make_room(c) != 0)
            return -1;
        enum io_result r = conn_read(c, c->in + c->in_len, c->in_cap - c->in_len, &n);
        if (r == IO_AGAIN)
            break;                  /* the rest of a record is still to come */
        if (r != IO_DONE)
            return -1;
        c->in_len += n;
    }
    return 0;
}

/* hs_upgrade's second half: the socket, its TLS session and what is buffered go to the
 * taker. */
static void hand_over(struct hs_conn *c)
{
    if (drain_tls(c) != 0) {
        conn_close_socket(c);       /* conn_free tells cb (-1) */
        conn_free(c);
        return;
    }
    hs_upgrade_cb cb = c->upgrade_cb;
    int fd = c->fd;
    SSL *ssl = c->ssl;
    c->upgrade_cb = NULL;
    c->ssl = NULL;
    event_del(c->rd);
    event_del(c->wr);
    c->reading = c->writing = false;
    c->fd = -1;                     /* conn_free must not close it */
    cb(c->upgrade_arg, fd, ssl, c->out.data + c->sent, c->out.len - c->sent, c->in + c->pos,
       c->in_len - c->pos);
    conn_free(c);
}

/* After anything happened to c: parse, send, free, or pick the events to watch. */
static void settle(struct hs_conn *c)
{
    if (c->in_dispatch)
        return;
    if (!c->dead && !c->busy)
        process(c);
    if (c->upgrade_cb && !c->dead && c->ssl)
        flush(c);                   /* a TLS session changes hands with nothing half-written */
    if (c->upgrade_cb && !c->dead && c->ssl && c->sent < c->out.len) {
        set_reading(c, c->write_wants_read);    /* the write event finishes it */
        return;
    }
    if (c->upgrade_cb && !c->dead) {
        hand_over(c);
        return;
    }
    if (!c->dead)
        flush(c);
    bool drained = c->sent == c->out.len;
    if (!c->busy && !c->dead && c->closing && drained && c->linger && !c->eof) {
        /* What the client still sends is read and dropped, so that closing with unread
         * bytes does not reset the connection before it has read the error page. */
        if (c->ssl) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);   /* close_notify before the FIN */
            c->tls_failed = true;   /* sent: not again when the socket closes */
        }
        shutdown(c->fd, SHUT_WR);
        c->in_len = c->pos = 0;
        set_reading(c, true);
        return;
    }
    if (!c->busy && (c->dead || (c->closing && drained))) {
        conn_free(c);
        return;
    }
    if (c->dead)
        return;
    set_reading(c, (!c->busy && !c->closing) || c->write_wants_read);
    /* bytes OpenSSL already holds do not make the socket readable again */
    if (c->reading && !c->write_wants_read && tls_buffered(c))
        event_active(c->rd, EV_READ, 1);
}

/* One read into the buffer (not while a request is served: its pointers are into it). */
static void read_once(struct hs_conn *c)
{
    if (make_room(c) != 0) {
        conn_close_socket(c);
        return;
    }
    size_t n;
    enum io_result r = conn_read(c, c->in + c->in_len, c->in_cap - c->in_len, &n);
    if (r == IO_DONE && c->linger) {
        c->last_active = time(NULL);
        return;                     /* dropped: see settle */
    }
    if (r == IO_DONE) {
        c->in_len += n;
        c->last_active = time(NULL);
    } else if (r == IO_EOF) {
        c->closing = true;          /* the client sent everything it will send */
        c->eof = true;
    } else if (r == IO_FAILED) {
        conn_close_socket(c);
    }
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct hs_conn *c = arg;
    if (!c->busy && !c->write_wants_read)
        read_once(c);               /* else the socket only had bytes for SSL_write */
    settle(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct hs_conn *c = arg;
    if (c->read_wants_write && !c->busy)
        read_once(c);
    settle(c);
}

/* The server side of a TLS session on c's socket; the handshake runs in the first reads.
 * Writes may move (the answer buffer grows) and finish in parts, as send's do. */
static int tls_start(struct hs_conn *c, SSL_CTX *ctx)
{
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* what the socket has, up to a buffer's worth, in one read (not a record's header
     * and then its body: two reads a request) */
    SSL_set_read_ahead(c->ssl, 1);
    /* a client closing without close_notify ends its stream as a TCP close does (the
     * answers already queued still go out), not as a broken session */
    SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_set_accept_state(c->ssl);
    return 0;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)sa;
    (void)socklen;
    struct hs_server *s = arg;
    struct hs_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->in = malloc(HS_READ_ROOM))) {
        free(c);
        close(fd);
        return;
    }
    c->srv = s;
    c->fd = fd;
    c->in_cap = HS_READ_ROOM;
    c->last_active = time(NULL);
    c->next = s->conns;
    if (c->next)
        c->next->pprev = &c->next;
    c->pprev = &s->conns;
    s->conns = c;
    c->rd = event_new(s->base, fd, EV_READ | EV_PERSIST, read_cb, c);
    c->wr = event_new(s->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
    if (!c->rd || !c->wr || (s->tls && tls_start(c, s->tls) != 0)) {
        conn_free(c);
        return;
    }
    set_reading(c, true);
}

/* Closes connections idle for HS_IDLE_SECONDS (evhttp's timeout), none mid-request. */
static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct hs_server *s = arg;
    time_t now = time(NULL);
    for (struct hs_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (!c->busy && !c->in_dispatch && now - c->last_active >= HS_IDLE_SECONDS)
            conn_free(c);
    }
}

/* ---------------------------------------------------------------- API */

void hs_reply(struct hs_conn *c, int status, const char *reason, const char *error_type,
              const char *request_id, const char *body, size_t body_len)
{
    if (!c->busy)
        return;
    c->busy = false;
    if (!c->dead) {
        struct answer a = {.minor = c->req.minor, .status = status, .reason = reason,
                           .error_type = error_type, .content_type = "application/json",
                           .request_id = request_id, .body = body, .body_len = body_len};
        append_answer(c, &a, &c->req);
    }
    settle(c);
}

void hs_drop(struct hs_conn *c)
{
    if (!c->busy)
        return;
    c->busy = false;
    c->tls_failed = true;           /* dropped: no close_notify either */
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
    conn_close_socket(c);
    settle(c);
}

void hs_upgrade(struct hs_conn *c, const char *head, size_t head_len, hs_upgrade_cb cb,
                void *arg)
{
    if (!c->busy)
        return;
    c->busy = false;
    c->upgrade_cb = cb;
    c->upgrade_arg = arg;
    if (buf_append(&c->out, head, head_len) != 0)
        conn_close_socket(c);       /* out of memory: cb gets -1 when c is freed */
    settle(c);
}

struct evconnlistener *hs_listener(struct hs_server *s)
{
    return s->listener;
}

static struct evconnlistener *listen_on(struct hs_server *s, const char *host, int port)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai)
        return NULL;
    /* A deep accept queue, as the broker's: with libevent's default (128) a client opening
     * 256 connections at once overflowed it, and a dropped SYN waits 1 s to be resent. */
    struct evconnlistener *l = NULL;
    for (struct addrinfo *a = ai; a && !l; a = a->ai_next)
        l = evconnlistener_new_bind(s->base, accept_cb, s,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                        LEV_OPT_CLOSE_ON_EXEC,
                                    HS_LISTEN_BACKLOG, a->ai_addr, (int)a->ai_addrlen);
    freeaddrinfo(ai);
    return l;
}

/* ALPN (RFC 7301): "http/1.1" when the client offers it; a client offering only other
 * protocols (h2) gets no ALPN answer and HTTP/1.1 all the same. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *chosen;
    if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

struct hs_server *hs_new(struct event_base *base, const char *host, int port, SSL_CTX *tls,
                         hs_request_cb on_request, void *arg, int *port_out)
{
    struct hs_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base = base;
    s->tls = tls;
    if (tls)
        SSL_CTX_set_alpn_select_cb(tls, alpn_select, NULL);
    s->on_request = on_request;
    s->arg = arg;
    s->listener = listen_on(s, host, port);
    if (!s->listener) {
        fprintf(stderr, "iotlua-emulator: cannot listen for HTTP on %s:%d\n", host, port);
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &len) != 0) {
        perror("iotlua-emulator: getsockname");
        goto fail;
    }
    *port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    s->sweeper = event_new(base, -1, EV_PERSIST, sweep_cb, s);
    struct timeval tv = {HS_SWEEP_SECONDS, 0};
    if (!s->sweeper || event_add(s->sweeper, &tv) != 0)
        goto fail;
    return s;
fail:
    hs_free(s);
    return NULL;
}

void hs_free(struct hs_server *s)
{
    if (!s)
        return;
    while (s->conns)
        conn_free(s->conns);
    if (s->listener)
        evconnlistener_free(s->listener);
    if (s->sweeper)
        event_free(s->sweeper);
    free(s);
}
