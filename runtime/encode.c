/*
 * encode.c — percent-encoding, hex, base64, SHA-256/HMAC (OpenSSL EVP), constant-time
 * comparison, UTF-8 validation. See encode.h.
 */
#include "encode.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

static const char HEX_UPPER[] = "0123456789ABCDEF";

/* ---- percent-encoding --------------------------------------------------------------- */

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

/* ---- hex ---------------------------------------------------------------------------- */

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

/* ---- base64 ------------------------------------------------------------------------- */

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

/* ---- digests ------------------------------------------------------------------------ */

/* SHA-256 is fetched once per process and kept (read-only, so threads share it): OpenSSL
 * 3 looks EVP_sha256() up again at every use. Should the fetch fail, EVP_sha256() still
 * works, only slower.
 *
 * The hasher goes one step further: it calls the fetched implementation's own functions,
 * found once in the provider it came from (OSSL_PROVIDER_query_operation, provider-
 * digest(7)). Through EVP every init frees and reallocates the algorithm's context and
 * re-checks for engines: about 40 of the ~100 ns a one-block hash takes. When the
 * functions are not all there, everything goes through EVP. */
static CRYPTO_ONCE sha256_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *sha256_fetched;

static struct {
    void *provctx;
    OSSL_FUNC_digest_newctx_fn *newctx;
    OSSL_FUNC_digest_freectx_fn *freectx;
    OSSL_FUNC_digest_dupctx_fn *dupctx;
    OSSL_FUNC_digest_init_fn *init;
    OSSL_FUNC_digest_update_fn *update;
    OSSL_FUNC_digest_final_fn *final;
} direct;                       /* all set, or all NULL */

/* True when a provider's name list ("SHA2-256:SHA-256:SHA256:...") names SHA-256. */
static int names_sha256(const char *names)
{
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, ":");
        if ((n == 8 && strncasecmp(p, "SHA2-256", 8) == 0) ||
            (n == 6 && strncasecmp(p, "SHA256", 6) == 0))
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* Takes the six functions the hasher calls from an implementation's dispatch table. */
static void take_functions(const OSSL_DISPATCH *d, void *provctx)
{
    for (; d->function_id; d++) {
        switch (d->function_id) {
        case OSSL_FUNC_DIGEST_NEWCTX: direct.newctx = OSSL_FUNC_digest_newctx(d); break;
        case OSSL_FUNC_DIGEST_FREECTX: direct.freectx = OSSL_FUNC_digest_freectx(d); break;
        case OSSL_FUNC_DIGEST_DUPCTX: direct.dupctx = OSSL_FUNC_digest_dupctx(d); break;
        case OSSL_FUNC_DIGEST_INIT: direct.init = OSSL_FUNC_digest_init(d); break;
        case OSSL_FUNC_DIGEST_UPDATE: direct.update = OSSL_FUNC_digest_update(d); break;
        case OSSL_FUNC_DIGEST_FINAL: direct.final = OSSL_FUNC_digest_final(d); break;
        default: break;
        }
    }
    direct.provctx = provctx;
    if (!direct.newctx || !direct.freectx || !direct.dupctx || !direct.init ||
        !direct.update || !direct.final || !direct.provctx)
        memset(&direct, 0, sizeof direct);
}

/* Looks SHA-256 up in the provider of the fetched digest (which stays loaded: the
 * fetched EVP_MD, kept for the process, holds a reference to it). */
static void find_direct(const EVP_MD *md)
{
    const OSSL_PROVIDER *prov = EVP_MD_get0_provider(md);
    int no_cache = 0;
    const OSSL_ALGORITHM *algs =
        prov ? OSSL_PROVIDER_query_operation(prov, OSSL_OP_DIGEST, &no_cache) : NULL;
    for (const OSSL_ALGORITHM *a = algs; a && a->algorithm_names; a++)
        if (names_sha256(a->algorithm_names)) {
            take_functions(a->implementation, OSSL_PROVIDER_get0_provider_ctx(prov));
            break;
        }
    if (algs)
        OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_DIGEST, algs);
}

static void fetch_sha256(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_fetched)
        find_direct(sha256_fetched);
}

