/*
 * shadow_doc.h — the shadow document algebra (shadow_doc.c): reading an update request,
 * merging it into a stored state with its metadata, the delta, and the writers of the
 * documents. Pure functions over runtime/json.h values; no I/O, no clock (the caller
 * passes the timestamp), so the unit test drives them directly.
 *
 * Values built here (struct shadow_state's members, a delta) are owned by their holder
 * and released with sdoc_value_free / sdoc_state_free; a parsed request owns its
 * json_parse tree.
 */
#ifndef IOTLUA_EMULATOR_SHADOW_DOC_H
#define IOTLUA_EMULATOR_SHADOW_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

/* A stored shadow's content. Each section is a JSON_OBJECT with at least one member, or
 * JSON_NULL when absent; its metadata mirrors it, every leaf (scalar or array) standing
 * as {"timestamp": seconds}. */
struct shadow_state {
    struct json_value desired, reported;
    struct json_value meta_desired, meta_reported;
};
void sdoc_state_init(struct shadow_state *s);
void sdoc_state_free(struct shadow_state *s);
int sdoc_state_copy(struct shadow_state *dst, const struct shadow_state *src);  /* 0 / -1 */
/* Bytes of desired and reported as compact JSON (what the 8 KB limit counts). */
size_t sdoc_state_size(const struct shadow_state *s);

/* An update request, checked. The pointers are into root. */
struct sdoc_request {
    struct json_value *root;             /* json_parse's tree; NULL before a parse */
    bool state_null;                     /* "state": null: nothing changes */
    const struct json_value *state;      /* the state object; NULL when state_null */
    const struct json_value *desired;    /* NULL when absent; JSON_NULL removes the section */
    const struct json_value *reported;
    const char *client_token;            /* NULL when absent (or not a valid one) */
    bool has_version;
    int64_t version;
};
/* Parses text[0..len) and checks it as AWS does. 0, or the HTTP status (400) with AWS's
 * message in msg; client_token is set as soon as a valid one was read, so an error can
 * echo it. sdoc_request_free in every case. */
int sdoc_parse_update(const char *text, size_t len, struct sdoc_request *req, char *msg,
                      size_t msg_size);
void sdoc_request_free(struct sdoc_request *req);

/* Merges the request's desired and reported into s, stamping the leaves written with
 * ts (epoch seconds). 0, or -1 when memory runs out (s is then partly merged: merge a
 * copy). */
int sdoc_apply(struct shadow_state *s, const struct sdoc_request *req, int64_t ts);

/* The desired fields that reported lacks or holds with another value (nested objects
 * down to the differing leaves, arrays whole) into *delta_out, and their desired
 * metadata into *meta_out. Both JSON_OBJECT (maybe empty); free with sdoc_value_free.
 * 0 / -1. */
int sdoc_delta(const struct shadow_state *s, struct json_value *delta_out,
               struct json_value *meta_out);

/* Values. */
void sdoc_value_free(struct json_value *v);                    /* contents; v becomes null */
int sdoc_value_copy(struct json_value *dst, const struct json_value *src);   /* 0 / -1 */
bool sdoc_value_equal(const struct json_value *a, const struct json_value *b);

/* Writers, each adding members to the object open in w:
 * "state":{"desired","reported"[,"delta"]},"metadata":{"desired","reported"}; */
void sdoc_write_state(struct json_writer *w, const struct shadow_state *s, bool with_delta);
/* "state": the request's sections as sent, "metadata": a {"timestamp": ts} for every
 * leaf of them (the update/accepted document). */
void sdoc_write_request(struct json_writer *w, const struct sdoc_request *req, int64_t ts);

#endif
