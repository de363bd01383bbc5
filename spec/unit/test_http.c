/*
 * test_http.c — the engine and calls end to end against a tiny scripted HTTP/1.1 server
 * running in this process (127.0.0.1, ephemeral port, one thread per connection) that
 * records each request and verifies its SigV4 signature with the runtime's verifier.
 *
 * Covers: wire shape of a request, keep-alive reuse (one TCP connection for sequential
 * calls), max_connections, retries (503 then 200, 429 throttling, attempts counted,
 * backoff as a timer that lets other timers fire), errors of the world (refused,
 * connect timeout, total timeout, closed connection, truncated body, non-JSON body, TLS
 * against a plain server), service error parsing, output trees, streamed file payloads,
 * user timers and cancellation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "test_pki.h"
#include "client.h"
#include "response.h"
#include "sigv4.h"
#include "test_timer_item.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* ================================================================ the server */

/* ACT_RESPOND_CLOSE answers, then closes the connection (as a server ending keep-alive);
 * ACT_RAW sends body as the whole response, byte for byte; ACT_RAW_CLOSE then closes;
 * ACT_RESPOND_STRAY answers, then 20 ms later sends a second, unasked-for response on the
 * connection and keeps it open. */
enum act_mode { ACT_RESPOND, ACT_CLOSE, ACT_TRUNCATE, ACT_RESPOND_CLOSE, ACT_RAW,
                ACT_RAW_CLOSE, ACT_RESPOND_STRAY };

struct action {
    enum act_mode mode;
    int status;
    const char *headers;    /* extra header lines, each ending in \r\n */
    const char *body;
    int delay_ms;
};

struct recorded {
    char method[16];
    char target[2048];
    char headers[8192];     /* as received, "Name: value\r\n" lines */
    char body[8192];
    size_t body_len;
    int signature_ok;
    char verify_msg[600];
};

#define MAX_CONNS 128

struct server {
    int lfd, port;
    int stop;
    pthread_t thread;
    pthread_mutex_t mu;
    struct action script[16];
    int nscript, next;
    int accepted, requests;
    struct recorded last;
    pthread_t conns[MAX_CONNS];
    int conn_fds[MAX_CONNS];
    int nconns;
    SSL_CTX *tls;               /* serve HTTPS when set (owned by the test) */
};

static int lookup_secret(void *ud, const char *akid, const char **secret_out,
                         const char **token_out)
{
    (void)ud;
    if (strcmp(akid, AKID) != 0)
        return 0;
    *secret_out = SECRET;
    *token_out = NULL;
    return 1;
}

static void verify(struct recorded *r)
{
    struct sigv4_header hs[64];
    size_t n = 0;
    char copy[sizeof r->headers];
    memcpy(copy, r->headers, sizeof copy);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\r\n", &save); line && n < 64;
         line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        hs[n].name = line;
        hs[n++].value = v;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s", r->target);
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    struct sigv4_request req = {r->method, path, q, hs, n, r->body, r->body_len, NULL};
    struct sigv4_verify_params vp = {"us-east-1", "iotdata", time(NULL), 0, lookup_secret, NULL,
                                     0};
    struct sigv4_verify_result vr;
    memset(&vr, 0, sizeof vr);
    r->signature_ok = sigv4_verify(&req, &vp, &vr) == SIGV4_VERIFY_OK;
    snprintf(r->verify_msg, sizeof r->verify_msg, "%s", vr.message);
    sigv4_verify_result_free(&vr);
}

/* A connection: plain, or TLS when ssl is set. */
struct io {
    int fd;
    SSL *ssl;
};

static ssize_t io_recv(struct io *io, void *p, size_t n)
{
    if (io->ssl) {
        int k = SSL_read(io->ssl, p, (int)n);
        return k > 0 ? k : -1;
    }
    return recv(io->fd, p, n, 0);
}

