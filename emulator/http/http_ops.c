/* http_ops.c — the four data-plane operations, validated as the service model and the
 * AWS IoT limits say, then handed to the broker (see http_internal.h). */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

#define INVALID "InvalidRequestException"

/* ------------------------------------------------------------------ request helpers */

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
static int decode_label(struct http_ctx *ctx, char *out, size_t *len_out, const char *what)
{
    if (ctx->label_len > HTTP_MAX_LABEL ||
        enc_uri_decode_to(out, ctx->label, ctx->label_len, ENC_DECODE_STRICT, len_out) != 0) {
        http_reply_error(ctx, 400, INVALID, "%s is malformed or too long", what);
        return -1;
    }
    return 0;
}

static int client_id_from_label(struct http_ctx *ctx, char *out)
{
    size_t len;
    if (decode_label(ctx, out, &len, "clientId") != 0)
        return -1;
    const char *problem = hp_client_id_problem(out, len);   /* NUL included */
    if (problem) {
        http_reply_error(ctx, 400, INVALID, "%s", problem);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ message building */

/* Query values and headers shared by Publish and SendDirectMessage, as arena offsets. */
struct msg_fields {
    struct broker_message m;
    size_t content_type_off, response_topic_off;
    bool has_content_type, has_response_topic;
    int prop_count;
    size_t corr_off;
    /* filled up to prop_count; not cleared per request (4 KiB) */
    struct hp_user_property props[HTTP_MAX_USER_PROPERTIES];
    struct mqtt_user_property user[HTTP_MAX_USER_PROPERTIES];
};

static int opt_query(struct http_ctx *ctx, const char *name, size_t *off, size_t *len,
                     bool *present)
{
    int r = query_get_off(ctx, name, off, len);
    *present = r == 1;
    return r < 0 ? -1 : 0;
}

static int parse_user_properties(struct http_ctx *ctx, struct msg_fields *f, const char *hv)
{
    struct buf raw = BUF_INIT;
    int rc = -1;
    char why[256];
    if (enc_base64_decode(&raw, hv, strlen(hv)) != 0) {     /* or out of memory */
        http_reply_error(ctx, 400, INVALID, "x-amz-mqtt5-user-properties is not valid base64");
        goto done;
    }
    f->prop_count = hp_user_properties_parse(buf_cstr(&raw), raw.len, &ctx->api->arena,
                                             f->props, HTTP_MAX_USER_PROPERTIES, why,
                                             sizeof why);
    if (f->prop_count < 0) {
        http_reply_error(ctx, 400, INVALID, "x-amz-mqtt5-user-properties: %s", why);
        goto done;
    }
    rc = 0;
done:
    buf_free(&raw);
    return rc;
}

static int parse_mqtt5_headers(struct http_ctx *ctx, struct msg_fields *f)
{
    const char *up = http_header(ctx, "x-amz-mqtt5-user-properties");
    if (up && parse_user_properties(ctx, f, up) != 0)
        return -1;
    const char *pfi = http_header(ctx, "x-amz-mqtt5-payload-format-indicator");
    f->m.payload_format = -1;
    if (pfi) {
        if (strcmp(pfi, "UNSPECIFIED_BYTES") == 0)
            f->m.payload_format = 0;
        else if (strcmp(pfi, "UTF8_DATA") == 0)
            f->m.payload_format = 1;
        else {
            http_reply_error(ctx, 400, INVALID,
                             "x-amz-mqtt5-payload-format-indicator must be UNSPECIFIED_BYTES "
                             "or UTF8_DATA");
            return -1;
        }
    }
    const char *cd = http_header(ctx, "x-amz-mqtt5-correlation-data");
    if (cd) {
        struct buf *a = &ctx->api->arena;
        f->corr_off = a->len;
        if (enc_base64_decode(a, cd, strlen(cd)) != 0) {    /* or out of memory */
            http_reply_error(ctx, 400, INVALID,
                             "x-amz-mqtt5-correlation-data must be base64-encoded");
            return -1;
        }
        f->m.correlation_data_len = a->len - f->corr_off;
        f->m.correlation_data = (const uint8_t *)"";   /* set for real in finish_fields */
    }
    return 0;
}

/* contentType, responseTopic, MQTT 5 headers, payload limit. 0, or -1 (replied). */
static int parse_message_fields(struct http_ctx *ctx, struct msg_fields *f)
{
    size_t len;
    if (opt_query(ctx, "contentType", &f->content_type_off, &len, &f->has_content_type) != 0)
        return -1;
    if (f->has_content_type &&
        !enc_utf8_valid_text(ctx->api->arena.data + f->content_type_off, len)) {
        http_reply_error(ctx, 400, INVALID, "contentType is not valid UTF-8");
        return -1;
    }
    if (opt_query(ctx, "responseTopic", &f->response_topic_off, &len,
                  &f->has_response_topic) != 0)
        return -1;
    if (f->has_response_topic) {
        const char *problem = hp_topic_problem(ctx->api->arena.data + f->response_topic_off, len);
        if (problem) {
            http_reply_error(ctx, 400, INVALID, "responseTopic: %s", problem);
            return -1;
        }
    }
    if (parse_mqtt5_headers(ctx, f) != 0)
        return -1;
    f->m.payload_len = ctx->body_len;
    if (f->m.payload_len > HTTP_MAX_PAYLOAD) {
        http_reply_error(ctx, 413, "RequestEntityTooLargeException",
                         "the payload is %zu bytes; the limit is %d bytes (128 KiB)",
                         f->m.payload_len, HTTP_MAX_PAYLOAD);
        return -1;
    }
    f->m.payload = f->m.payload_len ? ctx->body : (const uint8_t *)"";
    if (f->m.payload_format == 1 &&
        !enc_utf8_valid_text((const char *)f->m.payload, f->m.payload_len)) {
        http_reply_error(ctx, 400, INVALID,
                         "the payload format indicator is UTF8_DATA but the payload is not "
                         "valid UTF-8");
        return -1;
    }
    return 0;
}

/* Turns arena offsets into pointers; nothing may be added to the arena afterwards. */
static void finish_fields(struct http_ctx *ctx, struct msg_fields *f)
{
    const char *base = ctx->api->arena.data;
    f->m.content_type = f->has_content_type ? base + f->content_type_off : NULL;
    f->m.response_topic = f->has_response_topic ? base + f->response_topic_off : NULL;
    if (f->m.correlation_data)
        f->m.correlation_data = (const uint8_t *)base + f->corr_off;
    for (int i = 0; i < f->prop_count; i++) {
        f->user[i].key = base + f->props[i].key_off;
        f->user[i].value = base + f->props[i].value_off;
    }
    f->m.user_properties = f->prop_count ? f->user : NULL;
    f->m.user_property_count = (size_t)f->prop_count;
}

/* The message fields Publish and SendDirectMessage share, into *f (pointing into the
 * arena). 0, or -1 (replied). */
static int read_message_fields(struct http_ctx *ctx, struct msg_fields *f)
{
    memset(f, 0, offsetof(struct msg_fields, props));
    if (parse_message_fields(ctx, f) != 0)
        return -1;
    finish_fields(ctx, f);
    return 0;
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

static int bool_query(struct http_ctx *ctx, const char *name, bool *out)
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

static void reply_ok_trace(struct http_ctx *ctx)
{
    struct buf *out = &ctx->api->out;
    buf_reset(out);
    buf_append_str(out, "{\"message\":\"OK\",\"traceId\":\"");
    buf_append_str(out, ctx->request_id);
    buf_append_str(out, "\"}");
    http_reply_json(ctx, 200, out);
}

/* ------------------------------------------------------------------ Publish */

static void op_publish(struct http_ctx *ctx)
{
    char topic[HTTP_MAX_LABEL + 1];
    size_t topic_len;
    if (decode_label(ctx, topic, &topic_len, "topic") != 0)
        return;
    const char *problem = hp_topic_problem(topic, topic_len);
    if (problem) {
        http_reply_error(ctx, 400, INVALID, "%s", problem);
        return;
    }
    int64_t qos, expiry;
    bool retain;
    if (http_query_int(ctx, "qos", 0, 1, 0, &qos) != 0 || bool_query(ctx, "retain", &retain) != 0 ||
        http_query_int(ctx, "messageExpiry", 0, 4294967295LL, -1, &expiry) != 0)
        return;
    struct msg_fields f;
    if (read_message_fields(ctx, &f) != 0)
        return;
    f.m.topic = topic;
    f.m.qos = (int)qos;
    f.m.retain = retain;
    f.m.message_expiry = expiry;           /* -1 when absent */
    broker_publish(ctx->api->broker, &f.m);
    reply_ok_trace(ctx);
}

/* ------------------------------------------------------------------ SendDirectMessage */

static void direct_done(void *arg, bool acknowledged)
{
    struct http_call *call = arg;
    struct http_ctx ctx = call->ctx;
    call->direct = NULL;
    http_call_finish(call);
    if (acknowledged)
        reply_ok_trace(&ctx);
    else
        http_reply_error(&ctx, 504, "GatewayTimeoutException",
                         "the client disconnected before acknowledging the message");
}

static void direct_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_call *call = arg;
    struct http_ctx ctx = call->ctx;
    if (call->direct)
        broker_direct_cancel(call->direct);
    call->direct = NULL;
    http_call_finish(call);
    http_reply_error(&ctx, 504, "GatewayTimeoutException",
                     "the client did not acknowledge the message in time");
}

/* confirmation=true: waits for the PUBACK or the timeout, the loop serving others. */
static void send_confirmed(struct http_ctx *ctx, const char *client_id,
                           const struct broker_message *m, int timeout)
{
    struct http_call *call = http_call_new(ctx);
    if (!call || !(call->timer = evtimer_new(ctx->api->base, direct_timeout, call))) {
        if (call)
            http_call_finish(call);
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
        return;
    }
    struct broker_direct *handle = NULL;
    enum broker_direct_status st =
        broker_send_direct(ctx->api->broker, client_id, m, direct_done, call, &handle);
    if (st != BROKER_DIRECT_SENT) {
        http_call_finish(call);
        http_reply_error(ctx, 404, "ResourceNotFoundException",
                         "client %s is not connected", client_id);
        return;
    }
    call->direct = handle;
    struct timeval tv = {timeout, 0};
    evtimer_add(call->timer, &tv);
}

static void op_send_direct_message(struct http_ctx *ctx)
{
    char client_id[HTTP_MAX_LABEL + 1];
    if (client_id_from_label(ctx, client_id) != 0)
        return;
    size_t topic_off, topic_len;
    int r = query_get_off(ctx, "topic", &topic_off, &topic_len);
    if (r <= 0) {
        if (r == 0)
            http_reply_error(ctx, 400, INVALID, "topic is required");
        return;
    }
    const char *problem = hp_topic_problem(ctx->api->arena.data + topic_off, topic_len);
    if (problem) {
        http_reply_error(ctx, 400, INVALID, "topic: %s", problem);
        return;
    }
    bool confirmation;
    int64_t timeout;
    if (bool_query(ctx, "confirmation", &confirmation) != 0 ||
        http_query_int(ctx, "timeout", 1, 15, 5, &timeout) != 0)
        return;
    struct msg_fields f;
    if (read_message_fields(ctx, &f) != 0)
        return;
    f.m.topic = ctx->api->arena.data + topic_off;
    f.m.qos = confirmation ? 1 : 0;
    f.m.retain = false;
    f.m.message_expiry = -1;
    if (confirmation) {
        send_confirmed(ctx, client_id, &f.m, (int)timeout);
        return;
    }
    if (broker_send_direct(ctx->api->broker, client_id, &f.m, NULL, NULL, NULL) !=
        BROKER_DIRECT_SENT) {
        http_reply_error(ctx, 404, "ResourceNotFoundException", "client %s is not connected",
                         client_id);
        return;
    }
    reply_ok_trace(ctx);
}

/* ------------------------------------------------------------------ GetConnection */

static void connection_json(struct buf *o, const struct broker_connection_info *c,
                            bool socket_info)
{
    buf_printf(o, "{\"connected\":%s,\"clientId\":", c->connected ? "true" : "false");
    json_write_string_lossy(o, c->client_id, strlen(c->client_id));
    if (c->thing_name[0]) {
        buf_append_str(o, ",\"thingName\":");
        json_write_string_lossy(o, c->thing_name, strlen(c->thing_name));
    }
    buf_printf(o, ",\"cleanSession\":%s,\"keepAliveDuration\":%d,\"connectedSince\":%lld,"
                  "\"sessionExpiry\":%lld",
               c->clean_session ? "true" : "false", c->keep_alive,
               (long long)c->connected_since_ms, (long long)c->session_expiry);
    if (!c->connected) {
        buf_printf(o, ",\"disconnectedSince\":%lld,\"disconnectReason\":",
                   (long long)c->disconnected_since_ms);
        json_write_string_lossy(o, c->disconnect_reason, strlen(c->disconnect_reason));
    }
    if (socket_info) {
        buf_append_str(o, ",\"sourceIp\":");
        json_write_string_lossy(o, c->source_ip, strlen(c->source_ip));
        buf_printf(o, ",\"sourcePort\":%d,\"targetIp\":", c->source_port);
        json_write_string_lossy(o, c->target_ip, strlen(c->target_ip));
        buf_printf(o, ",\"targetPort\":%d", c->target_port);
    }
    buf_append_char(o, '}');
}

static void op_get_connection(struct http_ctx *ctx)
{
    char client_id[HTTP_MAX_LABEL + 1];
    if (client_id_from_label(ctx, client_id) != 0)
        return;
    bool socket_info;
    if (bool_query(ctx, "includeSocketInformation", &socket_info) != 0)
        return;
    struct broker_connection_info info;
    memset(&info, 0, sizeof info);
    if (broker_get_connection(ctx->api->broker, client_id, &info) != 0) {
        http_reply_error(ctx, 404, "ResourceNotFoundException",
                         "no connection is known for client %s", client_id);
        return;
    }
    info.client_id[sizeof info.client_id - 1] = '\0';
    info.thing_name[sizeof info.thing_name - 1] = '\0';
    info.disconnect_reason[sizeof info.disconnect_reason - 1] = '\0';
    info.source_ip[sizeof info.source_ip - 1] = '\0';
    info.target_ip[sizeof info.target_ip - 1] = '\0';
    buf_reset(&ctx->api->out);
    connection_json(&ctx->api->out, &info, socket_info);
    http_reply_json(ctx, 200, &ctx->api->out);
}

/* ------------------------------------------------------------------ ListSubscriptions */

struct page {
    struct buf *out;
    uint64_t index, first, limit;
    bool any;
};

static void visit_subscription(void *arg, const char *topic_filter, int qos)
{
    struct page *p = arg;
    uint64_t i = p->index++;
    if (i < p->first || i >= p->first + p->limit)
        return;
    if (p->any)
        buf_append_char(p->out, ',');
    buf_append_str(p->out, "{\"topicFilter\":");
    json_write_string_lossy(p->out, topic_filter, strlen(topic_filter));
    buf_printf(p->out, ",\"qos\":%d}", qos);
    p->any = true;
}

static void op_list_subscriptions(struct http_ctx *ctx)
{
    char client_id[HTTP_MAX_LABEL + 1];
    if (client_id_from_label(ctx, client_id) != 0)
        return;
    int64_t max_results;
    if (http_query_int(ctx, "maxResults", 1, 200, 20, &max_results) != 0)
        return;
    const char *token;
    size_t token_len;
    int r = http_query_get(ctx, "nextToken", &token, &token_len);
    if (r < 0)
        return;
    uint64_t first = 0;
    if (r == 1 && hp_page_token_decode(token, token_len, client_id, ctx->api->token_key,
                                       &first) != 0) {
        http_reply_error(ctx, 400, INVALID, "nextToken is not valid for this request");
        return;
    }
    struct buf *out = &ctx->api->out;
    buf_reset(out);
    buf_append_str(out, "{\"subscriptions\":[");
    struct page p = {out, 0, first, (uint64_t)max_results, false};
    if (broker_list_subscriptions(ctx->api->broker, client_id, visit_subscription, &p) < 0) {
        http_reply_error(ctx, 404, "ResourceNotFoundException",
                         "no session is known for client %s", client_id);
        return;
    }
    buf_append_char(out, ']');
    if (p.index > first + (uint64_t)max_results) {
        buf_append_str(out, ",\"nextToken\":\"");
        hp_page_token_encode(out, first + (uint64_t)max_results, client_id,
                             ctx->api->token_key);
        buf_append_char(out, '"');
    }
    buf_append_char(out, '}');
    http_reply_json(ctx, 200, out);
}

/* ------------------------------------------------------------------ dispatch */

void http_run_op(struct http_ctx *ctx)
{
    buf_reset(&ctx->api->arena);
    switch (ctx->op) {
    case OP_PUBLISH: op_publish(ctx); break;
    case OP_SEND_DIRECT_MESSAGE: op_send_direct_message(ctx); break;
    case OP_GET_CONNECTION: op_get_connection(ctx); break;
    case OP_LIST_SUBSCRIPTIONS: op_list_subscriptions(ctx); break;
    default:
        http_reply_error(ctx, 404, "UnknownOperationException", "no such operation");
        break;
    }
}
