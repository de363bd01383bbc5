/*
 * sigv4_verify.c — SigV4 verification, the server's side (the emulator): parsing the
 * Authorization header, then the checks in order (time and scope, the access key, the
 * payload hash, the signature over the request as received), with the signing keys from
 * sigv4_keys.c's cache. See sigv4.h for the contract.
 */
#include "sigv4.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "encode.h"
#include "sigv4_internal.h"
#include "sigv4_keys.h"

/* ================================================================ Authorization parsing */

/* Copies s[0..n) into dst (size cap) when it fits; -1 otherwise. */
static int copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int parse_credential(const char *v, size_t n, struct sigv4_authz *a)
{
    char *dst[5] = {a->access_key_id, a->date, a->region, a->service, a->terminator};
    size_t cap[5] = {sizeof a->access_key_id, sizeof a->date, sizeof a->region,
                     sizeof a->service, sizeof a->terminator};
    const char *p = v, *end = v + n;
    for (int k = 0; k < 5; k++) {
        const char *slash = k < 4 ? memchr(p, '/', (size_t)(end - p)) : NULL;
        if (k < 4 && !slash)
            return -1;
        const char *e = slash ? slash : end;
        if (e == p || copy_field(dst[k], cap[k], p, (size_t)(e - p)) != 0)
            return -1;
        p = e + (slash ? 1 : 0);
    }
    return 0;
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Handles one "Key=Value" component; *seen gets bit 1/2/4 for the three keys. */
static const char *parse_component(const char *s, size_t n, struct sigv4_authz *a,
                                   unsigned *seen)
{
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return "Authorization header component is not Key=Value";
    size_t kn = (size_t)(eq - s), vn = n - kn - 1;
    const char *v = eq + 1;
    if (kn == 10 && memcmp(s, "Credential", 10) == 0) {
        if (*seen & 1)
            return "Authorization header has 'Credential' twice";
        *seen |= 1;
        return parse_credential(v, vn, a) == 0
                   ? NULL
                   : "Credential must be AccessKeyId/YYYYMMDD/region/service/aws4_request";
    }
    if (kn == 13 && memcmp(s, "SignedHeaders", 13) == 0) {
        if (*seen & 2)
            return "Authorization header has 'SignedHeaders' twice";
        *seen |= 2;
        if (vn == 0 || copy_field(a->signed_headers, sizeof a->signed_headers, v, vn) != 0)
            return "SignedHeaders is empty or too long";
        return NULL;
    }
    if (kn == 9 && memcmp(s, "Signature", 9) == 0) {
        if (*seen & 4)
            return "Authorization header has 'Signature' twice";
        *seen |= 4;
        if (vn != SIGV4_HASH_HEX_LEN || !is_lower_hex(v, vn))
            return "Signature must be 64 lowercase hexadecimal digits";
        copy_field(a->signature, sizeof a->signature, v, vn);
        return NULL;
    }
    return "Authorization header has an unknown component";
}

static const char *missing_component(unsigned seen)
{
    if (!(seen & 1))
        return "Authorization header requires 'Credential' parameter";
    if (!(seen & 2))
        return "Authorization header requires 'SignedHeaders' parameter";
    if (!(seen & 4))
        return "Authorization header requires 'Signature' parameter";
    return NULL;
}

enum sigv4_verify_status sigv4_parse_authorization(const char *value, size_t len,
                                                   struct sigv4_authz *out, char *why_out,
                                                   size_t why_len)
{
    const char *p = value, *end = value + len, *why = NULL;
    unsigned seen = 0;
    /* every field empty (the first byte is enough: they are read as strings) */
    out->algorithm[0] = out->access_key_id[0] = out->date[0] = out->region[0] = '\0';
    out->service[0] = out->terminator[0] = out->signed_headers[0] = out->signature[0] = '\0';
    while (p < end && is_space(*p))
        p++;
    const char *alg = p;
    while (p < end && !is_space(*p))
        p++;
    if (p == alg || copy_field(out->algorithm, sizeof out->algorithm, alg,
                               (size_t)(p - alg)) != 0) {
        sigv4_set_error(why_out, why_len, "Authorization header has no algorithm");
        return SIGV4_VERIFY_MALFORMED;
    }
    if (strcmp(out->algorithm, SIGV4_ALGORITHM) != 0) {
        sigv4_set_error(why_out, why_len, "Unsupported AWS 'algorithm': only %s is accepted",
                  SIGV4_ALGORITHM);
        return SIGV4_VERIFY_BAD_ALGORITHM;
    }
    while (!why && p < end) {
        while (p < end && (is_space(*p) || *p == ','))
            p++;
        if (p == end)
            break;
        const char *c = p, *comma = memchr(p, ',', (size_t)(end - p));
        p = comma ? comma : end;
        const char *ce = p;
        while (ce > c && is_space(ce[-1]))
            ce--;
        why = parse_component(c, (size_t)(ce - c), out, &seen);
    }
    if (!why)
        why = missing_component(seen);
    if (why) {
        sigv4_set_error(why_out, why_len, "%s", why);
        return SIGV4_VERIFY_MALFORMED;
    }
    return SIGV4_VERIFY_OK;
}

/* ================================================================ verification */

const char *sigv4_verify_code(enum sigv4_verify_status s)
{
    switch (s) {
    case SIGV4_VERIFY_OK:
        return NULL;
    case SIGV4_VERIFY_MISSING:
        return "MissingAuthenticationTokenException";
    case SIGV4_VERIFY_MALFORMED:
    case SIGV4_VERIFY_BAD_ALGORITHM:
    case SIGV4_VERIFY_MISSING_DATE:
    case SIGV4_VERIFY_BAD_DATE:
    case SIGV4_VERIFY_BAD_SIGNED_HEADERS:
        return "IncompleteSignatureException";
    case SIGV4_VERIFY_UNKNOWN_KEY:
    case SIGV4_VERIFY_BAD_TOKEN:
        return "UnrecognizedClientException";
    case SIGV4_VERIFY_BAD_SCOPE:
    case SIGV4_VERIFY_DATE_SKEW:
    case SIGV4_VERIFY_MISMATCH:
        return "InvalidSignatureException";
    case SIGV4_VERIFY_NOMEM:
        return "InternalFailure";
    }
    return "InvalidSignatureException";
}

void sigv4_verify_result_free(struct sigv4_verify_result *r)
{
    free(r->canonical_request);     /* string_to_sign shares its allocation */
    r->canonical_request = r->string_to_sign = NULL;
}

/* ---------------------------------------------------------------- the verifier's state */

struct sigv4_verifier {
    struct enc_hasher *h;           /* SHA-256 on one reused context */
    struct buf creq, sts;           /* reused by every request */
    struct sigv4_keys *keys;        /* derived signing keys, and the last time formatted */
};

struct sigv4_verifier *sigv4_verifier_new(void)
{
    struct sigv4_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->h = enc_hasher_new();
    v->keys = sigv4_keys_new();
    if (!v->h || !v->keys || buf_reserve(&v->creq, 1023) != 0 || buf_reserve(&v->sts, 255) != 0) {
        sigv4_verifier_free(v);
        return NULL;
    }
    return v;
}

void sigv4_verifier_free(struct sigv4_verifier *v)
{
    if (!v)
        return;
    sigv4_keys_free(v->keys);
    enc_hasher_free(v->h);
    buf_free(&v->creq);
    buf_free(&v->sts);
    free(v);
}

/* ---------------------------------------------------------------- the checks, in order */

__attribute__((format(printf, 3, 4)))
static enum sigv4_verify_status vfail(struct sigv4_verify_result *r,
                                      enum sigv4_verify_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->status = s;
    r->code = sigv4_verify_code(s);
    return s;
}

/* The headers verification reads: the first of each name, NULL when absent, "" for a
 * NULL value. Found in one pass (most names are ruled out by their first byte). */
struct seen_headers {
    const char *authz, *date, *token, *content_sha256;
};

static void seen_headers_of(const struct sigv4_request *req, struct seen_headers *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct sigv4_header *h = &req->headers[i];
        const char **slot = NULL;
        char c = h->name ? ascii_lower(h->name[0]) : '\0';
        if (c == 'a' && header_is(h, "authorization"))
            slot = &s->authz;
        else if (c == 'x' && header_is(h, "x-amz-date"))
            slot = &s->date;
        else if (c == 'x' && header_is(h, "x-amz-security-token"))
            slot = &s->token;
        else if (c == 'x' && header_is(h, "x-amz-content-sha256"))
            slot = &s->content_sha256;
        if (slot && !*slot)
            *slot = h->value ? h->value : "";
    }
}

