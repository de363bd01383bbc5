/*
 * sigv4.c — AWS Signature Version 4 signing and verification. See sigv4.h for the rules.
 *
 * Layout: time → canonical URI → canonical query → canonical headers → canonical
 * request → string to sign → key and signature → sigv4_sign / sigv4_sign_url →
 * Authorization parsing → verification (sigv4_verifier, sigv4_verify).
 */
#include "sigv4.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "encode.h"

/* Appends each NUL-terminated string given, up to a NULL (a request's worth of these is
 * far cheaper than the same through buf_printf). */
static int append_all(struct buf *b, ...) __attribute__((sentinel));
static int append_all(struct buf *b, ...)
{
    va_list ap;
    int rc = 0;
    va_start(ap, b);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        rc |= buf_append_str(b, s);
    va_end(ap);
    return rc;
}

/* ==== time ============================================================================ */

int sigv4_format_time(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return -1;
    return strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) ==
                   SIGV4_AMZ_DATE_LEN
               ? 0
               : -1;
}

static int digits(const char *s, int n, int *v_out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *v_out = v;
    return 0;
}

int sigv4_parse_time(const char *s, time_t *t_out)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) != SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return -1;
    if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
        digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    char again[SIGV4_AMZ_DATE_LEN + 1];
    if (sigv4_format_time(t, again) != 0 || strcmp(again, s) != 0)
        return -1;                          /* e.g. February 30th */
    *t_out = t;
    return 0;
}

int sigv4_payload_hash(const void *body, size_t n, char out[SIGV4_HASH_HEX_LEN + 1])
{
    return enc_sha256_hex(body, n, out);
}

/* ==== canonical URI =================================================================== */

/* botocore's remove_dot_segments: drops "", "." and resolves ".." segments; keeps a
 * leading '/' and a trailing '/' (when anything is left). */
