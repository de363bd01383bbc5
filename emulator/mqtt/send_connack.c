/*
 * broker_send_connack.c — CONNACK, with the MQTT 5 properties that tell a client what this
 * broker (like AWS IoT Core) supports.
 */
#include <string.h>

#include "broker_internal.h"

static int connack_props(struct buf *p, const struct conn *c, const struct connack_info *info)
{
    int rc = 0;
    rc |= mqtt_put_u8(p, MQTT_P_RECEIVE_MAX);
    rc |= mqtt_put_u16(p, BROKER_RECEIVE_MAX);
    rc |= mqtt_put_u8(p, MQTT_P_MAX_QOS);
    rc |= mqtt_put_u8(p, 1);
    rc |= mqtt_put_u8(p, MQTT_P_RETAIN_AVAILABLE);
    rc |= mqtt_put_u8(p, 1);
    rc |= mqtt_put_u8(p, MQTT_P_MAX_PACKET);
    /* exactly the largest packet read_frames accepts: fixed header + max_body */
    size_t max_body = c->broker->max_body;
    rc |= mqtt_put_u32(p, (uint32_t)(1 + mqtt_varint_size((uint32_t)max_body) + max_body));
    rc |= mqtt_put_u8(p, MQTT_P_TOPIC_ALIAS_MAX);
    rc |= mqtt_put_u16(p, BROKER_TOPIC_ALIAS_MAX);
    rc |= mqtt_put_u8(p, MQTT_P_WILDCARD_AVAILABLE);
    rc |= mqtt_put_u8(p, 1);
    rc |= mqtt_put_u8(p, MQTT_P_SUB_ID_AVAILABLE);
    rc |= mqtt_put_u8(p, 0);
    rc |= mqtt_put_u8(p, MQTT_P_SHARED_AVAILABLE);
    rc |= mqtt_put_u8(p, 1);
    if (info->server_keep_alive >= 0) {
        rc |= mqtt_put_u8(p, MQTT_P_SERVER_KEEP_ALIVE);
        rc |= mqtt_put_u16(p, (uint16_t)info->server_keep_alive);
    }
    if (info->assigned_client_id) {
        rc |= mqtt_put_u8(p, MQTT_P_ASSIGNED_CLIENT_ID);
        rc |= mqtt_put_str(p, info->assigned_client_id, strlen(info->assigned_client_id));
    }
    return rc ? -1 : 0;
}

int broker_send_connack(struct conn *c, const struct connack_info *info)
{
    struct buf body = BUF_INIT, props = BUF_INIT, out = BUF_INIT;
    int rc = -1;
    if (mqtt_put_u8(&body, info->session_present ? 1 : 0) != 0 ||
        mqtt_put_u8(&body, info->reason) != 0)
        goto fail;
    if (c->version == MQTT_V5) {
        if ((info->reason == 0 && connack_props(&props, c, info) != 0) ||
            mqtt_put_varint(&body, (uint32_t)props.len) != 0 ||
            buf_append(&body, props.data, props.len) != 0)
            goto fail;
    }
    if (mqtt_put_fixed_header(&out, MQTT_CONNACK << 4, body.len) != 0 ||
        buf_append(&out, body.data, body.len) != 0)
        goto fail;
    rc = broker_conn_write(c, &out);
fail:
    buf_free(&body);
    buf_free(&props);
    buf_free(&out);
    return rc;
}
