/*
 * mqtt_write_client.c — the packets an MQTT client writes: CONNECT, PUBLISH, SUBSCRIBE,
 * UNSUBSCRIBE, the acks, PINGREQ, DISCONNECT, and the property blocks they carry
 * (mqtt_codec.h, "the client's side").
 */
#include "mqtt_codec.h"

/* ================================================================ property blocks */

int mqtt_prop_u8(struct buf *b, uint8_t id, uint8_t v)
{
    return mqtt_put_u8(b, id) == 0 && mqtt_put_u8(b, v) == 0 ? 0 : -1;
}

int mqtt_prop_u16(struct buf *b, uint8_t id, uint16_t v)
{
    return mqtt_put_u8(b, id) == 0 && mqtt_put_u16(b, v) == 0 ? 0 : -1;
}

int mqtt_prop_u32(struct buf *b, uint8_t id, uint32_t v)
{
    return mqtt_put_u8(b, id) == 0 && mqtt_put_u32(b, v) == 0 ? 0 : -1;
}

int mqtt_prop_varint(struct buf *b, uint8_t id, uint32_t v)
{
    if (v > 268435455u)
        return -1;
    return mqtt_put_u8(b, id) == 0 && mqtt_put_varint(b, v) == 0 ? 0 : -1;
}

int mqtt_prop_bytes(struct buf *b, uint8_t id, const void *p, size_t len)
{
    return mqtt_put_u8(b, id) == 0 && mqtt_put_str(b, p, len) == 0 ? 0 : -1;
}

int mqtt_prop_user(struct buf *b, const char *key, size_t key_len, const char *value,
                   size_t value_len)
{
    return mqtt_put_u8(b, MQTT_P_USER) == 0 && mqtt_put_str(b, key, key_len) == 0 &&
                   mqtt_put_str(b, value, value_len) == 0
               ? 0 : -1;
}

/* ================================================================ helpers */

/* A property block with its length in front (MQTT 5 only). */
static int put_props(struct buf *b, uint8_t version, const uint8_t *props, size_t len)
{
    if (version != MQTT_V5)
        return 0;
    if (len > 268435455u || mqtt_put_varint(b, (uint32_t)len) != 0)
        return -1;
    return len ? buf_append(b, props, len) : 0;
}

/* The fixed header for body, then body: the packet appended to out. */
static int finish(struct buf *out, uint8_t first_byte, const struct buf *body)
{
    if (mqtt_put_fixed_header(out, first_byte, body->len) != 0)
        return -1;
    return body->len ? buf_append(out, body->data, body->len) : 0;
}

/* ================================================================ CONNECT */

static uint8_t connect_flags(const struct mqtt_connect_out *c)
{
    uint8_t f = 0;
    if (c->clean_start)
        f |= 0x02;
    if (c->has_will)
        f |= (uint8_t)(0x04 | (c->will_qos & 3) << 3 | (c->will_retain ? 0x20 : 0));
    if (c->has_password)
        f |= 0x40;
    if (c->has_username)
        f |= 0x80;
    return f;
}

static int connect_payload(struct buf *b, const struct mqtt_connect_out *c)
{
    if (mqtt_put_str(b, c->client_id, c->client_id_len) != 0)
        return -1;
    if (c->has_will) {
        if (put_props(b, c->version, c->will_props, c->will_props_len) != 0 ||
            mqtt_put_str(b, c->will_topic, c->will_topic_len) != 0 ||
            mqtt_put_str(b, c->will_payload, c->will_payload_len) != 0)
            return -1;
    }
    if (c->has_username && mqtt_put_str(b, c->username, c->username_len) != 0)
        return -1;
    if (c->has_password && mqtt_put_str(b, c->password, c->password_len) != 0)
        return -1;
    return 0;
}

int mqtt_write_connect(struct buf *out, const struct mqtt_connect_out *c)
{
    struct buf body = BUF_INIT;
    int rc = -1;
    if (mqtt_put_str(&body, "MQTT", 4) == 0 && mqtt_put_u8(&body, c->version) == 0 &&
        mqtt_put_u8(&body, connect_flags(c)) == 0 && mqtt_put_u16(&body, c->keep_alive) == 0 &&
        put_props(&body, c->version, c->props, c->props_len) == 0 &&
        connect_payload(&body, c) == 0)
        rc = finish(out, MQTT_CONNECT << 4, &body);
    buf_free(&body);
    return rc;
}

