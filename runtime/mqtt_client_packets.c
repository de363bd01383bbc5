/*
 * mqtt_client_packets.c — what the MQTT connection says and hears: CONNECT, the
 * operations (PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PUBACK) and the packet ids they wait
 * on, every packet a server sends, the queue of messages received, reason names.
 */
#include "mqtt_client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_topic.h"

/* ================================================================ reason names */

static const struct { uint8_t code; const char *name; } REASONS[] = {
    {0x00, "Success"}, {0x01, "GrantedQoS1"}, {0x02, "GrantedQoS2"},
    {0x04, "DisconnectWithWillMessage"}, {0x10, "NoMatchingSubscribers"},
    {0x11, "NoSubscriptionExisted"}, {0x18, "ContinueAuthentication"},
    {0x19, "ReAuthenticate"}, {0x80, "UnspecifiedError"}, {0x81, "MalformedPacket"},
    {0x82, "ProtocolError"}, {0x83, "ImplementationSpecificError"},
    {0x84, "UnsupportedProtocolVersion"}, {0x85, "ClientIdentifierNotValid"},
    {0x86, "BadUserNameOrPassword"}, {0x87, "NotAuthorized"}, {0x88, "ServerUnavailable"},
    {0x89, "ServerBusy"}, {0x8A, "Banned"}, {0x8B, "ServerShuttingDown"},
    {0x8C, "BadAuthenticationMethod"}, {0x8D, "KeepAliveTimeout"},
    {0x8E, "SessionTakenOver"}, {0x8F, "TopicFilterInvalid"}, {0x90, "TopicNameInvalid"},
    {0x91, "PacketIdentifierInUse"}, {0x92, "PacketIdentifierNotFound"},
    {0x93, "ReceiveMaximumExceeded"}, {0x94, "TopicAliasInvalid"},
    {0x95, "PacketTooLarge"}, {0x96, "MessageRateTooHigh"}, {0x97, "QuotaExceeded"},
    {0x98, "AdministrativeAction"}, {0x99, "PayloadFormatInvalid"},
    {0x9A, "RetainNotSupported"}, {0x9B, "QoSNotSupported"}, {0x9C, "UseAnotherServer"},
    {0x9D, "ServerMoved"}, {0x9E, "SharedSubscriptionsNotSupported"},
    {0x9F, "ConnectionRateExceeded"}, {0xA0, "MaximumConnectTime"},
    {0xA1, "SubscriptionIdentifiersNotSupported"},
    {0xA2, "WildcardSubscriptionsNotSupported"},
};

const char *iot_mqtt_reason_name(uint8_t code, char scratch[16])
{
    for (size_t i = 0; i < sizeof REASONS / sizeof REASONS[0]; i++)
        if (REASONS[i].code == code)
            return REASONS[i].name;
    snprintf(scratch, 16, "Reason0x%02X", code);
    return scratch;
}

/* MQTT 3.1.1 CONNACK return codes 1-5 as their MQTT 5 reason codes. */
static uint8_t connack_v5_reason(int version, uint8_t code)
{
    static const uint8_t v311[] = {0x00, 0x84, 0x85, 0x88, 0x86, 0x87};
    if (version == MQTT_V5)
        return code;
    return code < sizeof v311 ? v311[code] : 0x80;
}

static void protocol_error(struct iot_mqtt *m, const char *what)
{
    struct iot_error err = {0};
    iot_error_set(&err, "ProtocolError", "the server broke the MQTT protocol: %s", what);
    mqtt_close_with(m, &err);
}

/* ================================================================ CONNECT */

