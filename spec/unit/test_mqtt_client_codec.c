/*
 * test_mqtt_client_codec.c — the client's side of the MQTT codec: the writers
 * (runtime/mqtt_codec/mqtt_write_client.c) checked byte for byte against packets written
 * out from the MQTT 3.1.1 and 5.0 specifications and read back by the broker's parsers,
 * and the parsers of what a server sends (CONNACK, SUBACK, UNSUBACK, a server's PUBLISH)
 * on hand-written bytes, malformed ones included.
 */
#include "check.h"

#include "mqtt_codec.h"

#define BYTES(s) (const uint8_t *)(s), sizeof(s) - 1

static struct mqtt_frame frame_of(const struct buf *b)
{
    struct mqtt_frame f;
    CHECK_REQUIRE(mqtt_frame_decode((const uint8_t *)b->data, b->len, 1 << 20, &f) == MQTT_OK);
    CHECK_INT_EQ(f.frame_len, b->len);
    return f;
}

static struct mqtt_frame raw_frame(const uint8_t *p, size_t n)
{
    struct mqtt_frame f;
    CHECK_REQUIRE(mqtt_frame_decode(p, n, 1 << 20, &f) == MQTT_OK);
    return f;
}

/* ---------------------------------------------------------------- writers, exact bytes */

static void test_exact_bytes(void)
{
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(mqtt_write_pingreq(&b), 0);
    CHECK_MEM_EQ(b.data, b.len, "\xC0\x00", 2);
    buf_reset(&b);

    /* MQTT 3.1.1 CONNECT, client id "a", keep alive 60, clean session */
    struct mqtt_connect_out c = {.version = MQTT_V311, .clean_start = true, .keep_alive = 60,
                                 .client_id = "a", .client_id_len = 1};
    CHECK_INT_EQ(mqtt_write_connect(&b, &c), 0);
    CHECK_MEM_EQ(b.data, b.len, "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01" "a", 15);
    buf_reset(&b);

    /* MQTT 5 PUBACK with reason 0: the short form; with a reason, three bytes */
    CHECK_INT_EQ(mqtt_write_ack(&b, MQTT_PUBACK, MQTT_V5, 7, 0), 0);
    CHECK_MEM_EQ(b.data, b.len, "\x40\x02\x00\x07", 4);
    buf_reset(&b);
    CHECK_INT_EQ(mqtt_write_ack(&b, MQTT_PUBACK, MQTT_V5, 7, 0x10), 0);
    CHECK_MEM_EQ(b.data, b.len, "\x40\x03\x00\x07\x10", 5);
    buf_reset(&b);

    /* DISCONNECT: empty in 3.1.1 and for a plain MQTT 5 one; reason 0x04 otherwise */
    CHECK_INT_EQ(mqtt_write_disconnect(&b, MQTT_V311, 0x04, NULL, 0), 0);
    CHECK_MEM_EQ(b.data, b.len, "\xE0\x00", 2);
    buf_reset(&b);
    CHECK_INT_EQ(mqtt_write_disconnect(&b, MQTT_V5, 0x04, NULL, 0), 0);
    CHECK_MEM_EQ(b.data, b.len, "\xE0\x02\x04\x00", 4);
    buf_reset(&b);

    /* SUBSCRIBE carries flags 0x02; options byte after the filter */
    struct mqtt_sub_out s = {"a/#", 3, 0x01 | 0x04};
    CHECK_INT_EQ(mqtt_write_subscribe(&b, MQTT_V311, 10, NULL, 0, &s, 1), 0);
    CHECK_MEM_EQ(b.data, b.len, "\x82\x08\x00\x0a\x00\x03" "a/#\x05", 10);
    buf_free(&b);
}

/* ---------------------------------------------------------------- writers, read back */

