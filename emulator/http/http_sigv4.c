/* http_sigv4.c — the emulator's SigV4 gate, composed of runtime/sigv4.h's public steps
 * (one SigV4 implementation for client and server) with what a busy server adds:
 *
 *   parse Authorization (sigv4_parse_authorization) → date, scope and skew checks →
 *   key lookup → payload hash, checked against x-amz-content-sha256 → canonical request
 *   (sigv4_canonical_uri/_query/_headers) → string to sign → signature with a signing key
 *   cached per credential and day/region/service → constant-time compare; on mismatch
 *   the RFC 3986-normalised path is tried too (botocore signs that).
 *
 * sigv4_verify does the same steps but derives the signing key (four HMACs) on every
 * request; the cache and the reused buffers here are what keep 20,000 signed requests
 * a second within one core (emulator/README.md). */
#include "http_sigv4.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct hv_cred {
    char *akid;
    char *secret;
    char cached_date[9], cached_region[64], cached_service[64];   /* scope of cached_key */
    unsigned char cached_key[32];
    EVP_MAC_CTX *mac;               /* HMAC-SHA256 keyed with cached_key */
};

/* SHA-256 and HMAC are fetched once: OpenSSL 3's one-shot calls fetch on every use. */
struct hv_verifier {
    struct hv_cred *creds;
    size_t count;
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    EVP_MAC *hmac;
    struct buf creq, headers, signed_names, sts, scope;    /* reused every request */
};

struct hv_verifier *hv_new(const struct emulator_credential *credentials, size_t count)
{
    struct hv_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->creds = calloc(count ? count : 1, sizeof *v->creds);
    v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    v->md = EVP_MD_CTX_new();
    v->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!v->creds || !v->sha256 || !v->md || !v->hmac)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        v->creds[i].akid = strdup(credentials[i].access_key_id);
        v->creds[i].secret = strdup(credentials[i].secret_access_key);
        v->creds[i].mac = EVP_MAC_CTX_new(v->hmac);
        v->count++;
        if (!v->creds[i].akid || !v->creds[i].secret || !v->creds[i].mac)
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
        if (v->creds[i].secret) {
            OPENSSL_cleanse(v->creds[i].secret, strlen(v->creds[i].secret));
            free(v->creds[i].secret);
        }
        free(v->creds[i].akid);
        OPENSSL_cleanse(v->creds[i].cached_key, sizeof v->creds[i].cached_key);
        EVP_MAC_CTX_free(v->creds[i].mac);
    }
    free(v->creds);
    EVP_MD_free(v->sha256);
    EVP_MD_CTX_free(v->md);
    EVP_MAC_free(v->hmac);
    buf_free(&v->creq);
    buf_free(&v->headers);
    buf_free(&v->signed_names);
    buf_free(&v->sts);
    buf_free(&v->scope);
    free(v);
}

static enum hv_result fail(enum hv_result r, char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum hv_result fail(enum hv_result r, char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return r;
}

static const char *find_header(const struct hv_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
}

/* True when the ';'-separated list holds name (case-insensitively). */
static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ";");
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        p += len + (p[len] == ';');
    }
    return false;
}

static enum hv_result check_time_scope(const struct sigv4_authz *a, const char *amz_date,
                                       time_t now, char *why, size_t len)
{
    time_t t;
    if (sigv4_parse_time(amz_date, &t) != 0)
        return fail(HV_MALFORMED, why, len,
                    "X-Amz-Date must be in the ISO-8601 basic format YYYYMMDDTHHMMSSZ");
    if (t < now - HV_SKEW_SECONDS || t > now + HV_SKEW_SECONDS) {
        char now_s[SIGV4_AMZ_DATE_LEN + 1];
        sigv4_format_time(now, now_s);
        return fail(HV_EXPIRED, why, len,
                    "Signature expired: %s is more than 5 minutes from the emulator's clock "
                    "(%s)", amz_date, now_s);
    }
    if (strncmp(a->date, amz_date, 8) != 0 || strlen(a->date) != 8)
        return fail(HV_MALFORMED, why, len,
                    "Date in Credential scope does not match YYYYMMDD from X-Amz-Date: "
                    "'%s' != '%.8s'", a->date, amz_date);
    if (strcmp(a->service, "iotdata") != 0)
        return fail(HV_MALFORMED, why, len,
                    "Credential should be scoped to correct service: 'iotdata'");
    if (strcmp(a->terminator, "aws4_request") != 0 || !a->region[0])
        return fail(HV_MALFORMED, why, len,
                    "Credential should be scoped with a region and the terminator "
                    "'aws4_request'");
    return HV_OK;
}

