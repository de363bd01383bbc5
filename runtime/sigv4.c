/*
 * sigv4.c — AWS Signature Version 4 signing (sigv4.h for the rules): the timestamp and
 * payload hash, the canonical request (sigv4_canon.c), the string to sign, the signature
 * (with sigv4_keys.c's key or cache), the Authorization header; URLs; sigv4_signer.
 *
 * Speed: a signature is mostly SHA-256 blocks, so the rest is kept small: the digests
 * run on one reused OpenSSL context (encode.h's enc_hasher); a cached signing key keeps
 * its HMAC pad states; a result's strings share one allocation.
 */
#include "sigv4.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "encode.h"
#include "sigv4_internal.h"
#include "sigv4_keys.h"

/* ================================================================ signing */

void sigv4_result_free(struct sigv4_result *r)
{
    free(r->storage);   /* every string below lives in it */
    r->storage = NULL;
    r->canonical_request = r->string_to_sign = r->credential_scope = NULL;
    r->signed_headers = r->authorization = r->security_token = NULL;
    r->nadd = 0;
}

/* A scope part (region, service, key id) must be non-empty, printable, without '/',
 * ',', '=' or spaces. */
static int valid_scope_part(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '/' ||
            *s == ',' || *s == '=')
            return 0;
    return 1;
}

static int check_sign_input(const struct sigv4_request *req, const struct sigv4_params *p,
                            struct sigv4_result *out)
{
    const char *what = NULL;
    if (!req->method || !*req->method)
        what = "method is empty";
    else if (!valid_scope_part(p->region))
        what = "region is missing or has invalid characters";
    else if (!valid_scope_part(p->service))
        what = "service is missing or has invalid characters";
    else if (!valid_scope_part(p->credentials.access_key_id))
        what = "access key id is missing or has invalid characters";
    else if (!p->credentials.secret_access_key || !*p->credentials.secret_access_key)
        what = "secret access key is missing";
    else if (req->body_len && !req->body && !req->payload_hash)
        what = "body is NULL but body_len is not 0";
    if (what)
        sigv4_set_error(out->error, sizeof out->error, "sigv4: %s", what);
    return what ? -1 : 0;
}

static int has_header(const struct sigv4_header *h, size_t n, const char *lname)
{
    for (size_t i = 0; i < n; i++)
        if (header_is(&h[i], lname))
            return 1;
    return 0;
}

/* The session token, NULL when none. */
static const char *token_of(const struct sigv4_params *p)
{
    const char *t = p->credentials.session_token;
    return t && *t ? t : NULL;
}

/* The header list that gets signed, into h (room for req->nheaders + 3): the caller's,
 * minus the ones the signer owns, plus X-Amz-Date, the token (unless added after
 * signing) and the content hash (S3). Returns the count. */
static size_t signing_headers(const struct sigv4_request *req, const struct sigv4_params *p,
                              const struct sigv4_result *r, struct sigv4_header *h)
{
    const char *token = token_of(p);
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct sigv4_header *x = &req->headers[i];
        if (!x->name)
            continue;
        /* only names starting x-amz- can be one of the three (a cheap first test) */
        if (strncasecmp(x->name, "x-amz-", 6) == 0 &&
            (header_is(x, "x-amz-date") || (token && header_is(x, "x-amz-security-token")) ||
             ((p->flags & SIGV4_ADD_CONTENT_SHA256) && header_is(x, "x-amz-content-sha256"))))
            continue;
        h[n++] = *x;
    }
    h[n++] = (struct sigv4_header){"X-Amz-Date", r->amz_date};
    if (token && !(p->flags & SIGV4_TOKEN_UNSIGNED))
        h[n++] = (struct sigv4_header){"X-Amz-Security-Token", token};
    if (p->flags & SIGV4_ADD_CONTENT_SHA256)
        h[n++] = (struct sigv4_header){"X-Amz-Content-Sha256", r->payload_hash};
    return n;
}

static void fill_add(struct sigv4_result *r, unsigned flags)
{
    r->nadd = 0;
    r->add[r->nadd++] = (struct sigv4_header){"Authorization", r->authorization};
    r->add[r->nadd++] = (struct sigv4_header){"X-Amz-Date", r->amz_date};
    if (r->security_token)
        r->add[r->nadd++] = (struct sigv4_header){"X-Amz-Security-Token", r->security_token};
    if (flags & SIGV4_ADD_CONTENT_SHA256)
        r->add[r->nadd++] = (struct sigv4_header){"X-Amz-Content-Sha256", r->payload_hash};
}

