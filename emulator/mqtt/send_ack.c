/*
 * send_ack.c — the short acknowledgements: PUBACK, SUBACK, UNSUBACK, PINGRESP.
 */
#include "broker_internal.h"

int broker_send_puback(struct conn *c, uint16_t packet_id, uint8_t reason)
{
    uint8_t bytes[4] = {MQTT_PUBACK << 4, 2, (uint8_t)(packet_id >> 8), (uint8_t)packet_id};
    if (c->version == MQTT_V5 && reason != 0) {
        uint8_t v5[5] = {MQTT_PUBACK << 4, 3, bytes[2], bytes[3], reason};
        return broker_conn_write_raw(c, v5, sizeof(v5));
    }
    return broker_conn_write_raw(c, bytes, sizeof(bytes));
}

/* SUBACK and UNSUBACK: packet id, (MQTT 5) empty properties, one code per entry. */
static int send_codes(struct conn *c, uint8_t type, uint16_t packet_id, const uint8_t *codes,
                      size_t count)
{
    struct buf out = BUF_INIT;
    size_t body_len = 2 + (c->version == MQTT_V5 ? 1 : 0) + count;
    int rc = -1;
    if (mqtt_put_fixed_header(&out, (uint8_t)(type << 4), body_len) != 0 ||
        mqtt_put_u16(&out, packet_id) != 0)
        goto fail;
    if (c->version == MQTT_V5 && mqtt_put_u8(&out, 0) != 0)
        goto fail;
    if (count && buf_append(&out, codes, count) != 0)
        goto fail;
    rc = broker_conn_write(c, &out);
fail:
    buf_free(&out);
    return rc;
}

int broker_send_suback(struct conn *c, uint16_t packet_id, const uint8_t *codes, size_t count)
{
    return send_codes(c, MQTT_SUBACK, packet_id, codes, count);
}

/* MQTT 3.1.1 UNSUBACK carries no codes. */
int broker_send_unsuback(struct conn *c, uint16_t packet_id, const uint8_t *codes, size_t count)
{
    return send_codes(c, MQTT_UNSUBACK, packet_id, codes, c->version == MQTT_V5 ? count : 0);
}

int broker_send_pingresp(struct conn *c)
{
    uint8_t bytes[2] = {MQTT_PINGRESP << 4, 0};
    return broker_conn_write_raw(c, bytes, sizeof(bytes));
}
