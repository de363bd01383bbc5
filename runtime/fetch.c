/*
 * fetch.c — one HTTP request with attempts, on the engine's HTTP layer (fetch.h).
 */
#include "fetch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "engine.h"
#include "http.h"
#include "response.h"
#include "retry.h"

struct fetch {
    struct buf strings;             /* the request's strings, NUL-separated, one block */
    char *url, *method, *body, *host, *path, *query;
    char *names[FETCH_MAX_HEADERS], *values[FETCH_MAX_HEADERS];
    size_t nheaders, body_len;
    long timeout_ms, connect_timeout_ms, retry_delay_ms;
    int max_attempts, attempts, retry_any_status;
    char *ca_bundle;
    char *service, *region, *akid, *secret, *token;     /* signing, when service */
    fetch_done done;
    void *ctx;
    struct eng_timer backoff;
    struct http_xfer x;
};

/* ================================================================ the copy */

/* Offsets into f->strings until the block is complete (it may move while growing). */
struct copy_plan {
    size_t off[64];
    char **dst[64];
    size_t n;
};

static int plan_string(struct fetch *f, struct copy_plan *p, char **dst, const char *s,
                       size_t len)
{
    if (!s) {
        *dst = NULL;
        return 0;
    }
    p->off[p->n] = f->strings.len;
    p->dst[p->n++] = dst;
    return buf_append(&f->strings, s, len) != 0 || buf_append_char(&f->strings, '\0') != 0
               ? -1 : 0;
}

static int plan_cstr(struct fetch *f, struct copy_plan *p, char **dst, const char *s)
{
    return plan_string(f, p, dst, s, s ? strlen(s) : 0);
}

/* host[:port], path and query of an http(s) URL, planned into the block. */
static int plan_url_parts(struct fetch *f, struct copy_plan *p, const char *url)
{
    const char *rest = strncasecmp(url, "https://", 8) == 0  ? url + 8
                       : strncasecmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!rest || !*rest || *rest == '/')
        return -2;
    size_t host_len = strcspn(rest, "/?");
    const char *path = rest + host_len;
    size_t path_len = strcspn(path, "?");
    const char *query = path[path_len] == '?' ? path + path_len + 1 : "";
    return plan_string(f, p, &f->host, rest, host_len) != 0 ||
                   plan_string(f, p, &f->path, path_len ? path : "/", path_len ? path_len : 1) ||
                   plan_cstr(f, p, &f->query, query)
               ? -1 : 0;
}

static int copy_request(struct fetch *f, const struct fetch_request *r)
{
    struct copy_plan p = {.n = 0};
    int rc = plan_url_parts(f, &p, r->url);
    if (rc != 0)
        return rc;
    if (plan_cstr(f, &p, &f->url, r->url) || plan_cstr(f, &p, &f->method, r->method) ||
        plan_string(f, &p, &f->body, r->body, r->body_len) ||
        plan_cstr(f, &p, &f->ca_bundle, r->ca_bundle) ||
        plan_cstr(f, &p, &f->service, r->sign_service) ||
        plan_cstr(f, &p, &f->region, r->sign_region) ||
        plan_cstr(f, &p, &f->akid, r->sign_service ? r->sign_credentials.access_key_id : NULL) ||
        plan_cstr(f, &p, &f->secret,
                  r->sign_service ? r->sign_credentials.secret_access_key : NULL) ||
        plan_cstr(f, &p, &f->token, r->sign_service ? r->sign_credentials.session_token : NULL))
        return -1;
    for (size_t i = 0; i < r->nheaders && i < FETCH_MAX_HEADERS; i++)
        if (plan_cstr(f, &p, &f->names[i], r->header_names[i]) ||
            plan_cstr(f, &p, &f->values[i], r->header_values[i]))
            return -1;
    f->nheaders = r->nheaders < FETCH_MAX_HEADERS ? r->nheaders : FETCH_MAX_HEADERS;
    for (size_t i = 0; i < p.n; i++)
        *p.dst[i] = f->strings.data + p.off[i];
    return 0;
}

static void fetch_free(struct iot_engine *engine, struct fetch *f)
{
    eng_timer_disarm(engine, &f->backoff);
    http_abort(engine, &f->x);
    if (f->x.body_in.data)
        OPENSSL_cleanse(f->x.body_in.data, f->x.body_in.cap);   /* credentials answers */
    http_xfer_free(&f->x);
    OPENSSL_cleanse(f->strings.data, f->strings.cap);    /* secrets, tokens */
    buf_free(&f->strings);
    free(f);
}

/* ================================================================ attempts */

static int add_headers(struct fetch *f, const struct sigv4_result *sr)
{
    for (size_t i = 0; i < f->nheaders; i++)
        if (http_xfer_add_header(&f->x, f->names[i], f->values[i]) != 0)
            return -1;
    for (size_t i = 0; sr && i < sr->nadd; i++)
        if (http_xfer_add_header(&f->x, sr->add[i].name, sr->add[i].value) != 0)
            return -1;
    return 0;
}

/* The attempt's SigV4 headers (Host and the request's own headers signed). */
static int sign(struct iot_engine *engine, struct fetch *f, struct sigv4_result *sr)
{
    struct sigv4_header hs[FETCH_MAX_HEADERS + 1];
    size_t n = 0;
    hs[n].name = "Host";
    hs[n++].value = f->host;
    for (size_t i = 0; i < f->nheaders; i++, n++) {
        hs[n].name = f->names[i];
        hs[n].value = f->values[i];
    }
    struct sigv4_request rq = {f->method, f->path, f->query, hs, n, f->body, f->body_len, NULL};
    struct sigv4_params sp = {f->region, f->service, {f->akid, f->secret, f->token},
                              eng_wall_clock(engine), 0};
    return sigv4_sign(&rq, &sp, sr);
}

