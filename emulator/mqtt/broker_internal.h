/*
 * broker_internal.h — the broker's own structures, shared by the files of emulator/mqtt/.
 *
 * Ownership: the broker owns every session (in `sessions`, by client id) and every
 * connection (in the `conns` list). A session outlives its connections; a connection
 * points at its session once CONNECT is accepted. Messages are reference counted and
 * immutable: one copy is shared by every queue, in-flight slot and retained entry.
 */
#ifndef IOTLUA_MQTT_BROKER_INTERNAL_H
#define IOTLUA_MQTT_BROKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "mqtt_codec.h"
#include "strmap.h"

struct bufferevent;
struct evconnlistener;
struct event;
struct sockaddr;

#define BROKER_RECEIVE_MAX 100            /* unacknowledged QoS 1 we accept from a client */
#define BROKER_QUEUE_MAX 1000             /* QoS 1 messages kept per offline session */
#define BROKER_PAYLOAD_MAX (128 * 1024)   /* AWS IoT message payload limit */
#define BROKER_KEEP_ALIVE_MIN 30          /* AWS IoT keep-alive range, seconds */
#define BROKER_KEEP_ALIVE_MAX 1200
#define BROKER_CLIENT_ID_MAX 128          /* AWS IoT client id limit */
#define BROKER_DEFAULT_SESSION_EXPIRY 3600  /* 3.1.1 persistent sessions (AWS default) */
#define BROKER_MAX_SESSION_EXPIRY (7 * 24 * 3600)
#define BROKER_INFO_KEEP_MS (30 * 60 * 1000)  /* disconnect info kept 30 minutes */
#define BROKER_CONNECT_TIMEOUT 10         /* seconds to send CONNECT after accept */
#define BROKER_TOPIC_ALIAS_MAX 8          /* AWS IoT: topic aliases per connection */
#define BROKER_RETAINED_MAX 500000        /* AWS IoT: retained messages per account */

/* One application message: topic, payload, and the MQTT 5 properties to forward,
 * encoded (payload format, content type, response topic, correlation data, user
 * properties); the message expiry is kept apart because it counts down. */
struct mqtt_msg {
    unsigned refs;
    uint8_t qos;
    bool retain;
    int64_t expiry_at_ms;           /* -1 when it never expires */
    char *topic;                    /* NUL-terminated */
    size_t topic_len;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *props;
    size_t props_len;
};

struct mqtt_msg *broker_msg_from_broker_message(const struct broker_message *m, int64_t now_ms);
struct mqtt_msg *broker_msg_from_publish(const struct mqtt_publish *p, int64_t now_ms);
/* The will of a CONNECT as a message. */
struct mqtt_msg *broker_msg_from_will(const struct mqtt_connect *c, int64_t now_ms);
struct mqtt_msg *broker_msg_ref(struct mqtt_msg *m);
void broker_msg_unref(struct mqtt_msg *m);
bool broker_msg_expired(const struct mqtt_msg *m, int64_t now_ms);
/* Fills a broker_message view of m for the publish observer; *arena_out must be freed. */
int broker_msg_view(const struct mqtt_msg *m, struct broker_message *view_out, void **arena_out);

/* A QoS 1 message sent and not yet acknowledged. */
struct inflight {
    struct inflight *next;
    struct mqtt_msg *msg;
    uint16_t packet_id;
    bool retain;
    struct broker_direct *direct;   /* a direct message waiting for its PUBACK */
};

/* A message waiting for the client: offline, or over its receive maximum. */
struct queued {
    struct queued *next;
    struct mqtt_msg *msg;
    uint8_t qos;
    bool retain;
};

struct sub {                        /* one subscription, as the client made it */
    char *filter;                   /* the full filter, `$share/...` included */
    uint8_t qos;
    uint8_t options;                /* the SUBSCRIBE options byte (MQTT 5 bits) */
};

struct conn;
struct topic_aliases;

struct session {
    char *client_id;
    struct conn *conn;              /* NULL while offline */
    struct sub *subs;               /* in the order they were made */
    size_t sub_count, sub_cap;
    struct inflight *inflight;
    size_t inflight_count;
    struct queued *queue_head, *queue_tail;
    size_t queue_count;
    uint16_t next_packet_id;
    bool persistent;                /* state is kept while offline (until expiry) */
    uint32_t expiry_interval;       /* seconds */
    struct broker_connection_info info;
    uint64_t route_stamp;           /* routing: last message that reached this session */
    size_t route_index;
    struct broker *broker;
    struct mqtt_msg *pending_will;  /* MQTT 5 will delay: published when will_timer fires */
    struct event *will_timer;       /* allocated only while a will is pending */
    uint64_t version_number;        /* lifecycle events: connections so far */
    char session_identifier[33];    /* lifecycle events: this connection's id */
};

