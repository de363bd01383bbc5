/*
 * sigv4_canon.c — the canonical forms of SigV4, shared by signing (sigv4.c) and
 * verification (sigv4_verify.c): the time, the canonical URI, query and headers, the
 * canonical request and the string to sign. See sigv4.h for the rules.
 *
 * Speed: the canonical request is written once into a buffer reserved piece by piece
 * (no intermediate strings); header names are lowercased into stack scratch space for
 * typical requests.
 */
#include "sigv4_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

/* ================================================================ time */

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

/* ================================================================ canonical URI */

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

/* ================================================================ canonical query */

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
    for (const char *a = memchr(query, '&', n); a;
         a = memchr(a + 1, '&', n - (size_t)(a + 1 - query)))
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

/* ================================================================ canonical headers */

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

/* ================================================================ canonical request */
/* Shared by signing and verification. */

/* Appends the canonical request to creq; signed_out[0] and [1] get where its
 * signed-headers list starts and its length. Returns 0, -1 (no memory), or -2 when a
 * listed header is missing (*missing_out then points at it). */
int sigv4_canonical_request(const struct canon_input *in, struct buf *creq,
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

/* ================================================================ string to sign */

/* Writes the string to sign at dst (room: sts_len); returns the end. */
char *sigv4_put_sts(char *dst, const char *amz_date, const char *scope, size_t scope_len,
                    const char *creq_hash)
{
    dst = PUT_LIT(dst, SIGV4_ALGORITHM "\n");
    dst = put(dst, amz_date, SIGV4_AMZ_DATE_LEN);
    *dst++ = '\n';
    dst = put(dst, scope, scope_len);
    *dst++ = '\n';
    return put(dst, creq_hash, SIGV4_HASH_HEX_LEN);
}

size_t sigv4_sts_len(size_t scope_len)
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
        grow(out, sigv4_sts_len(n), &d) != 0)
        return -1;
    grown(out, sigv4_put_sts(d, amz_date, scope, n, hash));
    return 0;
}


void sigv4_set_error(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}
