/* http_api.c — the data-plane API's server (http_server.c, plain HTTP or HTTPS): start-up, the SigV4 gate, fault injection, and handing each request to the
 * router (http_route.c); replies are http_reply.c's (see http_api.h). */
#include "http_api.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "http_server.h"
#include "http_status.h"
#include "sigv4.h"
#include "ws.h"

/* ---------------------------------------------------------------- SigV4 gate */

/* The configured secret for an access key id (sigv4_secret_lookup). No session token is
 * required: the emulator has no token service. */
static int lookup_secret(void *ud, const char *access_key_id, const char **secret_out,
                         const char **token_out)
{
    const struct http_api *api = ud;
    for (size_t i = 0; i < api->credential_count; i++)
        if (strcmp(api->credentials[i].access_key_id, access_key_id) == 0) {
            *secret_out = api->credentials[i].secret_access_key;
            *token_out = NULL;
            return 1;
        }
    return 0;
}

/* The request's headers as the verifier takes them; -1 when there are too many (a 400
 * has been sent). */
static int request_headers(struct http_ctx *ctx, const struct sigv4_header **headers_out,
                           size_t *count_out)
{
    *headers_out = ctx->wire->headers;
    size_t count = ctx->wire->nheaders;
    if (count > HTTP_MAX_HEADERS) {
        http_reply_error(ctx, 400, "InvalidRequestException", "too many headers");
        return -1;
    }
    *count_out = count;
    return 0;
}

/* 0 when the request is signed by a configured credential; else a 403 has been sent.
 *
 * runtime/sigv4.h's verifier, as received: method, raw path and raw query (still
 * percent-encoded, never normalised by us), headers in arrival order and the body. It
 * caches the signing key per credential and day/region/service. Accepted: any region in
 * the credential scope, the service given, X-Amz-Date within 5 minutes of the clock, the
 * path signed as sent or RFC 3986-normalised (as botocore signs it). x-amz-content-sha256,
 * when sent, must be the SHA-256 of the body received (or UNSIGNED-PAYLOAD). A session
 * token (X-Amz-Security-Token) is signed like any header but not checked. `in_query`:
 * the signature is in the query (a presigned URL), else in the Authorization header. */
static int verify_signature(struct http_ctx *ctx, const char *path, size_t path_len,
                            const char *service, bool in_query)
{
    const struct sigv4_header *headers;
    size_t count;
    if (request_headers(ctx, &headers, &count) != 0)
        return -1;
    char path_z[4096];
    if (path_len >= sizeof path_z) {
        http_reply_error(ctx, 403, "ForbiddenException", "the request path is too long to verify");
        return -1;
    }
    memcpy(path_z, path, path_len);
    path_z[path_len] = '\0';
    struct sigv4_request req = {
        .method = ctx->wire->method_name,
        .path = path_z,
        .query = ctx->query,
        .headers = headers,
        .nheaders = count,
        .body = ctx->body_len ? ctx->body : NULL,
        .body_len = ctx->body_len,
    };
    struct sigv4_verify_params params = {
        .service = service,
        .now = time(NULL),
        .max_skew = 300,
        .lookup = lookup_secret,
        .lookup_ud = ctx->api,
        .flags = SIGV4_VERIFY_EITHER_PATH | SIGV4_VERIFY_CONTENT_SHA256 | SIGV4_VERIFY_ANY_TOKEN |
                 SIGV4_VERIFY_QUERY_TOKEN_AFTER,
    };
    struct sigv4_verify_result result;
    enum sigv4_verify_status status =
        in_query ? sigv4_verifier_verify_query(ctx->api->verifier, &req, &params, &result)
                 : sigv4_verifier_verify(ctx->api->verifier, &req, &params, &result);
    if (status != SIGV4_VERIFY_OK)
        http_reply_error(ctx, 403, "ForbiddenException", "%s", result.message);
    sigv4_verify_result_free(&result);
    return status == SIGV4_VERIFY_OK ? 0 : -1;
}

static int authenticate(struct http_ctx *ctx, const char *path, size_t path_len)
{
    return verify_signature(ctx, path, path_len, "iotdata", false);
}

/* MQTT over WebSockets: AWS IoT's device gateway signs as service iotdevicegateway, in
 * the query, X-Amz-Security-Token possibly added after signing. */
int http_verify_query(struct http_ctx *ctx, const char *path, size_t path_len)
{
    return verify_signature(ctx, path, path_len, "iotdevicegateway", true);
}

/* ---------------------------------------------------------------- faults */

static void apply_fault_now(struct http_ctx *ctx, const struct qa_fault_hit *hit)
{
    if (hit->drop)
        http_drop_connection(ctx);
    else if (hit->status)
        http_reply_error(ctx, hit->status, hit->code, "%s", hit->message);
    else
        http_run_op(ctx);
}