enum conn_state { CONN_NEW, CONN_CONNECTED, CONN_CLOSING };

struct conn {
    struct broker *broker;
    struct bufferevent *bev;
    struct session *session;
    struct conn *prev, *next;       /* broker->conns, or broker->dead once closed */
    struct mqtt_msg *will;
    uint8_t version;
    uint8_t state;
    bool no_problem_info;           /* MQTT 5 Request Problem Information = 0 */
    uint16_t keep_alive;
    uint16_t client_receive_max;
    uint16_t client_alias_max;      /* MQTT 5 Topic Alias Maximum of CONNECT (0: none) */
    uint32_t client_max_packet;
    struct topic_aliases *aliases;  /* topic_alias.c; NULL until an alias is used */
    uint32_t will_delay;            /* MQTT 5 Will Delay Interval, seconds */
    uint16_t peer_port, local_port;
    char peer_ip[46];
    char local_ip[46];
};

/* Subscription store: plain filters are found by exact key; wildcard and shared filters
 * sit in buckets keyed by their literal leading levels ("a/b" for "a/b/+/c", "" for
 * "+/x"), so a topic only meets the filters whose prefix is one of its own prefixes. */
struct sub_member {
    struct session *session;
    uint8_t qos;
    uint8_t options;
};

struct sub_node {
    char *key;                      /* the full filter */
    const char *filter;             /* the part that matches topics (after $share/g/) */
    size_t filter_len;
    bool scanned;                   /* wildcard or shared: in a prefix bucket */
    size_t prefix_len;              /* of filter: the bucket key */
    bool shared;
    struct sub_member *members;
    size_t count, cap;
    size_t next_member;             /* shared: round robin */
    struct sub_node *scan_prev, *scan_next;
};

struct sub_store {
    struct strmap by_key;
    struct strmap by_prefix;        /* literal prefix -> first sub_node of the bucket */
};

int broker_sub_store_add(struct sub_store *s, const char *key, size_t key_len,
                  struct session *session, uint8_t qos, uint8_t options, bool *existed_out);
void broker_sub_store_remove(struct sub_store *s, const char *key, size_t key_len,
                      struct session *session);
/* Calls visit for every node whose filter matches the topic. */
void broker_sub_store_match(struct sub_store *s, const char *topic, size_t topic_len,
                     void (*visit)(void *arg, struct sub_node *node), void *arg);
void broker_sub_store_free(struct sub_store *s);

/* One of the broker's publish observers (broker_add_publish_observer). */
struct publish_observer {
    broker_publish_observer fn;
    void *arg;
    struct publish_observer *next;
};

struct broker {
    struct event_base *base;
    struct evconnlistener *listener;
    SSL_CTX *tls;
    size_t max_body;
    uint16_t keep_alive_min, keep_alive_max;   /* the range a keep alive is moved into */
    size_t retained_max;            /* retained topics kept at most */
    struct broker_stats stats;
    struct strmap sessions;         /* client id -> struct session */
    struct strmap retained;         /* topic -> struct retained (retained.c) */
    struct sub_store subs;
    struct conn *conns;
    struct conn *dead;              /* closed, freed by `reaper` */
    struct event *reaper;
    struct event *sweeper;          /* session expiry and 30-minute info expiry */
    struct event *accept_pause;     /* re-enables the listener after EMFILE and the like */
    struct publish_observer *observers;     /* in the order added */
    uint64_t route_stamp;
    uint64_t assigned_ids;
    uint64_t event_serial;          /* lifecycle sessionIdentifier */
    int log_level;
};

struct broker_direct {
    struct session *session;
    struct inflight *slot;
    broker_direct_done on_done;
    void *arg;
};

