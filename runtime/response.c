/*
 * response.c — a received response becomes a result (response.h): its headers, request
 * id, output tree or service error; and the classification of failures below HTTP.
 *
 * A result owns everything hanging off it (headers, output tree, body) in a few chunks,
 * the first allocated with the result itself, all freed by iot_result_free.
 */
#include "response.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "encode.h"
#include "http.h"
#include "http_status.h"
#include "json.h"

/* ================================================================ results */

/* Results allocate from a few chunks (a bump allocator), freed all at once. */
#define CHUNK_SIZE 2048

struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[];
};

struct result_impl {
    struct iot_result pub;
    struct chunk *chunks;       /* every allocation hanging off the result */
    struct json_value *json;
    struct buf body;
    struct chunk *inline_chunk; /* the first chunk, allocated with the result (not freed
                                   on its own); NULL when the result was made without */
};

/* result_alloc zeroes the members before the error and empties the error: it is last. */
_Static_assert(offsetof(struct iot_result, error) + sizeof(struct iot_error) ==
                   sizeof(struct iot_result),
               "struct iot_result: error must be the last member");

/* Room for a typical response's headers and output in the result's own allocation. */
#define INLINE_CHUNK_SIZE 1024

/* n zeroed bytes, aligned for any type, living as long as the result. */
static void *res_alloc(struct result_impl *r, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    struct chunk *c = r->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = r->chunks;
        r->chunks = c;
    }
    char *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

/* A NUL-terminated copy of s[0..n). */
static char *res_strdup(struct result_impl *r, const char *s, size_t n)
{
    char *p = res_alloc(r, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

void iot_result_free(struct iot_result *result)
{
    if (!result)
        return;
    struct result_impl *r = (struct result_impl *)result;
    while (r->chunks) {
        struct chunk *c = r->chunks;
        r->chunks = c->next;
        if (c != r->inline_chunk)
            free(c);
    }
    json_free(r->json);
    buf_free(&r->body);
    free(r);
}

/* ---------------------------------------------------------------- headers */

static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (const char *p = s, *e = s + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        k++;
    return k;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One "Name: value" line text[0..n) of the copied header block, cut in place: the name
 * is lower-cased and NUL-terminated, so is the trimmed value. Adds it to hs (or joins
 * it to an earlier header of the same name with ", ", like botocore). 0, or -1 (OOM). */
static int take_header_line(struct result_impl *r, struct iot_header *hs, size_t *n,
                            char *text, size_t len)
{
    char *colon = memchr(text, ':', len), *end = text + len;
    if (!colon || (len >= 5 && memcmp(text, "HTTP/", 5) == 0))
        return 0;
    char *ns = text, *ne = colon, *vs = colon + 1, *ve = end;
    while (ns < ne && (*ns == ' ' || *ns == '\t'))
        ns++;
    while (ne > ns && is_blank(ne[-1]))
        ne--;
    while (vs < ve && (*vs == ' ' || *vs == '\t'))
        vs++;
    while (ve > vs && is_blank(ve[-1]))
        ve--;
    if (ne == ns)
        return 0;
    for (char *c = ns; c < ne; c++)
        *c = (char)tolower((unsigned char)*c);
    *ne = '\0';
    *ve = '\0';
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(hs[i].name, ns) != 0)
            continue;
        size_t old = strlen(hs[i].value), vlen = (size_t)(ve - vs);
        char *joined = res_alloc(r, old + 2 + vlen + 1);
        if (!joined)
            return -1;
        memcpy(joined, hs[i].value, old);
        memcpy(joined + old, ", ", 2);
        memcpy(joined + old + 2, vs, vlen);
        hs[i].value = joined;
        return 0;
    }
    hs[*n].name = ns;
    hs[*n].value = vs;
    (*n)++;
    return 0;
}

/* The header block, copied once into the result and cut into names and values in place
 * (lines without ':' and the status line are skipped). 0, or -1 when memory runs out. */
static int parse_headers(struct result_impl *r, const struct buf *head)
{
    size_t len = head->len;
    char *text = res_strdup(r, buf_cstr(head), len);
    struct iot_header *hs = res_alloc(r, (count_lines(buf_cstr(head), len) + 1) * sizeof *hs);
    size_t n = 0;
    if (!text || !hs)
        return -1;
    char *p = text, *end = text + len;
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        char *line_end = eol ? eol : end;
        if (take_header_line(r, hs, &n, p, (size_t)(line_end - p)) != 0)
            return -1;
        p = eol ? eol + 1 : end;
    }
    r->pub.headers = hs;
    r->pub.nheaders = n;
    return 0;
}

