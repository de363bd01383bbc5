/*
 * json.c — strict JSON parser (DOM) and writer. See json.h.
 *
 * The parser is recursive descent over a bounded depth; every read checks the end of
 * input first, so any byte string is safe to feed it (fuzz/fuzz_json.c).
 */
#include "json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

/* ================================================================ parser */

struct parser {
    const char *s;
    size_t n, pos;
    size_t depth, max_depth;
    struct json_error *err;
    int failed;
};

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
    if (!p->failed && p->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
        p->err->offset = p->pos;
    }
    p->failed = 1;
    return -1;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int peek(const struct parser *p)
{
    return p->pos < p->n ? (unsigned char)p->s[p->pos] : -1;
}

static int parse_value(struct parser *p, struct json_value *v);

void json_value_free_contents(struct json_value *v)
{
    switch (v->type) {
    case JSON_STRING:
        free(v->u.str.ptr);
        break;
    case JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            json_value_free_contents(&v->u.arr.items[i]);
        free(v->u.arr.items);
        break;
    case JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            free(v->u.obj.members[i].key);
            json_value_free_contents(&v->u.obj.members[i].value);
        }
        free(v->u.obj.members);
        break;
    default:
        break;
    }
    v->type = JSON_NULL;
}

void json_free(struct json_value *root)
{
    if (!root)
        return;
    json_value_free_contents(root);
    free(root);
}

/* ---------------------------------------------------------------- literals and numbers */

static int parse_literal(struct parser *p, const char *word, enum json_type t,
                         struct json_value *v)
{
    size_t len = strlen(word);
    if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
        return perr(p, "invalid literal (expected '%s')", word);
    p->pos += len;
    v->type = t;
    return 0;
}

static size_t skip_digits(const struct parser *p, size_t i)
{
    while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
        i++;
    return i;
}

