/*
 * client.c — clients and calls: marshal → sign → send on the engine → classify →
 * retry (a timer, never a sleep) → parse the response into a result; see client.h.
 *
 * A call owns its params, its marshalled request, its URL and one http_xfer reused by
 * every attempt; it lives from iot_call_start until its event is popped or cancelled.
 */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "encode.h"
#include "http.h"
#include "http_status.h"
#include "json.h"
#include "marshal.h"
#include "response.h"
#include "retry.h"
#include "sigv4.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L

/* ================================================================ small helpers */

const char *iot_user_agent(void)
{
    static char ua[96];
    if (!ua[0]) {
        const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        snprintf(ua, sizeof ua, "iotlua/%s libcurl/%s", IOTLUA_VERSION,
                 v && v->version ? v->version : "?");
    }
    return ua;
}

__attribute__((format(printf, 3, 4)))
static void set_error(struct iot_error *err, const char *code, const char *fmt, ...)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

int iot_retry_mode_parse(const char *s, enum iot_retry_mode *mode_out, char *msg, size_t msglen)
{
    if (!s || strcmp(s, "standard") == 0) {
        *mode_out = IOT_RETRY_STANDARD;
        return 0;
    }
    if (strcmp(s, "legacy") == 0) {
        *mode_out = IOT_RETRY_LEGACY;
        return 0;
    }
    if (msg && msglen)
        snprintf(msg, msglen, "retry_mode must be \"standard\" or \"legacy\" (got \"%.64s\"; "
                 "\"adaptive\" is not supported)", s);
    return -1;
}

/* ================================================================ clients */

