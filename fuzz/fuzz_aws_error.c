/*
 * fuzz_aws_error.c — libFuzzer target for aws_parse_error (runtime/aws_error.c): the
 * error body of any AWS protocol (JSON, or XML read by runtime/xml.c) and the
 * x-amzn-ErrorType header of a non-2xx answer → code, message, request id.
 *
 * Input as fuzz_service_error's: byte 0 picks the status (400 + byte), then the header
 * value up to the first '\n' (none when there is no '\n'), then the body, in an
 * allocation of exactly its length so ASan sees any overread. Must hold: no sanitizer
 * report; code, message and request_id NUL-terminated inside their arrays; a code
 * always set, with no '#' and no ':'; the status copied; a request id given kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_request.h"

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
    const char *body = nl ? nl + 1 : rest;
    size_t blen = nl ? n - hlen - 1 : n;
    char *b = malloc(blen ? blen : 1);
    if (!hdr || !b) {
        free(hdr);
        free(b);
        return 0;
    }
    memcpy(hdr, rest, hlen);
    hdr[hlen] = '\0';
    memcpy(b, body, blen);

    struct iot_error err;
    memset(&err, 0x5a, sizeof err);
    int keep = data[0] & 1;         /* half the runs with a request id known already */
    if (keep)
        strcpy(err.request_id, "keep");
    else
        err.request_id[0] = '\0';
    aws_parse_error(status, nl ? hdr : NULL, b, blen, &err);
    if (!memchr(err.code, '\0', sizeof err.code) ||
        !memchr(err.message, '\0', sizeof err.message) ||
        !memchr(err.request_id, '\0', sizeof err.request_id))
        abort();
    if (!err.code[0] || strchr(err.code, '#') || strchr(err.code, ':'))
        abort();
    if (err.status != status || (keep && strcmp(err.request_id, "keep") != 0))
        abort();
    free(hdr);
    free(b);
    return 0;
}
