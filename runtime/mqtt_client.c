/*
 * mqtt_client.c — the MQTT connection as the engine drives it: options copied,
 * the socket as an fd source, the connect and keep-alive timers, sending, closing and
 * the owner's notices. What the packets say is mqtt_client_packets.c's.
 */
#include "mqtt_client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define MQTT_READ_CHUNK 16384
#define MQTT_MAX_INCOMING (256u * 1024u * 1024u)  /* the protocol's own limit */
#define MQTT_CONNECT_TIMEOUT_DEFAULT_MS 10000

/* ================================================================ options */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *c = malloc(n ? n : 1);
    if (c && n)
        memcpy(c, p, n);
    return c;
}

static void conf_free(struct mqtt_conf *c)
{
    free(c->host);
    free(c->ws_target);
    free((char *)c->tls.ca_file);
    free((char *)c->tls.cert_file);
    free((char *)c->tls.key_file);
    free((char *)c->tls.alpn);
    free((char *)c->tls.server_name);
    free(c->client_id);
    free(c->username);
    if (c->password) {
        OPENSSL_cleanse(c->password, c->password_len);
        free(c->password);
    }
    free(c->will_topic);
    free(c->will_payload);
    buf_free(&c->will_props);
    memset(c, 0, sizeof *c);
}

int mqtt_put_message_props(struct buf *b, const struct iot_mqtt_props *p)
{
    if (p->payload_format >= 0 &&
        mqtt_prop_u8(b, MQTT_P_PAYLOAD_FORMAT, (uint8_t)p->payload_format) != 0)
        return -1;
    if (p->message_expiry >= 0 &&
        mqtt_prop_u32(b, MQTT_P_MESSAGE_EXPIRY, (uint32_t)p->message_expiry) != 0)
        return -1;
    if (p->content_type && mqtt_prop_bytes(b, MQTT_P_CONTENT_TYPE, p->content_type,
                                           strlen(p->content_type)) != 0)
        return -1;
    if (p->response_topic && mqtt_prop_bytes(b, MQTT_P_RESPONSE_TOPIC, p->response_topic,
                                             strlen(p->response_topic)) != 0)
        return -1;
    if (p->correlation_data && mqtt_prop_bytes(b, MQTT_P_CORRELATION, p->correlation_data,
                                               p->correlation_len) != 0)
        return -1;
    for (size_t i = 0; i < p->user_count; i++)
        if (mqtt_prop_user(b, p->user[i].key, strlen(p->user[i].key), p->user[i].value,
                           strlen(p->user[i].value)) != 0)
            return -1;
    return 0;
}

static int copy_will(struct mqtt_conf *c, const struct iot_mqtt_will *w)
{
    c->has_will = 1;
    c->will_topic = strdup(w->topic);
    c->will_payload = dup_bytes(w->payload, w->payload_len);
    c->will_payload_len = w->payload_len;
    c->will_qos = w->qos;
    c->will_retain = w->retain;
    if (!c->will_topic || !c->will_payload)
        return -1;
    if (w->delay && mqtt_prop_u32(&c->will_props, MQTT_P_WILL_DELAY, w->delay) != 0)
        return -1;
    return mqtt_put_message_props(&c->will_props, &w->props);
}

static int copy_tls(struct mqtt_conf *c, const struct net_tls *t)
{
    c->tls_on = 1;
    c->tls.verify = t->verify;
    c->tls.ca_file = dup_or_null(t->ca_file);
    c->tls.cert_file = dup_or_null(t->cert_file);
    c->tls.key_file = dup_or_null(t->key_file);
    c->tls.alpn = dup_or_null(t->alpn);
    c->tls.server_name = dup_or_null(t->server_name);
    return (t->ca_file && !c->tls.ca_file) || (t->cert_file && !c->tls.cert_file) ||
                   (t->key_file && !c->tls.key_file) || (t->alpn && !c->tls.alpn) ||
                   (t->server_name && !c->tls.server_name)
               ? -1 : 0;
}

