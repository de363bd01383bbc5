/*
 * broker_send_publish.c — PUBLISH to a subscriber: MQTT 5 subscribers get the forwarded
 * properties, the remaining message expiry and topic aliases when they allow them;
 * MQTT 3.1.1 subscribers get none. Nothing larger than the client's Maximum Packet Size
 * goes out (MQTT 5, 3.1.2.11.4): it is counted and dropped.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "broker_internal.h"

#define EXPIRY_PROP_LEN 5           /* identifier + four-byte integer */
#define ALIAS_PROP_LEN 3            /* identifier + two-byte integer */

static int64_t expiry_left(const struct mqtt_msg *msg)
{
    int64_t left = (msg->expiry_at_ms - broker_now_ms() + 999) / 1000;
    return left > 0 ? left : 0;
}

static int publish_props(struct buf *p, const struct mqtt_msg *msg, uint16_t alias)
{
    if (msg->expiry_at_ms >= 0 && (mqtt_put_u8(p, MQTT_P_MESSAGE_EXPIRY) != 0 ||
                                   mqtt_put_u32(p, (uint32_t)expiry_left(msg)) != 0))
        return -1;
    if (alias && (mqtt_put_u8(p, MQTT_P_TOPIC_ALIAS) != 0 || mqtt_put_u16(p, alias) != 0))
        return -1;
    return msg->props_len ? buf_append(p, msg->props, msg->props_len) : 0;
}

/* The whole packet's size: topic written as topic_len bytes, extra_props more bytes of
 * properties than the message's own. */
static size_t packet_size(const struct conn *c, const struct mqtt_msg *msg, uint8_t qos,
                          size_t topic_len, size_t extra_props)
{
    size_t body = 2 + topic_len + (qos ? 2 : 0) + msg->payload_len;
    if (c->version == MQTT_V5) {
        size_t props = msg->props_len + extra_props +
                       (msg->expiry_at_ms >= 0 ? EXPIRY_PROP_LEN : 0);
        body += mqtt_varint_size((uint32_t)props) + props;
    }
    return 1 + mqtt_varint_size((uint32_t)body) + body;
}

bool broker_publish_fits(struct conn *c, const struct mqtt_msg *msg, uint8_t qos)
{
    if (packet_size(c, msg, qos, msg->topic_len, 0) <= c->client_max_packet)
        return true;
    c->broker->stats.publish_too_large++;
    broker_log(c->broker, LOG_DEBUG, "%s: PUBLISH on %s not sent: over its maximum packet size",
               c->session ? c->session->client_id : "?", msg->topic);
    return false;
}

/* Topic aliases toward this client; none when a new mapping would not fit its maximum
 * packet size (the topic written out fits: broker_publish_fits came first). */
static void choose_alias(struct conn *c, const struct mqtt_msg *msg, uint8_t qos,
                         struct alias_choice *ch)
{
    broker_alias_choose(c, msg->topic, msg->topic_len, ch);
    if (ch->send_topic && ch->alias &&
        packet_size(c, msg, qos, msg->topic_len, ALIAS_PROP_LEN) > c->client_max_packet) {
        broker_alias_forget(ch);
        *ch = (struct alias_choice){0, true, NULL};
    }
}

static int write_publish(struct conn *c, const struct mqtt_msg *msg, uint8_t qos,
                         uint16_t packet_id, bool retain, bool dup, const struct alias_choice *ch)
{
    struct buf head = BUF_INIT, props = BUF_INIT, out = BUF_INIT;
    int rc = -1;
    size_t topic_len = ch->send_topic ? msg->topic_len : 0;
    if (mqtt_put_str(&head, msg->topic, topic_len) != 0)
        goto fail;
    if (qos > 0 && mqtt_put_u16(&head, packet_id) != 0)
        goto fail;
    if (c->version == MQTT_V5) {
        if (publish_props(&props, msg, ch->alias) != 0 ||
            mqtt_put_varint(&head, (uint32_t)props.len) != 0 ||
            buf_append(&head, props.data, props.len) != 0)
            goto fail;
    }
    uint8_t first = (uint8_t)(MQTT_PUBLISH << 4 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 1 : 0));
    if (mqtt_put_fixed_header(&out, first, head.len + msg->payload_len) != 0 ||
        buf_append(&out, head.data, head.len) != 0)
        goto fail;
    rc = broker_conn_write(c, &out);
    if (rc == 0 && msg->payload_len)
        rc = broker_conn_write_raw(c, msg->payload, msg->payload_len);
fail:
    buf_free(&head);
    buf_free(&props);
    buf_free(&out);
    return rc;
}

int broker_send_publish(struct conn *c, const struct mqtt_msg *msg, uint8_t qos, uint16_t packet_id,
                 bool retain, bool dup)
{
    if (qos == 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) > BROKER_OUTPUT_MAX)
        return 0;   /* a client this far behind loses QoS 0 messages, as on AWS IoT */
    if (!broker_publish_fits(c, msg, qos))
        return 0;
    struct alias_choice ch;
    choose_alias(c, msg, qos, &ch);
    int rc = write_publish(c, msg, qos, packet_id, retain, dup, &ch);
    if (rc == 0)
        broker_alias_install(c, &ch);
    else
        broker_alias_forget(&ch);
    return rc;
}
