/* shadow_mqtt.c — the Device Shadow service's MQTT face (shadow.h): the reserved request
 * topics $aws/things/<thing>/shadow[/name/<shadow>]/{update,get,delete} are answered on
 * their response topics, and every accepted change the store reports, whichever side
 * made it, is published on update/accepted, update/delta, update/documents or
 * delete/accepted.
 *
 * The seam is the broker's public API (../broker.h) and nothing else: a publish observer
 * sees every routed message, and answers go out with broker_publish. Answers are
 * published from inside the observer, before the broker goes on to deliver the request
 * itself; the broker's routing allows that (the nested publish is routed to completion
 * before the outer one matches its subscribers), and the answers, on topics that are not
 * request topics, come back to this observer only to be ignored. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "json.h"
#include "shadow.h"

struct shadow_mqtt {
    struct broker *broker;
    struct shadow_store *store;
    struct buf topic;                /* the response topic being built */
};

/* A request topic, split: what the client asked of which shadow. */
struct request_topic {
    char thing[SHADOW_MAX_THING_NAME + 1];
    char name[SHADOW_MAX_SHADOW_NAME + 1];    /* "" for the classic shadow */
    char op[8];                                /* "update", "get" or "delete" */
};

/* ================================================================ topics */

/* Copies the segment at *p (up to '/' or the end) into out; 0, or -1 when it is empty
 * or too long. */
static int take_segment(const char **p, const char *end, char *out, size_t out_size)
{
    const char *s = *p, *slash = memchr(s, '/', (size_t)(end - s));
    size_t n = (size_t)((slash ? slash : end) - s);
    if (n == 0 || n >= out_size)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = slash ? slash + 1 : end;
    return slash && slash + 1 == end ? -1 : 0;      /* a trailing '/' is no request */
}