int mqtt_build_connect(const struct mqtt_conf *c, int clean_start, struct buf *out,
                       struct iot_error *err)
{
    struct buf props = BUF_INIT;
    if (c->version == MQTT_V5 && c->session_expiry >= 0 &&
        mqtt_prop_u32(&props, MQTT_P_SESSION_EXPIRY, (uint32_t)c->session_expiry) != 0) {
        buf_free(&props);
        iot_error_set(err, "InternalError", "out of memory");
        return -1;
    }
    struct mqtt_connect_out co = {
        .version = (uint8_t)c->version,
        .clean_start = clean_start != 0,
        .keep_alive = (uint16_t)c->keepalive,
        .props = (const uint8_t *)props.data, .props_len = props.len,
        .client_id = c->client_id, .client_id_len = strlen(c->client_id),
        .has_will = c->has_will != 0,
        .will_qos = (uint8_t)c->will_qos, .will_retain = c->will_retain != 0,
        .will_props = (const uint8_t *)c->will_props.data, .will_props_len = c->will_props.len,
        .will_topic = c->will_topic, .will_topic_len = c->will_topic ? strlen(c->will_topic) : 0,
        .will_payload = c->will_payload, .will_payload_len = c->will_payload_len,
        .has_username = c->username != NULL,
        .username = c->username, .username_len = c->username ? strlen(c->username) : 0,
        .has_password = c->has_password != 0,
        .password = c->password, .password_len = c->password_len,
    };
    int rc = mqtt_write_connect(out, &co);
    buf_free(&props);
    if (rc != 0)
        iot_error_set(err, "ConfigError", "cannot encode CONNECT (a field over 65,535 bytes?)");
    return rc;
}

/* ================================================================ operations */

static struct mqtt_op *find_op(struct iot_mqtt *m, uint8_t type, uint16_t packet_id)
{
    for (struct dl *l = m->ops.next; l != &m->ops; l = l->next) {
        struct mqtt_op *op = DL_CONTAINER(l, struct mqtt_op, link);
        if (op->packet_id == packet_id && op->type == type)
            return op;
    }
    return NULL;
}

static int id_in_use(struct iot_mqtt *m, uint16_t id)
{
    for (struct dl *l = m->ops.next; l != &m->ops; l = l->next)
        if (DL_CONTAINER(l, struct mqtt_op, link)->packet_id == id)
            return 1;
    return 0;
}

static uint16_t next_packet_id(struct iot_mqtt *m)
{
    for (int tries = 0; tries < 65535; tries++) {
        m->last_packet_id = (uint16_t)(m->last_packet_id + 1);
        if (m->last_packet_id == 0)
            m->last_packet_id = 1;
        if (!id_in_use(m, m->last_packet_id))
            return m->last_packet_id;
    }
    return 0;
}

/* Records an operation waiting for its ack (with a copy of packet for a PUBLISH). */
static int add_op(struct iot_mqtt *m, uint8_t type, uint16_t id, const struct buf *packet)
{
    size_t keep = type == MQTT_PUBLISH ? packet->len : 0;
    struct mqtt_op *op = malloc(sizeof *op + keep);
    if (!op)
        return -1;
    op->type = type;
    op->packet_id = id;
    op->packet_len = keep;
    if (keep)
        memcpy(op->packet, packet->data, keep);
    dl_push_back(&m->ops, &op->link);
    return 0;
}

static void free_op(struct mqtt_op *op)
{
    dl_remove(&op->link);
    free(op);
}

void mqtt_drop_ops(struct iot_mqtt *m, int forget_publishes)
{
    struct dl *l = m->ops.next;
    while (l != &m->ops) {
        struct mqtt_op *op = DL_CONTAINER(l, struct mqtt_op, link);
        l = l->next;
        if (forget_publishes || op->type != MQTT_PUBLISH)
            free_op(op);
    }
}

void mqtt_resend_publishes(struct iot_mqtt *m)
{
    for (struct dl *l = m->ops.next; l != &m->ops && m->state != IOT_MQTT_CLOSED; l = l->next) {
        struct mqtt_op *op = DL_CONTAINER(l, struct mqtt_op, link);
        if (op->type != MQTT_PUBLISH)
            continue;
        op->packet[0] |= 0x08;          /* DUP */
        struct buf b = {(char *)op->packet, op->packet_len, op->packet_len};
        mqtt_send(m, &b);
    }
}