/* strtod on a copy, with '.' swapped for the locale's decimal point. */
static int to_double(const char *s, size_t n, double *out)
{
    char small[128], *tmp = n < sizeof small ? small : malloc(n + 1);
    int rc = -1;
    if (!tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char dp = localeconv()->decimal_point[0];
    char *dot = strchr(tmp, '.');
    if (dot && dp && dp != '.')
        *dot = dp;
    errno = 0;
    char *end;
    double d = strtod(tmp, &end);
    if (end == tmp + n && isfinite(d)) {
        *out = d;
        rc = 0;
    }
    if (tmp != small)
        free(tmp);
    return rc;
}

/* Integral text (optional '-', digits) to int64; -1 on overflow. */
static int to_int64(const char *s, size_t n, int64_t *out)
{
    int neg = s[0] == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t i = (size_t)neg; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int parse_number(struct parser *p, struct json_value *v)
{
    size_t start = p->pos, i = p->pos;
    int integral = 1;
    if (i < p->n && p->s[i] == '-')
        i++;
    if (i >= p->n || p->s[i] < '0' || p->s[i] > '9')
        return perr(p, "invalid number");
    if (p->s[i] == '0') {
        i++;
        if (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') {
            p->pos = i;
            return perr(p, "leading zeros are not allowed in numbers");
        }
    } else {
        i = skip_digits(p, i);
    }
    if (i < p->n && p->s[i] == '.') {
        integral = 0;
        size_t j = skip_digits(p, i + 1);
        if (j == i + 1) {
            p->pos = j;
            return perr(p, "expected a digit after the decimal point");
        }
        i = j;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        size_t j = skip_digits(p, i);
        if (j == i) {
            p->pos = j;
            return perr(p, "expected a digit in the exponent");
        }
        i = j;
    }
    p->pos = i;
    if (integral && to_int64(p->s + start, i - start, &v->u.i) == 0) {
        v->type = JSON_INT;
        return 0;
    }
    v->type = JSON_DOUBLE;
    if (to_double(p->s + start, i - start, &v->u.d) != 0) {
        p->pos = start;
        return perr(p, "number out of range");
    }
    return 0;
}

/* ---------------------------------------------------------------- strings */

static int hex4(const struct parser *p, size_t i, unsigned *out)
{
    unsigned v = 0;
    if (p->n - i < 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        char c = p->s[i + k];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static int append_utf8(struct buf *b, unsigned cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xc0 | cp >> 6);
        t[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xe0 | cp >> 12);
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        t[0] = (char)(0xf0 | cp >> 18);
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return buf_append(b, t, n);
}

/* At p->pos: the 'u' of "\uXXXX". Decodes one code point (a surrogate pair counts as
 * one) and appends it as UTF-8. */
static int parse_u_escape(struct parser *p, struct buf *b)
{
    unsigned cp, lo;
    if (hex4(p, p->pos + 1, &cp) != 0)
        return perr(p, "\\u must be followed by four hex digits");
    p->pos += 5;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return p->pos -= 6, perr(p, "lone low surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p->n - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
            hex4(p, p->pos + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
            return perr(p, "high surrogate not followed by a low surrogate escape");
        p->pos += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return append_utf8(b, cp) == 0 ? 0 : perr(p, "out of memory");
}

static int parse_escape(struct parser *p, struct buf *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    p->pos++;                                   /* the backslash */
    int c = peek(p);
    if (c == 'u')
        return parse_u_escape(p, b);
    const char *k = c > 0 ? strchr(from, c) : NULL;
    if (!k)
        return perr(p, "invalid escape sequence");
    p->pos++;
    return buf_append_char(b, to[k - from]) == 0 ? 0 : perr(p, "out of memory");
}

/* Parses a string at p->pos (the opening quote) into b. */
static int parse_string_into(struct parser *p, struct buf *b)
{
    p->pos++;
    for (;;) {
        if (p->pos >= p->n)
            return perr(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 0;
        }
        if (c == '\\') {
            if (parse_escape(p, b) != 0)
                return -1;
            continue;
        }
        if (c < 0x20)
            return perr(p, "control character in string (must be escaped)");
        size_t k = enc_utf8_seq_len(p->s + p->pos, p->n - p->pos);
        if (k == 0)
            return perr(p, "invalid UTF-8 in string");
        if (buf_append(b, p->s + p->pos, k) != 0)
            return perr(p, "out of memory");
        p->pos += k;
    }
}

static int parse_string(struct parser *p, char **s_out, size_t *len_out)
{
    struct buf b = BUF_INIT;
    if (parse_string_into(p, &b) != 0) {
        buf_free(&b);
        return -1;
    }
    *len_out = b.len;
    *s_out = buf_steal(&b);
    return *s_out ? 0 : perr(p, "out of memory");
}

/* ---------------------------------------------------------------- containers */

/* Grows a vector of `size`-byte elements to hold one more; -1 when out of memory. */
static int grow(void **items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    void *np = realloc(*items, nc * size);
    if (!np)
        return -1;
    *items = np;
    *cap = nc;
    return 0;
}

static int parse_array(struct parser *p, struct json_value *v)
{
    size_t cap = 0;
    v->type = JSON_ARRAY;
    v->u.arr.items = NULL;
    v->u.arr.n = 0;
    p->pos++;
    skip_ws(p);
    if (peek(p) == ']') {
        p->pos++;
        return 0;
    }
    for (;;) {
        if (grow((void **)&v->u.arr.items, v->u.arr.n, &cap, sizeof *v->u.arr.items) != 0)
            return perr(p, "out of memory");
        struct json_value *item = &v->u.arr.items[v->u.arr.n];
        item->type = JSON_NULL;
        if (parse_value(p, item) != 0)
            return json_value_free_contents(item), -1;
        v->u.arr.n++;
        skip_ws(p);
        int c = peek(p);
        p->pos += c >= 0;
        if (c == ']')
            return 0;
        if (c != ',')
            return p->pos -= c >= 0, perr(p, "expected ',' or ']' in array");
    }
}

static int parse_member(struct parser *p, struct json_member *m)
{
    skip_ws(p);
    if (peek(p) != '"')
        return perr(p, "expected a string key in object");
    if (parse_string(p, &m->key, &m->key_len) != 0)
        return -1;
    skip_ws(p);
    if (peek(p) != ':')
        return perr(p, "expected ':' after object key");
    p->pos++;
    return parse_value(p, &m->value);
}

static int parse_object(struct parser *p, struct json_value *v)
{
    size_t cap = 0;
    v->type = JSON_OBJECT;
    v->u.obj.members = NULL;
    v->u.obj.n = 0;
    p->pos++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        return 0;
    }
    for (;;) {
        if (grow((void **)&v->u.obj.members, v->u.obj.n, &cap, sizeof *v->u.obj.members))
            return perr(p, "out of memory");
        struct json_member *m = &v->u.obj.members[v->u.obj.n];
        m->key = NULL;
        m->value.type = JSON_NULL;
        if (parse_member(p, m) != 0) {
            free(m->key);
            json_value_free_contents(&m->value);
            return -1;
        }
        v->u.obj.n++;
        skip_ws(p);
        int c = peek(p);
        p->pos += c >= 0;
        if (c == '}')
            return 0;
        if (c != ',')
            return p->pos -= c >= 0, perr(p, "expected ',' or '}' in object");
    }
}

static int parse_value(struct parser *p, struct json_value *v)
{
    skip_ws(p);
    int c = peek(p);
    v->type = JSON_NULL;
    if (c == '{' || c == '[') {
        if (++p->depth > p->max_depth)
            return perr(p, "nesting deeper than %zu levels", p->max_depth);
        int rc = c == '{' ? parse_object(p, v) : parse_array(p, v);
        p->depth--;
        return rc;
    }
    switch (c) {
    case '"':
        v->type = JSON_STRING;
        v->u.str.ptr = NULL;
        return parse_string(p, &v->u.str.ptr, &v->u.str.len);
    case 't':
        return parse_literal(p, "true", JSON_TRUE, v);
    case 'f':
        return parse_literal(p, "false", JSON_FALSE, v);
    case 'n':
        return parse_literal(p, "null", JSON_NULL, v);
    case -1:
        return perr(p, "unexpected end of input");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p, v);
        return perr(p, "unexpected character '%c'", c >= 0x20 && c < 0x7f ? c : '?');
    }
}

int json_parse(const char *text, size_t len, const struct json_limits *limits,
               struct json_value **root_out, struct json_error *err)
{
    struct parser p = {text, len, 0, 0, JSON_DEFAULT_MAX_DEPTH, err, 0};
    size_t max_size = JSON_DEFAULT_MAX_SIZE;
    *root_out = NULL;
    if (err) {
        err->offset = 0;
        err->message[0] = '\0';
    }
    if (limits && limits->max_depth)
        p.max_depth = limits->max_depth;
    if (limits && limits->max_size)
        max_size = limits->max_size;
    if (len > max_size) {
        p.pos = max_size;
        return perr(&p, "document larger than %zu bytes", max_size);
    }
    struct json_value *root = calloc(1, sizeof *root);
    if (!root)
        return perr(&p, "out of memory");
    if (parse_value(&p, root) != 0) {
        json_free(root);
        return -1;
    }
    skip_ws(&p);
    if (p.pos != p.n) {
        json_free(root);
        return perr(&p, "unexpected data after the JSON value");
    }
    *root_out = root;
    return 0;
}

/* ================================================================ lookups */

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = obj->u.obj.n; i-- > 0;) {
        const struct json_member *m = &obj->u.obj.members[i];
        if (m->key_len == kl && memcmp(m->key, key, kl) == 0)
            return &m->value;
    }
    return NULL;
}

const char *json_get_string(const struct json_value *obj, const char *key)
{
    const struct json_value *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->u.str.ptr : NULL;
}

const struct json_value *json_at(const struct json_value *arr, size_t i)
{
    if (!arr || arr->type != JSON_ARRAY || i >= arr->u.arr.n)
        return NULL;
    return &arr->u.arr.items[i];
}

const char *json_type_name(enum json_type t)
{
    switch (t) {
    case JSON_NULL:
        return "null";
    case JSON_FALSE:
    case JSON_TRUE:
        return "boolean";
    case JSON_INT:
    case JSON_DOUBLE:
        return "number";
    case JSON_STRING:
        return "string";
    case JSON_ARRAY:
        return "array";
    case JSON_OBJECT:
        return "object";
    }
    return "?";
}

/* ================================================================ writer */

/* Appends the escape for an ASCII byte that JSON does not allow as is. */
static int append_escape(struct buf *out, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"': return buf_append_str(out, "\\\"");
    case '\\': return buf_append_str(out, "\\\\");
    case '\n': return buf_append_str(out, "\\n");
    case '\r': return buf_append_str(out, "\\r");
    case '\t': return buf_append_str(out, "\\t");
    case '\b': return buf_append_str(out, "\\b");
    case '\f': return buf_append_str(out, "\\f");
    default: {
        char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        return buf_append_str(out, u);
    }
    }
}