const char *iot_result_header(const struct iot_result *r, const char *lname)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, lname) == 0)
            return r->headers[i].value;
    return NULL;
}

/* ---------------------------------------------------------------- output tree */

static int out_generic(struct result_impl *r, const struct json_value *v, struct iot_out *o);
static int out_shape(struct result_impl *r, const struct iot_shape *sh,
                     const struct json_value *v, struct iot_out *o);

static int out_items(struct result_impl *r, size_t n, struct iot_out *o, enum iot_out_kind kind)
{
    o->kind = kind;
    o->n = 0;
    o->items = n ? res_alloc(r, n * sizeof *o->items) : NULL;
    return n && !o->items ? -1 : 0;
}

static int out_generic(struct result_impl *r, const struct json_value *v, struct iot_out *o)
{
    switch (v->type) {
    case JSON_NULL: o->kind = IOT_OUT_NULL; return 0;
    case JSON_FALSE: case JSON_TRUE:
        o->kind = IOT_OUT_BOOLEAN;
        o->b = v->type == JSON_TRUE;
        return 0;
    case JSON_INT: o->kind = IOT_OUT_INTEGER; o->i = v->u.i; return 0;
    case JSON_DOUBLE: o->kind = IOT_OUT_NUMBER; o->d = v->u.d; return 0;
    case JSON_STRING:
        o->kind = IOT_OUT_STRING;
        o->str = v->u.str.ptr;
        o->len = v->u.str.len;
        return 0;
    case JSON_ARRAY:
        if (out_items(r, v->u.arr.n, o, IOT_OUT_LIST) != 0)
            return -1;
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (out_generic(r, &v->u.arr.items[i], &o->items[o->n++]) != 0)
                return -1;
        return 0;
    case JSON_OBJECT:
        if (out_items(r, v->u.obj.n, o, IOT_OUT_MAP) != 0)
            return -1;
        for (size_t i = 0; i < v->u.obj.n; i++) {
            struct iot_out *item = &o->items[o->n++];
            item->key = v->u.obj.members[i].key;
            if (out_generic(r, &v->u.obj.members[i].value, item) != 0)
                return -1;
        }
        return 0;
    }
    return -1;
}

static int out_members(struct result_impl *r, const struct iot_member *ms, size_t n,
                       const struct json_value *obj, struct iot_out *o)
{
    if (out_items(r, n, o, IOT_OUT_MAP) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (ms[i].location != IOT_LOC_BODY)
            continue;
        const struct json_value *v = json_get(obj, ms[i].location_name);
        if (!v || v->type == JSON_NULL)
            continue;
        struct iot_out *item = &o->items[o->n++];
        item->key = ms[i].name;
        if (out_shape(r, ms[i].shape, v, item) != 0)
            return -1;
    }
    return 0;
}

static int out_blob(struct result_impl *r, const struct json_value *v, struct iot_out *o)
{
    struct buf b = BUF_INIT;
    if (enc_base64_decode(&b, v->u.str.ptr, v->u.str.len) != 0) {
        buf_free(&b);
        return out_generic(r, v, o);    /* not base64: hand over the text as sent */
    }
    o->kind = IOT_OUT_STRING;
    o->len = b.len;
    o->str = res_strdup(r, buf_cstr(&b), b.len);
    buf_free(&b);
    return o->str ? 0 : -1;
}

static int out_shape(struct result_impl *r, const struct iot_shape *sh,
                     const struct json_value *v, struct iot_out *o)
{
    switch (sh->type) {
    case IOT_T_BLOB:
        return v->type == JSON_STRING ? out_blob(r, v, o) : out_generic(r, v, o);
    case IOT_T_LIST:
        if (v->type != JSON_ARRAY)
            break;
        if (out_items(r, v->u.arr.n, o, IOT_OUT_LIST) != 0)
            return -1;
        for (size_t i = 0; i < v->u.arr.n; i++)
            if (out_shape(r, sh->element, &v->u.arr.items[i], &o->items[o->n++]) != 0)
                return -1;
        return 0;
    case IOT_T_STRUCTURE:
        if (v->type != JSON_OBJECT)
            break;
        return out_members(r, sh->members, sh->nmembers, v, o);
    case IOT_T_MAP:
        if (v->type != JSON_OBJECT)
            break;
        if (out_items(r, v->u.obj.n, o, IOT_OUT_MAP) != 0)
            return -1;
        for (size_t i = 0; i < v->u.obj.n; i++) {
            struct iot_out *item = &o->items[o->n++];
            item->key = v->u.obj.members[i].key;
            if (out_shape(r, sh->element, &v->u.obj.members[i].value, item) != 0)
                return -1;
        }
        return 0;
    default:
        break;
    }
    return out_generic(r, v, o);    /* scalars, and anything not shaped as modelled */
}

