/*
 * sigv4_keys.c — signing keys: the derivation (four HMACs from "AWS4" + secret) and the
 * one cache of derived keys that the signer (sigv4.c) and the verifier (sigv4_verify.c)
 * both use (sigv4_keys.h).
 *
 * A cached key is kept as its HMAC pad states (enc_hmac_key), so a signature with it
 * costs two SHA-256 passes over the string to sign and no derivation.
 */
#include "sigv4_keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "encode.h"

/* ================================================================ derivation */

int sigv4_derive_key(struct enc_hasher *h, const char *secret, const char *date8,
                     const char *region, const char *service, unsigned char key_out[32])
{
    size_t n = strlen(secret);
    char stack_k0[256], *k0 = n + 4 <= sizeof stack_k0 ? stack_k0 : malloc(n + 4);
    unsigned char k[32];            /* each step's key, replaced by the next (in place) */
    int rc = -1;
    if (!k0)
        return -1;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    if (enc_hasher_hmac(h, k0, n + 4, date8, strlen(date8), k) == 0 &&
        enc_hasher_hmac(h, k, 32, region, strlen(region), k) == 0 &&
        enc_hasher_hmac(h, k, 32, service, strlen(service), k) == 0 &&
        enc_hasher_hmac(h, k, 32, "aws4_request", 12, key_out) == 0)
        rc = 0;
    OPENSSL_cleanse(k0, n + 4);
    if (k0 != stack_k0)
        free(k0);
    OPENSSL_cleanse(k, sizeof k);
    return rc;
}

int sigv4_signing_key(const char *secret, const char *date8, const char *region,
                      const char *service, unsigned char key_out[32])
{
    struct enc_hasher *h = enc_hasher_new();
    int rc = h ? sigv4_derive_key(h, secret, date8, region, service, key_out) : -1;
    enc_hasher_free(h);
    return rc;
}

/* HMAC-SHA256 of data with key, as lowercase hex. */
int sigv4_signature_hex(struct enc_hasher *h, const unsigned char key[32], const char *data,
                         size_t n, char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char mac[32];
    if (enc_hasher_hmac(h, key, 32, data, n, mac) != 0)
        return -1;
    enc_hex_to(out, mac, sizeof mac);
    return 0;
}

int sigv4_signature(const unsigned char key[32], const char *string_to_sign,
                    char out[SIGV4_HASH_HEX_LEN + 1])
{
    struct enc_hasher *h = enc_hasher_new();
    int rc = h ? sigv4_signature_hex(h, key, string_to_sign, strlen(string_to_sign), out) : -1;
    enc_hasher_free(h);
    return rc;
}

/* ================================================================ the cache */

/* One derived signing key, kept as its HMAC pad states. Empty while secret is NULL. */
struct key_slot {
    char access_key_id[129];
    char date[9], region[64], service[64];
    char *secret;                   /* copy: a changed secret must not match */
    struct enc_hmac_key *mac;
};

struct sigv4_keys {
    struct key_slot slots[SIGV4_VERIFIER_KEYS];
    size_t next_slot;               /* the one replaced next (round robin) */
    size_t last_hit;                /* looked at first */
    time_t amz_time;                /* the last time formatted (a client signs many */
    char amz_date[SIGV4_AMZ_DATE_LEN + 1];  /* requests in the same second); "" = none */
};

struct sigv4_keys *sigv4_keys_new(void)
{
    return calloc(1, sizeof(struct sigv4_keys));
}

static void slot_clear(struct key_slot *k)
{
    if (k->secret) {
        OPENSSL_cleanse(k->secret, strlen(k->secret));
        free(k->secret);
        k->secret = NULL;
    }
    enc_hmac_key_free(k->mac);
    k->mac = NULL;
}

void sigv4_keys_free(struct sigv4_keys *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < SIGV4_VERIFIER_KEYS; i++)
        slot_clear(&keys->slots[i]);
    free(keys);
}

