/*
 * conn.c — one MQTT network connection on a libevent bufferevent: TCP, TLS, or any stream
 * handed over by broker_adopt_stream (WebSockets: a filter that carries the bytes in
 * frames), the same code for all of them from here on: framing
 * of the input, keep-alive enforcement (a read timeout of 1.5 x keep alive), and closing.
 * A closed connection is unlinked at once and freed by the broker's reaper, so code
 * running inside its callbacks never sees it freed under its feet.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "broker_internal.h"

static void list_remove(struct conn **head, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void list_push(struct conn **head, struct conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void address_string(const struct sockaddr *sa, char *ip, size_t ip_size,
                           uint16_t *port)
{
    ip[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)ip_size);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)ip_size);
        *port = ntohs(in6->sin6_port);
    }
}

/* ---------------------------------------------------------------- input */

static void read_frames(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (c->state != CONN_CLOSING) {
        size_t len = evbuffer_get_length(in);
        uint8_t head[5];
        size_t n = evbuffer_copyout(in, head, len < sizeof(head) ? len : sizeof(head));
        size_t header_len, body_len;
        enum mqtt_err e = mqtt_frame_header(head, n, &header_len, &body_len);
        if (e == MQTT_NEED_MORE)
            return;
        if (e == MQTT_OK && body_len > c->broker->max_body)
            e = MQTT_E_TOO_LARGE;
        if (e != MQTT_OK) {
            broker_conn_fail(c, e);
            return;
        }
        if (len < header_len + body_len)
            return;
        const uint8_t *bytes = evbuffer_pullup(in, (ev_ssize_t)(header_len + body_len));
        struct mqtt_frame f;
        if (!bytes || mqtt_frame_decode(bytes, header_len + body_len, c->broker->max_body,
                                        &f) != MQTT_OK) {
            broker_conn_fail(c, MQTT_E_NOMEM);
            return;
        }
        broker_dispatch_packet(c, &f);
        evbuffer_drain(in, header_len + body_len);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    read_frames(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what == BEV_EVENT_CONNECTED)
        return;         /* the TLS handshake finished */
    if (c->state == CONN_CLOSING) {
        broker_conn_free(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        broker_conn_close(c, REASON_KEEP_ALIVE, 0x8D, true);   /* Keep Alive timeout */
        return;
    }
    broker_conn_close(c, REASON_CONNECTION_LOST, -1, true);
}

/* Output drained after close: now the connection can go. */
static void on_drained(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (c->state == CONN_CLOSING)
        broker_conn_free(c);
}

/* ---------------------------------------------------------------- accept */

static struct bufferevent *make_bev(struct broker *b, int fd)
{
    /* deferred callbacks: no callback ever runs inside our own calls into libevent */
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (!b->tls)
        return bufferevent_socket_new(b->base, fd, opts);
    SSL *ssl = SSL_new(b->tls);
    if (!ssl)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        b->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
    if (!bev)
        SSL_free(ssl);
    return bev;
}

/* A connection on bev, whatever carries it: the broker owns bev from here (on failure
 * too). peer and local are the TCP addresses GetConnection reports; local may be NULL. */
static int conn_attach(struct broker *b, struct bufferevent *bev, const struct sockaddr *peer,
                       const struct sockaddr *local)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        bufferevent_free(bev);
        return -1;
    }
    c->broker = b;
    c->bev = bev;
    c->client_receive_max = 65535;
    c->client_max_packet = UINT32_MAX;
    address_string(peer, c->peer_ip, sizeof(c->peer_ip), &c->peer_port);
    if (local)
        address_string(local, c->local_ip, sizeof(c->local_ip), &c->local_port);
    list_push(&b->conns, c);
    bufferevent_setcb(bev, on_read, NULL, on_event, c);
    broker_conn_set_keep_alive(c, -1);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return 0;
}

