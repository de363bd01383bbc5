/*
 * test_mqtt_packet.c — unit tests of the emulator broker's pure functions: the MQTT frame
 * decoder and packet parsers (runtime/mqtt_codec/mqtt_read.c), the encoders
 * (mqtt_write.c) and topic matching and limits (mqtt_topic.c). Table-driven; the byte
 * vectors are written from the MQTT 3.1.1 and 5.0 specifications. (Owner: H4. The
 * emulator's sources are compiled in here because the unit tests link only the runtime.)
 */
#include "check.h"

#include "mqtt_codec.h"
#include "mqtt_topic.h"

#define BYTES(s) (const uint8_t *)(s), sizeof(s) - 1

static enum mqtt_err frame(const uint8_t *p, size_t n, struct mqtt_frame *f)
{
    return mqtt_frame_decode(p, n, 1 << 20, f);
}

/* ---------------------------------------------------------------- topics */

static const struct {
    const char *filter, *topic;
    bool match;
} MATCHES[] = {
    {"a/b", "a/b", true},       {"a/b", "a/c", false},      {"a/+", "a/b", true},
    {"a/+", "a/b/c", false},    {"a/+", "a", false},        {"a/+", "a/", true},
    {"a/#", "a", true},         {"a/#", "a/b/c", true},     {"a/#", "ab", false},
    {"#", "a/b", true},         {"+/+", "a/b", true},       {"+/+", "a", false},
    {"+", "/", false},          {"+/+", "/", true},         {"/+", "/a", true},
    {"a/+/c", "a/b/c", true},   {"a/+/c", "a/b/d", false},  {"a//b", "a//b", true},
    {"#", "$SYS/x", false},     {"+/x", "$SYS/x", false},   {"$SYS/#", "$SYS/x", true},
    {"$SYS/+", "$SYS/x", true}, {"a/b/#", "a/b", true},     {"a/+/#", "a", false},
};

static void test_topic_matching(void)
{
    for (size_t i = 0; i < sizeof(MATCHES) / sizeof(MATCHES[0]); i++) {
        const char *f = MATCHES[i].filter, *t = MATCHES[i].topic;
        if (mqtt_topic_matches(f, strlen(f), t, strlen(t)) != MATCHES[i].match) {
            CHECK(!"mqtt_topic_matches");
            fprintf(stderr, "  filter '%s' topic '%s' expected %d\n", f, t, MATCHES[i].match);
        } else {
            CHECK(1);
        }
    }
}

static void test_topic_validity_and_limits(void)
{
    CHECK(mqtt_topic_filter_valid("a/+/b/#", 7));
    CHECK(!mqtt_topic_filter_valid("a/b#", 4));
    CHECK(!mqtt_topic_filter_valid("a/#/b", 5));
    CHECK(!mqtt_topic_filter_valid("a+/b", 4));
    CHECK(!mqtt_topic_filter_valid("", 0));
    CHECK(mqtt_topic_name_valid("a/b", 3));
    CHECK(!mqtt_topic_name_valid("a/+", 3));
    CHECK(!mqtt_topic_name_valid("", 0));
    char t[300];
    memset(t, 'x', sizeof(t));
    CHECK(mqtt_topic_within_aws_limits(t, 256));
    CHECK(!mqtt_topic_within_aws_limits(t, 257));
    CHECK(mqtt_topic_within_aws_limits("1/2/3/4/5/6/7/8", 15));          /* 7 slashes */
    CHECK(!mqtt_topic_within_aws_limits("1/2/3/4/5/6/7/8/9", 17));       /* 8 */
    const char *rules = "$aws/rules/r/1/2/3/4/5/6/7/8";                /* 7 after the prefix */
    CHECK(mqtt_topic_within_aws_limits(rules, strlen(rules)));
    const char *group, *rest;
    size_t gl, rl;
    CHECK_INT_EQ(mqtt_topic_split_shared("$share/g/a/#", 12, &group, &gl, &rest, &rl), 1);
    CHECK_MEM_EQ(group, gl, "g", 1);
    CHECK_MEM_EQ(rest, rl, "a/#", 3);
    CHECK_INT_EQ(mqtt_topic_split_shared("$share//a", 9, &group, &gl, &rest, &rl), -1);
    CHECK_INT_EQ(mqtt_topic_split_shared("$share/g", 8, &group, &gl, &rest, &rl), -1);
    CHECK_INT_EQ(mqtt_topic_split_shared("$share/g/", 9, &group, &gl, &rest, &rl), -1);
    CHECK_INT_EQ(mqtt_topic_split_shared("$sharex/g/a", 11, &group, &gl, &rest, &rl), 0);
}