/* What signing needs besides its input: the digest context, the buffer the canonical
 * request is built in, and (a sigv4_signer's) the signing-key cache, or NULL to derive
 * the key for this request alone. */
struct sign_work {
    struct enc_hasher *h;
    struct buf *creq;
    struct sigv4_keys *keys;
};

/* Steps 1-2: the timestamp and the payload hash. */
static int sign_prepare(struct sign_work *w, const struct sigv4_request *req,
                        const struct sigv4_params *p, struct sigv4_result *r)
{
    if ((w->keys ? sigv4_keys_time(w->keys, p->time, r->amz_date)
                 : sigv4_format_time(p->time, r->amz_date)) != 0) {
        sigv4_set_error(r->error, sizeof r->error, "sigv4: time out of range");
        return -1;
    }
    if (req->payload_hash) {
        size_t n = strlen(req->payload_hash);
        if (n > SIGV4_HASH_HEX_LEN) {
            sigv4_set_error(r->error, sizeof r->error, "sigv4: payload hash is too long");
            return -1;
        }
        memcpy(r->payload_hash, req->payload_hash, n + 1);
    } else if (enc_hasher_sha256_hex(w->h, req->body, req->body_len, r->payload_hash) != 0) {
        sigv4_set_error(r->error, sizeof r->error, "sigv4: SHA-256 failed");
        return -1;
    }
    return 0;
}

/* Lengths of the strings a result holds (each without its NUL). */
struct sign_lens {
    size_t creq, sts, scope, signed_h, authz, token;
};

#define AUTHZ_CRED SIGV4_ALGORITHM " Credential="
#define AUTHZ_SH ", SignedHeaders="
#define AUTHZ_SIG ", Signature="

/* Lays the result's strings out in one allocation (r->storage) and writes all but the
 * string to sign's hash and the signature. */
static int sign_layout(const struct sign_work *w, const struct sigv4_params *p,
                       const size_t signed_h[2], struct sign_lens *n, struct sigv4_result *r)
{
    const char *akid = p->credentials.access_key_id, *token = token_of(p);
    size_t rl = strlen(p->region), sl = strlen(p->service), al = strlen(akid);
    n->creq = w->creq->len;
    n->signed_h = signed_h[1];
    n->scope = 8 + 1 + rl + 1 + sl + sizeof("/aws4_request") - 1;
    n->sts = sigv4_sts_len(n->scope);
    n->authz = sizeof(AUTHZ_CRED) - 1 + al + 1 + n->scope + sizeof(AUTHZ_SH) - 1 +
               n->signed_h + sizeof(AUTHZ_SIG) - 1 + SIGV4_HASH_HEX_LEN;
    n->token = token ? strlen(token) : 0;
    char *d = r->storage = malloc(n->creq + n->sts + n->scope + n->signed_h + n->authz +
                                  n->token + 6);
    if (!d)
        return -1;
    r->canonical_request = d;
    d = put(d, w->creq->data, n->creq + 1);
    r->credential_scope = d;
    d = put(d, r->amz_date, 8);
    *d++ = '/';
    d = put(d, p->region, rl);
    *d++ = '/';
    d = put(d, p->service, sl);
    d = put(d, "/aws4_request", sizeof "/aws4_request");
    r->signed_headers = d;
    d = put(d, w->creq->data + signed_h[0], n->signed_h);
    *d++ = '\0';
    r->string_to_sign = d;
    d += n->sts + 1;
    r->authorization = d;
    d += n->authz + 1;
    r->security_token = token ? memcpy(d, token, n->token + 1) : NULL;
    return 0;
}

/* Writes the Authorization value (the signature is in r->signature). */
static void put_authz(const struct sigv4_params *p, const struct sign_lens *n,
                      struct sigv4_result *r)
{
    char *d = PUT_LIT(r->authorization, AUTHZ_CRED);
    d = put(d, p->credentials.access_key_id, strlen(p->credentials.access_key_id));
    *d++ = '/';
    d = put(d, r->credential_scope, n->scope);
    d = PUT_LIT(d, AUTHZ_SH);
    d = put(d, r->signed_headers, n->signed_h);
    d = PUT_LIT(d, AUTHZ_SIG);
    d = put(d, r->signature, SIGV4_HASH_HEX_LEN);
    *d = '\0';
}

/* The signature with the signer's key for this scope (derived once per access key id,
 * secret, day, region and service). */