static void test_connect_round_trip(void)
{
    struct buf props = BUF_INIT, will_props = BUF_INIT, b = BUF_INIT;
    CHECK_INT_EQ(mqtt_prop_u32(&props, MQTT_P_SESSION_EXPIRY, 300), 0);
    CHECK_INT_EQ(mqtt_prop_u32(&will_props, MQTT_P_WILL_DELAY, 5), 0);
    CHECK_INT_EQ(mqtt_prop_bytes(&will_props, MQTT_P_CONTENT_TYPE, "text/plain", 10), 0);
    struct mqtt_connect_out c = {
        .version = MQTT_V5, .clean_start = false, .keep_alive = 30,
        .props = (const uint8_t *)props.data, .props_len = props.len,
        .client_id = "dev-1", .client_id_len = 5, .has_will = true, .will_qos = 1,
        .will_retain = true, .will_props = (const uint8_t *)will_props.data,
        .will_props_len = will_props.len, .will_topic = "status/dev-1", .will_topic_len = 12,
        .will_payload = "offline", .will_payload_len = 7, .has_username = true,
        .username = "user", .username_len = 4, .has_password = true, .password = "pw\0x",
        .password_len = 4,
    };
    CHECK_INT_EQ(mqtt_write_connect(&b, &c), 0);
    struct mqtt_frame f = frame_of(&b);
    struct mqtt_connect in;
    CHECK_INT_EQ(mqtt_parse_connect(&f, &in), MQTT_OK);
    CHECK_INT_EQ(in.version, MQTT_V5);
    CHECK(!in.clean_start);
    CHECK_INT_EQ(in.keep_alive, 30);
    CHECK(in.props.has_session_expiry);
    CHECK_INT_EQ(in.props.session_expiry, 300);
    CHECK_MEM_EQ(in.client_id.p, in.client_id.len, "dev-1", 5);
    CHECK(in.has_will);
    CHECK_INT_EQ(in.will_qos, 1);
    CHECK(in.will_retain);
    CHECK_INT_EQ(in.will_props.will_delay, 5);
    CHECK_MEM_EQ(in.will_props.content_type.p, in.will_props.content_type.len, "text/plain", 10);
    CHECK_MEM_EQ(in.will_topic.p, in.will_topic.len, "status/dev-1", 12);
    CHECK_MEM_EQ(in.will_payload.p, in.will_payload.len, "offline", 7);
    CHECK_MEM_EQ(in.username.p, in.username.len, "user", 4);
    CHECK_MEM_EQ(in.password.p, in.password.len, "pw\0x", 4);

    /* MQTT 3.1.1: the same fields without the property blocks */
    buf_reset(&b);
    c.version = MQTT_V311;
    CHECK_INT_EQ(mqtt_write_connect(&b, &c), 0);
    f = frame_of(&b);
    CHECK_INT_EQ(mqtt_parse_connect(&f, &in), MQTT_OK);
    CHECK_INT_EQ(in.version, MQTT_V311);
    CHECK_MEM_EQ(in.will_topic.p, in.will_topic.len, "status/dev-1", 12);
    CHECK(!in.props.has_session_expiry);
    buf_free(&props);
    buf_free(&will_props);
    buf_free(&b);
}

static void test_publish_round_trip(void)
{
    struct buf props = BUF_INIT, b = BUF_INIT;
    CHECK_INT_EQ(mqtt_prop_u8(&props, MQTT_P_PAYLOAD_FORMAT, 1), 0);
    CHECK_INT_EQ(mqtt_prop_u32(&props, MQTT_P_MESSAGE_EXPIRY, 60), 0);
    CHECK_INT_EQ(mqtt_prop_bytes(&props, MQTT_P_RESPONSE_TOPIC, "r/1", 3), 0);
    CHECK_INT_EQ(mqtt_prop_bytes(&props, MQTT_P_CORRELATION, "\x00\x01", 2), 0);
    CHECK_INT_EQ(mqtt_prop_user(&props, "k", 1, "v", 1), 0);
    struct mqtt_publish_out p = {.version = MQTT_V5, .qos = 1, .retain = true, .dup = true,
                                 .topic = "t/1", .topic_len = 3, .packet_id = 9,
                                 .props = (const uint8_t *)props.data, .props_len = props.len,
                                 .payload = "hello", .payload_len = 5};
    CHECK_INT_EQ(mqtt_write_publish(&b, &p), 0);
    struct mqtt_frame f = frame_of(&b);
    struct mqtt_publish in;
    CHECK_INT_EQ(mqtt_parse_publish(&f, MQTT_V5, &in), MQTT_OK);
    CHECK(in.retain && in.dup);
    CHECK_INT_EQ(in.qos, 1);
    CHECK_INT_EQ(in.packet_id, 9);
    CHECK_MEM_EQ(in.topic.p, in.topic.len, "t/1", 3);
    CHECK_MEM_EQ(in.payload.p, in.payload.len, "hello", 5);
    CHECK_INT_EQ(in.props.payload_format, 1);
    CHECK_INT_EQ(in.props.message_expiry, 60);
    CHECK_MEM_EQ(in.props.response_topic.p, in.props.response_topic.len, "r/1", 3);
    CHECK_MEM_EQ(in.props.correlation.p, in.props.correlation.len, "\x00\x01", 2);
    size_t off = 0;
    struct mqtt_str k, v;
    CHECK(mqtt_props_next_user(&in.props, &off, &k, &v));
    CHECK_MEM_EQ(k.p, k.len, "k", 1);
    CHECK_MEM_EQ(v.p, v.len, "v", 1);
    buf_free(&props);
    buf_free(&b);
}

