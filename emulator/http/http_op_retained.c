/* http_op_retained.c — the retained-message operations: GetRetainedMessage (one topic's
 * message with its payload) and ListRetainedMessages (summaries, in pages), read from
 * the broker's retained store (broker.h), the one it delivers from on subscribe (see
 * http_internal.h). */
#include <stdio.h>
#include <string.h>

#include "http_internal.h"

#define INVALID "InvalidRequestException"
#define LIST_DEFAULT_MAX 200        /* the model's maximum; it gives no default */

/* ================================================================ GetRetainedMessage */

/* userProperties as AWS returns them: a blob (base64 in JSON) holding the JSON array
 * the Publish header takes, one object per property in order, [{"k":"v"},…]. */
static void write_user_properties(struct buf *o, const struct broker_message *m)
{
    struct buf json = BUF_INIT;
    buf_append_char(&json, '[');
    for (size_t i = 0; i < m->user_property_count; i++) {
        const struct mqtt_user_property *u = &m->user_properties[i];
        buf_append_str(&json, i ? ",{" : "{");
        json_write_string_lossy(&json, u->key, strlen(u->key));
        buf_append_char(&json, ':');
        json_write_string_lossy(&json, u->value, strlen(u->value));
        buf_append_char(&json, '}');
    }
    buf_append_char(&json, ']');
    buf_append_str(o, ",\"userProperties\":\"");
    enc_base64(o, json.data, json.len);
    buf_append_char(o, '"');
    buf_free(&json);
}

/* The broker's visitor: the response body into the buf given as arg. */
static void write_retained(void *arg, const struct broker_message *m, int64_t last_modified_ms)
{
    struct buf *o = arg;
    buf_append_str(o, "{\"topic\":");
    json_write_string_lossy(o, m->topic, strlen(m->topic));
    buf_append_str(o, ",\"payload\":\"");
    enc_base64(o, m->payload, m->payload_len);
    buf_printf(o, "\",\"qos\":%d,\"lastModifiedTime\":%lld", m->qos,
               (long long)last_modified_ms);
    if (m->user_property_count)
        write_user_properties(o, m);
    buf_append_char(o, '}');
}

void http_op_get_retained_message(struct http_ctx *ctx)
{
    char topic[HTTP_MAX_LABEL + 1];
    size_t topic_len;
    if (http_label_decode(ctx, topic, &topic_len, "topic") != 0)
        return;
    const char *problem = hp_topic_problem(topic, topic_len);   /* NUL included */
    if (problem) {
        http_reply_error(ctx, 400, INVALID, "%s", problem);
        return;
    }
    struct buf *out = &ctx->api->out;
    buf_reset(out);
    int rc = broker_get_retained(ctx->api->broker, topic, write_retained, out);
    if (rc == -1) {
        http_reply_error(ctx, 404, "ResourceNotFoundException",
                         "no retained message for topic %s", topic);
        return;
    }
    if (rc != 0) {
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
        return;
    }
    http_reply_json(ctx, 200, out);
}

/* ================================================================ ListRetainedMessages */

struct listing {
    struct buf *out;
    struct buf last;                /* the last topic written: the next page's cursor */
    bool any;
};

static void write_summary(void *arg, const struct broker_retained_summary *s)
{
    struct listing *l = arg;
    buf_append_str(l->out, l->any ? ",{\"topic\":" : "{\"topic\":");
    json_write_string_lossy(l->out, s->topic, s->topic_len);
    buf_printf(l->out, ",\"payloadSize\":%zu,\"qos\":%d,\"lastModifiedTime\":%lld}",
               s->payload_size, s->qos, (long long)s->last_modified_ms);
    buf_reset(&l->last);
    buf_append(&l->last, s->topic, s->topic_len);
    l->any = true;
}

/* The cursor named by nextToken into *cursor (empty without one). 0, or -1 (replied). */
static int read_cursor(struct http_ctx *ctx, struct buf *cursor)
{
    const char *token;
    size_t token_len;
    int r = http_query_get(ctx, "nextToken", &token, &token_len);
    if (r < 0)
        return -1;
    if (r == 1 && hp_topic_token_decode(token, token_len, ctx->api->token_key, cursor) != 0) {
        http_reply_error(ctx, 400, INVALID, "nextToken is not valid for this request");
        return -1;
    }
    return 0;
}

/* Lists the page into out; 0, or -1 when out of memory. */
static int list_page(struct http_ctx *ctx, const struct buf *cursor, size_t max)
{
    struct buf *out = &ctx->api->out;
    struct listing l = {out, BUF_INIT, false};
    bool more;
    buf_reset(out);
    buf_append_str(out, "{\"retainedTopics\":[");
    int n = broker_list_retained(ctx->api->broker, cursor->len ? cursor->data : NULL,
                                 cursor->len, max, write_summary, &l, &more);
    buf_append_char(out, ']');
    if (n > 0 && more) {
        buf_append_str(out, ",\"nextToken\":\"");
        hp_topic_token_encode(out, l.last.data, l.last.len, ctx->api->token_key);
        buf_append_char(out, '"');
    }
    buf_append_char(out, '}');
    buf_free(&l.last);
    return n < 0 ? -1 : 0;
}

void http_op_list_retained_messages(struct http_ctx *ctx)
{
    int64_t max_results;
    if (http_query_model_int(ctx, "maxResults", 1, 200, LIST_DEFAULT_MAX, &max_results) != 0)
        return;
    struct buf cursor = BUF_INIT;
    if (read_cursor(ctx, &cursor) != 0)
        goto done;
    if (list_page(ctx, &cursor, (size_t)max_results) != 0) {
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
        goto done;
    }
    http_reply_json(ctx, 200, &ctx->api->out);
done:
    buf_free(&cursor);
}