static int normalize_path(struct buf *out, const char *path)
{
    size_t n = strlen(path), nseg = 0;
    const char **seg = calloc(n / 2 + 2, sizeof *seg);
    size_t *seglen = calloc(n / 2 + 2, sizeof *seglen);
    int rc = -1;
    if (!seg || !seglen)
        goto fail;
    for (const char *p = path; p <= path + n;) {
        const char *e = memchr(p, '/', (size_t)(path + n - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(path + n - p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (nseg)
                nseg--;
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            seg[nseg] = p;
            seglen[nseg++] = len;
        }
        if (!e)
            break;
        p = e + 1;
    }
    rc = 0;
    if (n && path[0] == '/')
        rc |= buf_append_char(out, '/');
    for (size_t i = 0; i < nseg; i++) {
        if (i)
            rc |= buf_append_char(out, '/');
        rc |= buf_append(out, seg[i], seglen[i]);
    }
    if (n && path[n - 1] == '/' && nseg)
        rc |= buf_append_char(out, '/');
fail:
    free(seg);
    free(seglen);
    return rc ? -1 : 0;
}

int sigv4_canonical_uri(struct buf *out, const char *path, unsigned flags)
{
    struct buf norm = BUF_INIT;
    int rc = -1;
    if (!path || !*path)
        path = "/";
    if (flags & SIGV4_NORMALIZE_PATH) {
        if (normalize_path(&norm, path) != 0)
            goto fail;
        path = norm.len ? buf_cstr(&norm) : "/";
    }
    if (flags & SIGV4_NO_URI_ENCODE)
        rc = buf_append_str(out, path);
    else
        rc = enc_uri_path_canonical(out, path, strlen(path));
fail:
    buf_free(&norm);
    return rc;
}

/* ==== canonical query ================================================================= */

struct qpair {
    char *key;      /* encoded once */
    char *value;
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Decodes s[0..n) as received and encodes it exactly once; returns a new string. */
static char *reencode(const char *s, size_t n)
{
    struct buf dec = BUF_INIT, enc = BUF_INIT;
    char *res = NULL;
    if (enc_uri_decode(&dec, s, n) == 0 && enc_uri(&enc, buf_cstr(&dec), dec.len, 0) == 0)
        res = buf_steal(&enc);
    buf_free(&dec);
    buf_free(&enc);
    return res;
}

int sigv4_canonical_query(struct buf *out, const char *query)
{
    size_t n = query ? strlen(query) : 0, np = 0;
    struct qpair *pairs = NULL;
    int rc = -1;
    if (n == 0)
        return 0;
    pairs = calloc(n / 2 + 2, sizeof *pairs);   /* at most one pair per 2 bytes ("a&") */
    if (!pairs)
        return -1;
    for (const char *p = query; p <= query + n;) {
        const char *amp = memchr(p, '&', (size_t)(query + n - p));
        const char *end = amp ? amp : query + n;
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            pairs[np].key = reencode(p, (size_t)((eq ? eq : end) - p));
            pairs[np].value = eq ? reencode(eq + 1, (size_t)(end - eq - 1)) : strdup("");
            np++;
            if (!pairs[np - 1].key || !pairs[np - 1].value)
                goto fail;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    qsort(pairs, np, sizeof *pairs, qpair_cmp);
    rc = 0;
    for (size_t i = 0; i < np; i++)
        rc |= append_all(out, i ? "&" : "", pairs[i].key, "=", pairs[i].value, NULL);
fail:
    for (size_t i = 0; i < np; i++) {
        free(pairs[i].key);
        free(pairs[i].value);
    }
    free(pairs);
    return rc ? -1 : 0;
}

/* ==== canonical headers =============================================================== */

struct hentry {
    char *name;          /* lowercased, trimmed */
    const char *value;
    size_t index;        /* position in the input: ties keep the given order */
};

static int hentry_cmp(const void *a, const void *b)
{
    const struct hentry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Lowercased, trimmed copy of a header name. */
static char *lower_name(const char *s, size_t n)
{
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = (char)tolower((unsigned char)s[i]);
    r[n] = '\0';
    return r;
}

/* Appends v trimmed, with every run of whitespace collapsed to one space. */
static int append_header_value(struct buf *out, const char *v)
{
    int rc = 0, pending_space = 0;
    const char *p = v ? v : "";
    while (*p && is_space(*p))
        p++;
    for (; *p; p++) {
        if (is_space(*p)) {
            pending_space = 1;
            continue;
        }
        if (pending_space)
            rc |= buf_append_char(out, ' ');
        pending_space = 0;
        rc |= buf_append_char(out, *p);
    }
    return rc;
}

/* Headers never signed: user-agent, authorization, the hop-by-hop ones, and
 * x-amzn-trace-id (botocore leaves it out too: tracing systems rewrite it). */
static int unsignable(const char *lname)
{
    static const char *const names[] = {"user-agent", "authorization", "connection",
                                        "keep-alive", "te", "trailer", "transfer-encoding",
                                        "upgrade", "expect", "x-amzn-trace-id", NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcmp(lname, names[i]) == 0)
            return 1;
    return strncmp(lname, "proxy-", 6) == 0;
}

/* Appends "name:v1,v2\n" for the run of entries e[0..k) sharing one name. */
static int append_header_line(struct buf *out, const struct hentry *e, size_t k)
{
    int rc = append_all(out, e[0].name, ":", NULL);
    for (size_t i = 0; i < k; i++) {
        if (i)
            rc |= buf_append_char(out, ',');
        rc |= append_header_value(out, e[i].value);
    }
    return rc | buf_append_char(out, '\n');
}

/* Canonicalizes the headers whose (lowercased) names are in `only` (NULL: all signable
 * ones), sorted by name. */
static int canon_sorted(struct buf *canon_out, struct buf *signed_out,
                        const struct sigv4_header *headers, size_t n)
{
    struct hentry *e = calloc(n ? n : 1, sizeof *e);
    size_t ne = 0;
    int rc = -1;
    if (!e)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!headers[i].name)
            continue;
        char *ln = lower_name(headers[i].name, strlen(headers[i].name));
        if (!ln)
            goto fail;
        if (unsignable(ln) || !*ln) {
            free(ln);
            continue;
        }
        e[ne].name = ln;
        e[ne].value = headers[i].value;
        e[ne].index = i;
        ne++;
    }
    qsort(e, ne, sizeof *e, hentry_cmp);
    rc = 0;
    for (size_t i = 0; i < ne;) {
        size_t k = 1;
        while (i + k < ne && strcmp(e[i].name, e[i + k].name) == 0)
            k++;
        rc |= append_header_line(canon_out, e + i, k);
        rc |= append_all(signed_out, signed_out->len ? ";" : "", e[i].name, NULL);
        i += k;
    }
fail:
    for (size_t i = 0; i < ne; i++)
        free(e[i].name);
    free(e);
    return rc ? -1 : 0;
}

/* Canonical lines for exactly the listed names, in list order (verification). */
static int canon_listed(struct buf *canon_out, struct buf *signed_out,
                        const struct sigv4_header *headers, size_t n, const char *names,
                        const char **missing_out)
{
    struct hentry *e = calloc(n ? n : 1, sizeof *e);
    int rc = 0;
    if (!e)
        return -1;
    for (const char *p = names; rc == 0 && *p;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p), k = 0;
        char *want = lower_name(p, len);
        if (!want)
            rc = -1;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (!headers[i].name)
                continue;
            char *ln = lower_name(headers[i].name, strlen(headers[i].name));
            if (!ln) {
                rc = -1;
                break;
            }
            if (strcmp(ln, want) == 0)
                e[k++] = (struct hentry){want, headers[i].value, i};
            free(ln);
        }
        if (rc == 0 && (k == 0 || !*want)) {
            if (missing_out)
                *missing_out = p;
            rc = -1;
        } else if (rc == 0) {
            rc |= append_header_line(canon_out, e, k);
        }
        free(want);
        p = semi ? semi + 1 : p + len;
    }
    free(e);
    if (rc == 0)
        rc = buf_append_str(signed_out, names);
    return rc;
}

int sigv4_canonical_headers(struct buf *canon_out, struct buf *signed_out,
                            const struct sigv4_header *headers, size_t n,
                            const char *only_names, const char **missing_out)
{
    if (only_names)
        return canon_listed(canon_out, signed_out, headers, n, only_names, missing_out);
    return canon_sorted(canon_out, signed_out, headers, n);
}

/* ==== string to sign, key, signature ================================================== */

/* The string to sign, given the hex SHA-256 of the canonical request. */
static int string_to_sign_of(struct buf *out, const char *amz_date, const char *scope,
                             const char *creq_hash)
{
    return append_all(out, SIGV4_ALGORITHM "\n", amz_date, "\n", scope, "\n", creq_hash, NULL);
}

int sigv4_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                         const char *canonical_request)
{
    char hash[SIGV4_HASH_HEX_LEN + 1];
    if (enc_sha256_hex(canonical_request, strlen(canonical_request), hash) != 0)
        return -1;
    return string_to_sign_of(out, amz_date, scope, hash);
}

