/*
 * client.c — clients and calls: marshal → sign → send on the engine → classify →
 * retry (a timer, never a sleep); response.c makes the response a result. See client.h,
 * and client_raw.h for the calls built outside the model (aws_request.c).
 *
 * A call owns its params, its marshalled request, its URL and one http_xfer reused by
 * every attempt; it lives from iot_call_start until its event is popped or cancelled.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "client_raw.h"
#include "encode.h"
#include "http.h"
#include "marshal.h"
#include "response.h"
#include "retry.h"
#include "sigv4.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L

/* ================================================================ small helpers */

const char *iot_user_agent(void)
{
    static char ua[96];
    if (!ua[0]) {
        const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        snprintf(ua, sizeof ua, "iotlua/%s libcurl/%s", IOTLUA_VERSION,
                 v && v->version ? v->version : "?");
    }
    return ua;
}

int iot_retry_mode_parse(const char *s, enum iot_retry_mode *mode_out, char *msg, size_t msglen)
{
    if (!s || strcmp(s, "standard") == 0) {
        *mode_out = IOT_RETRY_STANDARD;
        return 0;
    }
    if (strcmp(s, "legacy") == 0) {
        *mode_out = IOT_RETRY_LEGACY;
        return 0;
    }
    if (msg && msglen)
        snprintf(msg, msglen, "retry_mode must be \"standard\" or \"legacy\" (got \"%.64s\"; "
                 "\"adaptive\" is not supported)", s);
    return -1;
}

/* ================================================================ clients */

