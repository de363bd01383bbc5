/*
 * strmap.c — chained hash map with FNV-1a hashing (see strmap.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static uint64_t hash_bytes(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

static struct strmap_entry **find_slot(const struct strmap *m, const char *key, size_t len)
{
    if (m->slot_count == 0)
        return NULL;
    struct strmap_entry **p = &m->slots[hash_bytes(key, len) & (m->slot_count - 1)];
    while (*p && ((*p)->key_len != len || memcmp((*p)->key, key, len) != 0))
        p = &(*p)->next;
    return p;
}

void *broker_strmap_get(const struct strmap *m, const char *key, size_t key_len)
{
    struct strmap_entry **p = find_slot(m, key, key_len);
    return p && *p ? (*p)->value : NULL;
}

static int grow(struct strmap *m)
{
    size_t n = m->slot_count ? m->slot_count * 2 : 64;
    struct strmap_entry **slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->slot_count; i++) {
        struct strmap_entry *e = m->slots[i];
        while (e) {
            struct strmap_entry *next = e->next;
            size_t s = hash_bytes(e->key, e->key_len) & (n - 1);
            e->next = slots[s];
            slots[s] = e;
            e = next;
        }
    }
    free(m->slots);
    m->slots = slots;
    m->slot_count = n;
    return 0;
}

struct strmap_entry *broker_strmap_put(struct strmap *m, const char *key, size_t key_len, void *value)
{
    struct strmap_entry **p = find_slot(m, key, key_len);
    if (p && *p) {
        (*p)->value = value;    /* replacing never allocates */
        return *p;
    }
    if (m->count + 1 > m->slot_count) {
        if (grow(m) != 0)
            return NULL;
        p = find_slot(m, key, key_len);
    }
    struct strmap_entry *e = malloc(sizeof(*e) + key_len + 1);
    if (!e)
        return NULL;
    e->next = NULL;
    e->value = value;
    e->key_len = key_len;
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    *p = e;
    m->count++;
    return e;
}

void *broker_strmap_remove(struct strmap *m, const char *key, size_t key_len)
{
    struct strmap_entry **p = find_slot(m, key, key_len);
    if (!p || !*p)
        return NULL;
    struct strmap_entry *e = *p;
    void *value = e->value;
    *p = e->next;
    free(e);
    m->count--;
    return value;
}

void broker_strmap_each(const struct strmap *m, void (*visit)(void *arg, struct strmap_entry *e),
                 void *arg)
{
    for (size_t i = 0; i < m->slot_count; i++) {
        struct strmap_entry *e = m->slots[i];
        while (e) {
            struct strmap_entry *next = e->next;
            visit(arg, e);
            e = next;
        }
    }
}

void broker_strmap_free(struct strmap *m)
{
    for (size_t i = 0; i < m->slot_count; i++) {
        struct strmap_entry *e = m->slots[i];
        while (e) {
            struct strmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->slots);
    m->slots = NULL;
    m->slot_count = m->count = 0;
}
