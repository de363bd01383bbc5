/* shadow_store.c — the shadows of every thing (shadow.h): kept in one array sorted by
 * thing then shadow name (the classic shadow's name is ""), so a thing's named shadows
 * are neighbours and list in order; versions, deletions and the 48 hours a deleted
 * shadow's version survives; the replies and the documents the listener is told. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shadow.h"
#include "shadow_doc.h"

/* One shadow. A deleted one stays as a tombstone (exists false) for its version. */
struct shadow {
    char *thing;
    char *name;
    struct shadow_state state;
    int64_t version;
    bool exists;
    int64_t deleted_at_ms;
};

struct shadow_store {
    struct shadow **items;           /* sorted by (thing, name) */
    size_t count, cap;
    shadow_clock_fn clock;
    void *clock_arg;
    shadow_listener listener;
    void *listener_arg;
};

#define INVALID "InvalidRequestException"

/* ================================================================ replies */

void shadow_reply_init(struct shadow_reply *r)
{
    memset(r, 0, sizeof *r);
}

void shadow_reply_free(struct shadow_reply *r)
{
    buf_free(&r->body);
}

static const char *code_for(int status)
{
    switch (status) {
    case 400: return INVALID;
    case 404: return "ResourceNotFoundException";
    case 409: return "ConflictException";
    case 413: return "RequestEntityTooLargeException";
    default: return "InternalFailureException";
    }
}

/* The error reply: status, code, message, and the /rejected document. */
static int reply_error(struct shadow_reply *r, int status, const char *message,
                       const char *client_token, int64_t ts)
{
    r->status = status;
    r->code = code_for(status);
    snprintf(r->message, sizeof r->message, "%s", message);
    buf_reset(&r->body);
    struct json_writer w;
    jw_init(&w, &r->body);
    jw_object_begin(&w);
    jw_key(&w, "code");
    jw_int(&w, status);
    jw_key(&w, "message");
    jw_string(&w, r->message);
    jw_key(&w, "timestamp");
    jw_int(&w, ts);
    if (client_token) {
        jw_key(&w, "clientToken");
        jw_string(&w, client_token);
    }
    jw_object_end(&w);
    jw_finish(&w);
    return status;
}

static int reply_no_memory(struct shadow_reply *r, int64_t ts)
{
    return reply_error(r, 500, "Internal service failure", NULL, ts);
}

/* The end of a document: version, timestamp, clientToken when the request had one. */
static void write_trailer(struct json_writer *w, int64_t version, int64_t ts,
                          const char *client_token)
{
    if (version >= 0) {
        jw_key(w, "version");
        jw_int(w, version);
    }
    jw_key(w, "timestamp");
    jw_int(w, ts);
    if (client_token) {
        jw_key(w, "clientToken");
        jw_string(w, client_token);
    }
}

/* ================================================================ names */

static const char *name_problem(const char *s, size_t n, size_t max, bool dollar,
                                const char *what)
{
    if (n == 0 || n > max)
        return what;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == ':' || c == '_' || c == '-' || (dollar && c == '$');
        if (!ok)
            return what;
    }
    return NULL;
}

const char *shadow_thing_name_problem(const char *s, size_t n)
{
    return name_problem(s, n, SHADOW_MAX_THING_NAME, false,
                        "thingName must be 1 to 128 characters of a-z, A-Z, 0-9, ':', '_', '-'");
}

const char *shadow_name_problem(const char *s, size_t n)
{
    return name_problem(s, n, SHADOW_MAX_SHADOW_NAME, true,
                        "shadowName must be 1 to 64 characters of a-z, A-Z, 0-9, '$', ':', "
                        "'_', '-'");
}

/* ================================================================ the store */

