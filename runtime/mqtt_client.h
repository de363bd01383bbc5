/*
 * mqtt_client.h — an MQTT 3.1.1 / 5 client connection driven by the engine: no thread,
 * no blocking wait (a host name is resolved with getaddrinfo). Pure C, no Lua.
 *
 * A connection is an engine stream item (kind IOT_EV_MQTT) with an fd source for its
 * socket and two timers (connect timeout, keep-alive). What happens on it becomes
 * notices, queued on the connection in order, and one engine event says "this
 * connection has notices": the owner pops them all with iot_mqtt_next_notice.
 *
 * Messages received are queued on the connection (not in the notices) until the owner
 * takes them, by topic filter, with iot_mqtt_take. The queue is bounded (queue_limit):
 * when it is full the oldest message is dropped and counted (stats.dropped), so a
 * script that never reads cannot grow without limit and never loses a message silently.
 * With auto_ack (the default) a QoS 1 message is acknowledged when it arrives; without
 * it, only when the owner calls iot_mqtt_ack (or never).
 *
 * Outgoing QoS 1 publishes are kept until their PUBACK; after a reconnect that resumes
 * the session (CONNACK session present) they are sent again with DUP set.
 *
 * Over WebSockets (ws_target set; ws_client.h) the stream first carries the HTTP
 * upgrade, then each flush of MQTT bytes goes out as one masked binary frame; the
 * server's frames are unwrapped before the packets are read.
 *
 * Errors are struct iot_error: NetworkError, TLSError, TimeoutError, ConfigError,
 * ProtocolError (the server broke MQTT), or the MQTT reason name of a refused CONNACK or
 * a server's DISCONNECT (e.g. "NotAuthorized", "SessionTakenOver"); status carries the
 * reason code.
 */
#ifndef IOTLUA_MQTT_CLIENT_H
#define IOTLUA_MQTT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "mqtt_codec.h"
#include "net_stream.h"

struct iot_mqtt;

/* ================================================================ options */

struct iot_mqtt_user_prop {
    const char *key, *value;            /* UTF-8, NUL-terminated */
};

/* MQTT 5 message properties, named as in the data-plane API. */
struct iot_mqtt_props {
    const char *content_type;           /* NULL: absent */
    const char *response_topic;
    const void *correlation_data;       /* bytes; absent when correlation_len is 0 and */
    size_t correlation_len;             /* correlation_data is NULL */
    const struct iot_mqtt_user_prop *user;
    size_t user_count;
    int64_t message_expiry;             /* seconds; -1 absent */
    int payload_format;                 /* -1 absent, 0 bytes, 1 UTF-8 */
};

struct iot_mqtt_will {
    const char *topic;
    const void *payload;
    size_t payload_len;
    int qos;                            /* 0 or 1 */
    int retain;
    uint32_t delay;                     /* MQTT 5 will delay interval, seconds */
    struct iot_mqtt_props props;
};

struct iot_mqtt_opts {
    const char *host;
    int port;
    const struct net_tls *tls;          /* NULL: plain TCP */
    const char *ws_target;              /* NULL: MQTT on the stream itself; else MQTT over
                                         * WebSockets, upgrading with this request target
                                         * (path and query: the SigV4 query for AWS IoT) */
    const char *client_id;              /* "" lets the server assign one (MQTT 5) */
    const char *username;               /* NULL: none */
    const void *password;               /* NULL: none */
    size_t password_len;
    int version;                        /* MQTT_V311 or MQTT_V5 */
    int keepalive;                      /* seconds, 0 off */
    int clean_start;
    int64_t session_expiry;             /* MQTT 5, seconds; -1 absent */
    const struct iot_mqtt_will *will;   /* NULL: none */
    int auto_ack;
    long connect_timeout_ms;            /* <= 0: 10 s */
    size_t queue_limit;                 /* 0: IOT_MQTT_QUEUE_DEFAULT */
};

#define IOT_MQTT_QUEUE_DEFAULT 1000

/* ================================================================ connections */

/* Starts connecting: returns the connection (its notices will say CONNACK or CLOSED), or
 * NULL with err set when it cannot even start (bad option, resolution, socket). Copies
 * what it needs of opts. user is given back in every event of this connection. */
struct iot_mqtt *iot_mqtt_connect(struct iot_engine *engine, const struct iot_mqtt_opts *opts,
                                  void *user, struct iot_error *err);

/* Connects again after the connection closed, with the same options but clean start
 * off (the session resumes if the server kept it). 0, or -1 with err. */
int iot_mqtt_reconnect(struct iot_mqtt *m, struct iot_error *err);

/* Over WebSockets: the request target of the next upgrade (a fresh signature before a
 * reconnect). 0, or -1 (out of memory, or not a WebSocket connection). */
int iot_mqtt_set_ws_target(struct iot_mqtt *m, const char *target);

enum iot_mqtt_state {
    IOT_MQTT_CONNECTING = 1,            /* TCP, TLS or waiting for CONNACK */
    IOT_MQTT_CONNECTED,
    IOT_MQTT_CLOSED,
};
enum iot_mqtt_state iot_mqtt_state(const struct iot_mqtt *m);

/* Why the connection closed (code "" while it has not). */
const struct iot_error *iot_mqtt_close_reason(const struct iot_mqtt *m);

