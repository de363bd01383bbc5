/*
 * http_parse.h — the pure pieces of the data-plane HTTP API that are its own: query
 * splitting, the user-properties JSON (read with runtime/json.h), topic and client-id
 * rules, integers and booleans of the query, and the page tokens of ListSubscriptions and
 * ListRetainedMessages.
 * Encodings (percent, base64, hex, UTF-8) are runtime/encode.h's. Every function reads
 * untrusted bytes with explicit lengths; fuzz/fuzz_emulator_http.c drives them all.
 */
#ifndef IOTLUA_EMULATOR_HTTP_PARSE_H
#define IOTLUA_EMULATOR_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

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

/* Reads the JSON of x-amz-mqtt5-user-properties (runtime/json.h's parser): an array of
 * objects whose members are all strings, e.g. [{"a":"1"},{"b":"2"}]. Each member becomes
 * one property, in order (keys may repeat); no key or value may hold U+0000. Keys and
 * values are copied into *arena as NUL-terminated strings; props_out gets up to max (key
 * offset, value offset) pairs into arena->data. Returns the count, or -1 with the reason
 * in why_out (why_len bytes). */
struct hp_user_property { size_t key_off, value_off; };
int hp_user_properties_parse(const char *json, size_t n, struct buf *arena,
                             struct hp_user_property *props_out, int max, char *why_out,
                             size_t why_len);

/* AWS IoT topic rules for a topic name (Publish topic, direct-message topic and
 * responseTopic): 1..256 bytes, UTF-8 text (no U+0000), no '+' or '#', at most 7 '/' beyond a
 * "$aws/rules/<rule>/" prefix. NULL when fine, else a reason (static string). */
const char *hp_topic_problem(const char *topic, size_t n);

/* The model's ClientId: 1..128 characters, not starting with '$', UTF-8 text (no U+0000). */
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

/* ListRetainedMessages tokens: opaque text naming the last topic of the page before (so
 * the next page starts after it, whatever changed meanwhile), with a check value bound
 * to the per-process key. Topics of at most HP_TOPIC_TOKEN_MAX bytes. */
#define HP_TOPIC_TOKEN_MAX 1024
int hp_topic_token_encode(struct buf *out, const char *topic, size_t n, const uint8_t key[16]);
/* 0 with the topic appended to *topic_out (NUL-terminated by buf); -1 for anything
 * malformed or not made by this process. */
int hp_topic_token_decode(const char *token, size_t n, const uint8_t key[16],
                          struct buf *topic_out);

#endif