static int64_t real_clock(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct shadow_store *shadow_store_new(shadow_clock_fn clock, void *clock_arg)
{
    struct shadow_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->clock = clock ? clock : real_clock;
    s->clock_arg = clock_arg;
    return s;
}

static void shadow_free(struct shadow *sh)
{
    sdoc_state_free(&sh->state);
    free(sh->thing);
    free(sh->name);
    free(sh);
}

void shadow_store_free(struct shadow_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        shadow_free(s->items[i]);
    free(s->items);
    free(s);
}

void shadow_store_set_listener(struct shadow_store *s, shadow_listener fn, void *arg)
{
    s->listener = fn;
    s->listener_arg = arg;
}

static int compare_key(const struct shadow *sh, const char *thing, const char *name)
{
    int c = strcmp(sh->thing, thing);
    return c ? c : strcmp(sh->name, name);
}

/* The index of (thing, name), or where it would go; *found says which. */
static size_t lower_bound(const struct shadow_store *s, const char *thing, const char *name,
                          bool *found)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare_key(s->items[mid], thing, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->count && compare_key(s->items[lo], thing, name) == 0;
    return lo;
}

static struct shadow *find(struct shadow_store *s, const char *thing, const char *name)
{
    bool found;
    size_t i = lower_bound(s, thing, name, &found);
    return found ? s->items[i] : NULL;
}

static struct shadow *insert(struct shadow_store *s, const char *thing, const char *name)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct shadow **items = realloc(s->items, cap * sizeof *items);
        if (!items)
            return NULL;
        s->items = items;
        s->cap = cap;
    }
    struct shadow *sh = calloc(1, sizeof *sh);
    if (!sh || !(sh->thing = strdup(thing)) || !(sh->name = strdup(name))) {
        if (sh)
            free(sh->thing);
        free(sh);
        return NULL;
    }
    sdoc_state_init(&sh->state);
    bool found;
    size_t i = lower_bound(s, thing, name, &found);
    memmove(&s->items[i + 1], &s->items[i], (s->count - i) * sizeof *s->items);
    s->items[i] = sh;
    s->count++;
    return sh;
}

/* The version a new update is checked against and continues: the live shadow's, a
 * shadow deleted less than 48 hours ago's, else 0. */
static int64_t current_version(const struct shadow *sh, int64_t now_ms)
{
    if (!sh)
        return 0;
    if (sh->exists || now_ms - sh->deleted_at_ms < SHADOW_VERSION_KEEP_MS)
        return sh->version;
    return 0;
}

static const char *no_shadow(char *out, size_t size, const char *thing, const char *name)
{
    snprintf(out, size, "No shadow exists with name: '%s'", name[0] ? name : thing);
    return out;
}

/* ================================================================ get and delete */

int shadow_get(struct shadow_store *s, const char *thing, const char *name,
               const char *client_token, struct shadow_reply *r)
{
    name = name ? name : "";
    int64_t ts = s->clock(s->clock_arg) / 1000;
    struct shadow *sh = find(s, thing, name);
    if (!sh || !sh->exists) {
        char msg[256];
        return reply_error(r, 404, no_shadow(msg, sizeof msg, thing, name), client_token, ts);
    }
    buf_reset(&r->body);
    struct json_writer w;
    jw_init(&w, &r->body);
    jw_object_begin(&w);
    sdoc_write_state(&w, &sh->state, true);
    write_trailer(&w, sh->version, ts, client_token);
    jw_object_end(&w);
    if (jw_finish(&w) != 0)
        return reply_no_memory(r, ts);
    r->status = 200;
    return 200;
}

static void tell(struct shadow_store *s, const struct shadow_event *ev)
{
    if (s->listener)
        s->listener(s->listener_arg, ev);
}

int shadow_delete(struct shadow_store *s, const char *thing, const char *name,
                  const char *client_token, struct shadow_reply *r)
{
    name = name ? name : "";
    int64_t now = s->clock(s->clock_arg), ts = now / 1000;
    struct shadow *sh = find(s, thing, name);
    if (!sh || !sh->exists) {
        char msg[256];
        return reply_error(r, 404, no_shadow(msg, sizeof msg, thing, name), client_token, ts);
    }
    buf_reset(&r->body);
    struct json_writer w;
    jw_init(&w, &r->body);
    jw_object_begin(&w);
    write_trailer(&w, sh->version, ts, client_token);
    jw_object_end(&w);
    if (jw_finish(&w) != 0)
        return reply_no_memory(r, ts);
    sdoc_state_free(&sh->state);
    sh->exists = false;
    sh->deleted_at_ms = now;
    r->status = 200;
    struct shadow_event ev = {SHADOW_DELETED, thing, name, &r->body, NULL, NULL};
    tell(s, &ev);
    return 200;
}

/* ================================================================ update */