/* True when the ';'-list contains name exactly (names are compared lowercased). */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ";");
        if (len == n && strncasecmp(p, name, n) == 0)
            return 1;
        p += len + (p[len] == ';');
    }
    return 0;
}

/* A skew failure: "expired" (too old) or "not yet current" (too new). */
static enum sigv4_verify_status skew_fail(const char *amz_date, time_t now, int skew,
                                          struct sigv4_verify_result *r)
{
    char now_s[SIGV4_AMZ_DATE_LEN + 1] = "", lim[SIGV4_AMZ_DATE_LEN + 1] = "";
    time_t t = 0;
    sigv4_parse_time(amz_date, &t);
    sigv4_format_time(now, now_s);
    if (t < now - skew) {
        sigv4_format_time(now - skew, lim);
        return vfail(r, SIGV4_VERIFY_DATE_SKEW,
                     "Signature expired: %s is now earlier than %s (%s - %d min.)", amz_date,
                     lim, now_s, skew / 60);
    }
    sigv4_format_time(now + skew, lim);
    return vfail(r, SIGV4_VERIFY_DATE_SKEW,
                 "Signature not yet current: %s is still later than %s (%s + %d min.)",
                 amz_date, lim, now_s, skew / 60);
}

/* Checks the request time against now and the credential scope. */
static enum sigv4_verify_status check_time_scope(const struct sigv4_authz *a,
                                                 const char *amz_date,
                                                 const struct sigv4_verify_params *p,
                                                 struct sigv4_verify_result *r)
{
    time_t t;
    int skew = p->max_skew > 0 ? p->max_skew : 300;
    if (sigv4_parse_time(amz_date, &t) != 0)
        return vfail(r, SIGV4_VERIFY_BAD_DATE, "X-Amz-Date must be in the ISO-8601 basic "
                                               "format YYYYMMDDTHHMMSSZ");
    if (t < p->now - skew || t > p->now + skew)
        return skew_fail(amz_date, p->now, skew, r);
    if (strncmp(a->date, amz_date, 8) != 0)
        return vfail(r, SIGV4_VERIFY_BAD_SCOPE, "Date in Credential scope does not match "
                                                "YYYYMMDD from ISO-8601 version of date from "
                                                "HTTP: '%s' != '%.8s'", a->date, amz_date);
    if (p->region && strcmp(a->region, p->region) != 0)
        return vfail(r, SIGV4_VERIFY_BAD_SCOPE,
                     "Credential should be scoped to a valid region, not '%s'. Expected '%s'",
                     a->region, p->region);
    if (p->service && strcmp(a->service, p->service) != 0)
        return vfail(r, SIGV4_VERIFY_BAD_SCOPE,
                     "Credential should be scoped to correct service: '%s'", p->service);
    if (strcmp(a->terminator, "aws4_request") != 0)
        return vfail(r, SIGV4_VERIFY_BAD_SCOPE,
                     "Credential should be scoped with a valid terminator: 'aws4_request', "
                     "not '%s'", a->terminator);
    return SIGV4_VERIFY_OK;
}