int sigv4_signing_key(const char *secret, const char *date8, const char *region,
                      const char *service, unsigned char key_out[32])
{
    struct buf k0 = BUF_INIT;
    unsigned char k1[32], k2[32], k3[32];
    int rc = -1;
    if (buf_printf(&k0, "AWS4%s", secret) != 0)
        goto fail;
    if (enc_hmac_sha256(k0.data, k0.len, date8, strlen(date8), k1) != 0 ||
        enc_hmac_sha256(k1, 32, region, strlen(region), k2) != 0 ||
        enc_hmac_sha256(k2, 32, service, strlen(service), k3) != 0 ||
        enc_hmac_sha256(k3, 32, "aws4_request", 12, key_out) != 0)
        goto fail;
    rc = 0;
fail:
    if (k0.data)
        OPENSSL_cleanse(k0.data, k0.len);
    buf_free(&k0);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    OPENSSL_cleanse(k3, sizeof k3);
    return rc;
}

int sigv4_signature(const unsigned char key[32], const char *string_to_sign,
                    char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char mac[32];
    if (enc_hmac_sha256(key, 32, string_to_sign, strlen(string_to_sign), mac) != 0)
        return -1;
    enc_hex_to(out, mac, sizeof mac);
    return 0;
}

/* ==== canonical request (shared by sign and verify) =================================== */

struct canon_input {
    const char *method;
    const char *path;
    const char *query;
    const struct sigv4_header *headers;
    size_t nheaders;
    const char *only_names;     /* verify: the client's SignedHeaders */
    const char *payload_hash;
    unsigned flags;
};

/* Builds the canonical request into creq_out and the signed-headers list into
 * signed_out, with headers_tmp (emptied first) for the header block. Returns 0, -1 (no
 * memory), or -2 when a listed header is missing (*missing_out then points at it). */
static int canonical_request(const struct canon_input *in, struct buf *creq_out,
                             struct buf *signed_out, struct buf *headers_tmp,
                             const char **missing_out)
{
    buf_reset(headers_tmp);
    int rc = append_all(creq_out, in->method, "\n", NULL);
    rc |= sigv4_canonical_uri(creq_out, in->path, in->flags);
    rc |= buf_append_char(creq_out, '\n');
    rc |= sigv4_canonical_query(creq_out, in->query);
    rc |= buf_append_char(creq_out, '\n');
    if (rc == 0 && sigv4_canonical_headers(headers_tmp, signed_out, in->headers,
                                           in->nheaders, in->only_names, missing_out) != 0)
        rc = (missing_out && *missing_out) ? -2 : -1;
    if (rc == 0)
        rc = append_all(creq_out, buf_cstr(headers_tmp), "\n", buf_cstr(signed_out), "\n",
                        in->payload_hash, NULL);
    return rc;
}

/* ==== signing ========================================================================= */

static void set_error(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}