struct iot_client {
    int refs;
    struct iot_engine *engine;
    char *base_url;             /* scheme://host[:port][/base], no trailing '/' */
    char *host_header;          /* host[:port] as signed and sent */
    char *region;
    char *signing_name;
    char *akid, *secret, *token;    /* static credentials (secret wiped on free) */
    iot_credentials_fn credentials_fn;
    void *credentials_ctx;
    long timeout_ms, connect_timeout_ms;
    int max_attempts;
    enum iot_retry_mode retry_mode;
    char *ca_bundle;
    int verify_tls;
    struct iot_retry_quota quota;
    struct sigv4_signer *signer;    /* cached signing keys, digests fetched once */
    struct enc_hasher *hasher;      /* payload hashes (one OpenSSL context for every call) */
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void client_unref(struct iot_client *c)
{
    if (!c || --c->refs > 0)
        return;
    free(c->base_url);
    free(c->host_header);
    free(c->region);
    free(c->signing_name);
    free(c->akid);
    free_secret(c->secret);
    free_secret(c->token);
    free(c->ca_bundle);
    sigv4_signer_free(c->signer);
    enc_hasher_free(c->hasher);
    free(c);
}

void iot_client_free(struct iot_client *client)
{
    client_unref(client);
}

/* Split the endpoint URL into the base URL and the Host header; 0 or -1 + err. */
static int parse_endpoint(struct iot_client *c, const char *endpoint, struct iot_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    int rc = -1;
    if (!u || !endpoint || !*endpoint) {
        set_error(err, "ConfigError", "no endpoint URL");
        goto done;
    }
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        set_error(err, "ConfigError", "endpoint \"%.200s\" is not a valid URL", endpoint);
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        set_error(err, "ConfigError", "endpoint \"%.200s\": the scheme must be http or https",
                  endpoint);
        goto done;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    if ((query && *query) || user) {
        set_error(err, "ConfigError", "endpoint \"%.200s\" must not have a query or user "
                  "information", endpoint);
        goto done;
    }
    int default_port = !port || (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0) ||
                       (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0);
    struct buf b = BUF_INIT, h = BUF_INIT;
    buf_printf(&h, "%s", host);
    if (!default_port)
        buf_printf(&h, ":%s", port);
    buf_printf(&b, "%s://%s", scheme, buf_cstr(&h));
    size_t plen = path ? strlen(path) : 0;
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    if (plen)
        buf_append(&b, path, plen);
    c->base_url = buf_steal(&b);
    c->host_header = buf_steal(&h);
    rc = c->base_url && c->host_header ? 0 : -1;
    if (rc)
        set_error(err, "InternalError", "out of memory");
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

static int client_settings(struct iot_client *c, const struct iot_client_config *cfg,
                           struct iot_error *err)
{
    if (!cfg->region || !*cfg->region) {
        set_error(err, "ConfigError", "no region");
        return -1;
    }
    if (cfg->max_attempts < 0) {
        set_error(err, "ConfigError", "max_attempts must be at least 1 (got %d)",
                  cfg->max_attempts);
        return -1;
    }
    if (cfg->timeout_ms < 0 || cfg->connect_timeout_ms < 0) {
        set_error(err, "ConfigError", "timeouts must not be negative");
        return -1;
    }
    c->retry_mode = cfg->retry_mode == IOT_RETRY_LEGACY ? IOT_RETRY_LEGACY : IOT_RETRY_STANDARD;
    c->max_attempts = cfg->max_attempts ? cfg->max_attempts
                      : c->retry_mode == IOT_RETRY_LEGACY ? IOT_RETRY_LEGACY_MAX_ATTEMPTS
                                                          : IOT_RETRY_DEFAULT_MAX_ATTEMPTS;
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
                                                    : DEFAULT_CONNECT_TIMEOUT_MS;
    c->verify_tls = cfg->verify_tls >= 0;
    c->credentials_fn = cfg->credentials_fn;
    c->credentials_ctx = cfg->credentials_ctx;
    iot_retry_quota_init(&c->quota);
    return 0;
}

struct iot_client *iot_client_new(struct iot_engine *engine, const struct iot_client_config *cfg,
                                  struct iot_error *err_out)
{
    struct iot_error scratch;
    struct iot_error *err = err_out ? err_out : &scratch;
    memset(err, 0, sizeof *err);
    struct iot_client *c = calloc(1, sizeof *c);
    if (!c) {
        set_error(err, "InternalError", "out of memory");
        return NULL;
    }
    c->refs = 1;
    c->engine = engine;
    if (!engine || !cfg) {
        set_error(err, "ConfigError", "no engine or configuration");
        goto fail;
    }
    if (client_settings(c, cfg, err) != 0 || parse_endpoint(c, cfg->endpoint, err) != 0)
        goto fail;
    c->region = strdup(cfg->region);
    c->signing_name = strdup(cfg->signing_name ? cfg->signing_name : IOT_SERVICE_SIGNING_NAME);
    c->akid = dup_or_null(cfg->credentials.access_key_id);
    c->secret = dup_or_null(cfg->credentials.secret_access_key);
    c->token = cfg->credentials.session_token && *cfg->credentials.session_token
                   ? strdup(cfg->credentials.session_token) : NULL;
    c->ca_bundle = dup_or_null(cfg->ca_bundle);
    c->signer = sigv4_signer_new();
    c->hasher = enc_hasher_new();
    if (!c->region || !c->signing_name || !c->signer || !c->hasher || (cfg->credentials.access_key_id && !c->akid) ||
        (cfg->credentials.secret_access_key && !c->secret) || (cfg->ca_bundle && !c->ca_bundle)) {
        set_error(err, "InternalError", "out of memory");
        goto fail;
    }
    if (cfg->max_connections > 0)
        iot_engine_set_max_connections(engine, cfg->max_connections);
    return c;
fail:
    client_unref(c);
    return NULL;
}

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

static const char *header(const struct iot_result *r, const char *lname)
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
        const char *v = m->location == IOT_LOC_HEADER ? header(&r->pub, m->location_name) : NULL;
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
        set_error(&r->pub.error, "InvalidResponse",
                  "HTTP %ld response body is not the JSON object expected: %s", r->pub.status,
                  snip);
        return -1;
    }
    if (out_members(r, op->output, op->noutput, r->json, o) != 0)
        return -1;
    return out_header_members(r, op, o);
}

/* ---------------------------------------------------------------- service errors */