/* Checks the key id and the session token that must go with it. */
static enum sigv4_verify_status check_key(const struct sigv4_authz *a,
                                          const struct seen_headers *seen,
                                          const struct sigv4_verify_params *p,
                                          struct sigv4_verify_result *r,
                                          const char **secret_out)
{
    const char *secret = NULL, *token = NULL, *sent = seen->token;
    if (!p->lookup || !p->lookup(p->lookup_ud, a->access_key_id, &secret, &token) || !secret)
        return vfail(r, SIGV4_VERIFY_UNKNOWN_KEY,
                     "The security token included in the request is invalid "
                     "(unknown access key id '%s')", a->access_key_id);
    if (!(p->flags & SIGV4_VERIFY_ANY_TOKEN) &&
        ((token && *token) ? !enc_ct_streq(sent, token) : (sent && *sent)))
        return vfail(r, SIGV4_VERIFY_BAD_TOKEN,
                     "The security token included in the request is invalid");
    *secret_out = secret;
    return SIGV4_VERIFY_OK;
}

/* The payload hash to sign: the caller's, or the body's SHA-256; with
 * SIGV4_VERIFY_CONTENT_SHA256 an X-Amz-Content-Sha256 header must agree with it. */
static enum sigv4_verify_status payload_hash(struct sigv4_verifier *v,
                                             const struct sigv4_request *req,
                                             const struct seen_headers *seen,
                                             const struct sigv4_verify_params *p,
                                             struct sigv4_verify_result *r,
                                             char out[SIGV4_HASH_HEX_LEN + 1])
{
    if (req->payload_hash)
        snprintf(out, SIGV4_HASH_HEX_LEN + 1, "%s", req->payload_hash);
    else if (enc_hasher_sha256_hex(v->h, req->body, req->body_len, out) != 0)
        return vfail(r, SIGV4_VERIFY_NOMEM, "out of memory while hashing the payload");
    const char *claimed = (p->flags & SIGV4_VERIFY_CONTENT_SHA256) ? seen->content_sha256
                                                                    : NULL;
    if (claimed && strcmp(claimed, "UNSIGNED-PAYLOAD") == 0)
        snprintf(out, SIGV4_HASH_HEX_LEN + 1, "%s", claimed);
    else if (claimed && strcasecmp(claimed, out) != 0)
        return vfail(r, SIGV4_VERIFY_MISMATCH,
                     "The provided 'x-amz-content-sha256' header does not match what was "
                     "computed.");
    return SIGV4_VERIFY_OK;
}

