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

struct broker;
struct event_base;
struct http_ctx;
struct ws_hub;

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

#endif
