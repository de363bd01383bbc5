/* ws_listen.c — --ws-port: a listener for MQTT over WebSockets alone, plain or TLS (wss,
 * with the HTTPS certificate), for clients that expect a WebSocket endpoint of its own
 * as AWS IoT's on port 443. Each connection's request head is read on a bufferevent
 * (http_wire.c's parser), checked by ws_serve_upgrade exactly as on the HTTP port, then
 * the bufferevent itself carries the WebSocket (ws_adopt); see ws.h. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "http_wire.h"
#include "ws.h"

#define WS_HANDSHAKE_SECONDS 10     /* the request head must arrive (and TLS finish) by then */

struct ws_listener {
    struct http_api *api;
    struct evconnlistener *listener;
    SSL_CTX *tls;
    struct ws_pending *pending;     /* connections before their upgrade */
};

struct ws_pending {
    struct ws_listener *owner;
    struct bufferevent *bev;
    struct ws_pending *next, **pprev;
};

/* ================================================================ connections */

static void pending_unlink(struct ws_pending *p)
{
    *p->pprev = p->next;
    if (p->next)
        p->next->pprev = p->pprev;
}

static void pending_free(struct ws_pending *p)
{
    pending_unlink(p);
    if (p->bev)
        bufferevent_free(p->bev);
    free(p);
}

static void on_pending_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        pending_free(arg);
}

/* After an error answer: the connection closes once it is sent. */
static void on_answer_sent(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pending_free(arg);
}

void ws_pending_reply(struct ws_pending *p, int status, const char *reason,
                      const char *error_type, const char *request_id, const char *body,
                      size_t body_len)
{
    struct evbuffer *out = bufferevent_get_output(p->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, reason);
    if (error_type)
        evbuffer_add_printf(out, "x-amzn-ErrorType: %s\r\n", error_type);
    evbuffer_add_printf(out, "Content-Type: application/json\r\nx-amzn-RequestId: %s\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        request_id, body_len);
    evbuffer_add(out, body, body_len);
    bufferevent_disable(p->bev, EV_READ);
    bufferevent_setcb(p->bev, NULL, on_answer_sent, on_pending_event, p);
}

void ws_pending_upgrade(struct ws_pending *p, const char *head, size_t head_len,
                        struct ws_hub *hub)
{
    struct bufferevent *bev = p->bev;
    p->bev = NULL;
    pending_free(p);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    evbuffer_add(bufferevent_get_output(bev), head, head_len);
    ws_adopt(hub, bev);
}

/* One whole request head in buf (a copy: the parser writes into it): served as a request
 * to the HTTP port would be, but only /mqtt exists here. */
static void serve_head(struct ws_pending *p, struct hw_request *req)
{
    struct http_api *api = p->owner->api;
    struct http_ctx ctx = {.api = api, .ws_pending = p, .wire = req, .method = req->method,
                           .uri = req->target};
    http_make_request_id(api, ctx.request_id);
    const char *q = strchr(req->target, '?');
    size_t path_len = q ? (size_t)(q - req->target) : strlen(req->target);
    if (q) {
        ctx.query = q + 1;
        ctx.query_len = strlen(q + 1);
    }
    if (path_len != 5 || memcmp(req->target, "/mqtt", 5) != 0) {
        http_reply_error(&ctx, 404, "UnknownOperationException",
                         "this port serves MQTT over WebSockets on /mqtt only");
        return;
    }
    ws_serve_upgrade(&ctx, api->ws, api->verify, api->ws_allow_unsigned);
}

static void on_pending_read(struct bufferevent *bev, void *arg)
{
    struct ws_pending *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    char *copy = malloc(len + 1);
    if (!copy || len > HW_MAX_HEAD) {
        free(copy);
        pending_free(p);
        return;
    }
    evbuffer_copyout(in, copy, len);
    struct hw_request req;
    enum hw_result r = hw_parse(copy, len, &req);
    if (r == HW_ERROR) {
        evbuffer_drain(in, len);
        struct http_ctx ctx = {.api = p->owner->api, .ws_pending = p};
        http_make_request_id(ctx.api, ctx.request_id);
        http_reply_error(&ctx, 400, "InvalidRequestException", "malformed request");
    } else if (r == HW_DONE) {
        evbuffer_drain(in, req.consumed);   /* what follows is the client's first frames */
        serve_head(p, &req);
    }
    free(copy);
}

/* ================================================================ listening */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)sa;
    (void)socklen;
    struct ws_listener *wl = arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct event_base *base = evconnlistener_get_base(l);
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    struct ws_pending *p = calloc(1, sizeof *p);
    SSL *ssl = p && wl->tls ? SSL_new(wl->tls) : NULL;
    if (p && wl->tls)
        p->bev = ssl ? bufferevent_openssl_socket_new(base, fd, ssl,
                                                      BUFFEREVENT_SSL_ACCEPTING, opts)
                     : NULL;
    else if (p)
        p->bev = bufferevent_socket_new(base, fd, opts);
    if (!p || !p->bev) {
        if (ssl && p && !p->bev)
            SSL_free(ssl);
        free(p);
        evutil_closesocket(fd);
        return;
    }
    p->owner = wl;
    p->next = wl->pending;
    if (p->next)
        p->next->pprev = &p->next;
    p->pprev = &wl->pending;
    wl->pending = p;
    struct timeval deadline = {WS_HANDSHAKE_SECONDS, 0};
    bufferevent_set_timeouts(p->bev, &deadline, &deadline);
    bufferevent_setcb(p->bev, on_pending_read, NULL, on_pending_event, p);
    bufferevent_enable(p->bev, EV_READ | EV_WRITE);
}

struct ws_listener *ws_listener_new(struct http_api *api, const char *host, int port,
                                    SSL_CTX *tls, int *port_out)
{
    struct ws_listener *wl = calloc(1, sizeof *wl);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (!wl || getaddrinfo(host, service, &hints, &ai) != 0 || !ai)
        goto fail;
    wl->api = api;
    wl->tls = tls;
    wl->listener = evconnlistener_new_bind(api->base, on_accept, wl,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                               LEV_OPT_CLOSE_ON_EXEC,
                                           4096, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!wl->listener ||
        getsockname(evconnlistener_get_fd(wl->listener), (struct sockaddr *)&ss, &len) != 0)
        goto fail;
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    return wl;
fail:
    fprintf(stderr, "iotlua-emulator: cannot listen for WebSockets on %s:%d\n", host, port);
    ws_listener_free(wl);
    return NULL;
}

void ws_listener_free(struct ws_listener *wl)
{
    if (!wl)
        return;
    while (wl->pending)
        pending_free(wl->pending);
    if (wl->listener)
        evconnlistener_free(wl->listener);
    free(wl);
}