/* Writes s quoted and escaped, copying runs of plain bytes at once. A byte that does not
 * start a well-formed UTF-8 sequence becomes U+FFFD (callers that must not get one check
 * the whole string first). */
static int write_string(struct buf *out, const char *s, size_t n)
{
    size_t run = 0;                     /* first byte not yet copied */
    int rc = buf_reserve(out, n + 2) | buf_append_char(out, '"');
    for (size_t i = 0; i < n && rc == 0;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c >= 0x80 ? enc_utf8_seq_len(s + i, n - i) : 1;
        if (k && c >= 0x20 && c != '"' && c != '\\') {
            i += k;
            continue;
        }
        if (i > run)
            rc |= buf_append(out, s + run, i - run);
        rc |= k ? append_escape(out, c) : buf_append(out, "\xef\xbf\xbd", 3);
        run = ++i;
    }
    if (n > run)
        rc |= buf_append(out, s + run, n - run);
    return rc | buf_append_char(out, '"');
}

static int write_string_or_undo(struct buf *out, const char *s, size_t n)
{
    size_t mark = out->len;
    if (write_string(out, s, n) == 0)
        return 0;
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    return -1;
}

int json_write_string(struct buf *out, const char *s, size_t n)
{
    if (!enc_utf8_valid(s, n))
        return -1;
    return write_string_or_undo(out, s, n);
}

