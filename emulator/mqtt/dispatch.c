/*
 * dispatch.c — one decoded frame to its handler. Before CONNECT only CONNECT is allowed;
 * QoS 2 flows (PUBREC/PUBREL/PUBCOMP), AUTH and server-to-client packets are protocol
 * errors that close the connection.
 */
#include "broker_internal.h"

void broker_dispatch_packet(struct conn *c, const struct mqtt_frame *f)
{
    broker_log(c->broker, LOG_DEBUG, "%s: packet type %u, %zu bytes",
               c->session ? c->session->client_id : c->peer_ip, f->type, f->frame_len);
    if (c->state == CONN_NEW) {
        if (f->type == MQTT_CONNECT)
            broker_handle_connect(c, f);
        else
            broker_conn_fail(c, MQTT_E_PROTOCOL);
        return;
    }
    switch (f->type) {
    case MQTT_PUBLISH: broker_handle_publish(c, f); break;
    case MQTT_PUBACK: broker_handle_puback(c, f); break;
    case MQTT_SUBSCRIBE: broker_handle_subscribe(c, f); break;
    case MQTT_UNSUBSCRIBE: broker_handle_unsubscribe(c, f); break;
    case MQTT_PINGREQ: broker_handle_pingreq(c, f); break;
    case MQTT_DISCONNECT: broker_handle_disconnect(c, f); break;
    default: broker_conn_fail(c, MQTT_E_PROTOCOL); break;
    }
}
