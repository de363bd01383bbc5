/*
 * broker_send_disconnect.c — the server's DISCONNECT (MQTT 5 only: 3.1.1 has none from the
 * server; the connection is just closed), with a Reason String unless the client asked
 * for no problem information.
 */
#include <string.h>

#include "broker_internal.h"

int broker_send_disconnect(struct conn *c, uint8_t reason)
{
    if (c->version != MQTT_V5)
        return 0;
    struct buf props = BUF_INIT, out = BUF_INIT;
    int rc = -1;
    if (!c->no_problem_info) {
        const char *text = broker_reason_text(reason);
        if (mqtt_put_u8(&props, MQTT_P_REASON_STRING) != 0 ||
            mqtt_put_str(&props, text, strlen(text)) != 0)
            goto fail;
    }
    size_t body_len = 1 + mqtt_varint_size((uint32_t)props.len) + props.len;
    if (mqtt_put_fixed_header(&out, MQTT_DISCONNECT << 4, body_len) != 0 ||
        mqtt_put_u8(&out, reason) != 0 || mqtt_put_varint(&out, (uint32_t)props.len) != 0 ||
        buf_append(&out, props.data, props.len) != 0)
        goto fail;
    rc = broker_conn_write(c, &out);
fail:
    buf_free(&props);
    buf_free(&out);
    return rc;
}
