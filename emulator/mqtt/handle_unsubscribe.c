/*
 * broker_handle_unsubscribe.c — UNSUBSCRIBE: removes each filter; MQTT 5 says per filter
 * whether there was one (0x00) or not (0x11).
 */
#include <stdlib.h>

#include "broker_internal.h"

void broker_handle_unsubscribe(struct conn *c, const struct mqtt_frame *f)
{
    struct mqtt_sub_list list;
    enum mqtt_err err = mqtt_parse_unsubscribe(f, c->version, &list);
    if (err != MQTT_OK) {
        broker_conn_fail(c, err);
        return;
    }
    uint8_t *codes = calloc(list.count, 1);
    if (!codes) {
        broker_conn_fail(c, MQTT_E_NOMEM);
        return;
    }
    size_t offset = 0, i = 0;
    struct mqtt_str filter;
    uint8_t options;
    while (mqtt_sub_next(&list, &offset, &filter, &options)) {
        bool removed = broker_session_remove_sub(c->broker, c->session, filter.p, filter.len);
        codes[i++] = removed ? 0x00 : 0x11;
    }
    broker_send_unsuback(c, list.packet_id, codes, list.count);
    broker_lifecycle_subscriptions(c->broker, c->session, false, &list, codes);
    free(codes);
}
