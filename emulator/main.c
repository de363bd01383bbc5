/*
 * main.c — iotlua-emulator: AWS IoT Core's data-plane HTTP API and an MQTT 3.1.1/5 broker
 * on one libevent loop. Parses the options, builds the TLS contexts, starts both
 * listeners, writes the ready file, and shuts down cleanly on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "broker.h"
#include "http/http_api.h"
#include "shadow.h"

#define EXIT_USAGE 2
#define MAX_CREDENTIALS 64

static const char DEFAULT_AKID[] = "AKIAIOSFODNN7EXAMPLE";
static const char DEFAULT_SECRET[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct options {
    const char *host;
    int http_port;
    int mqtt_port;
    int ws_port;                                  /* -1: no port of its own */
    const char *ready_file;
    struct emulator_credential credentials[MAX_CREDENTIALS];
    char *credential_copies[MAX_CREDENTIALS];     /* "AKID\0SECRET": owned */
    size_t credential_count;
    const char *http_cert, *http_key;
    const char *mqtt_cert, *mqtt_key, *mqtt_ca;
    bool verify_signatures;
    bool ws_allow_unsigned;
    int log_level;                                /* 0 error .. 3 debug */
    int keep_alive_min, keep_alive_max;           /* 0: AWS's 30 and 1200 */
    long retained_max;                            /* 0: AWS's 500,000 */
};

static const char USAGE[] =
    "usage: iotlua-emulator [options]\n"
    "\n"
    "A local AWS IoT Core: the data-plane HTTP API (Publish, SendDirectMessage,\n"
    "GetConnection, ListSubscriptions, ..., with SigV4 verification) and an MQTT\n"
    "3.1.1/5.0 broker, also reached over WebSockets on the HTTP port's /mqtt, in one\n"
    "process.\n"
    "\n"
    "options:\n"
    "  --host ADDR             address both servers listen on (default 127.0.0.1)\n"
    "  --http-port PORT        HTTP API port; 0 picks a free one (default 0)\n"
    "  --mqtt-port PORT        MQTT broker port; 0 picks a free one (default 0)\n"
    "  --ws-port PORT          also serve MQTT over WebSockets (/mqtt) on a port of its\n"
    "                          own, TLS (wss) with --http-tls-cert/--http-tls-key; 0 picks\n"
    "                          a free one; the ready file then has \"ws\":URL\n"
    "  --ready-file FILE       once both listen, write {\"http\":URL,\"mqtt\":URL} to FILE\n"
    "                          (written to a temporary file, then renamed)\n"
    "  --credentials AKID:SECRET\n"
    "                          accept requests signed with this key pair; repeatable\n"
    "                          (default: AKIAIOSFODNN7EXAMPLE with its documented secret)\n"
    "  --no-verify-signatures  accept unsigned requests (benchmarks only)\n"
    "  --ws-allow-unsigned     MQTT over WebSockets (/mqtt): accept an upgrade without\n"
    "                          SigV4 in the query (tests); signed ones are still checked\n"
    "  --http-tls-cert FILE    serve HTTPS with this certificate chain (PEM)...\n"
    "  --http-tls-key FILE     ...and this private key (PEM)\n"
    "  --mqtt-tls-cert FILE    serve MQTT over TLS with this certificate chain (PEM)...\n"
    "  --mqtt-tls-key FILE     ...and this private key (PEM)\n"
    "  --mqtt-tls-ca FILE      mutual TLS: require a client certificate signed by a CA in\n"
    "                          FILE; its subject CN is the connection's thingName\n"
    "  --keep-alive-range MIN:MAX  a client keep alive below MIN is raised to MIN, 0 or\n"
    "                          above MAX lowered to MAX (MQTT 5: Server Keep Alive in\n"
    "                          CONNACK); default 30:1200, AWS IoT's range\n"
    "  --retained-max N        keep at most N retained topics; beyond, a retained publish\n"
    "                          for a new topic is refused (MQTT 5: PUBACK 0x97, HTTP: 429\n"
    "                          ThrottlingException); default 500000, AWS IoT's quota\n"
    "  --log-level LEVEL       error, warn, info or debug (default warn)\n"
    "  -h, --help              print this help and exit\n"
    "  -V, --version           print the version and exit\n"
    "\n"
    "SIGTERM or SIGINT closes every connection and exits with status 0.\n";

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "iotlua-emulator: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see --help)\n");
    exit(EXIT_USAGE);
}

