/* http_op_shadows.c — the Device Shadow operations: GetThingShadow, UpdateThingShadow,
 * DeleteThingShadow and ListNamedShadowsForThing. Each reads the thing name (path label)
 * and the shadow name (`?name=`), calls the shadow store (../shadow.h), and answers its
 * reply: the document as the body, or the model's error. The MQTT side's documents
 * (update/accepted, delta, documents, delete/accepted) are published by the store's
 * listener, so nothing here knows of them. */
#include <string.h>

#include "http_internal.h"
#include "shadow.h"

#define INVALID "InvalidRequestException"

/* The names of the request: the thing (label) into thing, the shadow (query `name`,
 * optional) into name ("" for the classic shadow). 0, or -1 (a reply has been sent). */
static int read_names(struct http_ctx *ctx, char *thing, char *name, bool named_allowed)
{
    size_t len;
    if (http_label_decode(ctx, thing, &len, "thingName") != 0)
        return -1;
    const char *problem = shadow_thing_name_problem(thing, len);
    if (problem || strlen(thing) != len) {
        http_reply_error(ctx, 400, INVALID, "%s", problem ? problem : "thingName is invalid");
        return -1;
    }
    name[0] = '\0';
    if (!named_allowed)
        return 0;
    const char *v;
    int r = http_query_get(ctx, "name", &v, &len);
    if (r < 0)
        return -1;
    if (r == 0)
        return 0;
    problem = shadow_name_problem(v, len);
    if (problem || strlen(v) != len) {
        http_reply_error(ctx, 400, INVALID, "%s", problem ? problem : "name is invalid");
        return -1;
    }
    memcpy(name, v, len + 1);
    return 0;
}

/* The store's reply as the HTTP answer. */
static void answer(struct http_ctx *ctx, struct shadow_reply *r)
{
    if (r->status == 200)
        http_reply_json(ctx, 200, &r->body);
    else
        http_reply_error(ctx, r->status, r->code, "%s", r->message);
    shadow_reply_free(r);
}

void http_op_get_thing_shadow(struct http_ctx *ctx)
{
    char thing[HTTP_MAX_LABEL + 1], name[SHADOW_MAX_SHADOW_NAME + 1];
    if (read_names(ctx, thing, name, true) != 0)
        return;
    struct shadow_reply r;
    shadow_reply_init(&r);
    shadow_get(ctx->api->shadows, thing, name, NULL, &r);
    answer(ctx, &r);
}

void http_op_update_thing_shadow(struct http_ctx *ctx)
{
    char thing[HTTP_MAX_LABEL + 1], name[SHADOW_MAX_SHADOW_NAME + 1];
    if (read_names(ctx, thing, name, true) != 0)
        return;
    struct shadow_reply r;
    shadow_reply_init(&r);
    shadow_update(ctx->api->shadows, thing, name, (const char *)ctx->body, ctx->body_len, &r);
    answer(ctx, &r);
}

void http_op_delete_thing_shadow(struct http_ctx *ctx)
{
    char thing[HTTP_MAX_LABEL + 1], name[SHADOW_MAX_SHADOW_NAME + 1];
    if (read_names(ctx, thing, name, true) != 0)
        return;
    struct shadow_reply r;
    shadow_reply_init(&r);
    shadow_delete(ctx->api->shadows, thing, name, NULL, &r);
    answer(ctx, &r);
}

void http_op_list_named_shadows_for_thing(struct http_ctx *ctx)
{
    char thing[HTTP_MAX_LABEL + 1], name[1];
    if (read_names(ctx, thing, name, false) != 0)
        return;
    int64_t page_size;
    if (http_query_model_int(ctx, "pageSize", 1, 100, SHADOW_DEFAULT_PAGE_SIZE, &page_size) != 0)
        return;
    size_t off, len;
    bool present;
    if (http_query_opt(ctx, "nextToken", &off, &len, &present) != 0)
        return;
    const char *token = present ? ctx->api->arena.data + off : NULL;
    if (token && strlen(token) != len) {
        http_reply_error(ctx, 400, INVALID, "nextToken is not valid for this request");
        return;
    }
    struct shadow_reply r;
    shadow_reply_init(&r);
    shadow_list_named(ctx->api->shadows, thing, token, (size_t)page_size, &r);
    answer(ctx, &r);
}