static struct hv_cred *find_cred(struct hv_verifier *v, const char *akid)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->creds[i].akid, akid) == 0)
            return &v->creds[i];
    return NULL;
}

/* The signing key for the scope, derived once per credential and day/region/service. */
static const unsigned char *signing_key(struct hv_cred *c, const struct sigv4_authz *a)
{
    if (strlen(a->region) >= sizeof c->cached_region ||
        strlen(a->service) >= sizeof c->cached_service || strlen(a->date) != 8)
        return NULL;
    if (strcmp(a->date, c->cached_date) == 0 && strcmp(a->region, c->cached_region) == 0 &&
        strcmp(a->service, c->cached_service) == 0)
        return c->cached_key;
    c->cached_date[0] = '\0';
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (sigv4_signing_key(c->secret, a->date, a->region, a->service, c->cached_key) != 0 ||
        !EVP_MAC_init(c->mac, c->cached_key, sizeof c->cached_key, params))
        return NULL;
    strcpy(c->cached_date, a->date);
    strcpy(c->cached_region, a->region);
    strcpy(c->cached_service, a->service);
    return c->cached_key;
}

static void hex_to(char *out, const unsigned char *bytes, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int sha256_hex(struct hv_verifier *v, const void *data, size_t n, char out[65])
{
    unsigned char d[32];
    unsigned int len = 0;
    if (!EVP_DigestInit_ex(v->md, v->sha256, NULL) || !EVP_DigestUpdate(v->md, data, n) ||
        !EVP_DigestFinal_ex(v->md, d, &len))
        return -1;
    hex_to(out, d, 32);
    return 0;
}

/* HMAC-SHA256 with the credential's cached signing key (EVP_MAC_init with a NULL key
 * restarts with the key already set). */
static int hmac_hex(struct hv_cred *c, const void *data, size_t n, char out[65])
{
    unsigned char mac[32];
    size_t len = 0;
    if (!EVP_MAC_init(c->mac, NULL, 0, NULL) || !EVP_MAC_update(c->mac, data, n) ||
        !EVP_MAC_final(c->mac, mac, &len, sizeof mac))
        return -1;
    hex_to(out, mac, 32);
    return 0;
}

/* 1 when the signature over (path as given, or normalised with flags) matches; 0 when
 * not; -1 out of memory; -2 a signed header is missing (*missing_out). */
static int signature_matches(struct hv_verifier *v, const struct hv_request *req,
                             const struct sigv4_authz *a, const char *amz_date,
                             const char *path, const char *query, const char *hash,
                             struct hv_cred *c, unsigned flags, const char **missing_out)
{
    buf_reset(&v->creq);
    buf_reset(&v->headers);
    buf_reset(&v->signed_names);
    buf_reset(&v->sts);
    int rc = buf_append_str(&v->creq, req->method);
    rc |= buf_append_char(&v->creq, '\n');
    rc |= sigv4_canonical_uri(&v->creq, path, flags);
    rc |= buf_append_char(&v->creq, '\n');
    rc |= sigv4_canonical_query(&v->creq, query);
    rc |= buf_append_char(&v->creq, '\n');
    if (rc)
        return -1;
    *missing_out = NULL;
    if (sigv4_canonical_headers(&v->headers, &v->signed_names, req->headers, req->header_count,
                                a->signed_headers, missing_out) != 0)
        return *missing_out ? -2 : -1;
    rc = buf_append(&v->creq, v->headers.data, v->headers.len);
    rc |= buf_append_char(&v->creq, '\n');
    rc |= buf_append(&v->creq, v->signed_names.data, v->signed_names.len);
    rc |= buf_append_char(&v->creq, '\n');
    rc |= buf_append_str(&v->creq, hash);
    /* string to sign: algorithm, date, scope, hex SHA-256 of the canonical request */
    char creq_hash[SIGV4_HASH_HEX_LEN + 1], sig[SIGV4_HASH_HEX_LEN + 1];
    if (rc || sha256_hex(v, v->creq.data, v->creq.len, creq_hash) != 0)
        return -1;
    rc = buf_append_str(&v->sts, SIGV4_ALGORITHM "\n");
    rc |= buf_append_str(&v->sts, amz_date);
    rc |= buf_append_char(&v->sts, '\n');
    rc |= buf_append(&v->sts, v->scope.data, v->scope.len);
    rc |= buf_append_char(&v->sts, '\n');
    rc |= buf_append(&v->sts, creq_hash, SIGV4_HASH_HEX_LEN);
    if (rc || hmac_hex(c, v->sts.data, v->sts.len, sig) != 0)
        return -1;
    return CRYPTO_memcmp(sig, a->signature, SIGV4_HASH_HEX_LEN) == 0;
}

/* Payload hash of the body received; x-amz-content-sha256, when sent, must agree. */
static enum hv_result payload_hash(struct hv_verifier *v, const struct hv_request *req,
                                   char out[65], char *why, size_t len)
{
    if (sha256_hex(v, req->body ? (const void *)req->body : "", req->body_len, out) != 0)
        return fail(HV_MISMATCH, why, len, "out of memory");
    const char *claimed = find_header(req, "x-amz-content-sha256");
    if (claimed && strcmp(claimed, "UNSIGNED-PAYLOAD") == 0)
        snprintf(out, SIGV4_HASH_HEX_LEN + 1, "%s", claimed);
    else if (claimed && strcasecmp(claimed, out) != 0)
        return fail(HV_MISMATCH, why, len,
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed.");
    return HV_OK;
}

static enum hv_result check_signature(struct hv_verifier *v, const struct hv_request *req,
                                      const struct sigv4_authz *a, const char *amz_date,
                                      struct hv_cred *c, const char *hash, char *why,
                                      size_t len)
{
    char path[4096];
    char *query = NULL;
    if (req->path_len >= sizeof path)
        return fail(HV_MALFORMED, why, len, "the request path is too long to verify");
    memcpy(path, req->path, req->path_len);
    path[req->path_len] = '\0';
    if (req->query && !(query = strndup(req->query, req->query_len)))
        return fail(HV_MISMATCH, why, len, "out of memory");
    const unsigned char *key = signing_key(c, a);
    buf_reset(&v->scope);
    int ok = -1;
    const char *missing = NULL;
    int rc = buf_append_str(&v->scope, a->date);
    rc |= buf_append_char(&v->scope, '/');
    rc |= buf_append_str(&v->scope, a->region);
    rc |= buf_append_char(&v->scope, '/');
    rc |= buf_append_str(&v->scope, a->service);
    rc |= buf_append_char(&v->scope, '/');
    rc |= buf_append_str(&v->scope, a->terminator);
    if (key && rc == 0) {
        ok = signature_matches(v, req, a, amz_date, path, query, hash, c, 0, &missing);
        if (ok == 0)
            ok = signature_matches(v, req, a, amz_date, path, query, hash, c,
                                   SIGV4_NORMALIZE_PATH, &missing);
    }
    free(query);
    if (ok == -2)
        return fail(HV_MALFORMED, why, len, "Signed header '%.*s' is not present in the request",
                    (int)strcspn(missing, ";"), missing);
    if (ok < 0)
        return fail(HV_MISMATCH, why, len, "out of memory while verifying the signature");
    if (ok == 0)
        return fail(HV_MISMATCH, why, len,
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method.");
    return HV_OK;
}

enum hv_result hv_verify(struct hv_verifier *v, const struct hv_request *req, char *why,
                         size_t len)
{
    const char *authz = find_header(req, "authorization");
    if (!authz)
        return fail(HV_MISSING, why, len, "Missing Authentication Token");
    struct sigv4_authz a;
    char reason[SIGV4_ERROR_LEN];
    if (sigv4_parse_authorization(authz, strlen(authz), &a, reason, sizeof reason) !=
        SIGV4_VERIFY_OK)
        return fail(HV_MALFORMED, why, len, "%s", reason);
    const char *amz_date = find_header(req, "x-amz-date");
    if (!amz_date)
        return fail(HV_MALFORMED, why, len,
                    "Authorization header requires existence of a 'X-Amz-Date' header");
    if (!list_has(a.signed_headers, "host") || !list_has(a.signed_headers, "x-amz-date"))
        return fail(HV_MALFORMED, why, len,
                    "'Host' and 'X-Amz-Date' must be SignedHeaders in the AWS Authorization");
    enum hv_result r = check_time_scope(&a, amz_date, req->now, why, len);
    if (r != HV_OK)
        return r;
    struct hv_cred *c = find_cred(v, a.access_key_id);
    if (!c)
        return fail(HV_UNKNOWN_KEY, why, len,
                    "The security token included in the request is invalid (unknown access "
                    "key id '%s')", a.access_key_id);
    char hash[SIGV4_HASH_HEX_LEN + 1];
    r = payload_hash(v, req, hash, why, len);
    if (r != HV_OK)
        return r;
    return check_signature(v, req, &a, amz_date, c, hash, why, len);
}