static const EVP_MD *sha256_md(void)
{
    if (!CRYPTO_THREAD_run_once(&sha256_once, fetch_sha256) || !sha256_fetched)
        return EVP_sha256();
    return sha256_fetched;
}

/* Either an EVP context or (direct) the implementation's own context. */
struct enc_hasher {
    EVP_MD_CTX *ctx;    /* re-initialised by every call; NULL while direct is used */
    void *direct;
};

/* Finishes a hash started on h: adds b[0..bn) and writes the digest. */
static int direct_final(void *c, const void *b, size_t bn, unsigned char out[ENC_SHA256_LEN])
{
    size_t len = 0;
    return (bn == 0 || direct.update(c, b, bn)) && direct.final(c, out, &len, ENC_SHA256_LEN) &&
                   len == ENC_SHA256_LEN
               ? 0
               : -1;
}

/* SHA-256 of a then b (either may be empty), on h's reused context. */
static int digest2(struct enc_hasher *h, const void *a, size_t an, const void *b, size_t bn,
                   unsigned char out[ENC_SHA256_LEN])
{
    unsigned int len = 0;
    if (h->direct)
        return direct.init(h->direct, NULL) && (an == 0 || direct.update(h->direct, a, an))
                   ? direct_final(h->direct, b, bn, out)
                   : -1;
    return EVP_DigestInit_ex2(h->ctx, sha256_md(), NULL) == 1 &&
                   EVP_DigestUpdate(h->ctx, a ? a : "", an) == 1 &&
                   EVP_DigestUpdate(h->ctx, b ? b : "", bn) == 1 &&
                   EVP_DigestFinal_ex(h->ctx, out, &len) == 1 && len == ENC_SHA256_LEN
               ? 0
               : -1;
}

static struct enc_hasher *hasher_new(int evp_only)
{
    struct enc_hasher *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    sha256_md();                    /* the fetch, once */
    if (!evp_only && direct.newctx)
        h->direct = direct.newctx(direct.provctx);
    if (!h->direct && !(h->ctx = EVP_MD_CTX_new())) {
        free(h);
        return NULL;
    }
    return h;
}

struct enc_hasher *enc_hasher_new(void)
{
    return hasher_new(0);
}

struct enc_hasher *enc_hasher_new_evp(void)
{
    return hasher_new(1);
}

int enc_hasher_direct(const struct enc_hasher *h)
{
    return h->direct != NULL;
}

