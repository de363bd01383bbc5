/*
 * http_sigv4.h — server-side SigV4 verification of data-plane requests.
 *
 * The request is given as received: method, raw path and raw query (still
 * percent-encoded, never normalised by us), headers in arrival order and the body; the
 * check is built from runtime/sigv4.h's steps (path encoded once more, the non-S3 rule;
 * signatures compared in constant time) with a cached signing key. Accepted: any region in the credential
 * scope, service "iotdata", X-Amz-Date within 5 minutes of the clock, the path signed
 * as sent or RFC 3986-normalised (as botocore signs it). x-amz-content-sha256, when
 * sent, must be the SHA-256 of the body received (or UNSIGNED-PAYLOAD). A session token
 * (X-Amz-Security-Token) is not checked: the emulator has no token service.
 */
#ifndef IOTLUA_EMULATOR_HTTP_SIGV4_H
#define IOTLUA_EMULATOR_HTTP_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "http_api.h"
#include "sigv4.h"


struct hv_request {
    const char *method;
    const char *path;           /* raw, as on the request line */
    size_t path_len;
    const char *query;          /* raw, without '?'; may be NULL */
    size_t query_len;
    const struct sigv4_header *headers;
    size_t header_count;
    const uint8_t *body;
    size_t body_len;
    time_t now;                 /* the clock, injectable for tests */
};

enum hv_result {
    HV_OK = 0,
    HV_MISSING,         /* no Authorization header */
    HV_MALFORMED,       /* unparsable Authorization, missing X-Amz-Date, bad scope */
    HV_UNKNOWN_KEY,     /* access key id not configured */
    HV_EXPIRED,         /* X-Amz-Date outside the 5-minute window */
    HV_MISMATCH,        /* signature or x-amz-content-sha256 does not match */
};

#define HV_SKEW_SECONDS 300

struct hv_verifier;

/* Copies the credentials. NULL when memory runs out. */
struct hv_verifier *hv_new(const struct emulator_credential *credentials, size_t count);
void hv_free(struct hv_verifier *v);

/* Verifies one request, with working memory kept in v between calls. On failure,
 * why_out (why_len bytes) gets a message for the error body; it never holds a secret. */
enum hv_result hv_verify(struct hv_verifier *v, const struct hv_request *req,
                         char *why_out, size_t why_len);

#endif