/* Header-located output members (none in iot-data today, kept generic). */
static int out_header_members(struct result_impl *r, const struct iot_op *op, struct iot_out *o)
{
    for (size_t i = 0; i < op->noutput; i++) {
        const struct iot_member *m = &op->output[i];
        const char *v = m->location == IOT_LOC_HEADER
                            ? iot_result_header(&r->pub, m->location_name) : NULL;
        if (!v)
            continue;
        struct iot_out *item = &o->items[o->n++];
        item->key = m->name;
        if (m->shape->type == IOT_T_INTEGER || m->shape->type == IOT_T_LONG) {
            item->kind = IOT_OUT_INTEGER;
            item->i = strtoll(v, NULL, 10);
        } else if (m->shape->type == IOT_T_BOOLEAN) {
            item->kind = IOT_OUT_BOOLEAN;
            item->b = strcmp(v, "true") == 0;
        } else {
            item->kind = IOT_OUT_STRING;
            item->str = v;
            item->len = strlen(v);
        }
    }
    return 0;
}

static void snippet(char *out, size_t outlen, const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 4 < outlen && i < 160; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    if (n > 160 && j + 4 < outlen) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

/* Success: the output members. 0, or -1 with r->pub.error set (InvalidResponse). */
static int parse_output(struct result_impl *r)
{
    const struct iot_op *op = r->pub.op;
    const struct iot_member *payload = iot_op_output_payload(op);
    struct iot_out *o = res_alloc(r, sizeof *o);
    if (!o || out_items(r, op->noutput, o, IOT_OUT_MAP) != 0)
        return -1;
    r->pub.output = o;
    if (payload) {
        struct iot_out *item = &o->items[o->n++];
        item->key = payload->name;
        item->kind = IOT_OUT_STRING;
        item->str = buf_cstr(&r->body);
        item->len = r->body.len;
        return out_header_members(r, op, o);
    }
    if (op->noutput == 0 || r->body.len == 0)
        return out_header_members(r, op, o);
    struct json_error jerr;
    if (json_parse(buf_cstr(&r->body), r->body.len, NULL, &r->json, &jerr) != 0 ||
        r->json->type != JSON_OBJECT) {
        char snip[200];
        snippet(snip, sizeof snip, buf_cstr(&r->body), r->body.len);
        iot_error_set(&r->pub.error, "InvalidResponse",
                  "HTTP %ld response body is not the JSON object expected: %s", r->pub.status,
                  snip);
        return -1;
    }
    if (out_members(r, op->output, op->noutput, r->json, o) != 0)
        return -1;
    return out_header_members(r, op, o);
}

/* ---------------------------------------------------------------- service errors */

void iot_clean_error_code(char *dst, size_t dstlen, const char *s, size_t n)
{
    const char *hash = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '#')
            hash = s + i;
    if (hash) {
        n -= (size_t)(hash + 1 - s);
        s = hash + 1;
    }
    const char *colon = memchr(s, ':', n);
    if (colon)
        n = (size_t)(colon - s);
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    snprintf(dst, dstlen, "%.*s", (int)(n < dstlen ? n : dstlen - 1), s);
}

static const struct json_value *json_string_member(const struct json_value *obj, const char *k1,
                                                   const char *k2)
{
    const struct json_value *v = json_get(obj, k1);
    if (!v || v->type != JSON_STRING)
        v = k2 ? json_get(obj, k2) : NULL;
    return v && v->type == JSON_STRING ? v : NULL;
}