/* Code from "Prefix#Code:extra" forms: after the last '#', before the first ':'. */
static void clean_code(char *dst, size_t dstlen, const char *s, size_t n)
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
        clean_code(err->code, sizeof err->code, error_type_header, strlen(error_type_header));
    if (json_ok) {
        const struct json_value *c = json_string_member(root, "__type", "code");
        if (!err->code[0] && c)
            clean_code(err->code, sizeof err->code, c->u.str.ptr, c->u.str.len);
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

/* ================================================================ calls */

struct iot_call {
    struct eng_item item;
    struct iot_client *client;
    struct iot_params *params;
    struct iot_request req;
    char *url;                  /* "URL\0path as signed\0", one allocation */
    const char *sign_path;      /* into url: the endpoint's base path + the request path */
    int attempts;
    int connections_opened;
    int quota_acquired;
    struct eng_timer backoff;
    struct http_xfer x;
};

static void call_destroy(struct iot_engine *e, struct eng_item *item)
{
    struct iot_call *call = DL_CONTAINER(item, struct iot_call, item);
    eng_timer_disarm(e, &call->backoff);
    http_abort(e, &call->x);
    http_xfer_free(&call->x);
    iot_request_free(&call->req);
    iot_params_free(call->params);
    iot_result_free(call->item.result);
    client_unref(call->client);
    free(call->url);
    free(call);
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
    memset(r, 0, sizeof *r);
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

static struct result_impl *result_new(struct iot_call *call)
{
    struct result_impl *r = result_alloc(iot_params_op(call->params));
    if (!r)
        return NULL;
    r->pub.attempts = call->attempts;
    r->pub.error.attempts = call->attempts;
    return r;
}

/* Deliver the call's event with result r (NULL: out of memory, reported as such). */
static void call_complete(struct iot_engine *e, struct iot_call *call, struct result_impl *r)
{
    if (!r) {
        r = calloc(1, sizeof *r);
        if (r) {
            r->pub.op = iot_params_op(call->params);
            r->pub.request_id = "";
            r->pub.body = "";
            r->pub.error.operation = r->pub.op->name;
            set_error(&r->pub.error, "InternalError", "out of memory");
        }
    }
    if (r) {
        r->pub.attempts = call->attempts;
        r->pub.error.attempts = r->pub.ok ? 0 : call->attempts;
        if (!r->pub.ok)
            snprintf(r->pub.error.request_id, sizeof r->pub.error.request_id, "%s",
                     r->pub.request_id);
    }
    call->item.result = r ? &r->pub : NULL;
    eng_item_ready(e, &call->item);
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
        set_error(err, "DNSError", "could not resolve the host name of %s (%s)", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_COULDNT_CONNECT:
        if (x->os_errno == ECONNREFUSED)
            set_error(err, "NetworkError", "connection refused by %s", host);
        else
            set_error(err, "NetworkError", "could not connect to %s: %s", host,
                      x->os_errno ? strerror((int)x->os_errno) : detail);
        return IOT_FAIL_NETWORK;
    case CURLE_OPERATION_TIMEDOUT:
        if (!x->connected)
            set_error(err, "TimeoutError", "connect timeout: no connection to %s within %ld ms",
                      host, x->connect_timeout_ms);
        else
            set_error(err, "TimeoutError", "timeout: no complete response from %s within %ld ms",
                      host, x->timeout_ms);
        return IOT_FAIL_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
        set_error(err, "TLSError", "TLS handshake with %s failed: %s", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        set_error(err, "TLSError", "TLS certificate verification for %s failed: %s", host,
                  detail);
        return IOT_FAIL_PERMANENT;
    case CURLE_GOT_NOTHING:
        set_error(err, "NetworkError", "connection closed by %s without a response", host);
        return IOT_FAIL_NETWORK;
    case CURLE_PARTIAL_FILE:
        set_error(err, "NetworkError", "connection closed by %s before the whole response "
                  "arrived (%s)", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        set_error(err, "NetworkError", "connection to %s failed: %s", host, detail);
        return IOT_FAIL_NETWORK;
    case CURLE_WRITE_ERROR:
        if (x->too_large)
            set_error(err, "InvalidResponse", "the response from %s is too large (more than "
                      "%u bytes of body or 1 MiB of headers)", host, HTTP_MAX_RESPONSE_BYTES);
        else
            set_error(err, "InternalError", "out of memory receiving the response");
        return IOT_FAIL_PERMANENT;
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
        set_error(err, "InternalError", "cannot read the payload file (it changed or failed "
                  "while being sent)");
        return IOT_FAIL_PERMANENT;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
        set_error(err, "InternalError", "the HTTP layer failed: %s", detail);
        return IOT_FAIL_PERMANENT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        set_error(err, "ConfigError", "bad request URL: %s", detail);
        return IOT_FAIL_PERMANENT;
    default:
        set_error(err, "NetworkError", "request to %s failed: %s", host, detail);
        return IOT_FAIL_NETWORK;
    }
}

/* ---------------------------------------------------------------- attempts */

static int get_credentials(struct iot_call *call, struct sigv4_credentials *out,
                           struct iot_error *err)
{
    struct iot_client *c = call->client;
    if (c->credentials_fn) {
        struct iot_credentials cr = {0};
        if (c->credentials_fn(c->credentials_ctx, &cr, err) != 0) {
            if (!err->code[0])
                snprintf(err->code, sizeof err->code, "CredentialsError");
            return -1;
        }
        out->access_key_id = cr.access_key_id;
        out->secret_access_key = cr.secret_access_key;
        out->session_token = cr.session_token;
    } else {
        out->access_key_id = c->akid;
        out->secret_access_key = c->secret;
        out->session_token = c->token;
    }
    if (!out->access_key_id || !*out->access_key_id || !out->secret_access_key ||
        !*out->secret_access_key) {
        set_error(err, "CredentialsError", "no credentials: set access_key_id and "
                  "secret_access_key");
        return -1;
    }
    return 0;
}

/* Sign the request afresh and build the header list. 0, or -1 with err. */
static int sign_attempt(struct iot_call *call, struct iot_error *err)
{
    struct iot_client *c = call->client;
    /* Host and the marshalled headers; a request with more than fit on the stack (no
     * operation of the model has that many) gets a heap array. */
    struct sigv4_header stack_hs[24];
    struct sigv4_header *hs = stack_hs;
    size_t n = 0;
    struct sigv4_params sp = {0};
    struct sigv4_result sr;
    memset(&sr, 0, sizeof sr);
    if (get_credentials(call, &sp.credentials, err) != 0)
        return -1;
    if (call->req.nhdrs + 1 > sizeof stack_hs / sizeof stack_hs[0] &&
        !(hs = malloc((call->req.nhdrs + 1) * sizeof *hs)))
        goto oom;
    hs[n].name = "Host";
    hs[n++].value = c->host_header;
    for (size_t i = 0; i < call->req.nhdrs; i++, n++)
        iot_request_header(&call->req, i, &hs[n].name, &hs[n].value);
    struct sigv4_request sq = {call->req.method, call->sign_path, iot_request_query(&call->req),
                               hs, n, NULL, 0, call->req.payload_hash};
    sp.region = c->region;
    sp.service = c->signing_name;
    sp.time = eng_wall_clock(c->engine);
    if (sigv4_signer_sign(c->signer, &sq, &sp, &sr) != 0) {
        set_error(err, "InternalError", "signing failed: %s", sr.error);
        goto fail;
    }
    for (size_t i = 0; i < n + sr.nadd; i++) {
        const struct sigv4_header *h = i < n ? &hs[i] : &sr.add[i - n];
        int rc = http_xfer_add_header(&call->x, h->name, h->value);
        if (rc == -1)
            goto oom;
        if (rc != 0) {
            set_error(err, "ValidationError", "header %s: not a valid HTTP header (a name "
                      "must be a token, a value must not hold CR or LF)", h->name);
            goto fail;
        }
    }
    sigv4_result_free(&sr);
    if (hs != stack_hs)
        free(hs);
    return 0;
oom:
    set_error(err, "InternalError", "out of memory");
fail:
    sigv4_result_free(&sr);
    if (hs != stack_hs)
        free(hs);
    return -1;
}

/* http_xfer.prepare: sign the attempt as it leaves the queue. On failure the call
 * completes with the error (CredentialsError, ...). */
static int call_prepare(struct iot_engine *e, struct http_xfer *x)
{
    struct iot_call *call = DL_CONTAINER(x, struct iot_call, x);
    struct iot_error err;
    memset(&err, 0, sizeof err);
    if (sign_attempt(call, &err) == 0)
        return 0;
    struct result_impl *r = result_new(call);
    if (r) {
        err.operation = r->pub.error.operation;
        r->pub.error = err;
    }
    call_complete(e, call, r);
    return -1;
}

/* Queue the next attempt; it is signed when it leaves the queue (call_prepare). */
static void call_attempt(struct iot_engine *e, struct iot_call *call)
{
    struct http_xfer *x = &call->x;
    struct iot_client *c = call->client;
    http_xfer_reset(x);
    call->attempts++;
    x->url = call->url;
    x->method = call->req.method;
    x->body = call->req.body;
    x->body_len = call->req.body_len;
    x->has_body = call->req.has_body;
    x->file = call->req.file;
    x->file_start = call->req.file_start;
    x->file_len = call->req.file_len;
    x->timeout_ms = c->timeout_ms;
    x->connect_timeout_ms = c->connect_timeout_ms;
    x->ca_bundle = c->ca_bundle;
    x->verify_tls = c->verify_tls;
    if (http_submit(e, x) == 0)
        return;
    struct result_impl *r = result_new(call);
    if (r)
        set_error(&r->pub.error, "InternalError", "the transfer could not be queued");
    call_complete(e, call, r);
}

static void backoff_fire(struct iot_engine *e, struct eng_timer *t)
{
    call_attempt(e, DL_CONTAINER(t, struct iot_call, backoff));
}

/* A received response (r->pub.status set, r->body holding the body; head: the raw
 * header block) → headers, request id, and output or error. Returns the failure class
 * for the retry policy (IOT_FAIL_NONE once a response was parsed, even an error one). */
static enum iot_failure response_fill(struct result_impl *r, const struct buf *head)
{
    if (parse_headers(r, head) != 0) {
        set_error(&r->pub.error, "InternalError", "out of memory");
        return IOT_FAIL_PERMANENT;
    }
    r->pub.body = buf_cstr(&r->body);
    r->pub.body_len = r->body.len;
    const char *rid = header(&r->pub, "x-amzn-requestid");
    if (!rid)
        rid = header(&r->pub, "x-amz-request-id");
    r->pub.request_id = rid ? rid : "";
    if (r->pub.status >= 200 && r->pub.status < 300) {
        if (parse_output(r) == 0) {
            r->pub.ok = 1;
            return IOT_FAIL_NONE;
        }
        if (!r->pub.error.code[0])
            set_error(&r->pub.error, "InternalError", "out of memory");
        return IOT_FAIL_PERMANENT;
    }
    iot_parse_service_error(r->pub.status, header(&r->pub, "x-amzn-errortype"), r->pub.body,
                            r->pub.body_len, &r->pub.error);
    return IOT_FAIL_NONE;
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
            set_error(&r->pub.error, "InternalError", "out of memory");
    }
    r->pub.error.status = r->pub.ok ? 0 : status;
    buf_free(&h);
    return &r->pub;
}

/* Build the result of a finished attempt: r->pub.ok, error, output. Returns the
 * failure class for the retry policy. */
static enum iot_failure attempt_outcome(struct iot_call *call, struct result_impl *r)
{
    struct http_xfer *x = &call->x;
    r->pub.status = x->status;
    r->pub.http_version = x->http_version;
    call->connections_opened += x->new_connection;
    r->pub.connections_opened = call->connections_opened;
    if (x->result != CURLE_OK) {
        r->pub.status = 0;
        struct iot_transport_failure tf = {x->result, x->os_errno, x->connected, x->too_large,
                                           call->client->host_header, x->errbuf,
                                           x->timeout_ms, x->connect_timeout_ms};
        return iot_classify_transport(&tf, &r->pub.error);
    }
    /* Take the body over: the xfer's buffer is reused by the next attempt anyway. */
    r->body = x->body_in;
    memset(&x->body_in, 0, sizeof x->body_in);
    return response_fill(r, &x->head);
}

static void call_xfer_done(struct iot_engine *e, struct http_xfer *x)
{
    struct iot_call *call = DL_CONTAINER(x, struct iot_call, x);
    struct iot_client *c = call->client;
    struct result_impl *r = result_new(call);
    if (!r) {
        call_complete(e, call, NULL);
        return;
    }
    enum iot_failure failure = attempt_outcome(call, r);
    if (r->pub.ok) {
        if (c->retry_mode == IOT_RETRY_STANDARD)
            iot_retry_quota_success(&c->quota, call->quota_acquired);
        call_complete(e, call, r);
        return;
    }
    r->pub.error.status = r->pub.status;
    r->pub.error.retryable = iot_retry_is_retryable(failure, r->pub.status, r->pub.error.code);
    struct iot_retry_decision d = iot_retry_decide(
        c->retry_mode, c->max_attempts, call->attempts, failure, r->pub.status,
        r->pub.error.code, c->retry_mode == IOT_RETRY_STANDARD ? &c->quota : NULL,
        eng_random(e));
    if (d.retry) {
        call->quota_acquired = d.cost;
        iot_result_free(&r->pub);
        if (eng_timer_arm(e, &call->backoff, d.delay_ms) == 0)
            return;
        call_complete(e, call, NULL);
        return;
    }
    call_complete(e, call, r);
}

/* The call's URL (base URL + target) and, after its NUL, the path it is signed with (the
 * endpoint's base path + the request path), made once for every attempt. 0 or -1 (OOM). */
static int call_urls(struct iot_call *call, const struct iot_client *client)
{
    const char *base_path = strchr(strstr(client->base_url, "://") + 3, '/');
    if (!base_path)
        base_path = "";
    const struct iot_request *req = &call->req;
    size_t base_len = strlen(client->base_url), base_path_len = strlen(base_path);
    struct buf b = BUF_INIT;
    if (buf_reserve(&b, base_len + req->target.len + 1 + base_path_len + req->path_len) != 0 ||
        buf_append(&b, client->base_url, base_len) != 0 ||
        buf_append(&b, buf_cstr(&req->target), req->target.len) != 0 ||
        buf_append_char(&b, '\0') != 0 ||
        buf_append(&b, base_path, base_path_len) != 0 ||
        buf_append(&b, buf_cstr(&req->target), req->path_len) != 0) {
        buf_free(&b);
        return -1;
    }
    size_t path_off = base_len + req->target.len + 1;
    call->url = buf_steal(&b);
    call->sign_path = call->url + path_off;
    return 0;
}

int iot_call_start(struct iot_client *client, struct iot_params *params, void *user,
                   uint64_t *id_out, char *msg, size_t msglen)
{
    struct iot_call *call = NULL;
    if (!client || !params) {
        if (msg && msglen)
            snprintf(msg, msglen, "iot_call_start: no client or parameters");
        iot_params_free(params);
        return -1;
    }
    if (iot_params_check(params, msg, msglen) != 0)
        goto fail;
    call = calloc(1, sizeof *call);
    if (!call)
        goto oom;
    struct iot_request init = IOT_REQUEST_INIT;
    call->req = init;
    call->params = params;
    params = NULL;
    http_xfer_init(&call->x);
    call->x.done = call_xfer_done;
    call->x.prepare = call_prepare;
    eng_timer_init(&call->backoff, backoff_fire);
    if (iot_marshal_hashed(call->params, client->hasher, &call->req, msg, msglen) != 0)
        goto fail;
    if (call_urls(call, client) != 0)
        goto oom;
    call->client = client;
    client->refs++;
    call->item.id = eng_next_id(client->engine);
    call->item.user = user;
    call->item.kind = IOT_EV_CALL;
    call->item.destroy = call_destroy;
    eng_item_track(client->engine, &call->item);
    if (id_out)
        *id_out = call->item.id;
    call_attempt(client->engine, call);
    return 0;
oom:
    if (msg && msglen)
        snprintf(msg, msglen, "out of memory");
fail:
    iot_params_free(params);
    if (call) {
        http_xfer_free(&call->x);
        iot_request_free(&call->req);
        iot_params_free(call->params);
        free(call->url);
        free(call);
    }
    return -1;
}
