/*
 * container.c — credentials from a container endpoint (provider.h): ECS task roles
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) and full URIs such as EKS Pod Identity's
 * agent, with the Authorization token read from its file on every fetch. As botocore:
 * Accept: application/json, 2 s per request, 3 attempts 1 s apart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "fetch.h"
#include "provider.h"

#define CONTAINER_TIMEOUT_MS 2000
#define CONTAINER_ATTEMPTS 3
#define CONTAINER_RETRY_DELAY_MS 1000

struct container_provider {
    struct cred_provider base;
    struct cred_fetched fetched;
    char *url, *token, *token_file;
    struct fetch *inflight;
};

static void container_done(void *ctx, const struct fetch_response *r)
{
    struct container_provider *p = ctx;
    char err[CRED_ERROR_LEN];
    struct cred_credentials got;
    p->inflight = NULL;
    if (!r->transport_ok)
        cred_set_error(err, "the container credentials endpoint %.300s: %s", p->url, r->error);
    else if (r->status != 200)
        cred_set_error(err, "the container credentials endpoint %.300s answered HTTP %ld",
                       p->url, r->status);
    else if (cred_parse_json(r->body->data, r->body->len, NULL, &CRED_JSON_METADATA,
                             "the container credentials endpoint", &got, err) == 0) {
        cred_fetched_finish(&p->fetched, &got, NULL);
        return;
    }
    cred_fetched_finish(&p->fetched, NULL, err);
}

static int container_refresh_start(struct cred_provider *base, struct iot_engine *engine,
                                   cred_refresh_done done, void *ctx,
                                   char err_out[CRED_ERROR_LEN])
{
    struct container_provider *p = (struct container_provider *)base;
    struct buf token = BUF_INIT;
    char err[256];
    int rc = -1;
    if (p->token_file && cred_read_token_file(p->token_file, "the container authorization token file", &token, err_out) != 0)
        goto out;
    const char *value = p->token_file ? buf_cstr(&token) : p->token;
    if (value && strpbrk(value, "\r\n")) {
        cred_set_error(err_out, "the container authorization token holds a line break");
        goto out;
    }
    struct fetch_request rq = {.method = "GET", .url = p->url,
                               .header_names = {"Accept"}, .header_values = {"application/json"},
                               .nheaders = 1, .timeout_ms = CONTAINER_TIMEOUT_MS,
                               .max_attempts = CONTAINER_ATTEMPTS,
                               .retry_delay_ms = CONTAINER_RETRY_DELAY_MS, .retry_any_status = 1};
    if (value && *value) {
        rq.header_names[1] = "Authorization";
        rq.header_values[1] = value;
        rq.nheaders = 2;
    }
    cred_fetched_begin(&p->fetched, engine, done, ctx);
    p->inflight = fetch_start(engine, &rq, container_done, p, err, sizeof err);
    if (!p->inflight)
        cred_set_error(err_out, "the container credentials endpoint: %s", err);
    rc = p->inflight ? 0 : -1;
out:
    if (token.data)
        OPENSSL_cleanse(token.data, token.cap);
    buf_free(&token);
    return rc;
}

static int container_get(struct cred_provider *base, time_t now, struct cred_credentials *out,
                         char err_out[CRED_ERROR_LEN])
{
    (void)now;
    struct container_provider *p = (struct container_provider *)base;
    return cred_fetched_get(&p->fetched, base, out, err_out);
}

static void container_free(struct cred_provider *base)
{
    struct container_provider *p = (struct container_provider *)base;
    fetch_cancel(p->fetched.engine, p->inflight);
    cred_fetched_free(&p->fetched);
    if (p->token)
        OPENSSL_cleanse(p->token, strlen(p->token));
    free(p->token);
    free(p->token_file);
    free(p->url);
    free(p);
}

static const struct cred_provider_ops CONTAINER_OPS = {
    .get = container_get, .refresh_start = container_refresh_start, .free = container_free,
};

struct cred_provider *cred_container_new(const struct cred_container_settings *s,
                                         char err_out[CRED_ERROR_LEN])
{
    struct container_provider *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(s->url)) || (s->token && !(p->token = strdup(s->token))) ||
        (s->token_file && !(p->token_file = strdup(s->token_file)))) {
        if (p) {
            free(p->url);
            free(p->token);
        }
        free(p);
        cred_set_error(err_out, "out of memory");
        return NULL;
    }
    p->base.ops = &CONTAINER_OPS;
    snprintf(p->base.source, sizeof p->base.source, "container");
    return &p->base;
}