void iot_parse_service_error(long status, const char *error_type_header, const char *body,
                             size_t body_len, struct iot_error *err)
{
    struct json_value *root = NULL;
    int json_ok = body_len > 0 && json_parse(body, body_len, NULL, &root, NULL) == 0 &&
                  root->type == JSON_OBJECT;
    err->code[0] = '\0';
    err->message[0] = '\0';
    err->status = status;
    if (error_type_header && *error_type_header)
        iot_clean_error_code(err->code, sizeof err->code, error_type_header, strlen(error_type_header));
    if (json_ok) {
        const struct json_value *c = json_string_member(root, "__type", "code");
        if (!err->code[0] && c)
            iot_clean_error_code(err->code, sizeof err->code, c->u.str.ptr, c->u.str.len);
        const struct json_value *m = json_string_member(root, "message", "Message");
        if (m)
            snprintf(err->message, sizeof err->message, "%s", m->u.str.ptr);
    }
    if (!err->code[0] || (!json_ok && body_len > 0)) {
        char snip[200];
        snippet(snip, sizeof snip, body, body_len);
        const char *text = http_status_text(status);
        if (!text)
            text = "";
        if (!err->code[0])
            snprintf(err->code, sizeof err->code, "UnknownError");
        if (!err->message[0]) {
            if (body_len == 0)
                snprintf(err->message, sizeof err->message, "HTTP %ld%s%s with an empty body",
                         status, *text ? " " : "", text);
            else if (!json_ok)
                snprintf(err->message, sizeof err->message,
                         "HTTP %ld%s%s with a body that is not JSON (truncated or not from the "
                         "service): %s", status, *text ? " " : "", text, snip);
            else
                snprintf(err->message, sizeof err->message,
                         "HTTP %ld%s%s with no error code: %s", status, *text ? " " : "", text,
                         snip);
        }
    }
    json_free(root);
}

/* A result with an empty inline chunk: one allocation for the result and the pieces of a
 * typical response (res_alloc zeroes what it hands out, so the chunk's data is not). */
static struct result_impl *result_alloc(const struct iot_op *op)
{
    const size_t align = sizeof(max_align_t);
    size_t head = (sizeof(struct result_impl) + align - 1) / align * align;
    struct result_impl *r = malloc(head + sizeof(struct chunk) + INLINE_CHUNK_SIZE);
    if (!r)
        return NULL;
    /* Zeroed but for the error's text buffers (iot_error_empty): one result per response. */
    memset(&r->pub, 0, offsetof(struct iot_result, error));
    iot_error_empty(&r->pub.error);
    r->json = NULL;
    memset(&r->body, 0, sizeof r->body);
    struct chunk *c = (struct chunk *)((char *)r + head);
    c->next = NULL;
    c->size = INLINE_CHUNK_SIZE;
    c->used = 0;
    r->chunks = r->inline_chunk = c;
    r->pub.op = op;
    r->pub.request_id = "";
    r->pub.body = "";
    r->pub.error.operation = op->name;
    return r;
}

/* ---------------------------------------------------------------- local failures */

