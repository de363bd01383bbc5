/* shadow_doc.c — the shadow document algebra (shadow_doc.h): values copied, compared and
 * freed; object members found, added and removed; an update request read and checked;
 * the merge with its metadata; the delta; the writers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadow.h"
#include "shadow_doc.h"

/* The parser's own bound, well above SHADOW_MAX_DEPTH so that a document nested too
 * deeply for a shadow still parses and gets AWS's nesting message. */
#define PARSE_MAX_DEPTH 64

static const char MSG_NESTING[] = "JSON contains too many levels of nesting; maximum is 6";

/* ================================================================ values */

void sdoc_value_free(struct json_value *v)
{
    json_value_free_contents(v);
    memset(v, 0, sizeof *v);
    v->type = JSON_NULL;
}

static char *copy_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Arrays and objects count their items as they are copied, so a failure halfway leaves
 * a value sdoc_value_free can release. */
static int copy_array(struct json_value *dst, const struct json_value *src)
{
    size_t n = src->u.arr.n;
    dst->type = JSON_ARRAY;
    dst->u.arr.n = 0;
    dst->u.arr.items = calloc(n ? n : 1, sizeof *dst->u.arr.items);
    if (!dst->u.arr.items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (sdoc_value_copy(&dst->u.arr.items[i], &src->u.arr.items[i]) != 0)
            return -1;
        dst->u.arr.n++;
    }
    return 0;
}

static int copy_object(struct json_value *dst, const struct json_value *src)
{
    size_t n = src->u.obj.n;
    dst->type = JSON_OBJECT;
    dst->u.obj.n = 0;
    dst->u.obj.members = calloc(n ? n : 1, sizeof *dst->u.obj.members);
    if (!dst->u.obj.members)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct json_member *sm = &src->u.obj.members[i];
        struct json_member *dm = &dst->u.obj.members[i];
        if (!(dm->key = copy_bytes(sm->key, sm->key_len)))
            return -1;
        dm->key_len = sm->key_len;
        dst->u.obj.n++;
        if (sdoc_value_copy(&dm->value, &sm->value) != 0)
            return -1;
    }
    return 0;
}

int sdoc_value_copy(struct json_value *dst, const struct json_value *src)
{
    int rc = 0;
    memset(dst, 0, sizeof *dst);
    switch (src->type) {
    case JSON_STRING:
        dst->u.str.ptr = copy_bytes(src->u.str.ptr, src->u.str.len);
        if (!dst->u.str.ptr)
            return -1;
        dst->u.str.len = src->u.str.len;
        dst->type = JSON_STRING;
        return 0;
    case JSON_ARRAY:
        rc = copy_array(dst, src);
        break;
    case JSON_OBJECT:
        rc = copy_object(dst, src);
        break;
    default:
        *dst = *src;
        return 0;
    }
    if (rc != 0)
        sdoc_value_free(dst);
    return rc;
}

static const struct json_value *member_get(const struct json_value *obj, const char *key,
                                           size_t n)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = obj->u.obj.n; i-- > 0;) {
        const struct json_member *m = &obj->u.obj.members[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return &m->value;
    }
    return NULL;
}

static bool object_equal(const struct json_value *a, const struct json_value *b)
{
    if (a->u.obj.n != b->u.obj.n)
        return false;
    for (size_t i = 0; i < a->u.obj.n; i++) {
        const struct json_member *m = &a->u.obj.members[i];
        const struct json_value *other = member_get(b, m->key, m->key_len);
        if (!other || !sdoc_value_equal(&m->value, other))
            return false;
    }
    return true;
}

static bool is_number(const struct json_value *v)
{
    return v->type == JSON_INT || v->type == JSON_DOUBLE;
}

static double number_of(const struct json_value *v)
{
    return v->type == JSON_INT ? (double)v->u.i : v->u.d;
}

/* Numbers compare by value (1 equals 1.0); arrays item by item; objects member by
 * member whatever their order. */
