/*
 * json.h — a small strict JSON (RFC 8259) DOM parser and a JSON writer onto struct buf.
 *
 * Parser: UTF-8 only (malformed UTF-8 is an error), \u escapes incl. surrogate pairs
 * (a lone surrogate is an error), a depth limit and a size limit, no trailing garbage,
 * no comments, no trailing commas, no leading zeros, no NaN/Infinity. Integral numbers
 * that fit in int64 are JSON_INT; everything else (fraction, exponent, too large) is
 * JSON_DOUBLE (a number too large for a double is an error). Object members keep their
 * order; duplicate keys are kept and json_get returns the LAST (as Python and cjson do).
 * Errors give a message and the byte offset where parsing stopped. Never crashes on any
 * input (fuzzed: fuzz/fuzz_json.c).
 *
 * Strings are stored NUL-terminated with their length (they may contain NUL bytes).
 * The whole tree is owned by the root: json_free(root) releases it.
 */
#ifndef IOTLUA_JSON_H
#define IOTLUA_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_INT,
    JSON_DOUBLE,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
};

struct json_member;

struct json_value {
    enum json_type type;
    union {
        int64_t i;
        double d;
        struct { char *ptr; size_t len; } str;
        struct { struct json_value *items; size_t n; } arr;
        struct { struct json_member *members; size_t n; } obj;
    } u;
};

struct json_member {
    char *key;          /* NUL-terminated */
    size_t key_len;
    struct json_value value;
};

struct json_limits {
    size_t max_depth;   /* 0 means JSON_DEFAULT_MAX_DEPTH */
    size_t max_size;    /* bytes of input; 0 means JSON_DEFAULT_MAX_SIZE */
};
#define JSON_DEFAULT_MAX_DEPTH 128
#define JSON_DEFAULT_MAX_SIZE (16u * 1024u * 1024u)

struct json_error {
    size_t offset;      /* byte offset in the input */
    char message[128];  /* e.g. "expected ':' after object key" */
};

/* Parses text[0..len). Returns 0 and *root_out (free with json_free), or -1 with err
 * filled (err may be NULL). limits may be NULL for the defaults. */
int json_parse(const char *text, size_t len, const struct json_limits *limits,
               struct json_value **root_out, struct json_error *err);
void json_free(struct json_value *root);
/* Frees what v owns (strings, items, members), not v itself: for values built or kept
 * outside a parsed tree. */
void json_value_free_contents(struct json_value *v);

/* Lookups; NULL/0 when absent or of another type. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
const char *json_get_string(const struct json_value *obj, const char *key);
const struct json_value *json_at(const struct json_value *arr, size_t i);
const char *json_type_name(enum json_type t);   /* "null", "boolean", "number", ... */

/* ---------------------------------------------------------------- writer
 * Appends compact JSON to a buf, inserting commas itself:
 *
 *   struct json_writer w; jw_init(&w, &b);
 *   jw_object_begin(&w); jw_key(&w, "a"); jw_int(&w, 1); jw_object_end(&w);
 *   if (jw_finish(&w) != 0) ... error (out of memory, invalid UTF-8, misnesting)
 *
 * Calls after the first error do nothing; jw_finish reports it. Strings must be valid
 * UTF-8; control characters, '"' and '\\' are escaped; '/' and non-ASCII are kept. */
#define JSON_WRITER_MAX_DEPTH 64

struct json_writer {
    struct buf *out;
    int depth;
    int error;                                  /* 0, or -1 once anything failed */
    unsigned char first[JSON_WRITER_MAX_DEPTH]; /* per level: nothing written yet */
    unsigned char in_object[JSON_WRITER_MAX_DEPTH];
    unsigned char after_key;
};

void jw_init(struct json_writer *w, struct buf *out);
void jw_object_begin(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w);
void jw_array_end(struct json_writer *w);
void jw_key(struct json_writer *w, const char *key);
void jw_key_n(struct json_writer *w, const char *key, size_t n);
void jw_string(struct json_writer *w, const char *s);
void jw_string_n(struct json_writer *w, const char *s, size_t n);
void jw_int(struct json_writer *w, int64_t v);
void jw_double(struct json_writer *w, double v);   /* non-finite values are an error */
void jw_bool(struct json_writer *w, int v);
void jw_null(struct json_writer *w);
void jw_value(struct json_writer *w, const struct json_value *v);  /* a whole DOM */
int jw_finish(struct json_writer *w);   /* 0 when well-formed and complete, else -1 */

/* Appends s as a quoted, escaped JSON string. -1 on invalid UTF-8 or no memory. */
int json_write_string(struct buf *out, const char *s, size_t n);
/* The same for text that must reach the output whatever it holds (a server echoing what
 * a peer sent): each byte that does not start a well-formed UTF-8 sequence is written as
 * U+FFFD. -1 only when memory runs out. */
int json_write_string_lossy(struct buf *out, const char *s, size_t n);

#endif
