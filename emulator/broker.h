/*
 * broker.h — what the emulator's data-plane HTTP API asks of its MQTT broker.
 *
 * The broker (emulator/mqtt/) owns every MQTT connection, session, subscription and
 * retained message. The HTTP side (emulator/http/) only calls the functions below, all
 * on the one event-loop thread. Strings and buffers passed in are borrowed for the call:
 * the broker copies what it keeps.
 */
#ifndef IOTLUA_EMULATOR_BROKER_H
#define IOTLUA_EMULATOR_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct event_base;
struct sockaddr;
typedef struct ssl_ctx_st SSL_CTX;

struct broker;

struct broker_options {
    const char *host;          /* address to listen on, "127.0.0.1" by default */
    int port;                  /* 0 picks an ephemeral port */
    SSL_CTX *tls;              /* NULL: plain TCP; else TLS (mutual TLS when the ctx verifies peers) */
    int max_packet_size;       /* bytes; 0 means the AWS IoT limit (128 KiB payload + headers) */
    int log_level;             /* added by H4: 0 error, 1 warn, 2 info (connections), 3 debug */
    int keep_alive_min;        /* seconds; a client's keep alive is raised to it (0: AWS's 30) */
    int keep_alive_max;        /* seconds; above it or 0 lowered to it (0: AWS's 1200) */
    long retained_max;         /* retained topics kept at most (0: AWS's 500,000 per account) */
};

struct mqtt_user_property {
    const char *key;
    const char *value;
};

/* One application message, as the HTTP API or a device hands it to the broker. */
struct broker_message {
    const char *topic;
    const uint8_t *payload;
    size_t payload_len;
    int qos;                                  /* 0 or 1 */
    bool retain;
    const char *content_type;                 /* NULL when absent */
    const char *response_topic;               /* NULL when absent */
    const uint8_t *correlation_data;          /* NULL when absent */
    size_t correlation_data_len;
    int payload_format;                       /* -1 absent, 0 UNSPECIFIED_BYTES, 1 UTF8_DATA */
    int64_t message_expiry;                   /* seconds; -1 absent */
    const struct mqtt_user_property *user_properties;
    size_t user_property_count;
};

/* Creates the broker and starts listening; *bound_port_out gets the port chosen. NULL on
 * failure, with a message on stderr. */
struct broker *broker_new(struct event_base *base, const struct broker_options *options,
                          int *bound_port_out);
/* Closes every connection and frees everything. Safe with NULL. */
void broker_free(struct broker *broker);

/* An MQTT client that reached the emulator another way than the MQTT port (MQTT over
 * WebSockets): bev's input is the bytes the client sends, its output what the broker
 * answers, and from here on the connection is served exactly as a TCP one. The broker
 * owns bev (it calls bufferevent_free when the connection is done, after its output has
 * drained); peer and local (may be NULL) are the addresses GetConnection reports.
 * 0, or -1 when out of memory (bev has then been freed). */
int broker_adopt_stream(struct broker *broker, struct bufferevent *bev,
                        const struct sockaddr *peer, const struct sockaddr *local);

/* Routes a message to every matching subscription (wildcards, $share groups), keeps or
 * deletes the retained copy when message->retain, and tells the publish observers.
 * A retained message for a new topic when the store holds retained_max topics is
 * refused whole (not stored, not routed, counted): BROKER_PUBLISH_RETAINED_QUOTA. */
enum broker_publish_status {
    BROKER_PUBLISH_OK = 0,
    BROKER_PUBLISH_RETAINED_QUOTA = 1,
    BROKER_PUBLISH_NOMEM = 2,
};
enum broker_publish_status broker_publish(struct broker *broker,
                                          const struct broker_message *message);

/* Called once for every message the broker routes, from HTTP or from a device: the QA
 * controls record what was published, and later features (shadows, rules) watch their
 * topics. `origin_client_id` is NULL for HTTP. Observers are called in the order they
 * were added. */
typedef void (*broker_publish_observer)(void *arg, const struct broker_message *message,
                                        const char *origin_client_id);
/* 0, or -1 when out of memory. */
int broker_add_publish_observer(struct broker *broker, broker_publish_observer observer,
                                void *arg);
/* Removes the observer added with that function and arg (nothing when there is none). */
void broker_remove_publish_observer(struct broker *broker, broker_publish_observer observer,
                                    void *arg);

