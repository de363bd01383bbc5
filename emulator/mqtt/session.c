/*
 * session.c — MQTT sessions: subscriptions, QoS 1 messages in flight and queued, and the
 * connection record GetConnection reads. A session outlives its connections; it keeps
 * its state while offline only when persistent, until its expiry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "broker_internal.h"

struct session *broker_session_get_or_create(struct broker *b, const char *client_id, size_t len)
{
    struct session *s = broker_strmap_get(&b->sessions, client_id, len);
    if (s)
        return s;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    struct strmap_entry *e = broker_strmap_put(&b->sessions, client_id, len, s);
    if (!e) {
        free(s);
        return NULL;
    }
    s->client_id = e->key;
    s->broker = b;      /* the map's copy lives as long as the entry */
    size_t n = len < sizeof(s->info.client_id) - 1 ? len : sizeof(s->info.client_id) - 1;
    memcpy(s->info.client_id, client_id, n);
    return s;
}

static uint16_t next_packet_id(struct session *s)
{
    for (;;) {
        if (++s->next_packet_id == 0)
            s->next_packet_id = 1;
        bool used = false;
        for (struct inflight *f = s->inflight; f && !used; f = f->next)
            used = f->packet_id == s->next_packet_id;
        if (!used)
            return s->next_packet_id;
    }
}

static bool online(const struct session *s)
{
    return s->conn && s->conn->state == CONN_CONNECTED;
}

static int enqueue(struct session *s, struct mqtt_msg *msg, uint8_t qos, bool retain)
{
    if (s->queue_count >= BROKER_QUEUE_MAX)
        return -1;      /* bounded: the newest message is dropped */
    struct queued *q = malloc(sizeof(*q));
    if (!q)
        return -1;
    *q = (struct queued){NULL, broker_msg_ref(msg), qos, retain};
    if (s->queue_tail)
        s->queue_tail->next = q;
    else
        s->queue_head = q;
    s->queue_tail = q;
    s->queue_count++;
    return 0;
}

/* Sends a QoS 1 message now, tracking it until PUBACK. The slot is appended last so
 * that redelivery keeps the order. NULL when out of memory, or when the message is
 * larger than the client accepts (dropped, counted: no slot waits for a PUBACK that
 * cannot come). */
struct inflight *broker_session_send_qos1(struct session *s, struct mqtt_msg *msg, bool retain)
{
    if (!broker_publish_fits(s->conn, msg, 1))
        return NULL;
    struct inflight *f = malloc(sizeof(*f));
    if (!f)
        return NULL;
    *f = (struct inflight){NULL, broker_msg_ref(msg), next_packet_id(s), retain, NULL};
    struct inflight **tail = &s->inflight;
    while (*tail)
        tail = &(*tail)->next;
    *tail = f;
    s->inflight_count++;
    broker_send_publish(s->conn, msg, 1, f->packet_id, retain, false);
    return f;
}

void broker_session_deliver(struct session *s, struct mqtt_msg *msg, uint8_t qos, bool retain)
{
    if (broker_msg_expired(msg, broker_now_ms()))
        return;
    if (!online(s)) {
        if (qos == 1 && s->persistent)
            enqueue(s, msg, qos, retain);
        return;
    }
    if (qos == 0) {
        broker_send_publish(s->conn, msg, 0, 0, retain, false);
        return;
    }
    if (s->inflight_count >= s->conn->client_receive_max || s->queue_head) {
        enqueue(s, msg, qos, retain);
        return;
    }
    broker_session_send_qos1(s, msg, retain);
}

void broker_session_drain_queue(struct session *s)
{
    int64_t now = broker_now_ms();
    while (online(s) && s->queue_head && s->inflight_count < s->conn->client_receive_max) {
        struct queued *q = s->queue_head;
        s->queue_head = q->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
        s->queue_count--;
        if (!broker_msg_expired(q->msg, now)) {
            if (q->qos == 0)
                broker_send_publish(s->conn, q->msg, 0, 0, q->retain, false);
            else
                broker_session_send_qos1(s, q->msg, q->retain);
        }
        broker_msg_unref(q->msg);
        free(q);
    }
}

static void inflight_free(struct inflight *f)
{
    broker_msg_unref(f->msg);
    free(f);
}

void broker_session_acknowledge(struct session *s, uint16_t packet_id)
{
    for (struct inflight **p = &s->inflight; *p; p = &(*p)->next) {
        struct inflight *f = *p;
        if (f->packet_id != packet_id)
            continue;
        *p = f->next;
        s->inflight_count--;
        struct broker_direct *d = f->direct;
        inflight_free(f);
        if (d) {
            d->on_done(d->arg, true);
            free(d);
        }
        break;
    }
    broker_session_drain_queue(s);
}

/* Resends what was in flight (DUP set, same packet ids), dropping what expired while
 * the client was away or is now larger than it accepts, then what was queued. */
void broker_session_resume(struct session *s)
{
    int64_t now = broker_now_ms();
    struct inflight **p = &s->inflight;
    while (*p) {
        struct inflight *f = *p;
        bool gone = broker_msg_expired(f->msg, now) || !broker_publish_fits(s->conn, f->msg, 1);
        if (gone && !f->direct) {
            *p = f->next;
            s->inflight_count--;
            inflight_free(f);
            continue;
        }
        broker_send_publish(s->conn, f->msg, 1, f->packet_id, f->retain, true);
        p = &f->next;
    }
    broker_session_drain_queue(s);
}

