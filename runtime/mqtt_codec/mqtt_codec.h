/*
 * mqtt_codec.h — MQTT 3.1.1 / 5.0 wire format, shared by the emulator's broker, its
 * tests and fuzzers and an MQTT client: the frame decoder, the per-type parsers and
 * the encoders.
 *
 * The parsers are pure functions over a byte buffer: no allocation, no I/O, no global
 * state, so they can be fuzzed (fuzz/fuzz_mqtt_packet.c). What they return points into
 * the buffer they were given (borrowed; valid while that buffer is).
 */
#ifndef IOTLUA_MQTT_CODEC_H
#define IOTLUA_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MQTT_V311 4
#define MQTT_V5 5

enum mqtt_type {
    MQTT_CONNECT = 1, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL,
    MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE, MQTT_UNSUBACK,
    MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT, MQTT_AUTH,
};

/* Internal results. reason.c maps each to an MQTT 5 reason code and a CONNACK code. */
enum mqtt_err {
    MQTT_OK = 0,
    MQTT_NEED_MORE,             /* frame decoder: not enough bytes yet */
    MQTT_E_MALFORMED,           /* bytes that do not parse */
    MQTT_E_PROTOCOL,            /* parses, but breaks a protocol rule */
    MQTT_E_VERSION,             /* protocol name or level we do not speak */
    MQTT_E_CLIENT_ID,           /* client identifier not valid */
    MQTT_E_TOO_LARGE,           /* packet or payload over the limit */
    MQTT_E_QOS,                 /* QoS 2, which AWS IoT does not support */
    MQTT_E_TOPIC,               /* topic name or filter not valid (or over AWS limits) */
    MQTT_E_PAYLOAD_FORMAT,      /* payload format indicator 1 with a non UTF-8 payload */
    MQTT_E_TOPIC_ALIAS,         /* topic alias 0, over the maximum, or never set */
    MQTT_E_RECEIVE_MAX,         /* more unacknowledged QoS 1 than we allow */
    MQTT_E_AUTH_METHOD,         /* MQTT 5 enhanced authentication, which we do not offer */
    MQTT_E_SUB_ID,              /* subscription identifier, which we (as AWS IoT) do not offer */
    MQTT_E_NOMEM,
};

struct mqtt_str {
    const char *p;      /* not NUL-terminated */
    size_t len;
};

struct mqtt_bin {
    const uint8_t *p;
    size_t len;
};

/* One fixed header + body. */
struct mqtt_frame {
    uint8_t type;           /* high nibble of the first byte */
    uint8_t flags;          /* low nibble */
    const uint8_t *body;    /* remaining_length bytes */
    size_t body_len;
    size_t frame_len;       /* fixed header + body: what to consume */
};

/* Reads the fixed header only: MQTT_OK with the header and body sizes, MQTT_NEED_MORE,
 * or MQTT_E_MALFORMED. */
enum mqtt_err mqtt_frame_header(const uint8_t *buf, size_t len, size_t *header_len_out,
                                size_t *body_len_out);
/* Reads one frame from buf. MQTT_OK, MQTT_NEED_MORE, MQTT_E_MALFORMED (bad variable
 * length) or MQTT_E_TOO_LARGE (remaining length over max_body). */
enum mqtt_err mqtt_frame_decode(const uint8_t *buf, size_t len, size_t max_body,
                                struct mqtt_frame *frame_out);

/* MQTT 5 properties we act on. Absent values are flagged by has_*. User properties are
 * kept as the raw property block; walk them with mqtt_props_next_user(). */
