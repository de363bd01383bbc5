/*
 * retained.c — the retained store: one message per topic, set by a retained publish and
 * deleted by an empty one (broker_route calls broker_retained_update), sent to a new
 * subscription whose filter matches, and read by the HTTP API's GetRetainedMessage and
 * ListRetainedMessages (broker.h). Each entry is a `struct retained` the broker owns,
 * holding one reference to the message and the time it was set.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "mqtt_topic.h"

/* ================================================================ keeping */

static void retained_free(struct retained *r)
{
    if (!r)
        return;
    broker_msg_unref(r->msg);
    free(r);
}

void broker_retained_update(struct broker *b, struct mqtt_msg *msg, int64_t now_ms)
{
    if (msg->payload_len == 0) {
        retained_free(broker_strmap_remove(&b->retained, msg->topic, msg->topic_len));
        return;
    }
    struct retained *r = broker_strmap_get(&b->retained, msg->topic, msg->topic_len);
    if (r) {                        /* replaced in place: never fails */
        broker_msg_unref(r->msg);
        r->msg = broker_msg_ref(msg);
        r->modified_ms = now_ms;
        return;
    }
    if (!(r = malloc(sizeof *r)))
        return;
    r->msg = msg;
    r->modified_ms = now_ms;
    if (!broker_strmap_put(&b->retained, msg->topic, msg->topic_len, r)) {
        free(r);
        return;
    }
    broker_msg_ref(msg);
}

bool broker_retained_refused(struct broker *b, const struct mqtt_msg *msg)
{
    if (!msg->retain || msg->payload_len == 0 || b->retained.count < b->retained_max ||
        broker_strmap_get(&b->retained, msg->topic, msg->topic_len))
        return false;
    b->stats.retained_quota++;
    broker_log(b, LOG_INFO, "retained message on %s refused: %zu topics retained, the quota",
               msg->topic, b->retained.count);
    return true;
}

static void free_entry(void *arg, struct strmap_entry *e)
{
    (void)arg;
    retained_free(e->value);
}

void broker_retained_free_all(struct broker *b)
{
    broker_strmap_each(&b->retained, free_entry, NULL);
    broker_strmap_free(&b->retained);
}

/* ================================================================ on subscribe */

struct retained_scan {
    struct session *session;
    const char *filter;
    size_t filter_len;
    uint8_t qos;
};

static void visit_retained(void *arg, struct strmap_entry *e)
{
    struct retained_scan *scan = arg;
    struct mqtt_msg *msg = ((struct retained *)e->value)->msg;
    if (!mqtt_topic_matches(scan->filter, scan->filter_len, msg->topic, msg->topic_len))
        return;
    uint8_t q = scan->qos < msg->qos ? scan->qos : msg->qos;
    broker_session_deliver(scan->session, msg, q, true);
}

void broker_send_retained(struct broker *b, struct session *s, const char *filter,
                          size_t filter_len, uint8_t qos, uint8_t options)
{
    (void)options;
    const char *group, *rest;
    size_t group_len, rest_len;
    if (mqtt_topic_split_shared(filter, filter_len, &group, &group_len, &rest, &rest_len) != 0)
        return;     /* shared subscriptions get no retained messages */
    struct retained_scan scan = {s, filter, filter_len, qos};
    broker_strmap_each(&b->retained, visit_retained, &scan);
}

/* ================================================================ the HTTP API's reads */

int broker_get_retained(struct broker *b, const char *topic, broker_retained_visitor visit,
                        void *arg)
{
    struct retained *r = broker_strmap_get(&b->retained, topic, strlen(topic));
    if (!r)
        return -1;
    struct broker_message view;
    void *arena;
    if (broker_msg_view(r->msg, &view, &arena) != 0)
        return -2;
    visit(arg, &view, r->modified_ms);
    free(arena);
    return 0;
}

/* Byte order of topics, a shorter topic before the longer ones it begins. */
static int topic_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c)
        return c;
    return a_len < b_len ? -1 : a_len > b_len;
}

static int entry_cmp(const void *x, const void *y)
{
    const struct strmap_entry *a = *(const struct strmap_entry *const *)x;
    const struct strmap_entry *b = *(const struct strmap_entry *const *)y;
    return topic_cmp(a->key, a->key_len, b->key, b->key_len);
}

/* The entries after a cursor, gathered for sorting. */
struct gather {
    const char *after;
    size_t after_len;
    struct strmap_entry **list;
    size_t count;
};

static void gather_entry(void *arg, struct strmap_entry *e)
{
    struct gather *g = arg;
    if (!g->after || topic_cmp(e->key, e->key_len, g->after, g->after_len) > 0)
        g->list[g->count++] = e;
}

/* Every page sorts the topics after the cursor: O(n log n) for n retained topics, which
 * at AWS's per-account quotas is milliseconds, and keeps the store a plain hash map. */
int broker_list_retained(struct broker *b, const char *after, size_t after_len, size_t limit,
                         broker_retained_lister visit, void *arg, bool *more_out)
{
    *more_out = false;
    struct gather g = {after, after_len, NULL, 0};
    if (b->retained.count && !(g.list = malloc(b->retained.count * sizeof *g.list)))
        return -1;
    broker_strmap_each(&b->retained, gather_entry, &g);
    if (g.count)
        qsort(g.list, g.count, sizeof *g.list, entry_cmp);
    size_t n = g.count < limit ? g.count : limit;
    for (size_t i = 0; i < n; i++) {
        const struct retained *r = g.list[i]->value;
        struct broker_retained_summary s = {g.list[i]->key, g.list[i]->key_len,
                                            r->msg->payload_len, r->msg->qos, r->modified_ms};
        visit(arg, &s);
    }
    *more_out = g.count > n;
    free(g.list);
    return (int)n;
}
