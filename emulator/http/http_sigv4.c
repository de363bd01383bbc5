/* http_sigv4.c — server-side SigV4 verification; see http_sigv4.h.
 *
 * The pipeline mirrors the signer's: parse Authorization → check date and scope →
 * canonical request → string to sign → signing key (cached) → signature → constant-time
 * compare. */
#include "http_sigv4.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

#define HV_MAX_SIGNED_HEADERS 32
#define HV_MAX_QUERY 64

struct hv_key_cache {
    char scope[96];                 /* "<date>/<region>/<service>" the key is for */
    uint8_t key[32];
};

struct hv_cred {
    char *akid;
    char *secret;
    struct hv_key_cache cache;
};

struct hv_verifier {
    struct hv_cred *creds;
    size_t count;
    struct buf creq;                /* canonical request */
    struct buf pieces;              /* encoded query keys and values */
    struct buf tmp;                 /* percent-decoding */
};

/* The parsed Authorization header: slices of it. */
struct hv_auth {
    const char *akid, *date, *region, *service, *terminal;
    size_t akid_len, date_len, region_len, service_len, terminal_len;
    const char *signed_headers, *signature;
    size_t signed_headers_len, signature_len;
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
        v->creds[i].akid = strdup(credentials[i].access_key_id);
        v->creds[i].secret = strdup(credentials[i].secret_access_key);
        v->count++;
        if (!v->creds[i].akid || !v->creds[i].secret)
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
        free(v->creds[i].akid);
        if (v->creds[i].secret) {
            OPENSSL_cleanse(v->creds[i].secret, strlen(v->creds[i].secret));
            free(v->creds[i].secret);
        }
        OPENSSL_cleanse(&v->creds[i].cache, sizeof v->creds[i].cache);
    }
    free(v->creds);
    buf_free(&v->creq);
    buf_free(&v->pieces);
    buf_free(&v->tmp);
    free(v);
}

static enum hv_result fail_with(enum hv_result r, char *why, size_t why_len, const char *fmt,
                                ...) __attribute__((format(printf, 4, 5)));
static enum hv_result fail_with(enum hv_result r, char *why, size_t why_len, const char *fmt,
                                ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return r;
}

static const char *find_header(const struct hv_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* ------------------------------------------------------------------ Authorization */

static bool slice_eq(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Splits "AKID/DATE/REGION/SERVICE/aws4_request". */
static int parse_credential(struct hv_auth *a, const char *s, size_t n)
{
    const char *parts[5];
    size_t lens[5];
    size_t start = 0;
    int k = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (k == 5)
                return -1;
            parts[k] = s + start;
            lens[k++] = i - start;
            start = i + 1;
        }
    }
    if (k != 5)
        return -1;
    /* The access key id itself contains no '/', so the split is unambiguous. */
    a->akid = parts[0], a->akid_len = lens[0];
    a->date = parts[1], a->date_len = lens[1];
    a->region = parts[2], a->region_len = lens[2];
    a->service = parts[3], a->service_len = lens[3];
    a->terminal = parts[4], a->terminal_len = lens[4];
    return 0;
}

static int parse_authorization(const char *h, struct hv_auth *a)
{
    static const char algo[] = "AWS4-HMAC-SHA256";
    memset(a, 0, sizeof *a);
    if (strncmp(h, algo, sizeof algo - 1) != 0 || (h[sizeof algo - 1] != ' '))
        return -1;
    const char *p = h + sizeof algo - 1;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        if (!eq)
            return -1;
        const char *end = eq + 1;
        while (*end && *end != ',' && *end != ' ')
            end++;
        size_t klen = (size_t)(eq - p), vlen = (size_t)(end - (eq + 1));
        if (slice_eq(p, klen, "Credential")) {
            if (parse_credential(a, eq + 1, vlen) != 0)
                return -1;
        } else if (slice_eq(p, klen, "SignedHeaders")) {
            a->signed_headers = eq + 1, a->signed_headers_len = vlen;
        } else if (slice_eq(p, klen, "Signature")) {
            a->signature = eq + 1, a->signature_len = vlen;
        } else {
            return -1;
        }
        p = end;
    }
    if (!a->akid || !a->signed_headers || !a->signature || a->akid_len == 0 ||
        a->signed_headers_len == 0 || a->signature_len != 64)
        return -1;
    return 0;
}

/* "YYYYMMDDTHHMMSSZ" → epoch seconds; -1 when malformed. */
static int64_t parse_amz_date(const char *s)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return -1;
    struct tm tm = {0};
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    return (int64_t)timegm(&tm);
}

/* ------------------------------------------------------------------ canonical request */

