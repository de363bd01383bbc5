/*
 * sigv4_keys.h — SigV4 signing keys: derivation, and the cache of derived keys shared by
 * the signer and the verifier. The cache keeps SIGV4_VERIFIER_KEYS keys (replaced round
 * robin), each for one access key id, secret (kept as a copy, compared in constant
 * time, wiped when replaced), day, region and service.
 */
#ifndef IOTLUA_SIGV4_KEYS_H
#define IOTLUA_SIGV4_KEYS_H

#include <stddef.h>
#include <time.h>

#include "sigv4.h"

struct enc_hasher;

/* The four HMACs from "AWS4" + secret to the signing key, on the context h. 0 / -1. */
int sigv4_derive_key(struct enc_hasher *h, const char *secret, const char *date8,
                     const char *region, const char *service, unsigned char key_out[32]);
/* HMAC-SHA256 of data with key, as lowercase hex. 0 / -1. */
int sigv4_signature_hex(struct enc_hasher *h, const unsigned char key[32], const char *data,
                        size_t n, char out[SIGV4_HASH_HEX_LEN + 1]);

/* A signing scope: the strings a key is derived from besides the secret. */
struct sigv4_scope {
    const char *akid, *date, *region, *service;
};

struct sigv4_keys;

struct sigv4_keys *sigv4_keys_new(void);        /* NULL: out of memory */
void sigv4_keys_free(struct sigv4_keys *keys);  /* wipes the secrets; NULL is fine */
/* sigv4_format_time, remembering the last answer. 0 / -1 (time out of range). */
int sigv4_keys_time(struct sigv4_keys *keys, time_t t, char out[SIGV4_AMZ_DATE_LEN + 1]);
/* The signature of data for this scope, on the context h: with the cached key (derived
 * when the cache has none yet), or with one derived for this call alone when the scope
 * is too long for a slot. 0, or -1 when OpenSSL or memory fails. */
int sigv4_keys_signature(struct sigv4_keys *keys, struct enc_hasher *h, const char *secret,
                         const struct sigv4_scope *s, const char *data, size_t n,
                         char out[SIGV4_HASH_HEX_LEN + 1]);

#endif