static int conf_copy(struct mqtt_conf *c, const struct iot_mqtt_opts *o)
{
    memset(c, 0, sizeof *c);
    c->host = strdup(o->host);
    c->port = o->port;
    c->client_id = strdup(o->client_id ? o->client_id : "");
    c->username = dup_or_null(o->username);
    c->ws_target = dup_or_null(o->ws_target);
    if (!c->host || !c->client_id || (o->username && !c->username) ||
        (o->ws_target && !c->ws_target))
        return -1;
    if (o->password) {
        c->has_password = 1;
        c->password_len = o->password_len;
        if (!(c->password = dup_bytes(o->password, o->password_len)))
            return -1;
    }
    c->version = o->version == MQTT_V311 ? MQTT_V311 : MQTT_V5;
    c->keepalive = o->keepalive;
    c->clean_start = o->clean_start;
    c->auto_ack = o->auto_ack;
    c->session_expiry = o->session_expiry;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                      : MQTT_CONNECT_TIMEOUT_DEFAULT_MS;
    c->queue_limit = o->queue_limit ? o->queue_limit : IOT_MQTT_QUEUE_DEFAULT;
    if (o->tls && copy_tls(c, o->tls) != 0)
        return -1;
    return o->will ? copy_will(c, o->will) : 0;
}

/* ================================================================ notices */

void mqtt_notify(struct iot_mqtt *m, const struct iot_mqtt_notice *n)
{
    if (n->kind == IOT_MQTT_N_MESSAGES) {
        if (m->messages_noticed)
            return;
        m->messages_noticed = 1;
    }
    struct mqtt_notice_node *node = malloc(sizeof *node);
    if (!node)
        return;     /* out of memory: the owner still sees the state and the queue */
    node->next = NULL;
    node->notice = *n;
    if (m->notices_tail)
        m->notices_tail->next = node;
    else
        m->notices_head = node;
    m->notices_tail = node;
    eng_item_ready(m->engine, &m->item);
}

int iot_mqtt_next_notice(struct iot_mqtt *m, struct iot_mqtt_notice *out)
{
    struct mqtt_notice_node *node = m->notices_head;
    if (!node)
        return 0;
    m->notices_head = node->next;
    if (!m->notices_head)
        m->notices_tail = NULL;
    *out = node->notice;
    free(node);
    if (out->kind == IOT_MQTT_N_MESSAGES)
        m->messages_noticed = 0;
    return 1;
}

static void free_notices(struct iot_mqtt *m)
{
    struct iot_mqtt_notice n;
    while (iot_mqtt_next_notice(m, &n))
        ;
}

/* ================================================================ the socket */

/* The bytes that go on the stream next: MQTT's own, or over WebSockets the frames. */
static struct buf *wire_queue(struct iot_mqtt *m, size_t **sent)
{
    if (m->conf.ws_target) {
        *sent = &m->wire_sent;
        return &m->wire;
    }
    *sent = &m->out_sent;
    return &m->out;
}

static void socket_ready(struct iot_engine *engine, struct eng_source *s, unsigned events);

static void update_interest(struct iot_mqtt *m)
{
    if (m->state == IOT_MQTT_CLOSED)
        return;
    size_t *sent;
    struct buf *q = wire_queue(m, &sent);
    unsigned interest = net_stream_interest(&m->ns, q->len > *sent);
    if (m->source.fd != m->ns.fd) {     /* a connect failed: on to the next address */
        eng_source_remove(m->engine, &m->source);
        eng_source_init(&m->source, m->ns.fd, interest, socket_ready);
        eng_source_add(m->engine, &m->source);
        return;
    }
    eng_source_set_interest(&m->source, interest);
}

/* The stream carries MQTT packets now (over WebSockets: once the upgrade is done). */
static int carries_mqtt(const struct iot_mqtt *m)
{
    return m->ns.state == NET_OPEN && (!m->conf.ws_target || m->ws.open);
}

static void finish_closing(struct iot_mqtt *m)
{
    struct iot_error e = {0};
    iot_error_set(&e, "Disconnected", "disconnected by this client");
    mqtt_close_with(m, &e);
}

/* Over WebSockets: the MQTT bytes queued go out as one frame. 0, or -1 (closed). */
static int frame_out(struct iot_mqtt *m)
{
    if (!m->conf.ws_target || !m->ws.open || m->out_sent == m->out.len)
        return 0;
    if (ws_client_frame(&m->wire, WS_OP_BINARY, m->out.data + m->out_sent,
                        m->out.len - m->out_sent) != 0) {
        struct iot_error e = {0};
        iot_error_set(&e, "InternalError", "out of memory framing a packet");
        mqtt_close_with(m, &e);
        return -1;
    }
    buf_reset(&m->out);
    m->out_sent = 0;
    return 0;
}

