/*
 * sigv4_presign.c — query-string signing (presigned URLs), as botocore's SigV4QueryAuth
 * and S3SigV4QueryAuth do it: the URL's own query, then X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders (host) and
 * X-Amz-Security-Token when there is a token, all signed; X-Amz-Signature appended last.
 * The payload is UNSIGNED-PAYLOAD for the S3 names, the empty body's hash otherwise.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "sigv4_internal.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Appends the X-Amz-* parameters to q (after the URL's own query, if any). */
static int put_auth_params(struct buf *q, const struct sigv4_credentials *c, const char *scope,
                           const char *amz_date, long expires)
{
    char n[24];
    snprintf(n, sizeof n, "%ld", expires);
    int rc = q->len ? buf_append_char(q, '&') : 0;
    rc |= buf_append_str(q, "X-Amz-Algorithm=" SIGV4_ALGORITHM "&X-Amz-Credential=");
    rc |= enc_uri_str(q, c->access_key_id, 0);
    rc |= buf_append_str(q, "%2F");
    rc |= enc_uri_str(q, scope, 0);
    rc |= buf_append_str(q, "&X-Amz-Date=");
    rc |= buf_append_str(q, amz_date);
    rc |= buf_append_str(q, "&X-Amz-Expires=");
    rc |= buf_append_str(q, n);
    rc |= buf_append_str(q, "&X-Amz-SignedHeaders=host");
    if (c->session_token && *c->session_token) {
        rc |= buf_append_str(q, "&X-Amz-Security-Token=");
        rc |= enc_uri_str(q, c->session_token, 0);
    }
    return rc ? -1 : 0;
}

/* The signature of the canonical request in creq for the scope's day, region, service. */
static int presign_signature(const struct buf *creq, const struct sigv4_params *p,
                             const char *amz_date, const char *scope,
                             char sig[SIGV4_HASH_HEX_LEN + 1])
{
    char date8[9];
    unsigned char key[32];
    struct buf sts = BUF_INIT;
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';
    int rc = sigv4_string_to_sign(&sts, amz_date, scope, buf_cstr(creq)) != 0 ||
             sigv4_signing_key(p->credentials.secret_access_key, date8, p->region, p->service,
                               key) != 0 ||
             sigv4_signature(key, buf_cstr(&sts), sig) != 0;
    OPENSSL_cleanse(key, sizeof key);
    buf_free(&sts);
    return rc ? -1 : 0;
}

static const char *presign_check(const char *method, const struct sigv4_params *p,
                                 long expires)
{
    if (!method || !*method)
        return "method is missing";
    if (expires < 1 || expires > 604800)
        return "expires must be 1..604800 seconds";
    if (!p->credentials.access_key_id || !*p->credentials.access_key_id)
        return "access key id is missing";
    if (!p->credentials.secret_access_key || !*p->credentials.secret_access_key)
        return "secret access key is missing";
    if (!p->region || !*p->region || strpbrk(p->region, " /\t\n"))
        return "region is missing or not a region name";
    if (!p->service || !*p->service || strpbrk(p->service, " /\t\n"))
        return "service is missing or not a signing name";
    return NULL;
}

int sigv4_presign_url(const char *method, const char *url, const struct sigv4_params *p,
                      long expires, struct buf *out, char *error, size_t error_len)
{
    struct sigv4_url u = {BUF_INIT, BUF_INIT, BUF_INIT, 0};
    struct buf scope = BUF_INIT, creq = BUF_INIT;
    char amz_date[SIGV4_AMZ_DATE_LEN + 1], sig[SIGV4_HASH_HEX_LEN + 1];
    int rc = -1;
    const char *why = presign_check(method, p, expires);
    if (!why)
        why = url ? sigv4_split_url(url, &u) : "url is missing";
    if (!why && sigv4_format_time(p->time, amz_date) != 0)
        why = "time out of range";
    if (why) {
        sigv4_set_error(error, error_len, "sigv4: %s", why);
        goto done;
    }
    struct sigv4_header host = {"Host", buf_cstr(&u.host)};
    int fail = buf_append(&scope, amz_date, 8) != 0 ||
               buf_printf(&scope, "/%s/%s/aws4_request", p->region, p->service) != 0 ||
               put_auth_params(&u.query, &p->credentials, buf_cstr(&scope), amz_date,
                               expires) != 0;
    const char *payload = (p->flags & SIGV4_NO_URI_ENCODE) ? "UNSIGNED-PAYLOAD" : EMPTY_SHA256;
    struct canon_input in = {method, u.path.len ? buf_cstr(&u.path) : "/", buf_cstr(&u.query),
                             &host, 1, NULL, payload, p->flags & ~SIGV4_ADD_CONTENT_SHA256};
    size_t signed_h[2];
    if (fail || sigv4_canonical_request(&in, &creq, signed_h, NULL) != 0 ||
        presign_signature(&creq, p, amz_date, buf_cstr(&scope), sig) != 0 ||
        buf_append(out, url, u.origin_len) != 0 ||
        buf_printf(out, "%s?%s&X-Amz-Signature=%s", u.path.len ? buf_cstr(&u.path) : "/",
                    buf_cstr(&u.query), sig) != 0) {
        sigv4_set_error(error, error_len, "sigv4: out of memory or OpenSSL failure");
        goto done;
    }
    rc = 0;
done:
    buf_free(&u.host);
    buf_free(&u.path);
    buf_free(&u.query);
    buf_free(&scope);
    buf_free(&creq);
    return rc;
}
