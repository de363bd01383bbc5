/*
 * imds.c — credentials from the EC2 instance metadata service (provider.h), in
 * botocore's steps: PUT latest/api/token (IMDSv2; the token is kept for its TTL), GET
 * latest/meta-data/iam/security-credentials/ for the role name, GET .../<role> for the
 * credentials document. A token call refused with 403, 404 or 405, or timing out, means
 * IMDSv1 (no token header), unless v1 is disabled; 400 is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "engine.h"
#include "fetch.h"
#include "provider.h"

#define TOKEN_TTL "21600"
#define TOKEN_KEPT_S 21595      /* a little less than its TTL */
#define ROLE_PATH "latest/meta-data/iam/security-credentials/"

enum imds_step { STEP_TOKEN, STEP_ROLE, STEP_CREDENTIALS };

struct imds_provider {
    struct cred_provider base;
    struct cred_fetched fetched;
    char *base_url;
    char *looked_in;            /* NULL, or the chain's places looked at before */
    long timeout_ms;
    int attempts, v1_disabled;
    char *token;                /* IMDSv2 session token, or NULL (v1) */
    time_t token_until;
    enum imds_step step;
    char role[256];
    struct fetch *inflight;
};

/* ================================================================ the steps */

static void imds_fail(struct imds_provider *p, const char *fmt, const char *detail)
{
    char msg[CRED_ERROR_LEN];
    char what[CRED_ERROR_LEN / 2];
    snprintf(what, sizeof what, fmt, detail);
    if (p->looked_in)
        cred_set_error(msg, "Unable to locate credentials. Looked in: %s; the EC2 instance "
                       "metadata service (%.200s): %s", p->looked_in, p->base_url, what);
    else
        cred_set_error(msg, "the EC2 instance metadata service (%.200s): %s", p->base_url,
                       what);
    cred_fetched_finish(&p->fetched, NULL, msg);
}

static void imds_done(void *ctx, const struct fetch_response *r);

static int imds_request(struct imds_provider *p, const char *method, const char *path)
{
    char url[1024], err[256];
    snprintf(url, sizeof url, "%s%s", p->base_url, path);
    struct fetch_request rq = {.method = method, .url = url, .timeout_ms = p->timeout_ms,
                               .max_attempts = p->attempts, .retry_delay_ms = 0};
    if (p->step == STEP_TOKEN) {
        rq.header_names[0] = "x-aws-ec2-metadata-token-ttl-seconds";
        rq.header_values[0] = TOKEN_TTL;
        rq.nheaders = 1;
        rq.body = "";
    } else {
        rq.retry_any_status = 1;
        if (p->token) {
            rq.header_names[0] = "x-aws-ec2-metadata-token";
            rq.header_values[0] = p->token;
            rq.nheaders = 1;
        }
    }
    p->inflight = fetch_start(p->fetched.engine, &rq, imds_done, p, err, sizeof err);
    if (p->inflight)
        return 0;
    imds_fail(p, "%s", err);
    return -1;
}

static void ask_role(struct imds_provider *p)
{
    p->step = STEP_ROLE;
    imds_request(p, "GET", ROLE_PATH);
}

static void token_answered(struct imds_provider *p, const struct fetch_response *r)
{
    if (r->transport_ok && r->status == 200 && r->body->len > 0 && r->body->len < 4096) {
        free(p->token);
        p->token = strndup(r->body->data, r->body->len);
        p->token_until = eng_wall_clock(p->fetched.engine) + TOKEN_KEPT_S;
    } else if (r->transport_ok && r->status == 400) {
        imds_fail(p, "%s", "the token request was refused as a bad request (HTTP 400)");
        return;
    } else if (r->transport_ok && r->status != 403 && r->status != 404 && r->status != 405 &&
               r->status != 200) {
        char why[64];
        snprintf(why, sizeof why, "the token request failed with HTTP %ld", r->status);
        imds_fail(p, "%s", why);
        return;
    }
    if (!p->token && p->v1_disabled) {
        imds_fail(p, "%s", "Unable to retrieve token for use in IMDSv2 call and IMDSv1 has "
                  "been disabled");
        return;
    }
    ask_role(p);
}

