/* http_sigv4.c — the emulator's SigV4 gate: an adapter from the received request to
 * runtime/sigv4.h's sigv4_verify (one SigV4 implementation for client and server), plus
 * the x-amz-content-sha256 check that the server side owes the body it received. */
#include "http_sigv4.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigv4.h"

struct hv_verifier {
    struct emulator_credential *creds;      /* owned copies */
    size_t count;
};

struct hv_verifier *hv_new(const struct emulator_credential *credentials, size_t count)
{
    struct hv_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->creds = calloc(count ? count : 1, sizeof *v->creds);
    if (!v->creds)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        v->creds[i].access_key_id = strdup(credentials[i].access_key_id);
        v->creds[i].secret_access_key = strdup(credentials[i].secret_access_key);
        v->count++;
        if (!v->creds[i].access_key_id || !v->creds[i].secret_access_key)
            goto fail;
    }
    return v;
fail:
    hv_free(v);
    return NULL;
}

void hv_free(struct hv_verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->count; i++) {
        char *secret = (char *)v->creds[i].secret_access_key;
        if (secret) {
            OPENSSL_cleanse(secret, strlen(secret));
            free(secret);
        }
        free((char *)v->creds[i].access_key_id);
    }
    free(v->creds);
    free(v);
}

/* sigv4_secret_lookup: the configured secret for a key id (no session tokens). */
static int lookup(void *ud, const char *akid, const char **secret_out, const char **token_out)
{
    struct hv_verifier *v = ud;
    for (size_t i = 0; i < v->count; i++) {
        if (strcmp(v->creds[i].access_key_id, akid) == 0) {
            *secret_out = v->creds[i].secret_access_key;
            *token_out = NULL;
            return 1;
        }
    }
    return 0;
}

static enum hv_result map_status(enum sigv4_verify_status s)
{
    switch (s) {
    case SIGV4_VERIFY_OK: return HV_OK;
    case SIGV4_VERIFY_MISSING: return HV_MISSING;
    case SIGV4_VERIFY_UNKNOWN_KEY:
    case SIGV4_VERIFY_BAD_TOKEN: return HV_UNKNOWN_KEY;
    case SIGV4_VERIFY_DATE_SKEW: return HV_EXPIRED;
    case SIGV4_VERIFY_MISMATCH:
    case SIGV4_VERIFY_NOMEM: return HV_MISMATCH;
    default: return HV_MALFORMED;
    }
}

static const char *find_header(const struct hv_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

enum hv_result hv_verify(struct hv_verifier *v, const struct hv_request *req, char *why,
                         size_t why_len)
{
    char hash[SIGV4_HASH_HEX_LEN + 1];
    if (sigv4_payload_hash(req->body, req->body_len, hash) != 0) {
        snprintf(why, why_len, "out of memory");
        return HV_MISMATCH;
    }
    const char *claimed = find_header(req, "x-amz-content-sha256");
    if (claimed && strcmp(claimed, "UNSIGNED-PAYLOAD") == 0) {
        snprintf(hash, sizeof hash, "%s", claimed);
    } else if (claimed && strcasecmp(claimed, hash) != 0) {
        snprintf(why, why_len, "The provided 'x-amz-content-sha256' header does not match "
                               "what was computed.");
        return HV_MISMATCH;
    }
    /* sigv4_request wants NUL-terminated path and query: copy the path (short). */
    char path[4096];
    char *query = NULL;
    if (req->path_len >= sizeof path) {
        snprintf(why, why_len, "the request path is too long to verify");
        return HV_MALFORMED;
    }
    memcpy(path, req->path, req->path_len);
    path[req->path_len] = '\0';
    if (req->query && !(query = strndup(req->query, req->query_len))) {
        snprintf(why, why_len, "out of memory");
        return HV_MISMATCH;
    }
    struct sigv4_request sr = {
        .method = req->method,
        .path = path,
        .query = query,
        .headers = req->headers,
        .nheaders = req->header_count,
        .body = req->body,
        .body_len = req->body_len,
        .payload_hash = hash,
    };
    struct sigv4_verify_params params = {
        .region = NULL,             /* any region: one emulator serves every region */
        .service = "iotdata",
        .now = req->now,
        .max_skew = HV_SKEW_SECONDS,
        .lookup = lookup,
        .lookup_ud = v,
        .flags = SIGV4_VERIFY_EITHER_PATH,
    };
    struct sigv4_verify_result result;
    enum sigv4_verify_status s = sigv4_verify(&sr, &params, &result);
    if (s != SIGV4_VERIFY_OK)
        snprintf(why, why_len, "%s", result.message);
    sigv4_verify_result_free(&result);
    free(query);
    return map_status(s);
}
