/*
 * fuzz_error_input.h — the input layout of the error-body fuzz targets
 * (fuzz_service_error, fuzz_aws_error): byte 0 picks the status (400 + byte), then the
 * x-amzn-ErrorType header value up to the first '\n' (none when there is no '\n'), then
 * the body. Header and body are copied into allocations of exactly their length (the
 * header NUL-terminated), so ASan sees any overread.
 */
#ifndef IOTLUA_FUZZ_ERROR_INPUT_H
#define IOTLUA_FUZZ_ERROR_INPUT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_error_input {
    long status;
    char *header;       /* NULL: no header */
    char *body;
    size_t body_len;
};

/* 0 with *in filled (free with fuzz_error_input_free), -1 for an input too short or
 * out of memory. */
static inline int fuzz_error_input_split(const uint8_t *data, size_t size,
                                         struct fuzz_error_input *in)
{
    if (size < 1)
        return -1;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(rest, '\n', n);
    size_t hlen = nl ? (size_t)(nl - rest) : 0;
    in->status = 400 + data[0];
    in->body_len = nl ? n - hlen - 1 : n;
    in->header = malloc(hlen + 1);
    in->body = malloc(in->body_len ? in->body_len : 1);
    if (!in->header || !in->body) {
        free(in->header);
        free(in->body);
        return -1;
    }
    memcpy(in->header, rest, hlen);
    in->header[hlen] = '\0';
    memcpy(in->body, nl ? nl + 1 : rest, in->body_len);
    if (!nl) {
        free(in->header);
        in->header = NULL;
    }
    return 0;
}

static inline void fuzz_error_input_free(struct fuzz_error_input *in)
{
    free(in->header);
    free(in->body);
}

#endif
