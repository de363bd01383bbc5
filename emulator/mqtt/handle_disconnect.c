/*
 * broker_handle_disconnect.c — DISCONNECT from the client: CLIENT_INITIATED_DISCONNECT; the
 * will is dropped unless the MQTT 5 reason is 0x04 (Disconnect with Will Message). An
 * MQTT 5 client may change its session expiry here, but not from 0 to non-zero.
 */
#include "broker_internal.h"

void broker_handle_disconnect(struct conn *c, const struct mqtt_frame *f)
{
    struct mqtt_disconnect d;
    enum mqtt_err err = mqtt_parse_disconnect(f, c->version, &d);
    if (err != MQTT_OK) {
        broker_conn_fail(c, err);
        return;
    }
    struct session *s = c->session;
    if (d.props.has_session_expiry) {
        if (s->expiry_interval == 0 && d.props.session_expiry != 0) {
            broker_conn_fail(c, MQTT_E_PROTOCOL);
            return;
        }
        uint32_t v = d.props.session_expiry;
        s->expiry_interval = v > BROKER_MAX_SESSION_EXPIRY ? BROKER_MAX_SESSION_EXPIRY : v;
        s->persistent = s->expiry_interval > 0;
        s->info.session_expiry = s->expiry_interval;
    }
    broker_conn_close(c, REASON_CLIENT_INITIATED, -1, d.reason == 0x04);
}