/* Writes the string to sign for a received request into v->sts. */
static int received_sts(struct sigv4_verifier *v, const struct sigv4_authz *a,
                        const char *amz_date, const char *creq_hash)
{
    size_t dl = strlen(a->date), rl = strlen(a->region), sl = strlen(a->service),
           tl = strlen(a->terminator);
    char *d;
    buf_reset(&v->sts);
    if (grow(&v->sts, sigv4_sts_len(dl + rl + sl + tl + 3), &d) != 0)
        return -1;
    d = PUT_LIT(d, SIGV4_ALGORITHM "\n");
    d = put(d, amz_date, SIGV4_AMZ_DATE_LEN);    /* checked: exactly that long */
    *d++ = '\n';
    d = put(d, a->date, dl);
    *d++ = '/';
    d = put(d, a->region, rl);
    *d++ = '/';
    d = put(d, a->service, sl);
    *d++ = '/';
    d = put(d, a->terminator, tl);
    *d++ = '\n';
    grown(&v->sts, put(d, creq_hash, SIGV4_HASH_HEX_LEN));
    return 0;
}

/* Keeps copies of what the server computed in r (one allocation for both). */
static void keep_computed(const struct sigv4_verifier *v, struct sigv4_verify_result *r)
{
    sigv4_verify_result_free(r);
    r->canonical_request = malloc(v->creq.len + v->sts.len + 2);
    if (!r->canonical_request)
        return;
    memcpy(r->canonical_request, v->creq.data, v->creq.len + 1);
    r->string_to_sign = r->canonical_request + v->creq.len + 1;
    memcpy(r->string_to_sign, v->sts.data, v->sts.len + 1);
}

/* Recomputes the signature over the received request; 1 when it matches, 0 when not,
 * -1 out of memory, -2 a signed header is missing (*missing_out). */
static int recompute(struct sigv4_verifier *v, const struct sigv4_request *req,
                     const struct sigv4_authz *a, const char *amz_date, const char *secret,
                     const char *hash, unsigned flags, struct sigv4_verify_result *r,
                     const char **missing_out)
{
    char creq_hash[SIGV4_HASH_HEX_LEN + 1], sig[SIGV4_HASH_HEX_LEN + 1];
    struct canon_input in = {req->method, req->path, req->query, req->headers,
                             req->nheaders, a->signed_headers, hash, flags};
    struct sigv4_scope s = {a->access_key_id, a->date, a->region, a->service};
    size_t signed_h[2];
    buf_reset(&v->creq);
    int crc = sigv4_canonical_request(&in, &v->creq, signed_h, missing_out);
    if (crc != 0)
        return crc == -2 ? -2 : -1;
    if (enc_hasher_sha256_hex(v->h, v->creq.data, v->creq.len, creq_hash) != 0 ||
        received_sts(v, a, amz_date, creq_hash) != 0 ||
        sigv4_keys_signature(v->keys, v->h, secret, &s, v->sts.data, v->sts.len, sig) != 0)
        return -1;
    keep_computed(v, r);
    return enc_ct_equal(sig, a->signature, SIGV4_HASH_HEX_LEN);
}

