/*
 * dispatch.c — one decoded frame to its handler. Before CONNECT only CONNECT is allowed;
 * QoS 2 flows (PUBREC/PUBREL/PUBCOMP), AUTH and server-to-client packets are protocol
 * errors that close the connection.
 */
#include "broker_internal.h"

void dispatch_packet(struct conn *c, const struct mqtt_frame *f)
{
    broker_log(c->broker, LOG_DEBUG, "%s: packet type %u, %zu bytes",
               c->session ? c->session->client_id : c->peer_ip, f->type, f->frame_len);
    if (c->state == CONN_NEW) {
        if (f->type == MQTT_CONNECT)
            handle_connect(c, f);
        else
            conn_fail(c, MQTT_E_PROTOCOL);
        return;
    }
    switch (f->type) {
    case MQTT_PUBLISH: handle_publish(c, f); break;
    case MQTT_PUBACK: handle_puback(c, f); break;
    case MQTT_SUBSCRIBE: handle_subscribe(c, f); break;
    case MQTT_UNSUBSCRIBE: handle_unsubscribe(c, f); break;
    case MQTT_PINGREQ: handle_pingreq(c, f); break;
    case MQTT_DISCONNECT: handle_disconnect(c, f); break;
    default: conn_fail(c, MQTT_E_PROTOCOL); break;
    }
}
