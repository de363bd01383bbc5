/*
 * broker_handle_publish.c — PUBLISH from a device: QoS 0 or 1 (QoS 2 disconnects, as AWS IoT
 * does not support it), MQTT 5 topic aliases, AWS topic and payload limits, the retained
 * messages quota, then PUBACK and routing: the sender hears its acknowledgement before
 * any subscriber (itself included) hears the message, as mosquitto does.
 */
#include "broker_internal.h"
#include "mqtt_topic.h"

#define PUBACK_QUOTA_EXCEEDED 0x97

/* Checks p and resolves its topic alias (p->topic is then the topic it stands for). */
static enum mqtt_err check_publish(struct conn *c, struct mqtt_publish *p)
{
    if (p->qos > 1)
        return MQTT_E_QOS;
    enum mqtt_err err = broker_alias_resolve(c, p);
    if (err != MQTT_OK)
        return err;
    if (!mqtt_topic_name_valid(p->topic.p, p->topic.len) ||
        !mqtt_topic_within_aws_limits(p->topic.p, p->topic.len))
        return MQTT_E_TOPIC;
    if (p->payload.len > BROKER_PAYLOAD_MAX)
        return MQTT_E_TOO_LARGE;
    return MQTT_OK;
}

/* A retained message over the quota: neither stored nor routed. MQTT 5 hears why in its
 * PUBACK; MQTT 3.1.1 has no code for it and is acknowledged as usual (counted only). */
static void refuse_retained(struct conn *c, const struct mqtt_publish *p)
{
    if (p->qos == 1)
        broker_send_puback(c, p->packet_id, c->version == MQTT_V5 ? PUBACK_QUOTA_EXCEEDED : 0);
}

void broker_handle_publish(struct conn *c, const struct mqtt_frame *f)
{
    struct mqtt_publish p;
    enum mqtt_err err = mqtt_parse_publish(f, c->version, &p);
    if (err == MQTT_OK)
        err = check_publish(c, &p);
    if (err != MQTT_OK) {
        broker_conn_fail(c, err);
        return;
    }
    struct mqtt_msg *msg = broker_msg_from_publish(&p, broker_now_ms());
    if (!msg) {
        broker_conn_fail(c, MQTT_E_NOMEM);
        return;
    }
    if (broker_retained_refused(c->broker, msg)) {
        refuse_retained(c, &p);
    } else {
        if (p.qos == 1)
            broker_send_puback(c, p.packet_id, 0);
        broker_route(c->broker, msg, c->session);
    }
    broker_msg_unref(msg);
}
