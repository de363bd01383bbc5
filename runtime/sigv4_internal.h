/*
 * sigv4_internal.h — what the parts of SigV4 share and nothing else uses: the small
 * writers every part inlines, the canonical request (sigv4_canon.c), the string to sign,
 * and the error text helper. sigv4.h is the public contract.
 */
#ifndef IOTLUA_SIGV4_INTERNAL_H
#define IOTLUA_SIGV4_INTERNAL_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sigv4.h"

/* Typical requests fit these; larger ones use the heap. */
#define STACK_HEADERS 32
#define STACK_NAMES 1024
#define STACK_QUERY 1024
#define STACK_PAIRS 32

static inline char *put(char *dst, const void *s, size_t n)
{
    memcpy(dst, s, n);
    return dst + n;
}

#define PUT_LIT(dst, lit) put((dst), (lit), sizeof(lit) - 1)

/* Reserves room for n more bytes in b; *at_out gets where they go (see grown). */
static inline int grow(struct buf *b, size_t n, char **at_out)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    *at_out = b->data + b->len;
    return 0;
}

/* Ends a write started by grow at end. */
static inline void grown(struct buf *b, char *end)
{
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
}

static inline int is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');     /* \t \n \v \f \r */
}

static inline char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

static inline int header_is(const struct sigv4_header *h, const char *lname)
{
    return h->name && strcasecmp(h->name, lname) == 0;
}

/* ================================================================ canonical request */

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
int sigv4_canonical_request(const struct canon_input *in, struct buf *creq,
                            size_t signed_out[2], const char **missing_out);

/* The string to sign's length for a scope of scope_len bytes, and the writer that puts
 * it at dst (room: sigv4_sts_len); returns the end. */
size_t sigv4_sts_len(size_t scope_len);
char *sigv4_put_sts(char *dst, const char *amz_date, const char *scope, size_t scope_len,
                    const char *creq_hash);

/* vsnprintf into dst[len]. */
void sigv4_set_error(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
