/*
 * message.c — reference-counted application messages (see broker_internal.h): built from
 * an HTTP publish, a device PUBLISH or a will; one allocation each.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"

/* One block: the struct, the topic + NUL, the payload, the encoded properties. */
static struct mqtt_msg *msg_alloc(const char *topic, size_t topic_len, const void *payload,
                                  size_t payload_len, const struct buf *props)
{
    size_t props_len = props->len;
    struct mqtt_msg *m = malloc(sizeof(*m) + topic_len + 1 + payload_len + props_len);
    if (!m)
        return NULL;
    memset(m, 0, sizeof(*m));
    m->refs = 1;
    m->expiry_at_ms = -1;
    m->topic = (char *)(m + 1);
    memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = '\0';
    m->topic_len = topic_len;
    m->payload = (uint8_t *)m->topic + topic_len + 1;
    if (payload_len)
        memcpy(m->payload, payload, payload_len);
    m->payload_len = payload_len;
    m->props = m->payload + payload_len;
    if (props_len)
        memcpy(m->props, props->data, props_len);
    m->props_len = props_len;
    return m;
}

static int put_str_prop(struct buf *b, uint8_t id, const void *p, size_t len)
{
    if (mqtt_put_u8(b, id) != 0)
        return -1;
    return mqtt_put_str(b, p, len);
}

static int encode_http_props(struct buf *b, const struct broker_message *m)
{
    int rc = 0;
    if (m->payload_format >= 0) {
        rc |= mqtt_put_u8(b, MQTT_P_PAYLOAD_FORMAT);
        rc |= mqtt_put_u8(b, (uint8_t)m->payload_format);
    }
    if (m->content_type)
        rc |= put_str_prop(b, MQTT_P_CONTENT_TYPE, m->content_type, strlen(m->content_type));
    if (m->response_topic)
        rc |= put_str_prop(b, MQTT_P_RESPONSE_TOPIC, m->response_topic,
                           strlen(m->response_topic));
    if (m->correlation_data)
        rc |= put_str_prop(b, MQTT_P_CORRELATION, m->correlation_data,
                           m->correlation_data_len);
    for (size_t i = 0; i < m->user_property_count; i++) {
        const struct mqtt_user_property *u = &m->user_properties[i];
        rc |= put_str_prop(b, MQTT_P_USER, u->key, strlen(u->key));
        rc |= mqtt_put_str(b, u->value, strlen(u->value));
    }
    return rc ? -1 : 0;
}

struct mqtt_msg *broker_msg_from_broker_message(const struct broker_message *m, int64_t now_ms)
{
    struct buf props = BUF_INIT;
    struct mqtt_msg *msg = NULL;
    if (encode_http_props(&props, m) != 0)
        goto fail;
    msg = msg_alloc(m->topic, strlen(m->topic), m->payload, m->payload_len, &props);
    if (!msg)
        goto fail;
    msg->qos = (uint8_t)(m->qos > 0 ? 1 : 0);
    msg->retain = m->retain;
    if (m->message_expiry >= 0)
        msg->expiry_at_ms = now_ms + m->message_expiry * 1000;
fail:
    buf_free(&props);
    return msg;
}

/* Keeps the properties a subscriber should see; drops expiry (kept apart), topic alias
 * and subscription identifiers. */
static int copy_forwarded_props(struct buf *b, const struct mqtt_props *p)
{
    size_t offset = 0;
    uint8_t id;
    struct mqtt_bin raw;
    while (mqtt_props_next(p, &offset, &id, &raw)) {
        bool keep = id == MQTT_P_PAYLOAD_FORMAT || id == MQTT_P_CONTENT_TYPE ||
                    id == MQTT_P_RESPONSE_TOPIC || id == MQTT_P_CORRELATION ||
                    id == MQTT_P_USER;
        if (keep && buf_append(b, raw.p, raw.len) != 0)
            return -1;
    }
    return 0;
}

