/*
 * sts.c — AssumeRole and AssumeRoleWithWebIdentity through the engine (sts.h).
 */
#include "sts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cache.h"
#include "encode.h"
#include "engine.h"
#include "fetch.h"

#define STS_VERSION "2011-06-15"
#define STS_TIMEOUT_MS 10000
#define STS_ATTEMPTS 3

/* ================================================================ the provider */

struct sts_provider {
    struct cred_provider base;
    struct cred_fetched fetched;
    const char *action;                 /* "AssumeRole" / "AssumeRoleWithWebIdentity" */
    char *endpoint, *region, *role_arn, *session_name, *external_id, *ca_bundle, *token_file;
    char *mfa_serial, *mfa_code;        /* an MFA code is good once: the first fetch uses it */
    int duration_s;
    struct cred_cache *source;          /* AssumeRole: owned */
    struct iot_credentials_wait source_wait;
    struct fetch *inflight;
};

static void sts_fail(struct sts_provider *p, const char *detail)
{
    char msg[CRED_ERROR_LEN];
    cred_set_error(msg, "%s (%s %.200s): %s", p->base.source, p->action, p->role_arn, detail);
    cred_fetched_finish(&p->fetched, NULL, msg);
}

static void sts_done(void *ctx, const struct fetch_response *r)
{
    struct sts_provider *p = ctx;
    char err[CRED_ERROR_LEN];
    struct cred_credentials got;
    p->inflight = NULL;
    if (!r->transport_ok) {
        sts_fail(p, r->error);
        return;
    }
    if (cred_sts_parse(r->body->data, r->body->len, p->action, &got, err) != 0) {
        if (r->status == 200)
            sts_fail(p, err);
        else {
            char with_status[CRED_ERROR_LEN];
            cred_set_error(with_status, "%s (HTTP %ld)", err, r->status);
            sts_fail(p, with_status);
        }
        return;
    }
    cred_fetched_finish(&p->fetched, &got, NULL);
}

static int form_param(struct buf *b, const char *name, const char *value)
{
    if (!value)
        return 0;
    return buf_printf(b, "&%s=", name) != 0 || enc_uri_str(b, value, 0) != 0 ? -1 : 0;
}

/* The form body of the call (token: the web identity token, else NULL). */
static int form_body(const struct sts_provider *p, const char *token, time_t now,
                     struct buf *b)
{
    char session[96], duration[16];
    if (p->session_name)
        snprintf(session, sizeof session, "%s", p->session_name);
    else
        snprintf(session, sizeof session, "iotlua-session-%lld", (long long)now);
    snprintf(duration, sizeof duration, "%d", p->duration_s);
    return buf_printf(b, "Action=%s&Version=%s", p->action, STS_VERSION) != 0 ||
                   form_param(b, "RoleArn", p->role_arn) || form_param(b, "RoleSessionName", session) ||
                   form_param(b, "ExternalId", p->external_id) ||
                   form_param(b, "DurationSeconds", p->duration_s > 0 ? duration : NULL) ||
                   form_param(b, "SerialNumber", p->mfa_serial) ||
                   form_param(b, "TokenCode", p->mfa_serial ? p->mfa_code : NULL) ||
                   form_param(b, "WebIdentityToken", token)
               ? -1 : 0;
}

/* Sends the call: signed with src (AssumeRole) or unsigned with the token file's token. */
static void sts_send(struct sts_provider *p, const struct cred_credentials *src)
{
    struct buf body = BUF_INIT, token = BUF_INIT;
    char err[CRED_ERROR_LEN];
    struct iot_engine *engine = p->fetched.engine;
    if (p->token_file && cred_read_token_file(p->token_file, "the web identity token file",
                                              &token, err) != 0) {
        sts_fail(p, err);
        goto out;
    }
    if (form_body(p, p->token_file ? buf_cstr(&token) : NULL, eng_wall_clock(engine), &body)) {
        sts_fail(p, "out of memory");
        goto out;
    }
    struct fetch_request rq = {
        .method = "POST", .url = p->endpoint, .body = buf_cstr(&body), .body_len = body.len,
        .header_names = {"Content-Type"},
        .header_values = {"application/x-www-form-urlencoded; charset=utf-8"}, .nheaders = 1,
        .timeout_ms = STS_TIMEOUT_MS, .max_attempts = STS_ATTEMPTS, .retry_delay_ms = -1,
        .ca_bundle = p->ca_bundle};
    if (src) {
        rq.sign_service = "sts";
        rq.sign_region = p->region;
        rq.sign_credentials = (struct sigv4_credentials){src->access_key_id,
                                                         src->secret_access_key,
                                                         src->session_token};
    }
    p->inflight = fetch_start(engine, &rq, sts_done, p, err, sizeof err);
    if (!p->inflight)
        sts_fail(p, err);
out:
    if (body.data)
        OPENSSL_cleanse(body.data, body.cap);
    if (token.data)
        OPENSSL_cleanse(token.data, token.cap);
    buf_free(&body);
    buf_free(&token);
}

