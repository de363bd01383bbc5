/*
 * encode.c — percent-encoding, hex, base64, SHA-256/HMAC (OpenSSL), constant-time
 * comparison, UTF-8 validation. See encode.h.
 */
#include "encode.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OPENSSL_SUPPRESS_DEPRECATED     /* SHA256_*: see "digests" below */
#include <openssl/crypto.h>
#include <openssl/sha.h>

static const char HEX_UPPER[] = "0123456789ABCDEF";

/* ---------------------------------------------------------------- percent-encoding */

/* 1 for the unreserved bytes A-Z a-z 0-9 - . _ ~ */
static const unsigned char UNRESERVED[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

int enc_is_unreserved(unsigned char c)
{
    return UNRESERVED[c];
}

size_t enc_uri_to(char *dst, const char *s, size_t n, unsigned flags)
{
    char *d = dst;
    int keep_slash = (flags & ENC_KEEP_SLASH) != 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (UNRESERVED[c] || (c == '/' && keep_slash)) {
            *d++ = (char)c;
        } else {
            d[0] = '%';
            d[1] = HEX_UPPER[c >> 4];
            d[2] = HEX_UPPER[c & 15];
            d += 3;
        }
    }
    return (size_t)(d - dst);
}

int enc_uri(struct buf *out, const char *s, size_t n, unsigned flags)
{
    if (n > (SIZE_MAX - 1) / 3 || buf_reserve(out, n * 3) != 0)
        return -1;
    out->len += enc_uri_to(out->data + out->len, s, n, flags);
    out->data[out->len] = '\0';
    return 0;
}

int enc_uri_str(struct buf *out, const char *s, unsigned flags)
{
    return enc_uri(out, s, strlen(s), flags);
}

int enc_uri_path_canonical(struct buf *out, const char *path, size_t n)
{
    return enc_uri(out, path, n, ENC_KEEP_SLASH);
}

int enc_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int enc_uri_decode_to(char *dst, const char *s, size_t n, unsigned flags, size_t *len_out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n &&
            (hi = enc_hex_digit((unsigned char)s[i + 1])) >= 0 &&
            (lo = enc_hex_digit((unsigned char)s[i + 2])) >= 0) {
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '%' && (flags & ENC_DECODE_STRICT)) {
            return -1;
        } else {
            dst[o++] = s[i];
        }
    }
    dst[o] = '\0';
    *len_out = o;
    return 0;
}

int enc_uri_decode(struct buf *out, const char *s, size_t n)
{
    size_t len;
    if (buf_reserve(out, n) != 0)
        return -1;
    enc_uri_decode_to(out->data + out->len, s, n, 0, &len);
    out->len += len;
    return 0;
}

/* ---------------------------------------------------------------- hex */

/* The two lowercase hex digits of every byte value. */
static const char HEX_PAIRS[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void enc_hex_to(char *dst, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++)
        memcpy(dst + 2 * i, HEX_PAIRS + 2 * p[i], 2);
    dst[2 * n] = '\0';
}

int enc_hex(struct buf *out, const void *bytes, size_t n)
{
    if (buf_reserve(out, 2 * n) != 0)
        return -1;
    enc_hex_to(out->data + out->len, bytes, n);
    out->len += 2 * n;
    return 0;
}

int enc_hex_decode(struct buf *out, const char *s, size_t n)
{
    if (n % 2 != 0)
        return -1;
    if (buf_reserve(out, n / 2) != 0)
        return -1;
    size_t mark = out->len;
    for (size_t i = 0; i < n; i += 2) {
        int hi = enc_hex_digit((unsigned char)s[i]), lo = enc_hex_digit((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) {
            out->len = mark;
            out->data[mark] = '\0';
            return -1;
        }
        out->data[out->len++] = (char)(hi << 4 | lo);
    }
    out->data[out->len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int enc_base64(struct buf *out, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    if (n > ((size_t)-1 / 4) * 3 - 3 || buf_reserve(out, (n + 2) / 3 * 4) != 0)
        return -1;
    char *d = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *d++ = B64[v >> 18];
        *d++ = B64[(v >> 12) & 63];
        *d++ = B64[(v >> 6) & 63];
        *d++ = B64[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        *d++ = B64[v >> 18];
        *d++ = B64[(v >> 12) & 63];
        *d++ = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        *d++ = '=';
    }
    out->len = (size_t)(d - out->data);
    *d = '\0';
    return 0;
}

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

/* Decodes one 4-char group into up to 3 bytes; returns the byte count or -1. */
static int b64_group(const char *g, int last, unsigned char dst[3])
{
    int v[4], pad = 0;
    for (int k = 0; k < 4; k++) {
        if (g[k] == '=' && last && k >= 2) {
            pad++;
            v[k] = 0;
            continue;
        }
        if (pad)                          /* data after '=' */
            return -1;
        if ((v[k] = b64_value((unsigned char)g[k])) < 0)
            return -1;
    }
    unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
    if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)))
        return -1;                        /* non-zero trailing bits */
    dst[0] = (unsigned char)(bits >> 16);
    dst[1] = (unsigned char)(bits >> 8);
    dst[2] = (unsigned char)bits;
    return 3 - pad;
}