static void fault_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_call *call = arg;
    struct qa_fault_hit hit = call->fault;
    struct http_ctx ctx = call->ctx;
    http_call_finish(call);
    apply_fault_now(&ctx, &hit);
}

/* 1 when a fault took the request over (replied now or later), 0 to serve it normally. */
static int inject_fault(struct http_ctx *ctx)
{
    struct qa_fault_hit hit;
    if (!qa_take_fault(ctx->api->qa, ctx->op, &hit))
        return 0;
    if (hit.latency_ms <= 0) {
        apply_fault_now(ctx, &hit);
        return 1;
    }
    struct http_call *call = http_call_new(ctx);
    if (!call) {
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
        return 1;
    }
    call->fault = hit;
    call->timer = evtimer_new(ctx->api->base, fault_timer_cb, call);
    struct timeval tv = {hit.latency_ms / 1000, (hit.latency_ms % 1000) * 1000};
    if (!call->timer || evtimer_add(call->timer, &tv) != 0) {
        http_call_finish(call);
        http_reply_error(ctx, 500, "InternalFailureException", "out of memory");
    }
    return 1;
}

/* ---------------------------------------------------------------- the callback */

const char *http_header(const struct http_ctx *ctx, const char *name)
{
    return hw_header(ctx->wire, name);
}

/* Routes, verifies and serves one request, whichever transport brought it. */
static void serve(struct http_ctx *ctx_in)
{
    struct http_ctx ctx = *ctx_in;
    struct http_api *api = ctx.api;
    http_make_request_id(api, ctx.request_id);
    const char *uri = ctx.uri;
    const char *q = strchr(uri, '?');
    size_t path_len = q ? (size_t)(q - uri) : strlen(uri);
    if (q) {
        ctx.query = q + 1;
        ctx.query_len = strlen(q + 1);
    }
    if (path_len == 0 || uri[0] != '/') {
        http_reply_error(&ctx, 400, "InvalidRequestException", "the request target must be a path");
        return;
    }
    static const char qa_prefix[] = "/_emulator/";
    if (path_len >= sizeof qa_prefix - 1 && memcmp(uri, qa_prefix, sizeof qa_prefix - 1) == 0) {
        qa_handle(&ctx, uri, path_len);
        return;
    }
    if (path_len == 5 && memcmp(uri, "/mqtt", 5) == 0) {
        ws_serve_upgrade(&ctx, api->ws, api->verify, api->ws_allow_unsigned);
        return;
    }
    if (http_route(&ctx, uri, path_len, ctx.method) != 0)
        return;
    if (api->verify && authenticate(&ctx, uri, path_len) != 0)
        return;
    if (inject_fault(&ctx))
        return;
    http_run_op(&ctx);
}

/* A request from http_server.c, plain HTTP or HTTPS. */
static void on_request(void *arg, struct hs_conn *conn, const struct hw_request *r)
{
    struct http_ctx ctx = {.api = arg, .conn = conn, .wire = r, .method = r->method,
                           .uri = r->target, .body = (const uint8_t *)r->body,
                           .body_len = r->body_len};
    serve(&ctx);
}

/* ---------------------------------------------------------------- lifetime */

/* The listener's error callback gets the struct hs_server, not our state: the live APIs
 * are kept in a list to find it (one per emulator in practice). */
static struct http_api *live_apis;

static struct http_api *api_of_server(void *server)
{
    for (struct http_api *a = live_apis; a; a = a->next_api)
        if ((void *)a->server == server)
            return a;
    return NULL;
}

/* accept() failed for a reason that does not go away by itself (out of file
 * descriptors, memory): stop listening for 100 ms instead of spinning on the error. */
static void accept_error(struct evconnlistener *listener, void *server)
{
    struct http_api *api = api_of_server(server);
    int err = EVUTIL_SOCKET_ERROR();
    if (!api)
        return;
    evconnlistener_disable(listener);
    struct timeval tv = {0, 100000};
    evtimer_add(api->accept_retry, &tv);
    if (err != EMFILE && err != ENFILE)
        fprintf(stderr, "iotlua-emulator: HTTP accept failed: %s\n",
                evutil_socket_error_to_string(err));
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_api *api = arg;
    evconnlistener_enable(api->listener);
}

/* Responses go out without waiting (Nagle + the client's delayed ACK held each HTTPS
 * response ~40 ms: its TLS records leave in separate writes). Set on the listening
 * socket, accepted connections inherit it (Linux copies the option). */
static void listener_ready(struct http_api *api, struct evconnlistener *listener)
{
    int one = 1;
    if (setsockopt(evconnlistener_get_fd(listener), IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof one) != 0)
        perror("iotlua-emulator: TCP_NODELAY");
    api->listener = listener;
    evconnlistener_set_error_cb(listener, accept_error);
}

