/*
 * broker_handle_subscribe.c — SUBSCRIBE: one SUBACK code per filter, then the retained messages
 * that match. As AWS IoT documents, a SUBSCRIBE asking for QoS 2 gets no SUBACK and
 * subscribes to nothing.
 */
#include <stdlib.h>

#include "broker_internal.h"
#include "mqtt_topic.h"

#define SUB_NO_LOCAL 0x04
#define SUB_RETAIN_HANDLING(o) (((o) >> 4) & 0x03)

static bool asks_qos2(const struct mqtt_sub_list *list)
{
    size_t offset = 0;
    struct mqtt_str filter;
    uint8_t options;
    while (mqtt_sub_next(list, &offset, &filter, &options)) {
        if ((options & 0x03) == 2)
            return true;
    }
    return false;
}

static bool filter_acceptable(const struct conn *c, const struct mqtt_str *filter,
                              uint8_t options)
{
    const char *group, *rest = filter->p;
    size_t group_len, rest_len = filter->len;
    int shared = mqtt_topic_split_shared(filter->p, filter->len, &group, &group_len, &rest, &rest_len);
    if (shared < 0)
        return false;
    if (shared && c->version == MQTT_V5 && (options & SUB_NO_LOCAL))
        return false;
    return mqtt_topic_filter_valid(rest, rest_len) && mqtt_topic_within_aws_limits(rest, rest_len);
}

/* Subscribes each filter; codes_out[i] is the granted QoS or a failure code; existed_out
 * says which replaced an existing subscription. */
static void subscribe_all(struct conn *c, const struct mqtt_sub_list *list, uint8_t *codes_out,
                          bool *existed_out)
{
    size_t offset = 0, i = 0;
    struct mqtt_str filter;
    uint8_t options;
    uint8_t invalid = c->version == MQTT_V5 ? 0x8F : 0x80;
    while (mqtt_sub_next(list, &offset, &filter, &options)) {
        uint8_t qos = options & 0x03;
        if (!filter_acceptable(c, &filter, options))
            codes_out[i] = invalid;
        else if (broker_session_add_sub(c->broker, c->session, filter.p, filter.len, qos, options,
                                 &existed_out[i]) != 0)
            codes_out[i] = 0x80;
        else
            codes_out[i] = qos;
        i++;
    }
}

static void send_retained(struct conn *c, const struct mqtt_sub_list *list,
                          const uint8_t *codes, const bool *existed)
{
    size_t offset = 0, i = 0;
    struct mqtt_str filter;
    uint8_t options;
    while (mqtt_sub_next(list, &offset, &filter, &options) && c->state == CONN_CONNECTED) {
        uint8_t handling = SUB_RETAIN_HANDLING(options);
        bool wanted = handling == 0 || (handling == 1 && !existed[i]);
        if (codes[i] < 0x80 && wanted)
            broker_send_retained(c->broker, c->session, filter.p, filter.len, codes[i], options);
        i++;
    }
}

void broker_handle_subscribe(struct conn *c, const struct mqtt_frame *f)
{
    struct mqtt_sub_list list;
    enum mqtt_err err = mqtt_parse_subscribe(f, c->version, &list);
    if (err == MQTT_OK && list.props.subscription_id)
        err = MQTT_E_SUB_ID;        /* announced unavailable in CONNACK, as AWS IoT does */
    if (err != MQTT_OK) {
        broker_conn_fail(c, err);
        return;
    }
    if (asks_qos2(&list))
        return;
    uint8_t *codes = calloc(list.count, 1);
    bool *existed = calloc(list.count, sizeof(bool));
    if (!codes || !existed) {
        free(codes);
        free(existed);
        broker_conn_fail(c, MQTT_E_NOMEM);
        return;
    }
    subscribe_all(c, &list, codes, existed);
    broker_send_suback(c, list.packet_id, codes, list.count);
    send_retained(c, &list, codes, existed);
    broker_lifecycle_subscriptions(c->broker, c->session, true, &list, codes);
    free(codes);
    free(existed);
}