int enc_base64_decode(struct buf *out, const char *s, size_t n)
{
    if (n % 4 != 0)
        return -1;
    if (buf_reserve(out, n / 4 * 3) != 0)
        return -1;
    size_t mark = out->len;
    for (size_t i = 0; i < n; i += 4) {
        unsigned char tmp[3];
        int got = b64_group(s + i, i + 4 == n, tmp);
        if (got < 0) {
            out->len = mark;
            out->data[mark] = '\0';
            return -1;
        }
        memcpy(out->data + out->len, tmp, (size_t)got);
        out->len += (size_t)got;
    }
    out->data[out->len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- digests */

/* SHA-256 through OpenSSL's SHA256_* functions, the ones its provider uses underneath
 * (with the CPU's SHA extensions when it has them). Not through EVP: the first EVP call
 * initialises OpenSSL's library context, reading openssl.cnf and loading the default
 * provider (about 1.5 ms of a 5 ms start-up), every init through EVP frees and
 * reallocates the digest context, and copying an EVP context allocates. A SHA256_CTX is
 * a plain struct: set up, copied and cleansed in place. These functions are deprecated
 * in OpenSSL 3 but kept (OPENSSL_SUPPRESS_DEPRECATED above: no warning for using them). */
struct enc_hasher {
    SHA256_CTX ctx;     /* re-initialised by every call */
};

/* SHA-256 of a then b (either may be empty) on ctx. */
static int digest2(SHA256_CTX *ctx, const void *a, size_t an, const void *b, size_t bn,
                   unsigned char out[ENC_SHA256_LEN])
{
    return SHA256_Init(ctx) == 1 && (an == 0 || SHA256_Update(ctx, a, an) == 1) &&
                   (bn == 0 || SHA256_Update(ctx, b, bn) == 1) && SHA256_Final(out, ctx) == 1
               ? 0
               : -1;
}

struct enc_hasher *enc_hasher_new(void)
{
    return calloc(1, sizeof(struct enc_hasher));
}

void enc_hasher_free(struct enc_hasher *h)
{
    if (!h)
        return;
    OPENSSL_cleanse(h, sizeof *h);
    free(h);
}

int enc_hasher_sha256(struct enc_hasher *h, const void *data, size_t n,
                      unsigned char out[ENC_SHA256_LEN])
{
    return digest2(&h->ctx, data, n, NULL, 0, out);
}

int enc_hasher_sha256_hex(struct enc_hasher *h, const void *data, size_t n,
                          char out[ENC_SHA256_HEX_LEN + 1])
{
    unsigned char md[ENC_SHA256_LEN];
    if (enc_hasher_sha256(h, data, n, md) != 0)
        return -1;
    enc_hex_to(out, md, sizeof md);
    return 0;
}

/* The HMAC key block (RFC 2104): the key, or its SHA-256 when longer than a block,
 * zero-padded to 64 bytes. */
static int hmac_block(SHA256_CTX *ctx, const void *key, size_t n, unsigned char block[64])
{
    memset(block, 0, 64);
    if (n > 64)
        return digest2(ctx, key, n, NULL, 0, block);
    if (n)
        memcpy(block, key, n);
    return 0;
}

static void xor_pad(unsigned char pad[64], const unsigned char block[64], unsigned char x)
{
    for (size_t i = 0; i < 64; i++)
        pad[i] = block[i] ^ x;
}

/* HMAC-SHA256 with a key used once, on ctx. */
static int hmac_on(SHA256_CTX *ctx, const void *key, size_t key_len, const void *data,
                   size_t n, unsigned char out[ENC_SHA256_LEN])
{
    struct {
        unsigned char pad[64];              /* the key block ^ 0x36, then ^ 0x5c */
        unsigned char inner[ENC_SHA256_LEN];
    } s;
    int rc = hmac_block(ctx, key, key_len, s.pad);     /* key is not read after this */
    xor_pad(s.pad, s.pad, 0x36);
    rc |= digest2(ctx, s.pad, 64, data, n, s.inner);
    xor_pad(s.pad, s.pad, 0x36 ^ 0x5c);
    rc |= digest2(ctx, s.pad, 64, s.inner, sizeof s.inner, out);
    OPENSSL_cleanse(&s, sizeof s);
    return rc ? -1 : 0;
}

int enc_hasher_hmac(struct enc_hasher *h, const void *key, size_t key_len, const void *data,
                    size_t n, unsigned char out[ENC_SHA256_LEN])
{
    return hmac_on(&h->ctx, key, key_len, data, n, out);
}

/* The digest states after the padded key blocks. */
struct enc_hmac_key {
    SHA256_CTX state[2];            /* [0] after the key block ^ 0x36, [1] ^ 0x5c */
};

struct enc_hmac_key *enc_hmac_key_new(struct enc_hasher *h, const void *key, size_t key_len)
{
    unsigned char block[64], pad[64];
    struct enc_hmac_key *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    int rc = hmac_block(&h->ctx, key, key_len, block);
    for (int i = 0; rc == 0 && i < 2; i++) {
        xor_pad(pad, block, i ? 0x5c : 0x36);
        rc = SHA256_Init(&k->state[i]) == 1 && SHA256_Update(&k->state[i], pad, 64) == 1
                 ? 0 : -1;
    }
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (rc != 0) {
        enc_hmac_key_free(k);
        k = NULL;
    }
    return k;
}

void enc_hmac_key_free(struct enc_hmac_key *k)
{
    if (!k)
        return;
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}

/* Hashes data on h's context, started as a copy of the key's state i (the key's states
 * stay as they are). */
static int finish_copy(struct enc_hasher *h, const struct enc_hmac_key *k, int i,
                       const void *data, size_t n, unsigned char out[ENC_SHA256_LEN])
{
    h->ctx = k->state[i];
    return (n == 0 || SHA256_Update(&h->ctx, data, n) == 1) && SHA256_Final(out, &h->ctx) == 1
               ? 0
               : -1;
}

int enc_hasher_hmac_with(struct enc_hasher *h, const struct enc_hmac_key *k, const void *data,
                         size_t n, unsigned char out[ENC_SHA256_LEN])
{
    unsigned char inner[ENC_SHA256_LEN];
    int rc = finish_copy(h, k, 0, data, n, inner) ||
             finish_copy(h, k, 1, inner, sizeof inner, out);
    OPENSSL_cleanse(inner, sizeof inner);
    return rc ? -1 : 0;
}

int enc_sha256(const void *data, size_t n, unsigned char out[ENC_SHA256_LEN])
{
    SHA256_CTX ctx;
    int rc = digest2(&ctx, data, n, NULL, 0, out);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return rc;
}

int enc_sha256_hex(const void *data, size_t n, char out[ENC_SHA256_HEX_LEN + 1])
{
    unsigned char md[ENC_SHA256_LEN];
    if (enc_sha256(data, n, md) != 0)
        return -1;
    enc_hex_to(out, md, sizeof md);
    return 0;
}

int enc_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                    unsigned char out[ENC_SHA256_LEN])
{
    SHA256_CTX ctx;
    int rc = hmac_on(&ctx, key, key_len, data, n, out);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return rc;
}

int enc_sha256_init(struct enc_sha256_ctx *ctx)
{
    SHA256_CTX *c = malloc(sizeof *c);
    if (c && SHA256_Init(c) != 1) {
        free(c);
        c = NULL;
    }
    ctx->md_ctx = c;
    return c ? 0 : -1;
}

int enc_sha256_update(struct enc_sha256_ctx *ctx, const void *data, size_t n)
{
    if (!ctx->md_ctx)
        return -1;
    return n == 0 || SHA256_Update(ctx->md_ctx, data, n) == 1 ? 0 : -1;
}

int enc_sha256_final(struct enc_sha256_ctx *ctx, unsigned char out[ENC_SHA256_LEN])
{
    int ok = ctx->md_ctx && SHA256_Final(out, ctx->md_ctx) == 1;
    enc_sha256_abort(ctx);
    return ok ? 0 : -1;
}

void enc_sha256_abort(struct enc_sha256_ctx *ctx)
{
    if (ctx->md_ctx) {
        OPENSSL_cleanse(ctx->md_ctx, sizeof(SHA256_CTX));
        free(ctx->md_ctx);
    }
    ctx->md_ctx = NULL;
}

/* ---------------------------------------------------------------- constant time */

int enc_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

int enc_ct_streq(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
    /* Every byte of the shorter length is compared, whatever differs: the time depends
     * on the lengths only. */
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 when malformed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;                    /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

int enc_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

int enc_utf8_valid_text(const char *s, size_t n)
{
    return (n == 0 || !memchr(s, 0, n)) && enc_utf8_valid(s, n);
}

size_t enc_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xc0) != 0x80;
    return count;
}

size_t enc_utf8_seq_len(const char *s, size_t n)
{
    return utf8_seq((const unsigned char *)s, n);
}
