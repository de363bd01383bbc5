/*
 * marshal.c — call parameters, their validation against the model, and the generic
 * rest-json marshaller; see marshal.h and client.h.
 *
 * A parameter set is one allocation for the slots (one per input member) plus one
 * byte arena (struct buf) holding every copied string; slots refer to the arena by
 * offset, so growing it never leaves a dangling pointer.
 */
#include "marshal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "json_compact.h"

/* ================================================================ parameter sets */

enum pkind { PK_UNSET = 0, PK_BYTES, PK_INT, PK_BOOL, PK_FILE };

struct pslot {
    enum pkind kind;
    size_t off, len;        /* PK_BYTES: arena range */
    int64_t i;              /* PK_INT; PK_BOOL (0/1) */
    FILE *file;             /* PK_FILE */
    int64_t file_start, file_len;
};

struct iot_params {
    const struct iot_op *op;
    struct buf arena;
    struct pslot slots[];   /* op->ninput */
};

struct iot_params *iot_params_new(const struct iot_op *op)
{
    if (!op)
        return NULL;
    struct iot_params *p = calloc(1, sizeof *p + op->ninput * sizeof p->slots[0]);
    if (!p)
        return NULL;
    p->op = op;
    return p;
}

void iot_params_free(struct iot_params *params)
{
    if (!params)
        return;
    buf_free(&params->arena);
    free(params);
}

const struct iot_op *iot_params_op(const struct iot_params *params)
{
    return params->op;
}

static const char *slot_bytes(const struct iot_params *p, const struct pslot *s)
{
    return p->arena.data ? p->arena.data + s->off : "";
}

/* ---------------------------------------------------------------- messages */