/* Sends what is queued; 0, or -1 when the connection closed. */
static int flush_out(struct iot_mqtt *m)
{
    struct iot_error err = {0};
    if (frame_out(m) != 0)
        return -1;
    size_t *sent;
    struct buf *q = wire_queue(m, &sent);
    while (*sent < q->len) {
        long n = net_stream_write(&m->ns, q->data + *sent, q->len - *sent, &err);
        if (n < 0) {
            mqtt_close_with(m, &err);
            return -1;
        }
        if (n == 0)
            break;
        *sent += (size_t)n;
    }
    if (*sent == q->len) {
        buf_reset(q);
        *sent = 0;
        if (net_stream_has_pending(&m->ns) && net_stream_write(&m->ns, NULL, 0, &err) < 0) {
            mqtt_close_with(m, &err);
            return -1;
        }
        if (m->closing && !net_stream_has_pending(&m->ns) && m->out.len == 0) {
            finish_closing(m);
            return -1;
        }
    }
    update_interest(m);
    return 0;
}

int mqtt_send(struct iot_mqtt *m, const struct buf *packet)
{
    if (m->state == IOT_MQTT_CLOSED)
        return -1;
    if (buf_append(&m->out, packet->data, packet->len) != 0) {
        struct iot_error e = {0};
        iot_error_set(&e, "InternalError", "out of memory queueing a packet");
        mqtt_close_with(m, &e);
        return -1;
    }
    m->last_sent_ms = eng_now_ms();
    if (!carries_mqtt(m)) {
        update_interest(m);
        return 0;
    }
    return flush_out(m);
}

/* Splits the bytes received into packets and handles each. */
static void handle_input(struct iot_mqtt *m)
{
    size_t off = 0;
    while (m->state != IOT_MQTT_CLOSED && off < m->in.len) {
        struct mqtt_frame f;
        enum mqtt_err e = mqtt_frame_decode((const uint8_t *)m->in.data + off, m->in.len - off,
                                            MQTT_MAX_INCOMING, &f);
        if (e == MQTT_NEED_MORE)
            break;
        if (e != MQTT_OK) {
            struct iot_error err = {0};
            iot_error_set(&err, "ProtocolError", "the server sent a malformed packet header");
            mqtt_close_with(m, &err);
            return;
        }
        mqtt_handle_frame(m, &f);
        off += f.frame_len;
    }
    if (m->state == IOT_MQTT_CLOSED || off == 0)
        return;                         /* (over WebSockets m->in may have no memory yet) */
    memmove(m->in.data, m->in.data + off, m->in.len - off);
    m->in.len -= off;
}

/* A TLS server that refuses the client's certificate (or its absence) after the
 * handshake, as TLS 1.3 allows, just closes: before CONNACK that is a TLS failure. */
static void name_early_tls_close(const struct iot_mqtt *m, struct iot_error *err)
{
    if (m->state != IOT_MQTT_CONNECTING || !m->conf.tls_on || m->ns.state != NET_OPEN ||
        m->conf.ws_target || strcmp(err->code, "NetworkError"))
        return;
    char was[IOT_ERR_MESSAGE_MAX];
    snprintf(was, sizeof was, "%s", err->message);
    iot_error_set(err, "TLSError", "the server closed the TLS connection before CONNACK (%s): "
                  "it may require a client certificate, or refuse this one", was);
}

static void stream_opened(struct iot_mqtt *m);

/* Over WebSockets, bytes received: first the server's answer to the upgrade, then its
 * frames, whose payload goes to m->in. 0, or -1 when the connection closed. */
static int take_ws_input(struct iot_mqtt *m, struct iot_error *err)
{
    if (!m->ws.open) {
        size_t used = 0;
        int r = ws_client_read_answer(&m->ws, m->ws_in.data, m->ws_in.len, &used, err);
        if (r <= 0)
            return r;
        memmove(m->ws_in.data, m->ws_in.data + used, m->ws_in.len - used);
        m->ws_in.len -= used;
        stream_opened(m);
        if (m->state == IOT_MQTT_CLOSED)
            return -1;
    }
    size_t replies = m->wire.len;
    int r = ws_client_unframe(&m->ws, (uint8_t *)m->ws_in.data, m->ws_in.len, &m->in,
                              &m->wire, err);
    buf_reset(&m->ws_in);
    if (r == 0 && m->wire.len > replies && flush_out(m) != 0)
        return -1;
    return r;
}

