/*
 * engine_tls.c — the engine's TLS client contexts for its streams (the MQTT client): one
 * shared net_tls_ctx (net_stream.h) per set of TLS options in use (CA file, client
 * certificate and key, ALPN, verification), made when a stream first needs it and freed
 * with the last stream that uses it. A fleet of devices with one certificate reads the
 * CA, the certificate and the key once instead of once per device (OpenSSL 3.0 spends
 * about 1.5 million instructions decoding each key), and a device that reconnects while
 * the context lives resumes its TLS session instead of a full handshake. Sessions are
 * kept per context, so per client identity: a session is only ever offered by the
 * identity that made it.
 *
 * The contexts that verify against one CA file (or the system store) share one trust
 * store (tls_trust.h): devices with certificates of their own read the CA once, not once
 * per identity, and what the system store looked up for one is there for the next.
 *
 * The files named are matched as they are now (device, inode, size, modification time):
 * a certificate or CA rotated on disk gets a context (and a CA a store) of its own from
 * the next connect.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "client.h"
#include "engine.h"
#include "net_stream.h"
#include "tls_trust.h"

struct tls_slot {
    struct tls_slot *next;              /* in its bucket */
    struct eng_tls *owner;
    uint64_t hash;
    char *key;
    struct net_tls_ctx *ctx;            /* not counted: the slot goes when it goes */
};

/* A trust store in use: a handful (one per CA file), kept in a list. */
struct trust_slot {
    struct trust_slot *next;
    struct eng_tls *owner;
    char *key;
    struct tls_trust *trust;            /* not counted: the slot goes when it goes */
};

struct eng_tls {
    struct tls_slot **buckets;
    size_t nbuckets, n;
    struct trust_slot *trusts;
    struct iot_stream_tls_stats stats;
};

/* ================================================================ keys */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* One field of a key, length first, so that no two option sets read alike. */
static int key_field(struct buf *b, const char *value)
{
    if (!value)
        return buf_append(b, "-;", 2);
    char len[24];
    int n = snprintf(len, sizeof len, "%zu:", strlen(value));
    return buf_append(b, len, (size_t)n) || buf_append(b, value, strlen(value)) ||
           buf_append(b, ";", 1);
}