/* ---------------------------------------------------------------- frames */

static void test_frame_decoder(void)
{
    struct mqtt_frame f;
    CHECK_INT_EQ(frame(BYTES("\xc0"), &f), MQTT_NEED_MORE);
    CHECK_INT_EQ(frame(BYTES("\xc0\x00"), &f), MQTT_OK);
    CHECK_INT_EQ(f.type, MQTT_PINGREQ);
    CHECK_INT_EQ(f.frame_len, 2);
    CHECK_INT_EQ(frame(BYTES("\x30\x80"), &f), MQTT_NEED_MORE);          /* length goes on */
    CHECK_INT_EQ(frame(BYTES("\x30\x80\x80\x80\x80\x01"), &f), MQTT_E_MALFORMED);
    CHECK_INT_EQ(frame(BYTES("\x30\x05\x00\x01"), &f), MQTT_NEED_MORE);   /* body short */
    CHECK_INT_EQ(mqtt_frame_decode(BYTES("\x30\xff\x7f"), 100, &f), MQTT_E_TOO_LARGE);
    size_t header, body;
    CHECK_INT_EQ(mqtt_frame_header(BYTES("\x30\xc1\x02"), &header, &body), MQTT_OK);
    CHECK_INT_EQ(header, 3);
    CHECK_INT_EQ(body, 321);
}

/* ---------------------------------------------------------------- parsers */

static void test_connect_v311_and_v5(void)
{
    struct mqtt_frame f;
    struct mqtt_connect c;
    /* 3.1.1, clean session, keep alive 60, client id "ab", will "w" = "x" QoS 1 */
    static const char v311[] = "\x10\x14\x00\x04MQTT\x04\x0e\x00\x3c\x00\x02" "ab"
                               "\x00\x01w\x00\x01x";
    CHECK_REQUIRE(frame((const uint8_t *)v311, sizeof(v311) - 1, &f) == MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_connect(&f, &c), MQTT_OK);
    CHECK_INT_EQ(c.version, MQTT_V311);
    CHECK(c.clean_start && c.has_will && c.will_qos == 1 && !c.will_retain);
    CHECK_INT_EQ(c.keep_alive, 60);
    CHECK_MEM_EQ(c.client_id.p, c.client_id.len, "ab", 2);
    CHECK_MEM_EQ(c.will_topic.p, c.will_topic.len, "w", 1);
    /* 5.0 with session expiry 300 and a user property */
    static const char v5[] = "\x10\x1a\x00\x04MQTT\x05\x02\x00\x0a\x0c\x11\x00\x00\x01\x2c"
                             "\x26\x00\x01k\x00\x01v\x00\x01z";
    CHECK_REQUIRE(frame((const uint8_t *)v5, sizeof(v5) - 1, &f) == MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_connect(&f, &c), MQTT_OK);
    CHECK_INT_EQ(c.version, MQTT_V5);
    CHECK(c.props.has_session_expiry && c.props.session_expiry == 300);
    CHECK_INT_EQ(c.props.user_count, 1);
    size_t off = 0;
    struct mqtt_str k, v;
    CHECK(mqtt_props_next_user(&c.props, &off, &k, &v));
    CHECK_MEM_EQ(k.p, k.len, "k", 1);
    CHECK_MEM_EQ(v.p, v.len, "v", 1);
    CHECK(!mqtt_props_next_user(&c.props, &off, &k, &v));
}

static const struct {
    const char *name;
    const char *bytes;
    size_t len;
    enum mqtt_err want;
} BAD_CONNECTS[] = {
#define BAD(n, s, e) {n, s, sizeof(s) - 1, e}
    BAD("old protocol name", "\x10\x0e\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x00", MQTT_E_VERSION),
    BAD("level 6", "\x10\x0c\x00\x04MQTT\x06\x02\x00\x3c\x00\x00", MQTT_E_VERSION),
    BAD("reserved flag", "\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00", MQTT_E_MALFORMED),
    BAD("will qos without will", "\x10\x0c\x00\x04MQTT\x04\x0a\x00\x3c\x00\x00",
        MQTT_E_MALFORMED),
    BAD("password without user (3.1.1)", "\x10\x0e\x00\x04MQTT\x04\x42\x00\x3c\x00\x00\x00\x00",
        MQTT_E_MALFORMED),
    BAD("trailing byte", "\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\x00", MQTT_E_MALFORMED),
    BAD("client id cut", "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x05", MQTT_E_MALFORMED),
    BAD("bad name", "\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00", MQTT_E_PROTOCOL),
    BAD("v5 property not allowed", "\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x02\x01\x01\x00\x00",
        MQTT_E_PROTOCOL),
    BAD("v5 receive maximum 0", "\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x00\x00\x00",
        MQTT_E_PROTOCOL),
    BAD("v5 property overruns", "\x10\x0d\x00\x04MQTT\x05\x02\x00\x3c\x09\x00\x00",
        MQTT_E_MALFORMED),
#undef BAD
};