int sigv4_keys_time(struct sigv4_keys *v, time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
    if (!v->amz_date[0] || v->amz_time != t) {
        if (sigv4_format_time(t, v->amz_date) != 0) {
            v->amz_date[0] = '\0';
            return -1;
        }
        v->amz_time = t;
    }
    memcpy(out, v->amz_date, sizeof v->amz_date);
    return 0;
}

static int slot_matches(const struct key_slot *k, const char *secret, const struct sigv4_scope *s)
{
    return k->secret && strcmp(k->date, s->date) == 0 && strcmp(k->region, s->region) == 0 &&
           strcmp(k->service, s->service) == 0 && strcmp(k->access_key_id, s->akid) == 0 &&
           enc_ct_streq(k->secret, secret);
}

/* True when the scope's parts fit a slot's fields. */
static int scope_fits(const struct sigv4_scope *s)
{
    return strlen(s->akid) < sizeof ((struct key_slot *)0)->access_key_id &&
           strlen(s->date) < sizeof ((struct key_slot *)0)->date &&
           strlen(s->region) < sizeof ((struct key_slot *)0)->region &&
           strlen(s->service) < sizeof ((struct key_slot *)0)->service;
}

/* The slot holding the signing key for this secret and scope (which must fit a slot),
 * derived (four HMACs) when none does yet; NULL when OpenSSL or memory fails. */
static struct key_slot *signing_key_slot(struct sigv4_keys *v, struct enc_hasher *h,
                                         const char *secret, const struct sigv4_scope *s)
{
    for (size_t i = 0; i < SIGV4_VERIFIER_KEYS; i++) {
        size_t j = (v->last_hit + i) % SIGV4_VERIFIER_KEYS;
        if (slot_matches(&v->slots[j], secret, s)) {
            v->last_hit = j;
            return &v->slots[j];
        }
    }
    struct key_slot *k = &v->slots[v->next_slot];
    unsigned char key[32];
    v->last_hit = v->next_slot;
    v->next_slot = (v->next_slot + 1) % SIGV4_VERIFIER_KEYS;
    slot_clear(k);
    int rc = sigv4_derive_key(h, secret, s->date, s->region, s->service, key);
    if (rc != 0 || !(k->mac = enc_hmac_key_new(h, key, sizeof key)) ||
        !(k->secret = strdup(secret))) {
        OPENSSL_cleanse(key, sizeof key);
        slot_clear(k);
        return NULL;
    }
    OPENSSL_cleanse(key, sizeof key);
    strcpy(k->access_key_id, s->akid);
    strcpy(k->date, s->date);
    strcpy(k->region, s->region);
    strcpy(k->service, s->service);
    return k;
}

/* HMAC-SHA256 of data with the slot's key, as hex. */
static int slot_signature(struct enc_hasher *h, const struct key_slot *k, const char *data,
                          size_t n, char out[SIGV4_HASH_HEX_LEN + 1])
{
    unsigned char mac[ENC_SHA256_LEN];
    if (enc_hasher_hmac_with(h, k->mac, data, n, mac) != 0)
        return -1;
    enc_hex_to(out, mac, sizeof mac);
    return 0;
}

int sigv4_keys_signature(struct sigv4_keys *v, struct enc_hasher *h, const char *secret,
                         const struct sigv4_scope *s, const char *data, size_t n,
                         char out[SIGV4_HASH_HEX_LEN + 1])
{
    if (!scope_fits(s)) {
        unsigned char key[32];
        int rc = sigv4_derive_key(h, secret, s->date, s->region, s->service, key) != 0 ||
                 sigv4_signature_hex(h, key, data, n, out) != 0;
        OPENSSL_cleanse(key, sizeof key);
        return rc ? -1 : 0;
    }
    struct key_slot *k = signing_key_slot(v, h, secret, s);
    return k ? slot_signature(h, k, data, n, out) : -1;
}
