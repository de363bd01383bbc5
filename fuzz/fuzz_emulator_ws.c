/*
 * fuzz_emulator_ws.c — libFuzzer target for the WebSocket frame reader of MQTT over
 * WebSockets (runtime/ws_proto.c: the emulator's server reads with it, and so does the
 * client of iotlua.mqtt), with the handshake's helpers.
 *
 * The input is what the peer sends after the upgrade, read in both roles (as a server
 * reads a client's frames, as a client reads a server's). Each role reads it twice: in
 * one piece, and cut into pieces whose sizes the input's own bytes choose.
 * Must hold: no sanitizer report; every call consumes something or reports an event;
 * data events point inside the piece given and are never empty; control payloads fit
 * in 125 bytes; after a Close or an error nothing else is reported; and both readings
 * give the same data bytes and the same control events, wherever the cuts fall.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_proto.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* What one reading produced: the data bytes in order, and the control events encoded
 * one after another (type, code, length, payload). */
struct trace {
    uint8_t *data, *control;
    size_t data_len, control_len;
    int ended;
};

static void record(struct trace *t, const struct ws_event *ev, const uint8_t *piece,
                   size_t piece_len)
{
    if (ev->type == WS_EV_NONE)
        return;
    CHECK(!t->ended);
    if (ev->type == WS_EV_DATA) {
        CHECK(ev->len > 0 && ev->data >= piece && ev->data + ev->len <= piece + piece_len);
        memcpy(t->data + t->data_len, ev->data, ev->len);
        t->data_len += ev->len;
        return;
    }
    CHECK(ev->len <= WS_CONTROL_MAX);
    uint8_t *c = t->control + t->control_len;
    c[0] = (uint8_t)ev->type;
    c[1] = (uint8_t)(ev->code >> 8);
    c[2] = (uint8_t)ev->code;
    c[3] = (uint8_t)ev->len;
    if (ev->len)
        memcpy(c + 4, ev->data, ev->len);
    t->control_len += 4 + ev->len;
    t->ended = ev->type == WS_EV_CLOSE || ev->type == WS_EV_ERROR;
}

/* Reads buf in pieces of the sizes given by cuts (0: in one piece). */
static void read_all(uint8_t *buf, size_t n, const uint8_t *cuts, size_t ncuts,
                     bool from_client, struct trace *t)
{
    struct ws_reader r;
    ws_reader_init(&r, from_client);
    size_t pos = 0, k = 0;
    while (pos < n) {
        size_t piece = ncuts ? (size_t)cuts[k++ % ncuts] % 17 + 1 : n - pos;
        if (piece > n - pos)
            piece = n - pos;
        uint8_t *p = buf + pos;
        size_t off = 0;
        while (off < piece) {
            struct ws_event ev;
            size_t used = ws_reader_next(&r, p + off, piece - off, &ev);
            CHECK(used <= piece - off);
            CHECK(used > 0 || ev.type != WS_EV_NONE);
            record(t, &ev, p + off, piece - off);
            off += used;
        }
        pos += piece;
    }
}

static void trace_init(struct trace *t, size_t n)
{
    memset(t, 0, sizeof *t);
    /* control events: at most one per 2 input bytes, each at most 4 + 125 bytes */
    t->data = malloc(n + 1);
    t->control = malloc((n / 2 + 1) * (4 + WS_CONTROL_MAX));
    CHECK(t->data && t->control);
}

static void trace_free(struct trace *t)
{
    free(t->data);
    free(t->control);
}

static void fuzz_helpers(const uint8_t *data, size_t size)
{
    char accept[29];
    if (ws_accept_value((const char *)data, size, accept) == 0)
        CHECK(strlen(accept) == 28);
    char *text = malloc(size + 1);
    CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0';
    (void)ws_has_token(text, "mqtt");
    (void)ws_has_token(text, "upgrade");
    free(text);
}

/* Both readings in one role must agree. */
static void read_in_role(const uint8_t *data, size_t size, bool from_client)
{
    uint8_t *whole = malloc(size + 1), *split = malloc(size + 1);
    CHECK(whole && split);
    memcpy(whole, data, size);
    memcpy(split, data, size);
    struct trace a, b;
    trace_init(&a, size);
    trace_init(&b, size);
    read_all(whole, size, NULL, 0, from_client, &a);
    read_all(split, size, data, size < 8 ? size : 8, from_client, &b);
    CHECK(a.data_len == b.data_len && memcmp(a.data, b.data, a.data_len) == 0);
    CHECK(a.control_len == b.control_len && memcmp(a.control, b.control, a.control_len) == 0);
    trace_free(&a);
    trace_free(&b);
    free(whole);
    free(split);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_helpers(data, size);
    read_in_role(data, size, true);
    read_in_role(data, size, false);
    return 0;
}