struct mqtt_props {
    bool has_session_expiry, has_receive_max, has_max_packet, has_topic_alias_max;
    bool has_message_expiry, has_content_type, has_response_topic, has_correlation;
    bool has_topic_alias, has_reason_string, has_auth_method;
    uint32_t session_expiry;
    uint16_t receive_max;
    uint32_t max_packet;
    uint16_t topic_alias_max;
    uint16_t topic_alias;
    int payload_format;             /* -1 absent */
    uint32_t message_expiry;
    uint32_t will_delay;
    int request_problem_info;       /* -1 absent */
    uint32_t subscription_id;       /* 0 absent; a server's PUBLISH may carry several:
                                     * this is the first, mqtt_props_next walks them all */
    int max_qos;                    /* CONNACK: -1 absent */
    int retain_available;           /* CONNACK: -1 absent */
    bool has_server_keep_alive, has_assigned_client_id;
    uint16_t server_keep_alive;     /* CONNACK */
    struct mqtt_str assigned_client_id; /* CONNACK */
    struct mqtt_str content_type, response_topic, reason_string, auth_method;
    struct mqtt_bin correlation;
    size_t user_count;
    const uint8_t *block;           /* the whole property block, for user properties */
    size_t block_len;
};

/* Walks every property of a parsed block: the identifier and the property's raw bytes
 * (identifier included), for copying. *offset starts at 0. false at the end. */
bool mqtt_props_next(const struct mqtt_props *props, size_t *offset, uint8_t *id_out,
                     struct mqtt_bin *raw_out);
/* Walks the user properties of a parsed block: *offset starts at 0. false at the end. */
bool mqtt_props_next_user(const struct mqtt_props *props, size_t *offset,
                          struct mqtt_str *key_out, struct mqtt_str *value_out);

struct mqtt_connect {
    uint8_t version;                /* MQTT_V311 or MQTT_V5 */
    bool clean_start;
    uint16_t keep_alive;
    struct mqtt_props props;
    struct mqtt_str client_id;
    bool has_will;
    uint8_t will_qos;
    bool will_retain;
    struct mqtt_props will_props;
    struct mqtt_str will_topic;
    struct mqtt_bin will_payload;
    bool has_username, has_password;
    struct mqtt_str username;
    struct mqtt_bin password;
};

struct mqtt_publish {
    bool dup, retain;
    uint8_t qos;
    struct mqtt_str topic;
    uint16_t packet_id;             /* 0 for QoS 0 */
    struct mqtt_props props;
    struct mqtt_bin payload;
};

/* SUBSCRIBE and UNSUBSCRIBE: the entries are validated by the parser and walked with
 * mqtt_sub_next(). */
struct mqtt_sub_list {
    uint16_t packet_id;
    struct mqtt_props props;
    const uint8_t *entries;
    size_t entries_len;
    bool with_options;              /* SUBSCRIBE: an options byte after each filter */
    size_t count;
};

struct mqtt_ack {                   /* PUBACK (and PUBREC/PUBREL/PUBCOMP shapes) */
    uint16_t packet_id;
    uint8_t reason;
    struct mqtt_props props;
};

struct mqtt_disconnect {
    uint8_t reason;
    struct mqtt_props props;
};

/* Parsers: version is the connection's protocol level (CONNECT finds its own). Each
 * returns MQTT_OK or the error that closes the connection. */
enum mqtt_err mqtt_parse_connect(const struct mqtt_frame *f, struct mqtt_connect *out);
enum mqtt_err mqtt_parse_publish(const struct mqtt_frame *f, int version,
                                 struct mqtt_publish *out);
enum mqtt_err mqtt_parse_subscribe(const struct mqtt_frame *f, int version,
                                   struct mqtt_sub_list *out);
enum mqtt_err mqtt_parse_unsubscribe(const struct mqtt_frame *f, int version,
                                     struct mqtt_sub_list *out);
enum mqtt_err mqtt_parse_ack(const struct mqtt_frame *f, int version, struct mqtt_ack *out);
enum mqtt_err mqtt_parse_disconnect(const struct mqtt_frame *f, int version,
                                    struct mqtt_disconnect *out);
enum mqtt_err mqtt_parse_empty(const struct mqtt_frame *f);   /* PINGREQ */