/* MQTT 5 "Disconnect with Will Message". */
#define IOT_MQTT_REASON_WITH_WILL 0x04

/* A DISCONNECT with reason (MQTT 5; 0 normal) and, when session_expiry >= 0, a new
 * session expiry; the socket closes once it is written. MQTT 3.1.1 sends a plain
 * DISCONNECT. A CLOSED notice follows. */
void iot_mqtt_disconnect(struct iot_mqtt *m, uint8_t reason, int64_t session_expiry);

/* Closes the socket at once, without DISCONNECT (a power cut, to the server). A CLOSED
 * notice follows. */
void iot_mqtt_drop(struct iot_mqtt *m);

/* Closes (as drop) and frees the connection and all it holds. */
void iot_mqtt_free(struct iot_mqtt *m);

/* ================================================================ operations */

struct iot_mqtt_publish {
    const char *topic;
    const void *payload;
    size_t payload_len;
    int qos;
    int retain;
    struct iot_mqtt_props props;
};

/* Queues a PUBLISH. QoS 0: *packet_id_out = 0 and nothing follows. QoS 1: a PUBACK
 * notice with that packet id follows (or CLOSED). 0, or -1 with err (not connected,
 * too large, out of memory). */
int iot_mqtt_publish(struct iot_mqtt *m, const struct iot_mqtt_publish *p,
                     uint16_t *packet_id_out, struct iot_error *err);

struct iot_mqtt_subscription {
    const char *filter;
    int qos;
    int no_local, retain_as_published;
    int retain_handling;                /* 0 send, 1 only for new subscriptions, 2 never */
};

/* Queues a SUBSCRIBE (subscription_id 0: none). A SUBACK notice with the packet id and
 * one reason code per filter follows. */
int iot_mqtt_subscribe(struct iot_mqtt *m, const struct iot_mqtt_subscription *subs,
                       size_t count, uint32_t subscription_id, uint16_t *packet_id_out,
                       struct iot_error *err);
int iot_mqtt_unsubscribe(struct iot_mqtt *m, const char *const *filters, size_t count,
                         uint16_t *packet_id_out, struct iot_error *err);

/* ================================================================ notices */

enum iot_mqtt_notice_kind {
    IOT_MQTT_N_CONNACK = 1, /* connected: reason 0; session_present */
    IOT_MQTT_N_SUBACK,      /* packet_id; codes[count] */
    IOT_MQTT_N_UNSUBACK,    /* packet_id; codes[count] (MQTT 3.1.1: none) */
    IOT_MQTT_N_PUBACK,      /* packet_id; reason */
    IOT_MQTT_N_MESSAGES,    /* messages were queued since the last notice of this kind */
    IOT_MQTT_N_CLOSED,      /* error says why; every operation waiting is over */
};

#define IOT_MQTT_MAX_CODES 32

struct iot_mqtt_notice {
    enum iot_mqtt_notice_kind kind;
    uint16_t packet_id;
    uint8_t reason;
    int session_present;
    size_t count;
    uint8_t codes[IOT_MQTT_MAX_CODES];
    struct iot_error error;             /* CLOSED, and SUBACK/PUBACK failures */
};

/* Pops the oldest notice into *out: 1, or 0 when none is left. */
int iot_mqtt_next_notice(struct iot_mqtt *m, struct iot_mqtt_notice *out);

/* ================================================================ messages */

struct iot_mqtt_message {
    struct iot_mqtt_message *next;      /* the connection's queue (private) */
    struct mqtt_publish pub;            /* topic, payload, qos, retain, dup, packet id and
                                         * the MQTT 5 properties; points into this message */
    uint64_t generation;                /* the connection it came on (for iot_mqtt_ack) */
    int acked;                          /* its PUBACK was sent (auto_ack, iot_mqtt_ack) */
    size_t body_len;
    uint8_t body[];                     /* the PUBLISH body the fields point into */
};

/* The oldest queued message whose topic matches filter (NULL: any), now the caller's
 * (free with iot_mqtt_message_free); NULL when none. */
struct iot_mqtt_message *iot_mqtt_take(struct iot_mqtt *m, const char *filter,
                                       size_t filter_len);
void iot_mqtt_message_free(struct iot_mqtt_message *msg);

/* Sends the PUBACK of a QoS 1 message received with auto_ack off, given its packet id
 * and generation (the message may be freed by then). 0, or -1 with err (the connection
 * it came on is gone). Acknowledging twice is the caller's to prevent. */
int iot_mqtt_ack(struct iot_mqtt *m, uint16_t packet_id, uint64_t generation,
                 struct iot_error *err);

struct iot_mqtt_stats {
    uint64_t received;                  /* PUBLISH packets received */
    uint64_t dropped;                   /* dropped from a full queue */
    size_t queued;                      /* waiting to be taken */
    size_t queue_limit;
    int session_present;                /* of the last CONNACK */
    uint16_t keepalive;                 /* in force (the server's, if it set one) */
    int version;
    const char *client_id;              /* as connected (assigned by the server, if so) */
};
void iot_mqtt_get_stats(const struct iot_mqtt *m, struct iot_mqtt_stats *out);

/* The MQTT 5 reason name of a code ("Success", "NotAuthorized", ...), for error codes;
 * "Reason0x.." for one the specification does not name. */
const char *iot_mqtt_reason_name(uint8_t code, char scratch[16]);

#endif
