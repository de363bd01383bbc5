/*
 * ws_client.h — the client's half of MQTT over WebSockets (RFC 6455; AWS IoT on port
 * 443 with `wss://`): the upgrade request, the check of the server's answer, and the
 * framing of the MQTT byte stream both ways. No I/O: mqtt_client.c moves the bytes
 * through its net_stream (plain for ws://, TLS for wss://).
 *
 * The request target (path and query) is the caller's: for AWS IoT it carries the
 * SigV4 query signature, made in Lua by iotlua.sigv4.presign before connecting. It is
 * never put into an error message (it holds a signature and maybe a session token).
 *
 * Errors: NotAuthorized (the upgrade answered 401 or 403; status 0x87, the MQTT reason
 * code of a CONNACK that says so; the HTTP status is in the message), ProtocolError (any other
 * answer, a wrong Sec-WebSocket-Accept, a frame that breaks RFC 6455), NetworkError
 * (the server's Close frame, with its code).
 */
#ifndef IOTLUA_WS_CLIENT_H
#define IOTLUA_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "client.h"
#include "ws_proto.h"

#define WS_CLIENT_MAX_HEAD 8192         /* the server's answer head, at most */

struct ws_client {
    char key[25];                       /* Sec-WebSocket-Key sent: base64 of 16 bytes */
    int open;                           /* the upgrade was accepted */
    struct ws_reader reader;            /* the server's frames */
};

/* Starts an upgrade: the GET for target (e.g. "/mqtt?X-Amz-Algorithm=..."), with Host
 * host (and :port unless it is default_port) and the "mqtt" subprotocol, appended to
 * out. 0, or -1 with err. */
int ws_client_start(struct ws_client *ws, const char *host, int port, int default_port,
                    const char *target, struct buf *out, struct iot_error *err);

/* Reads the server's answer to the upgrade from data[0..len) (the bytes received so
 * far, from the first). 1: accepted, *used bytes were its head (the rest are frames);
 * 0: the head is not complete yet; -1: refused or wrong, with err. */
int ws_client_read_answer(struct ws_client *ws, const char *data, size_t len, size_t *used,
                          struct iot_error *err);

/* Appends data[0..len) as one masked frame of opcode op to out. 0, or -1 (memory). */
int ws_client_frame(struct buf *out, enum ws_opcode op, const void *data, size_t len);

/* Reads the server's frames from data[0..len) (written: payloads are taken in place):
 * the bytes of binary messages are appended to payload, and a Pong for each Ping to
 * reply. 0, or -1 with err when the server closed or broke the protocol. */
int ws_client_unframe(struct ws_client *ws, uint8_t *data, size_t len, struct buf *payload,
                      struct buf *reply, struct iot_error *err);

#endif