enum iot_failure iot_classify_transport(const struct iot_transport_failure *x,
                                        struct iot_error *err)
{
    const char *host = x->host ? x->host : "the endpoint";
    const char *detail = x->errbuf && x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
    switch (x->result) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        iot_error_set(err, "DNSError", "could not resolve the host name of %s (%s)", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_COULDNT_CONNECT:
        if (x->os_errno == ECONNREFUSED)
            iot_error_set(err, "NetworkError", "connection refused by %s", host);
        else
            iot_error_set(err, "NetworkError", "could not connect to %s: %s", host,
                      x->os_errno ? strerror((int)x->os_errno) : detail);
        return IOT_FAIL_NETWORK;
    case CURLE_OPERATION_TIMEDOUT:
        if (!x->connected && x->waited_for)
            iot_error_set(err, "TimeoutError", "connect timeout: no connection to %s within "
                          "%ld ms (still waiting for %s)", host, x->connect_timeout_ms,
                          x->waited_for);
        else if (!x->connected)
            iot_error_set(err, "TimeoutError", "connect timeout: no connection to %s within %ld ms",
                      host, x->connect_timeout_ms);
        else
            iot_error_set(err, "TimeoutError", "timeout: no complete response from %s within %ld ms",
                      host, x->timeout_ms);
        return IOT_FAIL_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
        iot_error_set(err, "TLSError", "TLS handshake with %s failed: %s", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        iot_error_set(err, "TLSError", "TLS certificate verification for %s failed: %s", host,
                  detail);
        return IOT_FAIL_PERMANENT;
    case CURLE_GOT_NOTHING:
        iot_error_set(err, "NetworkError", "connection closed by %s without a response", host);
        return IOT_FAIL_NETWORK;
    case CURLE_PARTIAL_FILE:
        iot_error_set(err, "NetworkError", "connection closed by %s before the whole response "
                  "arrived (%s)", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        iot_error_set(err, "NetworkError", "connection to %s failed: %s", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_WRITE_ERROR:
        if (x->too_large)
            iot_error_set(err, "InvalidResponse", "the response from %s is too large (more than "
                      "%u bytes of body or 1 MiB of headers)", host, HTTP_MAX_RESPONSE_BYTES);
        else
            iot_error_set(err, "InternalError", "out of memory receiving the response");
        return IOT_FAIL_PERMANENT;
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
        iot_error_set(err, "InternalError", "cannot read the payload file (it changed or failed "
                  "while being sent)");
        return IOT_FAIL_PERMANENT;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
        iot_error_set(err, "InternalError", "the HTTP layer failed: %s", detail);
        return IOT_FAIL_PERMANENT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        iot_error_set(err, "ConfigError", "bad request URL: %s", detail);
        return IOT_FAIL_PERMANENT;
    default:
        iot_error_set(err, "NetworkError", "request to %s failed: %s", host, detail);
        return IOT_FAIL_NETWORK;
    }
}

/* A received response (r->pub.status set, r->body holding the body; head: the raw
 * header block) → headers, request id, and output or error. Returns the failure class
 * for the retry policy (IOT_FAIL_NONE once a response was parsed, even an error one). */
static enum iot_failure response_fill(struct result_impl *r, const struct buf *head)
{
    if (parse_headers(r, head) != 0) {
        iot_error_set(&r->pub.error, "InternalError", "out of memory");
        return IOT_FAIL_PERMANENT;
    }
    r->pub.body = buf_cstr(&r->body);
    r->pub.body_len = r->body.len;
    const char *rid = iot_result_header(&r->pub, "x-amzn-requestid");
    if (!rid)
        rid = iot_result_header(&r->pub, "x-amz-request-id");
    r->pub.request_id = rid ? rid : "";
    if (r->pub.status >= 200 && r->pub.status < 300) {
        if (parse_output(r) == 0) {
            r->pub.ok = 1;
            return IOT_FAIL_NONE;
        }
        if (!r->pub.error.code[0])
            iot_error_set(&r->pub.error, "InternalError", "out of memory");
        return IOT_FAIL_PERMANENT;
    }
    iot_parse_service_error(r->pub.status, iot_result_header(&r->pub, "x-amzn-errortype"),
                            r->pub.body, r->pub.body_len, &r->pub.error);
    return IOT_FAIL_NONE;
}

struct iot_result *iot_result_new(const struct iot_op *op)
{
    struct result_impl *r = result_alloc(op);
    return r ? &r->pub : NULL;
}

struct iot_result *iot_result_new_bare(const struct iot_op *op)
{
    struct result_impl *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->pub.op = op;
    r->pub.request_id = "";
    r->pub.body = "";
    r->pub.error.operation = op->name;
    return &r->pub;
}

enum iot_failure iot_response_fill(struct iot_result *result, const struct buf *head,
                                   struct buf *body)
{
    struct result_impl *r = (struct result_impl *)result;
    buf_free(&r->body);
    r->body = *body;
    memset(body, 0, sizeof *body);
    return response_fill(r, head);
}

struct iot_result *iot_response_parse(const struct iot_op *op, long status, const char *head,
                                      size_t head_len, const char *body, size_t body_len)
{
    struct result_impl *r = op ? result_alloc(op) : NULL;
    struct buf h = BUF_INIT;
    if (!r)
        return NULL;
    r->pub.status = status;
    if (buf_append(&h, head ? head : "", head ? head_len : 0) != 0 ||
        buf_append(&r->body, body ? body : "", body ? body_len : 0) != 0 ||
        response_fill(r, &h) == IOT_FAIL_PERMANENT) {
        if (!r->pub.error.code[0])
            iot_error_set(&r->pub.error, "InternalError", "out of memory");
    }
    r->pub.error.status = r->pub.ok ? 0 : status;
    buf_free(&h);
    return &r->pub;
}