/* Appends the botocore/RFC 3986 normalised form of path (dot and empty segments out). */
static int normalize_path(struct buf *out, const char *path, size_t n)
{
    size_t base = out->len;
    if (buf_append_char(out, '/') != 0)
        return -1;
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && path[end] != '/')
            end++;
        size_t len = end - i;
        if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            while (out->len > base + 1 && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > base + 1)
                out->len--;                     /* the '/' before the popped segment */
            if (out->len == base)
                out->len = base + 1;
            out->data[out->len] = '\0';
        } else if (len > 0 && !(len == 1 && path[i] == '.')) {
            if (out->data[out->len - 1] != '/' && buf_append_char(out, '/') != 0)
                return -1;
            if (buf_append(out, path + i, len) != 0)
                return -1;
        }
        i = end + 1;
    }
    if (n > 0 && path[n - 1] == '/' && out->data[out->len - 1] != '/')
        return buf_append_char(out, '/');
    return 0;
}

struct qpiece {
    size_t key_off, value_off;      /* into v->pieces, NUL-terminated */
};

static const char *cmp_base;

static int qpiece_cmp(const void *a, const void *b)
{
    const struct qpiece *x = a, *y = b;
    int c = strcmp(cmp_base + x->key_off, cmp_base + y->key_off);
    return c ? c : strcmp(cmp_base + x->value_off, cmp_base + y->value_off);
}

/* Decodes then strictly re-encodes s[0..n) into v->pieces, NUL-terminated. */
static int encode_piece(struct hv_verifier *v, const char *s, size_t n, size_t *off_out)
{
    buf_reset(&v->tmp);
    if (buf_reserve(&v->tmp, n + 1) != 0)
        return -1;
    size_t len;
    if (hp_percent_decode(s, n, v->tmp.data, &len) != 0)
        return -1;
    *off_out = v->pieces.len;
    if (hp_uri_encode(&v->pieces, v->tmp.data, len, false) != 0)
        return -1;
    return buf_append_char(&v->pieces, 0);
}

static int append_canonical_query(struct hv_verifier *v, const struct hv_request *req)
{
    struct hp_query_param params[HV_MAX_QUERY];
    struct qpiece pieces[HV_MAX_QUERY];
    int count = req->query ? hp_query_split(req->query, req->query_len, params, HV_MAX_QUERY)
                           : 0;
    if (count < 0)
        return -1;
    buf_reset(&v->pieces);
    for (int i = 0; i < count; i++) {
        if (encode_piece(v, params[i].key, params[i].key_len, &pieces[i].key_off) != 0 ||
            encode_piece(v, params[i].value, params[i].value_len, &pieces[i].value_off) != 0)
            return -1;
    }
    cmp_base = v->pieces.data;
    qsort(pieces, (size_t)count, sizeof pieces[0], qpiece_cmp);
    for (int i = 0; i < count; i++) {
        if ((i && buf_append_char(&v->creq, '&') != 0) ||
            buf_append_str(&v->creq, v->pieces.data + pieces[i].key_off) != 0 ||
            buf_append_char(&v->creq, '=') != 0 ||
            buf_append_str(&v->creq, v->pieces.data + pieces[i].value_off) != 0)
            return -1;
    }
    return buf_append_char(&v->creq, '\n');
}

/* A header value trimmed, with runs of spaces collapsed to one. */
static int append_trimmed(struct buf *out, const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = value[i] == '\t' ? ' ' : value[i];
        if (c == ' ' && space)
            continue;
        space = c == ' ';
        if (buf_append_char(out, c) != 0)
            return -1;
    }
    return 0;
}

/* "name:v1,v2\n" for every name in SignedHeaders; -1 and *missing_out when one is absent. */
static int append_canonical_headers(struct hv_verifier *v, const struct hv_request *req,
                                    const struct hv_auth *a, char *missing_out,
                                    size_t missing_len)
{
    size_t i = 0, n = a->signed_headers_len;
    const char *sh = a->signed_headers;
    int seen_names = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && sh[end] != ';')
            end++;
        char name[128];
        size_t len = end - i;
        if (len == 0 || len >= sizeof name || ++seen_names > HV_MAX_SIGNED_HEADERS)
            return -2;
        memcpy(name, sh + i, len);
        name[len] = '\0';
        bool found = false;
        if (buf_append(&v->creq, name, len) != 0 || buf_append_char(&v->creq, ':') != 0)
            return -1;
        for (size_t h = 0; h < req->header_count; h++) {
            if (strcasecmp(req->headers[h].name, name) != 0)
                continue;
            if ((found && buf_append_char(&v->creq, ',') != 0) ||
                append_trimmed(&v->creq, req->headers[h].value) != 0)
                return -1;
            found = true;
        }
        if (!found) {
            snprintf(missing_out, missing_len, "%s", name);
            return -3;
        }
        if (buf_append_char(&v->creq, '\n') != 0)
            return -1;
        i = end + 1;
    }
    return 0;
}