/* The documents an accepted update produces besides its answer. */
struct update_docs {
    struct buf delta;
    struct buf documents;
};

/* {"state":…,"metadata":…,"version":N}: one side of update/documents. */
static void write_snapshot(struct json_writer *w, const char *key,
                           const struct shadow_state *st, int64_t version)
{
    jw_key(w, key);
    jw_object_begin(w);
    sdoc_write_state(w, st, false);
    jw_key(w, "version");
    jw_int(w, version);
    jw_object_end(w);
}

static int write_documents(struct buf *out, const struct shadow_state *previous,
                           const struct shadow *sh, int64_t ts, const char *client_token)
{
    struct json_writer w;
    jw_init(&w, out);
    jw_object_begin(&w);
    write_snapshot(&w, "previous", previous, sh->version - 1);
    write_snapshot(&w, "current", &sh->state, sh->version);
    write_trailer(&w, -1, ts, client_token);
    jw_object_end(&w);
    return jw_finish(&w);
}

/* update/delta: the whole delta now, when there is one (out left empty otherwise). */
static int write_delta(struct buf *out, const struct shadow *sh, int64_t ts,
                       const char *client_token)
{
    struct json_value delta, meta;
    if (sdoc_delta(&sh->state, &delta, &meta) != 0)
        return -1;
    int rc = 0;
    if (delta.u.obj.n > 0) {
        struct json_writer w;
        jw_init(&w, out);
        jw_object_begin(&w);
        jw_key(&w, "state");
        jw_value(&w, &delta);
        jw_key(&w, "metadata");
        jw_value(&w, &meta);
        write_trailer(&w, sh->version, ts, client_token);
        jw_object_end(&w);
        rc = jw_finish(&w);
    }
    sdoc_value_free(&delta);
    sdoc_value_free(&meta);
    return rc;
}

static int write_accepted(struct buf *out, const struct sdoc_request *req,
                          const struct shadow *sh, int64_t ts)
{
    struct json_writer w;
    buf_reset(out);
    jw_init(&w, out);
    jw_object_begin(&w);
    sdoc_write_request(&w, req, ts);
    write_trailer(&w, sh->version, ts, req->client_token);
    jw_object_end(&w);
    return jw_finish(&w);
}

/* The checked request applied to a copy of the shadow's state (so a refusal changes
 * nothing): 0 with *next filled, or an error reply's status. */
static int merged_state(const struct shadow *sh, const struct sdoc_request *req, int64_t ts,
                        struct shadow_state *next, struct shadow_reply *r)
{
    static const struct shadow_state empty = {
        {.type = JSON_NULL}, {.type = JSON_NULL}, {.type = JSON_NULL}, {.type = JSON_NULL}};
    const struct shadow_state *from = sh && sh->exists ? &sh->state : &empty;
    if (sdoc_state_copy(next, from) != 0)
        return reply_no_memory(r, ts);
    if (sdoc_apply(next, req, ts) != 0) {
        sdoc_state_free(next);
        return reply_no_memory(r, ts);
    }
    if (sdoc_state_size(next) > SHADOW_MAX_STATE_BYTES) {
        sdoc_state_free(next);
        return reply_error(r, 413, "The payload exceeds the maximum size allowed",
                           req->client_token, ts);
    }
    return 0;
}

/* Stores next as the shadow's new state (taking it), one version on, and writes the
 * answer and the documents; the listener hears of it. */
static int commit(struct shadow_store *s, struct shadow *sh, struct shadow_state *next,
                  int64_t version, const struct sdoc_request *req, int64_t ts,
                  struct shadow_reply *r)
{
    struct shadow_state previous = sh->state;
    struct update_docs d = {BUF_INIT, BUF_INIT};
    sh->state = *next;
    sh->version = version + 1;
    sh->exists = true;
    int rc = write_accepted(&r->body, req, sh, ts);
    if (rc == 0)
        rc = write_delta(&d.delta, sh, ts, req->client_token);
    if (rc == 0)
        rc = write_documents(&d.documents, &previous, sh, ts, req->client_token);
    sdoc_state_free(&previous);
    if (rc == 0) {
        r->status = 200;
        struct shadow_event ev = {SHADOW_UPDATED, sh->thing, sh->name, &r->body,
                                  d.delta.len ? &d.delta : NULL, &d.documents};
        tell(s, &ev);
    } else {
        reply_no_memory(r, ts);
    }
    buf_free(&d.delta);
    buf_free(&d.documents);
    return r->status;
}