/* AssumeRole: the source's credentials first (they may be fetched themselves). */
static void with_source(struct sts_provider *p)
{
    struct cred_credentials src;
    char err[CRED_ERROR_LEN];
    struct iot_engine *engine = p->fetched.engine;
    int rc = cred_cache_acquire(p->source, engine, eng_wall_clock(engine), &src, err,
                                &p->source_wait);
    if (rc == 1)
        return;                         /* source_woken goes on */
    if (rc != 0) {
        char msg[CRED_ERROR_LEN];
        cred_set_error(msg, "its source credentials: %s", err);
        sts_fail(p, msg);
        return;
    }
    sts_send(p, &src);
    cred_credentials_free(&src);
}

static void source_woken(struct iot_engine *engine, struct iot_credentials_wait *w, int ok,
                         const char *message)
{
    (void)engine;
    struct sts_provider *p = DL_CONTAINER(w, struct sts_provider, source_wait);
    if (ok) {
        with_source(p);
        return;
    }
    char msg[CRED_ERROR_LEN];
    cred_set_error(msg, "its source credentials: %s", message ? message : "not found");
    sts_fail(p, msg);
}

static int sts_refresh_start(struct cred_provider *base, struct iot_engine *engine,
                             cred_refresh_done done, void *ctx, char err_out[CRED_ERROR_LEN])
{
    (void)err_out;
    struct sts_provider *p = (struct sts_provider *)base;
    cred_fetched_begin(&p->fetched, engine, done, ctx);
    if (p->source)
        with_source(p);
    else
        sts_send(p, NULL);
    return 0;
}

static int sts_get(struct cred_provider *base, time_t now, struct cred_credentials *out,
                   char err_out[CRED_ERROR_LEN])
{
    (void)now;
    struct sts_provider *p = (struct sts_provider *)base;
    return cred_fetched_get(&p->fetched, base, out, err_out);
}

static void sts_free(struct cred_provider *base)
{
    struct sts_provider *p = (struct sts_provider *)base;
    fetch_cancel(p->fetched.engine, p->inflight);
    cred_cache_forget(p->source_wait.holder, &p->source_wait);
    cred_cache_free(p->source);
    cred_fetched_free(&p->fetched);
    char *strings[] = {p->endpoint, p->region, p->role_arn, p->session_name, p->external_id,
                       p->ca_bundle, p->token_file, p->mfa_serial, p->mfa_code};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
    free(p);
}

static const struct cred_provider_ops STS_OPS = {
    .get = sts_get, .refresh_start = sts_refresh_start, .free = sts_free,
};

static int copy_opt(char **dst, const char *s)
{
    *dst = s ? strdup(s) : NULL;
    return s && !*dst ? -1 : 0;
}

static struct cred_provider *sts_new(const struct cred_sts_settings *s, const char *action,
                                     char err_out[CRED_ERROR_LEN])
{
    struct sts_provider *p = calloc(1, sizeof *p);
    if (p) {
        p->base.ops = &STS_OPS;
        p->source = s->source;
        p->source_wait.wake = source_woken;
    }
    if (!p || copy_opt(&p->endpoint, s->endpoint) || copy_opt(&p->region, s->region) ||
        copy_opt(&p->role_arn, s->role_arn) || copy_opt(&p->session_name, s->session_name) ||
        copy_opt(&p->external_id, s->external_id) || copy_opt(&p->ca_bundle, s->ca_bundle) ||
        copy_opt(&p->token_file, s->token_file) || copy_opt(&p->mfa_serial, s->mfa_serial) ||
        copy_opt(&p->mfa_code, s->mfa_code)) {
        if (p)
            sts_free(&p->base);
        else
            cred_cache_free(s->source);
        cred_set_error(err_out, "out of memory");
        return NULL;
    }
    p->action = action;
    p->duration_s = s->duration_s;
    snprintf(p->base.source, sizeof p->base.source, "%s", s->source_name);
    return &p->base;
}

struct cred_provider *cred_sts_assume_role_new(const struct cred_sts_settings *s,
                                               char err_out[CRED_ERROR_LEN])
{
    return sts_new(s, "AssumeRole", err_out);
}

struct cred_provider *cred_sts_web_identity_new(const struct cred_sts_settings *s,
                                                char err_out[CRED_ERROR_LEN])
{
    struct cred_sts_settings w = *s;
    w.source = NULL;
    return sts_new(&w, "AssumeRoleWithWebIdentity", err_out);
}