void sigv4_result_free(struct sigv4_result *r)
{
    free(r->canonical_request);
    free(r->string_to_sign);
    free(r->credential_scope);
    free(r->signed_headers);
    free(r->authorization);
    free(r->security_token);
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
        set_error(out->error, sizeof out->error, "sigv4: %s", what);
    return what ? -1 : 0;
}

static int header_is(const struct sigv4_header *h, const char *lname)
{
    return h->name && strcasecmp(h->name, lname) == 0;
}

static int has_header(const struct sigv4_header *h, size_t n, const char *lname)
{
    for (size_t i = 0; i < n; i++)
        if (header_is(&h[i], lname))
            return 1;
    return 0;
}

/* The header list that gets signed: the caller's, minus the ones the signer owns, plus
 * X-Amz-Date, the token (unless added after signing) and the content hash (S3). */
static struct sigv4_header *signing_headers(const struct sigv4_request *req,
                                            const struct sigv4_params *p,
                                            const struct sigv4_result *r, size_t *n_out)
{
    struct sigv4_header *h = calloc(req->nheaders + 3, sizeof *h);
    const char *token = r->security_token;
    size_t n = 0;
    if (!h)
        return NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct sigv4_header *x = &req->headers[i];
        if (!x->name || header_is(x, "x-amz-date") ||
            (token && header_is(x, "x-amz-security-token")) ||
            ((p->flags & SIGV4_ADD_CONTENT_SHA256) && header_is(x, "x-amz-content-sha256")))
            continue;
        h[n++] = *x;
    }
    h[n++] = (struct sigv4_header){"X-Amz-Date", r->amz_date};
    if (token && !(p->flags & SIGV4_TOKEN_UNSIGNED))
        h[n++] = (struct sigv4_header){"X-Amz-Security-Token", token};
    if (p->flags & SIGV4_ADD_CONTENT_SHA256)
        h[n++] = (struct sigv4_header){"X-Amz-Content-Sha256", r->payload_hash};
    *n_out = n;
    return h;
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

/* Steps 1-2: the timestamp, the payload hash and the token copy. */
static int sign_prepare(const struct sigv4_request *req, const struct sigv4_params *p,
                        struct sigv4_result *r)
{
    if (sigv4_format_time(p->time, r->amz_date) != 0) {
        set_error(r->error, sizeof r->error, "sigv4: time out of range");
        return -1;
    }
    if (req->payload_hash) {
        if (strlen(req->payload_hash) > SIGV4_HASH_HEX_LEN) {
            set_error(r->error, sizeof r->error, "sigv4: payload hash is too long");
            return -1;
        }
        strcpy(r->payload_hash, req->payload_hash);
    } else if (sigv4_payload_hash(req->body, req->body_len, r->payload_hash) != 0) {
        set_error(r->error, sizeof r->error, "sigv4: SHA-256 failed");
        return -1;
    }
    const char *tok = p->credentials.session_token;
    if (tok && *tok && !(r->security_token = strdup(tok))) {
        set_error(r->error, sizeof r->error, "sigv4: out of memory");
        return -1;
    }
    return 0;
}

struct sigv4_verifier;
static int cached_string_to_sign(struct sigv4_verifier *v, struct buf *sts,
                                 const char *amz_date, const char *scope,
                                 const struct buf *creq);
static int cached_signature(struct sigv4_verifier *v, const struct sigv4_params *p,
                            const char *date8, const struct buf *sts,
                            char out[SIGV4_HASH_HEX_LEN + 1]);

/* Steps 3-6: canonical request, string to sign, signature, Authorization. With v (a
 * sigv4_signer's state) the digests are v's and the signing key comes from its cache;
 * the result is the same byte for byte. */