static void hex_encode(const uint8_t *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ------------------------------------------------------------------ signing */

static void hmac(const uint8_t *key, size_t key_len, const void *data, size_t n,
                 uint8_t out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, data, n, out, &len);
}

static const uint8_t *signing_key(struct hv_cred *c, const struct hv_auth *a)
{
    char scope[96];
    int n = snprintf(scope, sizeof scope, "%.*s/%.*s/%.*s", (int)a->date_len, a->date,
                     (int)a->region_len, a->region, (int)a->service_len, a->service);
    if (n > 0 && (size_t)n < sizeof scope && strcmp(scope, c->cache.scope) == 0)
        return c->cache.key;
    size_t slen = strlen(c->secret);
    uint8_t *k0 = malloc(slen + 4);
    if (!k0)
        return NULL;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, c->secret, slen);
    uint8_t k[32];
    hmac(k0, slen + 4, a->date, a->date_len, k);
    OPENSSL_cleanse(k0, slen + 4);
    free(k0);
    hmac(k, 32, a->region, a->region_len, k);
    hmac(k, 32, a->service, a->service_len, k);
    hmac(k, 32, "aws4_request", 12, c->cache.key);
    OPENSSL_cleanse(k, sizeof k);
    if (n > 0 && (size_t)n < sizeof scope)
        memcpy(c->cache.scope, scope, (size_t)n + 1);
    else
        c->cache.scope[0] = '\0';
    return c->cache.key;
}

/* Signature over v->creq for the given auth; 0 and out filled, -1 on memory failure. */
static int compute_signature(struct hv_cred *c, const struct hv_auth *a, const char *amz_date,
                             const struct buf *creq, char out_hex[65])
{
    uint8_t digest[32];
    char digest_hex[65];
    SHA256((const unsigned char *)creq->data, creq->len, digest);
    hex_encode(digest, 32, digest_hex);
    char sts[512];
    int n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%.*s/%.*s/%.*s/%.*s\n%s",
                     amz_date, (int)a->date_len, a->date, (int)a->region_len, a->region,
                     (int)a->service_len, a->service, (int)a->terminal_len, a->terminal,
                     digest_hex);
    if (n < 0 || (size_t)n >= sizeof sts)
        return -1;
    const uint8_t *key = signing_key(c, a);
    if (!key)
        return -1;
    uint8_t sig[32];
    hmac(key, 32, sts, (size_t)n, sig);
    hex_encode(sig, 32, out_hex);
    return 0;
}

/* ------------------------------------------------------------------ verify */

static struct hv_cred *find_cred(struct hv_verifier *v, const struct hv_auth *a)
{
    for (size_t i = 0; i < v->count; i++)
        if (slice_eq(a->akid, a->akid_len, v->creds[i].akid))
            return &v->creds[i];
    return NULL;
}

static enum hv_result check_scope(const struct hv_request *req, const struct hv_auth *a,
                                  const char *amz_date, char *why, size_t why_len)
{
    int64_t t = parse_amz_date(amz_date);
    if (t < 0)
        return fail_with(HV_MALFORMED, why, why_len,
                         "X-Amz-Date must be in the form YYYYMMDD'T'HHMMSS'Z'");
    if (a->date_len != 8 || memcmp(a->date, amz_date, 8) != 0)
        return fail_with(HV_MALFORMED, why, why_len,
                         "Credential should be scoped to a valid date (the day of X-Amz-Date)");
    if (!slice_eq(a->service, a->service_len, "iotdata"))
        return fail_with(HV_MALFORMED, why, why_len,
                         "Credential should be scoped to correct service: 'iotdata'");
    if (!slice_eq(a->terminal, a->terminal_len, "aws4_request") || a->region_len == 0)
        return fail_with(HV_MALFORMED, why, why_len,
                         "Credential should be scoped with a region and end in aws4_request");
    int64_t skew = (int64_t)req->now - t;
    if (skew > HV_SKEW_SECONDS || skew < -HV_SKEW_SECONDS)
        return fail_with(HV_EXPIRED, why, why_len,
                         "Signature expired: %s is more than 5 minutes away from the "
                         "emulator's clock",
                         amz_date);
    return HV_OK;
}

/* Payload hash: SHA-256 of the body; x-amz-content-sha256, when sent, must agree. */
static enum hv_result payload_hash(const struct hv_request *req, char out[65], char *why,
                                   size_t why_len)
{
    uint8_t digest[32];
    SHA256(req->body ? req->body : (const uint8_t *)"", req->body_len, digest);
    hex_encode(digest, 32, out);
    const char *claimed = find_header(req, "x-amz-content-sha256");
    if (claimed && strcmp(claimed, "UNSIGNED-PAYLOAD") == 0) {
        snprintf(out, 65, "%s", "UNSIGNED-PAYLOAD");
        return HV_OK;
    }
    if (claimed && strcasecmp(claimed, out) != 0)
        return fail_with(HV_MISMATCH, why, why_len,
                         "The provided 'x-amz-content-sha256' header does not match what "
                         "was computed.");
    return HV_OK;
}

