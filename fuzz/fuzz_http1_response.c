/*
 * fuzz_http1_response.c — libFuzzer target for the native transport's response parser
 * (runtime/http1_message.c): bytes from a server, fed whole and then again split in
 * pieces whose sizes come from the input, then the peer closing.
 *
 * Input: byte 0's low bit says the request was HEAD; bytes 1..2 seed the split sizes;
 * the rest is the server's reply. Must hold: no sanitizer report; feeding never uses
 * more bytes than given and stops using them once done or failed; the split feed ends in
 * the same state (and, once done, the same status, head and body) as the whole feed; a
 * failure has an error text; a done response's body is within the limit and its head
 * ends with an empty line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define MAX_BODY 4096

struct run {
    struct buf head, body;
    struct h1_response r;
    size_t used;
};

static void feed_split(struct run *run, const char *data, size_t len, unsigned seed)
{
    size_t off = 0;
    while (off < len && run->r.state != H1_DONE && run->r.state != H1_ERROR) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 64;
        if (piece > len - off)
            piece = len - off;
        size_t used = h1_response_feed(&run->r, data + off, piece);
        if (used > piece)
            abort();
        run->used += used;
        if (used < piece && run->r.state != H1_DONE && run->r.state != H1_ERROR)
            abort();    /* bytes left unused while still wanting more */
        off += piece;
    }
}

static void check_done(const struct run *run)
{
    if (run->r.state == H1_ERROR && !run->r.error)
        abort();
    if (run->r.state != H1_DONE)
        return;
    if (run->body.len > MAX_BODY || run->r.status < 100 || run->r.status > 999)
        abort();
    size_t n = run->head.len;
    if (n < 2 || run->head.data[n - 1] != '\n')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int no_body = data[0] & 1;
    unsigned seed = (unsigned)data[1] << 8 | data[2];
    const char *reply = (const char *)data + 3;
    size_t len = size - 3;

    struct run whole, split;
    memset(&whole, 0, sizeof whole);
    memset(&split, 0, sizeof split);
    h1_response_init(&whole.r, &whole.head, &whole.body, MAX_BODY, no_body);
    h1_response_init(&split.r, &split.head, &split.body, MAX_BODY, no_body);
    whole.used = h1_response_feed(&whole.r, reply, len);
    if (whole.used > len)
        abort();
    feed_split(&split, reply, len, seed);

    /* A limit may be hit at a different byte in pieces: only the outcome must agree
     * then; a finished response must agree in every byte. */
    if (whole.r.state != split.r.state || whole.r.too_large != split.r.too_large)
        abort();
    if (whole.r.state == H1_DONE &&
        (whole.used != split.used || whole.r.status != split.r.status ||
         whole.r.keep_alive != split.r.keep_alive || whole.head.len != split.head.len ||
         whole.body.len != split.body.len ||
         memcmp(whole.head.data, split.head.data, whole.head.len) != 0 ||
         (whole.body.len && memcmp(whole.body.data, split.body.data, whole.body.len) != 0)))
        abort();
    if (whole.r.state != H1_DONE && whole.r.state != H1_ERROR)
        h1_response_eof(&whole.r);
    check_done(&whole);
    buf_free(&whole.head);
    buf_free(&whole.body);
    buf_free(&split.head);
    buf_free(&split.body);
    return 0;
}