static int sign_compute(struct sigv4_verifier *v, const struct sigv4_request *req,
                        const struct sigv4_params *p, struct sigv4_result *r)
{
    struct buf creq = BUF_INIT, signed_h = BUF_INIT, scope = BUF_INIT, sts = BUF_INIT,
               authz = BUF_INIT, headers = BUF_INIT;
    unsigned char key[32];
    size_t nh = 0;
    int rc = -1;
    struct sigv4_header *h = signing_headers(req, p, r, &nh);
    struct canon_input in = {req->method, req->path, req->query, h, nh, NULL,
                             r->payload_hash, p->flags};
    char date8[9];
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    int signed_ok = -1;
    /* Room for a typical request at once (grown from 64 bytes these took ~15 reallocs);
     * a failure here only leaves them to grow as they go. */
    (void)(buf_reserve(&creq, 511) || buf_reserve(&headers, 255) || buf_reserve(&sts, 255) ||
           buf_reserve(&authz, 255));
    if (h && canonical_request(&in, &creq, &signed_h, &headers, NULL) == 0 &&
        append_all(&scope, date8, "/", p->region, "/", p->service, "/aws4_request", NULL) == 0) {
        if (v)
            signed_ok = cached_string_to_sign(v, &sts, r->amz_date, buf_cstr(&scope), &creq) ||
                        cached_signature(v, p, date8, &sts, r->signature);
        else
            signed_ok = sigv4_string_to_sign(&sts, r->amz_date, buf_cstr(&scope),
                                             buf_cstr(&creq)) ||
                        sigv4_signing_key(p->credentials.secret_access_key, date8, p->region,
                                          p->service, key) ||
                        sigv4_signature(key, buf_cstr(&sts), r->signature);
    }
    if (signed_ok != 0 ||
        append_all(&authz, SIGV4_ALGORITHM " Credential=", p->credentials.access_key_id, "/",
                   buf_cstr(&scope), ", SignedHeaders=", buf_cstr(&signed_h), ", Signature=",
                   r->signature, NULL) != 0) {
        set_error(r->error, sizeof r->error, "sigv4: out of memory or OpenSSL failure");
        goto fail;
    }
    r->canonical_request = buf_steal(&creq);
    r->signed_headers = buf_steal(&signed_h);
    r->credential_scope = buf_steal(&scope);
    r->string_to_sign = buf_steal(&sts);
    r->authorization = buf_steal(&authz);
    rc = r->canonical_request && r->signed_headers && r->credential_scope &&
                 r->string_to_sign && r->authorization
             ? 0
             : -1;
fail:
    OPENSSL_cleanse(key, sizeof key);
    free(h);
    buf_free(&creq);
    buf_free(&signed_h);
    buf_free(&scope);
    buf_free(&sts);
    buf_free(&authz);
    buf_free(&headers);
    return rc;
}

static int sign_with(struct sigv4_verifier *v, const struct sigv4_request *req,
                     const struct sigv4_params *params, struct sigv4_result *out)
{
    memset(out, 0, sizeof *out);
    if (check_sign_input(req, params, out) != 0)
        return -1;
    if (!has_header(req->headers, req->nheaders, "host")) {
        set_error(out->error, sizeof out->error, "sigv4: the request has no Host header");
        return -1;
    }
    if (sign_prepare(req, params, out) != 0 || sign_compute(v, req, params, out) != 0)
        return -1;
    fill_add(out, params->flags);
    return 0;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *params,
               struct sigv4_result *out)
{
    return sign_with(NULL, req, params, out);
}

/* ==== signing a URL =================================================================== */

struct url_parts {
    struct buf host;    /* Host header value */
    struct buf path;
    struct buf query;
};

static int default_port(const char *scheme, size_t n, const char *port, size_t pn)
{
    if (n == 5 && strncasecmp(scheme, "https", 5) == 0)
        return pn == 3 && memcmp(port, "443", 3) == 0;
    if (n == 4 && strncasecmp(scheme, "http", 4) == 0)
        return pn == 2 && memcmp(port, "80", 2) == 0;
    return 0;
}

/* Splits scheme://host[:port][/path][?query][#fragment]. Returns NULL or the reason. */
static const char *split_url(const char *url, struct url_parts *u)
{
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return "url must be scheme://host[:port]/path?query";
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#");
    if (end == auth)
        return "url has no host";
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

int sigv4_sign_url(const char *method, const char *url, const struct sigv4_header *headers,
                   size_t nheaders, const void *body, size_t body_len, const char *region,
                   const char *service, const struct sigv4_credentials *creds, time_t time,
                   unsigned flags, struct sigv4_result *out)
{
    struct url_parts u = {BUF_INIT, BUF_INIT, BUF_INIT};
    struct sigv4_header *h = NULL;
    int rc = -1;
    const char *why = url ? split_url(url, &u) : "url is missing";
    memset(out, 0, sizeof *out);
    if (why) {
        set_error(out->error, sizeof out->error, "sigv4: %s", why);
        goto fail;
    }
    if (!(h = calloc(nheaders + 1, sizeof *h)))
        goto fail;
    if (nheaders)
        memcpy(h, headers, nheaders * sizeof *h);
    size_t nh = nheaders;
    if (!has_header(headers, nheaders, "host"))
        h[nh++] = (struct sigv4_header){"Host", buf_cstr(&u.host)};
    if (service && strcmp(service, "s3") == 0)
        flags |= SIGV4_NO_URI_ENCODE | SIGV4_ADD_CONTENT_SHA256;
    struct sigv4_request req = {method, u.path.len ? buf_cstr(&u.path) : "/",
                                buf_cstr(&u.query), h, nh, body, body_len, NULL};
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

/* ==== Authorization parsing =========================================================== */

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
    memset(out, 0, sizeof *out);
    while (p < end && is_space(*p))
        p++;
    const char *alg = p;
    while (p < end && !is_space(*p))
        p++;
    if (p == alg || copy_field(out->algorithm, sizeof out->algorithm, alg,
                               (size_t)(p - alg)) != 0) {
        set_error(why_out, why_len, "Authorization header has no algorithm");
        return SIGV4_VERIFY_MALFORMED;
    }
    if (strcmp(out->algorithm, SIGV4_ALGORITHM) != 0) {
        set_error(why_out, why_len, "Unsupported AWS 'algorithm': only %s is accepted",
                  SIGV4_ALGORITHM);
        return SIGV4_VERIFY_BAD_ALGORITHM;
    }
    while (!why && p < end) {
        while (p < end && (is_space(*p) || *p == ','))
            p++;
        if (p == end)
            break;
        const char *c = p;
        while (p < end && *p != ',')
            p++;
        const char *ce = p;
        while (ce > c && is_space(ce[-1]))
            ce--;
        why = parse_component(c, (size_t)(ce - c), out, &seen);
    }
    if (!why)
        why = missing_component(seen);
    if (why) {
        set_error(why_out, why_len, "%s", why);
        return SIGV4_VERIFY_MALFORMED;
    }
    return SIGV4_VERIFY_OK;
}

/* ==== verification ==================================================================== */

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
    free(r->canonical_request);
    free(r->string_to_sign);
    r->canonical_request = r->string_to_sign = NULL;
}

