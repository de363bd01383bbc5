/*
 * json_compact.c — JSON text rewritten compact, byte for byte as botocore writes it in
 * jsonvalue headers (json_compact.h).
 *
 * Why this is its own small scanner and not json.h's parser + writer: the header must be
 * byte-identical to what botocore sends (json.dumps(v, separators=(',', ':'))), and the
 * DOM loses what that needs. json.h turns numbers into int64/double, so integers beyond
 * int64 would come back in another form, while this keeps a number's text; json.h
 * rejects a lone surrogate escape ("\ud800"), which Python accepts and writes back as
 * is; and json.h's writer keeps non-ASCII as UTF-8 where Python (ensure_ascii) writes
 * \uXXXX. Only the checks are shared (encode.h: UTF-8 validation, hex digits), and
 * fuzz/fuzz_json_compact.c holds it to json.h: whatever json.h accepts this accepts, and
 * its output parses there too.
 *
 * Known difference from Python (unchanged, asserted by test_marshal): numbers keep their
 * text, so "1.50" or "-1.5e3" stay so where Python prints 1.5 and -1500.0. User
 * properties are string pairs, so this does not arise for them.
 */
#include "json_compact.h"

#include <stdio.h>
#include <string.h>

#include "encode.h"

struct jc {
    const unsigned char *s;
    size_t n, i;
    struct buf *out;
    const char *why;
    int depth;
};