int json_write_string_lossy(struct buf *out, const char *s, size_t n)
{
    return write_string_or_undo(out, s, n);
}

void jw_init(struct json_writer *w, struct buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->first[0] = 1;
}

/* Writes the separator a new value needs; -1 when no value is allowed here. */
static int jw_pre_value(struct json_writer *w)
{
    if (w->error)
        return -1;
    if (w->in_object[w->depth] && !w->after_key)
        return w->error = -1;               /* a value in an object needs a key first */
    if (w->depth == 0 && !w->first[0])
        return w->error = -1;               /* only one top-level value */
    if (!w->in_object[w->depth] && !w->first[w->depth] && buf_append_char(w->out, ','))
        return w->error = -1;
    w->first[w->depth] = 0;
    w->after_key = 0;
    return 0;
}

static void jw_raw(struct json_writer *w, const char *s)
{
    if (jw_pre_value(w) == 0 && buf_append_str(w->out, s) != 0)
        w->error = -1;
}

static void jw_open(struct json_writer *w, char c, int is_object)
{
    if (jw_pre_value(w) != 0)
        return;
    if (w->depth + 1 >= JSON_WRITER_MAX_DEPTH || buf_append_char(w->out, c) != 0) {
        w->error = -1;
        return;
    }
    w->depth++;
    w->first[w->depth] = 1;
    w->in_object[w->depth] = (unsigned char)is_object;
}