/* ---- the verifier's state ---- */

/* One derived signing key and the HMAC context keyed with it. Empty while secret is
 * NULL. */
struct key_slot {
    char access_key_id[129];
    char date[9], region[64], service[64];
    char *secret;                   /* copy: a changed secret must not match */
    unsigned char key[32];
    EVP_MAC_CTX *mac;
};

struct sigv4_verifier {
    EVP_MD *sha256;                 /* fetched once: OpenSSL 3's one-shot calls fetch */
    EVP_MD_CTX *md;                 /* every time they are used */
    EVP_MAC *hmac;
    struct buf creq, signed_h, headers, scope, sts;   /* reused by every request */
    struct key_slot slots[SIGV4_VERIFIER_KEYS];
    size_t next_slot;               /* the one replaced next (round robin) */
};

struct sigv4_verifier *sigv4_verifier_new(void)
{
    struct sigv4_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    v->md = EVP_MD_CTX_new();
    v->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!v->sha256 || !v->md || !v->hmac) {
        sigv4_verifier_free(v);
        return NULL;
    }
    return v;
}

static void slot_clear(struct key_slot *k)
{
    if (k->secret) {
        OPENSSL_cleanse(k->secret, strlen(k->secret));
        free(k->secret);
        k->secret = NULL;
    }
    OPENSSL_cleanse(k->key, sizeof k->key);
}

void sigv4_verifier_free(struct sigv4_verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < SIGV4_VERIFIER_KEYS; i++) {
        slot_clear(&v->slots[i]);
        EVP_MAC_CTX_free(v->slots[i].mac);
    }
    EVP_MD_free(v->sha256);
    EVP_MD_CTX_free(v->md);
    EVP_MAC_free(v->hmac);
    buf_free(&v->creq);
    buf_free(&v->signed_h);
    buf_free(&v->headers);
    buf_free(&v->scope);
    buf_free(&v->sts);
    free(v);
}

static int v_sha256_hex(struct sigv4_verifier *v, const void *data, size_t n,
                        char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char d[ENC_SHA256_LEN];
    unsigned int len = 0;
    if (!EVP_DigestInit_ex(v->md, v->sha256, NULL) ||
        !EVP_DigestUpdate(v->md, data ? data : "", n) || !EVP_DigestFinal_ex(v->md, d, &len) ||
        len != ENC_SHA256_LEN)
        return -1;
    enc_hex_to(out, d, sizeof d);
    return 0;
}

/* The slot holding the signing key for this secret and scope, derived (four HMACs) when
 * none does yet; NULL when OpenSSL or memory fails. */