static void test_bad_connects(void)
{
    for (size_t i = 0; i < sizeof(BAD_CONNECTS) / sizeof(BAD_CONNECTS[0]); i++) {
        struct mqtt_frame f;
        struct mqtt_connect c;
        const uint8_t *p = (const uint8_t *)BAD_CONNECTS[i].bytes;
        enum mqtt_err e = frame(p, BAD_CONNECTS[i].len, &f);
        if (e == MQTT_OK)
            e = mqtt_parse_connect(&f, &c);
        if (e != BAD_CONNECTS[i].want)
            fprintf(stderr, "  case '%s'\n", BAD_CONNECTS[i].name);
        CHECK_INT_EQ(e, BAD_CONNECTS[i].want);
    }
}

static void test_publish(void)
{
    struct mqtt_frame f;
    struct mqtt_publish p;
    /* v5 QoS 1, retain, id 7, content type "t", payload "hi" */
    static const char v5[] = "\x33\x0e\x00\x03" "a/b" "\x00\x07\x04\x03\x00\x01t" "hi";
    CHECK_REQUIRE(frame((const uint8_t *)v5, sizeof(v5) - 1, &f) == MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_publish(&f, MQTT_V5, &p), MQTT_OK);
    CHECK(p.qos == 1 && p.retain && !p.dup);
    CHECK_INT_EQ(p.packet_id, 7);
    CHECK(p.props.has_content_type);
    CHECK_MEM_EQ(p.props.content_type.p, p.props.content_type.len, "t", 1);
    CHECK_MEM_EQ(p.payload.p, p.payload.len, "hi", 2);
    /* the same bytes as 3.1.1: no properties, so they are payload */
    CHECK_INT_EQ(mqtt_parse_publish(&f, MQTT_V311, &p), MQTT_OK);
    CHECK_INT_EQ(p.payload.len, 7);
    CHECK_INT_EQ(frame(BYTES("\x36\x05\x00\x03" "a/b"), &f), MQTT_OK);      /* QoS 3 */
    CHECK_INT_EQ(mqtt_parse_publish(&f, MQTT_V311, &p), MQTT_E_MALFORMED);
    CHECK_INT_EQ(frame(BYTES("\x32\x07\x00\x03" "a/b\x00\x00"), &f), MQTT_OK);  /* id 0 */
    CHECK_INT_EQ(mqtt_parse_publish(&f, MQTT_V311, &p), MQTT_E_MALFORMED);
    CHECK_INT_EQ(frame(BYTES("\x30\x05\x00\x03" "a\xc3\x28"), &f), MQTT_OK);  /* bad UTF-8 */
    CHECK_INT_EQ(mqtt_parse_publish(&f, MQTT_V311, &p), MQTT_E_MALFORMED);
}

static void test_subscribe_and_unsubscribe(void)
{
    struct mqtt_frame f;
    struct mqtt_sub_list s;
    CHECK_REQUIRE(frame(BYTES("\x82\x0c\x00\x05\x00\x03" "a/+" "\x01\x00\x01#" "\x00"), &f)
                  == MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_subscribe(&f, MQTT_V311, &s), MQTT_OK);
    CHECK_INT_EQ(s.packet_id, 5);
    CHECK_INT_EQ(s.count, 2);
    size_t off = 0;
    struct mqtt_str filter;
    uint8_t opts;
    CHECK(mqtt_sub_next(&s, &off, &filter, &opts));
    CHECK_MEM_EQ(filter.p, filter.len, "a/+", 3);
    CHECK_INT_EQ(opts, 1);
    CHECK(mqtt_sub_next(&s, &off, &filter, &opts));
    CHECK_MEM_EQ(filter.p, filter.len, "#", 1);
    CHECK(!mqtt_sub_next(&s, &off, &filter, &opts));
    CHECK_INT_EQ(frame(BYTES("\x80\x06\x00\x05\x00\x01#\x00"), &f), MQTT_OK);  /* flags 0 */
    CHECK_INT_EQ(mqtt_parse_subscribe(&f, MQTT_V311, &s), MQTT_E_MALFORMED);
    CHECK_INT_EQ(frame(BYTES("\x82\x02\x00\x05"), &f), MQTT_OK);                /* empty */
    CHECK_INT_EQ(mqtt_parse_subscribe(&f, MQTT_V311, &s), MQTT_E_PROTOCOL);
    CHECK_INT_EQ(frame(BYTES("\x82\x07\x00\x05\x00\x00\x01#\x30"), &f), MQTT_OK);  /* RH 3 */
    CHECK_INT_EQ(mqtt_parse_subscribe(&f, MQTT_V5, &s), MQTT_E_MALFORMED);
    CHECK_INT_EQ(frame(BYTES("\xa2\x06\x00\x09\x00\x00\x01#"), &f), MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_unsubscribe(&f, MQTT_V5, &s), MQTT_OK);
    CHECK_INT_EQ(s.count, 1);
}

