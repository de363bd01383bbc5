/*
 * handle_ping.c — PINGREQ: PINGRESP (any packet already reset the keep-alive timer).
 */
#include "broker_internal.h"

void broker_handle_pingreq(struct conn *c, const struct mqtt_frame *f)
{
    enum mqtt_err err = mqtt_parse_empty(f);
    if (err != MQTT_OK) {
        broker_conn_fail(c, err);
        return;
    }
    broker_send_pingresp(c);
}