static void test_subscribe_round_trip(void)
{
    struct buf props = BUF_INIT, b = BUF_INIT;
    CHECK_INT_EQ(mqtt_prop_varint(&props, MQTT_P_SUBSCRIPTION_ID, 300), 0);
    struct mqtt_sub_out subs[] = {{"a/+", 3, 0x01 | 0x08 | (2 << 4)}, {"b", 1, 0x00}};
    CHECK_INT_EQ(mqtt_write_subscribe(&b, MQTT_V5, 4, (const uint8_t *)props.data, props.len,
                                      subs, 2), 0);
    struct mqtt_frame f = frame_of(&b);
    struct mqtt_sub_list list;
    CHECK_INT_EQ(mqtt_parse_subscribe(&f, MQTT_V5, &list), MQTT_OK);
    CHECK_INT_EQ(list.packet_id, 4);
    CHECK_INT_EQ(list.count, 2);
    CHECK_INT_EQ(list.props.subscription_id, 300);
    size_t off = 0;
    struct mqtt_str filter;
    uint8_t options;
    CHECK(mqtt_sub_next(&list, &off, &filter, &options));
    CHECK_MEM_EQ(filter.p, filter.len, "a/+", 3);
    CHECK_INT_EQ(options, 0x29);
    CHECK(mqtt_sub_next(&list, &off, &filter, &options));
    CHECK_MEM_EQ(filter.p, filter.len, "b", 1);

    buf_reset(&b);
    CHECK_INT_EQ(mqtt_write_unsubscribe(&b, MQTT_V311, 5, NULL, 0, subs, 2), 0);
    f = frame_of(&b);
    CHECK_INT_EQ(mqtt_parse_unsubscribe(&f, MQTT_V311, &list), MQTT_OK);
    CHECK_INT_EQ(list.packet_id, 5);
    CHECK_INT_EQ(list.count, 2);
    buf_free(&props);
    buf_free(&b);
}

static void test_acks_read_back(void)
{
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(mqtt_write_ack(&b, MQTT_PUBACK, MQTT_V5, 300, 0x87), 0);
    struct mqtt_frame f = frame_of(&b);
    struct mqtt_ack a;
    CHECK_INT_EQ(mqtt_parse_ack(&f, MQTT_V5, &a), MQTT_OK);
    CHECK_INT_EQ(a.packet_id, 300);
    CHECK_INT_EQ(a.reason, 0x87);
    buf_reset(&b);
    struct buf props = BUF_INIT;
    CHECK_INT_EQ(mqtt_prop_u32(&props, MQTT_P_SESSION_EXPIRY, 0), 0);
    CHECK_INT_EQ(mqtt_write_disconnect(&b, MQTT_V5, 0, (const uint8_t *)props.data, props.len), 0);
    f = frame_of(&b);
    struct mqtt_disconnect d;
    CHECK_INT_EQ(mqtt_parse_disconnect(&f, MQTT_V5, &d), MQTT_OK);
    CHECK(d.props.has_session_expiry);
    buf_free(&props);
    buf_free(&b);
}

/* ---------------------------------------------------------------- what a client reads */

static void test_connack(void)
{
    struct mqtt_connack ca;
    struct mqtt_frame f = raw_frame(BYTES("\x20\x02\x01\x00"));
    CHECK_INT_EQ(mqtt_parse_connack(&f, MQTT_V311, &ca), MQTT_OK);
    CHECK(ca.session_present);
    CHECK_INT_EQ(ca.reason, 0);
    CHECK_INT_EQ(ca.props.max_qos, -1);               /* absent */

    f = raw_frame(BYTES("\x20\x02\x00\x05"));           /* 3.1.1: not authorized */
    CHECK_INT_EQ(mqtt_parse_connack(&f, MQTT_V311, &ca), MQTT_OK);
    CHECK_INT_EQ(ca.reason, 5);

    /* MQTT 5: assigned client id, server keep alive, maximum QoS 0, a reason string */
    f = raw_frame(BYTES("\x20\x13\x00\x00\x10\x12\x00\x03" "abc\x13\x00\x3c\x24\x00"
                        "\x1f\x00\x02" "ok"));
    CHECK_INT_EQ(mqtt_parse_connack(&f, MQTT_V5, &ca), MQTT_OK);
    CHECK(ca.props.has_assigned_client_id);
    CHECK_MEM_EQ(ca.props.assigned_client_id.p, ca.props.assigned_client_id.len, "abc", 3);
    CHECK(ca.props.has_server_keep_alive);
    CHECK_INT_EQ(ca.props.server_keep_alive, 60);
    CHECK_INT_EQ(ca.props.max_qos, 0);
    CHECK_MEM_EQ(ca.props.reason_string.p, ca.props.reason_string.len, "ok", 2);

    /* malformed: reserved acknowledge flags, a truncated body, a property twice, a
     * property a CONNACK cannot carry (payload format) */
    f = raw_frame(BYTES("\x20\x02\x02\x00"));
    CHECK_INT_EQ(mqtt_parse_connack(&f, MQTT_V311, &ca), MQTT_E_MALFORMED);
    f = raw_frame(BYTES("\x20\x01\x00"));
    CHECK_INT_EQ(mqtt_parse_connack(&f, MQTT_V311, &ca), MQTT_E_MALFORMED);
    f = raw_frame(BYTES("\x20\x09\x00\x00\x06\x13\x00\x3c\x13\x00\x3c"));
    CHECK_INT_EQ(mqtt_parse_connack(&f, MQTT_V5, &ca), MQTT_E_PROTOCOL);
    f = raw_frame(BYTES("\x20\x05\x00\x00\x02\x01\x01"));
    CHECK_INT_EQ(mqtt_parse_connack(&f, MQTT_V5, &ca), MQTT_E_PROTOCOL);
}