int shadow_update(struct shadow_store *s, const char *thing, const char *name,
                  const char *request, size_t request_len, struct shadow_reply *r)
{
    name = name ? name : "";
    int64_t now = s->clock(s->clock_arg), ts = now / 1000;
    if (request_len > SHADOW_MAX_REQUEST_BYTES)
        return reply_error(r, 413, "The payload exceeds the maximum size allowed", NULL, ts);
    struct sdoc_request req;
    char msg[160];
    int status = sdoc_parse_update(request, request_len, &req, msg, sizeof msg);
    struct shadow *sh = find(s, thing, name);
    int64_t version = current_version(sh, now);
    struct shadow_state next;
    if (status != 0)
        reply_error(r, status, msg, req.client_token, ts);
    else if (req.has_version && req.version != version)
        status = reply_error(r, 409, "Version conflict", req.client_token, ts);
    else if ((status = merged_state(sh, &req, ts, &next, r)) == 0) {
        if (!sh && !(sh = insert(s, thing, name))) {
            sdoc_state_free(&next);
            status = reply_no_memory(r, ts);
        } else {
            status = commit(s, sh, &next, version, &req, ts, r);
        }
    }
    sdoc_request_free(&req);
    return status;
}

/* ================================================================ ListNamedShadowsForThing */

/* Page tokens are the hex of the last name given: opaque to callers, checked here. */
static int hex_digit(char c)
{
    const char *digits = "0123456789abcdef";
    const char *p = c ? strchr(digits, c) : NULL;
    return p ? (int)(p - digits) : -1;
}

static int token_decode(const char *token, char *out, size_t out_size)
{
    size_t n = strlen(token);
    if (n == 0 || n % 2 || n / 2 >= out_size)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(token[2 * i]), lo = hex_digit(token[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (char)(hi * 16 + lo);
    }
    out[n / 2] = '\0';
    return shadow_name_problem(out, n / 2) ? -1 : 0;
}

static void token_encode(struct json_writer *w, const char *name)
{
    char hex[2 * SHADOW_MAX_SHADOW_NAME + 1];
    size_t n = strlen(name);
    for (size_t i = 0; i < n && i < SHADOW_MAX_SHADOW_NAME; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)name[i]);
    hex[2 * (n < SHADOW_MAX_SHADOW_NAME ? n : SHADOW_MAX_SHADOW_NAME)] = '\0';
    jw_key(w, "nextToken");
    jw_string(w, hex);
}

int shadow_list_named(struct shadow_store *s, const char *thing, const char *next_token,
                      size_t page_size, struct shadow_reply *r)
{
    int64_t ts = s->clock(s->clock_arg) / 1000;
    char after[SHADOW_MAX_SHADOW_NAME + 1] = "";
    if (next_token && token_decode(next_token, after, sizeof after) != 0)
        return reply_error(r, 400, "nextToken is not valid for this request", NULL, ts);
    bool found;
    size_t i = lower_bound(s, thing, after, &found);
    if (found)
        i++;                              /* the token names the last one given */
    buf_reset(&r->body);
    struct json_writer w;
    jw_init(&w, &r->body);
    jw_object_begin(&w);
    jw_key(&w, "results");
    jw_array_begin(&w);
    const char *last = NULL;
    size_t given = 0;
    for (; i < s->count && strcmp(s->items[i]->thing, thing) == 0; i++) {
        const struct shadow *sh = s->items[i];
        if (!sh->exists || !sh->name[0])
            continue;
        if (given == page_size)
            break;
        jw_string(&w, sh->name);
        last = sh->name;
        given++;
    }
    jw_array_end(&w);
    bool more = false;
    for (; i < s->count && strcmp(s->items[i]->thing, thing) == 0 && !more; i++)
        more = s->items[i]->exists && s->items[i]->name[0];
    if (more && last)
        token_encode(&w, last);
    write_trailer(&w, -1, ts, NULL);
    jw_object_end(&w);
    if (jw_finish(&w) != 0)
        return reply_no_memory(r, ts);
    r->status = 200;
    return 200;
}