__attribute__((format(printf, 4, 5)))
static int fail(char *msg, size_t msglen, const struct iot_op *op, const char *fmt, ...)
{
    if (msg && msglen) {
        int n = snprintf(msg, msglen, "%s: ", op ? op->method_name : "iotlua");
        if (n < 0)
            n = 0;
        if ((size_t)n < msglen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(msg + n, msglen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static const char *value_type_name(const struct iot_value *v)
{
    switch (v->kind) {
    case IOT_V_STRING: return "string";
    case IOT_V_INTEGER: return "integer";
    case IOT_V_NUMBER: return "number";
    case IOT_V_BOOLEAN: return "boolean";
    case IOT_V_FILE: return "file";
    case IOT_V_JSON: return "table";
    case IOT_V_OTHER: return v->type_name ? v->type_name : "value";
    }
    return "value";
}

/* A short, printable rendering of a string value for messages (secrets never pass
 * through here: parameters are not credentials). */
static void quote_value(char *out, size_t outlen, const char *s, size_t n)
{
    size_t j = 0;
    if (outlen < 8)
        return;
    out[j++] = '"';
    for (size_t i = 0; i < n && j + 6 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 40) {
            memcpy(out + j, "...", 3);
            j += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f) {
            j += (size_t)snprintf(out + j, outlen - j, "\\x%02x", c);
        } else {
            out[j++] = (char)c;
        }
    }
    out[j++] = '"';
    out[j] = '\0';
}

/* ---------------------------------------------------------------- checks */

/* Compiled patterns, kept for the life of the process: the patterns are the table's
 * static strings, so their addresses identify them. regcomp costs microseconds; a call
 * validating clientId should not pay it every time. */
#define PATTERN_CACHE 16

static struct {
    const char *pattern;
    regex_t re;
} pattern_cache[PATTERN_CACHE];
static size_t pattern_count;
static pthread_mutex_t pattern_mu = PTHREAD_MUTEX_INITIALIZER;

/* The whole value must match (as the service's validators do), not just a part of it. */
static int compile_anchored(const char *pattern, regex_t *re_out)
{
    struct buf anchored = BUF_INIT;
    if (buf_printf(&anchored, "^(%s)$", pattern) != 0)
        return -1;
    int rc = regcomp(re_out, buf_cstr(&anchored), REG_EXTENDED | REG_NOSUB);
    buf_free(&anchored);
    return rc == 0 ? 0 : -1;
}

static const regex_t *cached_pattern(const char *pattern)
{
    const regex_t *found = NULL;
    pthread_mutex_lock(&pattern_mu);
    for (size_t i = 0; i < pattern_count && !found; i++)
        if (pattern_cache[i].pattern == pattern)
            found = &pattern_cache[i].re;
    if (!found && pattern_count < PATTERN_CACHE &&
        compile_anchored(pattern, &pattern_cache[pattern_count].re) == 0) {
        pattern_cache[pattern_count].pattern = pattern;
        found = &pattern_cache[pattern_count++].re;
    }
    pthread_mutex_unlock(&pattern_mu);
    return found;
}

static int check_pattern(const char *pattern, const char *s, int *match_out)
{
    const regex_t *cached = cached_pattern(pattern);
    if (cached) {
        *match_out = regexec(cached, s, 0, NULL, 0) == 0;
        return 0;
    }
    regex_t re;     /* cache full: compile for this check only */
    if (compile_anchored(pattern, &re) != 0)
        return -1;
    *match_out = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return 0;
}

static int check_enum(const struct iot_shape *sh, const char *s, size_t n)
{
    for (const char *const *e = sh->enum_values; *e; e++)
        if (strlen(*e) == n && memcmp(*e, s, n) == 0)
            return 1;
    return 0;
}

static void enum_list(char *out, size_t outlen, const struct iot_shape *sh)
{
    size_t j = 0;
    out[0] = '\0';
    for (const char *const *e = sh->enum_values; *e && j < outlen; e++) {
        int n = snprintf(out + j, outlen - j, "%s%s", j ? ", " : "", *e);
        if (n < 0)
            break;
        j += (size_t)n;
    }
}

/* Header values: printable, no CR/LF/NUL (no header injection). */
static int header_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static int check_string(const struct iot_op *op, const struct iot_member *m, const char *s,
                        size_t n, char *msg, size_t msglen)
{
    const struct iot_shape *sh = m->shape;
    char shown[64];     /* the value as quoted in a message: made only for one */
    if (!enc_utf8_valid_text(s, n)) {
        if (memchr(s, '\0', n))
            return fail(msg, msglen, op, "parameter '%s' must not contain NUL bytes", m->name);
        return fail(msg, msglen, op, "parameter '%s' must be valid UTF-8", m->name);
    }
    if (m->location == IOT_LOC_HEADER && !header_safe(s, n))
        return fail(msg, msglen, op,
                    "parameter '%s' must not contain control characters (it is sent as "
                    "the header %s)", m->name, m->location_name);
    if (sh->enum_values && !check_enum(sh, s, n)) {
        char list[256];
        enum_list(list, sizeof list, sh);
        quote_value(shown, sizeof shown, s, n);
        return fail(msg, msglen, op, "parameter '%s' must be one of %s (got %s)", m->name,
                    list, shown);
    }
    size_t chars = enc_utf8_count(s, n);
    if ((sh->has_min && (int64_t)chars < sh->min) || (sh->has_max && (int64_t)chars > sh->max)) {
        if (sh->has_min && sh->has_max)
            return fail(msg, msglen, op,
                        "parameter '%s' must be %" PRId64 " to %" PRId64
                        " characters long (got %zu)", m->name, sh->min, sh->max, chars);
        if (sh->has_min)
            return fail(msg, msglen, op,
                        "parameter '%s' must be at least %" PRId64 " characters long (got %zu)",
                        m->name, sh->min, chars);
        return fail(msg, msglen, op,
                    "parameter '%s' must be at most %" PRId64 " characters long (got %zu)",
                    m->name, sh->max, chars);
    }
    if (sh->pattern) {
        int match = 0;
        if (check_pattern(sh->pattern, s, &match) != 0)
            return fail(msg, msglen, op, "internal error: bad pattern for '%s'", m->name);
        if (!match) {
            quote_value(shown, sizeof shown, s, n);
            if (strcmp(sh->pattern, "^[^$].*") == 0)
                return fail(msg, msglen, op,
                            "parameter '%s' must not start with '$' (pattern %s, got %s)",
                            m->name, sh->pattern, shown);
            return fail(msg, msglen, op, "parameter '%s' must match the pattern %s (got %s)",
                        m->name, sh->pattern, shown);
        }
    }
    return 0;
}

static int check_number(const struct iot_op *op, const struct iot_member *m, int64_t v,
                        char *msg, size_t msglen)
{
    const struct iot_shape *sh = m->shape;
    if (sh->has_min && sh->has_max && (v < sh->min || v > sh->max))
        return fail(msg, msglen, op,
                    "parameter '%s' must be between %" PRId64 " and %" PRId64 " (got %" PRId64 ")",
                    m->name, sh->min, sh->max, v);
    if (sh->has_min && v < sh->min)
        return fail(msg, msglen, op, "parameter '%s' must be at least %" PRId64 " (got %" PRId64 ")",
                    m->name, sh->min, v);
    if (sh->has_max && v > sh->max)
        return fail(msg, msglen, op, "parameter '%s' must be at most %" PRId64 " (got %" PRId64 ")",
                    m->name, sh->max, v);
    if (sh->type == IOT_T_INTEGER && (v < INT32_MIN || v > INT32_MAX))
        return fail(msg, msglen, op,
                    "parameter '%s' must be a 32-bit integer (got %" PRId64 ")", m->name, v);
    return 0;
}

/* ---------------------------------------------------------------- setters */

static int store_bytes(struct iot_params *p, struct pslot *s, const char *bytes, size_t n)
{
    size_t off = p->arena.len;
    if (buf_append(&p->arena, bytes, n) != 0 || buf_append_char(&p->arena, '\0') != 0)
        return -1;
    s->kind = PK_BYTES;
    s->off = off;
    s->len = n;
    return 0;
}

static int set_file(struct iot_params *p, const struct iot_member *m, struct pslot *s,
                    FILE *f, char *msg, size_t msglen)
{
    off_t start = f ? ftello(f) : -1;
    if (start < 0 || fseeko(f, 0, SEEK_END) != 0)
        return fail(msg, msglen, p->op,
                    "parameter '%s' must be a seekable file (it is read again on a retry)",
                    m->name);
    off_t end = ftello(f);
    if (end < start || fseeko(f, start, SEEK_SET) != 0)
        return fail(msg, msglen, p->op, "parameter '%s': cannot seek in the file", m->name);
    s->kind = PK_FILE;
    s->file = f;
    s->file_start = start;
    s->file_len = end - start;
    return 0;
}

static int set_blob(struct iot_params *p, const struct iot_member *m, struct pslot *s,
                    const struct iot_value *v, char *msg, size_t msglen)
{
    if (v->kind == IOT_V_FILE) {
        if (m->location != IOT_LOC_PAYLOAD)
            return fail(msg, msglen, p->op, "parameter '%s' must be a string (got file)", m->name);
        return set_file(p, m, s, v->file, msg, msglen);
    }
    if (v->kind != IOT_V_STRING && v->kind != IOT_V_JSON)
        return fail(msg, msglen, p->op,
                    "parameter '%s' must be a string, a file handle or a table (got %s)",
                    m->name, value_type_name(v));
    if (store_bytes(p, s, v->str ? v->str : "", v->str ? v->len : 0) != 0)
        return fail(msg, msglen, p->op, "out of memory");
    return 0;
}

/* jsonvalue members: JSON text (from a table or given as a string), kept compact. */
static int set_jsonvalue(struct iot_params *p, const struct iot_member *m, struct pslot *s,
                         const struct iot_value *v, char *msg, size_t msglen)
{
    if (v->kind != IOT_V_STRING && v->kind != IOT_V_JSON)
        return fail(msg, msglen, p->op, "parameter '%s' must be a table or a JSON string (got %s)",
                    m->name, value_type_name(v));
    char why[160];
    size_t off = p->arena.len;
    if (iot_json_compact(v->str ? v->str : "", v->str ? v->len : 0, &p->arena, why,
                         sizeof why) != 0) {
        p->arena.len = off;
        if (p->arena.data)
            p->arena.data[off] = '\0';
        return fail(msg, msglen, p->op, "parameter '%s' must be valid JSON: %s", m->name, why);
    }
    size_t n = p->arena.len - off;
    if (buf_append_char(&p->arena, '\0') != 0)
        return fail(msg, msglen, p->op, "out of memory");
    s->kind = PK_BYTES;
    s->off = off;
    s->len = n;
    return 0;
}

static int integral(const struct iot_value *v, int64_t *out)
{
    if (v->kind == IOT_V_INTEGER) {
        *out = v->i;
        return 1;
    }
    if (v->kind == IOT_V_NUMBER && v->d == v->d && v->d >= -9.2e18 && v->d <= 9.2e18 &&
        (double)(int64_t)v->d == v->d) {
        *out = (int64_t)v->d;
        return 1;
    }
    return 0;
}

static int set_scalar(struct iot_params *p, const struct iot_member *m, struct pslot *s,
                      const struct iot_value *v, char *msg, size_t msglen)
{
    const struct iot_op *op = p->op;
    switch (m->shape->type) {
    case IOT_T_STRING:
        if (v->kind != IOT_V_STRING)
            return fail(msg, msglen, op, "parameter '%s' must be a string (got %s)", m->name,
                        value_type_name(v));
        if (check_string(op, m, v->str ? v->str : "", v->str ? v->len : 0, msg, msglen) != 0)
            return -1;
        if (store_bytes(p, s, v->str ? v->str : "", v->str ? v->len : 0) != 0)
            return fail(msg, msglen, op, "out of memory");
        return 0;
    case IOT_T_INTEGER:
    case IOT_T_LONG:
    case IOT_T_TIMESTAMP: {
        int64_t i;
        if (!integral(v, &i)) {
            if (v->kind == IOT_V_NUMBER)
                return fail(msg, msglen, op, "parameter '%s' must be an integer (got %g)",
                            m->name, v->d);
            return fail(msg, msglen, op, "parameter '%s' must be an integer (got %s)", m->name,
                        value_type_name(v));
        }
        if (check_number(op, m, i, msg, msglen) != 0)
            return -1;
        s->kind = PK_INT;
        s->i = i;
        return 0;
    }
    case IOT_T_BOOLEAN:
        if (v->kind != IOT_V_BOOLEAN)
            return fail(msg, msglen, op, "parameter '%s' must be a boolean (got %s)", m->name,
                        value_type_name(v));
        s->kind = PK_BOOL;
        s->i = v->b ? 1 : 0;
        return 0;
    default:
        return fail(msg, msglen, op, "parameter '%s' has a type (%s) the marshaller does not "
                    "support", m->name, iot_type_name(m->shape->type));
    }
}

static void valid_names(char *out, size_t outlen, const struct iot_op *op)
{
    size_t j = 0;
    out[0] = '\0';
    for (size_t i = 0; i < op->ninput && j < outlen; i++) {
        int n = snprintf(out + j, outlen - j, "%s%s", i ? ", " : "", op->input[i].name);
        if (n < 0)
            break;
        j += (size_t)n;
    }
}

int iot_params_set(struct iot_params *params, const char *name, const struct iot_value *v,
                   char *msg, size_t msglen)
{
    const struct iot_op *op = params->op;
    const struct iot_member *m = name ? iot_op_input(op, name) : NULL;
    if (!m) {
        char names[400];
        valid_names(names, sizeof names, op);
        return fail(msg, msglen, op, "unknown parameter '%s' (valid parameters: %s)",
                    name ? name : "(null)", names);
    }
    struct pslot *s = &params->slots[m - op->input];
    if (s->kind != PK_UNSET)
        return fail(msg, msglen, op, "parameter '%s' given twice", m->name);
    struct pslot fresh = {0};
    int rc;
    if (m->jsonvalue)
        rc = set_jsonvalue(params, m, &fresh, v, msg, msglen);
    else if (m->shape->type == IOT_T_BLOB)
        rc = set_blob(params, m, &fresh, v, msg, msglen);
    else
        rc = set_scalar(params, m, &fresh, v, msg, msglen);
    if (rc == 0)
        *s = fresh;
    return rc;
}

int iot_params_check(const struct iot_params *params, char *msg, size_t msglen)
{
    const struct iot_op *op = params->op;
    for (size_t i = 0; i < op->ninput; i++)
        if (op->input[i].required && params->slots[i].kind == PK_UNSET)
            return fail(msg, msglen, op, "missing required parameter '%s'", op->input[i].name);
    return 0;
}

/* ================================================================ marshalling */

/* The text form of a scalar slot for uri/query/header. */
static int scalar_text(const struct iot_params *p, const struct iot_member *m,
                       const struct pslot *s, struct buf *out)
{
    switch (s->kind) {
    case PK_BYTES:
        if (m->jsonvalue || m->shape->type == IOT_T_BLOB)
            return enc_base64(out, slot_bytes(p, s), s->len);
        return buf_append(out, slot_bytes(p, s), s->len);
    case PK_INT:
        return buf_printf(out, "%" PRId64, s->i);
    case PK_BOOL:
        return buf_append_str(out, s->i ? "true" : "false");
    default:
        return -1;
    }
}

static int add_uri_label(const struct iot_params *p, const char *label, size_t len,
                         struct buf *out)
{
    int greedy = len > 0 && label[len - 1] == '+';
    size_t name_len = greedy ? len - 1 : len;
    const struct iot_op *op = p->op;
    for (size_t i = 0; i < op->ninput; i++) {
        const struct iot_member *m = &op->input[i];
        if (m->location != IOT_LOC_URI || strlen(m->location_name) != name_len ||
            memcmp(m->location_name, label, name_len) != 0)
            continue;
        const struct pslot *s = &p->slots[i];
        int flags = greedy ? ENC_KEEP_SLASH : 0;
        if (s->kind == PK_BYTES && !m->jsonvalue && m->shape->type != IOT_T_BLOB)
            return enc_uri(out, slot_bytes(p, s), s->len, flags);    /* text as stored */
        struct buf text = BUF_INIT;
        int rc = scalar_text(p, m, s, &text);
        if (rc == 0)
            rc = enc_uri(out, buf_cstr(&text), text.len, flags);
        buf_free(&text);
        return rc;
    }
    return -1;
}

static int build_path(const struct iot_params *p, struct buf *out)
{
    const char *t = p->op->request_uri;
    while (*t) {
        const char *open = strchr(t, '{');
        if (!open)
            return buf_append_str(out, t);
        if (buf_append(out, t, (size_t)(open - t)) != 0)
            return -1;
        const char *close = strchr(open, '}');
        if (!close || add_uri_label(p, open + 1, (size_t)(close - open - 1), out) != 0)
            return -1;
        t = close + 1;
    }
    return 0;
}

static int build_query(const struct iot_params *p, struct buf *out)
{
    const struct iot_op *op = p->op;
    struct buf text = BUF_INIT;
    int first = 1, rc = 0;
    for (size_t i = 0; i < op->ninput && rc == 0; i++) {
        const struct iot_member *m = &op->input[i];
        if (m->location != IOT_LOC_QUERY || p->slots[i].kind == PK_UNSET)
            continue;
        buf_reset(&text);
        rc = buf_append_char(out, first ? '?' : '&');
        if (rc == 0)
            rc = enc_uri_str(out, m->location_name, 0);
        if (rc == 0)
            rc = buf_append_char(out, '=');
        if (rc == 0)
            rc = scalar_text(p, m, &p->slots[i], &text);
        if (rc == 0)
            rc = enc_uri(out, buf_cstr(&text), text.len, 0);
        first = 0;
    }
    buf_free(&text);
    return rc;
}

static int build_headers(const struct iot_params *p, struct iot_request *req)
{
    const struct iot_op *op = p->op;
    for (size_t i = 0; i < op->ninput; i++) {
        const struct iot_member *m = &op->input[i];
        if (m->location != IOT_LOC_HEADER || p->slots[i].kind == PK_UNSET)
            continue;
        if (buf_append(&req->hdrs, m->location_name, strlen(m->location_name) + 1) != 0 ||
            scalar_text(p, m, &p->slots[i], &req->hdrs) != 0 ||
            buf_append_char(&req->hdrs, '\0') != 0)
            return -1;
        req->nhdrs++;
    }
    return 0;
}

static int hash_file(struct iot_request *req, char *msg, size_t msglen)
{
    struct enc_sha256_ctx ctx = {0};
    unsigned char digest[ENC_SHA256_LEN];
    char chunk[16384];
    int64_t left = req->file_len;
    if (fseeko(req->file, (off_t)req->file_start, SEEK_SET) != 0 || enc_sha256_init(&ctx) != 0)
        goto fail;
    while (left > 0) {
        size_t want = left < (int64_t)sizeof chunk ? (size_t)left : sizeof chunk;
        size_t got = fread(chunk, 1, want, req->file);
        if (got == 0 || enc_sha256_update(&ctx, chunk, got) != 0)
            goto fail;
        left -= (int64_t)got;
    }
    if (enc_sha256_final(&ctx, digest) != 0)
        goto fail;
    enc_hex_to(req->payload_hash, digest, sizeof digest);
    return fseeko(req->file, (off_t)req->file_start, SEEK_SET) == 0 ? 0 : -1;
fail:
    enc_sha256_abort(&ctx);
    if (msg && msglen)
        snprintf(msg, msglen, "cannot read the payload file: %s",
                 ferror(req->file) ? strerror(errno) : "it is shorter than when it was given");
    return -1;
}

static int build_body(const struct iot_params *p, struct enc_hasher *hasher,
                      struct iot_request *req, char *msg, size_t msglen)
{
    const struct iot_member *m = iot_op_payload(p->op);
    const struct pslot *s = m ? &p->slots[m - p->op->input] : NULL;
    if (s && s->kind == PK_FILE) {
        req->has_body = 1;
        req->file = s->file;
        req->file_start = s->file_start;
        req->file_len = s->file_len;
        return hash_file(req, msg, msglen);
    }
    if (s && s->kind == PK_BYTES) {
        req->has_body = 1;
        req->body = slot_bytes(p, s);
        req->body_len = s->len;
    }
    /* POST/PUT with no payload member given still sends an empty body (Content-Length: 0)
     * as botocore does. */
    if (!req->has_body && strcmp(p->op->http_method, "GET") != 0 &&
        strcmp(p->op->http_method, "DELETE") != 0 && strcmp(p->op->http_method, "HEAD") != 0)
        req->has_body = 1;
    const char *body = req->body ? req->body : "";
    int rc = hasher ? enc_hasher_sha256_hex(hasher, body, req->body_len, req->payload_hash)
                    : enc_sha256_hex(body, req->body_len, req->payload_hash);
    if (rc != 0) {
        if (msg && msglen)
            snprintf(msg, msglen, "SHA-256 failed");
        return -1;
    }
    return 0;
}

int iot_marshal(const struct iot_params *params, struct iot_request *req_out, char *msg,
                size_t msglen)
{
    return iot_marshal_hashed(params, NULL, req_out, msg, msglen);
}

int iot_marshal_hashed(const struct iot_params *params, struct enc_hasher *hasher,
                       struct iot_request *req_out, char *msg, size_t msglen)
{
    struct iot_request init = IOT_REQUEST_INIT;
    *req_out = init;
    req_out->method = params->op->http_method;
    if (build_path(params, &req_out->target) != 0)
        goto oom;
    req_out->path_len = req_out->target.len;
    if (build_query(params, &req_out->target) != 0 || build_headers(params, req_out) != 0)
        goto oom;
    if (build_body(params, hasher, req_out, msg, msglen) != 0)
        return -1;
    return 0;
oom:
    if (msg && msglen)
        snprintf(msg, msglen, "%s: out of memory while marshalling", params->op->method_name);
    return -1;
}

void iot_request_free(struct iot_request *req)
{
    if (!req)
        return;
    buf_free(&req->target);
    buf_free(&req->hdrs);
}

const char *iot_request_query(const struct iot_request *req)
{
    if (req->target.len > req->path_len)
        return req->target.data + req->path_len + 1;
    return "";
}

void iot_request_header(const struct iot_request *req, size_t i, const char **name_out,
                        const char **value_out)
{
    const char *p = req->hdrs.data;
    for (size_t k = 0; k < i; k++) {
        p += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    *name_out = p;
    *value_out = p + strlen(p) + 1;
}
