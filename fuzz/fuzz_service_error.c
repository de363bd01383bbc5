/*
 * fuzz_service_error.c — libFuzzer target for iot_parse_service_error (runtime/response.c):
 * the error body and the x-amzn-ErrorType header of a non-2xx response → code, message.
 *
 * Input: byte 0 picks the status (400 + byte, so 400..655: known and unknown texts),
 * then the header value up to the first '\n' (a C string, so up to a NUL too), then the
 * body. Must hold: no sanitizer report; code and message NUL-terminated inside their
 * arrays; a code always set, with no '#' (only the text after the last '#' is kept) and
 * no ':' (only the text before the first); status copied; request_id untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    long status = 400 + data[0];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(rest, '\n', n);
    size_t hlen = nl ? (size_t)(nl - rest) : 0;
    char *hdr = malloc(hlen + 1);
    if (!hdr)
        return 0;
    memcpy(hdr, rest, hlen);
    hdr[hlen] = '\0';
    const char *body = nl ? nl + 1 : rest;
    size_t blen = nl ? n - hlen - 1 : n;
    /* The body as its own allocation, exactly blen bytes, so ASan sees any overread. */
    char *b = malloc(blen ? blen : 1);
    if (!b) {
        free(hdr);
        return 0;
    }
    memcpy(b, body, blen);

    struct iot_error err;
    memset(&err, 0x5a, sizeof err);
    strcpy(err.request_id, "keep");
    iot_parse_service_error(status, nl ? hdr : NULL, b, blen, &err);
    if (!memchr(err.code, '\0', sizeof err.code) ||
        !memchr(err.message, '\0', sizeof err.message))
        abort();
    if (!err.code[0] || strchr(err.code, '#') || strchr(err.code, ':'))
        abort();
    if (err.status != status || strcmp(err.request_id, "keep") != 0)
        abort();
    char line[1024];
    err.operation = "Publish";
    err.attempts = 1;
    if (iot_error_format(&err, line, sizeof line) == 0)
        abort();
    free(hdr);
    free(b);
    return 0;
}