static enum sigv4_verify_status check_signature(struct sigv4_verifier *v,
                                                const struct sigv4_request *req,
                                                const struct sigv4_authz *a,
                                                const char *amz_date, const char *secret,
                                                const char *hash,
                                                const struct sigv4_verify_params *p,
                                                struct sigv4_verify_result *r)
{
    const char *missing = NULL;
    unsigned flags = p->flags & ~(unsigned)SIGV4_VERIFY_EITHER_PATH;
    int ok = recompute(v, req, a, amz_date, secret, hash, flags, r, &missing);
    if (ok == 0 && (p->flags & SIGV4_VERIFY_EITHER_PATH))
        ok = recompute(v, req, a, amz_date, secret, hash, flags ^ SIGV4_NORMALIZE_PATH, r,
                       &missing);
    if (ok == -2)
        return vfail(r, SIGV4_VERIFY_BAD_SIGNED_HEADERS,
                     "Signed header '%.*s' is not present in the request",
                     (int)strcspn(missing, ";"), missing);
    if (ok < 0)
        return vfail(r, SIGV4_VERIFY_NOMEM, "out of memory while verifying the signature");
    if (ok == 0)
        return vfail(r, SIGV4_VERIFY_MISMATCH,
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method. Consult "
                     "the service documentation for details.");
    return SIGV4_VERIFY_OK;
}

enum sigv4_verify_status sigv4_verifier_verify(struct sigv4_verifier *v,
                                               const struct sigv4_request *req,
                                               const struct sigv4_verify_params *p,
                                               struct sigv4_verify_result *r)
{
    struct sigv4_authz a;
    struct seen_headers seen;
    const char *secret = NULL;
    char hash[SIGV4_HASH_HEX_LEN + 1];
    enum sigv4_verify_status s;
    memset(r, 0, sizeof *r);
    seen_headers_of(req, &seen);
    const char *authz = seen.authz, *amz_date = seen.date;
    if (!authz)
        return vfail(r, SIGV4_VERIFY_MISSING, "Missing Authentication Token");
    char why[SIGV4_ERROR_LEN];
    s = sigv4_parse_authorization(authz, strlen(authz), &a, why, sizeof why);
    if (s != SIGV4_VERIFY_OK)
        return vfail(r, s, "%s", why);
    strcpy(r->access_key_id, a.access_key_id);      /* the same size */
    if (!amz_date)
        return vfail(r, SIGV4_VERIFY_MISSING_DATE,
                     "Authorization header requires existence of a 'X-Amz-Date' header");
    if (!list_has(a.signed_headers, "host") || !list_has(a.signed_headers, "x-amz-date"))
        return vfail(r, SIGV4_VERIFY_BAD_SIGNED_HEADERS,
                     "'Host' and 'X-Amz-Date' must be SignedHeaders in the AWS Authorization");
    if ((s = check_time_scope(&a, amz_date, p, r)) != SIGV4_VERIFY_OK ||
        (s = check_key(&a, &seen, p, r, &secret)) != SIGV4_VERIFY_OK ||
        (s = payload_hash(v, req, &seen, p, r, hash)) != SIGV4_VERIFY_OK)
        return s;
    return check_signature(v, req, &a, amz_date, secret, hash, p, r);
}

enum sigv4_verify_status sigv4_verify(const struct sigv4_request *req,
                                      const struct sigv4_verify_params *p,
                                      struct sigv4_verify_result *r)
{
    struct sigv4_verifier *v = sigv4_verifier_new();
    if (!v) {
        memset(r, 0, sizeof *r);
        return vfail(r, SIGV4_VERIFY_NOMEM, "out of memory");
    }
    enum sigv4_verify_status s = sigv4_verifier_verify(v, req, p, r);
    sigv4_verifier_free(v);
    return s;
}


/* ================================================================ presigned (query) requests */

