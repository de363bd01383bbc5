/*
 * http_internal.h — what the files of emulator/http/ share: the server state, one
 * request being served (struct http_ctx), replies and request readers (http_reply.c),
 * routing (http_route.c), the operations by family (http_op_messages.c: Publish,
 * SendDirectMessage; http_op_connections.c: GetConnection, ListSubscriptions,
 * DeleteConnection; http_op_shadows.c: the Device Shadow operations;
 * http_op_retained.c: GetRetainedMessage, ListRetainedMessages) and the QA controls
 * (http_qa.c).
 */
#ifndef IOTLUA_EMULATOR_HTTP_INTERNAL_H
#define IOTLUA_EMULATOR_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "buf.h"
#include "encode.h"
#include "http_api.h"
#include "http_parse.h"
#include "http_wire.h"
#include "json.h"

struct hs_conn;
struct hs_server;
struct hw_request;
struct evconnlistener;
struct event;
struct iot_op;
struct shadow_store;
struct ws_hub;
struct ws_listener;
struct ws_pending;

#define HTTP_MAX_PAYLOAD (128 * 1024)       /* AWS IoT message payload limit */
#define HTTP_MAX_QUERY_PARAMS 32
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_USER_PROPERTIES 128
#define HTTP_MAX_LABEL 1024                 /* raw (encoded) bytes of a path label */

enum http_op {
    OP_NONE = 0,
    OP_PUBLISH,
    OP_SEND_DIRECT_MESSAGE,
    OP_GET_CONNECTION,
    OP_LIST_SUBSCRIPTIONS,
    OP_DELETE_CONNECTION,
    OP_GET_THING_SHADOW,
    OP_UPDATE_THING_SHADOW,
    OP_DELETE_THING_SHADOW,
    OP_LIST_NAMED_SHADOWS_FOR_THING,
    OP_GET_RETAINED_MESSAGE,
    OP_LIST_RETAINED_MESSAGES,
    OP_COUNT
};
const char *http_op_name(enum http_op op);
enum http_op http_op_from_name(const char *name);

struct http_call;
struct qa_state;

struct http_api {
    struct event_base *base;
    struct broker *broker;
    struct shadow_store *shadows;   /* borrowed (shadow.h): main.c owns it */
    struct hs_server *server;       /* plain HTTP or HTTPS (http_server.h) */
    SSL_CTX *tls;
    struct sigv4_verifier *verifier;    /* SigV4, with its signing-key cache */
    struct emulator_credential *credentials;    /* owned copies */
    size_t credential_count;
    bool verify;
    bool ws_allow_unsigned;         /* MQTT over WebSockets without SigV4 (tests) */
    struct ws_hub *ws;              /* MQTT over WebSockets (ws.h) */
    struct ws_listener *ws_listener;    /* --ws-port, or NULL */
    int ws_port;                    /* its bound port, -1 without it */
    uint64_t rng;                   /* request ids */
    uint8_t token_key[16];          /* ListSubscriptions page tokens */
    struct buf out;                 /* response body, reused */
    struct buf arena;               /* decoded query values and user properties, reused */
    struct qa_state *qa;
    struct http_call *calls;        /* requests waiting on a timer or a PUBACK */
    struct evconnlistener *listener;
    struct event *accept_retry;     /* re-enables the listener after EMFILE and the like */
    struct http_api *next_api;      /* in the list of live APIs (see api_of_http) */
};

/* One request being served. Lives on the stack for synchronous answers; copied into a
 * struct http_call when the answer waits (fault latency, direct-message PUBACK). Every
 * pointer is into the connection's buffer, which stays put until the reply. */
struct http_ctx {
    struct http_api *api;
    struct hs_conn *conn;           /* http_server.c's connection; else NULL */
    const struct hw_request *wire;  /* the parsed request (http_server.c or --ws-port) */
    struct ws_pending *ws_pending;  /* --ws-port: the connection (ws_listen.c); else NULL */
    enum hw_method method;
    const char *uri;                /* request target as sent, NUL-terminated */
    const uint8_t *body;
    size_t body_len;
    char request_id[40];
    enum http_op op;
    const struct iot_op *iop;       /* its description in the model (operations.h) */
    const char *label;              /* raw path label (topic or clientId) */
    size_t label_len;
    const char *query;
    size_t query_len;
};

/* An injected fault (QA controls): latency, then a dropped connection, an error, or
 * (status 0) the normal answer. */
struct qa_fault_hit {
    int latency_ms;
    int status;
    char code[64];
    char message[256];
    bool drop;
};