bool sdoc_value_equal(const struct json_value *a, const struct json_value *b)
{
    if (is_number(a) && is_number(b)) {
        if (a->type == JSON_INT && b->type == JSON_INT)
            return a->u.i == b->u.i;
        return number_of(a) == number_of(b);
    }
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JSON_STRING:
        return a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0;
    case JSON_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return false;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!sdoc_value_equal(&a->u.arr.items[i], &b->u.arr.items[i]))
                return false;
        return true;
    case JSON_OBJECT:
        return object_equal(a, b);
    default:
        return true;
    }
}

/* ================================================================ object members */

static void make_object(struct json_value *v)
{
    sdoc_value_free(v);
    v->type = JSON_OBJECT;
}

static struct json_value *member_find(struct json_value *obj, const char *key, size_t n)
{
    return (struct json_value *)member_get(obj, key, n);
}

/* The value stored under key, added as null when absent; NULL when memory runs out.
 * The pointer lasts until the next member is added to obj. */
static struct json_value *member_slot(struct json_value *obj, const char *key, size_t n)
{
    if (obj->type != JSON_OBJECT)
        return NULL;
    struct json_value *found = member_find(obj, key, n);
    if (found)
        return found;
    char *k = copy_bytes(key, n);
    struct json_member *grown =
        k ? realloc(obj->u.obj.members, (obj->u.obj.n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(k);
        return NULL;
    }
    obj->u.obj.members = grown;
    struct json_member *m = &grown[obj->u.obj.n++];
    memset(m, 0, sizeof *m);
    m->key = k;
    m->key_len = n;
    m->value.type = JSON_NULL;
    return &m->value;
}

static void member_remove(struct json_value *obj, const char *key, size_t n)
{
    if (obj->type != JSON_OBJECT)
        return;
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        struct json_member *m = &obj->u.obj.members[i];
        if (m->key_len != n || memcmp(m->key, key, n) != 0)
            continue;
        free(m->key);
        sdoc_value_free(&m->value);
        memmove(m, m + 1, (obj->u.obj.n - i - 1) * sizeof *m);
        obj->u.obj.n--;
        return;
    }
}

/* {"timestamp": ts}: the metadata of one leaf. */
static int make_stamp(struct json_value *v, int64_t ts)
{
    make_object(v);
    struct json_value *t = member_slot(v, "timestamp", 9);
    if (!t)
        return -1;
    t->type = JSON_INT;
    t->u.i = ts;
    return 0;
}

/* ================================================================ state */

void sdoc_state_init(struct shadow_state *s)
{
    memset(s, 0, sizeof *s);
    s->desired.type = s->reported.type = JSON_NULL;
    s->meta_desired.type = s->meta_reported.type = JSON_NULL;
}

void sdoc_state_free(struct shadow_state *s)
{
    sdoc_value_free(&s->desired);
    sdoc_value_free(&s->reported);
    sdoc_value_free(&s->meta_desired);
    sdoc_value_free(&s->meta_reported);
}

int sdoc_state_copy(struct shadow_state *dst, const struct shadow_state *src)
{
    sdoc_state_init(dst);
    if (sdoc_value_copy(&dst->desired, &src->desired) != 0 ||
        sdoc_value_copy(&dst->reported, &src->reported) != 0 ||
        sdoc_value_copy(&dst->meta_desired, &src->meta_desired) != 0 ||
        sdoc_value_copy(&dst->meta_reported, &src->meta_reported) != 0) {
        sdoc_state_free(dst);
        return -1;
    }
    return 0;
}

static size_t section_size(const struct json_value *v, struct buf *scratch)
{
    if (v->type != JSON_OBJECT)
        return 0;
    struct json_writer w;
    buf_reset(scratch);
    jw_init(&w, scratch);
    jw_value(&w, v);
    return jw_finish(&w) == 0 ? scratch->len : SIZE_MAX / 4;
}

size_t sdoc_state_size(const struct shadow_state *s)
{
    struct buf scratch = BUF_INIT;
    size_t n = section_size(&s->desired, &scratch) + section_size(&s->reported, &scratch);
    buf_free(&scratch);
    return n;
}

/* ================================================================ the request */

void sdoc_request_free(struct sdoc_request *req)
{
    json_free(req->root);
    memset(req, 0, sizeof *req);
}

static int reject(char *msg, size_t msg_size, const char *text)
{
    snprintf(msg, msg_size, "%s", text);
    return 400;
}

