/* http_op_messages.c — the operations that carry a message: Publish and
 * SendDirectMessage, validated as the service model and the AWS IoT limits say, then
 * handed to the broker (see http_internal.h). */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

#define INVALID "InvalidRequestException"

/* ---------------------------------------------------------------- message building */

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
    if (http_query_opt(ctx, "contentType", &f->content_type_off, &len, &f->has_content_type) != 0)
        return -1;
    if (f->has_content_type &&
        !enc_utf8_valid_text(ctx->api->arena.data + f->content_type_off, len)) {
        http_reply_error(ctx, 400, INVALID, "contentType is not valid UTF-8");
        return -1;
    }
    if (http_query_opt(ctx, "responseTopic", &f->response_topic_off, &len,
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

/* ---------------------------------------------------------------- Publish */

void http_op_publish(struct http_ctx *ctx)
{
    char topic[HTTP_MAX_LABEL + 1];
    size_t topic_len;
    if (http_label_decode(ctx, topic, &topic_len, "topic") != 0)
        return;
    const char *problem = hp_topic_problem(topic, topic_len);
    if (problem) {
        http_reply_error(ctx, 400, INVALID, "%s", problem);
        return;
    }
    int64_t qos, expiry;
    bool retain;
    if (http_query_model_int(ctx, "qos", 0, 1, 0, &qos) != 0 || http_query_bool(ctx, "retain", &retain) != 0 ||
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
    http_reply_ok_trace(ctx);
}

/* ---------------------------------------------------------------- SendDirectMessage */

static void direct_done(void *arg, bool acknowledged)
{
    struct http_call *call = arg;
    struct http_ctx ctx = call->ctx;
    call->direct = NULL;
    http_call_finish(call);
    if (acknowledged)
        http_reply_ok_trace(&ctx);
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

void http_op_send_direct_message(struct http_ctx *ctx)
{
    char client_id[HTTP_MAX_LABEL + 1];
    if (http_label_client_id(ctx, client_id) != 0)
        return;
    size_t topic_off, topic_len;
    bool has_topic;
    if (http_query_opt(ctx, "topic", &topic_off, &topic_len, &has_topic) != 0)
        return;
    if (!has_topic) {
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
    if (http_query_bool(ctx, "confirmation", &confirmation) != 0 ||
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
    http_reply_ok_trace(ctx);
}
