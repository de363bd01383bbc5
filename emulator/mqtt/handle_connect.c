/*
 * broker_handle_connect.c — CONNECT: validate, take over an existing connection with the same
 * client id, resume or start the session, CONNACK, then redeliver what was pending.
 */
#include <stdio.h>
#include <string.h>

#include "broker_internal.h"
#include "mqtt_topic.h"

/* Refuses a CONNECT: MQTT 5 gets a CONNACK with the reason code, 3.1.1 a CONNACK only
 * for the return codes it has; then the connection closes. */
static void refuse(struct conn *c, enum mqtt_err err, uint8_t version)
{
    struct connack_info info = {0, false, NULL, -1};
    if (version == MQTT_V5) {
        c->version = MQTT_V5;
        info.reason = broker_reason_code(err);
        broker_send_connack(c, &info);
    } else if (broker_v311_connack_code(err) != 0) {
        c->version = MQTT_V311;
        info.reason = broker_v311_connack_code(err);
        broker_send_connack(c, &info);
    }
    broker_conn_close(c, REASON_CLIENT_ERROR, -1, false);
}

static enum mqtt_err check_connect(const struct mqtt_connect *cn)
{
    if (cn->client_id.len > BROKER_CLIENT_ID_MAX)
        return MQTT_E_CLIENT_ID;
    if (cn->client_id.len == 0 && cn->version == MQTT_V311 && !cn->clean_start)
        return MQTT_E_CLIENT_ID;
    if (cn->props.has_auth_method)
        return MQTT_E_AUTH_METHOD;
    if (!cn->has_will)
        return MQTT_OK;
    if (cn->will_qos > 1)
        return MQTT_E_QOS;
    if (!mqtt_topic_name_valid(cn->will_topic.p, cn->will_topic.len) ||
        !mqtt_topic_within_aws_limits(cn->will_topic.p, cn->will_topic.len))
        return MQTT_E_TOPIC;
    if (cn->will_payload.len > BROKER_PAYLOAD_MAX)
        return MQTT_E_TOO_LARGE;
    return MQTT_OK;
}

static uint32_t session_expiry_of(const struct mqtt_connect *cn)
{
    if (cn->version == MQTT_V311)
        return cn->clean_start ? 0 : BROKER_DEFAULT_SESSION_EXPIRY;
    uint32_t v = cn->props.has_session_expiry ? cn->props.session_expiry : 0;
    return v > BROKER_MAX_SESSION_EXPIRY ? BROKER_MAX_SESSION_EXPIRY : v;
}

static void fill_info(struct conn *c, struct session *s, const struct mqtt_connect *cn)
{
    struct broker_connection_info *info = &s->info;
    info->connected = true;
    broker_conn_peer_common_name(c, info->thing_name, sizeof(info->thing_name));
    info->clean_session = cn->clean_start;
    info->keep_alive = c->keep_alive;
    info->connected_since_ms = broker_now_ms();
    info->disconnected_since_ms = 0;
    info->disconnect_reason[0] = '\0';
    info->session_expiry = s->expiry_interval;
    snprintf(info->source_ip, sizeof(info->source_ip), "%s", c->peer_ip);
    info->source_port = c->peer_port;
    snprintf(info->target_ip, sizeof(info->target_ip), "%s", c->local_ip);
    info->target_port = c->local_port;
}

/* Attaches c to the session of its client id, closing any connection holding it. */
static struct session *take_session(struct conn *c, const struct mqtt_connect *cn,
                                    const char *id, size_t id_len, bool *present_out)
{
    struct broker *b = c->broker;
    struct session *s = broker_session_get_or_create(b, id, id_len);
    if (!s)
        return NULL;
    if (s->conn)
        broker_conn_close(s->conn, REASON_DUPLICATE, 0x8E, true);   /* Session taken over */
    broker_session_cancel_will(s);     /* resumed before the will delay ran out */
    *present_out = !cn->clean_start && s->persistent;
    if (cn->clean_start)
        broker_session_clear_state(b, s);
    s->expiry_interval = session_expiry_of(cn);
    s->persistent = s->expiry_interval > 0;
    s->conn = c;
    c->session = s;
    fill_info(c, s, cn);
    return s;
}

/* AWS IoT's adjustment: below the minimum is raised to it, 0 or above the maximum
 * lowered to the maximum. */
static uint16_t keep_alive_in_range(const struct broker *b, uint16_t asked)
{
    if (asked == 0 || asked > b->keep_alive_max)
        return b->keep_alive_max;
    return asked < b->keep_alive_min ? b->keep_alive_min : asked;
}

/* What the CONNECT tells us about this connection. */
static void adopt_options(struct conn *c, const struct mqtt_connect *cn)
{
    c->version = cn->version;
    c->no_problem_info = cn->props.request_problem_info == 0;
    c->will_delay = cn->has_will ? cn->will_props.will_delay : 0;
    c->keep_alive = keep_alive_in_range(c->broker, cn->keep_alive);
    if (cn->props.has_receive_max)
        c->client_receive_max = cn->props.receive_max;
    if (cn->props.has_max_packet)
        c->client_max_packet = cn->props.max_packet;
    if (cn->props.has_topic_alias_max)
        c->client_alias_max = cn->props.topic_alias_max;
}

void broker_handle_connect(struct conn *c, const struct mqtt_frame *f)
{
    struct mqtt_connect cn;
    enum mqtt_err err = mqtt_parse_connect(f, &cn);
    if (err == MQTT_OK)
        err = check_connect(&cn);
    if (err != MQTT_OK) {
        refuse(c, err, cn.version);
        return;
    }
    adopt_options(c, &cn);
    char assigned[40] = "";
    const char *id = cn.client_id.p;
    size_t id_len = cn.client_id.len;
    if (id_len == 0) {
        id_len = (size_t)snprintf(assigned, sizeof(assigned), "iotlua-%llu",
                                  (unsigned long long)++c->broker->assigned_ids);
        id = assigned;
    }
    if (cn.has_will && !(c->will = broker_msg_from_will(&cn, broker_now_ms()))) {
        refuse(c, MQTT_E_NOMEM, cn.version);
        return;
    }
    bool present = false;
    struct session *s = take_session(c, &cn, id, id_len, &present);
    if (!s) {
        refuse(c, MQTT_E_NOMEM, cn.version);
        return;
    }
    c->state = CONN_CONNECTED;
    broker_conn_set_keep_alive(c, c->keep_alive);
    struct connack_info info = {0, present, assigned[0] && cn.version == MQTT_V5 ? assigned : NULL,
                                c->keep_alive != cn.keep_alive ? c->keep_alive : -1};
    broker_send_connack(c, &info);
    broker_log(c->broker, LOG_INFO, "%s connected from %s:%u (MQTT %s, keep alive %u s%s)",
               s->client_id, c->peer_ip, c->peer_port, cn.version == MQTT_V5 ? "5" : "3.1.1",
               c->keep_alive, present ? ", session resumed" : "");
    if (present)
        broker_session_resume(s);
    broker_lifecycle_connected(c->broker, s, c);
}
