/*
 * broker_handle_puback.c — PUBACK from a device: the QoS 1 message in flight is done (a direct
 * message's waiter is told), and queued messages may flow.
 */
#include "broker_internal.h"

void broker_handle_puback(struct conn *c, const struct mqtt_frame *f)
{
    struct mqtt_ack ack;
    enum mqtt_err err = mqtt_parse_ack(f, c->version, &ack);
    if (err != MQTT_OK) {
        broker_conn_fail(c, err);
        return;
    }
    broker_session_acknowledge(c->session, ack.packet_id);
}