/* http_xfer.prepare: headers (and signature) as the attempt leaves the queue. */
static int attempt_prepare(struct iot_engine *engine, struct http_xfer *x)
{
    struct fetch *f = DL_CONTAINER(x, struct fetch, x);
    struct sigv4_result sr;
    memset(&sr, 0, sizeof sr);
    int rc = f->service ? sign(engine, f, &sr) : 0;
    if (rc == 0)
        rc = add_headers(f, f->service ? &sr : NULL);
    sigv4_result_free(&sr);
    if (rc == 0)
        return 0;
    struct fetch_response resp = {0, 0, &x->body_in, &x->head, f->attempts, ""};
    snprintf(resp.error, sizeof resp.error, "the request to %s could not be signed or "
             "its headers are not valid", f->host);
    f->done(f->ctx, &resp);
    fetch_free(engine, f);
    return -1;
}

static int attempt(struct iot_engine *engine, struct fetch *f);

static void backoff_fire(struct iot_engine *engine, struct eng_timer *t)
{
    struct fetch *f = DL_CONTAINER(t, struct fetch, backoff);
    if (attempt(engine, f) == 0)
        return;
    struct fetch_response resp = {0, 0, &f->x.body_in, &f->x.head, f->attempts,
                                  "the request could not be queued"};
    f->done(f->ctx, &resp);
    fetch_free(engine, f);
}

static int worth_retrying(const struct fetch *f, enum iot_failure failure)
{
    const struct http_xfer *x = &f->x;
    if (failure == IOT_FAIL_PERMANENT)
        return 0;
    if (failure != IOT_FAIL_NONE)
        return 1;
    if (x->status >= 200 && x->status < 300)
        return 0;
    return f->retry_any_status || x->status == 429 || x->status >= 500;
}

static void attempt_done(struct iot_engine *engine, struct http_xfer *x)
{
    struct fetch *f = DL_CONTAINER(x, struct fetch, x);
    struct fetch_response resp = {x->result == CURLE_OK, x->status, &x->body_in, &x->head,
                                  f->attempts, ""};
    enum iot_failure failure = IOT_FAIL_NONE;
    if (!resp.transport_ok) {
        struct iot_error err;
        memset(&err, 0, sizeof err);
        struct iot_transport_failure tf = {x->result, x->os_errno, x->connected, x->too_large,
                                           f->host, x->errbuf, x->timeout_ms,
                                           x->connect_timeout_ms, x->timed_out_waiting_for};
        failure = iot_classify_transport(&tf, &err);
        resp.status = 0;
        snprintf(resp.error, sizeof resp.error, "%s", err.message);
    }
    if (f->attempts < f->max_attempts && worth_retrying(f, failure)) {
        long delay = f->retry_delay_ms >= 0 ? f->retry_delay_ms
                                            : iot_retry_backoff_ms(f->attempts, eng_random(engine));
        if (eng_timer_arm(engine, &f->backoff, delay) == 0)
            return;
    }
    f->done(f->ctx, &resp);
    fetch_free(engine, f);
}

/* Queue the next attempt (headers are added as it leaves the queue). 0, or -1. */
static int attempt(struct iot_engine *engine, struct fetch *f)
{
    struct http_xfer *x = &f->x;
    http_xfer_reset(x);
    f->attempts++;
    x->url = f->url;
    x->method = f->method;
    x->body = f->body;
    x->body_len = f->body ? f->body_len : 0;
    x->has_body = f->body != NULL;
    x->timeout_ms = f->timeout_ms;
    x->connect_timeout_ms = f->connect_timeout_ms;
    x->ca_bundle = f->ca_bundle;
    x->verify_tls = 1;
    return http_submit(engine, x);
}

/* ================================================================ starting */

struct fetch *fetch_start(struct iot_engine *engine, const struct fetch_request *req,
                          fetch_done done, void *ctx, char *err, size_t errlen)
{
    struct fetch *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->strings = (struct buf)BUF_INIT;
    http_xfer_init(&f->x);
    eng_timer_init(&f->backoff, backoff_fire);
    int rc = copy_request(f, req);
    if (rc != 0) {
        snprintf(err, errlen, rc == -2 ? "not an http(s) URL: '%.200s'" : "out of memory",
                 req->url);
        fetch_free(engine, f);
        return NULL;
    }
    f->body_len = req->body_len;
    f->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 10000;
    f->connect_timeout_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                        : f->timeout_ms;
    f->max_attempts = req->max_attempts > 0 ? req->max_attempts : 1;
    f->retry_delay_ms = req->retry_delay_ms;
    f->retry_any_status = req->retry_any_status;
    f->done = done;
    f->ctx = ctx;
    f->x.done = attempt_done;
    f->x.prepare = attempt_prepare;
    if (attempt(engine, f) == 0)
        return f;
    snprintf(err, errlen, "the request to %s could not be queued", f->host);
    fetch_free(engine, f);
    return NULL;
}

void fetch_cancel(struct iot_engine *engine, struct fetch *f)
{
    if (f)
        fetch_free(engine, f);
}

/* ================================================================ answers */

int fetch_header(const struct buf *head, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = head->data, *end = head->data ? head->data + head->len : NULL;
    out[0] = '\0';
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(line_end - v);
            while (vlen && isspace((unsigned char)v[vlen - 1]))
                vlen--;
            snprintf(out, outlen, "%.*s", (int)vlen, v);
            return 1;
        }
        p = eol ? eol + 1 : end;
    }
    return 0;
}