static struct key_slot *signing_key_slot(struct sigv4_verifier *v, const char *secret,
                                         const struct sigv4_authz *a)
{
    for (size_t i = 0; i < SIGV4_VERIFIER_KEYS; i++) {
        struct key_slot *k = &v->slots[i];
        if (k->secret && strcmp(k->date, a->date) == 0 && strcmp(k->region, a->region) == 0 &&
            strcmp(k->service, a->service) == 0 &&
            strcmp(k->access_key_id, a->access_key_id) == 0 && enc_ct_streq(k->secret, secret))
            return k;
    }
    struct key_slot *k = &v->slots[v->next_slot];
    v->next_slot = (v->next_slot + 1) % SIGV4_VERIFIER_KEYS;
    slot_clear(k);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if ((!k->mac && !(k->mac = EVP_MAC_CTX_new(v->hmac))) ||
        sigv4_signing_key(secret, a->date, a->region, a->service, k->key) != 0 ||
        !EVP_MAC_init(k->mac, k->key, sizeof k->key, params) || !(k->secret = strdup(secret))) {
        slot_clear(k);
        return NULL;
    }
    /* the sigv4_authz fields are at most as long as these */
    memcpy(k->access_key_id, a->access_key_id, sizeof k->access_key_id);
    memcpy(k->date, a->date, sizeof k->date);
    memcpy(k->region, a->region, sizeof k->region);
    memcpy(k->service, a->service, sizeof k->service);
    return k;
}

/* HMAC-SHA256 with the slot's key (EVP_MAC_init without a key restarts with it). */
static int slot_signature(struct key_slot *k, const struct buf *sts,
                          char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char mac[ENC_SHA256_LEN];
    size_t len = 0;
    if (!EVP_MAC_init(k->mac, NULL, 0, NULL) ||
        !EVP_MAC_update(k->mac, (const unsigned char *)buf_cstr(sts), sts->len) ||
        !EVP_MAC_final(k->mac, mac, &len, sizeof mac) || len != ENC_SHA256_LEN)
        return -1;
    enc_hex_to(out, mac, sizeof mac);
    return 0;
}

/* ---- the checks, in order ---- */

static enum sigv4_verify_status vfail(struct sigv4_verify_result *r,
                                      enum sigv4_verify_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
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

static const char *find_header(const struct sigv4_request *req, const char *lname)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (header_is(&req->headers[i], lname))
            return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
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
                                          const struct sigv4_request *req,
                                          const struct sigv4_verify_params *p,
                                          struct sigv4_verify_result *r,
                                          const char **secret_out)
{
    const char *secret = NULL, *token = NULL, *sent = find_header(req, "x-amz-security-token");
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
                                             const struct sigv4_verify_params *p,
                                             struct sigv4_verify_result *r,
                                             char out[SIGV4_HASH_HEX_LEN + 1])
{
    if (req->payload_hash)
        snprintf(out, SIGV4_HASH_HEX_LEN + 1, "%s", req->payload_hash);
    else if (v_sha256_hex(v, req->body, req->body_len, out) != 0)
        return vfail(r, SIGV4_VERIFY_NOMEM, "out of memory while hashing the payload");
    const char *claimed = (p->flags & SIGV4_VERIFY_CONTENT_SHA256)
                              ? find_header(req, "x-amz-content-sha256")
                              : NULL;
    if (claimed && strcmp(claimed, "UNSIGNED-PAYLOAD") == 0)
        snprintf(out, SIGV4_HASH_HEX_LEN + 1, "%s", claimed);
    else if (claimed && strcasecmp(claimed, out) != 0)
        return vfail(r, SIGV4_VERIFY_MISMATCH,
                     "The provided 'x-amz-content-sha256' header does not match what was "
                     "computed.");
    return SIGV4_VERIFY_OK;
}

/* Recomputes the signature over the received request; 1 when it matches, 0 when not,
 * -1 out of memory, -2 a signed header is missing (*missing_out). */
