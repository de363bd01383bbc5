/*
 * topic_alias.c — MQTT 5 topic aliases, both directions, per connection (they end with
 * it). A client may use aliases 1..BROKER_TOPIC_ALIAS_MAX (AWS IoT's maximum, announced
 * in CONNACK); the broker uses aliases toward a client only up to the Topic Alias
 * Maximum that client sent in CONNECT, and never more than BROKER_TOPIC_ALIAS_MAX.
 *
 * Ownership: the table is the connection's (c->aliases, allocated on first use, freed
 * with it); each slot owns its topic copy.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"

struct alias_slot {
    char *topic;                    /* NUL-terminated; NULL: unused */
    size_t len;
};

struct topic_aliases {
    struct alias_slot in[BROKER_TOPIC_ALIAS_MAX + 1];    /* client -> broker, by alias */
    struct alias_slot out[BROKER_TOPIC_ALIAS_MAX + 1];   /* broker -> client, by alias */
    uint16_t next_victim;           /* out: the slot replaced next when all are used */
};

static struct topic_aliases *table(struct conn *c)
{
    if (!c->aliases)
        c->aliases = calloc(1, sizeof(*c->aliases));
    return c->aliases;
}

static char *copy_topic(const char *p, size_t len)
{
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

static void slot_set(struct alias_slot *slot, char *topic, size_t len)
{
    free(slot->topic);
    slot->topic = topic;
    slot->len = len;
}

/* ---------------------------------------------------------------- client -> broker */

enum mqtt_err broker_alias_resolve(struct conn *c, struct mqtt_publish *p)
{
    if (!p->props.has_topic_alias)
        return p->topic.len == 0 ? MQTT_E_PROTOCOL : MQTT_OK;
    uint16_t alias = p->props.topic_alias;
    if (alias == 0 || alias > BROKER_TOPIC_ALIAS_MAX)
        return MQTT_E_TOPIC_ALIAS;
    struct topic_aliases *t = table(c);
    if (!t)
        return MQTT_E_NOMEM;
    struct alias_slot *slot = &t->in[alias];
    if (p->topic.len == 0) {
        if (!slot->topic)
            return MQTT_E_TOPIC_ALIAS;      /* an alias never given a topic */
        p->topic = (struct mqtt_str){slot->topic, slot->len};
        return MQTT_OK;
    }
    char *topic = copy_topic(p->topic.p, p->topic.len);
    if (!topic)
        return MQTT_E_NOMEM;
    slot_set(slot, topic, p->topic.len);
    return MQTT_OK;
}

/* ---------------------------------------------------------------- broker -> client */

static uint16_t out_limit(const struct conn *c)
{
    return c->client_alias_max < BROKER_TOPIC_ALIAS_MAX ? c->client_alias_max
                                                        : BROKER_TOPIC_ALIAS_MAX;
}

/* An existing alias for topic, else a free slot, else the next one in turn; 0 when the
 * client takes no aliases. *found_out says whether the slot already holds topic. */
static uint16_t pick_slot(struct topic_aliases *t, uint16_t limit, const char *topic,
                          size_t len, bool *found_out)
{
    uint16_t free_slot = 0;
    *found_out = false;
    for (uint16_t a = 1; a <= limit; a++) {
        struct alias_slot *s = &t->out[a];
        if (s->topic && s->len == len && memcmp(s->topic, topic, len) == 0) {
            *found_out = true;
            return a;
        }
        if (!s->topic && !free_slot)
            free_slot = a;
    }
    if (free_slot)
        return free_slot;
    t->next_victim = (uint16_t)(t->next_victim % limit + 1);
    return t->next_victim;
}

void broker_alias_choose(struct conn *c, const char *topic, size_t len,
                         struct alias_choice *out)
{
    *out = (struct alias_choice){0, true, NULL};
    uint16_t limit = c->version == MQTT_V5 ? out_limit(c) : 0;
    struct topic_aliases *t = limit ? table(c) : NULL;
    if (!t)
        return;
    bool found;
    uint16_t alias = pick_slot(t, limit, topic, len, &found);
    if (found) {
        *out = (struct alias_choice){alias, false, NULL};
        return;
    }
    char *copy = copy_topic(topic, len);
    if (copy)           /* out of memory: the topic goes without an alias */
        *out = (struct alias_choice){alias, true, copy};
}

void broker_alias_install(struct conn *c, struct alias_choice *ch)
{
    if (ch->copy && c->aliases)
        slot_set(&c->aliases->out[ch->alias], ch->copy, strlen(ch->copy));
    ch->copy = NULL;
}

void broker_alias_forget(struct alias_choice *ch)
{
    free(ch->copy);
    ch->copy = NULL;
}

void broker_alias_free(struct conn *c)
{
    if (!c->aliases)
        return;
    for (int a = 0; a <= BROKER_TOPIC_ALIAS_MAX; a++) {
        free(c->aliases->in[a].topic);
        free(c->aliases->out[a].topic);
    }
    free(c->aliases);
    c->aliases = NULL;
}
