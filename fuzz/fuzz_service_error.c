/*
 * fuzz_service_error.c — libFuzzer target for iot_parse_service_error (runtime/response.c):
 * the error body and the x-amzn-ErrorType header of a non-2xx response → code, message.
 *
 * Input: fuzz_error_input.h (status 400..655: known and unknown texts; the header a C
 * string, so up to a NUL too). Must hold: no sanitizer report; code and message
 * NUL-terminated inside their arrays; a code always set, with no '#' (only the text
 * after the last '#' is kept) and no ':' (only the text before the first); status
 * copied; request_id untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_error_input.h"
#include "response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_error_input in;
    if (fuzz_error_input_split(data, size, &in) != 0)
        return 0;
    long status = in.status;
    struct iot_error err;
    memset(&err, 0x5a, sizeof err);
    strcpy(err.request_id, "keep");
    iot_parse_service_error(status, in.header, in.body, in.body_len, &err);
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
    fuzz_error_input_free(&in);
    return 0;
}