static void send_all(struct io *io, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = io->ssl ? SSL_write(io->ssl, s, (int)n) : send(io->fd, s, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

/* Read one request into r; 0, or -1 on EOF/error. */
static int read_request(struct io *io, struct recorded *r)
{
    char buf[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof buf - 1)
            return -1;
        ssize_t k = io_recv(io, buf + len, sizeof buf - 1 - len);
        if (k <= 0)
            return -1;
        len += (size_t)k;
        buf[len] = '\0';
        if ((unsigned char)buf[0] == 0x16) {   /* a TLS ClientHello: answer in plain text */
            static const char plain[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
            send_all(io, plain, sizeof plain - 1);
            return -1;
        }
        end = strstr(buf, "\r\n\r\n");
    }
    *end = '\0';
    char *line_end = strstr(buf, "\r\n");
    char *hdrs = line_end ? line_end + 2 : end;
    if (line_end)
        *line_end = '\0';
    memset(r, 0, sizeof *r);
    sscanf(buf, "%15s %2047s", r->method, r->target);
    snprintf(r->headers, sizeof r->headers, "%s\r\n", hdrs);
    size_t clen = 0;
    for (char *h = hdrs; h && *h;) {
        if (strncasecmp(h, "content-length:", 15) == 0)
            clen = (size_t)strtoul(h + 15, NULL, 10);
        char *nl = strstr(h, "\r\n");
        h = nl ? nl + 2 : NULL;
    }
    size_t have = len - (size_t)(end + 4 - buf);
    if (clen > sizeof r->body)
        return -1;
    memcpy(r->body, end + 4, have < clen ? have : clen);
    while (have < clen) {
        ssize_t k = io_recv(io, r->body + have, clen - have);
        if (k <= 0)
            return -1;
        have += (size_t)k;
    }
    r->body_len = clen;
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct conn_arg {
    struct server *s;
    int fd;
};

static void *conn_main(void *arg)
{
    struct conn_arg ca = *(struct conn_arg *)arg;
    free(arg);
    struct server *s = ca.s;
    struct recorded r;
    struct io io = {ca.fd, NULL};
    if (s->tls) {
        io.ssl = SSL_new(s->tls);
        SSL_set_fd(io.ssl, ca.fd);
        if (SSL_accept(io.ssl) != 1) {
            SSL_free(io.ssl);
            shutdown(ca.fd, SHUT_RDWR);
            return NULL;
        }
    }
    while (read_request(&io, &r) == 0) {
        verify(&r);
        pthread_mutex_lock(&s->mu);
        struct action a = s->script[s->next < s->nscript ? s->next++ : s->nscript - 1];
        s->requests++;
        s->last = r;
        pthread_mutex_unlock(&s->mu);
        if (a.delay_ms)
            sleep_ms(a.delay_ms);
        if (a.mode == ACT_CLOSE)
            break;
        if (a.mode == ACT_RAW || a.mode == ACT_RAW_CLOSE) {
            send_all(&io, a.body, strlen(a.body));
            if (a.mode == ACT_RAW_CLOSE)
                break;
            continue;
        }
        char head[2048];
        const char *body = a.body ? a.body : "";
        size_t blen = strlen(body);
        snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", a.status,
                 a.mode == ACT_TRUNCATE ? blen + 100 : blen, a.headers ? a.headers : "");
        /* one write, as real servers do: two would meet Nagle and delayed ACKs (40 ms) */
        char out[4096];
        size_t hlen = strlen(head);
        if (hlen + blen <= sizeof out) {
            memcpy(out, head, hlen);
            memcpy(out + hlen, body, blen);
            send_all(&io, out, hlen + blen);
        } else {
            send_all(&io, head, hlen);
            send_all(&io, body, blen);
        }
        if (a.mode == ACT_TRUNCATE || a.mode == ACT_RESPOND_CLOSE)
            break;
        if (a.mode == ACT_RESPOND_STRAY) {
            static const char stray[] = "HTTP/1.1 200 X\r\nContent-Length: 2\r\n"
                                        "x-amzn-RequestId: stray\r\n\r\n{}";
            sleep_ms(20);
            send_all(&io, stray, sizeof stray - 1);
        }
    }
    if (io.ssl) {
        SSL_shutdown(io.ssl);
        SSL_free(io.ssl);
    }
    shutdown(ca.fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct server *s = arg;
    for (;;) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) < 0 && errno != EINTR)
            break;
        pthread_mutex_lock(&s->mu);
        int stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        if (!(p.revents & POLLIN))
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn_arg *ca = malloc(sizeof *ca);
        ca->s = s;
        ca->fd = fd;
        pthread_mutex_lock(&s->mu);
        s->accepted++;
        if (s->nconns < MAX_CONNS &&
            pthread_create(&s->conns[s->nconns], NULL, conn_main, ca) == 0)
            s->conn_fds[s->nconns++] = fd;
        else {
            close(fd);
            free(ca);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int listen_local(int backlog, int *port_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    *port_out = ntohs(a.sin_port);
    return fd;
}

static void server_start_tls(struct server *s, const struct action *script, int n, SSL_CTX *tls)
{
    memset(s, 0, sizeof *s);
    s->tls = tls;
    pthread_mutex_init(&s->mu, NULL);
    memcpy(s->script, script, (size_t)n * sizeof *script);
    s->nscript = n;
    s->lfd = listen_local(64, &s->port);
    CHECK_REQUIRE(s->lfd >= 0);
    CHECK_REQUIRE(pthread_create(&s->thread, NULL, accept_main, s) == 0);
}

static void server_start(struct server *s, const struct action *script, int n)
{
    server_start_tls(s, script, n, NULL);
}

static void server_stop(struct server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    for (int i = 0; i < s->nconns; i++) {
        shutdown(s->conn_fds[i], SHUT_RDWR);
        pthread_join(s->conns[i], NULL);
        close(s->conn_fds[i]);
    }
    pthread_mutex_destroy(&s->mu);
}

static int server_count(struct server *s, int *requests_out)
{
    pthread_mutex_lock(&s->mu);
    int a = s->accepted;
    if (requests_out)
        *requests_out = s->requests;
    pthread_mutex_unlock(&s->mu);
    return a;
}

/* ================================================================ client helpers */

static double zero_random(void *ctx)
{
    (void)ctx;
    return 0.0;
}

static double fixed_random(void *ctx)
{
    return *(double *)ctx;
}

static struct iot_engine *engine_with(double (*rnd)(void *), void *ctx, int max_connections)
{
    struct iot_engine_opts o = {0};
    o.random = rnd;
    o.random_ctx = ctx;
    o.max_connections = max_connections;
    struct iot_error err;
    struct iot_engine *e = iot_engine_new(&o, &err);
    CHECK_REQUIRE(e != NULL);
    return e;
}

static struct iot_client *client_for(struct iot_engine *e, const char *endpoint,
                                     int max_attempts, long timeout_ms, long connect_ms)
{
    struct iot_client_config cfg = {0};
    cfg.endpoint = endpoint;
    cfg.region = "us-east-1";
    cfg.credentials.access_key_id = AKID;
    cfg.credentials.secret_access_key = SECRET;
    cfg.max_attempts = max_attempts;
    cfg.timeout_ms = timeout_ms;
    cfg.connect_timeout_ms = connect_ms;
    struct iot_error err;
    struct iot_client *c = iot_client_new(e, &cfg, &err);
    if (!c)
        fprintf(stderr, "client: %s: %s\n", err.code, err.message);
    CHECK_REQUIRE(c != NULL);
    return c;
}

static struct iot_client *client_port(struct iot_engine *e, int port, int max_attempts,
                                      long timeout_ms, long connect_ms)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    return client_for(e, url, max_attempts, timeout_ms, connect_ms);
}

static struct iot_value S(const char *s)
{
    struct iot_value v = {.kind = IOT_V_STRING, .str = s, .len = strlen(s)};
    return v;
}

static struct iot_value B(int b)
{
    struct iot_value v = {.kind = IOT_V_BOOLEAN, .b = b};
    return v;
}

static uint64_t start_call(struct iot_client *c, const char *op, const char *name1,
                           struct iot_value v1, const char *name2, struct iot_value v2,
                           void *user)
{
    struct iot_params *p = iot_params_new(iot_op_find(op));
    char msg[512];
    CHECK_REQUIRE(p != NULL);
    CHECK_REQUIRE(iot_params_set(p, name1, &v1, msg, sizeof msg) == 0);
    if (name2)
        CHECK_REQUIRE(iot_params_set(p, name2, &v2, msg, sizeof msg) == 0);
    uint64_t id = 0;
    int rc = iot_call_start(c, p, user, &id, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "start: %s\n", msg);
    CHECK_REQUIRE(rc == 0);
    return id;
}

/* Drive the engine until the event for id arrives (other events are counted, dropped). */
static struct iot_result *wait_for(struct iot_engine *e, uint64_t id)
{
    int64_t deadline = time(NULL) + 20;
    while (time(NULL) < deadline) {
        CHECK_REQUIRE(iot_engine_poll(e, 100) >= 0);
        struct iot_event ev;
        while (iot_engine_next_event(e, &ev)) {
            if (ev.id == id)
                return ev.result;
            iot_result_free(ev.result);
        }
    }
    CHECK_REQUIRE(!"call did not complete within 20 s");
    return NULL;
}

static struct iot_result *get_connection(struct iot_engine *e, struct iot_client *c,
                                         const char *client_id)
{
    return wait_for(e, start_call(c, "get_connection", "clientId", S(client_id),
                                  "includeSocketInformation", B(1), NULL));
}

static const char *rh(const struct iot_result *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static const struct iot_out *field(const struct iot_out *map, const char *key)
{
    for (size_t i = 0; map && i < map->n; i++)
        if (map->items[i].key && strcmp(map->items[i].key, key) == 0)
            return &map->items[i];
    return NULL;
}

/* Case-insensitive substring search (strcasestr is a GNU extension). */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ================================================================ tests */

static const char *CONN_JSON =
    "{\"connected\":true,\"clientId\":\"s+1\",\"thingName\":\"thing\",\"cleanSession\":false,"
    "\"sourcePort\":51234,\"connectedSince\":1700000000123,\"unmodelled\":1,"
    "\"sourceIp\":null}";

static void test_success_and_wire(void)
{
    struct action ok = {ACT_RESPOND, 200,
                        "Content-Type: application/json\r\nx-amzn-RequestId: req-1\r\n"
                        "X-Dup: a\r\nx-dup: b\r\n", NULL, 0};
    ok.body = CONN_JSON;
    struct server s;
    server_start(&s, &ok, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 3, 5000, 2000);
    struct iot_result *r = get_connection(e, c, "s+1");
    CHECK_REQUIRE(r != NULL);
    CHECK_INT_EQ(r->ok, 1);
    CHECK_INT_EQ(r->status, 200);
    CHECK_INT_EQ(r->attempts, 1);
    CHECK_INT_EQ(r->http_version, 11);
    CHECK_INT_EQ(r->connections_opened, 1);
    CHECK_STR_EQ(r->request_id, "req-1");
    CHECK_STR_EQ(rh(r, "x-amzn-requestid"), "req-1");
    CHECK_STR_EQ(rh(r, "content-type"), "application/json");
    CHECK_STR_EQ(rh(r, "x-dup"), "a, b");
    CHECK_STR_EQ(r->op->name, "GetConnection");
    const struct iot_out *o = r->output;
    CHECK_REQUIRE(o && o->kind == IOT_OUT_MAP);
    CHECK_INT_EQ(o->n, 6);   /* unmodelled keys and nulls are dropped */
    CHECK_INT_EQ(field(o, "connected")->kind, IOT_OUT_BOOLEAN);
    CHECK_INT_EQ(field(o, "connected")->b, 1);
    CHECK_INT_EQ(field(o, "cleanSession")->b, 0);
    CHECK_STR_EQ(field(o, "clientId")->str, "s+1");
    CHECK_INT_EQ(field(o, "sourcePort")->kind, IOT_OUT_INTEGER);
    CHECK_INT_EQ(field(o, "sourcePort")->i, 51234);
    CHECK_INT_EQ(field(o, "connectedSince")->i, 1700000000123LL);
    CHECK(field(o, "unmodelled") == NULL);
    CHECK(field(o, "sourceIp") == NULL);
    iot_result_free(r);

    /* what went on the wire */
    struct recorded *w = &s.last;
    CHECK_STR_EQ(w->method, "GET");
    CHECK_STR_EQ(w->target, "/connections/s%2B1?includeSocketInformation=true");
    CHECK_INT_EQ(w->signature_ok, 1);
    if (!w->signature_ok)
        fprintf(stderr, "verify: %s\n", w->verify_msg);
    char host[64];
    snprintf(host, sizeof host, "Host: 127.0.0.1:%d\r\n", s.port);
    CHECK_STR_CONTAINS(w->headers, host);
    CHECK_STR_CONTAINS(w->headers, "User-Agent: iotlua/" IOTLUA_VERSION " libcurl/");
    CHECK_STR_CONTAINS(w->headers, "SignedHeaders=host;x-amz-date, Signature=");
    CHECK(find_ci(w->headers, "content-type") == NULL);
    CHECK(find_ci(w->headers, "accept") == NULL);
    CHECK(find_ci(w->headers, "content-length") == NULL);
    CHECK(find_ci(w->headers, "expect") == NULL);

    /* publish: POST with the payload, the mqtt5 headers signed, no Content-Type */
    struct iot_params *p = iot_params_new(iot_op_find("publish"));
    char msg[256];
    struct iot_value v = S("a/b c/#");
    iot_params_set(p, "topic", &v, msg, sizeof msg);
    v = S("{\"hello\":1}");
    iot_params_set(p, "payload", &v, msg, sizeof msg);
    v = S("[{\"k\":\"v\"}]");
    iot_params_set(p, "userProperties", &v, msg, sizeof msg);
    uint64_t id;
    CHECK_REQUIRE(iot_call_start(c, p, NULL, &id, msg, sizeof msg) == 0);
    r = wait_for(e, id);
    CHECK_INT_EQ(r->ok, 1);
    CHECK_INT_EQ(r->output->n, 0);      /* Publish has no output */
    CHECK_INT_EQ(r->connections_opened, 0);     /* kept alive */
    iot_result_free(r);
    CHECK_STR_EQ(w->method, "POST");
    CHECK_STR_EQ(w->target, "/topics/a%2Fb%20c%2F%23");
    CHECK_MEM_EQ(w->body, w->body_len, "{\"hello\":1}", 11);
    CHECK_INT_EQ(w->signature_ok, 1);
    CHECK_STR_CONTAINS(w->headers, "x-amz-mqtt5-user-properties: W3siayI6InYifV0=\r\n");
    CHECK_STR_CONTAINS(w->headers, "SignedHeaders=host;x-amz-date;x-amz-mqtt5-user-properties,");
    CHECK_STR_CONTAINS(w->headers, "Content-Length: 11\r\n");
    CHECK(find_ci(w->headers, "content-type") == NULL);

    /* publish without a payload: Content-Length: 0, empty body */
    p = iot_params_new(iot_op_find("publish"));
    v = S("t");
    iot_params_set(p, "topic", &v, msg, sizeof msg);
    CHECK_REQUIRE(iot_call_start(c, p, NULL, &id, msg, sizeof msg) == 0);
    r = wait_for(e, id);
    CHECK_INT_EQ(r->ok, 1);
    iot_result_free(r);
    CHECK_STR_CONTAINS(w->headers, "Content-Length: 0\r\n");
    CHECK_INT_EQ(w->signature_ok, 1);

    /* keep-alive: all those calls went over one TCP connection */
    CHECK_INT_EQ(server_count(&s, NULL), 1);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

static void test_list_output(void)
{
    struct action ok = {ACT_RESPOND, 200, NULL,
                        "{\"subscriptions\":[{\"topicFilter\":\"a/#\",\"qos\":1},"
                        "{\"topicFilter\":\"b\",\"qos\":0}],\"nextToken\":\"n2\"}", 0};
    struct server s;
    server_start(&s, &ok, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 3, 5000, 2000);
    struct iot_value mr = {.kind = IOT_V_INTEGER, .i = 50};
    struct iot_result *r = wait_for(e, start_call(c, "list_subscriptions", "clientId", S("c1"),
                                                  "maxResults", mr, NULL));
    CHECK_INT_EQ(r->ok, 1);
    const struct iot_out *subs = field(r->output, "subscriptions");
    CHECK_REQUIRE(subs && subs->kind == IOT_OUT_LIST && subs->n == 2);
    CHECK_STR_EQ(field(&subs->items[0], "topicFilter")->str, "a/#");
    CHECK_INT_EQ(field(&subs->items[0], "qos")->i, 1);
    CHECK_INT_EQ(field(&subs->items[1], "qos")->i, 0);
    CHECK_STR_EQ(field(r->output, "nextToken")->str, "n2");
    CHECK_STR_EQ(s.last.target, "/connections/c1/subscriptions?maxResults=50");
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

static void test_retries(void)
{
    struct action script[] = {
        {ACT_RESPOND, 503, NULL, "{\"message\":\"busy\"}", 0},
        {ACT_RESPOND, 200, "x-amzn-RequestId: r2\r\n", "{\"connected\":false}", 0},
    };
    struct server s;
    server_start(&s, script, 2);
    double r02 = 0.2;
    struct iot_engine *e = engine_with(fixed_random, &r02, 0);
    struct iot_client *c = client_port(e, s.port, 3, 5000, 2000);

    /* 503 then 200 with a 200 ms backoff during which a 50 ms timer still fires */
    int64_t t0 = now_ms();
    uint64_t id = start_call(c, "get_connection", "clientId", S("c1"), NULL, S(""), NULL);
    uint64_t tid;
    int marker = 7;
    CHECK_INT_EQ(test_timer_start(e, 50, &marker, &tid), 0);
    int timer_seen_first = 0, done = 0;
    struct iot_result *r = NULL;
    while (!done) {
        CHECK_REQUIRE(iot_engine_poll(e, 100) >= 0);
        struct iot_event ev;
        while (iot_engine_next_event(e, &ev)) {
            if (ev.kind == TEST_EV_TIMER && ev.id == tid && !r)
                timer_seen_first = ev.user == &marker;
            if (ev.id == id) {
                r = ev.result;
                done = 1;
            }
        }
        CHECK_REQUIRE(now_ms() - t0 < 10000);
    }
    int64_t elapsed = now_ms() - t0;
    CHECK_INT_EQ(timer_seen_first, 1);
    CHECK(elapsed >= 190);
    CHECK(elapsed < 3000);
    CHECK_INT_EQ(r->ok, 1);
    CHECK_INT_EQ(r->attempts, 2);
    CHECK_STR_EQ(r->request_id, "r2");
    int reqs;
    server_count(&s, &reqs);
    CHECK_INT_EQ(reqs, 2);
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);

    /* 429 throttling every time: 3 attempts, then the service error */
    struct action thr = {ACT_RESPOND, 429,
                         "x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/\r\n"
                         "x-amzn-RequestId: t-1\r\n",
                         "{\"message\":\"Rate exceeded\"}", 0};
    server_start(&s, &thr, 1);
    e = engine_with(zero_random, NULL, 0);
    c = client_port(e, s.port, 3, 5000, 2000);
    r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "ThrottlingException");
    CHECK_STR_EQ(r->error.message, "Rate exceeded");
    CHECK_INT_EQ(r->error.status, 429);
    CHECK_STR_EQ(r->error.request_id, "t-1");
    CHECK_STR_EQ(r->error.operation, "GetConnection");
    CHECK_INT_EQ(r->error.retryable, 1);
    CHECK_INT_EQ(r->error.attempts, 3);
    CHECK_INT_EQ(r->attempts, 3);
    server_count(&s, &reqs);
    CHECK_INT_EQ(reqs, 3);
    char line[600];
    iot_error_format(&r->error, line, sizeof line);
    CHECK_STR_EQ(line, "ThrottlingException: Rate exceeded (HTTP 429, GetConnection, request "
                 "t-1, 3 attempts)");
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);

    /* 400 validation error: never retried */
    struct action bad = {ACT_RESPOND, 400, "x-amzn-RequestId: b-1\r\n",
                         "{\"__type\":\"com.amazonaws#InvalidRequestException\","
                         "\"message\":\"bad topic\"}", 0};
    server_start(&s, &bad, 1);
    e = engine_with(zero_random, NULL, 0);
    c = client_port(e, s.port, 3, 5000, 2000);
    r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "InvalidRequestException");
    CHECK_STR_EQ(r->error.message, "bad topic");
    CHECK_INT_EQ(r->error.retryable, 0);
    CHECK_INT_EQ(r->error.attempts, 1);
    server_count(&s, &reqs);
    CHECK_INT_EQ(reqs, 1);
    iot_result_free(r);
    /* the client stays usable after a failure */
    r = get_connection(e, c, "c2");
    CHECK_INT_EQ(r->error.status, 400);
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}


/* The retry quota is the client's: 500 tokens, 5 a retry. 50 calls that always get 503
 * take 2 retries each (500 tokens); the 51st gets no retry at all. */
static void test_quota_exhaustion(void)
{
    struct action busy = {ACT_RESPOND, 503, NULL, "{\"message\":\"busy\"}", 0};
    struct server s;
    server_start(&s, &busy, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 3, 5000, 2000);
    int attempts_total = 0;
    for (int i = 0; i < 50; i++) {
        struct iot_result *r = get_connection(e, c, "c");
        attempts_total += r->attempts;
        iot_result_free(r);
    }
    CHECK_INT_EQ(attempts_total, 150);
    struct iot_result *r = get_connection(e, c, "c");
    CHECK_INT_EQ(r->ok, 0);
    CHECK_INT_EQ(r->attempts, 1);
    CHECK_INT_EQ(r->error.status, 503);
    CHECK_INT_EQ(r->error.retryable, 1);
    iot_result_free(r);
    /* another client has its own quota */
    struct iot_client *c2 = client_port(e, s.port, 3, 5000, 2000);
    r = get_connection(e, c2, "c");
    CHECK_INT_EQ(r->attempts, 3);
    iot_result_free(r);
    int reqs;
    server_count(&s, &reqs);
    CHECK_INT_EQ(reqs, 154);
    iot_client_free(c2);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}


static time_t ticking_clock(void *ctx)
{
    time_t *t = ctx;
    return (*t)++;      /* one second later on every signature */
}

/* Every attempt is signed again at the clock's current time. */
static void test_resigned_with_fresh_date(void)
{
    struct action script[] = {
        {ACT_RESPOND, 503, NULL, "{}", 0},
        {ACT_RESPOND, 200, NULL, "{}", 0},
    };
    struct server s;
    server_start(&s, script, 2);
    time_t clock = 1440938160;  /* 2015-08-30T12:36:00Z */
    struct iot_engine_opts o = {0};
    o.random = zero_random;
    o.wall_clock = ticking_clock;
    o.clock_ctx = &clock;
    struct iot_error err;
    struct iot_engine *e = iot_engine_new(&o, &err);
    CHECK_REQUIRE(e != NULL);
    struct iot_client *c = client_port(e, s.port, 3, 3000, 2000);
    struct iot_result *r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->attempts, 2);
    iot_result_free(r);
    /* the server saw the second attempt, signed at the second tick */
    CHECK_STR_CONTAINS(s.last.headers, "X-Amz-Date: 20150830T123601Z\r\n");
    CHECK_STR_CONTAINS(s.last.headers, "Credential=" AKID "/20150830/us-east-1/iotdata/aws4_request");
    CHECK_INT_EQ(clock, 1440938162);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

static void test_refused(void)
{
    int port;
    int fd = listen_local(1, &port);
    CHECK_REQUIRE(fd >= 0);
    close(fd);      /* nobody listens there now */
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, port, 3, 5000, 2000);
    struct iot_result *r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "NetworkError");
    CHECK_STR_CONTAINS(r->error.message, "connection refused");
    CHECK_INT_EQ(r->error.status, 0);
    CHECK_INT_EQ(r->error.retryable, 1);
    CHECK_INT_EQ(r->error.attempts, 3);
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
}

