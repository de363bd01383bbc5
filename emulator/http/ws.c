/* ws.c — MQTT over WebSockets: the upgrade, the frames on a bufferevent filter, the close
 * handshake; see ws.h. */
#include "ws.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "http_server.h"
#include "ws_proto.h"

/* Bytes of frames queued on a socket before the broker's output waits in its own buffer. */
#define WS_SOCKET_BUFFER (256 * 1024)

struct ws_conn;

struct ws_hub {
    struct event_base *base;
    struct broker *broker;
    struct ws_conn *lingering;      /* let go by the broker, finishing the close handshake */
    size_t conns;                   /* alive, lingering or not */
    bool released;                  /* the API is gone: no lingering, free with the last */
};

struct ws_conn {
    struct ws_hub *hub;
    struct bufferevent *sock;       /* the TCP connection */
    struct bufferevent *filter;     /* the broker's view of it (the broker owns it); NULL after */
    struct ws_reader reader;
    struct event *linger_timer;
    bool close_sent;
    bool peer_gone;                 /* EOF or error on the socket */
    struct ws_conn *next, **pprev;  /* hub->lingering */
};

/* ================================================================ hub and connections */

struct ws_hub *ws_hub_new(struct event_base *base, struct broker *broker)
{
    struct ws_hub *hub = calloc(1, sizeof *hub);
    if (hub) {
        hub->base = base;
        hub->broker = broker;
    }
    return hub;
}

static void conn_free(struct ws_conn *w)
{
    struct ws_hub *hub = w->hub;
    if (w->pprev) {
        *w->pprev = w->next;
        if (w->next)
            w->next->pprev = w->pprev;
    }
    if (w->linger_timer)
        event_free(w->linger_timer);
    if (w->sock)
        bufferevent_free(w->sock);
    free(w);
    if (--hub->conns == 0 && hub->released)
        free(hub);
}

void ws_hub_release(struct ws_hub *hub)
{
    if (!hub)
        return;
    hub->released = true;
    if (hub->conns == 0) {
        free(hub);
        return;
    }
    while (hub->lingering) {
        bool last = hub->conns == 1;
        conn_free(hub->lingering);          /* the last one frees the hub */
        if (last)
            return;
    }
}

/* ================================================================ frames out */

/* One frame straight onto the socket (control frames, in between the broker's). */
static void send_frame(struct ws_conn *w, enum ws_opcode op, const void *data, size_t len)
{
    uint8_t head[10];
    struct evbuffer *out = bufferevent_get_output(w->sock);
    evbuffer_add(out, head, ws_frame_header(head, op, len));
    if (len)
        evbuffer_add(out, data, len);
}

/* Our Close frame (once): the code and at most 123 bytes of reason. Nothing is sent
 * after it. */
static void send_close(struct ws_conn *w, uint16_t code, const char *why)
{
    if (w->close_sent)
        return;
    uint8_t payload[WS_CONTROL_MAX];
    size_t n = why ? strlen(why) : 0;
    if (n > WS_CONTROL_MAX - 2)
        n = WS_CONTROL_MAX - 2;
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    if (n)
        memcpy(payload + 2, why, n);
    send_frame(w, WS_OP_CLOSE, payload, n + 2);
    w->close_sent = true;
}

/* The broker's output filter: what it writes goes out as binary frames, as far as the
 * socket's high-water mark allows (`limit`): the rest stays in the broker's output
 * buffer, where the broker measures how far behind a client is (its QoS 0 drop). */
static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst,
                                                 ev_ssize_t limit,
                                                 enum bufferevent_flush_mode mode, void *arg)
{
    (void)mode;
    struct ws_conn *w = arg;
    size_t len = evbuffer_get_length(src);
    if (len == 0)
        return BEV_NEED_MORE;
    if (w->close_sent) {            /* RFC 6455 5.5.1: no data after our Close */
        evbuffer_drain(src, len);
        return BEV_OK;
    }
    size_t room = limit < 0 ? SIZE_MAX : (size_t)limit;
    bool moved = false;
    while (len && room > 10) {      /* room for a header and at least a byte */
        size_t n = len < WS_MAX_FRAME ? len : WS_MAX_FRAME;
        if (n > room - 10)
            n = room - 10;
        uint8_t head[10];
        size_t h = ws_frame_header(head, WS_OP_BINARY, n);
        evbuffer_add(dst, head, h);
        evbuffer_remove_buffer(src, dst, n);
        len -= n;
        room -= n + h;
        moved = true;
    }
    return moved ? BEV_OK : BEV_NEED_MORE;
}

