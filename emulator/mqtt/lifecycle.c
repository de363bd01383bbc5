/*
 * lifecycle.c — AWS IoT lifecycle events: when a client connects or disconnects, a JSON
 * message on `$aws/events/presence/connected/<clientId>` or
 * `$aws/events/presence/disconnected/<clientId>`, with the fields AWS documents
 * (clientId, timestamp, eventType, sessionIdentifier, versionNumber, and on disconnect
 * clientInitiatedDisconnect and disconnectReason); and on SUBSCRIBE / UNSUBSCRIBE a
 * message on `$aws/events/subscriptions/{subscribed,unsubscribed}/<clientId>` listing the
 * topics. Client ids with `+` or `#` get none, as on AWS.
 */
#include <stdio.h>
#include <string.h>

#include "broker_internal.h"

/* Appends s as a JSON string (quotes included). */
static int json_string(struct buf *b, const char *s)
{
    int rc = buf_append_char(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        if (*p == '"' || *p == '\\')
            rc = buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            rc = buf_printf(b, "\\u%04x", *p);
        else
            rc = buf_append_char(b, (char)*p);
    }
    return rc ? -1 : buf_append_char(b, '"');
}

static void publish_event(struct broker *b, const char *family, const char *kind,
                          const char *client_id, const struct buf *json)
{
    struct buf topic = BUF_INIT;
    if (buf_printf(&topic, "$aws/events/%s/%s/%s", family, kind, client_id) == 0) {
        struct broker_message m = {
            .topic = buf_cstr(&topic), .payload = (const uint8_t *)json->data,
            .payload_len = json->len, .qos = 1, .payload_format = -1, .message_expiry = -1,
        };
        struct mqtt_msg *msg = broker_msg_from_broker_message(&m, broker_now_ms());
        if (msg) {
            broker_route(b, msg, NULL);
            broker_msg_unref(msg);
        }
    }
    buf_free(&topic);
}

static bool has_events(const struct session *s)
{
    return !strpbrk(s->client_id, "+#");
}

/* The start of the event object, up to and including eventType. */
static int event_head(struct buf *j, const struct session *s, const char *type)
{
    int rc = buf_append_str(j, "{\"clientId\":");
    rc |= json_string(j, s->client_id);
    rc |= buf_printf(j, ",\"timestamp\":%lld,\"eventType\":\"%s\",\"sessionIdentifier\":\"%s\"",
                     (long long)broker_now_ms(), type, s->session_identifier);
    return rc ? -1 : 0;
}

void broker_lifecycle_connected(struct broker *b, struct session *s, const struct conn *c)
{
    s->version_number++;
    snprintf(s->session_identifier, sizeof(s->session_identifier), "%016llx%016llx",
             (unsigned long long)broker_now_ms(), (unsigned long long)++b->event_serial);
    if (!has_events(s))
        return;
    struct buf j = BUF_INIT;
    int rc = event_head(&j, s, "connected");
    rc |= buf_append_str(&j, ",\"ipAddress\":");
    rc |= json_string(&j, c->peer_ip);
    rc |= buf_printf(&j, ",\"versionNumber\":%llu}", (unsigned long long)s->version_number);
    if (rc == 0)
        publish_event(b, "presence", "connected", s->client_id, &j);
    buf_free(&j);
}

void broker_lifecycle_disconnected(struct broker *b, struct session *s, const char *reason)
{
    if (!has_events(s))
        return;
    struct buf j = BUF_INIT;
    int rc = event_head(&j, s, "disconnected");
    rc |= buf_printf(&j, ",\"clientInitiatedDisconnect\":%s,\"disconnectReason\":\"%s\","
                         "\"versionNumber\":%llu}",
                     strcmp(reason, REASON_CLIENT_INITIATED) == 0 ? "true" : "false", reason,
                     (unsigned long long)s->version_number);
    if (rc == 0)
        publish_event(b, "presence", "disconnected", s->client_id, &j);
    buf_free(&j);
}

void broker_lifecycle_subscriptions(struct broker *b, struct session *s, bool subscribed,
                             const struct mqtt_sub_list *list, const uint8_t *codes)
{
    if (!has_events(s))
        return;
    const char *type = subscribed ? "subscribed" : "unsubscribed";
    struct buf j = BUF_INIT, one = BUF_INIT;
    int rc = event_head(&j, s, type);
    rc |= buf_append_str(&j, ",\"topics\":[");
    size_t offset = 0, i = 0, listed = 0;
    struct mqtt_str filter;
    uint8_t options;
    while (rc == 0 && mqtt_sub_next(list, &offset, &filter, &options)) {
        bool changed = subscribed ? codes[i] < 0x80 : codes[i] == 0x00;
        i++;
        if (!changed)
            continue;
        buf_reset(&one);
        rc |= buf_append(&one, filter.p, filter.len);
        rc |= listed++ ? buf_append_char(&j, ',') : 0;
        rc |= json_string(&j, buf_cstr(&one));
    }
    rc |= buf_append_str(&j, "]}");
    if (rc == 0 && listed > 0)
        publish_event(b, "subscriptions", type, s->client_id, &j);
    buf_free(&one);
    buf_free(&j);
}
