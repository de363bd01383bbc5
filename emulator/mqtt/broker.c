/*
 * broker.c — the broker's public face (broker.h): listening, the HTTP side's publish,
 * direct messages, connection info and subscriptions, and the housekeeping timers.
 */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "broker_internal.h"

int64_t broker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void broker_log(const struct broker *b, int level, const char *fmt, ...)
{
    if (level > b->log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("iotlua-emulator: mqtt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *peer,
                      int peer_len, void *arg)
{
    (void)l;
    broker_conn_accept(arg, fd, peer, peer_len);
}

/* EMFILE and friends: say so once, stop accepting for 100 ms instead of spinning (the
 * pending clients wait in the backlog), then try again. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct broker *b = arg;
    fprintf(stderr, "iotlua-emulator: mqtt: accept failed (%s); pausing 100 ms\n",
            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    struct timeval pause = {0, 100000};
    evconnlistener_disable(l);
    event_add(b->accept_pause, &pause);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = arg;
    evconnlistener_enable(b->listener);
}

/* Frees the connections closed since the last run whose output is flushed. */
static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct broker *b = arg;
    struct conn *c = b->dead;
    while (c) {
        struct conn *next = c->next;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
            broker_conn_free(c);
        c = next;
    }
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    broker_sweep_sessions(arg, broker_now_ms());
}

static struct evconnlistener *listen_on(struct broker *b, const char *host, int port,
                                        int *bound_port_out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "iotlua-emulator: mqtt: bad listen address '%s': %s\n", host,
                gai_strerror(rc));
        return NULL;
    }
    struct evconnlistener *l = evconnlistener_new_bind(
        b->base, on_accept, b, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096, ai->ai_addr,
        (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (!l) {
        fprintf(stderr, "iotlua-emulator: mqtt: cannot listen on %s:%d: %s\n", host, port,
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return NULL;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len);
    *bound_port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return l;
}

struct broker *broker_new(struct event_base *base, const struct broker_options *options,
                          int *bound_port_out)
{
    struct broker *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->base = base;
    b->tls = options->tls;
    b->log_level = options->log_level;
    b->max_body = options->max_packet_size > 0 ? (size_t)options->max_packet_size
                                                : BROKER_PAYLOAD_MAX + 8192;
    b->keep_alive_min = (uint16_t)(options->keep_alive_min > 0 ? options->keep_alive_min
                                                               : BROKER_KEEP_ALIVE_MIN);
    b->keep_alive_max = (uint16_t)(options->keep_alive_max > 0 ? options->keep_alive_max
                                                               : BROKER_KEEP_ALIVE_MAX);
    b->retained_max = options->retained_max > 0 ? (size_t)options->retained_max
                                                : BROKER_RETAINED_MAX;
    b->reaper = event_new(base, -1, 0, on_reap, b);
    b->sweeper = event_new(base, -1, EV_PERSIST, on_sweep, b);
    b->accept_pause = event_new(base, -1, 0, on_accept_resume, b);
    if (!b->reaper || !b->sweeper || !b->accept_pause)
        goto fail;
    struct timeval second = {1, 0};
    event_add(b->sweeper, &second);
    const char *host = options->host ? options->host : "127.0.0.1";
    if (!(b->listener = listen_on(b, host, options->port, bound_port_out)))
        goto fail;
    return b;
fail:
    broker_free(b);
    return NULL;
}

static void free_session_entry(void *arg, struct strmap_entry *e)
{
    struct broker *b = arg;
    broker_session_clear_state(b, e->value);
    broker_session_free(e->value);
}

void broker_free(struct broker *b)
{
    if (!b)
        return;
    if (b->listener)
        evconnlistener_free(b->listener);
    while (b->conns)
        broker_conn_free(b->conns);
    while (b->dead)
        broker_conn_free(b->dead);
    broker_strmap_each(&b->sessions, free_session_entry, b);
    broker_strmap_free(&b->sessions);
    broker_retained_free_all(b);
    broker_sub_store_free(&b->subs);
    if (b->reaper)
        event_free(b->reaper);
    if (b->sweeper)
        event_free(b->sweeper);
    if (b->accept_pause)
        event_free(b->accept_pause);
    while (b->observers) {
        struct publish_observer *o = b->observers;
        b->observers = o->next;
        free(o);
    }
    free(b);
}

enum broker_publish_status broker_publish(struct broker *b, const struct broker_message *message)
{
    struct mqtt_msg *msg = broker_msg_from_broker_message(message, broker_now_ms());
    if (!msg)
        return BROKER_PUBLISH_NOMEM;
    bool routed = broker_route(b, msg, NULL);
    broker_msg_unref(msg);
    return routed ? BROKER_PUBLISH_OK : BROKER_PUBLISH_RETAINED_QUOTA;
}

void broker_get_stats(const struct broker *b, struct broker_stats *stats_out)
{
    *stats_out = b->stats;
}

int broker_add_publish_observer(struct broker *b, broker_publish_observer observer, void *arg)
{
    struct publish_observer *o = calloc(1, sizeof *o);
    if (!o)
        return -1;
    o->fn = observer;
    o->arg = arg;
    struct publish_observer **tail = &b->observers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = o;
    return 0;
}

void broker_remove_publish_observer(struct broker *b, broker_publish_observer observer,
                                    void *arg)
{
    for (struct publish_observer **p = &b->observers; *p; p = &(*p)->next) {
        if ((*p)->fn == observer && (*p)->arg == arg) {
            struct publish_observer *gone = *p;
            *p = gone->next;
            free(gone);
            return;
        }
    }
}

static struct session *online_session(struct broker *b, const char *client_id)
{
    struct session *s = broker_strmap_get(&b->sessions, client_id, strlen(client_id));
    return s && s->conn && s->conn->state == CONN_CONNECTED ? s : NULL;
}

enum broker_direct_status broker_send_direct(struct broker *b, const char *client_id,
                                             const struct broker_message *message,
                                             broker_direct_done on_done, void *arg,
                                             struct broker_direct **handle_out)
{
    if (handle_out)
        *handle_out = NULL;
    struct session *s = online_session(b, client_id);
    if (!s)
        return BROKER_DIRECT_NOT_CONNECTED;
    struct mqtt_msg *msg = broker_msg_from_broker_message(message, broker_now_ms());
    if (!msg)
        return BROKER_DIRECT_NOT_CONNECTED;
    if (message->qos == 0) {
        broker_send_publish(s->conn, msg, 0, 0, false, false);
        broker_msg_unref(msg);
        return BROKER_DIRECT_SENT;
    }
    if (!broker_publish_fits(s->conn, msg, 1)) {
        broker_msg_unref(msg);      /* never sent: the caller's own timeout ends the wait */
        return BROKER_DIRECT_SENT;
    }
    struct broker_direct *d = on_done ? calloc(1, sizeof(*d)) : NULL;
    struct inflight *slot = broker_session_send_qos1(s, msg, false);
    broker_msg_unref(msg);
    if (!slot) {
        free(d);
        return BROKER_DIRECT_NOT_CONNECTED;
    }
    if (d) {
        *d = (struct broker_direct){s, slot, on_done, arg};
        slot->direct = d;
    }
    if (handle_out)
        *handle_out = d;
    return BROKER_DIRECT_SENT;
}

void broker_direct_cancel(struct broker_direct *handle)
{
    if (!handle)
        return;
    handle->slot->direct = NULL;
    free(handle);
}

int broker_get_connection(struct broker *b, const char *client_id,
                          struct broker_connection_info *info_out)
{
    struct session *s = broker_strmap_get(&b->sessions, client_id, strlen(client_id));
    if (!s)
        return -1;
    *info_out = s->info;
    info_out->connected = s->conn && s->conn->state == CONN_CONNECTED;
    return 0;
}

int broker_list_subscriptions(struct broker *b, const char *client_id,
                              broker_subscription_visitor visit, void *arg)
{
    struct session *s = broker_strmap_get(&b->sessions, client_id, strlen(client_id));
    bool online = s && s->conn && s->conn->state == CONN_CONNECTED;
    if (!s || (!online && !s->persistent))
        return -1;
    for (size_t i = 0; i < s->sub_count; i++)
        visit(arg, s->subs[i].filter, s->subs[i].qos);
    return (int)s->sub_count;
}

int broker_disconnect_client(struct broker *b, const char *client_id)
{
    struct session *s = online_session(b, client_id);
    if (!s)
        return -1;
    broker_conn_close(s->conn, REASON_SERVER_INITIATED, 0x98, true);   /* Administrative action */
    return 0;
}

int broker_delete_connection(struct broker *b, const char *client_id, bool clean_session,
                             bool prevent_will)
{
    struct session *s = online_session(b, client_id);
    if (!s)
        return -1;
    broker_conn_close(s->conn, REASON_API_INITIATED, 0x98, !prevent_will);
    if (clean_session) {
        if (prevent_will)
            broker_session_cancel_will(s);
        else
            broker_session_release_will(s);
        broker_session_clear_state(b, s);
    }
    return 0;
}
