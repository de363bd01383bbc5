/* http_reply.c — what every operation of the emulator's HTTP side uses: operation names,
 * request ids, AWS-style replies (JSON, errors, a dropped connection), requests whose
 * reply waits, and the readers of query parameters and path labels (http_internal.h). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"
#include "http_server.h"
#include "http_status.h"
#include "operations.h"
#include "ws.h"

#define INVALID "InvalidRequestException"

/* ================================================================ operation names */

static const char *const op_names[OP_COUNT] = {
    [OP_NONE] = "",
    [OP_PUBLISH] = "Publish",
    [OP_SEND_DIRECT_MESSAGE] = "SendDirectMessage",
    [OP_GET_CONNECTION] = "GetConnection",
    [OP_LIST_SUBSCRIPTIONS] = "ListSubscriptions",
    [OP_DELETE_CONNECTION] = "DeleteConnection",
    [OP_GET_THING_SHADOW] = "GetThingShadow",
    [OP_UPDATE_THING_SHADOW] = "UpdateThingShadow",
    [OP_DELETE_THING_SHADOW] = "DeleteThingShadow",
    [OP_LIST_NAMED_SHADOWS_FOR_THING] = "ListNamedShadowsForThing",
    [OP_GET_RETAINED_MESSAGE] = "GetRetainedMessage",
    [OP_LIST_RETAINED_MESSAGES] = "ListRetainedMessages",
};

const char *http_op_name(enum http_op op)
{
    return op > OP_NONE && op < OP_COUNT ? op_names[op] : "";
}

enum http_op http_op_from_name(const char *name)
{
    for (int op = OP_NONE + 1; op < OP_COUNT; op++)
        if (strcmp(op_names[op], name) == 0)
            return (enum http_op)op;
    return OP_NONE;
}

/* A version-4-style UUID from an xorshift64* stream: ids need to be unique, not secret. */
/* ================================================================ replies */

static uint64_t next_random(struct http_api *api)
{
    api->rng ^= api->rng >> 12;
    api->rng ^= api->rng << 25;
    api->rng ^= api->rng >> 27;
    return api->rng * 0x2545F4914F6CDD1DULL;
}

void http_make_request_id(struct http_api *api, char out[40])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t w[2] = {next_random(api), next_random(api)};
    int k = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[k++] = '-';
        unsigned nibble = (unsigned)(w[i / 16] >> (4 * (i % 16))) & 15;
        if (i == 12)
            nibble = 4;                     /* version 4 */
        else if (i == 16)
            nibble = 8 | (nibble & 3);      /* variant 10xx */
        out[k++] = hex[nibble];
    }
    out[k] = '\0';
}

/* One answer, on whichever transport carries the request. */
static void send_reply(struct http_ctx *ctx, int status, const char *reason,
                       const char *error_type, const struct buf *body)
{
    if (ctx->conn) {
        hs_reply(ctx->conn, status, reason, error_type, ctx->request_id, body->data,
                 body->len);
        return;
    }
    ws_pending_reply(ctx->ws_pending, status, reason, error_type, ctx->request_id,
                     body->data, body->len);
}

/* The status line's text: the shared table, else a generic word. */
static const char *reason_phrase(int status)
{
    const char *text = http_status_text(status);
    return text ? text : status < 400 ? "OK" : "Error";
}

void http_reply_json(struct http_ctx *ctx, int status, const struct buf *body)
{
    send_reply(ctx, status, reason_phrase(status), NULL, body);
}

void http_reply_error(struct http_ctx *ctx, int status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    struct buf *out = &ctx->api->out;
    buf_reset(out);
    buf_append_str(out, "{\"message\":");
    json_write_string_lossy(out, message, strlen(message));
    buf_append_str(out, ",\"traceId\":\"");
    buf_append_str(out, ctx->request_id);
    buf_append_str(out, "\"}");
    send_reply(ctx, status, reason_phrase(status), code, out);
}

/* QA fault: the client sees its connection closed with no reply (--ws-port's pending
 * upgrades, which take no faults, get an empty 500). */
void http_drop_connection(struct http_ctx *ctx)
{
    if (ctx->conn) {
        hs_drop(ctx->conn);
        return;
    }
    struct buf empty = BUF_INIT;
    send_reply(ctx, 500, "Dropped", NULL, &empty);
}

/* ================================================================ requests that wait */

struct http_call *http_call_new(struct http_ctx *ctx)
{
    struct http_call *call = calloc(1, sizeof *call);
    if (!call)
        return NULL;
    call->ctx = *ctx;
    call->next = ctx->api->calls;
    if (call->next)
        call->next->pprev = &call->next;
    call->pprev = &ctx->api->calls;
    ctx->api->calls = call;
    return call;
}

void http_call_finish(struct http_call *call)
{
    if (call->timer)
        event_free(call->timer);
    *call->pprev = call->next;
    if (call->next)
        call->next->pprev = call->pprev;
    free(call);
}

/* ================================================================ query parameters and path labels */

