/*
 * broker_send_publish.c — PUBLISH to a subscriber: MQTT 5 subscribers get the forwarded
 * properties and the remaining message expiry; MQTT 3.1.1 subscribers get none.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "broker_internal.h"

static int publish_props(struct buf *p, const struct mqtt_msg *msg)
{
    if (msg->expiry_at_ms >= 0) {
        int64_t left = (msg->expiry_at_ms - broker_now_ms() + 999) / 1000;
        if (mqtt_put_u8(p, MQTT_P_MESSAGE_EXPIRY) != 0 ||
            mqtt_put_u32(p, (uint32_t)(left > 0 ? left : 0)) != 0)
            return -1;
    }
    return msg->props_len ? buf_append(p, msg->props, msg->props_len) : 0;
}

int broker_send_publish(struct conn *c, const struct mqtt_msg *msg, uint8_t qos, uint16_t packet_id,
                 bool retain, bool dup)
{
    struct buf head = BUF_INIT, props = BUF_INIT, out = BUF_INIT;
    int rc = -1;
    if (mqtt_put_str(&head, msg->topic, msg->topic_len) != 0)
        goto fail;
    if (qos > 0 && mqtt_put_u16(&head, packet_id) != 0)
        goto fail;
    if (c->version == MQTT_V5) {
        if (publish_props(&props, msg) != 0 ||
            mqtt_put_varint(&head, (uint32_t)props.len) != 0 ||
            buf_append(&head, props.data, props.len) != 0)
            goto fail;
    }
    if (qos == 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) > BROKER_OUTPUT_MAX) {
        rc = 0;     /* a client this far behind loses QoS 0 messages, as on AWS IoT */
        goto fail;
    }
    size_t body_len = head.len + msg->payload_len;
    if (body_len + 5 > c->client_max_packet) {
        rc = 0;     /* larger than the client accepts: MQTT 5 says drop it */
        goto fail;
    }
    uint8_t first = (uint8_t)(MQTT_PUBLISH << 4 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 1 : 0));
    if (mqtt_put_fixed_header(&out, first, body_len) != 0 ||
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
