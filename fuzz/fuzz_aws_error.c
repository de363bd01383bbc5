/*
 * fuzz_aws_error.c — libFuzzer target for aws_parse_error (runtime/aws_error.c): the
 * error body of any AWS protocol (JSON, or XML read by runtime/xml.c) and the
 * x-amzn-ErrorType header of a non-2xx answer → code, message, request id.
 *
 * Input: fuzz_error_input.h, as fuzz_service_error's. Must hold: no sanitizer
 * report; code, message and request_id NUL-terminated inside their arrays; a code
 * always set, with no '#' and no ':'; the status copied; a request id given kept.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_request.h"
#include "fuzz_error_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_error_input in;
    if (fuzz_error_input_split(data, size, &in) != 0)
        return 0;
    struct iot_error err;
    memset(&err, 0x5a, sizeof err);
    int keep = data[0] & 1;         /* half the runs with a request id known already */
    if (keep)
        strcpy(err.request_id, "keep");
    else
        err.request_id[0] = '\0';
    aws_parse_error(in.status, in.header, in.body, in.body_len, &err);
    if (!memchr(err.code, '\0', sizeof err.code) ||
        !memchr(err.message, '\0', sizeof err.message) ||
        !memchr(err.request_id, '\0', sizeof err.request_id))
        abort();
    if (!err.code[0] || strchr(err.code, '#') || strchr(err.code, ':'))
        abort();
    if (err.status != in.status || (keep && strcmp(err.request_id, "keep") != 0))
        abort();
    fuzz_error_input_free(&in);
    return 0;
}