static int check_connected(struct iot_mqtt *m, struct iot_error *err)
{
    if (m->state == IOT_MQTT_CONNECTED && !m->closing)
        return 0;
    if (m->state == IOT_MQTT_CLOSED && m->close_reason.code[0])
        iot_error_set(err, "NetworkError", "not connected (%s: %s)", m->close_reason.code,
                      m->close_reason.message);
    else
        iot_error_set(err, "NetworkError", "not connected");
    return -1;
}

/* Sends packet; with wait_type, first records the operation that waits for its ack. */
static int send_op(struct iot_mqtt *m, const struct buf *packet, uint8_t wait_type,
                   uint16_t id, struct iot_error *err)
{
    if (m->server_max_packet && packet->len > m->server_max_packet) {
        iot_error_set(err, "PacketTooLarge", "the packet is %zu bytes; the server accepts at "
                      "most %u", packet->len, (unsigned)m->server_max_packet);
        return -1;
    }
    if (wait_type && add_op(m, wait_type, id, packet) != 0) {
        iot_error_set(err, "InternalError", "out of memory");
        return -1;
    }
    if (mqtt_send(m, packet) != 0) {
        *err = m->close_reason;
        return -1;
    }
    return 0;
}

int iot_mqtt_publish(struct iot_mqtt *m, const struct iot_mqtt_publish *p,
                     uint16_t *packet_id_out, struct iot_error *err)
{
    *packet_id_out = 0;
    if (check_connected(m, err) != 0)
        return -1;
    uint16_t id = p->qos > 0 ? next_packet_id(m) : 0;
    if (p->qos > 0 && id == 0) {
        iot_error_set(err, "QuotaExceeded", "65,535 operations already wait for their acks");
        return -1;
    }
    struct buf props = BUF_INIT, packet = BUF_INIT;
    int rc = -1;
    if (m->conf.version == MQTT_V5 && mqtt_put_message_props(&props, &p->props) != 0) {
        iot_error_set(err, "InternalError", "out of memory");
        goto done;
    }
    struct mqtt_publish_out po = {
        .version = (uint8_t)m->conf.version, .qos = (uint8_t)p->qos, .retain = p->retain != 0,
        .topic = p->topic, .topic_len = strlen(p->topic), .packet_id = id,
        .props = (const uint8_t *)props.data, .props_len = props.len,
        .payload = p->payload, .payload_len = p->payload_len,
    };
    if (mqtt_write_publish(&packet, &po) != 0) {
        iot_error_set(err, "ConfigError", "cannot encode the PUBLISH (topic or a property "
                      "over 65,535 bytes?)");
        goto done;
    }
    rc = send_op(m, &packet, p->qos > 0 ? MQTT_PUBLISH : 0, id, err);
    if (rc == 0)
        *packet_id_out = id;
done:
    buf_free(&props);
    buf_free(&packet);
    return rc;
}

static int sub_packet(struct iot_mqtt *m, uint8_t type, const struct mqtt_sub_out *subs,
                      size_t count, uint32_t subscription_id, uint16_t *packet_id_out,
                      struct iot_error *err)
{
    *packet_id_out = 0;
    if (check_connected(m, err) != 0)
        return -1;
    if (count == 0 || count > IOT_MQTT_MAX_CODES) {
        iot_error_set(err, "ConfigError", "1 to %d filters at a time", IOT_MQTT_MAX_CODES);
        return -1;
    }
    uint16_t id = next_packet_id(m);
    struct buf props = BUF_INIT, packet = BUF_INIT;
    int rc = -1;
    if (subscription_id && m->conf.version == MQTT_V5 &&
        mqtt_prop_varint(&props, MQTT_P_SUBSCRIPTION_ID, subscription_id) != 0) {
        iot_error_set(err, "InternalError", "out of memory");
        goto done;
    }
    int w = type == MQTT_SUBSCRIBE
                ? mqtt_write_subscribe(&packet, (uint8_t)m->conf.version, id,
                                       (const uint8_t *)props.data, props.len, subs, count)
                : mqtt_write_unsubscribe(&packet, (uint8_t)m->conf.version, id,
                                         (const uint8_t *)props.data, props.len, subs, count);
    if (id == 0 || w != 0) {
        iot_error_set(err, "ConfigError", "cannot encode the %s",
                      type == MQTT_SUBSCRIBE ? "SUBSCRIBE" : "UNSUBSCRIBE");
        goto done;
    }
    rc = send_op(m, &packet, type, id, err);
    if (rc == 0)
        *packet_id_out = id;
done:
    buf_free(&props);
    buf_free(&packet);
    return rc;
}