/* Builds v->creq with the given canonical URI, then compares signatures. */
static enum hv_result try_path(struct hv_verifier *v, const struct hv_request *req,
                               const struct hv_auth *a, struct hv_cred *c, const char *amz_date,
                               const char *path, size_t path_len, const char *hash,
                               char *why, size_t why_len)
{
    buf_reset(&v->creq);
    char missing[128] = "";
    if (buf_append_str(&v->creq, req->method) != 0 || buf_append_char(&v->creq, '\n') != 0 ||
        hp_uri_encode(&v->creq, path, path_len, true) != 0 ||
        buf_append_char(&v->creq, '\n') != 0)
        return fail_with(HV_MISMATCH, why, why_len, "out of memory");
    if (append_canonical_query(v, req) != 0)
        return fail_with(HV_MALFORMED, why, why_len, "the query string cannot be canonicalized");
    int hr = append_canonical_headers(v, req, a, missing, sizeof missing);
    if (hr == -3)
        return fail_with(HV_MISMATCH, why, why_len,
                         "The request signature we calculated does not match the signature "
                         "you provided: signed header '%s' is not in the request", missing);
    if (hr != 0)
        return fail_with(HV_MALFORMED, why, why_len, "SignedHeaders is malformed");
    if (buf_append_char(&v->creq, '\n') != 0 ||
        buf_append(&v->creq, a->signed_headers, a->signed_headers_len) != 0 ||
        buf_append_char(&v->creq, '\n') != 0 || buf_append_str(&v->creq, hash) != 0)
        return fail_with(HV_MISMATCH, why, why_len, "out of memory");
    char sig[65];
    if (compute_signature(c, a, amz_date, &v->creq, sig) != 0)
        return fail_with(HV_MISMATCH, why, why_len, "out of memory");
    char given[65];
    for (size_t i = 0; i < 64; i++)
        given[i] = (char)tolower((unsigned char)a->signature[i]);
    given[64] = '\0';
    if (CRYPTO_memcmp(sig, given, 64) != 0)
        return fail_with(HV_MISMATCH, why, why_len,
                         "The request signature we calculated does not match the signature "
                         "you provided. Check your AWS Secret Access Key and signing method.");
    return HV_OK;
}

static bool signed_headers_has_host(const struct hv_auth *a)
{
    const char *s = a->signed_headers;
    size_t n = a->signed_headers_len;
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(s + i, "host", 4) == 0 && (i == 0 || s[i - 1] == ';') &&
            (i + 4 == n || s[i + 4] == ';'))
            return true;
    return false;
}

enum hv_result hv_verify(struct hv_verifier *v, const struct hv_request *req, char *why,
                         size_t why_len)
{
    const char *authz = find_header(req, "authorization");
    if (!authz)
        return fail_with(HV_MISSING, why, why_len, "Missing Authentication Token");
    struct hv_auth a;
    if (parse_authorization(authz, &a) != 0)
        return fail_with(HV_MALFORMED, why, why_len,
                         "Authorization header requires 'Credential', 'SignedHeaders' and "
                         "'Signature' parameters after 'AWS4-HMAC-SHA256 '");
    const char *amz_date = find_header(req, "x-amz-date");
    if (!amz_date)
        return fail_with(HV_MALFORMED, why, why_len, "Missing X-Amz-Date header");
    if (!signed_headers_has_host(&a))
        return fail_with(HV_MALFORMED, why, why_len, "'Host' must be a signed header");
    enum hv_result r = check_scope(req, &a, amz_date, why, why_len);
    if (r != HV_OK)
        return r;
    struct hv_cred *c = find_cred(v, &a);
    if (!c)
        return fail_with(HV_UNKNOWN_KEY, why, why_len,
                         "The security token included in the request is invalid.");
    char hash[65];
    r = payload_hash(req, hash, why, why_len);
    if (r != HV_OK)
        return r;
    r = try_path(v, req, &a, c, amz_date, req->path, req->path_len, hash, why, why_len);
    if (r != HV_MISMATCH)
        return r;
    /* As botocore signs: the path with dot and empty segments normalised away. */
    struct buf norm = BUF_INIT;
    if (normalize_path(&norm, req->path, req->path_len) == 0 &&
        (norm.len != req->path_len || memcmp(norm.data, req->path, norm.len) != 0)) {
        char why2[256];
        if (try_path(v, req, &a, c, amz_date, norm.data, norm.len, hash, why2,
                     sizeof why2) == HV_OK)
            r = HV_OK;
    }
    buf_free(&norm);
    return r;
}
