/* ws_proto.c — RFC 6455 frames and handshake values; see ws_proto.h. */
#include "ws_proto.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* ================================================================ reading the peer's frames */

static bool is_control(uint8_t opcode)
{
    return opcode & 0x8;
}

void ws_reader_init(struct ws_reader *r, bool from_client)
{
    memset(r, 0, sizeof *r);
    r->head_need = 2;
    r->from_client = from_client;
}

static size_t fail(struct ws_reader *r, struct ws_event *ev, uint16_t code, const char *why,
                   size_t consumed)
{
    r->finished = true;
    ev->type = WS_EV_ERROR;
    ev->code = code;
    ev->why = why;
    return consumed;
}

/* The first two header bytes: what the frame may be, and how long its header is. NULL
 * when fine (r->head_need set), else why not with *code the close code. */
static const char *check_start(struct ws_reader *r, uint16_t *code)
{
    uint8_t b0 = r->head[0], b1 = r->head[1], len7 = b1 & 0x7f;
    r->fin = b0 & 0x80;
    r->opcode = b0 & 0x0f;
    *code = WS_CLOSE_PROTOCOL_ERROR;
    if (b0 & 0x70)
        return "reserved bits set (no extension was negotiated)";
    if (r->from_client && !(b1 & 0x80))
        return "client frames must be masked";
    if (!r->from_client && (b1 & 0x80))
        return "server frames must not be masked";
    switch (r->opcode) {
    case WS_OP_CONTINUATION:
        if (!r->in_message)
            return "a continuation frame outside a fragmented message";
        break;
    case WS_OP_BINARY:
        if (r->in_message)
            return "a new message before the fragmented one ended";
        break;
    case WS_OP_TEXT:
        *code = WS_CLOSE_UNSUPPORTED_DATA;
        return "MQTT over WebSockets is carried in binary frames";
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!r->fin)
            return "a fragmented control frame";
        if (len7 > WS_CONTROL_MAX)
            return "a control frame longer than 125 bytes";
        break;
    default:
        return "an unknown opcode";
    }
    r->head_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (r->from_client ? 4 : 0);
    return NULL;
}

/* The whole header: length (in its shortest form, as RFC 6455 5.2 requires) and mask. */
static const char *finish_header(struct ws_reader *r, uint16_t *code)
{
    uint8_t len7 = r->head[1] & 0x7f;
    const uint8_t *p = r->head + 2;
    uint64_t len = len7;
    *code = WS_CLOSE_PROTOCOL_ERROR;
    if (len7 == 126) {
        len = (uint64_t)p[0] << 8 | p[1];
        if (len < 126)
            return "a frame length not in its shortest form";
        p += 2;
    } else if (len7 == 127) {
        len = 0;
        for (int k = 0; k < 8; k++)
            len = len << 8 | p[k];
        if (len >> 63)
            return "a frame length with its most significant bit set";
        if (len <= 0xffff)
            return "a frame length not in its shortest form";
        p += 8;
    }
    if (len > WS_MAX_FRAME) {
        *code = WS_CLOSE_TOO_BIG;
        return "a frame larger than 256 KiB";
    }
    if (r->from_client)
        memcpy(r->mask, p, 4);
    else
        memset(r->mask, 0, sizeof r->mask);
    r->payload_len = len;
    r->done = 0;
    r->in_payload = true;
    if (!is_control(r->opcode))
        r->in_message = !r->fin;        /* a final fragment (or a whole message) ends it */
    return NULL;
}

/* A frame's last payload byte is in: back to reading a header. For a control frame
 * *ev gets its event (true); a data frame has no event of its own (false). */