/* Iterates a validated SUBSCRIBE/UNSUBSCRIBE list; *offset starts at 0. */
bool mqtt_sub_next(const struct mqtt_sub_list *list, size_t *offset,
                   struct mqtt_str *filter_out, uint8_t *options_out);

/* UTF-8 as MQTT wants it: well formed, no U+0000, no surrogates. */
bool mqtt_utf8_valid(const uint8_t *p, size_t len);

/* ---------------------------------------------------------------- encoders
 * Each appends to a buf and returns 0, or -1 when out of memory. */
int mqtt_put_u8(struct buf *b, uint8_t v);
int mqtt_put_u16(struct buf *b, uint16_t v);
int mqtt_put_u32(struct buf *b, uint32_t v);
int mqtt_put_varint(struct buf *b, uint32_t v);
int mqtt_put_str(struct buf *b, const void *p, size_t len);   /* 2-byte length + bytes */
/* Writes the fixed header for a body of body_len bytes. */
int mqtt_put_fixed_header(struct buf *b, uint8_t first_byte, size_t body_len);
size_t mqtt_varint_size(uint32_t v);

/* Property identifiers (MQTT 5, 2.2.2.2). */
enum {
    MQTT_P_PAYLOAD_FORMAT = 0x01, MQTT_P_MESSAGE_EXPIRY = 0x02, MQTT_P_CONTENT_TYPE = 0x03,
    MQTT_P_RESPONSE_TOPIC = 0x08, MQTT_P_CORRELATION = 0x09, MQTT_P_SUBSCRIPTION_ID = 0x0B,
    MQTT_P_SESSION_EXPIRY = 0x11, MQTT_P_ASSIGNED_CLIENT_ID = 0x12,
    MQTT_P_SERVER_KEEP_ALIVE = 0x13, MQTT_P_AUTH_METHOD = 0x15, MQTT_P_AUTH_DATA = 0x16,
    MQTT_P_REQUEST_PROBLEM = 0x17, MQTT_P_WILL_DELAY = 0x18, MQTT_P_REQUEST_RESPONSE = 0x19,
    MQTT_P_RESPONSE_INFO = 0x1A, MQTT_P_SERVER_REF = 0x1C, MQTT_P_REASON_STRING = 0x1F,
    MQTT_P_RECEIVE_MAX = 0x21, MQTT_P_TOPIC_ALIAS_MAX = 0x22, MQTT_P_TOPIC_ALIAS = 0x23,
    MQTT_P_MAX_QOS = 0x24, MQTT_P_RETAIN_AVAILABLE = 0x25, MQTT_P_USER = 0x26,
    MQTT_P_MAX_PACKET = 0x27, MQTT_P_WILDCARD_AVAILABLE = 0x28,
    MQTT_P_SUB_ID_AVAILABLE = 0x29, MQTT_P_SHARED_AVAILABLE = 0x2A,
};

/* ================================================================ the client's side
 * What an MQTT client writes (CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, the acks,
 * PINGREQ, DISCONNECT) and what it reads from a server (CONNACK, SUBACK, UNSUBACK, a
 * server's PUBLISH). The broker's parsers above read what a client sends. */

/* ---------------------------------------------------------------- property blocks
 * A block is built by appending to a buf (each call adds one property: its identifier,
 * then its value); its bytes are then given to a writer as props/props_len. */
int mqtt_prop_u8(struct buf *b, uint8_t id, uint8_t v);
int mqtt_prop_u16(struct buf *b, uint8_t id, uint16_t v);
int mqtt_prop_u32(struct buf *b, uint8_t id, uint32_t v);
int mqtt_prop_varint(struct buf *b, uint8_t id, uint32_t v);
int mqtt_prop_bytes(struct buf *b, uint8_t id, const void *p, size_t len);  /* string or binary */
int mqtt_prop_user(struct buf *b, const char *key, size_t key_len, const char *value,
                   size_t value_len);