int iot_mqtt_subscribe(struct iot_mqtt *m, const struct iot_mqtt_subscription *subs,
                       size_t count, uint32_t subscription_id, uint16_t *packet_id_out,
                       struct iot_error *err)
{
    struct mqtt_sub_out out[IOT_MQTT_MAX_CODES];
    size_t n = count <= IOT_MQTT_MAX_CODES ? count : 0;
    for (size_t i = 0; i < n; i++) {
        out[i].filter = subs[i].filter;
        out[i].len = strlen(subs[i].filter);
        out[i].options = (uint8_t)((subs[i].qos & 3) | (subs[i].no_local ? 0x04 : 0) |
                                   (subs[i].retain_as_published ? 0x08 : 0) |
                                   (subs[i].retain_handling & 3) << 4);
    }
    return sub_packet(m, MQTT_SUBSCRIBE, out, count <= IOT_MQTT_MAX_CODES ? count : 0,
                      subscription_id, packet_id_out, err);
}

int iot_mqtt_unsubscribe(struct iot_mqtt *m, const char *const *filters, size_t count,
                         uint16_t *packet_id_out, struct iot_error *err)
{
    struct mqtt_sub_out out[IOT_MQTT_MAX_CODES];
    size_t n = count <= IOT_MQTT_MAX_CODES ? count : 0;
    for (size_t i = 0; i < n; i++) {
        out[i].filter = filters[i];
        out[i].len = strlen(filters[i]);
        out[i].options = 0;
    }
    return sub_packet(m, MQTT_UNSUBSCRIBE, out, n, 0, packet_id_out, err);
}

static int send_puback(struct iot_mqtt *m, uint16_t packet_id)
{
    struct buf ack = BUF_INIT;
    int rc = mqtt_write_ack(&ack, MQTT_PUBACK, (uint8_t)m->conf.version, packet_id, 0);
    if (rc == 0)
        rc = mqtt_send(m, &ack);
    buf_free(&ack);
    return rc;
}

int iot_mqtt_ack(struct iot_mqtt *m, uint16_t packet_id, uint64_t generation,
                 struct iot_error *err)
{
    if (packet_id == 0 || generation != m->generation || check_connected(m, err) != 0) {
        iot_error_set(err, "NetworkError", "the connection this message came on is gone");
        return -1;
    }
    if (send_puback(m, packet_id) != 0) {
        *err = m->close_reason;
        return -1;
    }
    return 0;
}

/* ================================================================ the message queue */

static void enqueue(struct iot_mqtt *m, struct iot_mqtt_message *msg)
{
    if (m->queued >= m->conf.queue_limit) {  /* full: the oldest goes, counted */
        struct iot_mqtt_message *old = m->queue_head;
        m->queue_head = old->next;
        if (!m->queue_head)
            m->queue_tail = NULL;
        m->queued--;
        m->dropped++;
        iot_mqtt_message_free(old);
    }
    msg->next = NULL;
    if (m->queue_tail)
        m->queue_tail->next = msg;
    else
        m->queue_head = msg;
    m->queue_tail = msg;
    m->queued++;
}

