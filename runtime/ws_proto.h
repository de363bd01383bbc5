/*
 * ws_proto.h — the pure pieces of RFC 6455 (WebSockets) that MQTT over WebSockets needs
 * on both sides (the emulator's server, emulator/http/ws.c; the client's,
 * runtime/ws_client.c): a streaming reader of the frames the peer sends, the header of
 * the frames this side sends, the handshake's Sec-WebSocket-Accept value and the token
 * lists of its headers. No I/O and no allocation; every function reads untrusted bytes
 * with explicit lengths; fuzz/fuzz_emulator_ws.c drives the reader in both roles.
 */
#ifndef IOTLUA_WS_PROTO_H
#define IOTLUA_WS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest frame payload accepted from the peer: twice AWS IoT's 128 KiB message
 * payload, so any MQTT packet fits in one frame (both sides send one frame per packet),
 * while a header claiming gigabytes is refused at once. Messages may
 * be fragmented into any number of frames: their bytes are a stream, never gathered. */
#define WS_MAX_FRAME (256 * 1024)
#define WS_CONTROL_MAX 125              /* control frames' payload limit (RFC 6455 5.5) */

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close status codes (RFC 6455 7.4.1). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005,          /* never sent: a Close frame without a code */
    WS_CLOSE_TOO_BIG = 1009,
};

enum ws_event_type {
    WS_EV_NONE,         /* nothing complete yet: all bytes given were consumed */
    WS_EV_DATA,         /* payload bytes of a binary message, unmasked, in the caller's buffer */
    WS_EV_PING,         /* a whole Ping: answer with a Pong carrying the same payload */
    WS_EV_PONG,
    WS_EV_CLOSE,        /* the peer's Close: code (WS_CLOSE_NO_STATUS when none) */
    WS_EV_ERROR,        /* a protocol violation: close with `code`; `why` says what */
};

struct ws_event {
    enum ws_event_type type;
    const uint8_t *data;                /* DATA: in the buffer given; control: in the reader */
    size_t len;
    uint16_t code;
    const char *why;                    /* ERROR: a static string */
};

/* The reader's state between calls: a frame header being gathered, or the position in
 * a frame's payload, and whether a fragmented message is open. */
struct ws_reader {
    uint8_t head[14];
    size_t head_len, head_need;
    bool in_payload;
    uint8_t opcode;
    bool fin;
    uint8_t mask[4];
    uint64_t payload_len, done;
    bool in_message;                    /* a binary message whose last fragment is to come */
    bool finished;                      /* after a Close or an error: bytes are ignored */
    bool from_client;                   /* frames must be masked (else: must not be) */
    uint8_t control[WS_CONTROL_MAX];
};

/* A reader of the frames a client sends (from_client: the server's reader; they must be
 * masked) or of those a server sends (they must not be). */
void ws_reader_init(struct ws_reader *r, bool from_client);
/* Reads buf[0..n) (data payloads are unmasked in place, so buf is written), stopping at
 * the first event: returns the bytes consumed, with *ev filled (WS_EV_NONE when all n
 * were consumed without completing one). Call again with the rest. After WS_EV_CLOSE or
 * WS_EV_ERROR every later byte is consumed with WS_EV_NONE. Frames may arrive split at
 * any byte. */
size_t ws_reader_next(struct ws_reader *r, uint8_t *buf, size_t n, struct ws_event *ev);

/* The header of one frame (FIN set) of `opcode` carrying len bytes, into out; returns
 * its length: 2, 4 or 10 for a server's frame (mask NULL), 4 more with the mask key for
 * a client's (whose payload must then go through ws_mask with the same key). */
size_t ws_frame_header(uint8_t out[14], enum ws_opcode opcode, uint64_t len,
                       const uint8_t mask[4]);

/* XORs data[0..n) with the mask key, as a client's payload is sent (RFC 6455 5.3). */
void ws_mask(uint8_t *data, size_t n, const uint8_t mask[4]);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64 of the SHA-1 of the key
 * and RFC 6455's GUID, NUL-terminated in out. 0, or -1 when the key is not the base64
 * of 16 bytes (the handshake is then refused). */
int ws_accept_value(const char *key, size_t key_len, char out[29]);

/* True when a comma-separated header value (Connection, Upgrade, Sec-WebSocket-Protocol)
 * holds token, compared case-insensitively. */
bool ws_has_token(const char *value, const char *token);

#endif