struct iot_client {
    int refs;
    struct iot_engine *engine;
    char *base_url;             /* scheme://host[:port][/base], no trailing '/' */
    char *host_header;          /* host[:port] as signed and sent */
    char *region;
    char *signing_name;
    char *akid, *secret, *token;    /* static credentials (secret wiped on free) */
    iot_credentials_fn credentials_fn;
    void *credentials_ctx;
    iot_credentials_forget_fn credentials_forget;
    long timeout_ms, connect_timeout_ms;
    int max_attempts;
    enum iot_retry_mode retry_mode;
    char *ca_bundle;
    int verify_tls;
    struct iot_retry_quota quota;
    struct sigv4_signer *signer;    /* cached signing keys, digests fetched once */
    struct enc_hasher *hasher;      /* payload hashes (one OpenSSL context for every call) */
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void client_unref(struct iot_client *c)
{
    if (!c || --c->refs > 0)
        return;
    free(c->base_url);
    free(c->host_header);
    free(c->region);
    free(c->signing_name);
    free(c->akid);
    free_secret(c->secret);
    free_secret(c->token);
    free(c->ca_bundle);
    sigv4_signer_free(c->signer);
    enc_hasher_free(c->hasher);
    free(c);
}

void iot_client_free(struct iot_client *client)
{
    client_unref(client);
}

/* Split the endpoint URL into the base URL and the Host header; 0 or -1 + err. */
static int parse_endpoint(struct iot_client *c, const char *endpoint, struct iot_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    int rc = -1;
    if (!u || !endpoint || !*endpoint) {
        iot_error_set(err, "ConfigError", "no endpoint URL");
        goto done;
    }
    if (curl_url_set(u, CURLUPART_URL, endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        iot_error_set(err, "ConfigError", "endpoint \"%.200s\" is not a valid URL", endpoint);
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        iot_error_set(err, "ConfigError", "endpoint \"%.200s\": the scheme must be http or https",
                  endpoint);
        goto done;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    if ((query && *query) || user) {
        iot_error_set(err, "ConfigError", "endpoint \"%.200s\" must not have a query or user "
                  "information", endpoint);
        goto done;
    }
    int default_port = !port || (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0) ||
                       (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0);
    struct buf b = BUF_INIT, h = BUF_INIT;
    buf_printf(&h, "%s", host);
    if (!default_port)
        buf_printf(&h, ":%s", port);
    buf_printf(&b, "%s://%s", scheme, buf_cstr(&h));
    size_t plen = path ? strlen(path) : 0;
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    if (plen)
        buf_append(&b, path, plen);
    c->base_url = buf_steal(&b);
    c->host_header = buf_steal(&h);
    rc = c->base_url && c->host_header ? 0 : -1;
    if (rc)
        iot_error_set(err, "InternalError", "out of memory");
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

static int client_settings(struct iot_client *c, const struct iot_client_config *cfg,
                           struct iot_error *err)
{
    if (!cfg->region || !*cfg->region) {
        iot_error_set(err, "ConfigError", "no region");
        return -1;
    }
    if (cfg->max_attempts < 0) {
        iot_error_set(err, "ConfigError", "max_attempts must be at least 1 (got %d)",
                  cfg->max_attempts);
        return -1;
    }
    if (cfg->timeout_ms < 0 || cfg->connect_timeout_ms < 0) {
        iot_error_set(err, "ConfigError", "timeouts must not be negative");
        return -1;
    }
    c->retry_mode = cfg->retry_mode == IOT_RETRY_LEGACY ? IOT_RETRY_LEGACY : IOT_RETRY_STANDARD;
    c->max_attempts = cfg->max_attempts ? cfg->max_attempts
                      : c->retry_mode == IOT_RETRY_LEGACY ? IOT_RETRY_LEGACY_MAX_ATTEMPTS
                                                          : IOT_RETRY_DEFAULT_MAX_ATTEMPTS;
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
                                                    : DEFAULT_CONNECT_TIMEOUT_MS;
    c->verify_tls = cfg->verify_tls >= 0;
    c->credentials_fn = cfg->credentials_fn;
    c->credentials_ctx = cfg->credentials_ctx;
    c->credentials_forget = cfg->credentials_forget;
    iot_retry_quota_init(&c->quota);
    return 0;
}

struct iot_client *iot_client_new(struct iot_engine *engine, const struct iot_client_config *cfg,
                                  struct iot_error *err_out)
{
    struct iot_error scratch;
    struct iot_error *err = err_out ? err_out : &scratch;
    memset(err, 0, sizeof *err);
    struct iot_client *c = calloc(1, sizeof *c);
    if (!c) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    c->refs = 1;
    c->engine = engine;
    if (!engine || !cfg) {
        iot_error_set(err, "ConfigError", "no engine or configuration");
        goto fail;
    }
    if (client_settings(c, cfg, err) != 0 || parse_endpoint(c, cfg->endpoint, err) != 0)
        goto fail;
    c->region = strdup(cfg->region);
    c->signing_name = strdup(cfg->signing_name ? cfg->signing_name : IOT_SERVICE_SIGNING_NAME);
    c->akid = dup_or_null(cfg->credentials.access_key_id);
    c->secret = dup_or_null(cfg->credentials.secret_access_key);
    c->token = cfg->credentials.session_token && *cfg->credentials.session_token
                   ? strdup(cfg->credentials.session_token) : NULL;
    c->ca_bundle = dup_or_null(cfg->ca_bundle);
    c->signer = sigv4_signer_new();
    c->hasher = enc_hasher_new();
    if (!c->region || !c->signing_name || !c->signer || !c->hasher || (cfg->credentials.access_key_id && !c->akid) ||
        (cfg->credentials.secret_access_key && !c->secret) || (cfg->ca_bundle && !c->ca_bundle)) {
        iot_error_set(err, "InternalError", "out of memory");
        goto fail;
    }
    if (cfg->max_connections > 0)
        iot_engine_set_max_connections(engine, cfg->max_connections);
    return c;
fail:
    client_unref(c);
    return NULL;
}

/* ================================================================ calls */

struct iot_call {
    struct eng_item item;
    struct iot_client *client;
    struct iot_params *params;  /* NULL for a raw call */
    const struct iot_op *op;    /* of params, or the raw call's */
    struct iot_request req;
    const char *host;           /* the Host header signed: the client's or the raw call's */
    const char *region, *service;   /* the signing scope */
    unsigned sign_flags;        /* 0 for the model's operations (paths signed as sent) */
    void (*parse_error)(struct iot_result *r);  /* a raw call's error reader, or NULL */
    char *raw_strings;          /* a raw call's copies: method, host, service, region, body */
    char *url;                  /* "URL\0path as signed\0", one allocation */
    const char *sign_path;      /* into url: the endpoint's base path + the request path */
    int attempts;
    int connections_opened;
    int quota_acquired;
    struct eng_timer backoff;
    struct eng_timer budget;    /* the call's own timeout (iot_call_opts), when given */
    long budget_ms;
    struct iot_credentials_wait credentials_wait;   /* while its credentials are fetched */
    struct http_xfer x;
};

/* Stops whatever the call is doing: its attempt, its backoff, its wait for credentials. */
static void call_stop(struct iot_engine *e, struct iot_call *call)
{
    eng_timer_disarm(e, &call->backoff);
    eng_timer_disarm(e, &call->budget);
    if (call->credentials_wait.holder && call->client->credentials_forget)
        call->client->credentials_forget(call->credentials_wait.holder, &call->credentials_wait);
    http_abort(e, &call->x);
}

static void call_destroy(struct iot_engine *e, struct eng_item *item)
{
    struct iot_call *call = DL_CONTAINER(item, struct iot_call, item);
    call_stop(e, call);
    http_xfer_free(&call->x);
    iot_request_free(&call->req);
    iot_params_free(call->params);
    iot_result_free(call->item.result);
    client_unref(call->client);
    free(call->url);
    free(call->raw_strings);
    free(call);
}

static struct iot_result *result_new(struct iot_call *call)
{
    struct iot_result *r = iot_result_new(call->op);
    if (!r)
        return NULL;
    r->attempts = call->attempts;
    r->error.attempts = call->attempts;
    return r;
}

/* Deliver the call's event with result r (NULL: out of memory, reported as such). */
static void call_complete(struct iot_engine *e, struct iot_call *call, struct iot_result *r)
{
    eng_timer_disarm(e, &call->budget);
    if (!r && (r = iot_result_new_bare(call->op)))
        iot_error_set(&r->error, "InternalError", "out of memory");
    if (r) {
        r->attempts = call->attempts;
        r->error.attempts = r->ok ? 0 : call->attempts;
        if (!r->ok && r->request_id[0])
            snprintf(r->error.request_id, sizeof r->error.request_id, "%s", r->request_id);
    }
    call->item.result = r;
    eng_item_ready(e, &call->item);
}

/* ---------------------------------------------------------------- attempts */

/* The attempt's credentials into *out: 0; -1 with err; 1 when they are being fetched
 * (the call's credentials_wait is woken when they are there). */
static int get_credentials(struct iot_call *call, struct sigv4_credentials *out,
                           struct iot_error *err)
{
    struct iot_client *c = call->client;
    if (c->credentials_fn) {
        struct iot_credentials cr = {0};
        int rc = c->credentials_fn(c->credentials_ctx, c->engine, &cr, err,
                                   &call->credentials_wait);
        if (rc == 1)
            return 1;
        if (rc != 0) {
            if (!err->code[0])
                snprintf(err->code, sizeof err->code, "CredentialsError");
            return -1;
        }
        out->access_key_id = cr.access_key_id;
        out->secret_access_key = cr.secret_access_key;
        out->session_token = cr.session_token;
    } else {
        out->access_key_id = c->akid;
        out->secret_access_key = c->secret;
        out->session_token = c->token;
    }
    if (!out->access_key_id || !*out->access_key_id || !out->secret_access_key ||
        !*out->secret_access_key) {
        iot_error_set(err, "CredentialsError", "no credentials: set access_key_id and "
                  "secret_access_key");
        return -1;
    }
    return 0;
}

/* Sign the request afresh and build the header list. 0; -1 with err; 1 when the
 * credentials are being fetched (nothing was built). */
static int sign_attempt(struct iot_call *call, struct iot_error *err)
{
    struct iot_client *c = call->client;
    /* Host and the marshalled headers; a request with more than fit on the stack (no
     * operation of the model has that many) gets a heap array. */
    struct sigv4_header stack_hs[24];
    struct sigv4_header *hs = stack_hs;
    size_t n = 0;
    struct sigv4_params sp = {0};
    struct sigv4_result sr;
    memset(&sr, 0, sizeof sr);
    int got = get_credentials(call, &sp.credentials, err);
    if (got != 0)
        return got;
    if (call->req.nhdrs + 1 > sizeof stack_hs / sizeof stack_hs[0] &&
        !(hs = malloc((call->req.nhdrs + 1) * sizeof *hs)))
        goto oom;
    hs[n].name = "Host";
    hs[n++].value = call->host;
    for (size_t i = 0; i < call->req.nhdrs; i++, n++)
        iot_request_header(&call->req, i, &hs[n].name, &hs[n].value);
    struct sigv4_request sq = {call->req.method, call->sign_path, iot_request_query(&call->req),
                               hs, n, NULL, 0, call->req.payload_hash};
    sp.region = call->region;
    sp.service = call->service;
    sp.time = eng_wall_clock(c->engine);
    sp.flags = call->sign_flags;
    if (sigv4_signer_sign(c->signer, &sq, &sp, &sr) != 0) {
        iot_error_set(err, "InternalError", "signing failed: %s", sr.error);
        goto fail;
    }
    for (size_t i = 0; i < n + sr.nadd; i++) {
        const struct sigv4_header *h = i < n ? &hs[i] : &sr.add[i - n];
        int rc = http_xfer_add_header(&call->x, h->name, h->value);
        if (rc == -1)
            goto oom;
        if (rc != 0) {
            iot_error_set(err, "ValidationError", "header %s: not a valid HTTP header (a name "
                      "must be a token, a value must not hold CR or LF)", h->name);
            goto fail;
        }
    }
    sigv4_result_free(&sr);
    if (hs != stack_hs)
        free(hs);
    return 0;
oom:
    iot_error_set(err, "InternalError", "out of memory");
fail:
    sigv4_result_free(&sr);
    if (hs != stack_hs)
        free(hs);
    return -1;
}

/* The call ends before an attempt went out, with err (CredentialsError, ...). */
static void call_fail_unsent(struct iot_engine *e, struct iot_call *call, struct iot_error *err)
{
    struct iot_result *r = result_new(call);
    if (r) {
        err->operation = r->error.operation;
        r->error = *err;
    }
    call_complete(e, call, r);
}

/* The call ran out of time (the engine's deadline or its own timeout): it stops and
 * completes with TimeoutError, not retryable, its attempts so far counted. */
static void call_time_out(struct iot_engine *e, struct iot_call *call, const char *message)
{
    call_stop(e, call);
    struct iot_error err;
    memset(&err, 0, sizeof err);
    iot_error_set(&err, "TimeoutError", "%s", message);
    call_fail_unsent(e, call, &err);
}

static void call_expire(struct iot_engine *e, struct eng_item *item)
{
    call_time_out(e, DL_CONTAINER(item, struct iot_call, item),
                  "deadline passed: the run's deadline (--deadline, iotlua.deadline) ended "
                  "the call");
}

static void budget_fire(struct iot_engine *e, struct eng_timer *t)
{
    struct iot_call *call = DL_CONTAINER(t, struct iot_call, budget);
    char message[128];
    snprintf(message, sizeof message, "call timeout: the call's timeout of %ld ms passed",
             call->budget_ms);
    call_time_out(e, call, message);
}

/* http_xfer.prepare: sign the attempt as it leaves the queue. On failure the call
 * completes with the error; while the credentials are fetched the attempt is not made
 * (credentials_woken makes it). */
static int call_prepare(struct iot_engine *e, struct http_xfer *x)
{
    struct iot_call *call = DL_CONTAINER(x, struct iot_call, x);
    struct iot_error err;
    memset(&err, 0, sizeof err);
    int rc = sign_attempt(call, &err);
    if (rc == 0)
        return 0;
    if (rc == 1)
        call->attempts--;
    else
        call_fail_unsent(e, call, &err);
    return -1;
}

/* Queue the next attempt; it is signed when it leaves the queue (call_prepare). */
static void call_attempt(struct iot_engine *e, struct iot_call *call)
{
    struct http_xfer *x = &call->x;
    struct iot_client *c = call->client;
    http_xfer_reset(x);
    call->attempts++;
    x->url = call->url;
    x->method = call->req.method;
    x->body = call->req.body;
    x->body_len = call->req.body_len;
    x->has_body = call->req.has_body;
    x->file = call->req.file;
    x->file_start = call->req.file_start;
    x->file_len = call->req.file_len;
    x->timeout_ms = c->timeout_ms;
    x->connect_timeout_ms = c->connect_timeout_ms;
    x->ca_bundle = c->ca_bundle;
    x->verify_tls = c->verify_tls;
    if (http_submit(e, x) == 0)
        return;
    struct iot_result *r = result_new(call);
    if (r)
        iot_error_set(&r->error, "InternalError", "the transfer could not be queued");
    call_complete(e, call, r);
}

static void backoff_fire(struct iot_engine *e, struct eng_timer *t)
{
    call_attempt(e, DL_CONTAINER(t, struct iot_call, backoff));
}

/* The credentials the call waited for were fetched (or could not be). */
static void credentials_woken(struct iot_engine *e, struct iot_credentials_wait *w, int ok,
                              const char *message)
{
    struct iot_call *call = DL_CONTAINER(w, struct iot_call, credentials_wait);
    if (ok) {
        call_attempt(e, call);
        return;
    }
    struct iot_error err;
    memset(&err, 0, sizeof err);
    iot_error_set(&err, "CredentialsError", "%s", message ? message : "no credentials");
    call_fail_unsent(e, call, &err);
}

/* Build the result of a finished attempt: r->ok, error, output. Returns the
 * failure class for the retry policy. */
static enum iot_failure attempt_outcome(struct iot_call *call, struct iot_result *r)
{
    struct http_xfer *x = &call->x;
    r->status = x->status;
    r->http_version = x->http_version;
    call->connections_opened += x->new_connection;
    r->connections_opened = call->connections_opened;
    if (x->result != CURLE_OK) {
        r->status = 0;
        struct iot_transport_failure tf = {x->result, x->os_errno, x->connected, x->too_large,
                                           call->host, x->errbuf,
                                           x->timeout_ms, x->connect_timeout_ms,
                                           x->timed_out_waiting_for};
        return iot_classify_transport(&tf, &r->error);
    }
    /* The result takes the body over: the xfer's buffer is reused by the next attempt. */
    enum iot_failure failure = iot_response_fill(r, &x->head, &x->body_in);
    if (!r->ok && failure == IOT_FAIL_NONE && call->parse_error)
        call->parse_error(r);
    return failure;
}

static void call_xfer_done(struct iot_engine *e, struct http_xfer *x)
{
    struct iot_call *call = DL_CONTAINER(x, struct iot_call, x);
    struct iot_client *c = call->client;
    struct iot_result *r = result_new(call);
    if (!r) {
        call_complete(e, call, NULL);
        return;
    }
    enum iot_failure failure = attempt_outcome(call, r);
    if (r->ok) {
        if (c->retry_mode == IOT_RETRY_STANDARD)
            iot_retry_quota_success(&c->quota, call->quota_acquired);
        call_complete(e, call, r);
        return;
    }
    r->error.status = r->status;
    r->error.retryable = iot_retry_is_retryable(failure, r->status, r->error.code);
    struct iot_retry_decision d = iot_retry_decide(
        c->retry_mode, c->max_attempts, call->attempts, failure, r->status,
        r->error.code, c->retry_mode == IOT_RETRY_STANDARD ? &c->quota : NULL,
        eng_random(e));
    if (d.retry) {
        call->quota_acquired = d.cost;
        iot_result_free(r);
        if (eng_timer_arm(e, &call->backoff, d.delay_ms) == 0)
            return;
        call_complete(e, call, NULL);
        return;
    }
    call_complete(e, call, r);
}

/* The call's URL (base URL + target) and, after its NUL, the path it is signed with (the
 * endpoint's base path + the request path), made once for every attempt. 0 or -1 (OOM). */
static int call_urls(struct iot_call *call, const struct iot_client *client)
{
    const char *base_path = strchr(strstr(client->base_url, "://") + 3, '/');
    if (!base_path)
        base_path = "";
    const struct iot_request *req = &call->req;
    size_t base_len = strlen(client->base_url), base_path_len = strlen(base_path);
    struct buf b = BUF_INIT;
    if (buf_reserve(&b, base_len + req->target.len + 1 + base_path_len + req->path_len) != 0 ||
        buf_append(&b, client->base_url, base_len) != 0 ||
        buf_append(&b, buf_cstr(&req->target), req->target.len) != 0 ||
        buf_append_char(&b, '\0') != 0 ||
        buf_append(&b, base_path, base_path_len) != 0 ||
        buf_append(&b, buf_cstr(&req->target), req->path_len) != 0) {
        buf_free(&b);
        return -1;
    }
    size_t path_off = base_len + req->target.len + 1;
    call->url = buf_steal(&b);
    call->sign_path = call->url + path_off;
    return 0;
}

/* The call's first attempt, or its end at once when the deadline has passed already. */
static void call_begin(struct iot_engine *e, struct iot_call *call)
{
    if (call->budget_ms > 0) {
        if (eng_timer_arm(e, &call->budget, call->budget_ms) != 0) {
            call_complete(e, call, NULL);
            return;
        }
    } else if (eng_deadline_passed(e)) {
        call_time_out(e, call, "deadline passed: the run's deadline (--deadline, "
                      "iotlua.deadline) had passed before the call started");
        return;
    }
    call_attempt(e, call);
}

int iot_call_start(struct iot_client *client, struct iot_params *params, void *user,
                   uint64_t *id_out, char *msg, size_t msglen)
{
    return iot_call_start_opts(client, params, NULL, user, id_out, msg, msglen);
}

/* A new call, its transfer and timers set up, owning nothing yet; NULL out of memory. */
static struct iot_call *call_new(const struct iot_call_opts *opts)
{
    struct iot_call *call = calloc(1, sizeof *call);
    if (!call)
        return NULL;
    struct iot_request init = IOT_REQUEST_INIT;
    call->req = init;
    http_xfer_init(&call->x);
    call->x.done = call_xfer_done;
    call->x.prepare = call_prepare;
    eng_timer_init(&call->backoff, backoff_fire);
    eng_timer_init(&call->budget, budget_fire);
    call->budget_ms = opts ? opts->timeout_ms : 0;
    call->credentials_wait.wake = credentials_woken;
    return call;
}

/* Frees a call that never started. */
static void call_discard(struct iot_call *call)
{
    http_xfer_free(&call->x);
    iot_request_free(&call->req);
    iot_params_free(call->params);
    free(call->url);
    free(call->raw_strings);
    free(call);
}

/* The call joins the client's engine as an item and begins. */
static void call_launch(struct iot_client *client, struct iot_call *call, void *user,
                        uint64_t *id_out)
{
    call->client = client;
    client->refs++;
    call->item.id = eng_next_id(client->engine);
    call->item.user = user;
    call->item.kind = IOT_EV_CALL;
    call->item.destroy = call_destroy;
    call->item.expire = call->budget_ms > 0 ? NULL : call_expire;
    eng_item_track(client->engine, &call->item);
    if (id_out)
        *id_out = call->item.id;
    call_begin(client->engine, call);
}

static int bad_timeout(const struct iot_call_opts *opts, char *msg, size_t msglen)
{
    if (!opts || opts->timeout_ms >= 0)
        return 0;
    if (msg && msglen)
        snprintf(msg, msglen, "the call's timeout must not be negative");
    return 1;
}

int iot_call_start_opts(struct iot_client *client, struct iot_params *params,
                        const struct iot_call_opts *opts, void *user, uint64_t *id_out,
                        char *msg, size_t msglen)
{
    struct iot_call *call = NULL;
    if (bad_timeout(opts, msg, msglen)) {
        iot_params_free(params);
        return -1;
    }
    if (!client || !params) {
        if (msg && msglen)
            snprintf(msg, msglen, "iot_call_start: no client or parameters");
        iot_params_free(params);
        return -1;
    }
    if (iot_params_check(params, msg, msglen) != 0)
        goto fail;
    if (!(call = call_new(opts)))
        goto oom;
    call->params = params;
    params = NULL;
    if (iot_marshal_hashed(call->params, client->hasher, &call->req, msg, msglen) != 0)
        goto fail;
    if (call_urls(call, client) != 0)
        goto oom;
    call->op = iot_params_op(call->params);
    call->host = client->host_header;
    call->region = client->region;
    call->service = client->signing_name;
    call_launch(client, call, user, id_out);
    return 0;
oom:
    if (msg && msglen)
        snprintf(msg, msglen, "out of memory");
fail:
    iot_params_free(params);
    if (call)
        call_discard(call);
    return -1;
}

/* ================================================================ raw calls */

const char *iot_client_region(const struct iot_client *client)
{
    return client->region;
}

/* A raw call's strings copied into one allocation, and its URL with the path it is
 * signed with after the URL's NUL (as call_urls makes them). 0, or -1 out of memory. */
static int raw_copy(struct iot_call *call, const struct iot_raw_call *raw)
{
    const char *parts[4] = {call->req.method, raw->host, raw->service, raw->region};
    const char **dst[4] = {&call->req.method, &call->host, &call->service, &call->region};
    size_t total = call->req.body_len + 1, url_len = strlen(raw->url);
    for (size_t i = 0; i < 4; i++)
        total += strlen(parts[i]) + 1;
    char *s = call->raw_strings = malloc(total);
    call->url = malloc(url_len + 1 + call->req.path_len + 1);
    if (!s || !call->url)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]) + 1;
        *dst[i] = memcpy(s, parts[i], n);
        s += n;
    }
    if (call->req.body) {
        memcpy(s, call->req.body, call->req.body_len);
        s[call->req.body_len] = '\0';
        call->req.body = s;
    }
    memcpy(call->url, raw->url, url_len + 1);
    memcpy(call->url + url_len + 1, buf_cstr(&call->req.target), call->req.path_len);
    call->url[url_len + 1 + call->req.path_len] = '\0';
    call->sign_path = call->url + url_len + 1;
    call->op = raw->op;
    call->sign_flags = raw->sign_flags;
    call->parse_error = raw->parse_error;
    return 0;
}

int iot_call_start_raw(struct iot_client *client, struct iot_raw_call *raw,
                       const struct iot_call_opts *opts, void *user, uint64_t *id_out,
                       char *msg, size_t msglen)
{
    struct iot_request init = IOT_REQUEST_INIT;
    struct iot_call *call = NULL;
    if (bad_timeout(opts, msg, msglen) || !client) {
        if (!client && msg && msglen)
            snprintf(msg, msglen, "iot_call_start_raw: no client");
        iot_request_free(&raw->req);
        return -1;
    }
    if (!(call = call_new(opts))) {
        iot_request_free(&raw->req);
        goto oom;
    }
    call->req = raw->req;
    raw->req = init;
    if (raw_copy(call, raw) != 0) {
        call_discard(call);
        goto oom;
    }
    call_launch(client, call, user, id_out);
    return 0;
oom:
    if (msg && msglen)
        snprintf(msg, msglen, "out of memory");
    return -1;
}