/* Containers below (and including) v, as levels: {"a":1} is 1. */
static size_t depth_of(const struct json_value *v)
{
    size_t deepest = 0;
    if (v->type == JSON_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++) {
            size_t d = depth_of(&v->u.arr.items[i]);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->u.obj.n; i++) {
            size_t d = depth_of(&v->u.obj.members[i].value);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

/* Arrays may not hold null, at any depth (AWS rejects them). */
static bool has_null_in_array(const struct json_value *v, bool in_array)
{
    if (v->type == JSON_NULL)
        return in_array;
    if (v->type == JSON_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (has_null_in_array(&v->u.arr.items[i], true))
                return true;
    } else if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->u.obj.n; i++)
            if (has_null_in_array(&v->u.obj.members[i].value, false))
                return true;
    }
    return false;
}

/* Keys are compared with their length: "desired\u0000x" is not "desired". */
static bool key_is(const struct json_member *m, const char *word)
{
    return m->key_len == strlen(word) && memcmp(m->key, word, m->key_len) == 0;
}

/* desired or reported: absent, null, or an object nested at most six levels. */
static int check_section(const struct json_value *v, const char *not_object, char *msg,
                         size_t msg_size)
{
    if (!v || v->type == JSON_NULL)
        return 0;
    if (v->type != JSON_OBJECT)
        return reject(msg, msg_size, not_object);
    if (depth_of(v) > SHADOW_MAX_DEPTH)
        return reject(msg, msg_size, MSG_NESTING);
    if (has_null_in_array(v, false))
        return reject(msg, msg_size, "Invalid JSON: arrays may not contain null");
    return 0;
}

/* clientToken and version, the members beside state. */
static int check_envelope(struct sdoc_request *req, char *msg, size_t msg_size)
{
    const struct json_value *token = json_get(req->root, "clientToken");
    if (token) {
        if (token->type != JSON_STRING || token->u.str.len > SHADOW_MAX_CLIENT_TOKEN ||
            memchr(token->u.str.ptr, '\0', token->u.str.len))
            return reject(msg, msg_size, "Invalid clientToken");
        req->client_token = token->u.str.ptr;
    }
    const struct json_value *version = json_get(req->root, "version");
    if (version) {
        if (version->type != JSON_INT || version->u.i < 0)
            return reject(msg, msg_size, "Invalid version");
        req->has_version = true;
        req->version = version->u.i;
    }
    return 0;
}

static int check_state(struct sdoc_request *req, char *msg, size_t msg_size)
{
    const struct json_value *state = json_get(req->root, "state");
    if (!state)
        return reject(msg, msg_size, "Missing required node: state");
    if (state->type == JSON_NULL) {
        req->state_null = true;
        return 0;
    }
    if (state->type != JSON_OBJECT)
        return reject(msg, msg_size, "State node must be an object");
    for (size_t i = 0; i < state->u.obj.n; i++) {
        const struct json_member *m = &state->u.obj.members[i];
        if (!key_is(m, "desired") && !key_is(m, "reported"))
            return reject(msg, msg_size, "State contains an invalid node");
    }
    req->state = state;
    req->desired = json_get(state, "desired");
    req->reported = json_get(state, "reported");
    int rc = check_section(req->desired, "Desired node must be an object", msg, msg_size);
    if (rc == 0)
        rc = check_section(req->reported, "Reported node must be an object", msg, msg_size);
    return rc;
}

int sdoc_parse_update(const char *text, size_t len, struct sdoc_request *req, char *msg,
                      size_t msg_size)
{
    memset(req, 0, sizeof *req);
    struct json_limits limits = {PARSE_MAX_DEPTH, len + 1};
    struct json_error err;
    if (json_parse(text, len, &limits, &req->root, &err) != 0) {
        req->root = NULL;
        return reject(msg, msg_size, strstr(err.message, "nesting") ? MSG_NESTING
                                                                    : "Invalid JSON");
    }
    if (req->root->type != JSON_OBJECT)
        return reject(msg, msg_size, "Invalid JSON");
    int rc = check_envelope(req, msg, msg_size);
    return rc ? rc : check_state(req, msg, msg_size);
}

/* ================================================================ the merge */

