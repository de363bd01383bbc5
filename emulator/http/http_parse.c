/* http_parse.c — pure parsers and encoders of the data-plane HTTP API; see http_parse.h. */
#include "http_parse.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ percent coding */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hp_percent_decode(const char *src, size_t n, char *dst, size_t *len_out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] != '%') {
            dst[o++] = src[i];
            continue;
        }
        if (i + 2 >= n)
            return -1;
        int hi = hex_value((unsigned char)src[i + 1]);
        int lo = hex_value((unsigned char)src[i + 2]);
        if (hi < 0 || lo < 0)
            return -1;
        dst[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    dst[o] = '\0';
    *len_out = o;
    return 0;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

int hp_uri_encode(struct buf *out, const char *bytes, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    if (buf_reserve(out, n * 3) != 0)
        return -1;
    char *p = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int hp_query_split(const char *q, size_t n, struct hp_query_param *out, int max)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && q[end] != '&')
            end++;
        if (end > i) {
            if (count == max)
                return -1;
            const char *eq = memchr(q + i, '=', end - i);
            struct hp_query_param *p = &out[count++];
            p->key = q + i;
            p->key_len = eq ? (size_t)(eq - (q + i)) : end - i;
            p->value = eq ? eq + 1 : "";
            p->value_len = eq ? (size_t)(q + end - (eq + 1)) : 0;
        }
        i = end + 1;
    }
    return count;
}

/* ------------------------------------------------------------------ base64 */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int hp_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *len_out)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)src[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad)
                return -1;          /* data after '=' */
            v[k] = b64_value(c);
            if (v[k] < 0)
                return -1;
        }
        if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
            return -1;              /* bits after the data must be zero (canonical form) */
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        dst[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            dst[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            dst[o++] = (uint8_t)w;
    }
    *len_out = o;
    return 0;
}

int hp_base64_encode(struct buf *out, const uint8_t *src, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (buf_reserve(out, (n + 2) / 3 * 4) != 0)
        return -1;
    char *p = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        *p++ = alphabet[w >> 18];
        *p++ = alphabet[(w >> 12) & 63];
        *p++ = alphabet[(w >> 6) & 63];
        *p++ = alphabet[w & 63];
    }
    if (i < n) {
        uint32_t w = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);
        *p++ = alphabet[w >> 18];
        *p++ = alphabet[(w >> 12) & 63];
        *p++ = i + 1 < n ? alphabet[(w >> 6) & 63] : '=';
        *p++ = '=';
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return c ? 1 : 0;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

bool hp_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

size_t hp_utf8_length(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

/* ------------------------------------------------------------------ user properties JSON */

struct jp {
    const char *s;
    size_t n, i;
    const char *why;
};

static void jp_space(struct jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static bool jp_take(struct jp *p, char c)
{
    jp_space(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

static int jp_hex4(struct jp *p, uint32_t *out)
{
    if (p->n - p->i < 4)
        return -1;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hex_value((unsigned char)p->s[p->i + (size_t)k]);
        if (h < 0)
            return -1;
        v = v << 4 | (uint32_t)h;
    }
    p->i += 4;
    *out = v;
    return 0;
}

static int put_utf8(struct buf *b, uint32_t cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | cp >> 6);
        t[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | cp >> 12);
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | cp >> 18);
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(b, t, n);
}

/* \uXXXX (with a surrogate pair when needed); p->i is just past the 'u'. */
static int jp_unicode(struct jp *p, struct buf *arena)
{
    uint32_t cp;
    if (jp_hex4(p, &cp) != 0)
        return -1;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
            return -1;
        p->i += 2;
        if (jp_hex4(p, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return -1;
    }
    if (cp == 0)
        return -1;      /* a NUL cannot be an MQTT string */
    return put_utf8(arena, cp);
}

static int jp_escape(struct jp *p, struct buf *arena)
{
    if (p->i >= p->n)
        return -1;
    char c = p->s[p->i++];
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit)
        return buf_append_char(arena, to[hit - from]);
    if (c == 'u')
        return jp_unicode(p, arena);
    return -1;
}

/* A JSON string into arena (NUL-terminated); *off_out is where it starts. */
static int jp_string(struct jp *p, struct buf *arena, size_t *off_out)
{
    if (!jp_take(p, '"')) {
        p->why = "expected a string";
        return -1;
    }
    *off_out = arena->len;
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) {
            p->why = "control character in a string";
            return -1;
        }
        if (c == '\\') {
            if (buf_append(arena, p->s + start, p->i - start) != 0)
                return -1;
            p->i++;
            if (jp_escape(p, arena) != 0) {
                p->why = "bad escape in a string";
                return -1;
            }
            start = p->i;
            continue;
        }
        p->i++;
    }
    if (p->i >= p->n) {
        p->why = "unterminated string";
        return -1;
    }
    if (buf_append(arena, p->s + start, p->i - start) != 0 || buf_append_char(arena, 0) != 0)
        return -1;
    p->i++;
    size_t len = arena->len - 1 - *off_out;
    if (!hp_utf8_valid(arena->data + *off_out, len)) {
        p->why = "a string is not valid UTF-8";
        return -1;
    }
    return 0;
}

