/*
 * broker_handle_publish.c — PUBLISH from a device: QoS 0 or 1 (QoS 2 disconnects, as AWS IoT
 * does not support it), AWS topic and payload limits, then PUBACK and routing: the sender
 * hears its acknowledgement before any subscriber (itself included) hears the message, as
 * mosquitto does.
 */
#include "broker_internal.h"
#include "mqtt_topic.h"

static enum mqtt_err check_publish(const struct mqtt_publish *p)
{
    if (p->qos > 1)
        return MQTT_E_QOS;
    if (p->props.has_topic_alias)
        return MQTT_E_TOPIC_ALIAS;      /* we grant a topic alias maximum of 0 */
    if (!mqtt_topic_name_valid(p->topic.p, p->topic.len) ||
        !mqtt_topic_within_aws_limits(p->topic.p, p->topic.len))
        return MQTT_E_TOPIC;
    if (p->payload.len > BROKER_PAYLOAD_MAX)
        return MQTT_E_TOO_LARGE;
    return MQTT_OK;
}

void broker_handle_publish(struct conn *c, const struct mqtt_frame *f)
{
    struct mqtt_publish p;
    enum mqtt_err err = mqtt_parse_publish(f, c->version, &p);
    if (err == MQTT_OK)
        err = check_publish(&p);
    if (err != MQTT_OK) {
        broker_conn_fail(c, err);
        return;
    }
    struct mqtt_msg *msg = broker_msg_from_publish(&p, broker_now_ms());
    if (!msg) {
        broker_conn_fail(c, MQTT_E_NOMEM);
        return;
    }
    if (p.qos == 1)
        broker_send_puback(c, p.packet_id, 0);
    broker_route(c->broker, msg, c->session);
    broker_msg_unref(msg);
}