static void test_timeouts(void)
{
    /* total timeout: the server answers after 1.5 s, the client waits 300 ms */
    struct action slow = {ACT_RESPOND, 200, NULL, "{}", 1500};
    struct server s;
    server_start(&s, &slow, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 1, 300, 2000);
    int64_t t0 = now_ms();
    struct iot_result *r = get_connection(e, c, "c1");
    int64_t took = now_ms() - t0;
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "TimeoutError");
    CHECK_STR_CONTAINS(r->error.message, "no complete response");
    CHECK_STR_CONTAINS(r->error.message, "within 300 ms");
    CHECK_INT_EQ(r->error.retryable, 1);
    CHECK(took >= 250 && took < 1400);
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);

    /* connect timeout: a listener whose accept queue is full drops our SYN */
    int port;
    int lfd = listen_local(0, &port);
    CHECK_REQUIRE(lfd >= 0);
    int fillers[4];
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    sleep_ms(50);
    e = engine_with(zero_random, NULL, 0);
    c = client_port(e, port, 1, 5000, 300);
    t0 = now_ms();
    r = get_connection(e, c, "c1");
    took = now_ms() - t0;
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "TimeoutError");
    CHECK_STR_CONTAINS(r->error.message, "connect timeout");
    CHECK(took >= 250 && took < 2000);
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
}