static int cached_signature(struct sign_work *w, const struct sigv4_params *p,
                            const char *date8, const char *sts, size_t n,
                            char out[SIGV4_HASH_HEX_LEN + 1])
{
    struct sigv4_scope s = {p->credentials.access_key_id, date8, p->region, p->service};
    return sigv4_keys_signature(w->keys, w->h, p->credentials.secret_access_key, &s, sts, n,
                                out);
}

/* The signature of the string to sign, with a key derived for this request alone. */
static int fresh_signature(struct sign_work *w, const struct sigv4_params *p,
                           const char *date8, const char *sts, size_t n,
                           char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char key[32];
    int rc = sigv4_derive_key(w->h, p->credentials.secret_access_key, date8, p->region, p->service,
                        key) != 0 ||
             sigv4_signature_hex(w->h, key, sts, n, out) != 0;
    OPENSSL_cleanse(key, sizeof key);
    return rc ? -1 : 0;
}

/* Steps 3-6: canonical request, string to sign, signature, Authorization. The result is
 * the same byte for byte with or without the signer's key cache. */
static int sign_compute(struct sign_work *w, const struct sigv4_request *req,
                        const struct sigv4_params *p, struct sigv4_result *r)
{
    struct sigv4_header stack_h[STACK_HEADERS];
    struct sigv4_header *h = req->nheaders + 3 <= STACK_HEADERS
                                 ? stack_h
                                 : malloc((req->nheaders + 3) * sizeof *h);
    char creq_hash[SIGV4_HASH_HEX_LEN + 1], date8[9];
    struct sign_lens n;
    size_t signed_h[2] = {0, 0};
    int rc = -1;
    if (!h)
        goto fail;
    struct canon_input in = {req->method, req->path, req->query, h,
                             signing_headers(req, p, r, h), NULL, r->payload_hash, p->flags};
    buf_reset(w->creq);
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    if (sigv4_canonical_request(&in, w->creq, signed_h, NULL) != 0 ||
        enc_hasher_sha256_hex(w->h, w->creq->data, w->creq->len, creq_hash) != 0 ||
        sign_layout(w, p, signed_h, &n, r) != 0)
        goto fail;
    char *end = sigv4_put_sts(r->string_to_sign, r->amz_date, r->credential_scope, n.scope, creq_hash);
    *end = '\0';
    rc = w->keys ? cached_signature(w, p, date8, r->string_to_sign, n.sts, r->signature)
                 : fresh_signature(w, p, date8, r->string_to_sign, n.sts, r->signature);
    if (rc == 0)
        put_authz(p, &n, r);
fail:
    if (rc != 0) {
        sigv4_result_free(r);
        sigv4_set_error(r->error, sizeof r->error, "sigv4: out of memory or OpenSSL failure");
    }
    if (h != stack_h)
        free(h);
    return rc;
}

static int sign_with(struct sign_work *w, const struct sigv4_request *req,
                     const struct sigv4_params *params, struct sigv4_result *out)
{
    memset(out, 0, sizeof *out);
    if (check_sign_input(req, params, out) != 0)
        return -1;
    if (!has_header(req->headers, req->nheaders, "host")) {
        sigv4_set_error(out->error, sizeof out->error, "sigv4: the request has no Host header");
        return -1;
    }
    if (sign_prepare(w, req, params, out) != 0 || sign_compute(w, req, params, out) != 0)
        return -1;
    fill_add(out, params->flags);
    return 0;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *params,
               struct sigv4_result *out)
{
    struct buf creq = BUF_INIT;
    struct sign_work w = {enc_hasher_new(), &creq, NULL};
    int rc;
    if (!w.h || buf_reserve(&creq, 1023) != 0) {   /* room for a typical request at once */
        memset(out, 0, sizeof *out);
        sigv4_set_error(out->error, sizeof out->error, "sigv4: out of memory");
        rc = -1;
    } else {
        rc = sign_with(&w, req, params, out);
    }
    enc_hasher_free(w.h);
    buf_free(&creq);
    return rc;
}

/* ================================================================ signing a URL */

static int default_port(const char *scheme, size_t n, const char *port, size_t pn)
{
    if (n == 5 && strncasecmp(scheme, "https", 5) == 0)
        return pn == 3 && memcmp(port, "443", 3) == 0;
    if (n == 4 && strncasecmp(scheme, "http", 4) == 0)
        return pn == 2 && memcmp(port, "80", 2) == 0;
    return 0;
}