static void test_acks_and_disconnect(void)
{
    struct mqtt_frame f;
    struct mqtt_ack a;
    struct mqtt_disconnect d;
    CHECK_INT_EQ(frame(BYTES("\x40\x02\x00\x07"), &f), MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_ack(&f, MQTT_V311, &a), MQTT_OK);
    CHECK_INT_EQ(a.packet_id, 7);
    CHECK_INT_EQ(frame(BYTES("\x40\x03\x00\x07\x10"), &f), MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_ack(&f, MQTT_V311, &a), MQTT_E_MALFORMED);
    CHECK_INT_EQ(mqtt_parse_ack(&f, MQTT_V5, &a), MQTT_OK);
    CHECK_INT_EQ(a.reason, 0x10);
    CHECK_INT_EQ(frame(BYTES("\xe0\x00"), &f), MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_disconnect(&f, MQTT_V311, &d), MQTT_OK);
    CHECK_INT_EQ(frame(BYTES("\xe0\x07\x04\x05\x11\x00\x00\x00\x3c"), &f), MQTT_OK);
    CHECK_INT_EQ(mqtt_parse_disconnect(&f, MQTT_V5, &d), MQTT_OK);
    CHECK_INT_EQ(d.reason, 4);
    CHECK(d.props.has_session_expiry && d.props.session_expiry == 60);
    CHECK_INT_EQ(mqtt_parse_disconnect(&f, MQTT_V311, &d), MQTT_E_MALFORMED);
}

static void test_utf8(void)
{
    CHECK(mqtt_utf8_valid(BYTES("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
    CHECK(!mqtt_utf8_valid(BYTES("\xc0\xaf")));             /* overlong */
    CHECK(!mqtt_utf8_valid(BYTES("\xed\xa0\x80")));         /* surrogate */
    CHECK(!mqtt_utf8_valid(BYTES("a\x00" "b")));            /* U+0000 */
    CHECK(!mqtt_utf8_valid(BYTES("\xe2\x82")));             /* cut */
    CHECK(!mqtt_utf8_valid(BYTES("\xf4\x90\x80\x80")));     /* > U+10FFFF */
}

static void test_encoders(void)
{
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(mqtt_put_varint(&b, 0), 0);
    CHECK_INT_EQ(mqtt_put_varint(&b, 127), 0);
    CHECK_INT_EQ(mqtt_put_varint(&b, 128), 0);
    CHECK_INT_EQ(mqtt_put_varint(&b, 16383), 0);
    CHECK_INT_EQ(mqtt_put_varint(&b, 268435455), 0);
    CHECK_MEM_EQ(b.data, b.len, "\x00\x7f\x80\x01\xff\x7f\xff\xff\xff\x7f", 10);
    CHECK_INT_EQ(mqtt_varint_size(268435455), 4);
    buf_reset(&b);
    CHECK_INT_EQ(mqtt_put_fixed_header(&b, 0x30, 321), 0);
    CHECK_INT_EQ(mqtt_put_str(&b, "ab", 2), 0);
    CHECK_MEM_EQ(b.data, b.len, "\x30\xc1\x02\x00\x02" "ab", 7);
    buf_free(&b);
}

int main(void)
{
    test_topic_matching();
    test_topic_validity_and_limits();
    test_frame_decoder();
    test_connect_v311_and_v5();
    test_bad_connects();
    test_publish();
    test_subscribe_and_unsubscribe();
    test_acks_and_disconnect();
    test_utf8();
    test_encoders();
    return CHECK_SUMMARY();
}
