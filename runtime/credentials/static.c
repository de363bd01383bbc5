/*
 * static.c — the provider of fixed credentials: the client's own, the environment's, a
 * file section's (provider.h). get hands out a copy; they never change.
 */
#include <stdio.h>
#include <stdlib.h>

#include "provider.h"

struct static_provider {
    struct cred_provider base;
    struct cred_credentials creds;
};

static int static_get(struct cred_provider *p, time_t now, struct cred_credentials *out,
                      char err_out[CRED_ERROR_LEN])
{
    (void)now;
    struct static_provider *s = (struct static_provider *)p;
    if (cred_credentials_copy(&s->creds, out) != 0) {
        cred_set_error(err_out, "out of memory");
        return -1;
    }
    return 0;
}

static void static_free(struct cred_provider *p)
{
    struct static_provider *s = (struct static_provider *)p;
    cred_credentials_free(&s->creds);
    free(s);
}

static const struct cred_provider_ops STATIC_OPS = {
    .get = static_get, .refresh_start = NULL, .free = static_free,
};

struct cred_provider *cred_static_new(const char *akid, const char *secret, const char *token,
                                      const char *source, char err_out[CRED_ERROR_LEN])
{
    struct static_provider *s = calloc(1, sizeof *s);
    if (!s || cred_credentials_set(&s->creds, akid, secret, token, 0, source) != 0) {
        free(s);
        cred_set_error(err_out, "out of memory");
        return NULL;
    }
    s->base.ops = &STATIC_OPS;
    snprintf(s->base.source, sizeof s->base.source, "%s", source);
    return &s->base;
}
