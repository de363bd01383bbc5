/*
 * net_tls_ctx.c — TLS client contexts: the settings every one gets (net_tls_configure),
 * and the shared, counted contexts many connections are made with (net_stream.h), which
 * keep the session each server gave last. The connections themselves are net_stream.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net_tls_internal.h"
#include "tls_trust.h"

/* ================================================================ TLS set-up */

/* Verification on: the peer's chain against tls->ca_file, else the system store
 * (tls_trust.h). With defer_trust the store is left empty, to be filled by
 * net_tls_ctx_load_trust while the server answers the first ClientHello. */
static int set_verify(SSL_CTX *ctx, const struct net_tls *tls, int defer_trust,
                      struct iot_error *err)
{
    SSL_CTX_set_verify(ctx, tls->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (!tls->verify || defer_trust)
        return 0;
    return tls_trust_load(ctx, tls->ca_file, err);
}

static int load_identity(SSL_CTX *ctx, const struct net_tls *tls, struct iot_error *err)
{
    if (!tls->cert_file && !tls->key_file)
        return 0;
    if (!tls->cert_file || !tls->key_file) {
        iot_error_set(err, "ConfigError", "mutual TLS needs both cert and key");
        return -1;
    }
    char what[300];
    if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
        snprintf(what, sizeof what, "cannot read the certificate '%.200s'", tls->cert_file);
        tls_set_error(err, what);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof what, "cannot read the private key '%.200s'", tls->key_file);
        tls_set_error(err, what);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_set_error(err, "the private key does not match the certificate");
        return -1;
    }
    return 0;
}

static int set_alpn(SSL_CTX *ctx, const char *alpn, struct iot_error *err)
{
    if (!alpn)
        return 0;
    size_t n = strlen(alpn);
    if (n == 0 || n > 255) {
        iot_error_set(err, "ConfigError", "alpn must be 1 to 255 bytes");
        return -1;
    }
    unsigned char wire[256];
    wire[0] = (unsigned char)n;
    memcpy(wire + 1, alpn, n);
    if (SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)n + 1) != 0) {
        tls_set_error(err, "cannot set ALPN");
        return -1;
    }
    return 0;
}

int net_tls_configure(SSL_CTX *ctx, const struct net_tls *tls, int defer_trust,
                      struct iot_error *err)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (set_verify(ctx, tls, defer_trust, err) != 0 || load_identity(ctx, tls, err) != 0 ||
        set_alpn(ctx, tls->alpn, err) != 0)
        return -1;
    return 0;
}

/* ================================================================ shared contexts */

static struct net_session *session_slot(struct net_tls_ctx *t, const char *key)
{
    for (size_t i = 0; i < t->nsessions; i++)
        if (strcmp(t->sessions[i].key, key) == 0)
            return &t->sessions[i];
    return NULL;
}

/* OpenSSL's new-session callback: keep the session as the latest for its server.
 * Returns 1 when the session is kept (its reference is ours), 0 otherwise. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    struct net_stream *ns = SSL_get_app_data(ssl);
    if (!ns || !ns->shared || !ns->session_key)
        return 0;
    struct net_tls_ctx *t = ns->shared;
    struct net_session *slot = session_slot(t, ns->session_key);
    if (!slot) {
        char *key = strdup(ns->session_key);
        struct net_session *v = key ? realloc(t->sessions, (t->nsessions + 1) * sizeof *v)
                                    : NULL;
        if (!v) {
            free(key);
            return 0;
        }
        t->sessions = v;
        slot = &v[t->nsessions++];
        slot->key = key;
        slot->session = NULL;
    }
    SSL_SESSION_free(slot->session);
    slot->session = session;
    return 1;
}

struct net_tls_ctx *net_tls_ctx_new(const struct net_tls *tls, struct iot_error *err)
{
    struct net_tls_ctx *t = calloc(1, sizeof *t);
    if (!t || !(t->ctx = SSL_CTX_new(TLS_client_method()))) {
        free(t);
        tls_set_error(err, "cannot create a TLS context");
        return NULL;
    }
    t->verify = tls->verify;
    t->refs = 1;
    t->trust_loaded = !tls->verify;
    t->trust = tls->trust ? tls_trust_ref(tls->trust) : tls_trust_new(tls->ca_file);
    if (!t->trust) {
        iot_error_set(err, "InternalError", "out of memory");
        net_tls_ctx_free(t);
        return NULL;
    }
    if (net_tls_configure(t->ctx, tls, 1, err) != 0) {
        net_tls_ctx_free(t);
        return NULL;
    }
    /* As libcurl does by default: a certificate of the bundle may anchor the chain even
     * when it is not self-signed (an intermediate CA given as the trust anchor). */
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(t->ctx), X509_V_FLAG_PARTIAL_CHAIN);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT |
                                           SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, on_new_session);
    return t;
}

struct net_tls_ctx *net_tls_ctx_ref(struct net_tls_ctx *t)
{
    t->refs++;
    return t;
}

void net_tls_ctx_set_owner(struct net_tls_ctx *t, void *owner,
                           void (*gone)(void *owner, struct net_tls_ctx *ctx))
{
    t->owner = owner;
    t->gone = gone;
}

void net_tls_ctx_free(struct net_tls_ctx *t)
{
    if (!t || --t->refs > 0)
        return;
    if (t->gone)
        t->gone(t->owner, t);
    for (size_t i = 0; i < t->nsessions; i++) {
        free(t->sessions[i].key);
        SSL_SESSION_free(t->sessions[i].session);
    }
    free(t->sessions);
    tls_trust_free(t->trust);
    SSL_CTX_free(t->ctx);
    free(t);
}

void net_tls_ctx_offer_session(struct net_tls_ctx *t, SSL *ssl, const char *key)
{
    struct net_session *slot = key ? session_slot(t, key) : NULL;
    /* A copy for this connection: OpenSSL marks a TLS 1.3 session not resumable once a
     * connection has resumed it (tickets used once), which would leave the connections
     * opened with the first burst each a full handshake. The kept session is replaced by
     * the next ticket a server sends; no early data is ever sent on a resumption. */
    SSL_SESSION *copy = slot && SSL_SESSION_is_resumable(slot->session)
                        ? SSL_SESSION_dup(slot->session) : NULL;
    if (copy) {
        SSL_set_session(ssl, copy);
        SSL_SESSION_free(copy);         /* the connection holds its own reference */
    }
}

int net_tls_ctx_has_session(struct net_tls_ctx *ctx, const char *key)
{
    struct net_session *slot = session_slot(ctx, key);
    return slot && SSL_SESSION_is_resumable(slot->session);
}

int net_tls_ctx_load_trust(struct net_tls_ctx *t, struct iot_error *err)
{
    if (t->trust_loaded)
        return 0;
    if (tls_trust_attach(t->trust, t->ctx, err) != 0)
        return -1;
    t->trust_loaded = 1;
    return 0;
}