/* Bytes from the stream into buf: > 0 read, 0 none ready, -1 ended (err). */
static long read_chunk(struct iot_mqtt *m, struct buf *b, struct iot_error *err)
{
    if (buf_reserve(b, MQTT_READ_CHUNK) != 0) {
        iot_error_set(err, "InternalError", "out of memory reading from the server");
        return -2;
    }
    long n = net_stream_read(&m->ns, b->data + b->len, MQTT_READ_CHUNK, err);
    if (n > 0)
        b->len += (size_t)n;
    return n;
}

static void read_input(struct iot_mqtt *m)
{
    struct iot_error err = {0};
    struct buf *b = m->conf.ws_target ? &m->ws_in : &m->in;
    for (;;) {
        long n = read_chunk(m, b, &err);
        int failed = n == -2 || (n > 0 && m->conf.ws_target && take_ws_input(m, &err) != 0);
        if (m->state == IOT_MQTT_CLOSED)
            return;
        if (n == 0)
            break;
        handle_input(m);                /* what came before an end still counts */
        if (m->state == IOT_MQTT_CLOSED)
            return;
        if (n < 0 || failed) {
            mqtt_close_with(m, &err);
            return;
        }
    }
}

/* The stream is open: the first thing said is CONNECT. */
static void stream_opened(struct iot_mqtt *m)
{
    struct buf packet = BUF_INIT;
    struct iot_error err = {0};
    int clean = m->generation > 1 ? 0 : m->conf.clean_start;
    if (mqtt_build_connect(&m->conf, clean, &packet, &err) != 0) {
        buf_free(&packet);
        mqtt_close_with(m, &err);
        return;
    }
    /* CONNECT goes before anything queued meanwhile. */
    struct buf queued = m->out;
    m->out = packet;
    m->out_sent = 0;
    if (queued.len && buf_append(&m->out, queued.data, queued.len) != 0) {
        buf_free(&queued);
        iot_error_set(&err, "InternalError", "out of memory");
        mqtt_close_with(m, &err);
        return;
    }
    buf_free(&queued);
    m->last_sent_ms = eng_now_ms();
    flush_out(m);
}

/* Over WebSockets the open stream first carries the upgrade request. */
static void start_upgrade(struct iot_mqtt *m)
{
    struct iot_error err = {0};
    buf_reset(&m->wire);
    m->wire_sent = 0;
    if (ws_client_start(&m->ws, m->conf.host, m->conf.port, m->conf.tls_on ? 443 : 80,
                        m->conf.ws_target, &m->wire, &err) != 0) {
        mqtt_close_with(m, &err);
        return;
    }
    flush_out(m);
}

static void socket_ready(struct iot_engine *engine, struct eng_source *s, unsigned events)
{
    (void)engine;
    struct iot_mqtt *m = DL_CONTAINER(s, struct iot_mqtt, source);
    if (m->ns.state != NET_OPEN) {
        struct iot_error err = {0};
        int r = net_stream_progress(&m->ns, &err);
        if (r < 0) {
            mqtt_close_with(m, &err);
            return;
        }
        if (r == 0) {
            update_interest(m);
            return;
        }
        if (m->ns.ssl)
            eng_tls_count_handshake(m->engine, net_stream_resumed(&m->ns));
        if (m->conf.ws_target)
            start_upgrade(m);
        else
            stream_opened(m);
        if (m->state == IOT_MQTT_CLOSED)
            return;
    }
    if (events & ENG_READ)
        read_input(m);
    if (m->state != IOT_MQTT_CLOSED && (events & ENG_WRITE))
        flush_out(m);
    update_interest(m);
}

/* ================================================================ timers */

