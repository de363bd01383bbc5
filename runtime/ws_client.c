/* ws_client.c — the upgrade and the framing of MQTT over WebSockets; see ws_client.h. */
#include "ws_client.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "encode.h"

/* ================================================================ the upgrade */

int ws_client_start(struct ws_client *ws, const char *host, int port, int default_port,
                    const char *target, struct buf *out, struct iot_error *err)
{
    uint8_t nonce[16];
    memset(ws, 0, sizeof *ws);
    ws_reader_init(&ws->reader, false);
    struct buf key = BUF_INIT;
    if (RAND_bytes(nonce, sizeof nonce) != 1 || enc_base64(&key, nonce, sizeof nonce) != 0 ||
        key.len != 24) {
        buf_free(&key);
        iot_error_set(err, "InternalError", "cannot make a WebSocket key");
        return -1;
    }
    memcpy(ws->key, key.data, 24);
    ws->key[24] = '\0';
    buf_free(&key);
    /* an IPv6 literal is bracketed in Host, as in a URL (RFC 7230 5.4, RFC 3986 3.2.2) */
    const char *open = strchr(host, ':') ? "[" : "", *close = *open ? "]" : "";
    int ok = buf_printf(out, "GET %s HTTP/1.1\r\nHost: %s%s%s", target, open, host,
                        close) == 0 &&
             (port == default_port || buf_printf(out, ":%d", port) == 0) &&
             buf_printf(out, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: mqtt\r\n\r\n", ws->key) == 0;
    if (!ok) {
        iot_error_set(err, "InternalError", "out of memory writing the WebSocket upgrade");
        return -1;
    }
    return 0;
}

/* Where the head ends (the index after its empty line), or 0 when not yet in data. */
static size_t head_end(const char *data, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (data[i] != '\n')
            continue;
        if (data[i + 1] == '\n')
            return i + 2;
        if (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* The value of header `name` in head[0..len) (lines after the status line), trimmed,
 * copied into out (NUL-terminated, cut at its size); 0 when absent. */
static int header_value(const char *head, size_t len, const char *name, char *out,
                        size_t out_size)
{
    size_t name_len = strlen(name);
    const char *line = memchr(head, '\n', len), *end = head + len;
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t n = eol ? (size_t)(eol - line) : (size_t)(end - line);
        if (n > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1, *v_end = line + n;
            while (v < v_end && (*v == ' ' || *v == '\t'))
                v++;
            while (v_end > v && (v_end[-1] == '\r' || v_end[-1] == ' ' || v_end[-1] == '\t'))
                v_end--;
            snprintf(out, out_size, "%.*s", (int)(v_end - v), v);
            return 1;
        }
        line = eol;
    }
    return 0;
}

/* The status line, as the server sent it (for messages: it holds nothing of ours). */
static void status_line(const char *head, size_t len, char *out, size_t out_size)
{
    const char *eol = memchr(head, '\n', len);
    size_t n = eol ? (size_t)(eol - head) : len;
    while (n && head[n - 1] == '\r')
        n--;
    snprintf(out, out_size, "%.*s", (int)(n < 80 ? n : 80), head);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
}

/* The 101's headers: Upgrade, Connection, Sec-WebSocket-Accept, the subprotocol. */
static int check_switch(const struct ws_client *ws, const char *head, size_t len,
                        struct iot_error *err)
{
    char value[256], want[29];
    if (!header_value(head, len, "Upgrade", value, sizeof value) ||
        !ws_has_token(value, "websocket") ||
        !header_value(head, len, "Connection", value, sizeof value) ||
        !ws_has_token(value, "upgrade")) {
        iot_error_set(err, "ProtocolError", "the server's 101 answer to the WebSocket upgrade "
                      "lacks Upgrade: websocket or Connection: Upgrade");
        return -1;
    }
    if (ws_accept_value(ws->key, 24, want) != 0 ||
        !header_value(head, len, "Sec-WebSocket-Accept", value, sizeof value) ||
        strcmp(value, want) != 0) {
        iot_error_set(err, "ProtocolError", "the server's Sec-WebSocket-Accept does not match "
                      "the key sent (RFC 6455 4.1)");
        return -1;
    }
    if (header_value(head, len, "Sec-WebSocket-Protocol", value, sizeof value) &&
        strcasecmp(value, "mqtt") != 0) {
        iot_error_set(err, "ProtocolError", "the server chose the WebSocket subprotocol '%.40s', "
                      "not mqtt", value);
        return -1;
    }
    return 0;
}

int ws_client_read_answer(struct ws_client *ws, const char *data, size_t len, size_t *used,
                          struct iot_error *err)
{
    size_t end = head_end(data, len);
    if (!end) {
        if (len > WS_CLIENT_MAX_HEAD) {
            iot_error_set(err, "ProtocolError", "the server's answer to the WebSocket upgrade "
                          "has a head over %d bytes", WS_CLIENT_MAX_HEAD);
            return -1;
        }
        return 0;
    }
    char line[96];
    status_line(data, end, line, sizeof line);
    int status = 0;
    if (sscanf(line, "HTTP/1.%*1[01] %3d", &status) != 1) {
        iot_error_set(err, "ProtocolError", "the server did not answer the WebSocket upgrade "
                      "with HTTP (\"%s\")", line);
        return -1;
    }
    if (status != 101) {
        int refused = status == 401 || status == 403;
        iot_error_set(err, refused ? "NotAuthorized" : "ProtocolError",
                      "the server refused the WebSocket upgrade: %s%s", line,
                      refused ? " (check the credentials, the region and the clock)" : "");
        if (refused)
            err->status = 0x87;         /* as a CONNACK's Not authorized (MQTT 5 3.2.2.2) */
        return -1;
    }
    if (check_switch(ws, data, end, err) != 0)
        return -1;
    ws->open = 1;
    *used = end;
    return 1;
}

/* ================================================================ frames */

int ws_client_frame(struct buf *out, enum ws_opcode op, const void *data, size_t len)
{
    uint8_t head[14], mask[4];
    if (RAND_bytes(mask, sizeof mask) != 1)
        return -1;
    size_t h = ws_frame_header(head, op, len, mask);
    if (buf_reserve(out, h + len) != 0)
        return -1;
    buf_append(out, head, h);
    uint8_t *payload = (uint8_t *)out->data + out->len;
    buf_append(out, data, len);
    ws_mask(payload, len, mask);
    return 0;
}

/* A control frame from the server: a Ping is answered, a Close ends the stream. */
static int control_event(const struct ws_event *ev, struct buf *reply, struct iot_error *err)
{
    switch (ev->type) {
    case WS_EV_PING:
        if (ws_client_frame(reply, WS_OP_PONG, ev->data, ev->len) != 0) {
            iot_error_set(err, "InternalError", "out of memory answering a WebSocket ping");
            return -1;
        }
        return 0;
    case WS_EV_PONG:
        return 0;
    case WS_EV_CLOSE:
        iot_error_set(err, "NetworkError", "connection closed by the server (WebSocket "
                      "close %u%s%.*s)", (unsigned)ev->code, ev->len ? ": " : "",
                      (int)(ev->len < 60 ? ev->len : 60), (const char *)ev->data);
        return -1;
    default:
        iot_error_set(err, "ProtocolError", "the server broke the WebSocket protocol: %s",
                      ev->why ? ev->why : "a bad frame");
        return -1;
    }
}

int ws_client_unframe(struct ws_client *ws, uint8_t *data, size_t len, struct buf *payload,
                      struct buf *reply, struct iot_error *err)
{
    size_t off = 0;
    while (off < len) {
        struct ws_event ev;
        off += ws_reader_next(&ws->reader, data + off, len - off, &ev);
        if (ev.type == WS_EV_NONE)
            continue;
        if (ev.type == WS_EV_DATA) {
            if (buf_append(payload, ev.data, ev.len) != 0) {
                iot_error_set(err, "InternalError", "out of memory reading from the server");
                return -1;
            }
            continue;
        }
        if (control_event(&ev, reply, err) != 0)
            return -1;
    }
    return 0;
}