static bool complete_frame(struct ws_reader *r, struct ws_event *ev, size_t *consumed)
{
    r->head_len = 0;
    r->head_need = 2;
    r->in_payload = false;
    if (!is_control(r->opcode))
        return false;
    ev->data = r->control;
    ev->len = (size_t)r->payload_len;
    ev->type = r->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
    if (r->opcode != WS_OP_CLOSE)
        return true;
    ev->type = WS_EV_CLOSE;
    ev->code = WS_CLOSE_NO_STATUS;
    r->finished = true;
    if (ev->len == 0)
        return true;
    uint16_t code = (uint16_t)(r->control[0] << 8 | r->control[1]);
    bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                 (code >= 3000 && code <= 4999);
    if (ev->len == 1 || !valid) {
        *consumed = fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "a Close frame with an invalid code",
                         *consumed);
        return true;
    }
    ev->code = code;
    ev->data += 2;
    ev->len -= 2;
    return true;
}

/* Payload bytes at buf[0..n): unmasked; data goes out as an event, control payloads are
 * gathered. Returns the bytes taken. */
static size_t take_payload(struct ws_reader *r, uint8_t *buf, size_t n, struct ws_event *ev)
{
    uint64_t left = r->payload_len - r->done;
    size_t k = left < n ? (size_t)left : n;
    uint8_t *dst = is_control(r->opcode) ? r->control + r->done : buf;
    for (size_t j = 0; j < k; j++)
        dst[j] = buf[j] ^ r->mask[(r->done + j) & 3];
    if (!is_control(r->opcode) && k) {
        ev->type = WS_EV_DATA;
        ev->data = buf;
        ev->len = k;
    }
    r->done += k;
    return k;
}

size_t ws_reader_next(struct ws_reader *r, uint8_t *buf, size_t n, struct ws_event *ev)
{
    size_t i = 0;
    uint16_t code;
    const char *why;
    memset(ev, 0, sizeof *ev);
    if (r->finished)
        return n;
    while (i < n) {
        if (r->in_payload) {
            i += take_payload(r, buf + i, n - i, ev);
            bool ended = r->done == r->payload_len;
            if (ended && complete_frame(r, ev, &i))
                return i;
            if (ev->type == WS_EV_DATA)
                return i;
            continue;
        }
        r->head[r->head_len++] = buf[i++];
        if (r->head_len < r->head_need)
            continue;
        why = r->head_len == 2 ? check_start(r, &code) : NULL;
        if (!why && r->head_len == r->head_need)    /* an unmasked short frame: no more */
            why = finish_header(r, &code);
        if (why)
            return fail(r, ev, code, why, i);
        if (r->in_payload && r->payload_len == 0 && complete_frame(r, ev, &i))
            return i;
    }
    return n;
}

/* ================================================================ writing frames */

size_t ws_frame_header(uint8_t out[14], enum ws_opcode opcode, uint64_t len,
                       const uint8_t mask[4])
{
    size_t n;
    out[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[1] = (uint8_t)len;
        n = 2;
    } else if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (int k = 0; k < 8; k++)
            out[2 + k] = (uint8_t)(len >> (56 - 8 * k));
        n = 10;
    }
    if (!mask)
        return n;
    out[1] |= 0x80;
    memcpy(out + n, mask, 4);
    return n + 4;
}

void ws_mask(uint8_t *data, size_t n, const uint8_t mask[4])
{
    for (size_t j = 0; j < n; j++)
        data[j] ^= mask[j & 3];
}

/* ================================================================ the handshake */

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

int ws_accept_value(const char *key, size_t key_len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";   /* RFC 6455 1.3 */
    /* 16 bytes in base64: 22 characters and "==" */
    if (key_len != 24 || key[22] != '=' || key[23] != '=')
        return -1;
    for (size_t i = 0; i < 22; i++)
        if (!is_base64_char(key[i]))
            return -1;
    char joined[24 + sizeof guid];
    memcpy(joined, key, 24);
    memcpy(joined + 24, guid, sizeof guid);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)joined, 24 + sizeof guid - 1, digest);
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);   /* 28 + NUL */
    return 0;
}

bool ws_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    for (const char *p = value ? value : ""; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p += len;
    }
    return false;
}