static void test_suback_unsuback(void)
{
    struct mqtt_suback sa;
    struct mqtt_frame f = raw_frame(BYTES("\x90\x04\x00\x07\x01\x80"));
    CHECK_INT_EQ(mqtt_parse_suback(&f, MQTT_V311, &sa), MQTT_OK);
    CHECK_INT_EQ(sa.packet_id, 7);
    CHECK_MEM_EQ(sa.reasons, sa.count, "\x01\x80", 2);
    f = raw_frame(BYTES("\x90\x03\x00\x07\x87"));       /* 0x87 is MQTT 5 only */
    CHECK_INT_EQ(mqtt_parse_suback(&f, MQTT_V311, &sa), MQTT_E_PROTOCOL);
    f = raw_frame(BYTES("\x90\x08\x00\x07\x04\x1f\x00\x01" "x\x87"));
    CHECK_INT_EQ(mqtt_parse_suback(&f, MQTT_V5, &sa), MQTT_OK);
    CHECK_MEM_EQ(sa.reasons, sa.count, "\x87", 1);
    CHECK_MEM_EQ(sa.props.reason_string.p, sa.props.reason_string.len, "x", 1);
    f = raw_frame(BYTES("\x90\x02\x00\x07"));           /* no reason code at all */
    CHECK_INT_EQ(mqtt_parse_suback(&f, MQTT_V311, &sa), MQTT_E_PROTOCOL);

    f = raw_frame(BYTES("\xb0\x02\x00\x09"));
    CHECK_INT_EQ(mqtt_parse_unsuback(&f, MQTT_V311, &sa), MQTT_OK);
    CHECK_INT_EQ(sa.packet_id, 9);
    CHECK_INT_EQ(sa.count, 0);
    f = raw_frame(BYTES("\xb0\x05\x00\x09\x00\x00\x11"));
    CHECK_INT_EQ(mqtt_parse_unsuback(&f, MQTT_V5, &sa), MQTT_OK);
    CHECK_MEM_EQ(sa.reasons, sa.count, "\x00\x11", 2);
    f = raw_frame(BYTES("\xb0\x03\x00\x09\x00"));       /* 3.1.1 UNSUBACK has no codes */
    CHECK_INT_EQ(mqtt_parse_unsuback(&f, MQTT_V311, &sa), MQTT_E_MALFORMED);
}

static void test_server_publish(void)
{
    /* QoS 1, topic "t", packet id 5, two subscription identifiers, payload "xy" */
    static const char bytes[] = "\x32\x0c\x00\x01t\x00\x05\x04\x0b\x01\x0b\x02xy";
    struct mqtt_frame f = raw_frame(BYTES(bytes));
    struct mqtt_publish p;
    CHECK_INT_EQ(mqtt_parse_server_publish(&f, MQTT_V5, &p), MQTT_OK);
    CHECK_INT_EQ(p.packet_id, 5);
    CHECK_INT_EQ(p.props.subscription_id, 1);
    CHECK_MEM_EQ(p.payload.p, p.payload.len, "xy", 2);
    size_t off = 0, ids = 0;
    uint8_t id;
    struct mqtt_bin raw;
    while (mqtt_props_next(&p.props, &off, &id, &raw))
        ids += id == MQTT_P_SUBSCRIPTION_ID;
    CHECK_INT_EQ(ids, 2);
    /* a client may not send subscription identifiers: the broker's parser refuses */
    CHECK_INT_EQ(mqtt_parse_publish(&f, MQTT_V5, &p), MQTT_E_PROTOCOL);
}

int main(void)
{
    test_exact_bytes();
    test_connect_round_trip();
    test_publish_round_trip();
    test_subscribe_round_trip();
    test_acks_read_back();
    test_connack();
    test_suback_unsuback();
    test_server_publish();
    return CHECK_SUMMARY();
}