void enc_hasher_free(struct enc_hasher *h)
{
    if (!h)
        return;
    if (h->direct)
        direct.freectx(h->direct);  /* the implementation cleanses it */
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int enc_hasher_sha256(struct enc_hasher *h, const void *data, size_t n,
                      unsigned char out[ENC_SHA256_LEN])
{
    return digest2(h, data, n, NULL, 0, out);
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
static int hmac_block(struct enc_hasher *h, const void *key, size_t n, unsigned char block[64])
{
    memset(block, 0, 64);
    if (n > 64)
        return digest2(h, key, n, NULL, 0, block);
    if (n)
        memcpy(block, key, n);
    return 0;
}

static void xor_pad(unsigned char pad[64], const unsigned char block[64], unsigned char x)
{
    for (size_t i = 0; i < 64; i++)
        pad[i] = block[i] ^ x;
}

int enc_hasher_hmac(struct enc_hasher *h, const void *key, size_t key_len, const void *data,
                    size_t n, unsigned char out[ENC_SHA256_LEN])
{
    struct {
        unsigned char pad[64];              /* the key block ^ 0x36, then ^ 0x5c */
        unsigned char inner[ENC_SHA256_LEN];
    } s;
    int rc = hmac_block(h, key, key_len, s.pad);       /* key is not read after this */
    xor_pad(s.pad, s.pad, 0x36);
    rc |= digest2(h, s.pad, 64, data, n, s.inner);
    xor_pad(s.pad, s.pad, 0x36 ^ 0x5c);
    rc |= digest2(h, s.pad, 64, s.inner, sizeof s.inner, out);
    OPENSSL_cleanse(&s, sizeof s);
    return rc ? -1 : 0;
}

/* The digest states after the padded key blocks: the implementation's own contexts
 * (state) when the hasher that made the key calls it directly, else EVP contexts. */
struct enc_hmac_key {
    void *state[2];                 /* [0] after the key block ^ 0x36, [1] ^ 0x5c */
    EVP_MD_CTX *evp[2];
};

/* Starts context i (0 inner, 1 outer) with the padded key block. */
static int start_pad(struct enc_hmac_key *k, int i, const unsigned char block[64])
{
    unsigned char pad[64];
    xor_pad(pad, block, i ? 0x5c : 0x36);
    int ok = k->state[i] ? direct.init(k->state[i], NULL) && direct.update(k->state[i], pad, 64)
                         : EVP_DigestInit_ex2(k->evp[i], sha256_md(), NULL) == 1 &&
                               EVP_DigestUpdate(k->evp[i], pad, 64) == 1;
    OPENSSL_cleanse(pad, sizeof pad);
    return ok ? 0 : -1;
}

struct enc_hmac_key *enc_hmac_key_new(struct enc_hasher *h, const void *key, size_t key_len)
{
    unsigned char block[64];
    struct enc_hmac_key *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    int rc = hmac_block(h, key, key_len, block);
    for (int i = 0; rc == 0 && i < 2; i++) {
        if (h->direct)
            k->state[i] = direct.newctx(direct.provctx);
        else
            k->evp[i] = EVP_MD_CTX_new();
        rc = k->state[i] || k->evp[i] ? start_pad(k, i, block) : -1;
    }
    OPENSSL_cleanse(block, sizeof block);
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
    for (int i = 0; i < 2; i++) {
        if (k->state[i])
            direct.freectx(k->state[i]);    /* both kinds cleanse the states */
        EVP_MD_CTX_free(k->evp[i]);
    }
    free(k);
}

/* Hashes data on a copy of the key's context i (the key's contexts stay as they are). */
static int finish_copy(struct enc_hasher *h, const struct enc_hmac_key *k, int i,
                       const void *data, size_t n, unsigned char out[ENC_SHA256_LEN])
{
    unsigned int len = 0;
    if (k->state[i]) {
        void *c = direct.dupctx(k->state[i]);
        int rc = c ? direct_final(c, data, n, out) : -1;
        if (c)
            direct.freectx(c);
        return rc;
    }
    if (!h->ctx && !(h->ctx = EVP_MD_CTX_new()))
        return -1;
    return EVP_MD_CTX_copy_ex(h->ctx, k->evp[i]) == 1 &&
                   EVP_DigestUpdate(h->ctx, data ? data : "", n) == 1 &&
                   EVP_DigestFinal_ex(h->ctx, out, &len) == 1 && len == ENC_SHA256_LEN
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
    unsigned int len = 0;
    return EVP_Digest(data ? data : "", n, out, &len, sha256_md(), NULL) == 1 &&
                   len == ENC_SHA256_LEN
               ? 0
               : -1;
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
    struct enc_hasher h = {EVP_MD_CTX_new(), NULL};
    int rc = h.ctx ? enc_hasher_hmac(&h, key, key_len, data, n, out) : -1;
    EVP_MD_CTX_free(h.ctx);
    return rc;
}

int enc_sha256_init(struct enc_sha256_ctx *ctx)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return -1;
    if (EVP_DigestInit_ex2(md, sha256_md(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        ctx->md_ctx = NULL;
        return -1;
    }
    ctx->md_ctx = md;
    return 0;
}

int enc_sha256_update(struct enc_sha256_ctx *ctx, const void *data, size_t n)
{
    if (!ctx->md_ctx)
        return -1;
    return n == 0 || EVP_DigestUpdate(ctx->md_ctx, data, n) == 1 ? 0 : -1;
}

int enc_sha256_final(struct enc_sha256_ctx *ctx, unsigned char out[ENC_SHA256_LEN])
{
    unsigned int len = 0;
    int ok = ctx->md_ctx && EVP_DigestFinal_ex(ctx->md_ctx, out, &len) == 1 &&
             len == ENC_SHA256_LEN;
    enc_sha256_abort(ctx);
    return ok ? 0 : -1;
}

void enc_sha256_abort(struct enc_sha256_ctx *ctx)
{
    EVP_MD_CTX_free(ctx->md_ctx);
    ctx->md_ctx = NULL;
}

/* ---- constant time ------------------------------------------------------------------ */

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

/* ---- UTF-8 -------------------------------------------------------------------------- */

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