/* The emulator's own server (http_server.h), over TLS when api->tls is set. */
static int bind_server(struct http_api *api, const struct http_api_options *o, int *port_out)
{
    api->server = hs_new(api->base, o->host ? o->host : "127.0.0.1", o->port, api->tls,
                         on_request, api, port_out);
    if (!api->server)
        return -1;
    listener_ready(api, hs_listener(api->server));
    return 0;
}

/* Copies the credentials (the caller's may go away). -1 when memory runs out. */
static int copy_credentials(struct http_api *api, const struct http_api_options *o)
{
    api->credentials = calloc(o->credential_count ? o->credential_count : 1,
                              sizeof *api->credentials);
    if (!api->credentials)
        return -1;
    for (size_t i = 0; i < o->credential_count; i++) {
        struct emulator_credential *c = &api->credentials[api->credential_count++];
        c->access_key_id = strdup(o->credentials[i].access_key_id);
        c->secret_access_key = strdup(o->credentials[i].secret_access_key);
        if (!c->access_key_id || !c->secret_access_key)
            return -1;
    }
    return 0;
}

static void free_credentials(struct http_api *api)
{
    for (size_t i = 0; i < api->credential_count; i++) {
        char *secret = (char *)api->credentials[i].secret_access_key;
        if (secret) {
            OPENSSL_cleanse(secret, strlen(secret));
            free(secret);
        }
        free((char *)api->credentials[i].access_key_id);
    }
    free(api->credentials);
}

static void seed(struct http_api *api)
{
    if (getrandom(&api->rng, sizeof api->rng, 0) != sizeof api->rng)
        api->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (!api->rng)
        api->rng = 0x9E3779B97F4A7C15ULL;
    if (getrandom(api->token_key, sizeof api->token_key, 0) != sizeof api->token_key)
        for (size_t i = 0; i < sizeof api->token_key; i++)
            api->token_key[i] = (uint8_t)(api->rng >> (i % 8 * 8)) ^ (uint8_t)i;
}

struct http_api *http_api_new(struct event_base *base, struct broker *broker,
                              const struct http_api_options *options, int *bound_port_out)
{
    signal(SIGPIPE, SIG_IGN);   /* a peer that vanishes must not kill the emulator */
    struct http_api *api = calloc(1, sizeof *api);
    if (!api)
        goto oom;
    api->base = base;
    api->broker = broker;
    api->shadows = options->shadows;
    api->tls = options->tls;
    api->verify = options->verify_signatures;
    api->ws_allow_unsigned = options->ws_allow_unsigned;
    api->ws = ws_hub_new(base, broker);
    seed(api);
    api->verifier = sigv4_verifier_new();
    api->qa = qa_new(api);
    api->accept_retry = evtimer_new(base, accept_retry_cb, api);
    if (copy_credentials(api, options) != 0 || !api->verifier || !api->qa ||
        !api->accept_retry || !api->ws)
        goto oom;
    api->next_api = live_apis;
    live_apis = api;
    int port = 0;
    if (bind_server(api, options, &port) != 0)
        goto fail;
    if (bound_port_out)
        *bound_port_out = port;
    api->ws_port = -1;
    if (options->ws_port >= 0 &&
        !(api->ws_listener = ws_listener_new(api, options->host ? options->host : "127.0.0.1",
                                             options->ws_port, api->tls, &api->ws_port)))
        goto fail;
    return api;
oom:
    fprintf(stderr, "iotlua-emulator: out of memory starting the HTTP API\n");
fail:
    http_api_free(api);
    return NULL;
}

int http_api_ws_port(const struct http_api *api)
{
    return api->ws_port;
}

void http_api_free(struct http_api *api)
{
    if (!api)
        return;
    while (api->calls) {
        struct http_call *call = api->calls;
        struct http_ctx ctx = call->ctx;
        if (call->direct)
            broker_direct_cancel(call->direct);
        http_call_finish(call);
        http_reply_error(&ctx, 503, "ServiceUnavailableException",
                         "the emulator is shutting down");
    }
    for (struct http_api **pp = &live_apis; *pp; pp = &(*pp)->next_api)
        if (*pp == api) {
            *pp = api->next_api;
            break;
        }
    if (api->accept_retry)
        event_free(api->accept_retry);
    hs_free(api->server);
    ws_listener_free(api->ws_listener);
    ws_hub_release(api->ws);        /* after hs_free: an upgrade it held is let go first */
    qa_free(api->qa);
    sigv4_verifier_free(api->verifier);
    free_credentials(api);
    buf_free(&api->out);
    buf_free(&api->arena);
    free(api);
}
