/*
 * ws.h — MQTT over WebSockets on the emulator's plain-HTTP port: `GET /mqtt` with an
 * RFC 6455 upgrade offering the subprotocol `mqtt`, SigV4 in the query (service
 * iotdevicegateway) checked before the upgrade, then the connection's bytes go, in
 * binary frames, to the broker's connection code (broker_adopt_stream) as if they had
 * come over TCP. ws_proto.h holds the protocol's pure pieces; this file the glue.
 *
 * Ownership: a hub per HTTP API holds the WebSocket connections' shared state. Each
 * connection owns its TCP bufferevent and gives the broker a filter bufferevent over
 * it; when the broker frees the filter, the connection finishes the close handshake
 * itself (a Close frame, then up to WS_LINGER_SECONDS for the client's) and frees
 * itself. The hub lives until its API has released it and its last connection is gone.
 */
#ifndef IOTLUA_EMULATOR_WS_H
#define IOTLUA_EMULATOR_WS_H

#include <stdbool.h>

#include <stddef.h>

struct broker;
struct bufferevent;
struct event_base;
struct http_api;
struct http_ctx;
struct ws_hub;
struct ws_pending;
typedef struct ssl_ctx_st SSL_CTX;

#define WS_LINGER_SECONDS 2

struct ws_hub *ws_hub_new(struct event_base *base, struct broker *broker);
/* The API is going: connections waiting for a close handshake go now; those the broker
 * still serves free the hub when the broker lets them go. Safe with NULL. */
void ws_hub_release(struct ws_hub *hub);

/* Serves a request for /mqtt (any method: only GET upgrades). `verify`: SigV4 in the
 * query is required; `allow_unsigned`: a request without X-Amz-Signature and
 * X-Amz-Credential is accepted (one that carries them is still verified). */
void ws_serve_upgrade(struct http_ctx *ctx, struct ws_hub *hub, bool verify,
                      bool allow_unsigned);

/* Starts a WebSocket on sock (plain or TLS, owned from here), the 101 answer already in
 * its output and maybe the client's first frames in its input. */
void ws_adopt(struct ws_hub *hub, struct bufferevent *sock);

/* ---------------------------------------------------------------- --ws-port (ws_listen.c)
 * A port of its own for MQTT over WebSockets, TLS (wss) when given a context: each
 * connection's request head is read on a bufferevent, answered by ws_serve_upgrade
 * (any other path: 404), and on success the bufferevent goes to ws_adopt. */
struct ws_listener;
struct ws_listener *ws_listener_new(struct http_api *api, const char *host, int port,
                                    SSL_CTX *tls, int *port_out);
/* Closes the port and the connections still before their upgrade. Safe with NULL. */
void ws_listener_free(struct ws_listener *l);
/* The answer to a request on that port (an error: the connection then closes). */
void ws_pending_reply(struct ws_pending *p, int status, const char *reason,
                      const char *error_type, const char *request_id, const char *body,
                      size_t body_len);
/* The upgrade: head (the 101 answer) is sent and the connection goes to ws_adopt. */
void ws_pending_upgrade(struct ws_pending *p, const char *head, size_t head_len,
                        struct ws_hub *hub);

#endif
