/*
 * fetched.c — what the providers that fetch over the network share: the last answer,
 * the refresh under way, and the JSON credentials documents they read (provider.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "json.h"
#include "provider.h"

/* ================================================================ the last answer */

int cred_fetched_get(const struct cred_fetched *f, const struct cred_provider *p,
                     struct cred_credentials *out, char err_out[CRED_ERROR_LEN])
{
    if (!f->have_last) {
        cred_set_error(err_out, "no credentials fetched yet from %s", p->source);
        return -1;
    }
    if (cred_credentials_copy(&f->last, out) != 0) {
        cred_set_error(err_out, "out of memory");
        return -1;
    }
    snprintf(out->source, sizeof out->source, "%s", p->source);
    return 0;
}

void cred_fetched_begin(struct cred_fetched *f, struct iot_engine *engine,
                        cred_refresh_done done, void *ctx)
{
    f->engine = engine;
    f->done = done;
    f->done_ctx = ctx;
}

void cred_fetched_finish(struct cred_fetched *f, struct cred_credentials *got,
                         const char *message)
{
    cred_refresh_done done = f->done;
    f->done = NULL;
    if (got) {
        cred_credentials_free(&f->last);
        f->last = *got;
        memset(got, 0, sizeof *got);
        f->have_last = 1;
    }
    if (done)
        done(f->done_ctx, f->engine, got != NULL, got ? NULL : message);
}

void cred_fetched_free(struct cred_fetched *f)
{
    cred_credentials_free(&f->last);
    f->have_last = 0;
}

/* ================================================================ token files */

#define TOKEN_FILE_MAX 16384

int cred_read_token_file(const char *path, const char *what, struct buf *out,
                         char err_out[CRED_ERROR_LEN])
{
    FILE *fp = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    if (!fp) {
        cred_set_error(err_out, "%s %.300s could not be read", what, path);
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 && out->len + n <= TOKEN_FILE_MAX)
        if (buf_append(out, chunk, n) != 0)
            break;
    int failed = ferror(fp) || n > 0;
    fclose(fp);
    OPENSSL_cleanse(chunk, sizeof chunk);
    while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
        out->data[--out->len] = '\0';
    if (failed || out->len == 0) {
        cred_set_error(err_out, "%s %.300s is %s", what, path,
                       failed ? "unreadable or larger than 16 KiB" : "empty");
        return -1;
    }
    return 0;
}

/* ================================================================ JSON documents */

const struct cred_json_names CRED_JSON_METADATA = {"AccessKeyId", "SecretAccessKey", "Token",
                                                   "Expiration", 0};

static int read_expiration(const struct json_value *obj, const struct cred_json_names *n,
                           time_t *exp)
{
    const struct json_value *v = json_get(obj, n->expiration);
    *exp = 0;
    if (!v)
        return 0;
    if (n->expiration_ms) {
        if (v->type != JSON_INT || v->u.i <= 0)
            return -1;
        *exp = (time_t)(v->u.i / 1000);
        return 0;
    }
    return v->type == JSON_STRING ? cred_parse_rfc3339(v->u.str.ptr, exp) : -1;
}

static int fields_into(const struct json_value *obj, const struct cred_json_names *n,
                       const char *what, struct cred_credentials *out,
                       char err_out[CRED_ERROR_LEN])
{
    const char *akid = json_get_string(obj, n->akid);
    const char *secret = json_get_string(obj, n->secret);
    const char *token = json_get_string(obj, n->token);
    time_t exp = 0;
    if (!akid || !*akid)
        cred_set_error(err_out, "%s answered without a %s string", what, n->akid);
    else if (!secret || !*secret)
        cred_set_error(err_out, "%s answered without a %s string", what, n->secret);
    else if (read_expiration(obj, n, &exp) != 0)
        cred_set_error(err_out, "%s answered with a %s that is not %s", what, n->expiration,
                       n->expiration_ms ? "a time in milliseconds" : "an RFC 3339 time");
    else if (cred_credentials_set(out, akid, secret, token, exp, what) != 0)
        cred_set_error(err_out, "out of memory");
    else
        return 0;
    return -1;
}

int cred_parse_json(const char *text, size_t len, const char *container_key,
                    const struct cred_json_names *names, const char *what,
                    struct cred_credentials *out, char err_out[CRED_ERROR_LEN])
{
    struct json_value *root = NULL;
    struct json_error je;
    memset(out, 0, sizeof *out);
    if (json_parse(text ? text : "", len, NULL, &root, &je) != 0) {
        cred_set_error(err_out, "%s answered with invalid JSON (%s at byte %zu)", what,
                       je.message, je.offset);
        return -1;
    }
    const struct json_value *obj = container_key ? json_get(root, container_key) : root;
    int rc = -1;
    if (!obj || obj->type != JSON_OBJECT)
        cred_set_error(err_out, "%s answered with JSON that is not a credentials object%s%s",
                       what, container_key ? " under " : "", container_key ? container_key : "");
    else
        rc = fields_into(obj, names, what, out, err_out);
    json_free(root);
    return rc;
}