static void test_broken_responses(void)
{
    struct { struct action a; const char *code, *msg; } cases[] = {
        {{ACT_CLOSE, 0, NULL, NULL, 0}, "NetworkError", "without a response"},
        {{ACT_TRUNCATE, 200, NULL, "{\"connec", 0}, "NetworkError", "before the whole response"},
        {{ACT_RESPOND, 502, NULL, "<html>Bad gateway</html>", 0}, "UnknownError",
         "HTTP 502 Bad Gateway with a body that is not JSON"},
        {{ACT_RESPOND, 500, NULL, "{\"message\":\"trunc", 0}, "UnknownError",
         "{\"message\":\"trunc"},
        {{ACT_RESPOND, 404, NULL, "", 0}, "UnknownError", "HTTP 404 Not Found with an empty body"},
        {{ACT_RESPOND, 200, NULL, "not json", 0}, "InvalidResponse",
         "not the JSON object expected: not json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct server s;
        server_start(&s, &cases[i].a, 1);
        struct iot_engine *e = engine_with(zero_random, NULL, 0);
        struct iot_client *c = client_port(e, s.port, 1, 3000, 2000);
        struct iot_result *r = get_connection(e, c, "c1");
        CHECK_INT_EQ(r->ok, 0);
        CHECK_STR_EQ(r->error.code, cases[i].code);
        CHECK_STR_CONTAINS(r->error.message, cases[i].msg);
        iot_result_free(r);
        iot_client_free(c);
        iot_engine_free(e);
        server_stop(&s);
    }
}

static void test_tls_against_plain_server(void)
{
    struct action ok = {ACT_RESPOND, 200, NULL, "{}", 0};
    struct server s;
    server_start(&s, &ok, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", s.port);
    struct iot_client *c = client_for(e, url, 1, 3000, 2000);
    struct iot_result *r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "TLSError");
    CHECK_STR_CONTAINS(r->error.message, "TLS handshake");
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}


/* A self-signed certificate for 127.0.0.1 (SAN IP), its PEM written to ca_path. */
static SSL_CTX *tls_context_key(const char *ca_path, const char *key_path)
{
    EVP_PKEY *key;
    X509 *x = test_cert("127.0.0.1", "IP:127.0.0.1", NULL, NULL, 1, &key);
    FILE *f = fopen(ca_path, "w");
    CHECK_REQUIRE(f && PEM_write_X509(f, x) == 1);
    fclose(f);
    if (key_path) {
        FILE *kf = fopen(key_path, "w");
        CHECK_REQUIRE(kf && PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) == 1);
        fclose(kf);
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    CHECK_REQUIRE(ctx && SSL_CTX_use_certificate(ctx, x) == 1 &&
                  SSL_CTX_use_PrivateKey(ctx, key) == 1);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static SSL_CTX *tls_context(const char *ca_path)
{
    return tls_context_key(ca_path, NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK_REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Wait until something listens on 127.0.0.1:port (up to 5 s). */
static int wait_listening(int port)
{
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

/* HTTP/2 where the endpoint offers it: nghttpd (nghttp2-server) serves a canned answer
 * over TLS with ALPN h2; concurrent calls are multiplexed on one connection. */
static void test_http2(void)
{
    static const char nghttpd[] = "/usr/sbin/nghttpd";
    if (access(nghttpd, X_OK) != 0) {
        fprintf(stderr, "test_http2: %s missing: install nghttp2-server (scripts/bootstrap)\n",
                nghttpd);
        CHECK(!"nghttpd available");
        return;
    }
    char dir[] = "/tmp/iotlua-test-h2-XXXXXX";
    CHECK_REQUIRE(mkdtemp(dir) != NULL);
    char docs[512], conns[600], file[700], ca[600], key[600];
    snprintf(docs, sizeof docs, "%s/htdocs", dir);
    snprintf(conns, sizeof conns, "%s/connections", docs);
    snprintf(file, sizeof file, "%s/c1", conns);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    CHECK_REQUIRE(mkdir(docs, 0700) == 0 && mkdir(conns, 0700) == 0);
    write_file(file, "{\"connected\":true,\"clientId\":\"c1\"}");
    SSL_CTX_free(tls_context_key(ca, key));
    int port;
    int probe = listen_local(1, &port);
    CHECK_REQUIRE(probe >= 0);
    close(probe);
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    pid_t pid = fork();
    CHECK_REQUIRE(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(nghttpd, "nghttpd", "-a", "127.0.0.1", "-d", docs, port_s, key, ca, (char *)NULL);
        _exit(127);
    }
    CHECK_REQUIRE(wait_listening(port));

    /* HTTP/2 chosen: https:// goes to libcurl (the native transport speaks HTTP/1.1). */
    struct iot_engine_opts o = {0};
    o.random = zero_random;
    o.max_connections = 4;
    o.http2 = 1;
    struct iot_error eerr;
    struct iot_engine *e = iot_engine_new(&o, &eerr);
    CHECK_REQUIRE(e != NULL);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
    struct iot_client_config cfg = {0};
    cfg.endpoint = url;
    cfg.region = "us-east-1";
    cfg.credentials.access_key_id = AKID;
    cfg.credentials.secret_access_key = SECRET;
    cfg.ca_bundle = ca;
    struct iot_error err;
    struct iot_client *c = iot_client_new(e, &cfg, &err);
    CHECK_REQUIRE(c != NULL);
    enum { N = 20 };
    for (int i = 0; i < N; i++)
        start_call(c, "get_connection", "clientId", S("c1"), NULL, S(""), NULL);
    int done = 0, ok = 0, h2 = 0, opened = 0;
    int64_t t0 = now_ms();
    while (done < N && now_ms() - t0 < 10000) {
        iot_engine_poll(e, 100);
        struct iot_event ev;
        while (iot_engine_next_event(e, &ev)) {
            ok += ev.result->ok;
            h2 += ev.result->http_version == 20;
            opened += ev.result->connections_opened;
            if (ev.result->ok)
                CHECK_STR_EQ(field(ev.result->output, "clientId")->str, "c1");
            else
                fprintf(stderr, "h2 call: %s: %s\n", ev.result->error.code,
                        ev.result->error.message);
            iot_result_free(ev.result);
            done++;
        }
    }
    CHECK_INT_EQ(done, N);
    CHECK_INT_EQ(ok, N);
    CHECK_INT_EQ(h2, N);
    CHECK_INT_EQ(opened, 1);      /* all multiplexed on one connection */
    iot_client_free(c);
    iot_engine_free(e);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(file);
    unlink(ca);
    unlink(key);
    rmdir(conns);
    rmdir(docs);
    rmdir(dir);
}

static void test_tls(void)
{
    char ca[] = "/tmp/iotlua-test-http-ca-XXXXXX";
    int fd = mkstemp(ca);
    CHECK_REQUIRE(fd >= 0);
    close(fd);
    SSL_CTX *tls = tls_context(ca);
    struct action ok = {ACT_RESPOND, 200, NULL, "{\"connected\":true}", 0};
    struct server s;
    server_start_tls(&s, &ok, 1, tls);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", s.port);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client_config cfg = {0};
    cfg.endpoint = url;
    cfg.region = "us-east-1";
    cfg.credentials.access_key_id = AKID;
    cfg.credentials.secret_access_key = SECRET;
    cfg.timeout_ms = 5000;
    struct iot_error err;

    /* verification on, our CA given: works, and the Host header keeps the port */
    cfg.ca_bundle = ca;
    struct iot_client *c = iot_client_new(e, &cfg, &err);
    CHECK_REQUIRE(c != NULL);
    struct iot_result *r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 1);
    CHECK_INT_EQ(s.last.signature_ok, 1);
    iot_result_free(r);
    r = get_connection(e, c, "c2");
    CHECK_INT_EQ(r->ok, 1);
    iot_result_free(r);
    CHECK_INT_EQ(server_count(&s, NULL), 1);     /* TLS connections are reused too */
    iot_client_free(c);
    /* on the native transport's TLS unless libcurl is asked for (test_http_curl) */
    struct iot_http_stats st;
    iot_engine_http_stats(e, &st);
    int curl = getenv("IOTLUA_HTTP_TRANSPORT") != NULL;
    CHECK_INT_EQ((int64_t)st.native_tls, curl ? 0 : 2);
    CHECK_INT_EQ((int64_t)st.tls_handshakes, curl ? 0 : 1);
    CHECK_INT_EQ((int64_t)st.libcurl, curl ? 2 : 0);

    /* verification on (the default), system CAs only: a certificate error, not retried */
    cfg.ca_bundle = NULL;
    cfg.max_attempts = 3;
    c = iot_client_new(e, &cfg, &err);
    r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "TLSError");
    CHECK_STR_CONTAINS(r->error.message, "certificate verification");
    CHECK_INT_EQ(r->error.retryable, 0);
    CHECK_INT_EQ(r->error.attempts, 1);
    iot_result_free(r);
    iot_client_free(c);

    /* a CA bundle that does not exist */
    cfg.ca_bundle = "/nonexistent/ca.pem";
    c = iot_client_new(e, &cfg, &err);
    r = get_connection(e, c, "c1");
    CHECK_STR_EQ(r->error.code, "TLSError");
    iot_result_free(r);
    iot_client_free(c);

    /* one that appears later (a secret mounted after start) is read by the next call */
    char later[64];
    snprintf(later, sizeof later, "%s.later", ca);
    cfg.ca_bundle = later;
    c = iot_client_new(e, &cfg, &err);
    r = get_connection(e, c, "c1");
    CHECK_STR_EQ(r->error.code, "TLSError");
    CHECK_STR_CONTAINS(r->error.message, later);
    CHECK_INT_EQ(r->error.attempts, 1);
    iot_result_free(r);
    CHECK_REQUIRE(link(ca, later) == 0);
    r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 1);
    iot_result_free(r);
    iot_client_free(c);
    unlink(later);

    /* verify_tls = false: accepted without a CA */
    cfg.ca_bundle = NULL;
    cfg.verify_tls = -1;
    c = iot_client_new(e, &cfg, &err);
    r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 1);
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_http_stats(e, &st);
    CHECK_INT_EQ((int64_t)st.libcurl, curl ? 7 : 0);   /* every attempt stayed native */

    iot_engine_free(e);
    server_stop(&s);
    SSL_CTX_free(tls);
    unlink(ca);
}

static void test_file_payload(void)
{
    struct action ok = {ACT_RESPOND, 200, NULL, "", 0};
    struct server s;
    server_start(&s, &ok, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 3, 3000, 2000);
    FILE *f = tmpfile();
    CHECK_REQUIRE(f != NULL);
    char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    fwrite("HEAD", 1, 4, f);
    fwrite(big, 1, sizeof big, f);
    fseek(f, 4, SEEK_SET);
    struct iot_value fv = {.kind = IOT_V_FILE, .file = f};
    struct iot_result *r = wait_for(e, start_call(c, "publish", "topic", S("files"), "payload",
                                                  fv, NULL));
    CHECK_INT_EQ(r->ok, 1);
    CHECK_MEM_EQ(s.last.body, s.last.body_len, big, sizeof big);
    CHECK_INT_EQ(s.last.signature_ok, 1);
    iot_result_free(r);
    /* The pooled easy handle that streamed the file serves the next calls: an in-memory
     * body, a GET, the file again, then an in-memory body (no read callback left over). */
    r = wait_for(e, start_call(c, "publish", "topic", S("mem"), "payload", S("small"), NULL));
    CHECK_INT_EQ(r->ok, 1);
    CHECK_STR_EQ(s.last.method, "POST");
    CHECK_MEM_EQ(s.last.body, s.last.body_len, "small", 5);
    CHECK_INT_EQ(s.last.signature_ok, 1);
    iot_result_free(r);
    r = wait_for(e, start_call(c, "get_retained_message", "topic", S("t"), NULL, S(""), NULL));
    CHECK_STR_EQ(s.last.method, "GET");
    CHECK_INT_EQ((int)s.last.body_len, 0);
    CHECK_INT_EQ(s.last.signature_ok, 1);
    iot_result_free(r);
    fseek(f, 4, SEEK_SET);
    r = wait_for(e, start_call(c, "publish", "topic", S("files"), "payload", fv, NULL));
    CHECK_INT_EQ(r->ok, 1);
    CHECK_MEM_EQ(s.last.body, s.last.body_len, big, sizeof big);
    iot_result_free(r);
    r = wait_for(e, start_call(c, "publish", "topic", S("mem"), "payload", S("again"), NULL));
    CHECK_INT_EQ(r->ok, 1);
    CHECK_STR_EQ(s.last.method, "POST");
    CHECK_MEM_EQ(s.last.body, s.last.body_len, "again", 5);
    CHECK_INT_EQ(s.last.signature_ok, 1);
    iot_result_free(r);
    fclose(f);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

static void test_concurrency_and_cap(void)
{
    struct action ok = {ACT_RESPOND, 200, NULL, "{\"connected\":true}", 20};
    struct server s;
    server_start(&s, &ok, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 3);
    struct iot_client *c = client_port(e, s.port, 3, 5000, 2000);
    enum { N = 60 };
    static int users[N];
    for (int i = 0; i < N; i++)
        start_call(c, "get_connection", "clientId", S("c"), NULL, S(""), &users[i]);
    CHECK_INT_EQ(iot_engine_pending(e), N);
    int done = 0, ok_count = 0;
    int64_t t0 = now_ms();
    while (done < N && now_ms() - t0 < 15000) {
        iot_engine_poll(e, 100);
        struct iot_event ev;
        while (iot_engine_next_event(e, &ev)) {
            int *u = ev.user;
            *u += 1;
            ok_count += ev.result->ok;
            iot_result_free(ev.result);
            done++;
        }
    }
    CHECK_INT_EQ(done, N);
    CHECK_INT_EQ(ok_count, N);
    for (int i = 0; i < N; i++)
        CHECK_INT_EQ(users[i], 1);
    CHECK_INT_EQ(iot_engine_pending(e), 0);
    int accepted = server_count(&s, NULL);
    CHECK(accepted >= 1 && accepted <= 3);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

/* The server ends keep-alive after each answer: the idle connection is found closed
 * before it is reused, so every call succeeds on a fresh one, with one attempt. */
static void test_server_closes_idle_connections(void)
{
    struct action ok = {ACT_RESPOND_CLOSE, 200, NULL, CONN_JSON, 0};
    struct server s;
    server_start(&s, &ok, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 1, 3000, 2000);
    for (int i = 0; i < 4; i++) {
        struct iot_result *r = get_connection(e, c, "c1");
        CHECK_INT_EQ(r->ok, 1);
        CHECK_INT_EQ(r->attempts, 1);
        iot_result_free(r);
        sleep_ms(30);           /* the server's close reaches us (no signal to wait on) */
    }
    int requests = 0;
    CHECK_INT_EQ(server_count(&s, &requests), 4);
    CHECK_INT_EQ(requests, 4);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

/* Bytes a server sends on a connection after its response, unasked, are never taken for
 * the answer to a later request: the connection is dropped and the call goes out on a new
 * one. The native transport only: libcurl 7.88 reuses such a connection and hands over
 * the stray response as the answer. */
static void test_stray_bytes_on_idle_connection(void)
{
    if (getenv("IOTLUA_HTTP_TRANSPORT"))
        return;
    struct action script[] = {
        {ACT_RESPOND_STRAY, 200, "x-amzn-RequestId: first\r\n", CONN_JSON, 0},
        {ACT_RESPOND, 200, "x-amzn-RequestId: second\r\n", CONN_JSON, 0},
    };
    struct server s;
    server_start(&s, script, 2);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 1, 3000, 2000);
    struct iot_result *r = get_connection(e, c, "c1");
    CHECK_STR_EQ(r->request_id, "first");
    iot_result_free(r);
    sleep_ms(60);               /* the stray response has arrived */
    r = get_connection(e, c, "c1");
    CHECK_INT_EQ(r->ok, 1);
    CHECK_STR_EQ(r->request_id, "second");
    CHECK_INT_EQ(r->attempts, 1);
    iot_result_free(r);
    CHECK_INT_EQ(server_count(&s, NULL), 2);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

/* Responses framed in other ways than Content-Length, sent raw. */
static void test_response_framings(void)
{
    struct action chunked = {ACT_RAW, 0, NULL,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-amzn-RequestId: r1\r\n\r\n"
        "5\r\n{\"con\r\n13\r\nnected\":true,\"x\":1}\r\n0\r\n\r\n", 0};
    struct action interim = {ACT_RAW, 0, NULL,
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 18\r\n"
        "x-amzn-RequestId: r2\r\n\r\n{\"connected\":true}", 0};
    struct action script[] = {chunked, interim, chunked};
    struct server s;
    server_start(&s, script, 3);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_port(e, s.port, 1, 3000, 2000);
    const char *ids[] = {"r1", "r2", "r1"};
    for (int i = 0; i < 3; i++) {
        struct iot_result *r = get_connection(e, c, "c1");
        CHECK_INT_EQ(r->ok, 1);
        CHECK_STR_EQ(r->request_id, ids[i]);
        const struct iot_out *connected = field(r->output, "connected");
        CHECK(connected && connected->kind == IOT_OUT_BOOLEAN && connected->b);
        iot_result_free(r);
    }
    CHECK_INT_EQ(server_count(&s, NULL), 1);    /* all on one kept-alive connection */
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);

    /* a close-delimited body (HTTP/1.0, no length) and a reply that is not HTTP */
    struct action raw10 = {ACT_RAW_CLOSE, 0, NULL,
                           "HTTP/1.0 200 OK\r\n\r\n{\"connected\":false}", 0};
    struct action junk = {ACT_RAW, 0, NULL, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 0};
    struct action *cases[] = {&raw10, &junk};
    for (int i = 0; i < 2; i++) {
        struct action a = *cases[i];
        server_start(&s, &a, 1);
        e = engine_with(zero_random, NULL, 0);
        c = client_port(e, s.port, 1, 1500, 2000);
        struct iot_result *r = get_connection(e, c, "c1");
        if (i == 0) {
            CHECK_INT_EQ(r->ok, 1);
            const struct iot_out *connected = field(r->output, "connected");
            CHECK(connected && connected->kind == IOT_OUT_BOOLEAN && !connected->b);
            CHECK_INT_EQ(r->http_version, 10);
        } else if (!getenv("IOTLUA_HTTP_TRANSPORT")) {
            CHECK_INT_EQ(r->ok, 0);
            CHECK_STR_EQ(r->error.code, "NetworkError");
            CHECK_STR_CONTAINS(r->error.message, "not an HTTP/1.x response");
        } else {
            CHECK_INT_EQ(r->ok, 0);     /* libcurl: "Received HTTP/0.9 when not allowed" */
        }
        iot_result_free(r);
        iot_client_free(c);
        iot_engine_free(e);
        server_stop(&s);
    }
}

/* "localhost" may name ::1 first, where nobody listens: the next address is tried. The
 * name is resolved off the loop (dns_cache.c) and the calls go native, the second one
 * on the kept answer and the kept connection. */
static void test_localhost_tries_each_address(void)
{
    struct action ok = {ACT_RESPOND, 200, NULL, CONN_JSON, 0};
    struct server s;
    server_start(&s, &ok, 1);
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    char url[64];
    snprintf(url, sizeof url, "http://localhost:%d", s.port);
    struct iot_client *c = client_for(e, url, 1, 3000, 2000);
    for (int i = 0; i < 2; i++) {
        struct iot_result *r = get_connection(e, c, "c1");
        CHECK_INT_EQ(r->ok, 1);
        iot_result_free(r);
    }
    struct iot_http_stats st;
    iot_engine_http_stats(e, &st);
    int curl = getenv("IOTLUA_HTTP_TRANSPORT") != NULL;
    CHECK_INT_EQ((int64_t)st.native, curl ? 0 : 2);
    CHECK_INT_EQ((int64_t)st.libcurl, curl ? 2 : 0);
    CHECK_INT_EQ(server_count(&s, NULL), 1);
    iot_client_free(c);
    iot_engine_free(e);
    server_stop(&s);
}

static void test_timers_and_cancel(void)
{
    struct iot_engine *e = engine_with(NULL, NULL, 0);
    int a = 1, b = 2, c = 3;
    uint64_t ia, ib, ic;
    CHECK_INT_EQ(test_timer_start(e, 60, &a, &ia), 0);
    CHECK_INT_EQ(test_timer_start(e, 10, &b, &ib), 0);
    CHECK_INT_EQ(test_timer_start(e, 30, &c, &ic), 0);
    CHECK_INT_EQ(iot_engine_pending(e), 3);
    long t = iot_engine_next_timeout_ms(e);
    CHECK(t >= 0 && t <= 10);
    CHECK_INT_EQ(iot_engine_cancel(e, ic), 1);
    CHECK_INT_EQ(iot_engine_cancel(e, ic), 0);
    int order[3], n = 0;
    int64_t t0 = now_ms();
    while (n < 2 && now_ms() - t0 < 2000) {
        iot_engine_poll(e, -1);
        struct iot_event ev;
        while (iot_engine_next_event(e, &ev)) {
            CHECK_INT_EQ(ev.kind, TEST_EV_TIMER);
            CHECK(ev.result == NULL);
            order[n++] = *(int *)ev.user;
        }
    }
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(order[0], 2);
    CHECK_INT_EQ(order[1], 1);
    CHECK(now_ms() - t0 >= 55);
    CHECK_INT_EQ(iot_engine_pending(e), 0);
    CHECK_INT_EQ(iot_engine_next_timeout_ms(e), -1);
    /* nothing pending: poll returns at once even with an infinite timeout */
    t0 = now_ms();
    CHECK_INT_EQ(iot_engine_poll(e, -1), 0);
    CHECK(now_ms() - t0 < 50);

    /* cancel a call in flight: no event, the engine stays usable */
    struct action slow = {ACT_RESPOND, 200, NULL, "{}", 300};
    struct server s;
    server_start(&s, &slow, 1);
    struct iot_client *cl = client_port(e, s.port, 1, 3000, 2000);
    uint64_t id = start_call(cl, "get_connection", "clientId", S("x"), NULL, S(""), NULL);
    iot_engine_poll(e, 50);
    CHECK_INT_EQ(iot_engine_cancel(e, id), 1);
    CHECK_INT_EQ(iot_engine_pending(e), 0);
    iot_client_free(cl);     /* the client may go before or after its calls */
    iot_engine_free(e);
    server_stop(&s);

    /* cancel a call waiting in its retry backoff: the timer goes with it */
    struct action busy = {ACT_RESPOND, 503, NULL, "{}", 0};
    server_start(&s, &busy, 1);
    double r09 = 0.9;
    e = engine_with(fixed_random, &r09, 0);
    cl = client_port(e, s.port, 3, 3000, 2000);
    id = start_call(cl, "get_connection", "clientId", S("x"), NULL, S(""), NULL);
    int reqs = 0;
    t0 = now_ms();
    while (reqs < 1 && now_ms() - t0 < 5000) {
        iot_engine_poll(e, 20);
        server_count(&s, &reqs);
    }
    iot_engine_poll(e, 50);     /* the 503 is in: the call now waits ~900 ms */
    long wait = iot_engine_next_timeout_ms(e);
    CHECK(wait > 500 && wait <= 900);
    CHECK_INT_EQ(iot_engine_cancel(e, id), 1);
    CHECK_INT_EQ(iot_engine_pending(e), 0);
    CHECK_INT_EQ(iot_engine_next_timeout_ms(e), -1);
    CHECK_INT_EQ(iot_engine_poll(e, 0), 0);

    /* the engine may go first with a call in flight; the client is freed afterwards */
    id = start_call(cl, "get_connection", "clientId", S("x"), NULL, S(""), NULL);
    iot_engine_poll(e, 10);
    iot_engine_free(e);
    iot_client_free(cl);
    server_stop(&s);
}

static void test_misuse_is_synchronous(void)
{
    struct iot_engine *e = engine_with(zero_random, NULL, 0);
    struct iot_client *c = client_for(e, "http://127.0.0.1:9", 1, 1000, 1000);
    struct iot_params *p = iot_params_new(iot_op_find("send_direct_message"));
    struct iot_value v = S("c1");
    char msg[256];
    iot_params_set(p, "clientId", &v, msg, sizeof msg);
    uint64_t id = 0;
    CHECK_INT_EQ(iot_call_start(c, p, NULL, &id, msg, sizeof msg), -1);
    CHECK_STR_EQ(msg, "send_direct_message: missing required parameter 'topic'");
    CHECK_INT_EQ(iot_engine_pending(e), 0);
    iot_client_free(c);

    /* configuration errors */
    struct iot_client_config cfg = {0};
    struct iot_error err;
    cfg.region = "us-east-1";
    cfg.endpoint = "ftp://example";
    CHECK(iot_client_new(e, &cfg, &err) == NULL);
    CHECK_STR_EQ(err.code, "ConfigError");
    CHECK_STR_CONTAINS(err.message, "scheme must be http or https");
    cfg.endpoint = "http://127.0.0.1:9";
    cfg.region = NULL;
    CHECK(iot_client_new(e, &cfg, &err) == NULL);
    CHECK_STR_EQ(err.message, "no region");

    /* no credentials: the call completes with CredentialsError, nothing is sent */
    cfg.region = "us-east-1";
    c = iot_client_new(e, &cfg, &err);
    CHECK_REQUIRE(c != NULL);
    struct iot_result *r = get_connection(e, c, "c1");
    CHECK_STR_EQ(r->error.code, "CredentialsError");
    CHECK_INT_EQ(r->error.retryable, 0);
    iot_result_free(r);
    iot_client_free(c);
    iot_engine_free(e);
}

static void test_error_parsing(void)
{
    struct iot_error err;
    memset(&err, 0, sizeof err);
    iot_parse_service_error(404, "ResourceNotFoundException:http://internal/", 
                            "{\"message\":\"no such client\"}", 28, &err);
    CHECK_STR_EQ(err.code, "ResourceNotFoundException");
    CHECK_STR_EQ(err.message, "no such client");
    CHECK_INT_EQ(err.status, 404);
    /* header wins over the body */
    const char *b1 = "{\"__type\":\"Other\",\"Message\":\"m\"}";
    iot_parse_service_error(400, "InvalidRequestException", b1, strlen(b1), &err);
    CHECK_STR_EQ(err.code, "InvalidRequestException");
    CHECK_STR_EQ(err.message, "m");
    /* __type with a namespace, code as fallback */
    const char *b2 = "{\"__type\":\"com.amazon.coral.service#UnauthorizedException\"}";
    iot_parse_service_error(401, NULL, b2, strlen(b2), &err);
    CHECK_STR_EQ(err.code, "UnauthorizedException");
    const char *b3 = "{\"code\":\"ForbiddenException\",\"message\":\"nope\"}";
    iot_parse_service_error(403, "", b3, strlen(b3), &err);
    CHECK_STR_EQ(err.code, "ForbiddenException");
    CHECK_STR_EQ(err.message, "nope");
    /* JSON with no code */
    iot_parse_service_error(500, NULL, "{\"x\":1}", 7, &err);
    CHECK_STR_EQ(err.code, "UnknownError");
    CHECK_STR_CONTAINS(err.message, "HTTP 500 Internal Server Error with no error code");
    /* binary junk is shown printable */
    iot_parse_service_error(503, NULL, "\x01\x02<x>", 5, &err);
    CHECK_STR_EQ(err.code, "UnknownError");
    CHECK_STR_CONTAINS(err.message, "..<x>");
}

/* A whole response → result, without a server (the path the fuzz target takes). */
static void test_response_parse(void)
{
    const struct iot_op *get = iot_op_find("GetRetainedMessage");
    CHECK_REQUIRE(get != NULL);
    const char *head = "HTTP/1.1 200 OK\r\nx-amzn-RequestId: rid-7\r\nX-A: 1\r\nx-a: 2\r\n";
    const char *body = "{\"topic\":\"t\",\"payload\":\"aGk=\",\"qos\":1,\"extra\":true}";
    struct iot_result *r = iot_response_parse(get, 200, head, strlen(head), body, strlen(body));
    CHECK_REQUIRE(r != NULL && r->ok && r->output);
    CHECK_STR_EQ(r->request_id, "rid-7");
    CHECK_INT_EQ((int64_t)r->nheaders, 2);
    CHECK_STR_EQ(r->headers[1].name, "x-a");
    CHECK_STR_EQ(r->headers[1].value, "1, 2");
    int saw_payload = 0;
    for (size_t i = 0; i < r->output->n; i++) {
        const struct iot_out *o = &r->output->items[i];
        CHECK(strcmp(o->key, "extra") != 0);    /* not a modelled member */
        if (strcmp(o->key, "payload") == 0) {
            saw_payload = 1;
            CHECK_MEM_EQ(o->str, o->len, "hi", 2);  /* blob: base64-decoded */
        }
    }
    CHECK(saw_payload);
    iot_result_free(r);

    r = iot_response_parse(get, 200, "", 0, "{\"topic\":", 10);
    CHECK_REQUIRE(r != NULL);
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "InvalidResponse");
    CHECK_INT_EQ(r->error.status, 200);
    iot_result_free(r);

    head = "HTTP/1.1 415 x\r\nx-amz-request-id: r2\r\n";
    r = iot_response_parse(get, 415, head, strlen(head), "", 0);
    CHECK_REQUIRE(r != NULL);
    CHECK_STR_EQ(r->error.code, "UnknownError");
    CHECK_STR_EQ(r->error.message, "HTTP 415 Unsupported Media Type with an empty body");
    CHECK_STR_EQ(r->request_id, "r2");
    iot_result_free(r);

    /* a status with no reason phrase in the table: none in the message either */
    struct iot_error err;
    memset(&err, 0, sizeof err);
    iot_parse_service_error(418, NULL, "", 0, &err);
    CHECK_STR_EQ(err.message, "HTTP 418 with an empty body");
}


static void test_transport_classification(void)
{
    static const struct {
        CURLcode result;
        long os_errno;
        int connected, too_large;
        const char *code, *msg;
        enum iot_failure failure;
    } cases[] = {
        {CURLE_COULDNT_RESOLVE_HOST, 0, 0, 0, "DNSError",
         "could not resolve the host name of h:1", IOT_FAIL_NETWORK},
        {CURLE_COULDNT_CONNECT, ECONNREFUSED, 0, 0, "NetworkError", "connection refused by h:1",
         IOT_FAIL_NETWORK},
        {CURLE_COULDNT_CONNECT, ENETUNREACH, 0, 0, "NetworkError", "could not connect to h:1: ",
         IOT_FAIL_NETWORK},
        {CURLE_OPERATION_TIMEDOUT, 0, 0, 0, "TimeoutError",
         "connect timeout: no connection to h:1 within 300 ms", IOT_FAIL_TIMEOUT},
        {CURLE_OPERATION_TIMEDOUT, 0, 1, 0, "TimeoutError",
         "timeout: no complete response from h:1 within 9000 ms", IOT_FAIL_TIMEOUT},
        {CURLE_SSL_CONNECT_ERROR, 0, 0, 0, "TLSError", "TLS handshake with h:1 failed: boom",
         IOT_FAIL_NETWORK},
        {CURLE_PEER_FAILED_VERIFICATION, 0, 0, 0, "TLSError",
         "TLS certificate verification for h:1 failed", IOT_FAIL_PERMANENT},
        {CURLE_SSL_CACERT_BADFILE, 0, 0, 0, "TLSError", "certificate verification",
         IOT_FAIL_PERMANENT},
        {CURLE_GOT_NOTHING, 0, 1, 0, "NetworkError", "closed by h:1 without a response",
         IOT_FAIL_NETWORK},
        {CURLE_PARTIAL_FILE, 0, 1, 0, "NetworkError", "before the whole response",
         IOT_FAIL_NETWORK},
        {CURLE_RECV_ERROR, ECONNRESET, 1, 0, "NetworkError", "connection to h:1 failed",
         IOT_FAIL_NETWORK},
        {CURLE_WRITE_ERROR, 0, 1, 1, "InvalidResponse", "too large", IOT_FAIL_PERMANENT},
        {CURLE_ABORTED_BY_CALLBACK, 0, 1, 0, "InternalError", "payload file",
         IOT_FAIL_PERMANENT},
        {CURLE_URL_MALFORMAT, 0, 0, 0, "ConfigError", "bad request URL", IOT_FAIL_PERMANENT},
        {CURLE_OUT_OF_MEMORY, 0, 0, 0, "InternalError", "the HTTP layer failed",
         IOT_FAIL_PERMANENT},
        {CURLE_FAILED_INIT, 0, 0, 0, "InternalError", "the HTTP layer failed",
         IOT_FAIL_PERMANENT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct iot_transport_failure tf = {cases[i].result, cases[i].os_errno,
                                           cases[i].connected, cases[i].too_large, "h:1",
                                           "boom", 9000, 300, NULL};
        struct iot_error err;
        memset(&err, 0, sizeof err);
        CHECK_INT_EQ(iot_classify_transport(&tf, &err), cases[i].failure);
        CHECK_STR_EQ(err.code, cases[i].code);
        CHECK_STR_CONTAINS(err.message, cases[i].msg);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);   /* the TLS server writes to clients that hung up */
    test_error_parsing();
    test_response_parse();
    test_transport_classification();
    test_success_and_wire();
    test_list_output();
    test_retries();
    test_quota_exhaustion();
    test_resigned_with_fresh_date();
    test_refused();
    test_timeouts();
    test_broken_responses();
    test_tls_against_plain_server();
    test_tls();
    test_http2();
    test_file_payload();
    test_concurrency_and_cap();
    test_server_closes_idle_connections();
    test_stray_bytes_on_idle_connection();
    test_response_framings();
    test_localhost_tries_each_address();
    test_timers_and_cancel();
    test_misuse_is_synchronous();
    return CHECK_SUMMARY();
}
