/*
 * marshal.h — parameters of a call (validated against the operation description) and
 * the generic marshaller that turns them into an HTTP request, the rest-json way:
 * uri members into the path (percent-encoded, only A-Za-z0-9-._~ kept; "{x+}" labels
 * keep '/'), querystring members into the query in model order, header members into
 * headers (jsonvalue members as base64 of compact JSON), the payload member as the raw
 * body. The public half (iot_params_*) is declared in client.h.
 *
 * Used by client.c and the unit tests; the bindings need only client.h.
 */
#ifndef IOTLUA_MARSHAL_H
#define IOTLUA_MARSHAL_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "client.h"

/* A marshalled request, before signing. Owns target and hdrs; body points into the
 * params it was made from (which must outlive it). */
struct iot_request {
    const char *method;         /* static */
    struct buf target;          /* path, then "?query" when there is one */
    size_t path_len;            /* target.data[0..path_len) is the path */
    struct buf hdrs;            /* nhdrs pairs "name\0value\0", names as in the model */
    size_t nhdrs;
    const char *body;           /* in-memory body (NULL with body_len 0: no body) */
    size_t body_len;
    FILE *file;                 /* streamed body: file_len bytes from file_start */
    int64_t file_start;
    int64_t file_len;
    int has_body;               /* a payload member was given (send Content-Length) */
    char payload_hash[65];      /* hex SHA-256 of the body sent */
};

#define IOT_REQUEST_INIT {NULL, BUF_INIT, 0, BUF_INIT, 0, NULL, 0, NULL, 0, 0, 0, {0}}

/* Marshal validated params (iot_params_check passed) into *req_out. 0, or -1 with msg
 * (out of memory, or the payload file could not be read for hashing). req_out is always
 * left freeable. */
int iot_marshal(const struct iot_params *params, struct iot_request *req_out, char *msg,
                size_t msglen);
/* The same, hashing an in-memory body with `hasher` (encode.h; reused across calls,
 * so no OpenSSL context is made per call). hasher NULL: as iot_marshal. */
struct enc_hasher;
int iot_marshal_hashed(const struct iot_params *params, struct enc_hasher *hasher,
                       struct iot_request *req_out, char *msg, size_t msglen);
void iot_request_free(struct iot_request *req);

/* The query string part of the target (after '?'), "" when none. */
const char *iot_request_query(const struct iot_request *req);
/* Header i's name and value (i < nhdrs). */
void iot_request_header(const struct iot_request *req, size_t i, const char **name_out,
                        const char **value_out);

/* The operation the params belong to. */
const struct iot_op *iot_params_op(const struct iot_params *params);

#endif
