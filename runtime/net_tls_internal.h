/*
 * net_tls_internal.h — what net_stream.c and net_tls_ctx.c share: a shared client
 * context's fields and the settings every client context gets. Not for other callers:
 * they use net_stream.h.
 */
#ifndef IOTLUA_NET_TLS_INTERNAL_H
#define IOTLUA_NET_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "net_stream.h"

struct net_session {
    char *key;
    SSL_SESSION *session;
};

/* A shared context's trust store is filled after the first ClientHello has gone out, so
 * that reading a CA file (a decoded public key per certificate, half a millisecond or
 * more) overlaps the server's work on its answer instead of preceding the connection. */
struct net_tls_ctx {
    SSL_CTX *ctx;
    int verify;
    int refs;                       /* its maker's, and one per stream using it */
    void (*gone)(void *owner, struct net_tls_ctx *ctx);     /* told when freed */
    void *owner;
    struct tls_trust *trust;        /* its store (a reference), shared or its own */
    int trust_loaded;               /* 1 also when nothing is verified */
    struct net_session *sessions;   /* a handful of servers: searched in order */
    size_t nsessions;
};

/* The settings every client context gets: TLS 1.2 at least, verification and trust (left
 * empty with defer_trust, for net_tls_ctx_load_trust), identity, ALPN. 0 or -1. */
int net_tls_configure(SSL_CTX *ctx, const struct net_tls *tls, int defer_trust,
                      struct iot_error *err);

/* Offers the session t keeps for key (NULL: none) on ssl, a connection of t. */
void net_tls_ctx_offer_session(struct net_tls_ctx *t, SSL *ssl, const char *key);

/* Fills t's trust store the first time (a CA file that cannot be read: -1 with err set,
 * tried again next time). 0 once loaded, or when nothing is verified. */
int net_tls_ctx_load_trust(struct net_tls_ctx *t, struct iot_error *err);

#endif