const char *sigv4_split_url(const char *url, struct sigv4_url *u)
{
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return "url must be scheme://host[:port]/path?query";
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#");
    if (end == auth)
        return "url has no host";
    u->origin_len = (size_t)(end - url);
    if (memchr(auth, '@', (size_t)(end - auth)))
        return "url must not contain user information";
    const char *colon = NULL;
    const char *bracket = memchr(auth, ']', (size_t)(end - auth));
    for (const char *c = bracket ? bracket : auth; c < end; c++)
        if (*c == ':')
            colon = c;
    const char *host_end = colon ? colon : end;
    int rc = buf_append(&u->host, auth, (size_t)(host_end - auth));
    if (colon) {
        const char *port = colon + 1;
        size_t pn = (size_t)(end - port);
        if (pn == 0 || pn > 5 || strspn(port, "0123456789") < pn ||
            strtol(port, NULL, 10) > 65535 || strtol(port, NULL, 10) == 0)
            return "url has an invalid port";
        if (!default_port(url, (size_t)(sep - url), port, pn))
            rc |= buf_append(&u->host, colon, pn + 1);
    }
    const char *path = end, *q = path + strcspn(path, "?#");
    rc |= buf_append(&u->path, path, (size_t)(q - path));
    if (*q == '?')
        rc |= buf_append(&u->query, q + 1, strcspn(q + 1, "#"));
    return rc ? "out of memory" : NULL;
}

unsigned sigv4_service_flags(const char *service)
{
    static const char *const s3_like[] = {"s3", "s3-object-lambda", "s3-outposts"};
    for (size_t i = 0; service && i < sizeof s3_like / sizeof s3_like[0]; i++)
        if (strcmp(service, s3_like[i]) == 0)
            return SIGV4_NO_URI_ENCODE | SIGV4_ADD_CONTENT_SHA256;
    return SIGV4_NORMALIZE_PATH;
}

int sigv4_sign_url(const char *method, const char *url, const struct sigv4_header *headers,
                   size_t nheaders, const void *body, size_t body_len, const char *payload_hash,
                   const char *region, const char *service,
                   const struct sigv4_credentials *creds, time_t time, unsigned flags,
                   struct sigv4_result *out)
{
    struct sigv4_url u = {BUF_INIT, BUF_INIT, BUF_INIT, 0};
    struct sigv4_header *h = NULL;
    int rc = -1;
    const char *why = url ? sigv4_split_url(url, &u) : "url is missing";
    memset(out, 0, sizeof *out);
    if (why) {
        sigv4_set_error(out->error, sizeof out->error, "sigv4: %s", why);
        goto fail;
    }
    if (!(h = calloc(nheaders + 1, sizeof *h)))
        goto fail;
    if (nheaders)
        memcpy(h, headers, nheaders * sizeof *h);
    size_t nh = nheaders;
    if (!has_header(headers, nheaders, "host"))
        h[nh++] = (struct sigv4_header){"Host", buf_cstr(&u.host)};
    struct sigv4_request req = {method, u.path.len ? buf_cstr(&u.path) : "/",
                                buf_cstr(&u.query), h, nh, body, body_len, payload_hash};
    struct sigv4_params p = {region, service, {NULL, NULL, NULL}, time, flags};
    if (creds)
        p.credentials = *creds;
    rc = sigv4_sign(&req, &p, out);
fail:
    free(h);
    buf_free(&u.host);
    buf_free(&u.path);
    buf_free(&u.query);
    return rc;
}

/* ================================================================ a signer for many requests */

/* The signer keeps what every signing needs: the digest context, the buffer for the
 * canonical request, and the signing-key cache. */
struct sigv4_signer {
    struct enc_hasher *h;
    struct buf creq;
    struct sigv4_keys *keys;
};

struct sigv4_signer *sigv4_signer_new(void)
{
    struct sigv4_signer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->h = enc_hasher_new();
    s->keys = sigv4_keys_new();
    if (!s->h || !s->keys || buf_reserve(&s->creq, 1023) != 0) {
        sigv4_signer_free(s);
        return NULL;
    }
    return s;
}

void sigv4_signer_free(struct sigv4_signer *s)
{
    if (!s)
        return;
    sigv4_keys_free(s->keys);
    enc_hasher_free(s->h);
    buf_free(&s->creq);
    free(s);
}

int sigv4_signer_sign(struct sigv4_signer *s, const struct sigv4_request *req,
                      const struct sigv4_params *params, struct sigv4_result *out)
{
    if (!s)
        return sigv4_sign(req, params, out);
    struct sign_work w = {s->h, &s->creq, s->keys};
    return sign_with(&w, req, params, out);
}