static int merge_object(struct json_value *dst, struct json_value *meta,
                        const struct json_value *src, int64_t ts);

/* One member of the request into dst (and its metadata into meta). */
static int merge_member(struct json_value *dst, struct json_value *meta,
                        const struct json_member *m, int64_t ts)
{
    if (m->value.type == JSON_NULL) {
        member_remove(dst, m->key, m->key_len);
        member_remove(meta, m->key, m->key_len);
        return 0;
    }
    struct json_value *d = member_slot(dst, m->key, m->key_len);
    struct json_value *md = d ? member_slot(meta, m->key, m->key_len) : NULL;
    if (!md)
        return -1;
    if (m->value.type != JSON_OBJECT) {
        sdoc_value_free(d);
        if (sdoc_value_copy(d, &m->value) != 0)
            return -1;
        return make_stamp(md, ts);
    }
    if (d->type != JSON_OBJECT)          /* a leaf becomes an object: its stamp goes */
        make_object(d);
    if (d->u.obj.n == 0 || md->type != JSON_OBJECT)
        make_object(md);
    if (merge_object(d, md, &m->value, ts) != 0)
        return -1;
    if (d->u.obj.n == 0) {               /* an object left empty is removed */
        member_remove(dst, m->key, m->key_len);
        member_remove(meta, m->key, m->key_len);
    }
    return 0;
}

static int merge_object(struct json_value *dst, struct json_value *meta,
                        const struct json_value *src, int64_t ts)
{
    for (size_t i = 0; i < src->u.obj.n; i++)
        if (merge_member(dst, meta, &src->u.obj.members[i], ts) != 0)
            return -1;
    return 0;
}

/* One section: null removes it, an object merges into it, an empty result removes it. */
static int apply_section(struct json_value *sec, struct json_value *meta,
                         const struct json_value *req, int64_t ts)
{
    if (!req)
        return 0;
    if (req->type == JSON_NULL) {
        sdoc_value_free(sec);
        sdoc_value_free(meta);
        return 0;
    }
    if (sec->type != JSON_OBJECT)
        make_object(sec);
    if (meta->type != JSON_OBJECT)
        make_object(meta);
    if (merge_object(sec, meta, req, ts) != 0)
        return -1;
    if (sec->u.obj.n == 0) {
        sdoc_value_free(sec);
        sdoc_value_free(meta);
    }
    return 0;
}

int sdoc_apply(struct shadow_state *s, const struct sdoc_request *req, int64_t ts)
{
    if (req->state_null)
        return 0;
    if (apply_section(&s->desired, &s->meta_desired, req->desired, ts) != 0)
        return -1;
    return apply_section(&s->reported, &s->meta_reported, req->reported, ts);
}

/* ================================================================ the delta */

static int delta_object(const struct json_value *des, const struct json_value *rep,
                        const struct json_value *mdes, struct json_value *out,
                        struct json_value *mout);

/* Puts *v (moved) under key in obj; on failure *v is freed. */
static int member_move_in(struct json_value *obj, const struct json_member *m,
                          struct json_value *v)
{
    struct json_value *slot = member_slot(obj, m->key, m->key_len);
    if (!slot) {
        sdoc_value_free(v);
        return -1;
    }
    *slot = *v;
    return 0;
}

/* A nested object that reported also holds as an object: only the differing part. */
static int delta_nested(const struct json_member *m, const struct json_value *r,
                        const struct json_value *mv, struct json_value *out,
                        struct json_value *mout)
{
    struct json_value sub = {.type = JSON_OBJECT}, msub = {.type = JSON_OBJECT};
    int rc = delta_object(&m->value, r, mv, &sub, &msub);
    if (rc != 0 || sub.u.obj.n == 0) {
        sdoc_value_free(&sub);
        sdoc_value_free(&msub);
        return rc;
    }
    if (member_move_in(out, m, &sub) != 0) {
        sdoc_value_free(&msub);
        return -1;
    }
    return member_move_in(mout, m, &msub);
}

