/*
 * sigv4.c — AWS Signature Version 4 signing and verification. See sigv4.h for the rules.
 *
 * Layout: time → canonical URI → canonical query → canonical headers → canonical
 * request → string to sign → key and signature → sigv4_sign / sigv4_sign_url →
 * Authorization parsing → verification (sigv4_verifier, sigv4_verify) → sigv4_signer.
 *
 * Speed: a signature is mostly SHA-256 blocks, so the rest is kept small. The canonical
 * request is written once into a buffer reserved piece by piece (no intermediate
 * strings); header names are lowercased into stack scratch space for typical requests;
 * the digests run on one reused OpenSSL context (encode.h's enc_hasher); a cached signing
 * key keeps its HMAC pad states (enc_hmac_key); a result's strings share one allocation.
 */
#include "sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "encode.h"

/* Typical requests fit these; larger ones use the heap. */
#define STACK_HEADERS 32
#define STACK_NAMES 1024
#define STACK_QUERY 1024
#define STACK_PAIRS 32

static char *put(char *dst, const void *s, size_t n)
{
    memcpy(dst, s, n);
    return dst + n;
}

#define PUT_LIT(dst, lit) put((dst), (lit), sizeof(lit) - 1)

/* Reserves room for n more bytes in b; *at_out gets where they go (see grown). */
static int grow(struct buf *b, size_t n, char **at_out)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    *at_out = b->data + b->len;
    return 0;
}

/* Ends a write started by grow at end. */
static void grown(struct buf *b, char *end)
{
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
}

static int is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');     /* \t \n \v \f \r */
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* ==== time ============================================================================ */

/* Days since 1970-01-01 <-> proleptic Gregorian date. Counted in 400-year eras of 146097
 * days whose years start on March 1st, so a leap day is the last day of its year. */
static void civil_from_days(long long days, long long *y_out, int *m_out, int *d_out)
{
    long long z = days + 719468;                        /* days since 0000-03-01 */
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;                   /* day of the era, 0..146096 */
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;   /* 0..399 */
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);   /* from March 1st */
    long long mp = (5 * doy + 2) / 153;                 /* March 0 .. February 11 */
    *d_out = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m_out = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y_out = yoe + era * 400 + (*m_out <= 2);
}