static void jw_close(struct json_writer *w, char c, int is_object)
{
    if (w->error)
        return;
    if (w->depth == 0 || w->in_object[w->depth] != is_object || w->after_key ||
        buf_append_char(w->out, c) != 0) {
        w->error = -1;
        return;
    }
    w->depth--;
}

void jw_object_begin(struct json_writer *w) { jw_open(w, '{', 1); }
void jw_object_end(struct json_writer *w) { jw_close(w, '}', 1); }
void jw_array_begin(struct json_writer *w) { jw_open(w, '[', 0); }
void jw_array_end(struct json_writer *w) { jw_close(w, ']', 0); }

void jw_key_n(struct json_writer *w, const char *key, size_t n)
{
    if (w->error)
        return;
    if (!w->in_object[w->depth] || w->after_key) {
        w->error = -1;
        return;
    }
    if ((!w->first[w->depth] && buf_append_char(w->out, ',') != 0) ||
        json_write_string(w->out, key, n) != 0 || buf_append_char(w->out, ':') != 0) {
        w->error = -1;
        return;
    }
    w->first[w->depth] = 0;
    w->after_key = 1;
}

void jw_key(struct json_writer *w, const char *key) { jw_key_n(w, key, strlen(key)); }

void jw_string_n(struct json_writer *w, const char *s, size_t n)
{
    if (jw_pre_value(w) == 0 && json_write_string(w->out, s, n) != 0)
        w->error = -1;
}

void jw_string(struct json_writer *w, const char *s) { jw_string_n(w, s, strlen(s)); }

void jw_int(struct json_writer *w, int64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    jw_raw(w, t);
}

void jw_double(struct json_writer *w, double v)
{
    char t[64];
    if (!isfinite(v)) {
        w->error = -1;
        return;
    }
    snprintf(t, sizeof t, "%.17g", v);
    char dp = localeconv()->decimal_point[0];
    char *d = dp && dp != '.' ? strchr(t, dp) : NULL;
    if (d)
        *d = '.';
    if (strspn(t, "-0123456789") == strlen(t))
        strcat(t, ".0");               /* stays a double when read back: 2.0, -0.0 */
    jw_raw(w, t);
}

void jw_bool(struct json_writer *w, int v) { jw_raw(w, v ? "true" : "false"); }
void jw_null(struct json_writer *w) { jw_raw(w, "null"); }

void jw_value(struct json_writer *w, const struct json_value *v)
{
    switch (v->type) {
    case JSON_NULL: jw_null(w); break;
    case JSON_FALSE: jw_bool(w, 0); break;
    case JSON_TRUE: jw_bool(w, 1); break;
    case JSON_INT: jw_int(w, v->u.i); break;
    case JSON_DOUBLE: jw_double(w, v->u.d); break;
    case JSON_STRING: jw_string_n(w, v->u.str.ptr, v->u.str.len); break;
    case JSON_ARRAY:
        jw_array_begin(w);
        for (size_t i = 0; i < v->u.arr.n; i++)
            jw_value(w, &v->u.arr.items[i]);
        jw_array_end(w);
        break;
    case JSON_OBJECT:
        jw_object_begin(w);
        for (size_t i = 0; i < v->u.obj.n; i++) {
            jw_key_n(w, v->u.obj.members[i].key, v->u.obj.members[i].key_len);
            jw_value(w, &v->u.obj.members[i].value);
        }
        jw_object_end(w);
        break;
    }
}

int jw_finish(struct json_writer *w)
{
    if (w->error || w->depth != 0 || w->first[0] || w->after_key)
        return -1;
    return 0;
}
