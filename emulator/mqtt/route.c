/*
 * route.c — delivering one message to every matching subscription: plain and wildcard
 * subscribers get it once per session (at the highest QoS granted), each `$share` group
 * gives it to one online member in turn. The retained store is retained.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"

#define SUB_NO_LOCAL 0x04
#define SUB_RETAIN_AS_PUBLISHED 0x08

struct delivery {
    struct session *session;
    uint8_t qos;
    bool retain;
};

struct route {
    struct broker *broker;
    struct mqtt_msg *msg;
    struct session *origin;
    struct delivery *list;
    size_t count, cap;
    bool failed;
};

static void add_delivery(struct route *r, struct session *s, uint8_t qos, uint8_t options)
{
    if (s == r->origin && (options & SUB_NO_LOCAL))
        return;
    uint8_t q = qos < r->msg->qos ? qos : r->msg->qos;
    bool retain = r->msg->retain && (options & SUB_RETAIN_AS_PUBLISHED);
    if (s->route_stamp == r->broker->route_stamp) {
        struct delivery *d = &r->list[s->route_index];
        if (q > d->qos)
            d->qos = q;
        d->retain = d->retain || retain;
        return;
    }
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct delivery *l = realloc(r->list, cap * sizeof(*l));
        if (!l) {
            r->failed = true;
            return;
        }
        r->list = l;
        r->cap = cap;
    }
    s->route_stamp = r->broker->route_stamp;
    s->route_index = r->count;
    r->list[r->count++] = (struct delivery){s, q, retain};
}

static bool member_online(const struct sub_member *m)
{
    return m->session->conn && m->session->conn->state == CONN_CONNECTED;
}

/* One online member of a shared group, in turn. */
static void visit_shared(struct route *r, struct sub_node *n)
{
    for (size_t tries = 0; tries < n->count; tries++) {
        struct sub_member *m = &n->members[n->next_member % n->count];
        n->next_member = (n->next_member + 1) % n->count;
        if (member_online(m)) {
            add_delivery(r, m->session, m->qos, m->options & ~SUB_NO_LOCAL);
            return;
        }
    }
}

static void visit_node(void *arg, struct sub_node *n)
{
    struct route *r = arg;
    if (n->shared) {
        visit_shared(r, n);
        return;
    }
    for (size_t i = 0; i < n->count; i++)
        add_delivery(r, n->members[i].session, n->members[i].qos, n->members[i].options);
}

static void notify_observers(struct broker *b, struct mqtt_msg *msg, struct session *origin)
{
    if (!b->observers)
        return;
    struct broker_message view;
    void *arena;
    if (broker_msg_view(msg, &view, &arena) != 0)
        return;
    for (struct publish_observer *o = b->observers; o; o = o->next)
        o->fn(o->arg, &view, origin ? origin->client_id : NULL);
    free(arena);
}

bool broker_route(struct broker *b, struct mqtt_msg *msg, struct session *origin)
{
    if (broker_retained_refused(b, msg))
        return false;
    if (msg->retain)
        broker_retained_update(b, msg, broker_now_ms());
    notify_observers(b, msg, origin);
    struct route r = {.broker = b, .msg = msg, .origin = origin};
    b->route_stamp++;
    broker_sub_store_match(&b->subs, msg->topic, msg->topic_len, visit_node, &r);
    for (size_t i = 0; i < r.count; i++)
        broker_session_deliver(r.list[i].session, msg, r.list[i].qos, r.list[i].retain);
    free(r.list);
    return true;
}
