/*
 * http_api.h — the AWS IoT data-plane HTTP API of iotlua-emulator (Publish,
 * SendDirectMessage, GetConnection, ListSubscriptions, DeleteConnection, the Device
 * Shadow and retained-message operations), MQTT over WebSockets on /mqtt (ws.h) and its
 * QA controls under /_emulator/, on the emulator's one event loop.
 */
#ifndef IOTLUA_EMULATOR_HTTP_API_H
#define IOTLUA_EMULATOR_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct broker;
struct shadow_store;
typedef struct ssl_ctx_st SSL_CTX;

struct emulator_credential {
    const char *access_key_id;
    const char *secret_access_key;
};

struct http_api_options {
    const char *host;                               /* "127.0.0.1" when NULL */
    int port;                                       /* 0 picks an ephemeral port */
    SSL_CTX *tls;                                   /* NULL: plain HTTP; else HTTPS */
    const struct emulator_credential *credentials;  /* copied by http_api_new */
    size_t credential_count;
    bool verify_signatures;                         /* false: accept unsigned requests */
    bool ws_allow_unsigned;                         /* MQTT over WebSockets: accept an
                                                       upgrade without SigV4 (tests) */
    int ws_port;                                    /* -1: none; else a port of its own
                                                       for /mqtt (0: ephemeral), TLS
                                                       with `tls` */
    struct shadow_store *shadows;                   /* the Device Shadow store (borrowed) */
};

struct http_api;

/* Starts serving on options->host:options->port; *bound_port_out gets the port chosen.
 * NULL on failure, with a message on stderr. */
struct http_api *http_api_new(struct event_base *base, struct broker *broker,
                              const struct http_api_options *options, int *bound_port_out);
/* The bound port of options->ws_port, -1 when there is none. */
int http_api_ws_port(const struct http_api *api);
/* Stops listening, fails pending requests, frees everything. Safe with NULL. */
void http_api_free(struct http_api *api);

#endif
