/*
 * encode.h — byte encodings and digests used on the wire: percent-encoding (the SigV4
 * / AWS URI rules), hex, base64, SHA-256, HMAC-SHA256 (OpenSSL EVP) and constant-time
 * comparison.
 *
 * Conventions: functions that write into a struct buf append to it and return 0, or -1
 * when memory runs out or (for decoders) the input is invalid; on -1 the buffer's
 * previous contents are kept but anything appended by the failed call is removed.
 * Digest functions return 0 on success, -1 when OpenSSL fails.
 */
#ifndef IOTLUA_ENCODE_H
#define IOTLUA_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ENC_SHA256_LEN 32
#define ENC_SHA256_HEX_LEN 64          /* + 1 for the NUL */

/* ---------------------------------------------------------------- percent-encoding
 * Unreserved bytes A-Z a-z 0-9 - . _ ~ are kept, every other byte becomes %XX with
 * uppercase hex. ENC_KEEP_SLASH also keeps '/' (for whole paths). */
enum { ENC_KEEP_SLASH = 1 };

int enc_uri(struct buf *out, const char *s, size_t n, unsigned flags);
int enc_uri_str(struct buf *out, const char *s, unsigned flags);   /* NUL-terminated s */
/* The same encoding into dst, which needs room for 3 * n bytes; returns the length
 * written (no NUL is added). */
size_t enc_uri_to(char *dst, const char *s, size_t n, unsigned flags);

/* The canonical URI of a path as sent on the wire: the path is encoded once more with
 * '/' kept, so "/topics/a%2Fb" becomes "/topics/a%252Fb" (SigV4 for non-S3 services). */
int enc_uri_path_canonical(struct buf *out, const char *path, size_t n);

/* Decodes %XX sequences (either hex case). A '%' not followed by two hex digits is kept
 * literally (as servers do). '+' is NOT a space (it is a literal '+'). Never fails on
 * content, only on memory. */
int enc_uri_decode(struct buf *out, const char *s, size_t n);

/* The same decoding into dst, which needs room for n + 1 bytes; dst is NUL-terminated
 * and *len_out gets the decoded length. With ENC_DECODE_STRICT a '%' not followed by two
 * hex digits makes it return -1 (dst then holds garbage); otherwise it returns 0. */
enum { ENC_DECODE_STRICT = 1 };
int enc_uri_decode_to(char *dst, const char *s, size_t n, unsigned flags, size_t *len_out);

/* True (1) when the byte is unreserved per RFC 3986 (A-Z a-z 0-9 - . _ ~). */
int enc_is_unreserved(unsigned char c);

/* ---------------------------------------------------------------- hex
 * Lowercase hex. enc_hex_to writes 2*n chars plus a NUL into dst (size >= 2*n+1). */
void enc_hex_to(char *dst, const void *bytes, size_t n);
int enc_hex(struct buf *out, const void *bytes, size_t n);
/* Decodes hex (either case); -1 on an odd length or a non-hex char. */
int enc_hex_decode(struct buf *out, const char *s, size_t n);
/* The value (0-15) of one hex digit, either case; -1 for any other byte. */
int enc_hex_digit(unsigned char c);

/* ---------------------------------------------------------------- base64
 * RFC 4648, standard alphabet, '=' padding. */
int enc_base64(struct buf *out, const void *bytes, size_t n);
/* Strict decoder: padding required, no whitespace, no trailing bits set; -1 otherwise. */
int enc_base64_decode(struct buf *out, const char *s, size_t n);

/* ---------------------------------------------------------------- digests */
int enc_sha256(const void *data, size_t n, unsigned char out[ENC_SHA256_LEN]);
int enc_sha256_hex(const void *data, size_t n, char out[ENC_SHA256_HEX_LEN + 1]);
int enc_hmac_sha256(const void *key, size_t key_len, const void *data, size_t n,
                    unsigned char out[ENC_SHA256_LEN]);

/* ---------------------------------------------------------------- reusable hashers
 * A reusable SHA-256 / HMAC-SHA256 engine.
 * A hasher keeps one digest context between calls (OpenSSL's SHA256_* functions, see
 * encode.c): no allocation per hash. Each call starts afresh: nothing of one input is
 * left for the next. Not thread-safe: one hasher per thread. Calls return 0, or -1 when
 * OpenSSL fails (the hasher stays usable). */
struct enc_hasher;
struct enc_hasher *enc_hasher_new(void);               /* NULL when out of memory */
void enc_hasher_free(struct enc_hasher *h);            /* NULL is fine */
int enc_hasher_sha256(struct enc_hasher *h, const void *data, size_t n,
                      unsigned char out[ENC_SHA256_LEN]);
int enc_hasher_sha256_hex(struct enc_hasher *h, const void *data, size_t n,
                          char out[ENC_SHA256_HEX_LEN + 1]);
/* HMAC-SHA256 (RFC 2104) with a key used once; out may be the key itself. */
int enc_hasher_hmac(struct enc_hasher *h, const void *key, size_t key_len, const void *data,
                    size_t n, unsigned char out[ENC_SHA256_LEN]);

/* A key kept for many HMACs: the digest states after its padded inner and outer blocks,
 * so each MAC skips hashing those two blocks. It holds no copy of the key itself and may
 * be used with any hasher. */
struct enc_hmac_key;
/* NULL when out of memory or OpenSSL fails. */
struct enc_hmac_key *enc_hmac_key_new(struct enc_hasher *h, const void *key, size_t key_len);
void enc_hmac_key_free(struct enc_hmac_key *k);        /* cleanses the states; NULL is fine */
int enc_hasher_hmac_with(struct enc_hasher *h, const struct enc_hmac_key *k, const void *data,
                         size_t n, unsigned char out[ENC_SHA256_LEN]);

/* Incremental SHA-256 (e.g. a payload streamed from a file). The context owns an
 * OpenSSL SHA256_CTX: enc_sha256_final or enc_sha256_abort releases it, exactly once. */
struct enc_sha256_ctx {
    void *md_ctx;   /* SHA256_CTX *, NULL when not started */
};
int enc_sha256_init(struct enc_sha256_ctx *ctx);
int enc_sha256_update(struct enc_sha256_ctx *ctx, const void *data, size_t n);
int enc_sha256_final(struct enc_sha256_ctx *ctx, unsigned char out[ENC_SHA256_LEN]);
void enc_sha256_abort(struct enc_sha256_ctx *ctx);

/* ---------------------------------------------------------------- constant time
 * 1 when equal, 0 otherwise; the time taken depends only on the lengths. */
int enc_ct_equal(const void *a, const void *b, size_t n);
int enc_ct_streq(const char *a, const char *b);   /* NULL never equals anything */

/* ---------------------------------------------------------------- UTF-8
 * 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int enc_utf8_valid(const char *s, size_t n);
/* The same, and without U+0000: text that can also be a C string, or an MQTT UTF-8
 * string (MQTT forbids the null character). */
int enc_utf8_valid_text(const char *s, size_t n);
/* Code points in s[0..n), which must be well-formed UTF-8 (continuation bytes are not
 * counted). */
size_t enc_utf8_count(const char *s, size_t n);
/* Length (1-4) of the well-formed sequence at s[0..n), 0 when malformed or n == 0. */
size_t enc_utf8_seq_len(const char *s, size_t n);

#endif