/* ================================================================ frames in */

/* Tells the broker the stream ended (its connection then closes as a TCP one would). */
static void end_stream(struct ws_conn *w, short what)
{
    if (w->filter)
        bufferevent_trigger_event(w->filter, what, 0);
}

/* One event of the reader; data goes to dst (NULL once the broker has let go). */
static void on_frame_event(struct ws_conn *w, const struct ws_event *ev, struct evbuffer *dst)
{
    switch (ev->type) {
    case WS_EV_DATA:
        if (dst)
            evbuffer_add(dst, ev->data, ev->len);
        break;
    case WS_EV_PING:
        if (!w->close_sent)
            send_frame(w, WS_OP_PONG, ev->data, ev->len);
        break;
    case WS_EV_CLOSE:               /* the client's Close: answer it, the stream ends */
        send_close(w, WS_CLOSE_NORMAL, NULL);
        end_stream(w, BEV_EVENT_EOF);
        break;
    case WS_EV_ERROR:
        send_close(w, ev->code, ev->why);
        end_stream(w, BEV_EVENT_ERROR);
        break;
    default:
        break;
    }
}

/* Reads every byte of src through the frame reader. Returns whether data went to dst. */
static bool read_frames(struct ws_conn *w, struct evbuffer *src, struct evbuffer *dst)
{
    uint8_t chunk[16384];
    size_t before = dst ? evbuffer_get_length(dst) : 0;
    int n;
    while ((n = evbuffer_remove(src, chunk, sizeof chunk)) > 0) {
        for (size_t off = 0; off < (size_t)n;) {
            struct ws_event ev;
            off += ws_reader_next(&w->reader, chunk + off, (size_t)n - off, &ev);
            on_frame_event(w, &ev, dst);
        }
    }
    return dst && evbuffer_get_length(dst) > before;
}

/* The broker's input filter. Control frames alone are not progress: they do not reset
 * the MQTT keep-alive timer (BEV_NEED_MORE). */
static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst,
                                                ev_ssize_t limit,
                                                enum bufferevent_flush_mode mode, void *arg)
{
    (void)limit;
    (void)mode;
    return read_frames(arg, src, dst) ? BEV_OK : BEV_NEED_MORE;
}

/* ================================================================ the close handshake */

/* Done once our Close is out and the client has answered (or gone). */
static void linger_check(struct ws_conn *w)
{
    bool flushed = evbuffer_get_length(bufferevent_get_output(w->sock)) == 0;
    if ((flushed && w->reader.finished) || w->peer_gone) {
        struct timeval now = {0, 0};
        event_add(w->linger_timer, &now);   /* freed from the loop, not from a callback */
    }
}

static void linger_read(struct bufferevent *bev, void *arg)
{
    struct ws_conn *w = arg;
    read_frames(w, bufferevent_get_input(bev), NULL);
    linger_check(w);
}

static void linger_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    linger_check(arg);
}

static void linger_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    struct ws_conn *w = arg;
    w->peer_gone = true;
    linger_check(w);
}

static void linger_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_free(arg);
}

/* The filter's free_context: the broker has let the connection go. The socket is still
 * ours (the filter does not close it): send Close, wait for the client's, then free. */
static void filter_freed(void *arg)
{
    struct ws_conn *w = arg;
    w->filter = NULL;
    struct ws_hub *hub = w->hub;
    w->linger_timer = hub->released ? NULL : evtimer_new(hub->base, linger_over, w);
    if (!w->linger_timer) {
        conn_free(w);
        return;
    }
    send_close(w, WS_CLOSE_NORMAL, NULL);
    w->next = hub->lingering;
    if (w->next)
        w->next->pprev = &w->next;
    w->pprev = &hub->lingering;
    hub->lingering = w;
    bufferevent_setcb(w->sock, linger_read, linger_write, linger_event, w);
    bufferevent_enable(w->sock, EV_READ | EV_WRITE);
    struct timeval linger = {WS_LINGER_SECONDS, 0};
    event_add(w->linger_timer, &linger);
    read_frames(w, bufferevent_get_input(w->sock), NULL);
    linger_check(w);
}

/* ================================================================ the upgrade */

