/*
 * subs.c — the subscription store (see broker_internal.h): one node per distinct filter
 * with its members; plain filters are looked up by the topic itself, wildcard and
 * `$share/` filters sit in buckets by literal prefix (see broker_internal.h).
 */
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "mqtt_topic.h"

static struct sub_node *node_new(const char *key, size_t key_len)
{
    struct sub_node *n = calloc(1, sizeof(*n));
    if (!n || !(n->key = malloc(key_len + 1))) {
        free(n);
        return NULL;
    }
    memcpy(n->key, key, key_len);
    n->key[key_len] = '\0';
    const char *group, *rest;
    size_t group_len, rest_len;
    if (mqtt_topic_split_shared(n->key, key_len, &group, &group_len, &rest, &rest_len) == 1) {
        n->shared = true;
        n->filter = rest;
        n->filter_len = rest_len;
    } else {
        n->filter = n->key;
        n->filter_len = key_len;
    }
    n->scanned = n->shared || memchr(n->filter, '+', n->filter_len) ||
                 memchr(n->filter, '#', n->filter_len);
    return n;
}

static void node_free(struct sub_node *n)
{
    free(n->members);
    free(n->key);
    free(n);
}

/* Length of the literal levels before the first wildcard level (the whole filter when
 * there is none; 0 when it starts with one). */
static size_t literal_prefix_len(const char *f, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((f[i] == '+' || f[i] == '#') && (i == 0 || f[i - 1] == '/'))
            return i == 0 ? 0 : i - 1;
    }
    return len;
}

static int scan_link(struct sub_store *s, struct sub_node *n)
{
    n->prefix_len = literal_prefix_len(n->filter, n->filter_len);
    struct sub_node *head = broker_strmap_get(&s->by_prefix, n->filter, n->prefix_len);
    if (!broker_strmap_put(&s->by_prefix, n->filter, n->prefix_len, n))
        return -1;
    n->scan_prev = NULL;
    n->scan_next = head;
    if (head)
        head->scan_prev = n;
    return 0;
}

static void scan_unlink(struct sub_store *s, struct sub_node *n)
{
    if (n->scan_prev)
        n->scan_prev->scan_next = n->scan_next;
    else if (n->scan_next)
        broker_strmap_put(&s->by_prefix, n->filter, n->prefix_len, n->scan_next);   /* no growth */
    else
        broker_strmap_remove(&s->by_prefix, n->filter, n->prefix_len);
    if (n->scan_next)
        n->scan_next->scan_prev = n->scan_prev;
}

static struct sub_node *node_for_key(struct sub_store *s, const char *key, size_t key_len)
{
    struct sub_node *n = broker_strmap_get(&s->by_key, key, key_len);
    if (n)
        return n;
    if (!(n = node_new(key, key_len)))
        return NULL;
    if (!broker_strmap_put(&s->by_key, key, key_len, n)) {
        node_free(n);
        return NULL;
    }
    if (n->scanned && scan_link(s, n) != 0) {
        broker_strmap_remove(&s->by_key, key, key_len);
        node_free(n);
        return NULL;
    }
    return n;
}

int broker_sub_store_add(struct sub_store *s, const char *key, size_t key_len,
                  struct session *session, uint8_t qos, uint8_t options, bool *existed_out)
{
    struct sub_node *n = node_for_key(s, key, key_len);
    if (!n)
        return -1;
    for (size_t i = 0; i < n->count; i++) {
        if (n->members[i].session == session) {
            n->members[i].qos = qos;
            n->members[i].options = options;
            *existed_out = true;
            return 0;
        }
    }
    if (n->count == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 4;
        struct sub_member *m = realloc(n->members, cap * sizeof(*m));
        if (!m)
            return -1;
        n->members = m;
        n->cap = cap;
    }
    n->members[n->count++] = (struct sub_member){session, qos, options};
    *existed_out = false;
    return 0;
}

void broker_sub_store_remove(struct sub_store *s, const char *key, size_t key_len,
                      struct session *session)
{
    struct sub_node *n = broker_strmap_get(&s->by_key, key, key_len);
    if (!n)
        return;
    for (size_t i = 0; i < n->count; i++) {
        if (n->members[i].session == session) {
            memmove(&n->members[i], &n->members[i + 1], (n->count - i - 1) * sizeof(*n->members));
            n->count--;
            break;
        }
    }
    if (n->count > 0)
        return;
    broker_strmap_remove(&s->by_key, key, key_len);
    if (n->scanned)
        scan_unlink(s, n);
    node_free(n);
}

void broker_sub_store_match(struct sub_store *s, const char *topic, size_t topic_len,
                     void (*visit)(void *arg, struct sub_node *node), void *arg)
{
    struct sub_node *n = broker_strmap_get(&s->by_key, topic, topic_len);
    if (n && !n->scanned)
        visit(arg, n);
    /* buckets for "", then every prefix of the topic that ends at a level boundary */
    for (size_t end = 0;; end++) {
        if (end == 0 || end == topic_len || topic[end] == '/') {
            for (n = broker_strmap_get(&s->by_prefix, topic, end); n; n = n->scan_next) {
                if (mqtt_topic_matches(n->filter, n->filter_len, topic, topic_len))
                    visit(arg, n);
            }
        }
        if (end >= topic_len)
            break;
    }
}

static void free_node_entry(void *arg, struct strmap_entry *e)
{
    (void)arg;
    node_free(e->value);
}

void broker_sub_store_free(struct sub_store *s)
{
    broker_strmap_each(&s->by_key, free_node_entry, NULL);
    broker_strmap_free(&s->by_key);
    broker_strmap_free(&s->by_prefix);
}