int64_t broker_now_ms(void);
/* One line on stderr when level <= the broker's log level (2 info, 3 debug). */
void broker_log(const struct broker *b, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define LOG_INFO 2
#define LOG_DEBUG 3
#define BROKER_OUTPUT_MAX (4 * 1024 * 1024)   /* QoS 0 dropped for a client this far behind */

/* Routing (route.c): every matching subscription gets the message. `origin` is the
 * publishing session (for No Local) or NULL. Updates the retained store and tells the
 * observer. false: refused whole (broker_retained_refused), nothing done. */
bool broker_route(struct broker *b, struct mqtt_msg *msg, struct session *origin);

/* The retained store (retained.c): one entry per topic, owned by the broker, holding a
 * reference to the message and the time the topic's retained message was last set. */
struct retained {
    struct mqtt_msg *msg;
    int64_t modified_ms;            /* epoch ms: GetRetainedMessage's lastModifiedTime */
};
/* Keeps msg as its topic's retained message (at now_ms), or deletes the topic's entry
 * when msg's payload is empty. Out of memory: the store is left as it was. */
void broker_retained_update(struct broker *b, struct mqtt_msg *msg, int64_t now_ms);
/* true (and counted in stats) when msg is a retained message for a topic the store does
 * not hold while it holds retained_max topics: AWS IoT refuses it. Replacing or
 * deleting a topic's retained message is never refused. */
bool broker_retained_refused(struct broker *b, const struct mqtt_msg *msg);
/* Retained messages matching a new subscription's filter. */
void broker_send_retained(struct broker *b, struct session *s, const char *filter,
                          size_t filter_len, uint8_t qos, uint8_t options);
void broker_retained_free_all(struct broker *b);

/* Sessions (session.c). */
struct session *broker_session_get_or_create(struct broker *b, const char *client_id, size_t len);
void broker_session_deliver(struct session *s, struct mqtt_msg *msg, uint8_t qos, bool retain);
struct inflight *broker_session_send_qos1(struct session *s, struct mqtt_msg *msg, bool retain);
void broker_session_acknowledge(struct session *s, uint16_t packet_id);
void broker_session_resume(struct session *s);          /* resend in-flight (DUP) + queue */
void broker_session_drain_queue(struct session *s);
void broker_session_clear_state(struct broker *b, struct session *s);
int broker_session_add_sub(struct broker *b, struct session *s, const char *filter, size_t len,
                    uint8_t qos, uint8_t options, bool *existed_out);
bool broker_session_remove_sub(struct broker *b, struct session *s, const char *filter, size_t len);
/* The connection went away: direct messages fail, state goes unless persistent. */
void broker_session_detach(struct broker *b, struct session *s, const char *reason);
void broker_session_free(struct session *s);
/* MQTT 5 will delay: the will goes out after delay seconds unless the session is resumed
 * (broker_session_cancel_will) first. Takes a reference to will. */
void broker_session_schedule_will(struct session *s, struct mqtt_msg *will, uint32_t delay);
void broker_session_cancel_will(struct session *s);
/* The session ends: a will waiting for its delay is published now. */
void broker_session_release_will(struct session *s);
void broker_sweep_sessions(struct broker *b, int64_t now_ms);

/* AWS IoT lifecycle events (lifecycle.c). */
void broker_lifecycle_connected(struct broker *b, struct session *s, const struct conn *c);
void broker_lifecycle_disconnected(struct broker *b, struct session *s, const char *reason);
/* The filters a SUBSCRIBE (subscribed = true; codes: granted QoS or failure) or an
 * UNSUBSCRIBE (codes: 0x00 removed, 0x11 none) changed. */
void broker_lifecycle_subscriptions(struct broker *b, struct session *s, bool subscribed,
                             const struct mqtt_sub_list *list, const uint8_t *codes);

/* Connections (conn.c). */
void broker_conn_accept(struct broker *b, int fd, const struct sockaddr *peer, int peer_len);
int broker_conn_write(struct conn *c, const struct buf *data);
int broker_conn_write_raw(struct conn *c, const void *data, size_t len);
/* Closes: `reason` is the AWS disconnectReason, `mqtt5_reason` a DISCONNECT reason code
 * to send first (-1: none), `send_will` whether the will goes out. */
void broker_conn_close(struct conn *c, const char *reason, int mqtt5_reason, bool send_will);
/* A protocol failure on c: DISCONNECT with the mapped reason code, CLIENT_ERROR. */
void broker_conn_fail(struct conn *c, enum mqtt_err err);
void broker_conn_free(struct conn *c);
void broker_conn_set_keep_alive(struct conn *c, int seconds);
/* The subject CN of a mutual-TLS client certificate, "" when none. */
void broker_conn_peer_common_name(struct conn *c, char *out, size_t out_size);

/* Incoming packets (dispatch.c and handle_*.c). */
void broker_dispatch_packet(struct conn *c, const struct mqtt_frame *f);
void broker_handle_connect(struct conn *c, const struct mqtt_frame *f);
void broker_handle_publish(struct conn *c, const struct mqtt_frame *f);
void broker_handle_puback(struct conn *c, const struct mqtt_frame *f);
void broker_handle_subscribe(struct conn *c, const struct mqtt_frame *f);
void broker_handle_unsubscribe(struct conn *c, const struct mqtt_frame *f);
void broker_handle_pingreq(struct conn *c, const struct mqtt_frame *f);
void broker_handle_disconnect(struct conn *c, const struct mqtt_frame *f);

/* Outgoing packets (send_*.c). 0 or -1. */
struct connack_info {
    uint8_t reason;                 /* MQTT 5 reason code, or the 3.1.1 return code */
    bool session_present;
    const char *assigned_client_id; /* NULL unless the broker chose it */
    int server_keep_alive;          /* -1: the client's own; else announced (MQTT 5) */
};
int broker_send_connack(struct conn *c, const struct connack_info *info);
/* A PUBLISH to c: topic aliases (topic_alias.c) toward a client that allows them.
 * Nothing is sent (0, counted in stats) when the PUBLISH would exceed the client's
 * Maximum Packet Size or, at QoS 0, when the client is BROKER_OUTPUT_MAX behind. */
int broker_send_publish(struct conn *c, const struct mqtt_msg *msg, uint8_t qos, uint16_t packet_id,
                 bool retain, bool dup);
/* Whether msg as a PUBLISH at qos, its topic written out, fits the client's Maximum
 * Packet Size; counts it in stats when it does not. A QoS 1 message that does not fit
 * gets no packet id and no in-flight slot. */
bool broker_publish_fits(struct conn *c, const struct mqtt_msg *msg, uint8_t qos);
int broker_send_puback(struct conn *c, uint16_t packet_id, uint8_t reason);
int broker_send_suback(struct conn *c, uint16_t packet_id, const uint8_t *codes, size_t count);
int broker_send_unsuback(struct conn *c, uint16_t packet_id, const uint8_t *codes, size_t count);
int broker_send_pingresp(struct conn *c);
int broker_send_disconnect(struct conn *c, uint8_t reason);

/* Topic aliases (topic_alias.c), MQTT 5, per connection, both directions. */
/* A client's PUBLISH: its alias checked (1..BROKER_TOPIC_ALIAS_MAX), a topic given with
 * an alias remembered, an empty topic replaced by its alias's (p->topic then points
 * into c's table). MQTT_OK, MQTT_E_TOPIC_ALIAS, MQTT_E_PROTOCOL (empty topic, no
 * alias) or MQTT_E_NOMEM. The topic itself is not validated here. */
enum mqtt_err broker_alias_resolve(struct conn *c, struct mqtt_publish *p);
/* The alias a PUBLISH of topic to c uses: alias 0 is none; send_topic says whether the
 * topic goes too (a new or replaced mapping, held in `copy` until installed). */
struct alias_choice {
    uint16_t alias;
    bool send_topic;
    char *copy;
};
void broker_alias_choose(struct conn *c, const char *topic, size_t len,
                         struct alias_choice *out);
/* After the PUBLISH went out: a new mapping takes its slot (ownership of copy). */
void broker_alias_install(struct conn *c, struct alias_choice *ch);
/* The PUBLISH did not go out: forgets the choice. */
void broker_alias_forget(struct alias_choice *ch);
void broker_alias_free(struct conn *c);

/* reason.c: the one place internal errors become MQTT codes and AWS reasons. */
uint8_t broker_reason_code(enum mqtt_err err);
uint8_t broker_v311_connack_code(enum mqtt_err err);   /* 0: close without CONNACK */
const char *broker_error_name(enum mqtt_err err);
/* A short text for a reason code the server sends in DISCONNECT. */
const char *broker_reason_text(uint8_t code);

/* disconnectReason values, as AWS IoT lifecycle events name them. */
#define REASON_CLIENT_INITIATED "CLIENT_INITIATED_DISCONNECT"
#define REASON_SERVER_INITIATED "SERVER_INITIATED_DISCONNECT"
#define REASON_API_INITIATED "API_INITIATED_DISCONNECT"
#define REASON_KEEP_ALIVE "MQTT_KEEP_ALIVE_TIMEOUT"
#define REASON_DUPLICATE "DUPLICATE_CLIENTID"
#define REASON_CONNECTION_LOST "CONNECTION_LOST"
#define REASON_CLIENT_ERROR "CLIENT_ERROR"
#define REASON_AUTH_ERROR "AUTH_ERROR"
#define REASON_SERVER_ERROR "SERVER_ERROR"

#endif
