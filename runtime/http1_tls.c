/*
 * http1_tls.c — the native HTTP/1.1 transport's TLS contexts (see http1.h): one shared
 * net_tls_ctx (net_stream.h) per set of CA options in use, made when a connection first
 * needs it and kept with the pool, so the trust store is loaded once per engine rather
 * than once per connection, and the servers' sessions are kept for resumption.
 */
#include "http1.h"

#include <stdlib.h>
#include <string.h>

#include "net_stream.h"

struct h1_tls_entry {
    char *ca_bundle;                /* NULL: the system store */
    int verify;
    struct net_tls_ctx *ctx;
};

static int same_ca(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

struct net_tls_ctx *h1_tls_ctx(struct h1_tls_set *set, const char *ca_bundle, int verify,
                               struct iot_error *err)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i].verify == verify && same_ca(set->v[i].ca_bundle, ca_bundle))
            return set->v[i].ctx;
    struct net_tls alpn = {ca_bundle, NULL, NULL, "http/1.1", NULL, verify};
    struct h1_tls_entry *v = realloc(set->v, (set->n + 1) * sizeof *v);
    if (!v) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    set->v = v;
    char *copy = ca_bundle ? strdup(ca_bundle) : NULL;
    if (ca_bundle && !copy) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    struct net_tls_ctx *ctx = net_tls_ctx_new(&alpn, err);
    if (!ctx) {
        free(copy);
        return NULL;
    }
    v[set->n++] = (struct h1_tls_entry){copy, verify, ctx};
    return ctx;
}

void h1_tls_set_free(struct h1_tls_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].ca_bundle);
        net_tls_ctx_free(set->v[i].ctx);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}