static void connect_timed_out(struct iot_engine *engine, struct eng_timer *t)
{
    (void)engine;
    struct iot_mqtt *m = DL_CONTAINER(t, struct iot_mqtt, connect_timer);
    struct iot_error err = {0};
    const char *stage = m->resolving ? "host name to resolve"
                        : m->ns.state == NET_CONNECTING ? "TCP connect"
                        : m->ns.state == NET_HANDSHAKE ? "TLS handshake"
                        : m->conf.ws_target && !m->ws.open ? "WebSocket upgrade" : "CONNACK";
    iot_error_set(&err, "TimeoutError", "no connection within %ld ms (waiting for the %s)",
                  m->conf.connect_timeout_ms, stage);
    mqtt_close_with(m, &err);
}

static void arm_keepalive(struct iot_mqtt *m)
{
    if (!m->keepalive)
        return;
    long ka_ms = (long)m->keepalive * 1000;
    long idle = (long)(eng_now_ms() - m->last_sent_ms);
    long wait = m->ping_outstanding ? ka_ms : ka_ms - idle;
    eng_timer_arm(m->engine, &m->keepalive_timer, wait > 0 ? wait : 0);
}

static void keepalive_due(struct iot_engine *engine, struct eng_timer *t)
{
    (void)engine;
    struct iot_mqtt *m = DL_CONTAINER(t, struct iot_mqtt, keepalive_timer);
    if (m->ping_outstanding) {
        struct iot_error err = {0};
        iot_error_set(&err, "TimeoutError", "no PINGRESP from the server within the "
                      "keep-alive of %u s", (unsigned)m->keepalive);
        mqtt_close_with(m, &err);
        return;
    }
    if (eng_now_ms() - m->last_sent_ms >= (int64_t)m->keepalive * 1000) {
        struct buf ping = BUF_INIT;
        if (mqtt_write_pingreq(&ping) == 0 && mqtt_send(m, &ping) == 0)
            m->ping_outstanding = 1;
        buf_free(&ping);
        if (m->state == IOT_MQTT_CLOSED)
            return;
    }
    arm_keepalive(m);
}

void mqtt_connected(struct iot_mqtt *m, int session_present)
{
    eng_timer_disarm(m->engine, &m->connect_timer);
    m->state = IOT_MQTT_CONNECTED;
    m->session_present = session_present;
    m->ping_outstanding = 0;
    arm_keepalive(m);
    if (session_present)
        mqtt_resend_publishes(m);
    else
        mqtt_drop_ops(m, 1);
    struct iot_mqtt_notice n = {.kind = IOT_MQTT_N_CONNACK, .session_present = session_present};
    mqtt_notify(m, &n);
}

/* ================================================================ connecting, closing */

/* Opens m->ns to the server: at once for an IP address, on the engine's cached answer for
 * a name, or later (m->resolving: dns_answered) while the name is being resolved. 0, or
 * -1 with err. */
static int connect_stream(struct iot_mqtt *m, struct dns_addrs *addrs, struct iot_error *err);

static int open_stream(struct iot_mqtt *m, struct iot_error *err)
{
    if (net_is_ip_literal(m->conf.host))
        return connect_stream(m, NULL, err);
    struct dns_addrs *addrs = NULL;
    char why[IOT_ERR_MESSAGE_MAX];
    int r = eng_dns_lookup(m->engine, m->conf.host, m->conf.port, &addrs, why, sizeof why,
                           &m->dns_wait);
    if (r < 0) {
        iot_error_set(err, "DNSError", "%s", why);
        return -1;
    }
    if (r == 0) {
        net_stream_init(&m->ns);
        m->resolving = 1;
        return 0;
    }
    r = connect_stream(m, addrs, err);
    dns_addrs_release(addrs);
    return r;
}

/* Starts the connect to addrs (NULL: the IP address m->conf.host). Over TLS through the
 * engine's context for these options (engine_tls.c): devices that share a certificate
 * read it once, and a reconnect resumes its session. */
static int connect_stream(struct iot_mqtt *m, struct dns_addrs *addrs, struct iot_error *err)
{
    struct net_tls tls = m->conf.tls;
    if (m->conf.tls_on) {
        if (!(tls.shared = eng_tls_ctx(m->engine, &m->conf.tls, err)))
            return -1;
        snprintf(m->tls_session_key, sizeof m->tls_session_key, "%s:%d", m->conf.host,
                 m->conf.port);
        tls.session_key = m->tls_session_key;
    }
    const struct net_tls *use = m->conf.tls_on ? &tls : NULL;
    int r = addrs ? net_stream_open_addrs(&m->ns, m->conf.host, addrs, use, err)
                  : net_stream_open(&m->ns, m->conf.host, m->conf.port, use, err);
    net_tls_ctx_free(tls.shared);       /* the stream holds its own reference */
    return r;
}

