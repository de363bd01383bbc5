/*
 * client_raw.h — calls that are not operations of the model: a request built elsewhere
 * (aws_request.c), run by the client's call machinery (client.c) exactly as an
 * operation's call is run: each attempt signed afresh with the client's credentials
 * (waiting for a refresh without blocking), retried by the client's policy and quota,
 * ended by the engine's deadline or the call's own timeout (iot_call_opts), completed
 * as an IOT_EV_CALL event whose result holds the status, headers and body.
 *
 * Only the runtime uses this; the bindings see aws_request.h.
 */
#ifndef IOTLUA_CLIENT_RAW_H
#define IOTLUA_CLIENT_RAW_H

#include "buf.h"
#include "client.h"
#include "marshal.h"

struct iot_raw_call {
    const struct iot_op *op;        /* names the result and its errors; no output members,
                                       so a 2xx answer is a success with its body as is */
    struct iot_request req;         /* taken over: target = the path and "?query" as sent
                                       (path_len), hdrs, has_body, payload_hash; method and
                                       body are copied, so they may point anywhere */
    const char *url;                /* the URL sent (copied) */
    const char *host;               /* the Host header signed (copied) */
    const char *service, *region;   /* the signing name and region (copied) */
    unsigned sign_flags;            /* enum sigv4_flags: the service's path rules */
    /* A non-2xx answer: sets r->error's code and message (r's headers and body are
     * there), and its request_id when the body names one. NULL: the JSON rules of
     * iot_parse_service_error, already applied. */
    void (*parse_error)(struct iot_result *r);
};

/* Starts raw as a call of client; takes raw->req over (also on failure). Returns 0 with
 * *id_out, or -1 with msg (out of memory, a negative timeout). */
int iot_call_start_raw(struct iot_client *client, struct iot_raw_call *raw,
                       const struct iot_call_opts *opts, void *user, uint64_t *id_out,
                       char *msg, size_t msglen);

/* The region the client signs its calls for. */
const char *iot_client_region(const struct iot_client *client);

#endif
