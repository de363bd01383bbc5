/*
 * fuzz_emulator_http_wire.c — libFuzzer target for the request parser of the emulator's
 * plain-HTTP server (emulator/http/http_wire.c): bytes from a client, parsed whole and
 * then as every prefix a connection could have buffered so far.
 *
 * Must hold: no sanitizer report; HW_MORE and HW_ERROR leave the buffer as it was (the
 * server parses the same bytes again when more arrive); an error names one of the
 * statuses the server answers; a done request lies inside the buffer (target, header
 * names at their recorded lengths and values terminated within it, body within it and
 * within HW_MAX_BODY); a prefix of a complete request is never an error, and a prefix
 * that holds the whole request parses to the same request length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_wire.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int inside(const char *p, const char *buf, size_t len)
{
    return p >= buf && p < buf + len;
}

static void check_done(const struct hw_request *r, const char *buf, size_t len)
{
    CHECK(r->consumed > 0 && r->consumed <= len);
    CHECK(r->head_len > 0 && r->head_len <= r->consumed);
    CHECK(inside(r->target, buf, r->head_len));
    CHECK(memchr(r->target, '\0', (size_t)(buf + r->head_len - r->target)) != NULL);
    CHECK(r->nheaders <= HW_MAX_HEADERS);
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *name = r->headers[i].name, *value = r->headers[i].value;
        CHECK(inside(name, buf, r->head_len) && inside(value, buf, r->head_len));
        CHECK(inside(name + r->name_len[i], buf, r->head_len) && name[r->name_len[i]] == '\0');
        CHECK(memchr(value, '\0', (size_t)(buf + r->head_len - value)) != NULL);
    }
    CHECK(r->body_len <= HW_MAX_BODY);
    if (r->body_len > 0)
        CHECK(inside(r->body, buf, len) && r->body + r->body_len <= buf + r->consumed);
    (void)hw_header(r, "content-length");
}

static int is_answered_status(int status)
{
    return status == 400 || status == 413 || status == 417 || status == 501;
}

/* Parses a copy of data[0..len) and checks what the result promises. */
static enum hw_result parse_checked(const uint8_t *data, size_t len, struct hw_request *r)
{
    char *buf = malloc(len ? len : 1);
    memcpy(buf, data, len);
    enum hw_result result = hw_parse(buf, len, r);
    if (result == HW_DONE)
        check_done(r, buf, len);
    else
        CHECK(memcmp(buf, data, len) == 0);
    if (result == HW_ERROR)
        CHECK(is_answered_status(r->error_status));
    free(buf);
    return result;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hw_request whole, part;
    if (parse_checked(data, size, &whole) != HW_DONE)
        return 0;
    size_t request_len = whole.consumed;
    size_t step = 1 + size / 16;
    for (size_t cut = 0; cut < size; cut += step) {
        enum hw_result result = parse_checked(data, cut, &part);
        CHECK(result != HW_ERROR);
        CHECK(result == HW_DONE ? cut >= request_len && part.consumed == request_len
                                : cut < request_len);
    }
    return 0;
}
