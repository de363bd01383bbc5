/*
 * http_server.h — the emulator's own HTTP/1.1 server, plain or over TLS (OpenSSL on the
 * connection's socket), on the emulator's libevent loop. It replaced evhttp because
 * evhttp's per-request work (a malloc per header, printf per response line, four
 * epoll_ctl and an ioctl per request) cost more than the operations it served. Both
 * schemes go through the same parser and the same answers, byte for byte.
 *
 * One request per connection is served at a time, in arrival order (pipelined requests
 * wait in the buffer). The request handed to the callback (its target, headers and body
 * point into the connection's buffer) stays valid until hs_reply or hs_drop, which must
 * be called exactly once for it, now or later from another callback. Answers to
 * pipelined requests go out in one write. Malformed input gets evhttp's HTML error
 * answers (see http_wire.h) and the connection closes; a connection idle for
 * HS_IDLE_SECONDS with no request being served is closed.
 */
#ifndef IOTLUA_EMULATOR_HTTP_SERVER_H
#define IOTLUA_EMULATOR_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "http_wire.h"

#define HS_IDLE_SECONDS 60

struct event_base;
struct evconnlistener;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
struct hs_server;
struct hs_conn;

typedef void (*hs_request_cb)(void *arg, struct hs_conn *conn, const struct hw_request *r);

/* Listens on host:port (port 0: an ephemeral one, written to *port_out); with tls (borrowed,
 * it must outlive the server) every connection is a TLS session, else plain HTTP. It sets
 * tls's ALPN callback ("http/1.1" when offered); session resumption is OpenSSL's default
 * (tickets, TLS 1.2 and 1.3). NULL on failure, with a message on stderr. */
struct hs_server *hs_new(struct event_base *base, const char *host, int port, SSL_CTX *tls,
                         hs_request_cb on_request, void *arg, int *port_out);
/* Closes every connection and the listener. Requests still waiting for hs_reply must
 * have been answered first. Safe with NULL. */
void hs_free(struct hs_server *s);
/* The listening socket's listener (its callback argument is the struct hs_server). */
struct evconnlistener *hs_listener(struct hs_server *s);

/* The answer to the request conn is serving: status line, the x-amzn-ErrorType header
 * when error_type is not NULL, Content-Type application/json, x-amzn-RequestId, then
 * what evhttp added when it served these requests (Date, Content-Length, Connection) and
 * the body. */
void hs_reply(struct hs_conn *conn, int status, const char *reason, const char *error_type,
              const char *request_id, const char *body, size_t body_len);
/* Closes the connection without an answer (QA fault). */
void hs_drop(struct hs_conn *conn);

/* A connection given away (WebSockets): the socket, its TLS session (NULL for plain
 * HTTP; open, nothing half-written, decrypted bytes all in `unread`), the answer bytes
 * not yet sent and the bytes the client sent after the request, both to be copied during
 * the call. fd and ssl are the callee's to close and free. fd is -1 (ssl NULL) when the
 * connection failed or the server is being freed first. */
typedef void (*hs_upgrade_cb)(void *arg, int fd, SSL *ssl, const char *unsent,
                              size_t unsent_len, const char *unread, size_t unread_len);
/* Answers the request conn is serving with `head` (a whole response head, e.g. 101
 * Switching Protocols) and gives the connection away: once the request callback has
 * returned (and, over TLS, the answers before it are written), cb gets the socket and
 * its TLS session and the server forgets it. */
void hs_upgrade(struct hs_conn *conn, const char *head, size_t head_len, hs_upgrade_cb cb,
                void *arg);

#endif