static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void put_digits(char *dst, long long v, int n)
{
    while (n--) {
        dst[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

int sigv4_format_time(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
    long long s = (long long)t, days = s / 86400, sec = s % 86400, y;
    int m, d;
    if (sec < 0) {
        sec += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return -1;
    put_digits(out, y, 4);
    put_digits(out + 4, m, 2);
    put_digits(out + 6, d, 2);
    out[8] = 'T';
    put_digits(out + 9, sec / 3600, 2);
    put_digits(out + 11, sec / 60 % 60, 2);
    put_digits(out + 13, sec % 60, 2);
    out[15] = 'Z';
    out[16] = '\0';
    return 0;
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

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

int sigv4_parse_time(const char *s, time_t *t_out)
{
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) != SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return -1;
    if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
        digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;                          /* e.g. February 30th */
    *t_out = (time_t)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se);
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
    const char *key;        /* encoded once; not NUL-terminated */
    const char *value;
    size_t klen, vlen;
};

/* Bytewise order of two byte strings (as strcmp on the encoded text, which has no NUL). */
static int slice_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = slice_cmp(x->key, x->klen, y->key, y->klen);
    return c ? c : slice_cmp(x->value, x->vlen, y->value, y->vlen);
}

/* Sorts small arrays by insertion (no qsort call), large ones with qsort. */
static void sort_pairs(struct qpair *p, size_t n)
{
    if (n > STACK_PAIRS) {
        qsort(p, n, sizeof *p, qpair_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct qpair x = p[i];
        size_t j = i;
        for (; j > 0 && qpair_cmp(&p[j - 1], &x) > 0; j--)
            p[j] = p[j - 1];
        p[j] = x;
    }
}

/* s[0..n) decoded as received and encoded exactly once. Text already in that form (only
 * unreserved bytes) is used in place; otherwise the encoding is written at *room, which
 * is advanced, with tmp (n + 1 bytes) for the decoded bytes. */
static const char *reencode(const char *s, size_t n, char **room, char *tmp, size_t *len_out)
{
    size_t i = 0, dn;
    while (i < n && enc_is_unreserved((unsigned char)s[i]))
        i++;
    if (i == n) {
        *len_out = n;
        return s;
    }
    enc_uri_decode_to(tmp, s, n, 0, &dn);
    char *at = *room;
    *len_out = enc_uri_to(at, tmp, dn, 0);
    *room += *len_out;
    return at;
}

/* Splits query into pairs (p has room for one per '&' plus one), each encoded once;
 * room needs 3 * strlen(query) bytes, tmp strlen(query) + 1. Returns the count. */
static size_t split_query(const char *query, size_t n, struct qpair *p, char *room, char *tmp)
{
    size_t np = 0;
    for (const char *s = query; s <= query + n;) {
        const char *amp = memchr(s, '&', (size_t)(query + n - s));
        const char *end = amp ? amp : query + n;
        if (end > s) {
            const char *eq = memchr(s, '=', (size_t)(end - s));
            p[np].key = reencode(s, (size_t)((eq ? eq : end) - s), &room, tmp, &p[np].klen);
            p[np].value = eq ? reencode(eq + 1, (size_t)(end - eq - 1), &room, tmp, &p[np].vlen)
                             : "";
            if (!eq)
                p[np].vlen = 0;
            np++;
        }
        if (!amp)
            break;
        s = amp + 1;
    }
    return np;
}

/* Appends the sorted pairs as k=v&k=v. */
static int put_pairs(struct buf *out, const struct qpair *p, size_t np)
{
    size_t need = 0;
    char *d;
    for (size_t i = 0; i < np; i++)
        need += p[i].klen + p[i].vlen + 2;
    if (grow(out, need, &d) != 0)
        return -1;
    for (size_t i = 0; i < np; i++) {
        if (i)
            *d++ = '&';
        d = put(d, p[i].key, p[i].klen);
        *d++ = '=';
        d = put(d, p[i].value, p[i].vlen);
    }
    grown(out, d);
    return 0;
}

int sigv4_canonical_query(struct buf *out, const char *query)
{
    size_t n = query ? strlen(query) : 0, np = 1;
    struct qpair stack_pairs[STACK_PAIRS], *pairs = stack_pairs;
    char stack_room[STACK_QUERY], *room = stack_room;
    int rc = -1;
    if (n == 0)
        return 0;
    for (const char *a = memchr(query, '&', n); a; a = memchr(a + 1, '&', n - (size_t)(a + 1 - query)))
        np++;
    if (n > (SIZE_MAX - 1) / 4 - 1)
        return -1;
    if (np > STACK_PAIRS && !(pairs = malloc(np * sizeof *pairs)))
        goto fail;
    if (4 * n + 1 > sizeof stack_room && !(room = malloc(4 * n + 1)))
        goto fail;
    np = split_query(query, n, pairs, room, room + 3 * n);
    sort_pairs(pairs, np);
    rc = put_pairs(out, pairs, np);
fail:
    if (pairs != stack_pairs)
        free(pairs);
    if (room != stack_room)
        free(room);
    return rc;
}

/* ==== canonical headers =============================================================== */

struct hentry {
    const char *name;    /* lowercased, trimmed; not NUL-terminated */
    size_t nlen;
    const char *value;
    size_t index;        /* position in the input: ties keep the given order */
};

/* Entries and their lowercased names: on the stack for typical requests. */
struct hscratch {
    struct hentry *e;
    char *names;
    struct hentry stack_e[STACK_HEADERS];
    char stack_names[STACK_NAMES];
};

/* Room for n entries and names_len bytes of names. */
static int hscratch_init(struct hscratch *s, size_t n, size_t names_len)
{
    s->e = n <= STACK_HEADERS ? s->stack_e : malloc(n * sizeof *s->e);
    s->names = names_len <= STACK_NAMES ? s->stack_names : malloc(names_len);
    return s->e && s->names ? 0 : -1;
}

static void hscratch_free(struct hscratch *s)
{
    if (s->e != s->stack_e)
        free(s->e);
    if (s->names != s->stack_names)
        free(s->names);
}

static int hentry_cmp(const void *a, const void *b)
{
    const struct hentry *x = a, *y = b;
    int c = slice_cmp(x->name, x->nlen, y->name, y->nlen);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int same_name(const struct hentry *a, const struct hentry *b)
{
    return a->nlen == b->nlen && memcmp(a->name, b->name, a->nlen) == 0;
}

/* By name, ties in input order: insertion sort (stable) for few, qsort for many. */
static void sort_entries(struct hentry *e, size_t n)
{
    if (n > STACK_HEADERS) {
        qsort(e, n, sizeof *e, hentry_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct hentry x = e[i];
        size_t j = i;
        for (; j > 0 && slice_cmp(e[j - 1].name, e[j - 1].nlen, x.name, x.nlen) > 0; j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

/* Trims s[0..*n) of whitespace; returns the start, *n the trimmed length. */
static const char *trim(const char *s, size_t *n)
{
    size_t len = *n;
    while (len && is_space(*s))
        s++, len--;
    while (len && is_space(s[len - 1]))
        len--;
    *n = len;
    return s;
}

/* Writes the lowercased, trimmed name s[0..n) at dst; returns its length. */
static size_t lower_name_to(char *dst, const char *s, size_t n)
{
    s = trim(s, &n);
    for (size_t i = 0; i < n; i++)
        dst[i] = ascii_lower(s[i]);
    return n;
}

/* Headers never signed: user-agent, authorization, the hop-by-hop ones, and
 * x-amzn-trace-id (botocore leaves it out too: tracing systems rewrite it). Looked up by
 * length first: most headers match none. */
static int unsignable(const char *lname, size_t n)
{
    static const struct {
        const char *name;
        size_t len;
    } names[] = {{"te", 2},          {"expect", 6},      {"trailer", 7},
                 {"upgrade", 7},     {"user-agent", 10}, {"connection", 10},
                 {"keep-alive", 10}, {"authorization", 13}, {"x-amzn-trace-id", 15},
                 {"transfer-encoding", 17}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].len == n && lname[0] == names[i].name[0] &&
            memcmp(lname, names[i].name, n) == 0)
            return 1;
    return n >= 6 && memcmp(lname, "proxy-", 6) == 0;
}

/* Writes v trimmed, with every run of whitespace collapsed to one space (at most
 * strlen(v) bytes); the words between are copied whole. */
static char *put_value(char *d, const char *v)
{
    const char *p = v ? v : "";
    for (int first = 1;; first = 0) {
        while (is_space(*p))
            p++;
        size_t run = strcspn(p, " \t\n\v\f\r");
        if (run == 0)
            return d;                       /* the end: trailing space is dropped */
        if (!first)
            *d++ = ' ';
        d = put(d, p, run);
        p += run;
    }
}

/* Appends "name:v1,v2\n" for the run of entries e[0..k) sharing one name. */
static int put_header_line(struct buf *out, const struct hentry *e, size_t k)
{
    size_t need = e[0].nlen + 1;
    char *d;
    for (size_t i = 0; i < k; i++)
        need += (e[i].value ? strlen(e[i].value) : 0) + 1;
    if (grow(out, need, &d) != 0)
        return -1;
    d = put(d, e[0].name, e[0].nlen);
    *d++ = ':';
    for (size_t i = 0; i < k; i++) {
        if (i)
            *d++ = ',';
        d = put_value(d, e[i].value);
    }
    *d++ = '\n';
    grown(out, d);
    return 0;
}

/* Collects the signable headers with lowercased names into s; *n_out gets the count. */
static int collect_signable(struct hscratch *s, const struct sigv4_header *headers, size_t n,
                            size_t *n_out)
{
    size_t names_len = 0, ne = 0;
    for (size_t i = 0; i < n; i++)
        names_len += headers[i].name ? strlen(headers[i].name) : 0;
    if (hscratch_init(s, n, names_len) != 0)
        return -1;
    char *room = s->names;
    for (size_t i = 0; i < n; i++) {
        if (!headers[i].name)
            continue;
        size_t len = lower_name_to(room, headers[i].name, strlen(headers[i].name));
        if (len == 0 || unsignable(room, len))
            continue;
        s->e[ne++] = (struct hentry){room, len, headers[i].value, i};
        room += len;
    }
    *n_out = ne;
    return 0;
}

/* Appends the header lines of the sorted entries to lines, then (when sep) a newline to
 * lines, then the ';'-list of their names to list (which may be lines itself), starting
 * at *list_at_out. */
static int put_sorted(struct buf *lines, struct buf *list, int sep, const struct hentry *e,
                      size_t ne, size_t *list_at_out)
{
    size_t need = 0;
    char *d;
    for (size_t i = 0; i < ne;) {
        size_t k = 1;
        while (i + k < ne && same_name(&e[i], &e[i + k]))
            k++;
        if (put_header_line(lines, e + i, k) != 0)
            return -1;
        need += e[i].nlen + 1;
        i += k;
    }
    if (sep && buf_append_char(lines, '\n') != 0)
        return -1;
    if (grow(list, need, &d) != 0)
        return -1;
    *list_at_out = list->len;
    for (size_t i = 0; i < ne; i++) {
        if (i > 0 && same_name(&e[i - 1], &e[i]))
            continue;
        if (i)
            *d++ = ';';
        d = put(d, e[i].name, e[i].nlen);
    }
    grown(list, d);
    return 0;
}

/* The signable headers, sorted by name (see put_sorted). */
static int canon_sorted(struct buf *lines, struct buf *list, int sep,
                        const struct sigv4_header *headers, size_t n, size_t *list_at_out)
{
    struct hscratch s;
    size_t ne = 0;
    int rc = -1;
    if (collect_signable(&s, headers, n, &ne) == 0) {
        sort_entries(s.e, ne);
        rc = put_sorted(lines, list, sep, s.e, ne, list_at_out);
    }
    hscratch_free(&s);
    return rc;
}

/* True when header name h (trimmed, any case) is the lowercase name want[0..n). */
static int name_is(const char *h, const char *want, size_t n)
{
    size_t len = strlen(h);
    h = trim(h, &len);
    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(h[i]) != want[i])
            return 0;
    return 1;
}

/* One line for the listed name p[0..len): every header of that name, in input order.
 * Returns 0, -1 (memory) or -2 when no header has that name. */
static int put_listed_line(struct buf *lines, struct hscratch *s,
                           const struct sigv4_header *headers, size_t n, const char *p,
                           size_t len)
{
    size_t wlen = lower_name_to(s->names, p, len), k = 0;
    for (size_t i = 0; i < n; i++)
        if (headers[i].name && name_is(headers[i].name, s->names, wlen))
            s->e[k++] = (struct hentry){s->names, wlen, headers[i].value, i};
    if (k == 0 || wlen == 0)
        return -2;
    return put_header_line(lines, s->e, k);
}

/* Lines for exactly the listed names, in list order (verification); the list itself is
 * appended as given, at *list_at_out (see put_sorted). */
static int canon_listed(struct buf *lines, struct buf *list, int sep,
                        const struct sigv4_header *headers, size_t n, const char *names,
                        const char **missing_out, size_t *list_at_out)
{
    struct hscratch s;
    int rc = hscratch_init(&s, n ? n : 1, strlen(names) + 1);
    for (const char *p = names; rc == 0 && *p;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        rc = put_listed_line(lines, &s, headers, n, p, len);
        if (rc == -2 && missing_out)
            *missing_out = p;
        p = semi ? semi + 1 : p + len;
    }
    hscratch_free(&s);
    if (rc == 0 && sep)
        rc = buf_append_char(lines, '\n');
    *list_at_out = list->len;
    if (rc == 0)
        rc = buf_append_str(list, names);
    return rc;
}

int sigv4_canonical_headers(struct buf *canon_out, struct buf *signed_out,
                            const struct sigv4_header *headers, size_t n,
                            const char *only_names, const char **missing_out)
{
    size_t list_at;
    int rc = only_names ? canon_listed(canon_out, signed_out, 0, headers, n, only_names,
                                       missing_out, &list_at)
                        : canon_sorted(canon_out, signed_out, 0, headers, n, &list_at);
    return rc ? -1 : 0;
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

/* Appends the canonical request to creq; signed_out[0] and [1] get where its
 * signed-headers list starts and its length. Returns 0, -1 (no memory), or -2 when a
 * listed header is missing (*missing_out then points at it). */
static int canonical_request(const struct canon_input *in, struct buf *creq,
                             size_t signed_out[2], const char **missing_out)
{
    int rc = buf_append_str(creq, in->method);
    rc |= buf_append_char(creq, '\n');
    rc |= rc ? 0 : sigv4_canonical_uri(creq, in->path, in->flags);
    rc |= rc ? 0 : buf_append_char(creq, '\n');
    rc |= rc ? 0 : sigv4_canonical_query(creq, in->query);
    rc |= rc ? 0 : buf_append_char(creq, '\n');
    if (rc)
        return -1;
    if (in->only_names)
        rc = canon_listed(creq, creq, 1, in->headers, in->nheaders, in->only_names,
                          missing_out, &signed_out[0]);
    else
        rc = canon_sorted(creq, creq, 1, in->headers, in->nheaders, &signed_out[0]);
    if (rc)
        return rc == -2 ? -2 : -1;
    signed_out[1] = creq->len - signed_out[0];
    rc = buf_append_char(creq, '\n');
    return rc || buf_append_str(creq, in->payload_hash) ? -1 : 0;
}

/* ==== string to sign, key, signature ================================================== */

/* Writes the string to sign at dst (room: sts_len); returns the end. */
static char *put_sts(char *dst, const char *amz_date, const char *scope, size_t scope_len,
                     const char *creq_hash)
{
    dst = PUT_LIT(dst, SIGV4_ALGORITHM "\n");
    dst = put(dst, amz_date, SIGV4_AMZ_DATE_LEN);
    *dst++ = '\n';
    dst = put(dst, scope, scope_len);
    *dst++ = '\n';
    return put(dst, creq_hash, SIGV4_HASH_HEX_LEN);
}

static size_t sts_len(size_t scope_len)
{
    return sizeof(SIGV4_ALGORITHM "\n") - 1 + SIGV4_AMZ_DATE_LEN + 1 + scope_len + 1 +
           SIGV4_HASH_HEX_LEN;
}

int sigv4_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                         const char *canonical_request)
{
    char hash[SIGV4_HASH_HEX_LEN + 1], *d;
    size_t n = strlen(scope);
    if (strlen(amz_date) != SIGV4_AMZ_DATE_LEN ||
        enc_sha256_hex(canonical_request, strlen(canonical_request), hash) != 0 ||
        grow(out, sts_len(n), &d) != 0)
        return -1;
    grown(out, put_sts(d, amz_date, scope, n, hash));
    return 0;
}

/* The four HMACs from "AWS4" + secret to the signing key. */
static int derive_key(struct enc_hasher *h, const char *secret, const char *date8,
                      const char *region, const char *service, unsigned char key_out[32])
{
    size_t n = strlen(secret);
    char stack_k0[256], *k0 = n + 4 <= sizeof stack_k0 ? stack_k0 : malloc(n + 4);
    unsigned char k[32];            /* each step's key, replaced by the next (in place) */
    int rc = -1;
    if (!k0)
        return -1;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    if (enc_hasher_hmac(h, k0, n + 4, date8, strlen(date8), k) == 0 &&
        enc_hasher_hmac(h, k, 32, region, strlen(region), k) == 0 &&
        enc_hasher_hmac(h, k, 32, service, strlen(service), k) == 0 &&
        enc_hasher_hmac(h, k, 32, "aws4_request", 12, key_out) == 0)
        rc = 0;
    OPENSSL_cleanse(k0, n + 4);
    if (k0 != stack_k0)
        free(k0);
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

int sigv4_signing_key(const char *secret, const char *date8, const char *region,
                      const char *service, unsigned char key_out[32])
{
    struct enc_hasher *h = enc_hasher_new();
    int rc = h ? derive_key(h, secret, date8, region, service, key_out) : -1;
    enc_hasher_free(h);
    return rc;
}

/* HMAC-SHA256 of data with key, as lowercase hex. */
static int signature_hex(struct enc_hasher *h, const unsigned char key[32], const char *data,
                         size_t n, char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char mac[32];
    if (enc_hasher_hmac(h, key, 32, data, n, mac) != 0)
        return -1;
    enc_hex_to(out, mac, sizeof mac);
    return 0;
}

int sigv4_signature(const unsigned char key[32], const char *string_to_sign,
                    char out[SIGV4_HASH_HEX_LEN + 1])
{
    struct enc_hasher *h = enc_hasher_new();
    int rc = h ? signature_hex(h, key, string_to_sign, strlen(string_to_sign), out) : -1;
    enc_hasher_free(h);
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
    struct sigv4_verifier *keys;
};

static int cached_time(struct sigv4_verifier *v, time_t t,
                       char out[SIGV4_AMZ_DATE_LEN + 1]);

/* Steps 1-2: the timestamp and the payload hash. */
static int sign_prepare(struct sign_work *w, const struct sigv4_request *req,
                        const struct sigv4_params *p, struct sigv4_result *r)
{
    if ((w->keys ? cached_time(w->keys, p->time, r->amz_date)
                 : sigv4_format_time(p->time, r->amz_date)) != 0) {
        set_error(r->error, sizeof r->error, "sigv4: time out of range");
        return -1;
    }
    if (req->payload_hash) {
        size_t n = strlen(req->payload_hash);
        if (n > SIGV4_HASH_HEX_LEN) {
            set_error(r->error, sizeof r->error, "sigv4: payload hash is too long");
            return -1;
        }
        memcpy(r->payload_hash, req->payload_hash, n + 1);
    } else if (enc_hasher_sha256_hex(w->h, req->body, req->body_len, r->payload_hash) != 0) {
        set_error(r->error, sizeof r->error, "sigv4: SHA-256 failed");
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
    n->sts = sts_len(n->scope);
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

static int cached_signature(struct sign_work *w, const struct sigv4_params *p,
                            const char *date8, const char *sts, size_t n,
                            char out[SIGV4_HASH_HEX_LEN + 1]);

/* The signature of the string to sign, with a key derived for this request alone. */
static int fresh_signature(struct sign_work *w, const struct sigv4_params *p,
                           const char *date8, const char *sts, size_t n,
                           char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char key[32];
    int rc = derive_key(w->h, p->credentials.secret_access_key, date8, p->region, p->service,
                        key) != 0 ||
             signature_hex(w->h, key, sts, n, out) != 0;
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
    if (canonical_request(&in, w->creq, signed_h, NULL) != 0 ||
        enc_hasher_sha256_hex(w->h, w->creq->data, w->creq->len, creq_hash) != 0 ||
        sign_layout(w, p, signed_h, &n, r) != 0)
        goto fail;
    put_sts(r->string_to_sign, r->amz_date, r->credential_scope, n.scope, creq_hash)[0] = '\0';
    rc = w->keys ? cached_signature(w, p, date8, r->string_to_sign, n.sts, r->signature)
                 : fresh_signature(w, p, date8, r->string_to_sign, n.sts, r->signature);
    if (rc == 0)
        put_authz(p, &n, r);
fail:
    if (rc != 0) {
        sigv4_result_free(r);
        set_error(r->error, sizeof r->error, "sigv4: out of memory or OpenSSL failure");
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
        set_error(out->error, sizeof out->error, "sigv4: the request has no Host header");
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
        set_error(out->error, sizeof out->error, "sigv4: out of memory");
        rc = -1;
    } else {
        rc = sign_with(&w, req, params, out);
    }
    enc_hasher_free(w.h);
    buf_free(&creq);
    return rc;
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
    free(r->canonical_request);     /* string_to_sign shares its allocation */
    r->canonical_request = r->string_to_sign = NULL;
}

/* ---- the verifier's state ---- */

/* One derived signing key, kept as its HMAC pad states. Empty while secret is NULL. */
struct key_slot {
    char access_key_id[129];
    char date[9], region[64], service[64];
    char *secret;                   /* copy: a changed secret must not match */
    struct enc_hmac_key *mac;
};

struct sigv4_verifier {
    struct enc_hasher *h;           /* SHA-256 on one reused context */
    struct buf creq, sts;           /* reused by every request */
    struct key_slot slots[SIGV4_VERIFIER_KEYS];
    size_t next_slot;               /* the one replaced next (round robin) */
    size_t last_hit;                /* looked at first */
    time_t amz_time;                /* the last time formatted (a client signs many */
    char amz_date[SIGV4_AMZ_DATE_LEN + 1];  /* requests in the same second); "" = none */
};

struct sigv4_verifier *sigv4_verifier_new(void)
{
    struct sigv4_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->h = enc_hasher_new();
    if (!v->h || buf_reserve(&v->creq, 1023) != 0 || buf_reserve(&v->sts, 255) != 0) {
        sigv4_verifier_free(v);
        return NULL;
    }
    return v;
}

/* sigv4_format_time, remembering the last answer. */
static int cached_time(struct sigv4_verifier *v, time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
    if (!v->amz_date[0] || v->amz_time != t) {
        if (sigv4_format_time(t, v->amz_date) != 0) {
            v->amz_date[0] = '\0';
            return -1;
        }
        v->amz_time = t;
    }
    memcpy(out, v->amz_date, sizeof v->amz_date);
    return 0;
}

static void slot_clear(struct key_slot *k)
{
    if (k->secret) {
        OPENSSL_cleanse(k->secret, strlen(k->secret));
        free(k->secret);
        k->secret = NULL;
    }
    enc_hmac_key_free(k->mac);
    k->mac = NULL;
}

void sigv4_verifier_free(struct sigv4_verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < SIGV4_VERIFIER_KEYS; i++)
        slot_clear(&v->slots[i]);
    enc_hasher_free(v->h);
    buf_free(&v->creq);
    buf_free(&v->sts);
    free(v);
}

/* A signing scope: the strings a key is derived from besides the secret. */
struct scope {
    const char *akid, *date, *region, *service;
};

static int slot_matches(const struct key_slot *k, const char *secret, const struct scope *s)
{
    return k->secret && strcmp(k->date, s->date) == 0 && strcmp(k->region, s->region) == 0 &&
           strcmp(k->service, s->service) == 0 && strcmp(k->access_key_id, s->akid) == 0 &&
           enc_ct_streq(k->secret, secret);
}

/* True when the scope's parts fit a slot's fields. */
static int scope_fits(const struct scope *s)
{
    return strlen(s->akid) < sizeof ((struct key_slot *)0)->access_key_id &&
           strlen(s->date) < sizeof ((struct key_slot *)0)->date &&
           strlen(s->region) < sizeof ((struct key_slot *)0)->region &&
           strlen(s->service) < sizeof ((struct key_slot *)0)->service;
}

/* The slot holding the signing key for this secret and scope (which must fit a slot),
 * derived (four HMACs) when none does yet; NULL when OpenSSL or memory fails. */
static struct key_slot *signing_key_slot(struct sigv4_verifier *v, const char *secret,
                                         const struct scope *s)
{
    for (size_t i = 0; i < SIGV4_VERIFIER_KEYS; i++) {
        size_t j = (v->last_hit + i) % SIGV4_VERIFIER_KEYS;
        if (slot_matches(&v->slots[j], secret, s)) {
            v->last_hit = j;
            return &v->slots[j];
        }
    }
    struct key_slot *k = &v->slots[v->next_slot];
    unsigned char key[32];
    v->last_hit = v->next_slot;
    v->next_slot = (v->next_slot + 1) % SIGV4_VERIFIER_KEYS;
    slot_clear(k);
    int rc = derive_key(v->h, secret, s->date, s->region, s->service, key);
    if (rc != 0 || !(k->mac = enc_hmac_key_new(v->h, key, sizeof key)) ||
        !(k->secret = strdup(secret))) {
        OPENSSL_cleanse(key, sizeof key);
        slot_clear(k);
        return NULL;
    }
    OPENSSL_cleanse(key, sizeof key);
    strcpy(k->access_key_id, s->akid);
    strcpy(k->date, s->date);
    strcpy(k->region, s->region);
    strcpy(k->service, s->service);
    return k;
}

/* HMAC-SHA256 of data with the slot's key, as hex. */
static int slot_signature(struct sigv4_verifier *v, const struct key_slot *k, const char *data,
                          size_t n, char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char mac[ENC_SHA256_LEN];
    if (enc_hasher_hmac_with(v->h, k->mac, data, n, mac) != 0)
        return -1;
    enc_hex_to(out, mac, sizeof mac);
    return 0;
}

/* The signature of data for this scope: with a cached key, or with one derived for this
 * call alone when the scope is too long for a slot. */
static int scoped_signature(struct sigv4_verifier *v, const char *secret,
                            const struct scope *s, const char *data, size_t n,
                            char out[SIGV4_HASH_HEX_LEN + 1])
{
    if (!scope_fits(s)) {
        unsigned char key[32];
        int rc = derive_key(v->h, secret, s->date, s->region, s->service, key) != 0 ||
                 signature_hex(v->h, key, data, n, out) != 0;
        OPENSSL_cleanse(key, sizeof key);
        return rc ? -1 : 0;
    }
    struct key_slot *k = signing_key_slot(v, secret, s);
    return k ? slot_signature(v, k, data, n, out) : -1;
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
    if (grow(&v->sts, sts_len(dl + rl + sl + tl + 3), &d) != 0)
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
    struct scope s = {a->access_key_id, a->date, a->region, a->service};
    size_t signed_h[2];
    buf_reset(&v->creq);
    int crc = canonical_request(&in, &v->creq, signed_h, missing_out);
    if (crc != 0)
        return crc == -2 ? -2 : -1;
    if (enc_hasher_sha256_hex(v->h, v->creq.data, v->creq.len, creq_hash) != 0 ||
        received_sts(v, a, amz_date, creq_hash) != 0 ||
        scoped_signature(v, secret, &s, v->sts.data, v->sts.len, sig) != 0)
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

/* ==== a signer for many requests ====================================================== */

/* The signer is a verifier's state (the digest context, the working buffer, the
 * signing-key slots) used from the other side. */
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
    if (!s)
        return sigv4_sign(req, params, out);
    struct sign_work w = {s->v->h, &s->v->creq, s->v};
    return sign_with(&w, req, params, out);
}

/* The signature with the signer's key for this scope (derived once per access key id,
 * secret, day, region and service; see scoped_signature). */
static int cached_signature(struct sign_work *w, const struct sigv4_params *p,
                            const char *date8, const char *sts, size_t n,
                            char out[SIGV4_HASH_HEX_LEN + 1])
{
    struct scope s = {p->credentials.access_key_id, date8, p->region, p->service};
    return scoped_signature(w->keys, p->credentials.secret_access_key, &s, sts, n, out);
}