static int parse_port(const char *name, const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 65535) {
        fprintf(stderr, "iotlua-emulator: %s must be a port number 0-65535, got '%s'"
                        " (see --help)\n", name, s);
        exit(EXIT_USAGE);
    }
    return (int)v;
}

static int parse_log_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0)
            return i;
    }
    usage_error("--log-level must be error, warn, info or debug, got '%s'", s);
    return 0;
}

/* AKID:SECRET, both non-empty; the secret may itself contain ':'. */
static void add_credential(struct options *o, const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || colon[1] == '\0')
        usage_error("%s", "--credentials wants AKID:SECRET, both parts non-empty");
    if (o->credential_count == MAX_CREDENTIALS)
        usage_error("too many --credentials (at most %s)", "64");
    char *copy = strdup(s);
    if (!copy) {
        fprintf(stderr, "iotlua-emulator: out of memory\n");
        exit(1);
    }
    copy[colon - s] = '\0';
    size_t i = o->credential_count++;
    o->credential_copies[i] = copy;
    o->credentials[i] = (struct emulator_credential){copy, copy + (colon - s) + 1};
}

/* --keep-alive-range MIN:MAX, seconds, 1 <= MIN <= MAX <= 65535. */
static void parse_keep_alive_range(struct options *o, const char *s)
{
    unsigned min = 0, max = 0;
    char end = 0;
    if (sscanf(s, "%u:%u%c", &min, &max, &end) != 2 || min < 1 || min > max || max > 65535)
        usage_error("--keep-alive-range wants MIN:MAX seconds, 1 <= MIN <= MAX <= 65535, got '%s'",
                    s);
    o->keep_alive_min = (int)min;
    o->keep_alive_max = (int)max;
}

/* --retained-max N, 1 <= N <= 100,000,000. */
static long parse_retained_max(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 100000000L)
        usage_error("--retained-max wants a count of 1-100000000 topics, got '%s'", s);
    return v;
}

enum {
    OPT_HOST = 256, OPT_HTTP_PORT, OPT_MQTT_PORT, OPT_READY, OPT_CREDENTIALS, OPT_NO_VERIFY,
    OPT_HTTP_CERT, OPT_HTTP_KEY, OPT_MQTT_CERT, OPT_MQTT_KEY, OPT_MQTT_CA, OPT_LOG_LEVEL,
    OPT_WS_UNSIGNED, OPT_WS_PORT, OPT_KEEP_ALIVE_RANGE, OPT_RETAINED_MAX,
};

static const struct option LONG_OPTIONS[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"http-port", required_argument, NULL, OPT_HTTP_PORT},
    {"mqtt-port", required_argument, NULL, OPT_MQTT_PORT},
    {"ready-file", required_argument, NULL, OPT_READY},
    {"credentials", required_argument, NULL, OPT_CREDENTIALS},
    {"no-verify-signatures", no_argument, NULL, OPT_NO_VERIFY},
    {"http-tls-cert", required_argument, NULL, OPT_HTTP_CERT},
    {"http-tls-key", required_argument, NULL, OPT_HTTP_KEY},
    {"mqtt-tls-cert", required_argument, NULL, OPT_MQTT_CERT},
    {"mqtt-tls-key", required_argument, NULL, OPT_MQTT_KEY},
    {"mqtt-tls-ca", required_argument, NULL, OPT_MQTT_CA},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"ws-allow-unsigned", no_argument, NULL, OPT_WS_UNSIGNED},
    {"ws-port", required_argument, NULL, OPT_WS_PORT},
    {"keep-alive-range", required_argument, NULL, OPT_KEEP_ALIVE_RANGE},
    {"retained-max", required_argument, NULL, OPT_RETAINED_MAX},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void apply_option(struct options *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_HOST: o->host = arg; break;
    case OPT_HTTP_PORT: o->http_port = parse_port("--http-port", arg); break;
    case OPT_MQTT_PORT: o->mqtt_port = parse_port("--mqtt-port", arg); break;
    case OPT_READY: o->ready_file = arg; break;
    case OPT_CREDENTIALS: add_credential(o, arg); break;
    case OPT_NO_VERIFY: o->verify_signatures = false; break;
    case OPT_HTTP_CERT: o->http_cert = arg; break;
    case OPT_HTTP_KEY: o->http_key = arg; break;
    case OPT_MQTT_CERT: o->mqtt_cert = arg; break;
    case OPT_MQTT_KEY: o->mqtt_key = arg; break;
    case OPT_MQTT_CA: o->mqtt_ca = arg; break;
    case OPT_LOG_LEVEL: o->log_level = parse_log_level(arg); break;
    case OPT_WS_UNSIGNED: o->ws_allow_unsigned = true; break;
    case OPT_WS_PORT: o->ws_port = parse_port("--ws-port", arg); break;
    case OPT_KEEP_ALIVE_RANGE: parse_keep_alive_range(o, arg); break;
    case OPT_RETAINED_MAX: o->retained_max = parse_retained_max(arg); break;
    case 'h': fputs(USAGE, stdout); exit(0);
    case 'V': printf("iotlua-emulator %s\n", IOTLUA_VERSION); exit(0);
    default: exit(EXIT_USAGE);    /* getopt printed the problem */
    }
}

