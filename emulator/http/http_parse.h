/*
 * http_parse.h — the pure, allocation-free pieces of the data-plane HTTP API: percent
 * decoding, query splitting, AWS URI encoding, base64, the user-properties JSON, topic
 * and client-id rules, and the ListSubscriptions page token. Every function reads
 * untrusted bytes with explicit lengths; fuzz/fuzz_emulator_http.c drives them all.
 */
#ifndef IOTLUA_EMULATOR_HTTP_PARSE_H
#define IOTLUA_EMULATOR_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Percent-decodes src[0..n) into dst (room for n + 1 bytes) and NUL-terminates it.
 * '+' stays '+'. *len_out gets the decoded length. -1 on a malformed escape. */
int hp_percent_decode(const char *src, size_t n, char *dst, size_t *len_out);

/* Appends the AWS (SigV4) URI encoding of bytes[0..n): A-Za-z0-9-_.~ as is, everything
 * else %XX upper-case; '/' too unless keep_slash. -1 when memory runs out. */
int hp_uri_encode(struct buf *out, const char *bytes, size_t n, bool keep_slash);

/* One parameter of a raw query string, as slices of it (still percent-encoded). */
struct hp_query_param {
    const char *key;
    size_t key_len;
    const char *value;      /* "" when the parameter had no '=' */
    size_t value_len;
};
/* Splits q[0..n) at '&' into at most max parameters (empty pieces are skipped).
 * Returns the count, or -1 when there are more than max. */
int hp_query_split(const char *q, size_t n, struct hp_query_param *out, int max);

/* Standard base64 (with padding). decode: dst needs room for n/4*3 bytes; -1 on any
 * character outside the alphabet or bad padding. */
int hp_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *len_out);
int hp_base64_encode(struct buf *out, const uint8_t *src, size_t n);

/* True when s[0..n) is well-formed UTF-8 with no NUL. */
bool hp_utf8_valid(const char *s, size_t n);
/* Code points in well-formed UTF-8 s[0..n). */
size_t hp_utf8_length(const char *s, size_t n);

/* Parses the JSON of x-amz-mqtt5-user-properties: an array of objects whose members are
 * all strings, e.g. [{"a":"1"},{"b":"2"}]. Each member becomes one property, in order.
 * Keys and values are unescaped into *arena as NUL-terminated strings; props_out gets up
 * to max (key offset, value offset) pairs into arena->data. Returns the count, or -1 with
 * a reason in *why_out (a static string). */
struct hp_user_property { size_t key_off, value_off; };
int hp_user_properties_parse(const char *json, size_t n, struct buf *arena,
                             struct hp_user_property *props_out, int max,
                             const char **why_out);

/* AWS IoT topic rules for a topic name (Publish topic, direct-message topic and
 * responseTopic): 1..256 bytes, valid UTF-8, no '+' or '#', at most 7 '/' beyond a
 * "$aws/rules/<rule>/" prefix. NULL when fine, else a reason (static string). */
const char *hp_topic_problem(const char *topic, size_t n);

/* The model's ClientId: 1..128 characters, not starting with '$', valid UTF-8. */
const char *hp_client_id_problem(const char *client_id, size_t n);

/* Parses a decimal integer in [min, max]; -1 when s[0..n) is not one. */
int hp_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out);
/* "true"/"false" (as botocore sends); -1 otherwise. */
int hp_parse_bool(const char *s, size_t n, bool *out);

/* ListSubscriptions tokens: opaque text naming an offset into one client's list, with a
 * check value bound to the client id and a per-process key so forged tokens fail. */
int hp_page_token_encode(struct buf *out, uint64_t offset, const char *client_id,
                         const uint8_t key[16]);
/* 0 and *offset_out on success; -1 for anything malformed or not made for client_id. */
int hp_page_token_decode(const char *token, size_t n, const char *client_id,
                         const uint8_t key[16], uint64_t *offset_out);

#endif