struct iot_mqtt_message *iot_mqtt_take(struct iot_mqtt *m, const char *filter,
                                       size_t filter_len)
{
    struct iot_mqtt_message *prev = NULL;
    for (struct iot_mqtt_message *msg = m->queue_head; msg; prev = msg, msg = msg->next) {
        if (filter && !mqtt_topic_matches(filter, filter_len, msg->pub.topic.p,
                                          msg->pub.topic.len))
            continue;
        if (prev)
            prev->next = msg->next;
        else
            m->queue_head = msg->next;
        if (m->queue_tail == msg)
            m->queue_tail = prev;
        m->queued--;
        msg->next = NULL;
        return msg;
    }
    return NULL;
}

void iot_mqtt_message_free(struct iot_mqtt_message *msg)
{
    free(msg);
}

void mqtt_free_queue(struct iot_mqtt *m)
{
    while (m->queue_head) {
        struct iot_mqtt_message *msg = m->queue_head;
        m->queue_head = msg->next;
        free(msg);
    }
    m->queue_tail = NULL;
    m->queued = 0;
}

/* ================================================================ packets from the server */

static void handle_connack(struct iot_mqtt *m, const struct mqtt_frame *f)
{
    struct mqtt_connack ca;
    if (m->state != IOT_MQTT_CONNECTING || mqtt_parse_connack(f, m->conf.version, &ca) != MQTT_OK) {
        protocol_error(m, "an unexpected or malformed CONNACK");
        return;
    }
    uint8_t reason = connack_v5_reason(m->conf.version, ca.reason);
    if (reason != 0) {
        char scratch[16];
        struct iot_error err = {0};
        const char *name = iot_mqtt_reason_name(reason, scratch);
        iot_error_set(&err, name, "the server refused the connection: %s (reason 0x%02X)%s%.*s",
                      name, reason, ca.props.has_reason_string ? ": " : "",
                      ca.props.has_reason_string ? (int)ca.props.reason_string.len : 0,
                      ca.props.has_reason_string ? ca.props.reason_string.p : "");
        err.status = reason;
        mqtt_close_with(m, &err);
        return;
    }
    if (ca.props.has_server_keep_alive)
        m->keepalive = ca.props.server_keep_alive;
    if (ca.props.has_max_packet)
        m->server_max_packet = ca.props.max_packet;
    if (ca.props.has_assigned_client_id) {
        free(m->assigned_client_id);
        m->assigned_client_id = strndup(ca.props.assigned_client_id.p,
                                        ca.props.assigned_client_id.len);
    }
    mqtt_connected(m, ca.session_present);
}

/* A copy of the PUBLISH that owns its bytes: the body is copied and parsed again there. */
static struct iot_mqtt_message *message_copy(const struct mqtt_frame *f, int version)
{
    struct iot_mqtt_message *msg = malloc(sizeof *msg + f->body_len);
    if (!msg)
        return NULL;
    memset(msg, 0, sizeof *msg);
    memcpy(msg->body, f->body, f->body_len);
    msg->body_len = f->body_len;
    struct mqtt_frame copy = *f;
    copy.body = msg->body;
    mqtt_parse_server_publish(&copy, version, &msg->pub);
    return msg;
}

static void handle_publish(struct iot_mqtt *m, const struct mqtt_frame *f)
{
    struct mqtt_publish p;
    if (m->state != IOT_MQTT_CONNECTED ||
        mqtt_parse_server_publish(f, m->conf.version, &p) != MQTT_OK || p.qos > 1) {
        protocol_error(m, "an unexpected or malformed PUBLISH");
        return;
    }
    m->received++;
    struct iot_mqtt_message *msg = message_copy(f, m->conf.version);
    if (!msg) {
        m->dropped++;                   /* out of memory: counted, and not acknowledged */
        return;
    }
    msg->generation = m->generation;
    if (p.qos == 1 && m->conf.auto_ack) {
        msg->acked = 1;
        if (send_puback(m, p.packet_id) != 0) {
            free(msg);
            return;
        }
    }
    enqueue(m, msg);
    struct iot_mqtt_notice n = {.kind = IOT_MQTT_N_MESSAGES};
    mqtt_notify(m, &n);
}