static void check_pairs(const struct options *o)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, o->host, addr) != 1 && inet_pton(AF_INET6, o->host, addr) != 1)
        usage_error("--host must be a numeric IPv4 or IPv6 address, got '%s'", o->host);
    if (!o->http_cert != !o->http_key)
        usage_error("%s", "--http-tls-cert and --http-tls-key go together");
    if (!o->mqtt_cert != !o->mqtt_key)
        usage_error("%s", "--mqtt-tls-cert and --mqtt-tls-key go together");
    if (o->mqtt_ca && !o->mqtt_cert)
        usage_error("%s", "--mqtt-tls-ca needs --mqtt-tls-cert and --mqtt-tls-key");
}

static void parse_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->verify_signatures = true;
    o->ws_port = -1;
    o->log_level = 1;
    int opt;
    opterr = 1;
    while ((opt = getopt_long(argc, argv, "hV", LONG_OPTIONS, NULL)) != -1)
        apply_option(o, opt, optarg);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    check_pairs(o);
    if (o->credential_count == 0) {
        o->credentials[0] = (struct emulator_credential){DEFAULT_AKID, DEFAULT_SECRET};
        o->credential_count = 1;
    }
}

static void free_options(struct options *o)
{
    for (size_t i = 0; i < MAX_CREDENTIALS; i++)
        free(o->credential_copies[i]);
}

/* ---------------------------------------------------------------- TLS */

static void tls_error(const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char text[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, text, sizeof(text));
    fprintf(stderr, "iotlua-emulator: %s '%s': %s\n", what, file, text);
}

/* A server context with cert and key; with ca_file, client certificates are required
 * and verified against it. NULL (message printed) on failure. */
