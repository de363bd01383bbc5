/*
 * sso.c — credentials from IAM Identity Center (provider.h): the cached access token of
 * `aws sso login` (accessToken, expiresAt), then GET /federation/credentials on the
 * portal with it in x-amz-sso_bearer_token; the answer's roleCredentials carry the
 * expiration in milliseconds. The token is not refreshed here (the CLI's sso-oidc
 * CreateToken): an expired or refused one asks the user to log in again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "encode.h"
#include "engine.h"
#include "fetch.h"
#include "json.h"
#include "provider.h"

#define SSO_TIMEOUT_MS 10000
#define SSO_ATTEMPTS 3

static const struct cred_json_names SSO_NAMES = {"accessKeyId", "secretAccessKey",
                                                 "sessionToken", "expiration", 1};

struct sso_provider {
    struct cred_provider base;
    struct cred_fetched fetched;
    char *portal_url, *token_file, *login_hint, *account_id, *role_name, *ca_bundle;
    struct fetch *inflight;
};

static void sso_fail(struct sso_provider *p, const char *detail)
{
    char msg[CRED_ERROR_LEN];
    cred_set_error(msg, "%s (account %s, role %.100s): %s", p->base.source, p->account_id,
                   p->role_name, detail);
    cred_fetched_finish(&p->fetched, NULL, msg);
}

/* ================================================================ the token */

/* The cached access token into out, if present and not expired at now. */
static int read_access_token(const struct sso_provider *p, time_t now, struct buf *out,
                             char err_out[CRED_ERROR_LEN])
{
    struct buf text = BUF_INIT;
    struct json_value *root = NULL;
    struct json_error je;
    time_t expires = 0;
    int rc = -1;
    if (cred_read_token_file(p->token_file, "the SSO token cache file", &text, err_out) != 0)
        cred_set_error(err_out, "no SSO token in the cache (%.300s): run `%s`", p->token_file,
                       p->login_hint);
    else if (json_parse(buf_cstr(&text), text.len, NULL, &root, &je) != 0)
        cred_set_error(err_out, "the SSO token cache file %.300s is not valid JSON: run `%s`",
                       p->token_file, p->login_hint);
    else {
        const char *token = json_get_string(root, "accessToken");
        const char *exp = json_get_string(root, "expiresAt");
        if (!token || !*token || !exp || cred_parse_rfc3339(exp, &expires) != 0)
            cred_set_error(err_out, "the SSO token cache file %.300s has no accessToken and "
                           "expiresAt: run `%s`", p->token_file, p->login_hint);
        else if (expires <= now)
            cred_set_error(err_out, "the SSO session has expired: run `%s`", p->login_hint);
        else
            rc = buf_append_str(out, token) == 0 ? 0 : (cred_set_error(err_out, "out of memory"), -1);
    }
    json_free(root);
    if (text.data)
        OPENSSL_cleanse(text.data, text.cap);
    buf_free(&text);
    return rc;
}

/* ================================================================ the portal */

static void sso_done(void *ctx, const struct fetch_response *r)
{
    struct sso_provider *p = ctx;
    char err[CRED_ERROR_LEN];
    struct cred_credentials got;
    p->inflight = NULL;
    if (!r->transport_ok) {
        sso_fail(p, r->error);
    } else if (r->status == 401 || r->status == 403) {
        cred_set_error(err, "the portal refused the SSO session (HTTP %ld): run `%s`",
                       r->status, p->login_hint);
        sso_fail(p, err);
    } else if (r->status != 200) {
        cred_set_error(err, "GetRoleCredentials answered HTTP %ld", r->status);
        sso_fail(p, err);
    } else if (cred_parse_json(r->body->data, r->body->len, "roleCredentials", &SSO_NAMES,
                               "the SSO portal", &got, err) != 0) {
        sso_fail(p, err);
    } else {
        cred_fetched_finish(&p->fetched, &got, NULL);
    }
}