static void handle_puback(struct iot_mqtt *m, const struct mqtt_frame *f)
{
    struct mqtt_ack ack;
    if (mqtt_parse_ack(f, m->conf.version, &ack) != MQTT_OK) {
        protocol_error(m, "a malformed PUBACK");
        return;
    }
    struct mqtt_op *op = find_op(m, MQTT_PUBLISH, ack.packet_id);
    if (!op)
        return;                         /* a second PUBACK for a resent PUBLISH */
    free_op(op);
    struct iot_mqtt_notice n = {.kind = IOT_MQTT_N_PUBACK, .packet_id = ack.packet_id,
                                .reason = ack.reason};
    mqtt_notify(m, &n);
}

static void handle_suback(struct iot_mqtt *m, const struct mqtt_frame *f)
{
    struct mqtt_suback sa;
    int sub = f->type == MQTT_SUBACK;
    enum mqtt_err e = sub ? mqtt_parse_suback(f, m->conf.version, &sa)
                          : mqtt_parse_unsuback(f, m->conf.version, &sa);
    struct mqtt_op *op = e == MQTT_OK
                             ? find_op(m, sub ? MQTT_SUBSCRIBE : MQTT_UNSUBSCRIBE, sa.packet_id)
                             : NULL;
    if (!op) {
        protocol_error(m, sub ? "a malformed or unexpected SUBACK"
                              : "a malformed or unexpected UNSUBACK");
        return;
    }
    free_op(op);
    struct iot_mqtt_notice n = {.kind = sub ? IOT_MQTT_N_SUBACK : IOT_MQTT_N_UNSUBACK,
                                .packet_id = sa.packet_id};
    n.count = sa.count < IOT_MQTT_MAX_CODES ? sa.count : IOT_MQTT_MAX_CODES;
    memcpy(n.codes, sa.reasons, n.count);
    mqtt_notify(m, &n);
}

static void handle_disconnect(struct iot_mqtt *m, const struct mqtt_frame *f)
{
    struct mqtt_disconnect d;
    if (m->conf.version != MQTT_V5 || mqtt_parse_disconnect(f, m->conf.version, &d) != MQTT_OK) {
        protocol_error(m, "a malformed DISCONNECT");
        return;
    }
    char scratch[16];
    const char *name = iot_mqtt_reason_name(d.reason, scratch);
    struct iot_error err = {0};
    iot_error_set(&err, name, "the server closed the connection: %s (reason 0x%02X)%s%.*s",
                  name, d.reason, d.props.has_reason_string ? ": " : "",
                  d.props.has_reason_string ? (int)d.props.reason_string.len : 0,
                  d.props.has_reason_string ? d.props.reason_string.p : "");
    err.status = d.reason;
    mqtt_close_with(m, &err);
}

void mqtt_handle_frame(struct iot_mqtt *m, const struct mqtt_frame *f)
{
    switch (f->type) {
    case MQTT_CONNACK:
        handle_connack(m, f);
        break;
    case MQTT_PUBLISH:
        handle_publish(m, f);
        break;
    case MQTT_PUBACK:
        handle_puback(m, f);
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        handle_suback(m, f);
        break;
    case MQTT_PINGRESP:
        if (mqtt_parse_empty(f) != MQTT_OK)
            protocol_error(m, "a malformed PINGRESP");
        m->ping_outstanding = 0;
        break;
    case MQTT_DISCONNECT:
        handle_disconnect(m, f);
        break;
    default: {
        char what[48];
        snprintf(what, sizeof what, "a packet of type %u, which a client never gets",
                 (unsigned)f->type);
        protocol_error(m, what);
    }
    }
}