static int delta_member(const struct json_member *m, const struct json_value *rep,
                        const struct json_value *mdes, struct json_value *out,
                        struct json_value *mout)
{
    const struct json_value *r = member_get(rep, m->key, m->key_len);
    const struct json_value *mv = member_get(mdes, m->key, m->key_len);
    if (r && m->value.type == JSON_OBJECT && r->type == JSON_OBJECT)
        return delta_nested(m, r, mv, out, mout);
    if (r && sdoc_value_equal(&m->value, r))
        return 0;
    struct json_value copy, mcopy = {.type = JSON_NULL};
    if (sdoc_value_copy(&copy, &m->value) != 0)
        return -1;
    if (member_move_in(out, m, &copy) != 0)
        return -1;
    if (!mv)
        return 0;
    if (sdoc_value_copy(&mcopy, mv) != 0)
        return -1;
    return member_move_in(mout, m, &mcopy);
}

static int delta_object(const struct json_value *des, const struct json_value *rep,
                        const struct json_value *mdes, struct json_value *out,
                        struct json_value *mout)
{
    for (size_t i = 0; i < des->u.obj.n; i++)
        if (delta_member(&des->u.obj.members[i], rep, mdes, out, mout) != 0)
            return -1;
    return 0;
}

int sdoc_delta(const struct shadow_state *s, struct json_value *delta_out,
               struct json_value *meta_out)
{
    memset(delta_out, 0, sizeof *delta_out);
    memset(meta_out, 0, sizeof *meta_out);
    delta_out->type = meta_out->type = JSON_OBJECT;
    if (s->desired.type != JSON_OBJECT)
        return 0;
    const struct json_value *rep = s->reported.type == JSON_OBJECT ? &s->reported : NULL;
    if (delta_object(&s->desired, rep, &s->meta_desired, delta_out, meta_out) != 0) {
        sdoc_value_free(delta_out);
        sdoc_value_free(meta_out);
        return -1;
    }
    return 0;
}

/* ================================================================ writers */

static void write_section(struct json_writer *w, const char *key, const struct json_value *v)
{
    if (v->type != JSON_OBJECT)
        return;
    jw_key(w, key);
    jw_value(w, v);
}

void sdoc_write_state(struct json_writer *w, const struct shadow_state *s, bool with_delta)
{
    struct json_value delta = {.type = JSON_NULL}, mdelta = {.type = JSON_NULL};
    if (with_delta && sdoc_delta(s, &delta, &mdelta) != 0)
        w->error = -1;
    jw_key(w, "state");
    jw_object_begin(w);
    write_section(w, "desired", &s->desired);
    write_section(w, "reported", &s->reported);
    if (delta.type == JSON_OBJECT && delta.u.obj.n > 0)
        write_section(w, "delta", &delta);
    jw_object_end(w);
    jw_key(w, "metadata");
    jw_object_begin(w);
    write_section(w, "desired", &s->meta_desired);
    write_section(w, "reported", &s->meta_reported);
    jw_object_end(w);
    sdoc_value_free(&delta);
    sdoc_value_free(&mdelta);
}

/* A {"timestamp": ts} for each leaf of v, objects mirrored (a null leaf too: the field
 * it deleted was written at ts). */
static void write_stamps(struct json_writer *w, const struct json_value *v, int64_t ts)
{
    jw_object_begin(w);
    if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->u.obj.n; i++) {
            jw_key_n(w, v->u.obj.members[i].key, v->u.obj.members[i].key_len);
            write_stamps(w, &v->u.obj.members[i].value, ts);
        }
    } else {
        jw_key(w, "timestamp");
        jw_int(w, ts);
    }
    jw_object_end(w);
}

void sdoc_write_request(struct json_writer *w, const struct sdoc_request *req, int64_t ts)
{
    const struct json_value *sections[2] = {req->desired, req->reported};
    const char *names[2] = {"desired", "reported"};
    jw_key(w, "state");
    jw_object_begin(w);
    for (int i = 0; i < 2; i++) {
        if (sections[i]) {
            jw_key(w, names[i]);
            jw_value(w, sections[i]);
        }
    }
    jw_object_end(w);
    jw_key(w, "metadata");
    jw_object_begin(w);
    for (int i = 0; i < 2; i++) {
        if (sections[i]) {
            jw_key(w, names[i]);
            write_stamps(w, sections[i], ts);
        }
    }
    jw_object_end(w);
}