static int portal_url(const struct sso_provider *p, struct buf *url)
{
    return buf_printf(url, "%s/federation/credentials?account_id=", p->portal_url) != 0 ||
                   enc_uri_str(url, p->account_id, 0) != 0 ||
                   buf_append_str(url, "&role_name=") != 0 || enc_uri_str(url, p->role_name, 0)
               ? -1 : 0;
}

static int sso_refresh_start(struct cred_provider *base, struct iot_engine *engine,
                             cred_refresh_done done, void *ctx, char err_out[CRED_ERROR_LEN])
{
    (void)err_out;
    struct sso_provider *p = (struct sso_provider *)base;
    struct buf token = BUF_INIT, url = BUF_INIT;
    char err[CRED_ERROR_LEN];
    cred_fetched_begin(&p->fetched, engine, done, ctx);
    if (read_access_token(p, eng_wall_clock(engine), &token, err) != 0) {
        sso_fail(p, err);
    } else if (portal_url(p, &url) != 0) {
        sso_fail(p, "out of memory");
    } else {
        struct fetch_request rq = {
            .method = "GET", .url = buf_cstr(&url), .header_names = {"x-amz-sso_bearer_token"},
            .header_values = {buf_cstr(&token)}, .nheaders = 1, .timeout_ms = SSO_TIMEOUT_MS,
            .max_attempts = SSO_ATTEMPTS, .retry_delay_ms = -1, .ca_bundle = p->ca_bundle};
        if (!(p->inflight = fetch_start(engine, &rq, sso_done, p, err, sizeof err)))
            sso_fail(p, err);
    }
    if (token.data)
        OPENSSL_cleanse(token.data, token.cap);
    buf_free(&token);
    buf_free(&url);
    return 0;
}

/* ================================================================ the provider */

static int sso_get(struct cred_provider *base, time_t now, struct cred_credentials *out,
                   char err_out[CRED_ERROR_LEN])
{
    (void)now;
    struct sso_provider *p = (struct sso_provider *)base;
    return cred_fetched_get(&p->fetched, base, out, err_out);
}

static void sso_free(struct cred_provider *base)
{
    struct sso_provider *p = (struct sso_provider *)base;
    fetch_cancel(p->fetched.engine, p->inflight);
    cred_fetched_free(&p->fetched);
    char *strings[] = {p->portal_url, p->token_file, p->login_hint, p->account_id,
                       p->role_name, p->ca_bundle};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(strings[i]);
    free(p);
}

static const struct cred_provider_ops SSO_OPS = {
    .get = sso_get, .refresh_start = sso_refresh_start, .free = sso_free,
};

/* The token cache's file: <dir>/<hex SHA-1 of the key>.json, as the AWS CLI names it. */
static char *token_file_name(const char *dir, const char *key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (EVP_Digest(key, strlen(key), md, &n, EVP_sha1(), NULL) != 1)
        return NULL;
    enc_hex_to(hex, md, n);
    hex[2 * n] = '\0';
    struct buf b = BUF_INIT;
    if (buf_printf(&b, "%s/%s.json", dir, hex) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int copy_str(char **dst, const char *s)
{
    *dst = s ? strdup(s) : NULL;
    return s && !*dst ? -1 : 0;
}

struct cred_provider *cred_sso_new(const struct cred_sso_settings *s,
                                   char err_out[CRED_ERROR_LEN])
{
    struct sso_provider *p = calloc(1, sizeof *p);
    if (p)
        p->base.ops = &SSO_OPS;
    if (!p || copy_str(&p->portal_url, s->portal_url) ||
        !(p->token_file = token_file_name(s->cache_dir, s->cache_key)) ||
        copy_str(&p->login_hint, s->login_hint) || copy_str(&p->account_id, s->account_id) ||
        copy_str(&p->role_name, s->role_name) || copy_str(&p->ca_bundle, s->ca_bundle)) {
        if (p)
            sso_free(&p->base);
        cred_set_error(err_out, "out of memory");
        return NULL;
    }
    snprintf(p->base.source, sizeof p->base.source, "%s", s->source_name);
    return &p->base;
}
