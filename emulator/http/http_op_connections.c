/* http_op_connections.c — the operations about a client's connection: GetConnection,
 * DeleteConnection and ListSubscriptions (its subscriptions, in pages), answered from
 * the broker's state (see http_internal.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http_internal.h"

#define INVALID "InvalidRequestException"

/* ---------------------------------------------------------------- GetConnection */

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

void http_op_get_connection(struct http_ctx *ctx)
{
    char client_id[HTTP_MAX_LABEL + 1];
    if (http_label_client_id(ctx, client_id) != 0)
        return;
    bool socket_info;
    if (http_query_bool(ctx, "includeSocketInformation", &socket_info) != 0)
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

/* ---------------------------------------------------------------- DeleteConnection */

void http_op_delete_connection(struct http_ctx *ctx)
{
    char client_id[HTTP_MAX_LABEL + 1];
    if (http_label_client_id(ctx, client_id) != 0)
        return;
    bool clean_session, prevent_will;
    if (http_query_bool(ctx, "cleanSession", &clean_session) != 0 ||
        http_query_bool(ctx, "preventWillMessage", &prevent_will) != 0)
        return;
    if (broker_delete_connection(ctx->api->broker, client_id, clean_session, prevent_will) != 0) {
        http_reply_error(ctx, 404, "ResourceNotFoundException",
                         "client %s is not connected", client_id);
        return;
    }
    struct buf *out = &ctx->api->out;
    buf_reset(out);
    http_reply_json(ctx, 200, out);
}

/* ---------------------------------------------------------------- ListSubscriptions */

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

void http_op_list_subscriptions(struct http_ctx *ctx)
{
    char client_id[HTTP_MAX_LABEL + 1];
    if (http_label_client_id(ctx, client_id) != 0)
        return;
    int64_t max_results;
    if (http_query_model_int(ctx, "maxResults", 1, 200, 20, &max_results) != 0)
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