/* A request whose reply waits. Owned by api->calls; freed by http_call_finish. */
struct http_call {
    struct http_ctx ctx;
    struct event *timer;
    struct broker_direct *direct;
    struct qa_fault_hit fault;      /* what to do when an injected latency ends */
    struct http_call *next, **pprev;
};

/* ---------------------------------------------------------------- replies (http_reply.c) */
void http_reply_json(struct http_ctx *ctx, int status, const struct buf *body);
void http_reply_error(struct http_ctx *ctx, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* {"message":"OK","traceId":<request id>}, as Publish and SendDirectMessage answer. */
void http_reply_ok_trace(struct http_ctx *ctx);
void http_drop_connection(struct http_ctx *ctx);
struct http_call *http_call_new(struct http_ctx *ctx);
void http_call_finish(struct http_call *call);    /* unlinks and frees (no reply) */
void http_make_request_id(struct http_api *api, char out[40]);

/* SigV4 in the query (presigned, service iotdevicegateway) for MQTT over WebSockets:
 * 0, or -1 with a 403 sent (http_api.c). */
int http_verify_query(struct http_ctx *ctx, const char *path, size_t path_len);

/* The value of request header `name` (any case), or NULL (http_api.c). */
const char *http_header(const struct http_ctx *ctx, const char *name);

/* ---------------------------------------------------------------- request readers (http_reply.c) */
/* Finds query parameter `name`, percent-decoded into api->arena. 1 found, 0 absent,
 * -1 malformed (an error reply has been sent). */
int http_query_get(struct http_ctx *ctx, const char *name, const char **value_out,
                   size_t *len_out);
/* The same as an arena offset (the arena may move as it grows); *present says whether
 * it was there. 0, or -1 (a reply has been sent). */
int http_query_opt(struct http_ctx *ctx, const char *name, size_t *off, size_t *len,
                   bool *present);
/* Reads integer query parameter `name` into *out (dflt when absent). 0, or -1 when it is
 * malformed or outside [min, max] (an error reply has been sent). */
int http_query_int(struct http_ctx *ctx, const char *name, int64_t min, int64_t max,
                   int64_t dflt, int64_t *out);
/* The same with the range the model gives the operation's member of that name, or
 * [min, max] (AWS IoT's documented limits) when the model gives none. */
int http_query_model_int(struct http_ctx *ctx, const char *name, int64_t min, int64_t max,
                         int64_t dflt, int64_t *out);
int http_query_bool(struct http_ctx *ctx, const char *name, bool *out);
/* The path label (topic or clientId) decoded into out (HTTP_MAX_LABEL + 1 bytes); what
 * names it in an error. 0, or -1 (a reply has been sent). */
int http_label_decode(struct http_ctx *ctx, char *out, size_t *len_out, const char *what);
/* The same for a clientId, checked as AWS IoT checks it. */
int http_label_client_id(struct http_ctx *ctx, char *out);

/* ---------------------------------------------------------------- routing and operations */
/* Sets ctx->op, ctx->iop and the label from the method and raw path (http_route.c);
 * 0, or the HTTP status of the error reply already sent. */
int http_route(struct http_ctx *ctx, const char *path, size_t n, enum hw_method method);
void http_run_op(struct http_ctx *ctx);
void http_op_publish(struct http_ctx *ctx);                 /* http_op_messages.c */
void http_op_send_direct_message(struct http_ctx *ctx);
void http_op_get_connection(struct http_ctx *ctx);          /* http_op_connections.c */
void http_op_delete_connection(struct http_ctx *ctx);
void http_op_list_subscriptions(struct http_ctx *ctx);
void http_op_get_thing_shadow(struct http_ctx *ctx);        /* http_op_shadows.c */
void http_op_update_thing_shadow(struct http_ctx *ctx);
void http_op_delete_thing_shadow(struct http_ctx *ctx);
void http_op_list_named_shadows_for_thing(struct http_ctx *ctx);
void http_op_get_retained_message(struct http_ctx *ctx);    /* http_op_retained.c */
void http_op_list_retained_messages(struct http_ctx *ctx);

/* ---------------------------------------------------------------- QA controls (http_qa.c) */
struct qa_state *qa_new(struct http_api *api);
void qa_free(struct qa_state *qa);
void qa_handle(struct http_ctx *ctx, const char *path, size_t path_len);
/* Takes one matching fault for op, if any: 1 and *hit_out filled, 0 when none. */
int qa_take_fault(struct qa_state *qa, enum http_op op, struct qa_fault_hit *hit_out);

#endif