/* ---------------------------------------------------------------- writers
 * Each appends one whole packet (fixed header included) to b: 0, or -1 when out of
 * memory or a field is too long for the wire (a string over 65,535 bytes). Property
 * blocks are written for MQTT 5 only and ignored for MQTT 3.1.1. */
struct mqtt_connect_out {
    uint8_t version;                /* MQTT_V311 or MQTT_V5 */
    bool clean_start;
    uint16_t keep_alive;
    const uint8_t *props;
    size_t props_len;
    const char *client_id;
    size_t client_id_len;
    bool has_will;
    uint8_t will_qos;
    bool will_retain;
    const uint8_t *will_props;
    size_t will_props_len;
    const char *will_topic;
    size_t will_topic_len;
    const void *will_payload;
    size_t will_payload_len;
    bool has_username, has_password;
    const char *username;
    size_t username_len;
    const void *password;
    size_t password_len;
};
int mqtt_write_connect(struct buf *b, const struct mqtt_connect_out *c);

struct mqtt_publish_out {
    uint8_t version;
    uint8_t qos;                    /* 0 or 1 */
    bool retain, dup;
    const char *topic;
    size_t topic_len;
    uint16_t packet_id;             /* QoS 1 only */
    const uint8_t *props;
    size_t props_len;
    const void *payload;
    size_t payload_len;
};
int mqtt_write_publish(struct buf *b, const struct mqtt_publish_out *p);

struct mqtt_sub_out {
    const char *filter;
    size_t len;
    uint8_t options;                /* SUBSCRIBE: QoS | no local 0x04 | retain as published
                                     * 0x08 | retain handling << 4; ignored by UNSUBSCRIBE */
};
int mqtt_write_subscribe(struct buf *b, uint8_t version, uint16_t packet_id,
                         const uint8_t *props, size_t props_len,
                         const struct mqtt_sub_out *subs, size_t count);
int mqtt_write_unsubscribe(struct buf *b, uint8_t version, uint16_t packet_id,
                           const uint8_t *props, size_t props_len,
                           const struct mqtt_sub_out *subs, size_t count);
/* PUBACK (type MQTT_PUBACK; the other ack shapes likewise). MQTT 5: reason 0 with no
 * properties is written in the short form. */
int mqtt_write_ack(struct buf *b, uint8_t type, uint8_t version, uint16_t packet_id,
                   uint8_t reason);
int mqtt_write_pingreq(struct buf *b);
/* MQTT 3.1.1 DISCONNECT has no body (reason and props ignored). */
int mqtt_write_disconnect(struct buf *b, uint8_t version, uint8_t reason,
                          const uint8_t *props, size_t props_len);

/* ---------------------------------------------------------------- what a client reads */
struct mqtt_connack {
    bool session_present;
    uint8_t reason;                 /* MQTT 5 reason code, or the 3.1.1 return code */
    struct mqtt_props props;
};

struct mqtt_suback {                /* SUBACK and UNSUBACK */
    uint16_t packet_id;
    struct mqtt_props props;
    const uint8_t *reasons;         /* one per filter, in order (3.1.1 UNSUBACK: none) */
    size_t count;
};

enum mqtt_err mqtt_parse_connack(const struct mqtt_frame *f, int version,
                                 struct mqtt_connack *out);
enum mqtt_err mqtt_parse_suback(const struct mqtt_frame *f, int version,
                                struct mqtt_suback *out);
enum mqtt_err mqtt_parse_unsuback(const struct mqtt_frame *f, int version,
                                  struct mqtt_suback *out);
/* A PUBLISH from a server: as mqtt_parse_publish, but the properties a server may send
 * (subscription identifiers, any number of them) are allowed and no AWS limit applies. */
enum mqtt_err mqtt_parse_server_publish(const struct mqtt_frame *f, int version,
                                        struct mqtt_publish *out);
/* PUBACK and DISCONNECT from a server: mqtt_parse_ack, mqtt_parse_disconnect;
 * PINGRESP: mqtt_parse_empty. */

#endif
