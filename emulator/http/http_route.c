/* http_route.c — from a request's method and path to the operation that answers it.
 * The paths and methods are the service model's (runtime/operations_table.c, generated
 * from it): each request URI template is matched segment by segment, and an operation
 * of the model is served as soon as it has a handler in HANDLERS; until then it is
 * answered 501. The emulator's own messages stay here. */
#include <string.h>

#include "http_internal.h"
#include "operations.h"

/* The operations the emulator serves, by model name. */
static const struct handler {
    const char *name;
    enum http_op op;
    void (*run)(struct http_ctx *ctx);
} HANDLERS[] = {
    {"Publish", OP_PUBLISH, http_op_publish},
    {"SendDirectMessage", OP_SEND_DIRECT_MESSAGE, http_op_send_direct_message},
    {"GetConnection", OP_GET_CONNECTION, http_op_get_connection},
    {"ListSubscriptions", OP_LIST_SUBSCRIPTIONS, http_op_list_subscriptions},
    {"DeleteConnection", OP_DELETE_CONNECTION, http_op_delete_connection},
    {"GetThingShadow", OP_GET_THING_SHADOW, http_op_get_thing_shadow},
    {"UpdateThingShadow", OP_UPDATE_THING_SHADOW, http_op_update_thing_shadow},
    {"DeleteThingShadow", OP_DELETE_THING_SHADOW, http_op_delete_thing_shadow},
    {"ListNamedShadowsForThing", OP_LIST_NAMED_SHADOWS_FOR_THING,
     http_op_list_named_shadows_for_thing},
    {"GetRetainedMessage", OP_GET_RETAINED_MESSAGE, http_op_get_retained_message},
    {"ListRetainedMessages", OP_LIST_RETAINED_MESSAGES, http_op_list_retained_messages},
};

#define NHANDLERS (sizeof HANDLERS / sizeof HANDLERS[0])

static const struct handler *handler_named(const char *name)
{
    for (size_t i = 0; i < NHANDLERS; i++)
        if (strcmp(HANDLERS[i].name, name) == 0)
            return &HANDLERS[i];
    return NULL;
}

/* ================================================================ matching */

/* A path matched against one template: the label (the bytes standing for the template's
 * "{name}" segment, maybe empty) and that name. */
struct route_match {
    const struct iot_op *op;
    const char *label;
    size_t label_len;
    const char *label_name;             /* "topic", "clientId"; NULL without a label */
    size_t label_name_len;
};

/* 1 when path[0..n) has the shape of template tpl ("/connections/{clientId}/messages",
 * a label standing for one segment), with *m filled; else 0. */
static int template_match(const char *tpl, const char *path, size_t n, struct route_match *m)
{
    size_t i = 0;
    m->label = NULL;
    m->label_len = 0;
    m->label_name = NULL;
    m->label_name_len = 0;
    while (*tpl) {
        if (*tpl == '{') {
            const char *close = strchr(tpl, '}');
            if (!close)
                return 0;
            m->label_name = tpl + 1;
            m->label_name_len = (size_t)(close - tpl - 1);
            m->label = path + i;
            while (i < n && path[i] != '/')
                i++;
            m->label_len = (size_t)(path + i - m->label);
            tpl = close + 1;
            continue;
        }
        if (i >= n || path[i] != *tpl)
            return 0;
        i++;
        tpl++;
    }
    return i == n;
}

static int method_is(const char *http_method, enum hw_method method)
{
    switch (method) {
    case HW_GET: return strcmp(http_method, "GET") == 0;
    case HW_POST: return strcmp(http_method, "POST") == 0;
    case HW_DELETE: return strcmp(http_method, "DELETE") == 0;
    default: return 0;
    }
}

/* The operation for method and path: 1 when one has both (*m), else 0 with *m the first
 * operation at that path (op NULL when none), preferring one the emulator serves. */
static int find_operation(const char *path, size_t n, enum hw_method method,
                          struct route_match *m)
{
    struct route_match at_path = {0}, tried;
    for (size_t i = 0; i < iot_op_count(); i++) {
        const struct iot_op *op = iot_op_at(i);
        if (!template_match(op->request_uri, path, n, &tried))
            continue;
        tried.op = op;
        if (method_is(op->http_method, method)) {
            *m = tried;
            return 1;
        }
        if (!at_path.op || (!handler_named(at_path.op->name) && handler_named(op->name)))
            at_path = tried;
    }
    *m = at_path;
    return 0;
}

/* ================================================================ routing */

/* Every operation of the model has a handler today; one the model gains later is
 * answered 501 until it gets one. */
static int not_implemented(struct http_ctx *ctx, const struct iot_op *op)
{
    http_reply_error(ctx, 501, "NotImplementedException",
                     "%s is not implemented by iotlua-emulator", op->name);
    return 501;
}

int http_route(struct http_ctx *ctx, const char *path, size_t n, enum hw_method method)
{
    struct route_match m;
    int method_ok = find_operation(path, n, method, &m);
    if (!m.op) {
        http_reply_error(ctx, 404, "UnknownOperationException",
                         "no data-plane operation at this path");
        return 404;
    }
    const struct handler *h = handler_named(m.op->name);
    if (method_ok && !h)
        return not_implemented(ctx, m.op);
    if (m.label_name && m.label_len == 0) {
        http_reply_error(ctx, 400, "InvalidRequestException", "%.*s is required",
                         (int)m.label_name_len, m.label_name);
        return 400;
    }
    if (!method_ok) {
        http_reply_error(ctx, 405, "MethodNotAllowedException",
                         "the method is not allowed for %s", m.op->name);
        return 405;
    }
    ctx->label = m.label;
    ctx->label_len = m.label_len;
    ctx->op = h->op;
    ctx->iop = m.op;
    return 0;
}

void http_run_op(struct http_ctx *ctx)
{
    buf_reset(&ctx->api->arena);
    for (size_t i = 0; i < NHANDLERS; i++) {
        if (HANDLERS[i].op == ctx->op) {
            HANDLERS[i].run(ctx);
            return;
        }
    }
    http_reply_error(ctx, 404, "UnknownOperationException", "no such operation");
}