/* A file's path and what it is now (a missing file keys as such). */
static int key_file(struct buf *b, const char *path)
{
    struct stat st;
    char now[96] = "-";
    if (path && stat(path, &st) == 0)
        snprintf(now, sizeof now, "%ju.%ju.%jd.%jd.%ld", (uintmax_t)st.st_dev,
                 (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
    return key_field(b, path) || (path && key_field(b, now));
}

static int make_key(struct buf *b, const struct net_tls *tls)
{
    return key_field(b, tls->verify ? "verify" : "no-verify") || key_field(b, tls->alpn) ||
           key_file(b, tls->ca_file) || key_file(b, tls->cert_file) ||
           key_file(b, tls->key_file) || buf_append(b, "", 1);
}

/* ================================================================ the table */

static struct eng_tls *engine_tls(struct iot_engine *e)
{
    struct eng_tls **slot = eng_tls_slot(e);
    if (!*slot)
        *slot = calloc(1, sizeof **slot);
    return *slot;
}

static int grow(struct eng_tls *t)
{
    if (t->n < t->nbuckets)
        return 0;
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 16;
    struct tls_slot **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct tls_slot *s = t->buckets[i], *next; s; s = next) {
            next = s->next;
            s->next = b[s->hash & (nb - 1)];
            b[s->hash & (nb - 1)] = s;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    return 0;
}

/* The context's last stream closed: its slot goes. */
static void slot_gone(void *owner, struct net_tls_ctx *ctx)
{
    (void)ctx;
    struct tls_slot *s = owner;
    struct eng_tls *t = s->owner;
    for (struct tls_slot **p = &t->buckets[s->hash & (t->nbuckets - 1)]; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    t->n--;
    free(s->key);
    free(s);
}

static struct net_tls_ctx *find(struct eng_tls *t, uint64_t hash, const char *key)
{
    if (!t->nbuckets)
        return NULL;
    for (struct tls_slot *s = t->buckets[hash & (t->nbuckets - 1)]; s; s = s->next)
        if (s->hash == hash && strcmp(s->key, key) == 0)
            return s->ctx;
    return NULL;
}

/* ================================================================ trust stores */

/* The store's last context went: its slot goes. */
static void trust_gone(void *owner)
{
    struct trust_slot *s = owner;
    for (struct trust_slot **p = &s->owner->trusts; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    free(s->key);
    free(s);
}

/* The store for ca_file (NULL: the system's) as the file is now: a new reference. */
static struct tls_trust *trust_for(struct eng_tls *t, const char *ca_file,
                                   struct iot_error *err)
{
    struct buf key = BUF_INIT;
    struct trust_slot *s = NULL;
    if (key_file(&key, ca_file) == 0 && buf_append(&key, "", 1) == 0) {
        for (s = t->trusts; s; s = s->next)
            if (strcmp(s->key, key.data) == 0) {
                buf_free(&key);
                return tls_trust_ref(s->trust);
            }
        s = calloc(1, sizeof *s);
    }
    if (s && !(s->trust = tls_trust_new(ca_file))) {
        free(s);
        s = NULL;
    }
    if (!s) {
        buf_free(&key);
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    s->key = buf_steal(&key);
    s->owner = t;
    s->next = t->trusts;
    t->trusts = s;
    t->stats.stores++;
    tls_trust_set_owner(s->trust, s, trust_gone);
    return s->trust;                    /* the maker's reference is the caller's */
}

/* ================================================================ contexts */

static struct net_tls_ctx *add(struct eng_tls *t, uint64_t hash, char *key,
                               const struct net_tls *tls, struct iot_error *err)
{
    struct tls_slot *s = grow(t) == 0 ? calloc(1, sizeof *s) : NULL;
    if (!s) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    struct net_tls options = *tls;
    options.shared = NULL;
    options.trust = tls->verify ? trust_for(t, tls->ca_file, err) : NULL;
    s->ctx = !tls->verify || options.trust ? net_tls_ctx_new(&options, err) : NULL;
    tls_trust_free(options.trust);      /* the context holds its own reference */
    if (!s->ctx) {
        free(s);
        return NULL;
    }
    s->owner = t;
    s->hash = hash;
    s->key = key;
    s->next = t->buckets[hash & (t->nbuckets - 1)];
    t->buckets[hash & (t->nbuckets - 1)] = s;
    t->n++;
    t->stats.contexts++;
    net_tls_ctx_set_owner(s->ctx, s, slot_gone);
    return s->ctx;                      /* the maker's reference is the caller's */
}

struct net_tls_ctx *eng_tls_ctx(struct iot_engine *e, const struct net_tls *tls,
                                struct iot_error *err)
{
    struct eng_tls *t = engine_tls(e);
    struct buf key = BUF_INIT;
    if (!t || make_key(&key, tls) != 0) {
        buf_free(&key);
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    uint64_t hash = fnv1a(key.data, key.len);
    struct net_tls_ctx *ctx = find(t, hash, key.data);
    if (ctx) {
        buf_free(&key);
        return net_tls_ctx_ref(ctx);
    }
    char *owned = buf_steal(&key);
    ctx = owned ? add(t, hash, owned, tls, err) : NULL;
    if (!ctx)
        free(owned);
    return ctx;
}

struct tls_trust *eng_tls_trust(struct iot_engine *e, const char *ca_file,
                                struct iot_error *err)
{
    struct eng_tls *t = engine_tls(e);
    if (!t) {
        iot_error_set(err, "InternalError", "out of memory");
        return NULL;
    }
    return trust_for(t, ca_file, err);
}

void eng_tls_count_handshake(struct iot_engine *e, int resumed)
{
    struct eng_tls *t = engine_tls(e);
    if (!t)
        return;
    t->stats.handshakes++;
    t->stats.resumed += resumed != 0;
}

void iot_engine_stream_tls_stats(struct iot_engine *e, struct iot_stream_tls_stats *out)
{
    struct eng_tls *t = *eng_tls_slot(e);
    memset(out, 0, sizeof *out);
    if (t)
        *out = t->stats;
}

void eng_tls_free(struct iot_engine *e)
{
    struct eng_tls **slot = eng_tls_slot(e), *t = *slot;
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct tls_slot *s = t->buckets[i], *next; s; s = next) {
            next = s->next;
            net_tls_ctx_set_owner(s->ctx, NULL, NULL);      /* its streams keep it */
            free(s->key);
            free(s);
        }
    for (struct trust_slot *s = t->trusts, *next; s; s = next) {
        next = s->next;
        tls_trust_set_owner(s->trust, NULL, NULL);          /* its contexts keep it */
        free(s->key);
        free(s);
    }
    free(t->buckets);
    free(t);
    *slot = NULL;
}