static void watch_stream(struct iot_mqtt *m)
{
    eng_source_init(&m->source, m->ns.fd, net_stream_interest(&m->ns, 0), socket_ready);
    eng_source_add(m->engine, &m->source);
}

/* The answer for the host name came: connect, wait again, or fail. */
static void dns_answered(struct iot_engine *engine, struct eng_dns_waiter *w)
{
    (void)engine;
    struct iot_mqtt *m = DL_CONTAINER(w, struct iot_mqtt, dns_wait);
    struct iot_error err = {0};
    m->resolving = 0;
    if (open_stream(m, &err) != 0) {
        mqtt_close_with(m, &err);
        return;
    }
    if (!m->resolving)
        watch_stream(m);
}

static int start_stream(struct iot_mqtt *m, struct iot_error *err)
{
    m->resolving = 0;
    if (open_stream(m, err) != 0)
        return -1;
    m->generation++;
    m->state = IOT_MQTT_CONNECTING;
    m->closing = 0;
    m->ping_outstanding = 0;
    memset(&m->close_reason, 0, sizeof m->close_reason);
    m->keepalive = (uint16_t)m->conf.keepalive;
    buf_reset(&m->in);
    m->ws.open = 0;
    buf_reset(&m->ws_in);
    buf_reset(&m->wire);
    m->wire_sent = 0;
    if (!m->resolving)
        watch_stream(m);
    eng_timer_arm(m->engine, &m->connect_timer, m->conf.connect_timeout_ms);
    return 0;
}

void mqtt_close_with(struct iot_mqtt *m, const struct iot_error *why)
{
    if (m->state == IOT_MQTT_CLOSED)
        return;
    struct iot_error named = *why;
    name_early_tls_close(m, &named);
    if (m->state == IOT_MQTT_CONNECTING) {  /* say where: the URL may have been a default */
        char code[IOT_ERR_CODE_MAX], message[IOT_ERR_MESSAGE_MAX];
        snprintf(code, sizeof code, "%s", named.code[0] ? named.code : "NetworkError");
        snprintf(message, sizeof message, "%s", named.message);
        iot_error_set(&named, code, "connecting to %s:%d: %s", m->conf.host, m->conf.port,
                      message);
        named.status = why->status;
    }
    const struct iot_error *err = &named;
    eng_dns_unwait(&m->dns_wait);
    m->resolving = 0;
    eng_source_remove(m->engine, &m->source);
    net_stream_close(&m->ns);
    eng_timer_disarm(m->engine, &m->connect_timer);
    eng_timer_disarm(m->engine, &m->keepalive_timer);
    m->state = IOT_MQTT_CLOSED;
    m->closing = 0;
    m->close_reason = *err;
    buf_reset(&m->out);
    m->out_sent = 0;
    buf_reset(&m->in);
    buf_reset(&m->ws_in);
    buf_reset(&m->wire);
    m->wire_sent = 0;
    mqtt_drop_ops(m, 0);
    struct iot_mqtt_notice n = {.kind = IOT_MQTT_N_CLOSED, .error = *err};
    mqtt_notify(m, &n);
}

static void pop_hook(struct iot_engine *engine, struct eng_item *item, struct iot_event *ev)
{
    (void)engine;
    ev->payload = DL_CONTAINER(item, struct iot_mqtt, item);
}

static void destroy_hook(struct iot_engine *engine, struct eng_item *item)
{
    struct iot_mqtt *m = DL_CONTAINER(item, struct iot_mqtt, item);
    eng_dns_unwait(&m->dns_wait);
    eng_source_remove(engine, &m->source);
    net_stream_close(&m->ns);
    eng_timer_disarm(engine, &m->connect_timer);
    eng_timer_disarm(engine, &m->keepalive_timer);
    mqtt_drop_ops(m, 1);
    mqtt_free_queue(m);
    free_notices(m);
    buf_free(&m->in);
    buf_free(&m->out);
    buf_free(&m->ws_in);
    buf_free(&m->wire);
    free(m->assigned_client_id);
    conf_free(&m->conf);
    free(m);
}