/* In-flight direct messages fail when the connection goes: they are not redelivered. */
static void fail_direct_messages(struct session *s)
{
    struct inflight **p = &s->inflight;
    while (*p) {
        struct inflight *f = *p;
        if (!f->direct) {
            p = &f->next;
            continue;
        }
        *p = f->next;
        s->inflight_count--;
        struct broker_direct *d = f->direct;
        inflight_free(f);
        d->on_done(d->arg, false);
        free(d);
    }
}

void broker_session_clear_state(struct broker *b, struct session *s)
{
    fail_direct_messages(s);
    for (size_t i = 0; i < s->sub_count; i++) {
        broker_sub_store_remove(&b->subs, s->subs[i].filter, strlen(s->subs[i].filter), s);
        free(s->subs[i].filter);
    }
    s->sub_count = 0;
    while (s->inflight) {
        struct inflight *f = s->inflight;
        s->inflight = f->next;
        inflight_free(f);
    }
    s->inflight_count = 0;
    while (s->queue_head) {
        struct queued *q = s->queue_head;
        s->queue_head = q->next;
        broker_msg_unref(q->msg);
        free(q);
    }
    s->queue_tail = NULL;
    s->queue_count = 0;
    s->persistent = false;
}

int broker_session_add_sub(struct broker *b, struct session *s, const char *filter, size_t len,
                    uint8_t qos, uint8_t options, bool *existed_out)
{
    if (broker_sub_store_add(&b->subs, filter, len, s, qos, options, existed_out) != 0)
        return -1;
    for (size_t i = 0; *existed_out && i < s->sub_count; i++) {
        if (strlen(s->subs[i].filter) == len && memcmp(s->subs[i].filter, filter, len) == 0) {
            s->subs[i].qos = qos;
            s->subs[i].options = options;
            return 0;
        }
    }
    if (s->sub_count == s->sub_cap) {
        size_t cap = s->sub_cap ? s->sub_cap * 2 : 4;
        struct sub *subs = realloc(s->subs, cap * sizeof(*subs));
        if (!subs)
            goto fail;
        s->subs = subs;
        s->sub_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        goto fail;
    memcpy(copy, filter, len);
    copy[len] = '\0';
    s->subs[s->sub_count++] = (struct sub){copy, qos, options};
    return 0;
fail:
    broker_sub_store_remove(&b->subs, filter, len, s);
    return -1;
}

bool broker_session_remove_sub(struct broker *b, struct session *s, const char *filter, size_t len)
{
    for (size_t i = 0; i < s->sub_count; i++) {
        if (strlen(s->subs[i].filter) != len || memcmp(s->subs[i].filter, filter, len) != 0)
            continue;
        broker_sub_store_remove(&b->subs, filter, len, s);
        free(s->subs[i].filter);
        memmove(&s->subs[i], &s->subs[i + 1], (s->sub_count - i - 1) * sizeof(*s->subs));
        s->sub_count--;
        return true;
    }
    return false;
}

void broker_session_detach(struct broker *b, struct session *s, const char *reason)
{
    s->conn = NULL;
    fail_direct_messages(s);
    if (!s->persistent || s->expiry_interval == 0)
        broker_session_clear_state(b, s);
    s->info.connected = false;
    s->info.disconnected_since_ms = broker_now_ms();
    snprintf(s->info.disconnect_reason, sizeof(s->info.disconnect_reason), "%s", reason);
}

static void on_will_delay(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct session *s = arg;
    struct mqtt_msg *will = s->pending_will;
    s->pending_will = NULL;
    event_free(s->will_timer);
    s->will_timer = NULL;
    if (will) {
        broker_log(s->broker, LOG_INFO, "%s: delayed will published", s->client_id);
        broker_route(s->broker, will, NULL);
        broker_msg_unref(will);
    }
}

void broker_session_schedule_will(struct session *s, struct mqtt_msg *will, uint32_t delay)
{
    broker_session_cancel_will(s);
    s->will_timer = event_new(s->broker->base, -1, 0, on_will_delay, s);
    struct timeval tv = {(time_t)delay, 0};
    if (!s->will_timer || event_add(s->will_timer, &tv) != 0) {
        if (s->will_timer)
            event_free(s->will_timer);
        s->will_timer = NULL;
        broker_route(s->broker, will, NULL);    /* no timer: publish now */
        return;
    }
    s->pending_will = broker_msg_ref(will);
}

void broker_session_cancel_will(struct session *s)
{
    if (s->will_timer)
        event_free(s->will_timer);
    s->will_timer = NULL;
    broker_msg_unref(s->pending_will);
    s->pending_will = NULL;
}

void broker_session_release_will(struct session *s)
{
    if (s->will_timer)
        on_will_delay(-1, 0, s);
}

void broker_session_free(struct session *s)
{
    broker_session_cancel_will(s);
    free(s->subs);
    free(s);
}

struct sweep {
    struct broker *broker;
    int64_t now;
};

static void sweep_one(void *arg, struct strmap_entry *e)
{
    struct sweep *sw = arg;
    struct session *s = e->value;
    if (s->conn)
        return;
    int64_t offline_ms = sw->now - s->info.disconnected_since_ms;
    if (s->persistent && offline_ms >= (int64_t)s->expiry_interval * 1000) {
        if (s->will_timer)
            on_will_delay(-1, 0, s);    /* the session ends: a delayed will goes now */
        broker_session_clear_state(sw->broker, s);
    }
    if (!s->persistent && offline_ms >= BROKER_INFO_KEEP_MS) {
        broker_strmap_remove(&sw->broker->sessions, e->key, e->key_len);
        broker_session_free(s);
    }
}

void broker_sweep_sessions(struct broker *b, int64_t now_ms)
{
    struct sweep sw = {b, now_ms};
    broker_strmap_each(&b->sessions, sweep_one, &sw);
}