static void jc_ws(struct jc *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static int jc_err(struct jc *j, const char *why)
{
    if (!j->why)
        j->why = why;
    return -1;
}

static int jc_hex4(struct jc *j, unsigned *cp_out)
{
    if (j->n - j->i < 4)
        return jc_err(j, "truncated \\u escape");
    unsigned cp = 0;
    for (int k = 0; k < 4; k++) {
        int h = enc_hex_digit(j->s[j->i + (size_t)k]);
        if (h < 0)
            return jc_err(j, "bad \\u escape");
        cp = cp * 16 + (unsigned)h;
    }
    j->i += 4;
    *cp_out = cp;
    return 0;
}

/* Emit a code point the way Python's json.dumps (ensure_ascii) does. */
static int jc_emit_cp(struct jc *j, unsigned cp)
{
    static const char *const esc[] = {['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n",
                                      ['\r'] = "\\r", ['\t'] = "\\t"};
    if (cp == '"')
        return buf_append_str(j->out, "\\\"");
    if (cp == '\\')
        return buf_append_str(j->out, "\\\\");
    if (cp < 0x20 && cp < sizeof esc / sizeof esc[0] && esc[cp])
        return buf_append_str(j->out, esc[cp]);
    if (cp >= 0x20 && cp < 0x7f)
        return buf_append_char(j->out, (char)cp);
    if (cp >= 0x10000) {
        unsigned v = cp - 0x10000;
        return buf_printf(j->out, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    }
    return buf_printf(j->out, "\\u%04x", cp);
}

/* Decode one UTF-8 sequence starting at j->i (already validated as a whole). */
static unsigned jc_utf8(struct jc *j)
{
    const unsigned char *s = j->s + j->i;
    unsigned cp;
    size_t len;
    if (s[0] < 0xE0) {
        cp = s[0] & 0x1F;
        len = 2;
    } else if (s[0] < 0xF0) {
        cp = s[0] & 0x0F;
        len = 3;
    } else {
        cp = s[0] & 0x07;
        len = 4;
    }
    for (size_t k = 1; k < len; k++)
        cp = (cp << 6) | (s[k] & 0x3F);
    j->i += len;
    return cp;
}

static int jc_escape(struct jc *j, unsigned *cp_out)
{
    if (j->i >= j->n)
        return jc_err(j, "truncated escape");
    unsigned char c = j->s[j->i++];
    switch (c) {
    case '"': *cp_out = '"'; return 0;
    case '\\': *cp_out = '\\'; return 0;
    case '/': *cp_out = '/'; return 0;
    case 'b': *cp_out = '\b'; return 0;
    case 'f': *cp_out = '\f'; return 0;
    case 'n': *cp_out = '\n'; return 0;
    case 'r': *cp_out = '\r'; return 0;
    case 't': *cp_out = '\t'; return 0;
    case 'u': break;
    default: return jc_err(j, "bad escape in a string");
    }
    unsigned cp;
    if (jc_hex4(j, &cp) != 0)
        return -1;
    if (cp >= 0xD800 && cp < 0xDC00 && j->n - j->i >= 6 && j->s[j->i] == '\\' &&
        j->s[j->i + 1] == 'u') {
        size_t save = j->i;
        unsigned lo;
        j->i += 2;
        if (jc_hex4(j, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
            *cp_out = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            return 0;
        }
        j->why = NULL;
        j->i = save;
    }
    *cp_out = cp;   /* a lone surrogate is kept as Python keeps it */
    return 0;
}

static int jc_string(struct jc *j)
{
    j->i++;     /* opening quote */
    if (buf_append_char(j->out, '"') != 0)
        return jc_err(j, "out of memory");
    while (j->i < j->n) {
        unsigned char c = j->s[j->i];
        unsigned cp;
        if (c == '"') {
            j->i++;
            return buf_append_char(j->out, '"') == 0 ? 0 : jc_err(j, "out of memory");
        }
        if (c < 0x20)
            return jc_err(j, "control character in a string");
        if (c == '\\') {
            j->i++;
            if (jc_escape(j, &cp) != 0)
                return -1;
        } else if (c >= 0x80) {
            cp = jc_utf8(j);
        } else {
            cp = c;
            j->i++;
        }
        if (jc_emit_cp(j, cp) != 0)
            return jc_err(j, "out of memory");
    }
    return jc_err(j, "unterminated string");
}

static int jc_number(struct jc *j)
{
    size_t st = j->i;
    if (j->s[j->i] == '-')
        j->i++;
    size_t digits = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        j->i++;
    if (j->i == digits || (j->s[digits] == '0' && j->i - digits > 1))
        return jc_err(j, "bad number");
    if (j->i < j->n && j->s[j->i] == '.') {
        size_t f = ++j->i;
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
        if (j->i == f)
            return jc_err(j, "bad number");
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        size_t e = j->i;
        while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
            j->i++;
        if (j->i == e)
            return jc_err(j, "bad number");
    }
    return buf_append(j->out, j->s + st, j->i - st) == 0 ? 0 : jc_err(j, "out of memory");
}

static int jc_value(struct jc *j);

static int jc_container(struct jc *j, char open, char close)
{
    int is_obj = open == '{';
    if (++j->depth > 64)
        return jc_err(j, "nested too deeply");
    j->i++;
    if (buf_append_char(j->out, open) != 0)
        return jc_err(j, "out of memory");
    jc_ws(j);
    if (j->i < j->n && j->s[j->i] == (unsigned char)close) {
        j->i++;
        j->depth--;
        return buf_append_char(j->out, close) == 0 ? 0 : jc_err(j, "out of memory");
    }
    for (;;) {
        jc_ws(j);
        if (is_obj) {
            if (j->i >= j->n || j->s[j->i] != '"')
                return jc_err(j, "object key must be a string");
            if (jc_string(j) != 0)
                return -1;
            jc_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':')
                return jc_err(j, "':' expected");
            j->i++;
            if (buf_append_char(j->out, ':') != 0)
                return jc_err(j, "out of memory");
        }
        if (jc_value(j) != 0)
            return -1;
        jc_ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            if (buf_append_char(j->out, ',') != 0)
                return jc_err(j, "out of memory");
            continue;
        }
        if (j->i < j->n && j->s[j->i] == (unsigned char)close) {
            j->i++;
            j->depth--;
            return buf_append_char(j->out, close) == 0 ? 0 : jc_err(j, "out of memory");
        }
        return jc_err(j, is_obj ? "',' or '}' expected" : "',' or ']' expected");
    }
}

static int jc_literal(struct jc *j, const char *lit)
{
    size_t n = strlen(lit);
    if (j->n - j->i < n || memcmp(j->s + j->i, lit, n) != 0)
        return jc_err(j, "unexpected character");
    j->i += n;
    return buf_append(j->out, lit, n) == 0 ? 0 : jc_err(j, "out of memory");
}

static int jc_value(struct jc *j)
{
    jc_ws(j);
    if (j->i >= j->n)
        return jc_err(j, "unexpected end of text");
    unsigned char c = j->s[j->i];
    switch (c) {
    case '{': return jc_container(j, '{', '}');
    case '[': return jc_container(j, '[', ']');
    case '"': return jc_string(j);
    case 't': return jc_literal(j, "true");
    case 'f': return jc_literal(j, "false");
    case 'n': return jc_literal(j, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return jc_number(j);
        return jc_err(j, "unexpected character");
    }
}

int iot_json_compact(const char *s, size_t n, struct buf *out, char *msg, size_t msglen)
{
    size_t mark = out->len;
    struct jc j = {(const unsigned char *)s, n, 0, out, NULL, 0};
    if (!enc_utf8_valid(s, n))
        j.why = "not valid UTF-8";
    else if (jc_value(&j) == 0) {
        jc_ws(&j);
        if (j.i == j.n)
            return 0;
        j.why = "trailing characters after the value";
    }
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    if (msg && msglen)
        snprintf(msg, msglen, "%s at byte %zu", j.why ? j.why : "invalid", j.i);
    return -1;
}
