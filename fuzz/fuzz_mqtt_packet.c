/*
 * fuzz_mqtt_packet.c — libFuzzer target for the MQTT packet reader
 * (runtime/mqtt_codec/mqtt_read.c: the broker's parsers and the client's) and topic
 * functions (mqtt_topic.c).
 *
 * The input is a byte stream: frames are decoded one after the other and each is handed
 * to the parsers for its type (what a client sends, and what a server sends: CONNACK,
 * SUBACK, UNSUBACK, a server's PUBLISH), as MQTT 3.1.1 and as 5.0;
 * whatever parses is walked (properties, subscription lists, topic matching) so every
 * pointer the parsers return is read. Build (owner of fuzz/CMakeLists.txt: H1):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I runtime/mqtt_codec -I runtime \
 *     fuzz/fuzz_mqtt_packet.c runtime/mqtt_codec/mqtt_read.c runtime/mqtt_codec/mqtt_topic.c
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqtt_codec.h"
#include "mqtt_topic.h"

static volatile size_t sink;

static void touch(const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        sink += b[i];
}

static void walk_props(const struct mqtt_props *props)
{
    size_t offset = 0;
    uint8_t id;
    struct mqtt_bin raw;
    while (mqtt_props_next(props, &offset, &id, &raw))
        touch(raw.p, raw.len);
    struct mqtt_str k, v;
    offset = 0;
    while (mqtt_props_next_user(props, &offset, &k, &v)) {
        touch(k.p, k.len);
        touch(v.p, v.len);
    }
}

static void walk_subs(const struct mqtt_sub_list *list)
{
    size_t offset = 0;
    struct mqtt_str filter;
    uint8_t options;
    while (mqtt_sub_next(list, &offset, &filter, &options)) {
        const char *group, *rest;
        size_t group_len, rest_len;
        if (mqtt_topic_split_shared(filter.p, filter.len, &group, &group_len, &rest, &rest_len) == 1)
            touch(group, group_len);
        if (mqtt_topic_filter_valid(filter.p, filter.len)) {
            sink += mqtt_topic_within_aws_limits(filter.p, filter.len);
            sink += mqtt_topic_matches(filter.p, filter.len, "a/b/$c", 6);
            sink += mqtt_topic_matches(filter.p, filter.len, filter.p, filter.len);
        }
    }
}

static void parse_frame(const struct mqtt_frame *f, int version)
{
    struct mqtt_connect c;
    struct mqtt_publish p;
    struct mqtt_sub_list s;
    struct mqtt_ack a;
    struct mqtt_disconnect d;
    struct mqtt_connack ca;
    struct mqtt_suback sa;
    switch (f->type) {
    case MQTT_CONNACK:
        if (mqtt_parse_connack(f, version, &ca) == MQTT_OK) {
            walk_props(&ca.props);
            touch(ca.props.assigned_client_id.p, ca.props.assigned_client_id.len);
        }
        break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
        if ((f->type == MQTT_SUBACK ? mqtt_parse_suback(f, version, &sa)
                                    : mqtt_parse_unsuback(f, version, &sa)) == MQTT_OK) {
            walk_props(&sa.props);
            touch(sa.reasons, sa.count);
        }
        break;
    case MQTT_CONNECT:
        if (mqtt_parse_connect(f, &c) == MQTT_OK) {
            walk_props(&c.props);
            walk_props(&c.will_props);
            touch(c.client_id.p, c.client_id.len);
            touch(c.will_payload.p, c.will_payload.len);
        }
        break;
    case MQTT_PUBLISH:
        if (mqtt_parse_publish(f, version, &p) == MQTT_OK) {
            walk_props(&p.props);
            touch(p.payload.p, p.payload.len);
            sink += mqtt_topic_name_valid(p.topic.p, p.topic.len);
        }
        if (mqtt_parse_server_publish(f, version, &p) == MQTT_OK)
            walk_props(&p.props);
        break;
    case MQTT_SUBSCRIBE:
        if (mqtt_parse_subscribe(f, version, &s) == MQTT_OK)
            walk_subs(&s);
        break;
    case MQTT_UNSUBSCRIBE:
        if (mqtt_parse_unsubscribe(f, version, &s) == MQTT_OK)
            walk_subs(&s);
        break;
    case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBREL: case MQTT_PUBCOMP:
        if (mqtt_parse_ack(f, version, &a) == MQTT_OK)
            walk_props(&a.props);
        break;
    case MQTT_DISCONNECT:
        if (mqtt_parse_disconnect(f, version, &d) == MQTT_OK)
            walk_props(&d.props);
        break;
    default:
        sink += mqtt_parse_empty(f);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        struct mqtt_frame f;
        if (mqtt_frame_decode(data + pos, size - pos, 1 << 20, &f) != MQTT_OK)
            break;
        parse_frame(&f, MQTT_V311);
        parse_frame(&f, MQTT_V5);
        pos += f.frame_len;
    }
    return 0;
}