static SSL_CTX *tls_context(const char *cert, const char *key, const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* idle connections give their read/write buffers back: thousands of devices */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_error("cannot load certificate", cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        tls_error("cannot load private key (or it does not match the certificate)", key);
        goto fail;
    }
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            tls_error("cannot load CA certificates", ca_file);
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        /* Resumption with client certificates needs a session id context: without one
         * OpenSSL refuses every offered session with an internal-error alert, and a
         * device that resumes (iotlua's devices do) could never reconnect. */
        static const unsigned char sid_ctx[] = "iotlua-emulator mqtt";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---------------------------------------------------------------- ready file */

static int write_ready_file(const char *path, const char *host, bool http_tls, int http_port,
                            bool mqtt_tls, int mqtt_port, int ws_port)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (!f) {
        fprintf(stderr, "iotlua-emulator: cannot write '%s': %s\n", tmp, strerror(errno));
        goto done;
    }
    bool v6 = strchr(host, ':') != NULL;
    const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
    fprintf(f, "{\"http\":\"%s://%s%s%s:%d\",\"mqtt\":\"%s://%s%s%s:%d\"",
            http_tls ? "https" : "http", lb, host, rb, http_port,
            mqtt_tls ? "mqtts" : "mqtt", lb, host, rb, mqtt_port);
    if (ws_port >= 0)
        fprintf(f, ",\"ws\":\"%s://%s%s%s:%d/mqtt\"", http_tls ? "wss" : "ws", lb, host, rb,
                ws_port);
    fputs("}\n", f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "iotlua-emulator: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    return rc;
}

/* ---------------------------------------------------------------- the loop */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

struct emulator {
    struct event_base *base;
    SSL_CTX *http_tls, *mqtt_tls;
    struct broker *broker;
    struct shadow_store *shadows;
    struct shadow_mqtt *shadow_mqtt;
    struct http_api *http;
    struct event *sigterm, *sigint;
};

/* libevent 2.1 frees a bufferevent from the loop (a finalizer callback), and
 * event_base_free runs the finalizers queued when it starts, not those queued while it
 * runs them: the socket under a WebSocket's filter bufferevent (ws.h), whose last
 * reference the filter drops in its own finalizer, leaked that way (ASan, spec/e2e/
 * test_emulator_websocket.py). Running the loop until nothing is active completes every
 * deferred free first. */
static void drain_deferred(struct event_base *base)
{
    for (int round = 0; round < 16; round++) {
        if (event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 0)
            return;
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
}

static void emulator_free(struct emulator *e)
{
    http_api_free(e->http);         /* first: it cancels its waits on the broker */
    shadow_mqtt_free(e->shadow_mqtt);
    broker_free(e->broker);
    shadow_store_free(e->shadows);
    if (e->sigterm)
        event_free(e->sigterm);
    if (e->sigint)
        event_free(e->sigint);
    SSL_CTX_free(e->http_tls);
    SSL_CTX_free(e->mqtt_tls);
    if (e->base) {
        drain_deferred(e->base);
        event_base_free(e->base);
    }
}

static int emulator_start(struct emulator *e, const struct options *o, int *http_port_out,
                          int *mqtt_port_out)
{
    if (o->http_cert && !(e->http_tls = tls_context(o->http_cert, o->http_key, NULL)))
        return -1;
    if (o->mqtt_cert && !(e->mqtt_tls = tls_context(o->mqtt_cert, o->mqtt_key, o->mqtt_ca)))
        return -1;
    if (!(e->base = event_base_new()))
        return -1;
    struct broker_options bo = {o->host, o->mqtt_port, e->mqtt_tls, 0, o->log_level,
                                o->keep_alive_min, o->keep_alive_max, o->retained_max};
    if (!(e->broker = broker_new(e->base, &bo, mqtt_port_out)))
        return -1;
    if (!(e->shadows = shadow_store_new(NULL, NULL)) ||
        !(e->shadow_mqtt = shadow_mqtt_new(e->broker, e->shadows)))
        return -1;
    struct http_api_options ho = {
        .host = o->host, .port = o->http_port, .tls = e->http_tls,
        .credentials = o->credentials, .credential_count = o->credential_count,
        .verify_signatures = o->verify_signatures, .ws_allow_unsigned = o->ws_allow_unsigned,
        .ws_port = o->ws_port, .shadows = e->shadows};
    if (!(e->http = http_api_new(e->base, e->broker, &ho, http_port_out)))
        return -1;
    e->sigterm = evsignal_new(e->base, SIGTERM, on_signal, e->base);
    e->sigint = evsignal_new(e->base, SIGINT, on_signal, e->base);
    if (!e->sigterm || !e->sigint || event_add(e->sigterm, NULL) || event_add(e->sigint, NULL))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct options o;
    parse_options(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    struct emulator e = {0};
    int http_port = 0, mqtt_port = 0, status = 1;
    if (emulator_start(&e, &o, &http_port, &mqtt_port) != 0) {
        fprintf(stderr, "iotlua-emulator: start-up failed\n");
        goto done;
    }
    if (o.ready_file && write_ready_file(o.ready_file, o.host, e.http_tls != NULL, http_port,
                                         e.mqtt_tls != NULL, mqtt_port,
                                         http_api_ws_port(e.http)) != 0)
        goto done;
    if (o.log_level >= 2)
        fprintf(stderr, "iotlua-emulator: http on port %d, mqtt on port %d\n", http_port,
                mqtt_port);
    status = event_base_dispatch(e.base) < 0 ? 1 : 0;
done:
    emulator_free(&e);
    free_options(&o);
    return status;
}
