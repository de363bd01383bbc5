/*
 * send_disconnect.c — the server's DISCONNECT (MQTT 5 only: 3.1.1 has none from the
 * server; the connection is just closed).
 */
#include "broker_internal.h"

int send_disconnect(struct conn *c, uint8_t reason)
{
    if (c->version != MQTT_V5)
        return 0;
    uint8_t bytes[4] = {MQTT_DISCONNECT << 4, 2, reason, 0};
    return conn_write_raw(c, bytes, sizeof(bytes));
}
