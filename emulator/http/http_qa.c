/* http_qa.c — QA controls under /_emulator/ (unsigned, JSON replies; see emulator/README.md):
 * the record of published messages, fault injection, disconnecting clients, reading and
 * resetting the Device Shadow store, and listing retained messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "http_internal.h"
#include "shadow.h"

#define QA_PER_TOPIC 100                    /* newest messages kept per topic */
#define QA_MAX_RECORDS 100000               /* over all topics */
#define QA_MAX_BYTES (64u * 1024 * 1024)    /* over all topics */
#define QA_BUCKETS 4096
#define QA_MAX_FAULTS 256

/* One recorded message, kept as its ready-made JSON object. */
struct qa_record {
    struct qa_record *t_next, *t_prev;      /* within its topic, oldest first */
    struct qa_record *a_next, *a_prev;      /* over all topics, oldest first */
    struct qa_topic *topic;
    size_t json_len;
    char json[];
};

struct qa_topic {
    struct qa_topic *h_next;                /* hash chain */
    struct qa_record *head, *tail;
    size_t count;
    char name[];
};

struct qa_fault {
    enum http_op op;                        /* OP_NONE: every operation */
    int remaining;
    struct qa_fault_hit hit;
    unsigned id;
};

struct qa_state {
    struct http_api *api;
    struct qa_topic *buckets[QA_BUCKETS];
    struct qa_record *oldest, *newest;
    size_t records, bytes;
    uint64_t total_seen;
    struct qa_fault faults[QA_MAX_FAULTS];
    int fault_count;
    unsigned next_fault_id;
    struct buf scratch;             /* observe renders here (kept between publishes) */
};

/* ---------------------------------------------------------------- record */

static uint32_t hash_topic(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % QA_BUCKETS;
}

