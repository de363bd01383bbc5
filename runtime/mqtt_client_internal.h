/*
 * mqtt_client_internal.h — the MQTT connection's state, shared by its two halves:
 * mqtt_client.c (the connection: sockets, timers, closing, notices) and
 * mqtt_client_packets.c (what goes on the wire: packets out, packets in, the message
 * queue).
 */
#ifndef IOTLUA_MQTT_CLIENT_INTERNAL_H
#define IOTLUA_MQTT_CLIENT_INTERNAL_H

#include "buf.h"
#include "engine.h"
#include "mqtt_client.h"
#include "ws_client.h"

/* An operation that waits for its ack. A PUBLISH keeps its packet for a resend. */
struct mqtt_op {
    struct dl link;
    uint16_t packet_id;
    uint8_t type;                       /* MQTT_PUBLISH, MQTT_SUBSCRIBE, MQTT_UNSUBSCRIBE */
    size_t packet_len;
    uint8_t packet[];
};

struct mqtt_notice_node {
    struct mqtt_notice_node *next;
    struct iot_mqtt_notice notice;
};

/* What iot_mqtt_connect was given, copied: enough to connect again. */
struct mqtt_conf {
    char *host;
    int port;
    int tls_on;
    struct net_tls tls;                 /* its strings are owned copies */
    char *ws_target;                    /* NULL: no WebSockets */
    char *client_id, *username;
    void *password;
    size_t password_len;
    int has_password;
    int version, keepalive, clean_start, auto_ack;
    int64_t session_expiry;
    int has_will;
    char *will_topic;
    void *will_payload;
    size_t will_payload_len;
    int will_qos, will_retain;
    struct buf will_props;              /* MQTT 5 will properties, encoded once */
    long connect_timeout_ms;
    size_t queue_limit;
};

struct iot_mqtt {
    struct eng_item item;               /* a stream item: IOT_EV_MQTT */
    struct iot_engine *engine;
    struct mqtt_conf conf;
    struct net_stream ns;
    struct eng_source source;
    struct eng_timer connect_timer, keepalive_timer;
    struct eng_dns_waiter dns_wait;     /* while resolving: the host name's answer */
    char tls_session_key[300];          /* host:port: the session its TLS context keeps */
    int resolving;                      /* connecting, the host name not resolved yet */
    enum iot_mqtt_state state;
    int closing;                        /* DISCONNECT queued: close once it is written */
    uint64_t generation;                /* connections made so far */

    struct buf in;                      /* bytes received, not yet a whole packet */
    struct buf out;                     /* bytes to send, from out_sent on */
    size_t out_sent;
    /* MQTT over WebSockets only: */
    struct ws_client ws;                /* the upgrade, the server's frames */
    struct buf ws_in;                   /* bytes received, not yet unframed */
    struct buf wire;                    /* framed bytes to send, from wire_sent on */
    size_t wire_sent;
    int64_t last_sent_ms;
    int ping_outstanding;

    struct dl ops;                      /* struct mqtt_op waiting for their acks */
    uint16_t last_packet_id;

    struct iot_mqtt_message *queue_head, *queue_tail;
    size_t queued;
    uint64_t received, dropped;

    struct mqtt_notice_node *notices_head, *notices_tail;
    int messages_noticed;               /* a MESSAGES notice waits to be popped */

    int session_present;
    uint16_t keepalive;                 /* in force */
    char *assigned_client_id;           /* from CONNACK, if the server assigned one */
    uint32_t server_max_packet;         /* 0: no limit given */
    struct iot_error close_reason;
};

/* ---------------------------------------------------------------- mqtt_client.c */

/* Queues bytes to send and sends what the socket takes now. 0, or -1 (closed). */
int mqtt_send(struct iot_mqtt *m, const struct buf *packet);
/* Closes the socket, ends waiting operations and queues a CLOSED notice saying err. */
void mqtt_close_with(struct iot_mqtt *m, const struct iot_error *err);
/* The MQTT 5 properties of a message (or a will), appended to b. 0, or -1. */
int mqtt_put_message_props(struct buf *b, const struct iot_mqtt_props *p);
/* Queues a notice (a copy of n) for the owner and tells the engine. */
void mqtt_notify(struct iot_mqtt *m, const struct iot_mqtt_notice *n);
/* The connection is up (CONNACK accepted): timers, notice. */
void mqtt_connected(struct iot_mqtt *m, int session_present);

/* ---------------------------------------------------------------- mqtt_client_packets.c */

/* Builds the CONNECT for conf (clean start as given) into out. 0, or -1 with err. */
int mqtt_build_connect(const struct mqtt_conf *conf, int clean_start, struct buf *out,
                       struct iot_error *err);
/* Handles one whole packet from the server. */
void mqtt_handle_frame(struct iot_mqtt *m, const struct mqtt_frame *f);
/* Sends again, with DUP, every PUBLISH still waiting for its PUBACK. */
void mqtt_resend_publishes(struct iot_mqtt *m);
/* Forgets the waiting operations of a closed connection; PUBLISHes stay for a resend
 * unless forget_publishes. */
void mqtt_drop_ops(struct iot_mqtt *m, int forget_publishes);
void mqtt_free_queue(struct iot_mqtt *m);

#endif