static struct mqtt_msg *msg_from_parts(const struct mqtt_str *topic,
                                       const struct mqtt_bin *payload,
                                       const struct mqtt_props *props, uint8_t qos,
                                       bool retain, int64_t now_ms)
{
    struct buf encoded = BUF_INIT;
    struct mqtt_msg *msg = NULL;
    if (copy_forwarded_props(&encoded, props) != 0)
        goto fail;
    msg = msg_alloc(topic->p, topic->len, payload->p, payload->len, &encoded);
    if (!msg)
        goto fail;
    msg->qos = qos;
    msg->retain = retain;
    if (props->has_message_expiry)
        msg->expiry_at_ms = now_ms + (int64_t)props->message_expiry * 1000;
fail:
    buf_free(&encoded);
    return msg;
}

struct mqtt_msg *broker_msg_from_publish(const struct mqtt_publish *p, int64_t now_ms)
{
    return msg_from_parts(&p->topic, &p->payload, &p->props, p->qos, p->retain, now_ms);
}

struct mqtt_msg *broker_msg_from_will(const struct mqtt_connect *c, int64_t now_ms)
{
    return msg_from_parts(&c->will_topic, &c->will_payload, &c->will_props, c->will_qos,
                          c->will_retain, now_ms);
}

struct mqtt_msg *broker_msg_ref(struct mqtt_msg *m)
{
    m->refs++;
    return m;
}

void broker_msg_unref(struct mqtt_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

bool broker_msg_expired(const struct mqtt_msg *m, int64_t now_ms)
{
    return m->expiry_at_ms >= 0 && now_ms >= m->expiry_at_ms;
}

/* ---------------------------------------------------------------- observers
 * A broker_message view of a message, for the publish observers. */

/* Copies a string property into the arena, NUL-terminated. */
static char *arena_str(char **cursor, const struct mqtt_str *s)
{
    char *out = *cursor;
    memcpy(out, s->p, s->len);
    out[s->len] = '\0';
    *cursor += s->len + 1;
    return out;
}

int broker_msg_view(const struct mqtt_msg *m, struct broker_message *view_out, void **arena_out)
{
    struct mqtt_props p;
    memset(&p, 0, sizeof(p));
    p.block = m->props;
    p.block_len = m->props_len;
    size_t users = 0, offset = 0;
    struct mqtt_str k, v;
    while (mqtt_props_next_user(&p, &offset, &k, &v))
        users++;
    /* strings are never longer than the block, so 2 blocks is a safe bound */
    size_t size = users * sizeof(struct mqtt_user_property) + 2 * m->props_len + 8;
    struct mqtt_user_property *ups = malloc(size);
    if (!ups)
        return -1;
    char *cursor = (char *)(ups + users);
    memset(view_out, 0, sizeof(*view_out));
    view_out->topic = m->topic;
    view_out->payload = m->payload;
    view_out->payload_len = m->payload_len;
    view_out->qos = m->qos;
    view_out->retain = m->retain;
    view_out->payload_format = -1;
    view_out->message_expiry = -1;
    if (m->expiry_at_ms >= 0) {
        int64_t left = (m->expiry_at_ms - broker_now_ms() + 999) / 1000;
        view_out->message_expiry = left > 0 ? left : 0;
    }
    offset = 0;
    uint8_t id;
    struct mqtt_bin raw;
    size_t u = 0;
    while (mqtt_props_next(&p, &offset, &id, &raw)) {
        size_t voff = 0;
        struct mqtt_props one = {.block = raw.p, .block_len = raw.len};
        struct mqtt_str s = {(const char *)raw.p + 3, raw.len >= 3 ? raw.len - 3 : 0};
        if (id == MQTT_P_PAYLOAD_FORMAT) {
            view_out->payload_format = raw.p[1];
        } else if (id == MQTT_P_CONTENT_TYPE) {
            view_out->content_type = arena_str(&cursor, &s);
        } else if (id == MQTT_P_RESPONSE_TOPIC) {
            view_out->response_topic = arena_str(&cursor, &s);
        } else if (id == MQTT_P_CORRELATION) {
            view_out->correlation_data = raw.p + 3;
            view_out->correlation_data_len = s.len;
        } else if (id == MQTT_P_USER && mqtt_props_next_user(&one, &voff, &k, &v)) {
            ups[u].key = arena_str(&cursor, &k);
            ups[u].value = arena_str(&cursor, &v);
            u++;
        }
    }
    view_out->user_properties = ups;
    view_out->user_property_count = u;
    *arena_out = ups;
    return 0;
}