static int answer_ok(struct imds_provider *p, const struct fetch_response *r, const char *what)
{
    if (!r->transport_ok) {
        imds_fail(p, "%.500s", r->error);   /* what holds 512 bytes */
        return 0;
    }
    if (r->status != 200 || r->body->len == 0) {
        char why[160];
        snprintf(why, sizeof why, "%s: HTTP %ld%s", what, r->status,
                 r->body->len ? "" : " with an empty body");
        imds_fail(p, "%s", why);
        return 0;
    }
    return 1;
}

static void role_answered(struct imds_provider *p, const struct fetch_response *r)
{
    if (!answer_ok(p, r, "no instance profile role"))
        return;
    size_t n = strcspn(r->body->data, "\r\n");
    if (n == 0 || n >= sizeof p->role || memchr(r->body->data, '/', n)) {
        imds_fail(p, "%s", "the role name it gave is not usable");
        return;
    }
    snprintf(p->role, sizeof p->role, "%.*s", (int)n, r->body->data);
    p->step = STEP_CREDENTIALS;
    char path[512];
    snprintf(path, sizeof path, ROLE_PATH "%s", p->role);
    imds_request(p, "GET", path);
}

static void credentials_answered(struct imds_provider *p, const struct fetch_response *r)
{
    if (!answer_ok(p, r, "the role's credentials"))
        return;
    struct cred_credentials got;
    char err[CRED_ERROR_LEN];
    if (cred_parse_json(r->body->data, r->body->len, NULL, &CRED_JSON_METADATA,
                        "the instance metadata service", &got, err) != 0) {
        cred_fetched_finish(&p->fetched, NULL, err);
        return;
    }
    cred_fetched_finish(&p->fetched, &got, NULL);
}

static void imds_done(void *ctx, const struct fetch_response *r)
{
    struct imds_provider *p = ctx;
    p->inflight = NULL;
    switch (p->step) {
    case STEP_TOKEN:
        token_answered(p, r);
        break;
    case STEP_ROLE:
        role_answered(p, r);
        break;
    case STEP_CREDENTIALS:
        credentials_answered(p, r);
        break;
    }
}

/* ================================================================ the provider */

static int imds_get(struct cred_provider *base, time_t now, struct cred_credentials *out,
                    char err_out[CRED_ERROR_LEN])
{
    (void)now;
    struct imds_provider *p = (struct imds_provider *)base;
    return cred_fetched_get(&p->fetched, base, out, err_out);
}

static int imds_refresh_start(struct cred_provider *base, struct iot_engine *engine,
                              cred_refresh_done done, void *ctx, char err_out[CRED_ERROR_LEN])
{
    (void)err_out;
    struct imds_provider *p = (struct imds_provider *)base;
    cred_fetched_begin(&p->fetched, engine, done, ctx);
    if (p->token && eng_wall_clock(engine) < p->token_until) {
        ask_role(p);
        return 0;
    }
    free(p->token);
    p->token = NULL;
    p->step = STEP_TOKEN;
    imds_request(p, "PUT", "latest/api/token");
    return 0;
}

static void imds_free(struct cred_provider *base)
{
    struct imds_provider *p = (struct imds_provider *)base;
    fetch_cancel(p->fetched.engine, p->inflight);
    cred_fetched_free(&p->fetched);
    if (p->token)
        OPENSSL_cleanse(p->token, strlen(p->token));
    free(p->token);
    free(p->base_url);
    free(p->looked_in);
    free(p);
}

static const struct cred_provider_ops IMDS_OPS = {
    .get = imds_get, .refresh_start = imds_refresh_start, .free = imds_free,
};

struct cred_provider *cred_imds_new(const struct cred_imds_settings *s,
                                    char err_out[CRED_ERROR_LEN])
{
    struct imds_provider *p = calloc(1, sizeof *p);
    size_t n = strlen(s->base_url);
    if (!p || !(p->base_url = malloc(n + 2)) ||
        (s->looked_in && !(p->looked_in = strdup(s->looked_in)))) {
        if (p)
            free(p->base_url);
        free(p);
        cred_set_error(err_out, "out of memory");
        return NULL;
    }
    snprintf(p->base_url, n + 2, "%s%s", s->base_url, n && s->base_url[n - 1] == '/' ? "" : "/");
    p->timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : 1000;
    p->attempts = s->attempts > 0 ? s->attempts : 1;
    p->v1_disabled = s->v1_disabled;
    p->base.ops = &IMDS_OPS;
    snprintf(p->base.source, sizeof p->base.source, "imds");
    return &p->base;
}
