/*
 * strmap.h — a hash map from byte-string keys to pointers (chained, grows by doubling).
 * The map copies keys; values are the caller's.
 */
#ifndef IOTLUA_MQTT_STRMAP_H
#define IOTLUA_MQTT_STRMAP_H

#include <stddef.h>

struct strmap_entry {
    struct strmap_entry *next;
    void *value;
    size_t key_len;
    char key[];             /* NUL-terminated copy */
};

struct strmap {
    struct strmap_entry **slots;
    size_t slot_count;
    size_t count;
};

void *broker_strmap_get(const struct strmap *m, const char *key, size_t key_len);
/* Inserts or replaces (replacing never allocates, so never fails); returns the entry
 * (its key is a stable copy) or NULL on ENOMEM. */
struct strmap_entry *broker_strmap_put(struct strmap *m, const char *key, size_t key_len, void *value);
/* Removes the key; returns its value or NULL. */
void *broker_strmap_remove(struct strmap *m, const char *key, size_t key_len);
/* Calls visit for every entry; visit may remove the entry it is given, nothing else. */
void broker_strmap_each(const struct strmap *m, void (*visit)(void *arg, struct strmap_entry *e),
                 void *arg);
void broker_strmap_free(struct strmap *m);     /* frees the entries, not the values */

#endif