/* 0 and *rt filled when topic is one of the six request topics, else -1. */
static int parse_request_topic(const char *topic, struct request_topic *rt)
{
    static const char prefix[] = "$aws/things/";
    size_t len = strlen(topic);
    if (len <= sizeof prefix - 1 || memcmp(topic, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *p = topic + sizeof prefix - 1, *end = topic + len;
    char word[SHADOW_MAX_SHADOW_NAME + 1];
    rt->name[0] = '\0';
    if (take_segment(&p, end, rt->thing, sizeof rt->thing) != 0 ||
        shadow_thing_name_problem(rt->thing, strlen(rt->thing)) ||
        take_segment(&p, end, word, sizeof word) != 0 || strcmp(word, "shadow") != 0 ||
        take_segment(&p, end, word, sizeof word) != 0)
        return -1;
    if (strcmp(word, "name") == 0) {
        if (take_segment(&p, end, rt->name, sizeof rt->name) != 0 ||
            shadow_name_problem(rt->name, strlen(rt->name)) ||
            take_segment(&p, end, word, sizeof word) != 0)
            return -1;
    }
    if (p != end || (strcmp(word, "update") && strcmp(word, "get") && strcmp(word, "delete")))
        return -1;
    memcpy(rt->op, word, strlen(word) + 1);
    return 0;
}

/* $aws/things/<thing>/shadow[/name/<name>]/<suffix> into sm->topic. */
static const char *response_topic(struct shadow_mqtt *sm, const char *thing, const char *name,
                                  const char *suffix)
{
    struct buf *t = &sm->topic;
    buf_reset(t);
    buf_append_str(t, "$aws/things/");
    buf_append_str(t, thing);
    buf_append_str(t, "/shadow/");
    if (name[0]) {
        buf_append_str(t, "name/");
        buf_append_str(t, name);
        buf_append_char(t, '/');
    }
    buf_append_str(t, suffix);
    return buf_cstr(t);
}

static void publish(struct shadow_mqtt *sm, const char *thing, const char *name,
                    const char *suffix, const struct buf *doc)
{
    struct broker_message m;
    memset(&m, 0, sizeof m);
    m.topic = response_topic(sm, thing, name, suffix);
    m.payload = (const uint8_t *)doc->data;
    m.payload_len = doc->len;
    m.qos = 1;
    m.content_type = NULL;
    m.payload_format = -1;
    m.message_expiry = -1;
    broker_publish(sm->broker, &m);
}

/* ================================================================ accepted changes */

/* The store's listener: what every accepted update or delete publishes. */
static void on_change(void *arg, const struct shadow_event *ev)
{
    struct shadow_mqtt *sm = arg;
    if (ev->change == SHADOW_DELETED) {
        publish(sm, ev->thing, ev->name, "delete/accepted", ev->accepted);
        return;
    }
    publish(sm, ev->thing, ev->name, "update/accepted", ev->accepted);
    if (ev->delta)
        publish(sm, ev->thing, ev->name, "update/delta", ev->delta);
    publish(sm, ev->thing, ev->name, "update/documents", ev->documents);
}

/* ================================================================ requests */

/* The clientToken of a get or delete request, whose content is otherwise ignored:
 * copied into out when the payload is a JSON object holding a valid one. */
static const char *client_token_of(const struct broker_message *m, char *out, size_t size)
{
    struct json_value *root = NULL;
    const char *token = NULL;
    if (m->payload_len && json_parse((const char *)m->payload, m->payload_len, NULL, &root,
                                     NULL) == 0) {
        const struct json_value *t = json_get(root, "clientToken");
        if (t && t->type == JSON_STRING && t->u.str.len <= SHADOW_MAX_CLIENT_TOKEN &&
            t->u.str.len < size && !memchr(t->u.str.ptr, '\0', t->u.str.len)) {
            memcpy(out, t->u.str.ptr, t->u.str.len + 1);
            token = out;
        }
    }
    json_free(root);
    return token;
}

static void on_publish(void *arg, const struct broker_message *m, const char *origin)
{
    (void)origin;
    struct shadow_mqtt *sm = arg;
    struct request_topic rt;
    if (parse_request_topic(m->topic, &rt) != 0)
        return;
    struct shadow_reply r;
    shadow_reply_init(&r);
    char token[SHADOW_MAX_CLIENT_TOKEN + 1];
    char suffix[24];
    if (strcmp(rt.op, "update") == 0)
        shadow_update(sm->store, rt.thing, rt.name, (const char *)m->payload, m->payload_len,
                      &r);
    else if (strcmp(rt.op, "get") == 0)
        shadow_get(sm->store, rt.thing, rt.name, client_token_of(m, token, sizeof token), &r);
    else
        shadow_delete(sm->store, rt.thing, rt.name, client_token_of(m, token, sizeof token),
                      &r);
    /* accepted updates and deletes were published by on_change already */
    if (r.status != 200 || strcmp(rt.op, "get") == 0) {
        strcpy(suffix, rt.op);
        strcat(suffix, r.status == 200 ? "/accepted" : "/rejected");
        publish(sm, rt.thing, rt.name, suffix, &r.body);
    }
    shadow_reply_free(&r);
}

/* ================================================================ life */

struct shadow_mqtt *shadow_mqtt_new(struct broker *broker, struct shadow_store *store)
{
    struct shadow_mqtt *sm = calloc(1, sizeof *sm);
    if (!sm)
        return NULL;
    sm->broker = broker;
    sm->store = store;
    if (broker_add_publish_observer(broker, on_publish, sm) != 0) {
        free(sm);
        return NULL;
    }
    shadow_store_set_listener(store, on_change, sm);
    return sm;
}

void shadow_mqtt_free(struct shadow_mqtt *sm)
{
    if (!sm)
        return;
    shadow_store_set_listener(sm->store, NULL, NULL);
    broker_remove_publish_observer(sm->broker, on_publish, sm);
    buf_free(&sm->topic);
    free(sm);
}