/* The X-Amz-* parameters of a presigned query, percent-decoded; NULL when absent. Each
 * points into `storage` (the decoded values, NUL-separated). */
struct query_auth {
    const char *algorithm, *credential, *date, *expires, *signed_headers, *signature, *token;
    char storage[4096];
    size_t used;
};

/* The slot a query key fills, NULL for a key that is not one of ours. */
static const char **query_slot(struct query_auth *q, const char *k, size_t n)
{
    static const char *const names[] = {"X-Amz-Algorithm", "X-Amz-Credential",
                                        "X-Amz-Date", "X-Amz-Expires",
                                        "X-Amz-SignedHeaders", "X-Amz-Signature",
                                        "X-Amz-Security-Token"};
    const char **slots[] = {&q->algorithm, &q->credential, &q->date, &q->expires,
                            &q->signed_headers, &q->signature, &q->token};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return slots[i];
    return NULL;
}

/* Reads the parameters; the raw query without X-Amz-Signature goes to `with_token` and
 * without the token too to `without_token`. 0, -1 out of memory, -2 malformed. */
static int query_auth_parse(const char *query, struct query_auth *q, struct buf *with_token,
                            struct buf *without_token)
{
    for (const char *p = query ? query : ""; *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        const char **slot = query_slot(q, p, klen);
        if (slot) {
            const char *v = eq ? eq + 1 : p + len;
            size_t vlen = (size_t)(p + len - v), out_len;
            if (*slot || vlen + 1 > sizeof q->storage - q->used)
                return -2;      /* repeated, or too long to be ours */
            char *dst = q->storage + q->used;
            if (enc_uri_decode_to(dst, v, vlen, ENC_DECODE_STRICT, &out_len) != 0 ||
                strlen(dst) != out_len)
                return -2;
            *slot = dst;
            q->used += out_len + 1;
        }
        bool is_sig = slot == &q->signature, is_token = slot == &q->token;
        struct buf *targets[2] = {is_sig ? NULL : with_token,
                                  is_sig || is_token ? NULL : without_token};
        for (int t = 0; t < 2; t++)
            if (targets[t] && ((targets[t]->len && buf_append_char(targets[t], '&') != 0) ||
                               buf_append(targets[t], p, len) != 0))
                return -1;
        p += len + (p[len] == '&');
    }
    return 0;
}

/* The parameters as the parsed Authorization header they stand for. */
static enum sigv4_verify_status query_authz(const struct query_auth *q, struct sigv4_authz *a,
                                            struct sigv4_verify_result *r)
{
    memset(a, 0, sizeof *a);
    if (!q->algorithm || !q->credential || !q->date || !q->signed_headers || !q->signature)
        return vfail(r, SIGV4_VERIFY_MALFORMED,
                     "a presigned request needs X-Amz-Algorithm, X-Amz-Credential, "
                     "X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature");
    if (strcmp(q->algorithm, SIGV4_ALGORITHM) != 0)
        return vfail(r, SIGV4_VERIFY_BAD_ALGORITHM,
                     "Unsupported AWS 'algorithm': only %s is accepted", SIGV4_ALGORITHM);
    size_t sig_len = strlen(q->signature);
    if (parse_credential(q->credential, strlen(q->credential), a) != 0 ||
        copy_field(a->signed_headers, sizeof a->signed_headers, q->signed_headers,
                   strlen(q->signed_headers)) != 0 ||
        sig_len != SIGV4_HASH_HEX_LEN || !is_lower_hex(q->signature, sig_len))
        return vfail(r, SIGV4_VERIFY_MALFORMED,
                     "X-Amz-Credential, X-Amz-SignedHeaders or X-Amz-Signature is malformed");
    memcpy(a->signature, q->signature, sig_len + 1);
    strcpy(a->algorithm, SIGV4_ALGORITHM);
    strcpy(r->access_key_id, a->access_key_id);
    if (!list_has(a->signed_headers, "host"))
        return vfail(r, SIGV4_VERIFY_BAD_SIGNED_HEADERS, "'Host' must be a SignedHeader");
    return SIGV4_VERIFY_OK;
}