/* ================================================================ PUBLISH */

int mqtt_write_publish(struct buf *out, const struct mqtt_publish_out *p)
{
    struct buf head = BUF_INIT;
    int rc = -1;
    if (mqtt_put_str(&head, p->topic, p->topic_len) != 0 ||
        (p->qos > 0 && mqtt_put_u16(&head, p->packet_id) != 0) ||
        put_props(&head, p->version, p->props, p->props_len) != 0)
        goto done;
    uint8_t first = (uint8_t)(MQTT_PUBLISH << 4 | (p->dup ? 0x08 : 0) | (p->qos & 3) << 1 |
                              (p->retain ? 1 : 0));
    if (mqtt_put_fixed_header(out, first, head.len + p->payload_len) != 0 ||
        buf_append(out, head.data, head.len) != 0 ||
        (p->payload_len && buf_append(out, p->payload, p->payload_len) != 0))
        goto done;
    rc = 0;
done:
    buf_free(&head);
    return rc;
}

/* ================================================================ SUBSCRIBE, UNSUBSCRIBE */

static int write_sub_list(struct buf *out, uint8_t type, uint8_t version, uint16_t packet_id,
                          const uint8_t *props, size_t props_len,
                          const struct mqtt_sub_out *subs, size_t count)
{
    struct buf body = BUF_INIT;
    int rc = -1;
    if (mqtt_put_u16(&body, packet_id) != 0 || put_props(&body, version, props, props_len) != 0)
        goto done;
    for (size_t i = 0; i < count; i++) {
        if (mqtt_put_str(&body, subs[i].filter, subs[i].len) != 0)
            goto done;
        if (type == MQTT_SUBSCRIBE && mqtt_put_u8(&body, subs[i].options) != 0)
            goto done;
    }
    rc = finish(out, (uint8_t)(type << 4 | 0x02), &body);
done:
    buf_free(&body);
    return rc;
}

int mqtt_write_subscribe(struct buf *b, uint8_t version, uint16_t packet_id,
                         const uint8_t *props, size_t props_len,
                         const struct mqtt_sub_out *subs, size_t count)
{
    return write_sub_list(b, MQTT_SUBSCRIBE, version, packet_id, props, props_len, subs, count);
}

int mqtt_write_unsubscribe(struct buf *b, uint8_t version, uint16_t packet_id,
                           const uint8_t *props, size_t props_len,
                           const struct mqtt_sub_out *subs, size_t count)
{
    return write_sub_list(b, MQTT_UNSUBSCRIBE, version, packet_id, props, props_len, subs,
                          count);
}

/* ================================================================ acks, PINGREQ, DISCONNECT */

int mqtt_write_ack(struct buf *b, uint8_t type, uint8_t version, uint16_t packet_id,
                   uint8_t reason)
{
    uint8_t first = (uint8_t)(type << 4 | (type == MQTT_PUBREL ? 0x02 : 0));
    int with_reason = version == MQTT_V5 && reason != 0;
    if (mqtt_put_u8(b, first) != 0 || mqtt_put_u8(b, with_reason ? 3 : 2) != 0 ||
        mqtt_put_u16(b, packet_id) != 0)
        return -1;
    return with_reason ? mqtt_put_u8(b, reason) : 0;
}

int mqtt_write_pingreq(struct buf *b)
{
    return mqtt_put_u8(b, MQTT_PINGREQ << 4) == 0 && mqtt_put_u8(b, 0) == 0 ? 0 : -1;
}

int mqtt_write_disconnect(struct buf *b, uint8_t version, uint8_t reason,
                          const uint8_t *props, size_t props_len)
{
    if (version != MQTT_V5 || (reason == 0 && props_len == 0))
        return mqtt_put_u8(b, MQTT_DISCONNECT << 4) == 0 && mqtt_put_u8(b, 0) == 0 ? 0 : -1;
    struct buf body = BUF_INIT;
    int rc = -1;
    if (mqtt_put_u8(&body, reason) == 0 && put_props(&body, version, props, props_len) == 0)
        rc = finish(b, MQTT_DISCONNECT << 4, &body);
    buf_free(&body);
    return rc;
}