static int recompute(struct sigv4_verifier *v, const struct sigv4_request *req,
                     const struct sigv4_authz *a, const char *amz_date, struct key_slot *key,
                     const char *hash, unsigned flags, struct sigv4_verify_result *r,
                     const char **missing_out)
{
    char creq_hash[SIGV4_HASH_HEX_LEN + 1], sig[SIGV4_HASH_HEX_LEN + 1];
    struct canon_input in = {req->method, req->path, req->query, req->headers,
                             req->nheaders, a->signed_headers, hash, flags};
    buf_reset(&v->creq);
    buf_reset(&v->signed_h);
    buf_reset(&v->sts);
    int crc = canonical_request(&in, &v->creq, &v->signed_h, &v->headers, missing_out);
    if (crc != 0)
        return crc == -2 ? -2 : -1;
    if (v_sha256_hex(v, v->creq.data, v->creq.len, creq_hash) != 0 ||
        string_to_sign_of(&v->sts, amz_date, buf_cstr(&v->scope), creq_hash) != 0 ||
        slot_signature(key, &v->sts, sig) != 0)
        return -1;
    sigv4_verify_result_free(r);
    r->canonical_request = strdup(buf_cstr(&v->creq));
    r->string_to_sign = strdup(buf_cstr(&v->sts));
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
    struct key_slot *key = signing_key_slot(v, secret, a);
    int ok = -1;
    buf_reset(&v->scope);
    if (key && append_all(&v->scope, a->date, "/", a->region, "/", a->service, "/",
                          a->terminator, NULL) == 0) {
        ok = recompute(v, req, a, amz_date, key, hash, flags, r, &missing);
        if (ok == 0 && (p->flags & SIGV4_VERIFY_EITHER_PATH))
            ok = recompute(v, req, a, amz_date, key, hash, flags ^ SIGV4_NORMALIZE_PATH, r,
                           &missing);
    }
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
    const char *secret = NULL;
    char hash[SIGV4_HASH_HEX_LEN + 1];
    enum sigv4_verify_status s;
    memset(r, 0, sizeof *r);
    const char *authz = find_header(req, "authorization");
    if (!authz)
        return vfail(r, SIGV4_VERIFY_MISSING, "Missing Authentication Token");
    char why[SIGV4_ERROR_LEN];
    s = sigv4_parse_authorization(authz, strlen(authz), &a, why, sizeof why);
    if (s != SIGV4_VERIFY_OK)
        return vfail(r, s, "%s", why);
    memcpy(r->access_key_id, a.access_key_id, sizeof r->access_key_id);   /* same size */
    const char *amz_date = find_header(req, "x-amz-date");
    if (!amz_date)
        return vfail(r, SIGV4_VERIFY_MISSING_DATE,
                     "Authorization header requires existence of a 'X-Amz-Date' header");
    if (!list_has(a.signed_headers, "host") || !list_has(a.signed_headers, "x-amz-date"))
        return vfail(r, SIGV4_VERIFY_BAD_SIGNED_HEADERS,
                     "'Host' and 'X-Amz-Date' must be SignedHeaders in the AWS Authorization");
    if ((s = check_time_scope(&a, amz_date, p, r)) != SIGV4_VERIFY_OK ||
        (s = check_key(&a, req, p, r, &secret)) != SIGV4_VERIFY_OK ||
        (s = payload_hash(v, req, p, r, hash)) != SIGV4_VERIFY_OK)
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

/* ==== a signer for many requests ====================================================== */

/* The signer is a verifier's state (fetched digests, the signing-key slots) used from
 * the other side. */
struct sigv4_signer {
    struct sigv4_verifier *v;
};

struct sigv4_signer *sigv4_signer_new(void)
{
    struct sigv4_signer *s = calloc(1, sizeof *s);
    if (s && !(s->v = sigv4_verifier_new())) {
        free(s);
        s = NULL;
    }
    return s;
}

void sigv4_signer_free(struct sigv4_signer *s)
{
    if (!s)
        return;
    sigv4_verifier_free(s->v);
    free(s);
}

int sigv4_signer_sign(struct sigv4_signer *s, const struct sigv4_request *req,
                      const struct sigv4_params *params, struct sigv4_result *out)
{
    return sign_with(s ? s->v : NULL, req, params, out);
}

static int cached_string_to_sign(struct sigv4_verifier *v, struct buf *sts,
                                 const char *amz_date, const char *scope,
                                 const struct buf *creq)
{
    char hash[SIGV4_HASH_HEX_LEN + 1];
    if (v_sha256_hex(v, creq->data, creq->len, hash) != 0)
        return -1;
    return string_to_sign_of(sts, amz_date, scope, hash);
}

/* The signature with the slot's key for this scope (derived once per access key id,
 * secret, day, region and service). A scope too long for a slot's fields is signed
 * with a key derived for this request alone. */
static int cached_signature(struct sigv4_verifier *v, const struct sigv4_params *p,
                            const char *date8, const struct buf *sts,
                            char out[SIGV4_HASH_HEX_LEN + 1])
{
    struct sigv4_authz a;
    const char *akid = p->credentials.access_key_id;
    if (strlen(akid) >= sizeof a.access_key_id || strlen(p->region) >= sizeof a.region ||
        strlen(p->service) >= sizeof a.service) {
        unsigned char key[32];
        int rc = sigv4_signing_key(p->credentials.secret_access_key, date8, p->region,
                                   p->service, key) != 0 ||
                 sigv4_signature(key, buf_cstr(sts), out) != 0;
        OPENSSL_cleanse(key, sizeof key);
        return rc ? -1 : 0;
    }
    memset(&a, 0, sizeof a);
    strcpy(a.access_key_id, akid);
    memcpy(a.date, date8, sizeof a.date);
    strcpy(a.region, p->region);
    strcpy(a.service, p->service);
    struct key_slot *k = signing_key_slot(v, p->credentials.secret_access_key, &a);
    return k && slot_signature(k, sts, out) == 0 ? 0 : -1;
}