static struct qa_topic *find_topic(struct qa_state *qa, const char *name)
{
    for (struct qa_topic *t = qa->buckets[hash_topic(name)]; t; t = t->h_next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

static struct qa_topic *get_topic(struct qa_state *qa, const char *name)
{
    struct qa_topic *t = find_topic(qa, name);
    if (t)
        return t;
    size_t n = strlen(name);
    t = calloc(1, sizeof *t + n + 1);
    if (!t)
        return NULL;
    memcpy(t->name, name, n + 1);
    uint32_t h = hash_topic(name);
    t->h_next = qa->buckets[h];
    qa->buckets[h] = t;
    return t;
}

static void drop_topic_if_empty(struct qa_state *qa, struct qa_topic *t)
{
    if (t->count)
        return;
    struct qa_topic **pp = &qa->buckets[hash_topic(t->name)];
    while (*pp != t)
        pp = &(*pp)->h_next;
    *pp = t->h_next;
    free(t);
}

static void remove_record(struct qa_state *qa, struct qa_record *r)
{
    struct qa_topic *t = r->topic;
    if (r->t_prev)
        r->t_prev->t_next = r->t_next;
    else
        t->head = r->t_next;
    if (r->t_next)
        r->t_next->t_prev = r->t_prev;
    else
        t->tail = r->t_prev;
    t->count--;
    if (r->a_prev)
        r->a_prev->a_next = r->a_next;
    else
        qa->oldest = r->a_next;
    if (r->a_next)
        r->a_next->a_prev = r->a_prev;
    else
        qa->newest = r->a_prev;
    qa->records--;
    qa->bytes -= r->json_len;
    free(r);
    drop_topic_if_empty(qa, t);
}

static void append_int(struct buf *o, long long v)
{
    char t[24];
    int i = sizeof t;
    bool neg = v < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        t[--i] = '-';
    buf_append(o, t + i, sizeof t - (size_t)i);
}

static void render_message(struct buf *o, const struct broker_message *m, const char *origin)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    buf_append_str(o, "{\"topic\":");
    json_write_string_lossy(o, m->topic, strlen(m->topic));
    buf_append_str(o, ",\"payload\":\"");
    enc_base64(o, m->payload, m->payload_len);
    buf_append_char(o, '"');
    if (enc_utf8_valid_text((const char *)m->payload, m->payload_len)) {
        buf_append_str(o, ",\"payloadText\":");
        json_write_string_lossy(o, (const char *)m->payload, m->payload_len);
    }
    buf_append_str(o, m->qos ? ",\"qos\":1,\"retain\":" : ",\"qos\":0,\"retain\":");
    buf_append_str(o, m->retain ? "true,\"origin\":" : "false,\"origin\":");
    if (origin)
        json_write_string_lossy(o, origin, strlen(origin));
    else
        buf_append_str(o, "\"http\"");
    if (m->content_type) {
        buf_append_str(o, ",\"contentType\":");
        json_write_string_lossy(o, m->content_type, strlen(m->content_type));
    }
    if (m->response_topic) {
        buf_append_str(o, ",\"responseTopic\":");
        json_write_string_lossy(o, m->response_topic, strlen(m->response_topic));
    }
    if (m->correlation_data) {
        buf_append_str(o, ",\"correlationData\":\"");
        enc_base64(o, m->correlation_data, m->correlation_data_len);
        buf_append_char(o, '"');
    }
    if (m->payload_format >= 0)
        buf_printf(o, ",\"payloadFormatIndicator\":\"%s\"",
                   m->payload_format ? "UTF8_DATA" : "UNSPECIFIED_BYTES");
    if (m->message_expiry >= 0)
        buf_printf(o, ",\"messageExpiry\":%lld", (long long)m->message_expiry);
    if (m->user_property_count) {
        buf_append_str(o, ",\"userProperties\":[");
        for (size_t i = 0; i < m->user_property_count; i++) {
            buf_append_str(o, i ? ",{" : "{");
            json_write_string_lossy(o, m->user_properties[i].key,
                                    strlen(m->user_properties[i].key));
            buf_append_char(o, ':');
            json_write_string_lossy(o, m->user_properties[i].value,
                                    strlen(m->user_properties[i].value));
            buf_append_char(o, '}');
        }
        buf_append_char(o, ']');
    }
    buf_append_str(o, ",\"timestamp\":");
    append_int(o, (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    buf_append_char(o, '}');
}

static void observe(void *arg, const struct broker_message *m, const char *origin_client_id)
{
    struct qa_state *qa = arg;
    struct buf *json = &qa->scratch;
    buf_reset(json);
    render_message(json, m, origin_client_id);
    struct qa_topic *t = json->data ? get_topic(qa, m->topic) : NULL;
    struct qa_record *r = t ? malloc(sizeof *r + json->len + 1) : NULL;
    if (!r) {
        buf_free(json);
        if (t)
            drop_topic_if_empty(qa, t);
        return;
    }
    qa->total_seen++;
    memcpy(r->json, json->data, json->len + 1);
    r->json_len = json->len;
    if (json->cap > 64 * 1024)
        buf_free(json);             /* a big payload's room is not kept */
    r->topic = t;
    r->t_next = NULL;
    r->t_prev = t->tail;
    if (t->tail)
        t->tail->t_next = r;
    else
        t->head = r;
    t->tail = r;
    t->count++;
    r->a_next = NULL;
    r->a_prev = qa->newest;
    if (qa->newest)
        qa->newest->a_next = r;
    else
        qa->oldest = r;
    qa->newest = r;
    qa->records++;
    qa->bytes += r->json_len;
    if (t->count > QA_PER_TOPIC)
        remove_record(qa, t->head);
    while (qa->oldest && qa->oldest != r &&
           (qa->records > QA_MAX_RECORDS || qa->bytes > QA_MAX_BYTES))
        remove_record(qa, qa->oldest);
}

struct qa_state *qa_new(struct http_api *api)
{
    struct qa_state *qa = calloc(1, sizeof *qa);
    if (!qa)
        return NULL;
    qa->api = api;
    qa->next_fault_id = 1;
    if (api->broker && broker_add_publish_observer(api->broker, observe, qa) != 0) {
        free(qa);
        return NULL;
    }
    return qa;
}

static void clear_records(struct qa_state *qa, const char *topic)
{
    if (topic) {
        struct qa_topic *t = find_topic(qa, topic);
        while (t && t->count > 1)
            remove_record(qa, t->head);
        if (t)
            remove_record(qa, t->head);    /* frees the topic too */
        return;
    }
    while (qa->oldest)
        remove_record(qa, qa->oldest);
}

void qa_free(struct qa_state *qa)
{
    if (!qa)
        return;
    if (qa->api->broker)
        broker_remove_publish_observer(qa->api->broker, observe, qa);
    clear_records(qa, NULL);
    buf_free(&qa->scratch);
    free(qa);
}

/* ---------------------------------------------------------------- faults */

int qa_take_fault(struct qa_state *qa, enum http_op op, struct qa_fault_hit *hit_out)
{
    for (int i = 0; i < qa->fault_count; i++) {
        struct qa_fault *f = &qa->faults[i];
        if (f->op != OP_NONE && f->op != op)
            continue;
        *hit_out = f->hit;
        if (--f->remaining == 0) {
            memmove(f, f + 1, (size_t)(qa->fault_count - i - 1) * sizeof *f);
            qa->fault_count--;
        }
        return 1;
    }
    return 0;
}

static const char *default_code(int status)
{
    switch (status) {
    case 400: return "InvalidRequestException";
    case 401: return "UnauthorizedException";
    case 403: return "ForbiddenException";
    case 404: return "ResourceNotFoundException";
    case 409: return "ConflictException";
    case 413: return "RequestEntityTooLargeException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    case 504: return "GatewayTimeoutException";
    default: return "InternalFailureException";
    }
}

static void fault_json(struct buf *o, const struct qa_fault *f)
{
    buf_printf(o, "{\"id\":%u,\"operation\":\"%s\",\"remaining\":%d,\"latencyMs\":%d,"
                  "\"dropConnection\":%s",
               f->id, f->op == OP_NONE ? "*" : http_op_name(f->op), f->remaining,
               f->hit.latency_ms, f->hit.drop ? "true" : "false");
    if (f->hit.status) {
        buf_printf(o, ",\"status\":%d,\"errorCode\":", f->hit.status);
        json_write_string_lossy(o, f->hit.code, strlen(f->hit.code));
        buf_append_str(o, ",\"message\":");
        json_write_string_lossy(o, f->hit.message, strlen(f->hit.message));
    }
    buf_append_char(o, '}');
}

/* Reads one optional query value as a C string; -1 when malformed (replied). */
static int qstr(struct http_ctx *ctx, const char *name, const char **out)
{
    size_t len;
    int r = http_query_get(ctx, name, out, &len);
    if (r == 0)
        *out = NULL;
    return r < 0 ? -1 : 0;
}

static void add_fault(struct http_ctx *ctx, struct qa_state *qa)
{
    const char *opname, *code, *message, *drop;
    int64_t count, status, latency;
    if (qstr(ctx, "operation", &opname) || qstr(ctx, "errorCode", &code) ||
        qstr(ctx, "message", &message) || qstr(ctx, "dropConnection", &drop) ||
        http_query_int(ctx, "count", 1, 1000000, 1, &count) ||
        http_query_int(ctx, "status", 0, 599, 0, &status) ||
        http_query_int(ctx, "latencyMs", 0, 60000, 0, &latency))
        return;
    enum http_op op = OP_NONE;
    if (!opname || (strcmp(opname, "*") != 0 && (op = http_op_from_name(opname)) == OP_NONE)) {
        http_reply_error(ctx, 400, "InvalidRequestException",
                         "operation must be Publish, SendDirectMessage, GetConnection, "
                         "ListSubscriptions or *");
        return;
    }
    if ((status != 0 && status < 400) || (drop && strcmp(drop, "true") && strcmp(drop, "false"))) {
        http_reply_error(ctx, 400, "InvalidRequestException",
                         "status must be 400-599 and dropConnection true or false");
        return;
    }
    if (qa->fault_count == QA_MAX_FAULTS) {
        http_reply_error(ctx, 409, "ConflictException", "too many faults queued");
        return;
    }
    struct qa_fault *f = &qa->faults[qa->fault_count++];
    memset(f, 0, sizeof *f);
    f->op = op;
    f->remaining = (int)count;
    f->id = qa->next_fault_id++;
    f->hit.latency_ms = (int)latency;
    f->hit.status = (int)status;
    f->hit.drop = drop && strcmp(drop, "true") == 0;
    snprintf(f->hit.code, sizeof f->hit.code, "%s", code ? code : default_code((int)status));
    snprintf(f->hit.message, sizeof f->hit.message, "%s",
             message ? message : "fault injected by iotlua-emulator");
    buf_reset(&qa->api->out);
    fault_json(&qa->api->out, f);
    http_reply_json(ctx, 201, &qa->api->out);
}

static void list_faults(struct http_ctx *ctx, struct qa_state *qa)
{
    struct buf *o = &qa->api->out;
    buf_reset(o);
    buf_append_str(o, "{\"faults\":[");
    for (int i = 0; i < qa->fault_count; i++) {
        if (i)
            buf_append_char(o, ',');
        fault_json(o, &qa->faults[i]);
    }
    buf_append_str(o, "]}");
    http_reply_json(ctx, 200, o);
}

/* ---------------------------------------------------------------- published */

static void get_published(struct http_ctx *ctx, struct qa_state *qa, const char *topic)
{
    struct buf *o = &qa->api->out;
    buf_reset(o);
    if (topic) {
        buf_append_str(o, "{\"topic\":");
        json_write_string_lossy(o, topic, strlen(topic));
        buf_append_str(o, ",\"messages\":[");
        struct qa_topic *t = find_topic(qa, topic);
        for (struct qa_record *r = t ? t->head : NULL; r; r = r->t_next) {
            if (r != t->head)
                buf_append_char(o, ',');
            buf_append(o, r->json, r->json_len);
        }
        buf_append_str(o, "]}");
    } else {
        buf_printf(o, "{\"recorded\":%zu,\"seen\":%llu,\"topics\":[", qa->records,
                   (unsigned long long)qa->total_seen);
        bool first = true;
        for (int b = 0; b < QA_BUCKETS; b++)
            for (struct qa_topic *t = qa->buckets[b]; t; t = t->h_next) {
                buf_append_str(o, first ? "{\"topic\":" : ",{\"topic\":");
                json_write_string_lossy(o, t->name, strlen(t->name));
                buf_printf(o, ",\"count\":%zu}", t->count);
                first = false;
            }
        buf_append_str(o, "]}");
    }
    http_reply_json(ctx, 200, o);
}

/* ---------------------------------------------------------------- dispatch */

static bool path_is(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static void disconnect_client(struct http_ctx *ctx, const char *label, size_t n)
{
    char id[HTTP_MAX_LABEL + 1];
    size_t len;
    if (n > HTTP_MAX_LABEL || enc_uri_decode_to(id, label, n, ENC_DECODE_STRICT, &len) != 0 ||
        hp_client_id_problem(id, len) != NULL) {
        http_reply_error(ctx, 400, "InvalidRequestException", "bad client id");
        return;
    }
    if (broker_disconnect_client(ctx->api->broker, id) != 0) {
        http_reply_error(ctx, 404, "ResourceNotFoundException", "client %s is not connected", id);
        return;
    }
    buf_reset(&ctx->api->out);
    buf_append_str(&ctx->api->out, "{\"disconnected\":true,\"clientId\":");
    json_write_string_lossy(&ctx->api->out, id, len);
    buf_append_char(&ctx->api->out, '}');
    http_reply_json(ctx, 200, &ctx->api->out);
}

/* GET /_emulator/shadows[?thingName=x]: the documents; DELETE: forget them. */
static void shadows_control(struct http_ctx *ctx, bool reset)
{
    const char *thing = NULL;
    if (qstr(ctx, "thingName", &thing) != 0)
        return;
    struct buf *o = &ctx->api->out;
    if (reset) {
        size_t gone = shadow_store_reset(ctx->api->shadows, thing);
        buf_reset(o);
        buf_printf(o, "{\"reset\":%zu}", gone);
    } else if (shadow_store_dump(ctx->api->shadows, thing, o) != 0) {
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
        return;
    }
    http_reply_json(ctx, 200, o);
}

/* GET /_emulator/retained: every retained message, in topic order. */
struct retained_dump {
    struct broker *broker;
    struct buf *out;
    int count;
    int failed;
};

static void dump_message(void *arg, const struct broker_message *m, int64_t modified_ms)
{
    struct retained_dump *d = arg;
    struct buf *o = d->out;
    if (d->count++)
        buf_append_char(o, ',');
    buf_append_str(o, "{\"topic\":");
    json_write_string_lossy(o, m->topic, strlen(m->topic));
    buf_append_str(o, ",\"payload\":\"");
    d->failed |= enc_base64(o, m->payload, m->payload_len) != 0;
    buf_printf(o, "\",\"payloadSize\":%zu,\"qos\":%d,\"lastModifiedTime\":%lld}",
               m->payload_len, m->qos, (long long)modified_ms);
}

static void dump_topic(void *arg, const struct broker_retained_summary *s)
{
    struct retained_dump *d = arg;
    d->failed |= broker_get_retained(d->broker, s->topic, dump_message, d) == -2;
}

static void list_retained(struct http_ctx *ctx)
{
    struct buf *o = &ctx->api->out;
    struct retained_dump d = {ctx->api->broker, o, 0, 0};
    bool more = false;
    buf_reset(o);
    buf_append_str(o, "{\"retained\":[");
    if (broker_list_retained(ctx->api->broker, NULL, 0, SIZE_MAX, dump_topic, &d, &more) < 0 ||
        d.failed || buf_append_str(o, "]}") != 0) {
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
        return;
    }
    http_reply_json(ctx, 200, o);
}

void qa_handle(struct http_ctx *ctx, const char *path, size_t path_len)
{
    struct qa_state *qa = ctx->api->qa;
    enum hw_method m = ctx->method;
    const char *p = path + strlen("/_emulator");
    size_t n = path_len - strlen("/_emulator");
    /* Room for every decoded query value, so pointers into the arena stay valid. */
    buf_reset(&ctx->api->arena);
    if (buf_reserve(&ctx->api->arena, ctx->query_len + HTTP_MAX_QUERY_PARAMS + 1) != 0) {
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
        return;
    }
    if (path_is(p, n, "/health") && m == HW_GET) {
        int pending = 0;
        for (struct http_call *c = ctx->api->calls; c; c = c->next)
            pending++;
        buf_reset(&ctx->api->out);
        buf_printf(&ctx->api->out,
                   "{\"status\":\"ok\",\"version\":\"%s\",\"pendingRequests\":%d}",
                   IOTLUA_VERSION, pending);
        http_reply_json(ctx, 200, &ctx->api->out);
    } else if (path_is(p, n, "/published") && (m == HW_GET || m == HW_DELETE)) {
        const char *topic;
        if (qstr(ctx, "topic", &topic) != 0)
            return;
        if (m == HW_GET) {
            get_published(ctx, qa, topic);
            return;
        }
        clear_records(qa, topic);
        buf_reset(&ctx->api->out);
        buf_append_str(&ctx->api->out, "{\"cleared\":true}");
        http_reply_json(ctx, 200, &ctx->api->out);
    } else if (path_is(p, n, "/faults") && m == HW_POST) {
        add_fault(ctx, qa);
    } else if (path_is(p, n, "/faults") && m == HW_GET) {
        list_faults(ctx, qa);
    } else if (path_is(p, n, "/faults") && m == HW_DELETE) {
        qa->fault_count = 0;
        list_faults(ctx, qa);
    } else if (path_is(p, n, "/retained") && m == HW_GET) {
        list_retained(ctx);
    } else if (path_is(p, n, "/shadows") && (m == HW_GET || m == HW_DELETE)) {
        shadows_control(ctx, m == HW_DELETE);
    } else if (n > 13 + 11 && memcmp(p, "/connections/", 13) == 0 &&
               path_is(p + n - 11, 11, "/disconnect") && m == HW_POST) {
        disconnect_client(ctx, p + 13, n - 13 - 11);
    } else {
        http_reply_error(ctx, 404, "UnknownOperationException",
                         "no QA control at this path and method (see emulator/README.md)");
    }
}