void broker_conn_accept(struct broker *b, int fd, const struct sockaddr *peer, int peer_len)
{
    (void)peer_len;
    /* Packets go out at once: with Nagle's algorithm a packet written in more than one
     * piece (a TLS record per piece, or a PUBLISH larger than one buffer chunk) waited
     * for the client's delayed ACK, ~40 ms (emulator/bench/mqtt_latency.py). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bufferevent *bev = make_bev(b, fd);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    struct sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    bool have_local = getsockname(fd, (struct sockaddr *)&local, &local_len) == 0;
    conn_attach(b, bev, peer, have_local ? (struct sockaddr *)&local : NULL);
}

int broker_adopt_stream(struct broker *b, struct bufferevent *bev, const struct sockaddr *peer,
                        const struct sockaddr *local)
{
    return conn_attach(b, bev, peer, local);
}

/* seconds > 0: a read timeout of 1.5 x seconds; 0: none; -1: the CONNECT deadline. */
void broker_conn_set_keep_alive(struct conn *c, int seconds)
{
    struct timeval tv = {BROKER_CONNECT_TIMEOUT, 0};
    if (seconds == 0) {
        bufferevent_set_timeouts(c->bev, NULL, NULL);
        return;
    }
    if (seconds > 0) {
        long ms = (long)seconds * 1500;
        tv.tv_sec = ms / 1000;
        tv.tv_usec = (ms % 1000) * 1000;
    }
    bufferevent_set_timeouts(c->bev, &tv, NULL);
}

void broker_conn_peer_common_name(struct conn *c, char *out, size_t out_size)
{
    out[0] = '\0';
    if (!c->broker->tls)
        return;
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    X509 *cert = ssl ? SSL_get_peer_certificate(ssl) : NULL;
    if (!cert)
        return;
    X509_NAME *subject = X509_get_subject_name(cert);
    if (subject && X509_NAME_get_text_by_NID(subject, NID_commonName, out, (int)out_size) < 0)
        out[0] = '\0';
    X509_free(cert);
}

/* ---------------------------------------------------------------- output */

int broker_conn_write_raw(struct conn *c, const void *data, size_t len)
{
    if (c->state == CONN_CLOSING)
        return -1;
    return bufferevent_write(c->bev, data, len);
}

int broker_conn_write(struct conn *c, const struct buf *data)
{
    return broker_conn_write_raw(c, data->data, data->len);
}

/* ---------------------------------------------------------------- closing */

void broker_conn_close(struct conn *c, const char *reason, int mqtt5_reason, bool send_will)
{
    if (c->state == CONN_CLOSING)
        return;
    bool was_connected = c->state == CONN_CONNECTED;
    struct broker *b = c->broker;
    if (was_connected && c->version == MQTT_V5 && mqtt5_reason >= 0)
        broker_send_disconnect(c, (uint8_t)mqtt5_reason);
    c->state = CONN_CLOSING;
    struct session *s = c->session;
    if (s) {
        broker_log(b, LOG_INFO, "%s disconnected: %s", s->client_id, reason);
        broker_session_detach(b, s, reason);
        c->session = NULL;
        broker_lifecycle_disconnected(b, s, reason);
    }
    struct mqtt_msg *will = c->will;
    c->will = NULL;
    if (will && send_will) {
        /* a delayed will waits for the session to be resumed, at most until it expires */
        uint32_t delay = c->will_delay;
        if (s && s->persistent && s->expiry_interval < delay)
            delay = s->expiry_interval;
        if (s && s->persistent && delay > 0)
            broker_session_schedule_will(s, will, delay);
        else
            broker_route(b, will, NULL);
    }
    broker_msg_unref(will);
    list_remove(&b->conns, c);
    list_push(&b->dead, c);
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, NULL, on_drained, on_event, c);
    struct timeval flush = {2, 0};
    bufferevent_set_timeouts(c->bev, NULL, &flush);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        event_active(b->reaper, EV_TIMEOUT, 0);
}

void broker_conn_fail(struct conn *c, enum mqtt_err err)
{
    broker_log(c->broker, LOG_INFO, "closing %s:%u (%s): %s", c->peer_ip, c->peer_port,
               c->session ? c->session->client_id : "before CONNECT", broker_error_name(err));
    broker_conn_close(c, err == MQTT_E_NOMEM ? REASON_SERVER_ERROR : REASON_CLIENT_ERROR,
               broker_reason_code(err), true);
}

/* Frees a connection, closed (on the dead list) or not (broker shutdown). */
void broker_conn_free(struct conn *c)
{
    list_remove(c->state == CONN_CLOSING ? &c->broker->dead : &c->broker->conns, c);
    if (c->session)
        broker_session_detach(c->broker, c->session, REASON_SERVER_INITIATED);
    broker_msg_unref(c->will);
    broker_alias_free(c);
    bufferevent_free(c->bev);
    free(c);
}