void ws_adopt(struct ws_hub *hub, struct bufferevent *sock)
{
    struct ws_conn *w = calloc(1, sizeof *w);
    if (!w) {
        bufferevent_free(sock);
        return;
    }
    w->hub = hub;
    w->sock = sock;
    hub->conns++;
    ws_reader_init(&w->reader);
    bufferevent_set_timeouts(sock, NULL, NULL);
    /* no BEV_OPT_CLOSE_ON_FREE: the socket outlives the filter for the close handshake */
    w->filter = bufferevent_filter_new(sock, filter_in, filter_out, BEV_OPT_DEFER_CALLBACKS,
                                       filter_freed, w);
    if (!w->filter) {
        conn_free(w);
        return;
    }
    bufferevent_setwatermark(sock, EV_WRITE, 0, WS_SOCKET_BUFFER);
    int fd = (int)bufferevent_getfd(sock);
    struct sockaddr_storage peer, local;
    socklen_t peer_len = sizeof peer, local_len = sizeof local;
    memset(&peer, 0, sizeof peer);
    getpeername(fd, (struct sockaddr *)&peer, &peer_len);
    bool have_local = getsockname(fd, (struct sockaddr *)&local, &local_len) == 0;
    if (broker_adopt_stream(hub->broker, w->filter, (struct sockaddr *)&peer,
                            have_local ? (struct sockaddr *)&local : NULL) != 0)
        return;                     /* the broker freed the filter: filter_freed ran */
    if (evbuffer_get_length(bufferevent_get_input(sock)))  /* frames sent with the request */
        bufferevent_trigger(sock, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

/* The connection hs_upgrade gave away, as a bufferevent with what was buffered. */
static void on_upgraded(void *arg, int fd, SSL *ssl, const char *unsent, size_t unsent_len,
                        const char *unread, size_t unread_len)
{
    struct ws_hub *hub = arg;
    if (fd < 0)
        return;
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    struct bufferevent *sock =
        ssl ? bufferevent_openssl_socket_new(hub->base, fd, ssl, BUFFEREVENT_SSL_OPEN, opts)
            : bufferevent_socket_new(hub->base, fd, opts);
    if (!sock) {
        if (ssl)
            SSL_free(ssl);
        close(fd);
        return;
    }
    evbuffer_add(bufferevent_get_output(sock), unsent, unsent_len);
    evbuffer_add(bufferevent_get_input(sock), unread, unread_len);
    ws_adopt(hub, sock);
}

/* The handshake headers (RFC 6455 4.2.1) and the subprotocol AWS IoT requires. NULL
 * when fine, else why not. */
static const char *handshake_problem(struct http_ctx *ctx, char accept[29])
{
    const char *key = http_header(ctx, "Sec-WebSocket-Key");
    const char *version = http_header(ctx, "Sec-WebSocket-Version");
    if (!ws_has_token(http_header(ctx, "Upgrade"), "websocket") ||
        !ws_has_token(http_header(ctx, "Connection"), "upgrade"))
        return "/mqtt takes a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade)";
    if (!version || strcmp(version, "13") != 0)
        return "Sec-WebSocket-Version must be 13";
    if (!key || ws_accept_value(key, strlen(key), accept) != 0)
        return "Sec-WebSocket-Key must be the base64 of 16 bytes";
    if (!ws_has_token(http_header(ctx, "Sec-WebSocket-Protocol"), "mqtt"))
        return "Sec-WebSocket-Protocol must offer mqtt";
    return NULL;
}

/* Whether the query carries SigV4 at all. -1 when malformed (replied). */
static int query_is_signed(struct http_ctx *ctx)
{
    const char *v;
    size_t n;
    int sig = http_query_get(ctx, "X-Amz-Signature", &v, &n);
    int cred = sig < 0 ? -1 : http_query_get(ctx, "X-Amz-Credential", &v, &n);
    if (sig < 0 || cred < 0)
        return -1;
    return sig == 1 || cred == 1;
}

void ws_serve_upgrade(struct http_ctx *ctx, struct ws_hub *hub, bool verify,
                      bool allow_unsigned)
{
    char accept[29];
    if (ctx->method != HW_GET) {
        http_reply_error(ctx, 405, "MethodNotAllowedException", "/mqtt takes GET (an upgrade)");
        return;
    }
    const char *problem = handshake_problem(ctx, accept);
    if (problem) {
        http_reply_error(ctx, 400, "InvalidRequestException", "%s", problem);
        return;
    }
    int is_signed = query_is_signed(ctx);
    if (is_signed < 0)
        return;
    if (verify && (is_signed || !allow_unsigned) && http_verify_query(ctx, "/mqtt", 5) != 0)
        return;
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: mqtt\r\n\r\n", accept);
    if (ctx->conn)
        hs_upgrade(ctx->conn, head, (size_t)n, on_upgraded, hub);
    else
        ws_pending_upgrade(ctx->ws_pending, head, (size_t)n, hub);
}