/* The arena may move when it grows: values are handed out as offsets, and only turned
 * into pointers once every value of the request has been decoded. */
static int query_get_off(struct http_ctx *ctx, const char *name, size_t *off_out,
                         size_t *len_out)
{
    struct hp_query_param params[HTTP_MAX_QUERY_PARAMS];
    int n = ctx->query ? hp_query_split(ctx->query, ctx->query_len, params,
                                        HTTP_MAX_QUERY_PARAMS)
                       : 0;
    if (n < 0) {
        http_reply_error(ctx, 400, INVALID, "too many query parameters");
        return -1;
    }
    size_t name_len = strlen(name);
    for (int i = 0; i < n; i++) {
        if (params[i].key_len != name_len || memcmp(params[i].key, name, name_len) != 0)
            continue;
        struct buf *a = &ctx->api->arena;
        if (buf_reserve(a, params[i].value_len + 1) != 0) {
            http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
            return -1;
        }
        size_t len;
        if (enc_uri_decode_to(a->data + a->len, params[i].value, params[i].value_len,
                              ENC_DECODE_STRICT, &len) != 0) {
            http_reply_error(ctx, 400, INVALID, "bad percent-encoding in query parameter %s",
                             name);
            return -1;
        }
        *off_out = a->len;
        *len_out = len;
        a->len += len + 1;
        return 1;
    }
    return 0;
}

int http_query_get(struct http_ctx *ctx, const char *name, const char **value_out,
                   size_t *len_out)
{
    size_t off;
    int r = query_get_off(ctx, name, &off, len_out);
    if (r == 1)
        *value_out = ctx->api->arena.data + off;
    return r;
}

/* The path label (topic or clientId) decoded into out (HTTP_MAX_LABEL + 1 bytes). */
int http_label_decode(struct http_ctx *ctx, char *out, size_t *len_out, const char *what)
{
    if (ctx->label_len > HTTP_MAX_LABEL ||
        enc_uri_decode_to(out, ctx->label, ctx->label_len, ENC_DECODE_STRICT, len_out) != 0) {
        http_reply_error(ctx, 400, INVALID, "%s is malformed or too long", what);
        return -1;
    }
    return 0;
}

int http_label_client_id(struct http_ctx *ctx, char *out)
{
    size_t len;
    if (http_label_decode(ctx, out, &len, "clientId") != 0)
        return -1;
    const char *problem = hp_client_id_problem(out, len);   /* NUL included */
    if (problem) {
        http_reply_error(ctx, 400, INVALID, "%s", problem);
        return -1;
    }
    return 0;
}

int http_query_opt(struct http_ctx *ctx, const char *name, size_t *off, size_t *len,
                     bool *present)
{
    int r = query_get_off(ctx, name, off, len);
    *present = r == 1;
    return r < 0 ? -1 : 0;
}

int http_query_int(struct http_ctx *ctx, const char *name, int64_t min, int64_t max,
                   int64_t dflt, int64_t *out)
{
    const char *v;
    size_t len;
    int r = http_query_get(ctx, name, &v, &len);
    if (r < 0)
        return -1;
    *out = dflt;
    if (r == 1 && hp_parse_int(v, len, min, max, out) != 0) {
        http_reply_error(ctx, 400, INVALID, "%s must be an integer from %lld to %lld", name,
                         (long long)min, (long long)max);
        return -1;
    }
    return 0;
}

/* The range of the operation's query member `name` in the model, if it gives one. */
static void model_range(const struct iot_op *op, const char *name, int64_t *min, int64_t *max)
{
    for (size_t i = 0; op && i < op->ninput; i++) {
        const struct iot_member *m = &op->input[i];
        if (m->location != IOT_LOC_QUERY || strcmp(m->location_name, name) != 0)
            continue;
        if (m->shape->has_min)
            *min = m->shape->min;
        if (m->shape->has_max)
            *max = m->shape->max;
        return;
    }
}

int http_query_model_int(struct http_ctx *ctx, const char *name, int64_t min, int64_t max,
                         int64_t dflt, int64_t *out)
{
    model_range(ctx->iop, name, &min, &max);
    return http_query_int(ctx, name, min, max, dflt, out);
}

int http_query_bool(struct http_ctx *ctx, const char *name, bool *out)
{
    const char *v;
    size_t len;
    int r = http_query_get(ctx, name, &v, &len);
    if (r < 0)
        return -1;
    *out = false;
    if (r == 1 && hp_parse_bool(v, len, out) != 0) {
        http_reply_error(ctx, 400, INVALID, "%s must be true or false", name);
        return -1;
    }
    return 0;
}

void http_reply_ok_trace(struct http_ctx *ctx)
{
    struct buf *out = &ctx->api->out;
    buf_reset(out);
    buf_append_str(out, "{\"message\":\"OK\",\"traceId\":\"");
    buf_append_str(out, ctx->request_id);
    buf_append_str(out, "\"}");
    http_reply_json(ctx, 200, out);
}