struct iot_mqtt *iot_mqtt_connect(struct iot_engine *engine, const struct iot_mqtt_opts *opts,
                                  void *user, struct iot_error *err)
{
    struct iot_mqtt *m = calloc(1, sizeof *m);
    if (!m) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    m->engine = engine;
    m->ns.fd = -1;
    m->ns.state = NET_CLOSED;
    eng_source_init(&m->source, -1, 0, socket_ready);
    eng_dns_waiter_init(&m->dns_wait, dns_answered);
    eng_timer_init(&m->connect_timer, connect_timed_out);
    eng_timer_init(&m->keepalive_timer, keepalive_due);
    dl_init(&m->ops);
    m->item.id = eng_next_id(engine);
    m->item.user = user;
    m->item.kind = IOT_EV_MQTT;
    m->item.stream = 1;
    m->item.pop = pop_hook;
    m->item.destroy = destroy_hook;
    eng_item_track(engine, &m->item);
    if (conf_copy(&m->conf, opts) != 0) {
        iot_error_set(err, "InternalError", "out of memory");
        eng_item_finish(engine, &m->item);
        return NULL;
    }
    if (start_stream(m, err) != 0) {
        char code[IOT_ERR_CODE_MAX], was[IOT_ERR_MESSAGE_MAX];
        snprintf(code, sizeof code, "%s", err->code);
        snprintf(was, sizeof was, "%s", err->message);
        iot_error_set(err, code, "connecting to %s:%d: %s", opts->host, opts->port, was);
        eng_item_finish(engine, &m->item);
        return NULL;
    }
    return m;
}

int iot_mqtt_reconnect(struct iot_mqtt *m, struct iot_error *err)
{
    if (m->state != IOT_MQTT_CLOSED) {
        iot_error_set(err, "ConfigError", "the connection is not closed");
        return -1;
    }
    free_notices(m);
    return start_stream(m, err);
}

int iot_mqtt_set_ws_target(struct iot_mqtt *m, const char *target)
{
    char *copy = m->conf.ws_target ? strdup(target) : NULL;
    if (!copy)
        return -1;
    free(m->conf.ws_target);
    m->conf.ws_target = copy;
    return 0;
}

enum iot_mqtt_state iot_mqtt_state(const struct iot_mqtt *m)
{
    return m->state;
}

const struct iot_error *iot_mqtt_close_reason(const struct iot_mqtt *m)
{
    return &m->close_reason;
}

void iot_mqtt_disconnect(struct iot_mqtt *m, uint8_t reason, int64_t session_expiry)
{
    if (m->state == IOT_MQTT_CLOSED)
        return;
    if (m->state != IOT_MQTT_CONNECTED) {
        finish_closing(m);
        return;
    }
    struct buf props = BUF_INIT, packet = BUF_INIT;
    int ok = 1;
    if (session_expiry >= 0 && m->conf.version == MQTT_V5)
        ok = mqtt_prop_u32(&props, MQTT_P_SESSION_EXPIRY, (uint32_t)session_expiry) == 0;
    ok = ok && mqtt_write_disconnect(&packet, (uint8_t)m->conf.version, reason,
                                     (const uint8_t *)props.data, props.len) == 0;
    buf_free(&props);
    m->closing = 1;                     /* flush_out closes once the packet is written */
    if (ok)
        mqtt_send(m, &packet);
    else
        finish_closing(m);
    buf_free(&packet);
}

void iot_mqtt_drop(struct iot_mqtt *m)
{
    struct iot_error e = {0};
    iot_error_set(&e, "Dropped", "connection dropped by this client (no DISCONNECT sent)");
    mqtt_close_with(m, &e);
}

void iot_mqtt_free(struct iot_mqtt *m)
{
    if (m)
        eng_item_finish(m->engine, &m->item);
}

void iot_mqtt_get_stats(const struct iot_mqtt *m, struct iot_mqtt_stats *out)
{
    out->received = m->received;
    out->dropped = m->dropped;
    out->queued = m->queued;
    out->queue_limit = m->conf.queue_limit;
    out->session_present = m->session_present;
    out->keepalive = m->keepalive;
    out->version = m->conf.version;
    out->client_id = m->assigned_client_id ? m->assigned_client_id : m->conf.client_id;
}