/* One {"k":"v",...} object; appends its members to props. */
static int jp_object(struct jp *p, struct buf *arena, struct hp_user_property *props,
                     int max, int *count)
{
    if (!jp_take(p, '{')) {
        p->why = "expected an object";
        return -1;
    }
    if (jp_take(p, '}'))
        return 0;
    do {
        if (*count == max) {
            p->why = "too many user properties";
            return -1;
        }
        struct hp_user_property *up = &props[*count];
        if (jp_string(p, arena, &up->key_off) != 0)
            return -1;
        if (!jp_take(p, ':')) {
            p->why = "expected ':'";
            return -1;
        }
        if (jp_string(p, arena, &up->value_off) != 0) {
            p->why = "user property values must be strings";
            return -1;
        }
        (*count)++;
    } while (jp_take(p, ','));
    if (!jp_take(p, '}')) {
        p->why = "expected '}'";
        return -1;
    }
    return 0;
}

int hp_user_properties_parse(const char *json, size_t n, struct buf *arena,
                             struct hp_user_property *props_out, int max,
                             const char **why_out)
{
    struct jp p = {json, n, 0, NULL};
    int count = 0;
    if (!jp_take(&p, '[')) {
        p.why = "expected a JSON array of objects";
        goto fail;
    }
    if (!jp_take(&p, ']')) {
        do {
            if (jp_object(&p, arena, props_out, max, &count) != 0)
                goto fail;
        } while (jp_take(&p, ','));
        if (!jp_take(&p, ']')) {
            p.why = "expected ']'";
            goto fail;
        }
    }
    jp_space(&p);
    if (p.i != p.n) {
        p.why = "text after the JSON array";
        goto fail;
    }
    return count;
fail:
    *why_out = p.why ? p.why : "out of memory";
    return -1;
}

/* ------------------------------------------------------------------ AWS IoT rules */

const char *hp_topic_problem(const char *topic, size_t n)
{
    if (n == 0)
        return "the topic is empty";
    if (n > 256)
        return "the topic is longer than 256 bytes";
    if (!hp_utf8_valid(topic, n))
        return "the topic is not valid UTF-8";
    if (memchr(topic, '+', n) || memchr(topic, '#', n))
        return "the topic contains a wildcard ('+' or '#')";
    size_t start = 0;
    static const char rules[] = "$aws/rules/";
    if (n > sizeof rules - 1 && memcmp(topic, rules, sizeof rules - 1) == 0) {
        const char *slash = memchr(topic + sizeof rules - 1, '/', n - (sizeof rules - 1));
        if (slash)
            start = (size_t)(slash - topic) + 1;
    }
    int slashes = 0;
    for (size_t i = start; i < n; i++)
        slashes += topic[i] == '/';
    if (slashes > 7)
        return "the topic has more than 7 forward slashes";
    return NULL;
}

const char *hp_client_id_problem(const char *client_id, size_t n)
{
    if (n == 0)
        return "clientId is empty";
    if (!hp_utf8_valid(client_id, n))
        return "clientId is not valid UTF-8";
    if (hp_utf8_length(client_id, n) > 128)
        return "clientId is longer than 128 characters";
    if (client_id[0] == '$')
        return "clientId must not start with '$'";
    return NULL;
}

int hp_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n || n - i > 18)
        return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int hp_parse_bool(const char *s, size_t n, bool *out)
{
    if (n == 4 && memcmp(s, "true", 4) == 0)
        *out = true;
    else if (n == 5 && memcmp(s, "false", 5) == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ page tokens */

/* Token text: "v1." + 16 hex digits of the offset + 16 hex digits of a MAC. */
static void page_mac(uint64_t offset, const char *client_id, const uint8_t key[16],
                     uint8_t mac_out[8])
{
    uint8_t msg[8];
    for (int k = 0; k < 8; k++)
        msg[k] = (uint8_t)(offset >> (56 - 8 * k));
    uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int full_len = 0;
    struct buf data = BUF_INIT;
    if (buf_append(&data, msg, 8) == 0 && buf_append_str(&data, client_id) == 0)
        HMAC(EVP_sha256(), key, 16, (const unsigned char *)data.data, data.len, full,
             &full_len);
    else
        memset(full, 0, sizeof full);
    buf_free(&data);
    memcpy(mac_out, full, 8);
}

int hp_page_token_encode(struct buf *out, uint64_t offset, const char *client_id,
                         const uint8_t key[16])
{
    uint8_t mac[8];
    page_mac(offset, client_id, key, mac);
    return buf_printf(out, "v1.%016llx%02x%02x%02x%02x%02x%02x%02x%02x",
                      (unsigned long long)offset, mac[0], mac[1], mac[2], mac[3], mac[4],
                      mac[5], mac[6], mac[7]);
}

int hp_page_token_decode(const char *token, size_t n, const char *client_id,
                         const uint8_t key[16], uint64_t *offset_out)
{
    if (n != 35 || memcmp(token, "v1.", 3) != 0)
        return -1;
    uint8_t bytes[16];
    for (int k = 0; k < 16; k++) {
        int hi = hex_value((unsigned char)token[3 + 2 * k]);
        int lo = hex_value((unsigned char)token[4 + 2 * k]);
        if (hi < 0 || lo < 0)
            return -1;
        bytes[k] = (uint8_t)(hi * 16 + lo);
    }
    uint64_t offset = 0;
    for (int k = 0; k < 8; k++)
        offset = offset << 8 | bytes[k];
    uint8_t mac[8];
    page_mac(offset, client_id, key, mac);
    if (CRYPTO_memcmp(mac, bytes + 8, 8) != 0)
        return -1;
    *offset_out = offset;
    return 0;
}