/* Direct messages: delivered to one connected client whether or not it subscribed.
 * QoS 0 (message->qos == 0): sent and done, `on_done` is not called.
 * QoS 1: `on_done(arg, true)` when the client's PUBACK arrives, `on_done(arg, false)` if
 * the connection goes away first. The caller may cancel (its own timeout) with
 * broker_direct_cancel(); after cancel or on_done the handle is gone. */
typedef void (*broker_direct_done)(void *arg, bool acknowledged);
struct broker_direct;
enum broker_direct_status {
    BROKER_DIRECT_SENT = 0,
    BROKER_DIRECT_NOT_CONNECTED = 1,   /* unknown client id, or its session is offline */
};
enum broker_direct_status broker_send_direct(struct broker *broker, const char *client_id,
                                             const struct broker_message *message,
                                             broker_direct_done on_done, void *arg,
                                             struct broker_direct **handle_out);
void broker_direct_cancel(struct broker_direct *handle);

/* Connection state of one client id, for GetConnection. */
struct broker_connection_info {
    bool connected;
    char client_id[256];
    char thing_name[256];             /* "" when unknown */
    bool clean_session;
    int keep_alive;                   /* seconds */
    int64_t connected_since_ms;       /* epoch milliseconds */
    int64_t disconnected_since_ms;    /* 0 while connected */
    char disconnect_reason[64];       /* "" while connected; e.g. CLIENT_INITIATED_DISCONNECT */
    int64_t session_expiry;           /* seconds */
    char source_ip[64];
    int source_port;
    char target_ip[64];
    int target_port;
};
/* 0 and *info_out filled when the client is connected or disconnected less than 30
 * minutes ago; -1 when the broker knows nothing of it. */
int broker_get_connection(struct broker *broker, const char *client_id,
                          struct broker_connection_info *info_out);

/* Subscriptions of a connected client or of an offline persistent session, in the order
 * they were made. Returns the number visited, or -1 when there is no such session. */
typedef void (*broker_subscription_visitor)(void *arg, const char *topic_filter, int qos);
int broker_list_subscriptions(struct broker *broker, const char *client_id,
                              broker_subscription_visitor visit, void *arg);

/* QA control: the server closes the client's connection (SERVER_INITIATED_DISCONNECT).
 * 0 when a connection was closed, -1 when the client is not connected. */
int broker_disconnect_client(struct broker *broker, const char *client_id);

/* DeleteConnection: the server closes the client's connection (API_INITIATED_DISCONNECT,
 * MQTT 5 reason 0x98 Administrative action), publishing its will unless prevent_will;
 * with clean_session the session's subscriptions and queued messages go too (a delayed
 * will then goes at once, the session having ended). 0, or -1 when not connected. */
int broker_delete_connection(struct broker *broker, const char *client_id, bool clean_session,
                             bool prevent_will);

/* Retained messages, for GetRetainedMessage and ListRetainedMessages: the store the broker
 * delivers from on subscribe, one message per topic, set by a retained publish (MQTT,
 * HTTP or a will) and deleted by an empty one. `last_modified_ms` (epoch ms) is when
 * the topic's retained message was last set. */
typedef void (*broker_retained_visitor)(void *arg, const struct broker_message *message,
                                        int64_t last_modified_ms);
/* Calls visit once with a view of topic's retained message, valid during the call only.
 * 0 when there is one, -1 when there is none, -2 when out of memory. */
int broker_get_retained(struct broker *broker, const char *topic,
                        broker_retained_visitor visit, void *arg);

struct broker_retained_summary {
    const char *topic;              /* NUL-terminated, valid during the call */
    size_t topic_len;
    size_t payload_size;
    int qos;
    int64_t last_modified_ms;
};
typedef void (*broker_retained_lister)(void *arg, const struct broker_retained_summary *s);
/* One page of the store in byte order of topic: the topics after `after` (`after_len`
 * bytes; NULL for the first page), at most `limit` of them, each given to visit. Returns
 * how many were visited, or -1 when out of memory; *more_out says whether topics remain
 * after the last one visited. The order only depends on the topics, so a page ends at
 * the same place whatever was added or deleted elsewhere meanwhile. */
int broker_list_retained(struct broker *broker, const char *after, size_t after_len,
                         size_t limit, broker_retained_lister visit, void *arg,
                         bool *more_out);

/* What the broker counted since it started (the QA controls' /_emulator/stats). */
struct broker_stats {
    uint64_t publish_too_large;     /* not sent: over the client's Maximum Packet Size */
    uint64_t retained_quota;        /* retained publishes refused: retained_max reached */
};
void broker_get_stats(const struct broker *broker, struct broker_stats *stats_out);

#endif