/* X-Amz-Date and X-Amz-Expires against now (see sigv4.h). */
static enum sigv4_verify_status query_time(const struct query_auth *q,
                                           const struct sigv4_verify_params *p,
                                           struct sigv4_verify_result *r, time_t *t_out)
{
    int skew = p->max_skew > 0 ? p->max_skew : 300;
    long expires = -1;
    if (sigv4_parse_time(q->date, t_out) != 0)
        return vfail(r, SIGV4_VERIFY_BAD_DATE, "X-Amz-Date must be in the ISO-8601 basic "
                                               "format YYYYMMDDTHHMMSSZ");
    if (q->expires) {
        char *end;
        expires = strtol(q->expires, &end, 10);
        if (*end || end == q->expires || expires < 1 || expires > 604800)
            return vfail(r, SIGV4_VERIFY_MALFORMED,
                         "X-Amz-Expires must be a number of seconds from 1 to 604800");
    }
    if (*t_out > p->now + skew || (expires < 0 && *t_out < p->now - skew))
        return skew_fail(q->date, p->now, skew, r);
    if (expires >= 0 && p->now > *t_out + expires)
        return vfail(r, SIGV4_VERIFY_DATE_SKEW, "Request has expired: signed at %s for %ld s",
                     q->date, expires);
    return SIGV4_VERIFY_OK;
}

/* Scope, key, payload hash, then the signature over `query` as the canonical query. */
static enum sigv4_verify_status query_check(struct sigv4_verifier *v,
                                            const struct sigv4_request *req,
                                            const struct query_auth *q,
                                            const struct sigv4_authz *a, time_t t,
                                            const struct buf *with_token,
                                            const struct buf *without_token,
                                            const struct sigv4_verify_params *p,
                                            struct sigv4_verify_result *r)
{
    struct sigv4_verify_params at = *p;
    at.now = t;                 /* the time was checked above; this checks the scope */
    struct seen_headers seen = {.token = q->token};
    const char *secret = NULL;
    char hash[SIGV4_HASH_HEX_LEN + 1];
    enum sigv4_verify_status s;
    at.flags &= ~(unsigned)SIGV4_VERIFY_CONTENT_SHA256;
    if ((s = check_time_scope(a, q->date, &at, r)) != SIGV4_VERIFY_OK ||
        (s = check_key(a, &seen, &at, r, &secret)) != SIGV4_VERIFY_OK ||
        (s = payload_hash(v, req, &seen, &at, r, hash)) != SIGV4_VERIFY_OK)
        return s;
    struct sigv4_request signed_req = *req;
    bool token_after = q->token && (p->flags & SIGV4_VERIFY_QUERY_TOKEN_AFTER);
    signed_req.query = buf_cstr(token_after ? without_token : with_token);
    s = check_signature(v, &signed_req, a, q->date, secret, hash, p, r);
    if (s == SIGV4_VERIFY_MISMATCH && token_after) {
        signed_req.query = buf_cstr(with_token);
        s = check_signature(v, &signed_req, a, q->date, secret, hash, p, r);
    }
    return s;
}

enum sigv4_verify_status sigv4_verifier_verify_query(struct sigv4_verifier *v,
                                                     const struct sigv4_request *req,
                                                     const struct sigv4_verify_params *p,
                                                     struct sigv4_verify_result *r)
{
    struct query_auth q;
    struct sigv4_authz a;
    struct buf with_token = BUF_INIT, without_token = BUF_INIT;
    enum sigv4_verify_status s;
    time_t t;
    memset(r, 0, sizeof *r);
    q = (struct query_auth){0};
    int rc = query_auth_parse(req->query, &q, &with_token, &without_token);
    if (rc == -1)
        s = vfail(r, SIGV4_VERIFY_NOMEM, "out of memory");
    else if (rc == -2)
        s = vfail(r, SIGV4_VERIFY_MALFORMED, "the X-Amz-* query parameters are malformed");
    else if (!q.credential && !q.signature)
        s = vfail(r, SIGV4_VERIFY_MISSING, "Missing Authentication Token");
    else if ((s = query_authz(&q, &a, r)) == SIGV4_VERIFY_OK &&
             (s = query_time(&q, p, r, &t)) == SIGV4_VERIFY_OK)
        s = query_check(v, req, &q, &a, t, &with_token, &without_token, p, r);
    buf_free(&with_token);
    buf_free(&without_token);
    return s;
}
