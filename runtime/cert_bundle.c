/*
 * cert_bundle.c — a PEM bundle of certificates indexed by subject, each certificate
 * decoded only when asked for (cert_bundle.h).
 */
#define _GNU_SOURCE
#include "cert_bundle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>

struct bundle_entry {
    unsigned char *der;                 /* the certificate; NULL once decoded or dropped */
    long der_len;
    const unsigned char *subject;       /* its subject's DER, inside der */
    long subject_len;
    uint64_t fingerprint;               /* name_fingerprint's, when fingerprinted */
    int fingerprinted;
    int trusted_form;                   /* TRUSTED CERTIFICATE: d2i_X509_AUX */
    X509_NAME *name;                    /* the subject decoded, once compared */
};

struct cert_bundle {
    struct bundle_entry *v;
    size_t n, cap;
};

/* ================================================================ DER */

struct der_item {
    int tag, cls, constructed;
    long len;
};

/* The header of the DER element at *p (before end); *p then points at its content,
 * which fits before end. 0, or -1 when malformed or of indefinite length. */
static int der_next(const unsigned char **p, const unsigned char *end, struct der_item *d)
{
    if (*p >= end)
        return -1;
    int r = ASN1_get_object(p, &d->len, &d->tag, &d->cls, end - *p);
    if ((r & 0x80) || r == 0x21 || d->len > end - *p)
        return -1;
    d->constructed = r & V_ASN1_CONSTRUCTED;
    return 0;
}

/* The subject of a DER certificate: the sixth element of tbsCertificate, or the fifth
 * when the version is left out. 0 with *subject and *len set, or -1. */
static int der_subject(const unsigned char *der, long der_len, const unsigned char **subject,
                       long *len)
{
    const unsigned char *p = der, *end = der + der_len;
    struct der_item d;
    for (int depth = 0; depth < 2; depth++)     /* into Certificate, then tbsCertificate */
        if (der_next(&p, end, &d) != 0 || d.tag != V_ASN1_SEQUENCE)
            return -1;
    for (int skipped = 0;;) {
        const unsigned char *element = p;
        if (der_next(&p, end, &d) != 0)
            return -1;
        int is_version = skipped == 0 && d.cls == V_ASN1_CONTEXT_SPECIFIC && d.tag == 0;
        if (!is_version && skipped++ == 4) {    /* serial, signature, issuer, validity */
            if (d.tag != V_ASN1_SEQUENCE)
                return -1;
            *subject = element;
            *len = (long)(p - element) + d.len;
            return 0;
        }
        p += d.len;
    }
}

/* ================================================================ name fingerprints */

/* X509_NAME_cmp compares canonical encodings, where a value of the string types below
 * is converted to UTF-8, its spaces trimmed and collapsed and its ASCII letters
 * lowercased, and a value of any other type is kept as it is. So canonically equal
 * values have the same ASCII letters and digits, lowercased, in the same order, and
 * canonically equal names the same such values in some order (a set's order is
 * canonical too): the fingerprint is the sum of a hash of those characters per value.
 * Different fingerprints mean different names; equal ones are checked with
 * X509_NAME_cmp. A name with a value of another type has no fingerprint. */

/* The bytes per character of a string type OpenSSL canonicalises, 0 for other types. */
static int canon_width(int type)
{
    switch (type) {
    case V_ASN1_UTF8STRING:         /* an ASCII character is one byte below 0x80 */
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_T61STRING:          /* read as Latin-1 */
    case V_ASN1_IA5STRING:
    case V_ASN1_VISIBLESTRING:
        return 1;
    case V_ASN1_BMPSTRING:          /* UTF-16BE */
        return 2;
    case V_ASN1_UNIVERSALSTRING:    /* UTF-32BE */
        return 4;
    default:
        return 0;
    }
}

static uint64_t value_hash(const unsigned char *s, long len, int width)
{
    uint64_t h = 14695981039346656037ull;      /* FNV-1a */
    for (long i = 0; i + width <= len; i += width) {
        unsigned c = s[i + width - 1];
        int high_zero = 1;
        for (int k = 0; k < width - 1; k++)
            high_zero &= s[i + k] == 0;
        int lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9';
        if (!high_zero || !(lower || upper || digit))
            continue;
        h = (h ^ (upper ? c - 'A' + 'a' : c)) * 1099511628211ull;
    }
    return h;
}

/* The fingerprint of a DER Name. 0, or -1 when it has none (or is malformed). */
static int der_name_fingerprint(const unsigned char *p, long len, uint64_t *out)
{
    const unsigned char *end = p + len;
    struct der_item d;
    if (der_next(&p, end, &d) != 0 || d.tag != V_ASN1_SEQUENCE)
        return -1;
    uint64_t sum = 0;
    while (p < end) {
        if (der_next(&p, end, &d) != 0 || d.tag != V_ASN1_SET)      /* one RDN */
            return -1;
        const unsigned char *set_end = p + d.len;
        while (p < set_end) {
            if (der_next(&p, set_end, &d) != 0 || d.tag != V_ASN1_SEQUENCE)
                return -1;
            const unsigned char *ava_end = p + d.len;
            if (der_next(&p, ava_end, &d) != 0 || d.tag != V_ASN1_OBJECT)
                return -1;
            p += d.len;
            if (der_next(&p, ava_end, &d) != 0 || d.cls != V_ASN1_UNIVERSAL ||
                d.constructed || !canon_width(d.tag))
                return -1;
            sum += value_hash(p, d.len, canon_width(d.tag));
            p = ava_end;
        }
    }
    *out = sum;
    return 0;
}

static int name_fingerprint(const X509_NAME *name, uint64_t *out)
{
    uint64_t sum = 0;
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        int width = canon_width(ASN1_STRING_type(v));
        if (!width)
            return -1;
        sum += value_hash(ASN1_STRING_get0_data(v), ASN1_STRING_length(v), width);
    }
    *out = sum;
    return 0;
}

/* ================================================================ PEM */

/* The value of each base64 character; -2 for white space (skipped), -1 for any other. */
struct base64_table {
    signed char value[256];
};

static void base64_table_make(struct base64_table *t)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(t->value, -1, sizeof t->value);
    for (int i = 0; i < 64; i++)
        t->value[(unsigned char)alphabet[i]] = (signed char)i;
    t->value[' '] = t->value['\t'] = t->value['\r'] = t->value['\n'] = -2;
}

/* Decodes base64 text (white space anywhere, '=' padding only at the end) into out,
 * which has room for len * 3 / 4 bytes. The bytes written, or -1. */
static long base64_decode(const struct base64_table *t, const char *text, size_t len,
                          unsigned char *out)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        int v = t->value[c];
        if (v == -2)
            continue;
        if (c == '=') {
            if (++pad > 2)
                return -1;
            continue;
        }
        if (v < 0 || pad)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

static int grow(struct cert_bundle *b)
{
    if (b->n < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 64;
    struct bundle_entry *v = realloc(b->v, cap * sizeof *v);
    if (!v)
        return -1;
    b->v = v;
    b->cap = cap;
    return 0;
}

/* Indexes the certificate whose base64 is body[0..len). 0 (also when it is not a
 * certificate: left out), -1 out of memory. */
static int add_block(struct cert_bundle *b, const struct base64_table *t, const char *body,
                     size_t len, int trusted_form)
{
    if (grow(b) != 0)
        return -1;
    unsigned char *der = OPENSSL_malloc(len * 3 / 4 + 1);
    if (!der)
        return -1;
    struct bundle_entry e = {der, base64_decode(t, body, len, der), NULL, 0, 0, 0, trusted_form,
                             NULL};
    if (e.der_len <= 0 || der_subject(der, e.der_len, &e.subject, &e.subject_len) != 0) {
        OPENSSL_free(der);
        return 0;
    }
    e.fingerprinted = der_name_fingerprint(e.subject, e.subject_len, &e.fingerprint) == 0;
    b->v[b->n++] = e;
    return 0;
}

static int label_is(const char *label, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(label, want, len) == 0;
}

/* Every "-----BEGIN <label>-----" ... "-----END <label>-----" block of the text; the
 * certificates among them indexed. 0, or -1 out of memory. */
static int index_blocks(struct cert_bundle *b, const char *p, const char *end)
{
    static const char begin[] = "-----BEGIN ", dashes[] = "-----";
    struct base64_table t;
    base64_table_make(&t);
    for (;;) {
        const char *at = memmem(p, (size_t)(end - p), begin, sizeof begin - 1);
        if (!at)
            return 0;
        const char *label = at + sizeof begin - 1;
        const char *label_end = memmem(label, (size_t)(end - label), dashes, sizeof dashes - 1);
        size_t label_len = label_end ? (size_t)(label_end - label) : 0;
        if (!label_end || label_len > 64 || memchr(label, '\n', label_len)) {
            p = label;
            continue;
        }
        const char *body = label_end + sizeof dashes - 1;
        char marker[96];
        int marker_len = snprintf(marker, sizeof marker, "-----END %.*s-----", (int)label_len,
                                  label);
        const char *stop = memmem(body, (size_t)(end - body), marker, (size_t)marker_len);
        if (!stop)
            return 0;
        int trusted = label_is(label, label_len, "TRUSTED CERTIFICATE");
        if ((trusted || label_is(label, label_len, "CERTIFICATE") ||
             label_is(label, label_len, "X509 CERTIFICATE")) &&
            add_block(b, &t, body, (size_t)(stop - body), trusted) != 0)
            return -1;
        p = stop + marker_len;
    }
}

/* ================================================================ the index */

struct cert_bundle *cert_bundle_index(const char *pem, size_t len)
{
    struct cert_bundle *b = calloc(1, sizeof *b);
    if (b && index_blocks(b, pem, pem + len) != 0) {
        cert_bundle_free(b);
        return NULL;
    }
    return b;
}

void cert_bundle_free(struct cert_bundle *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        OPENSSL_free(b->v[i].der);
        X509_NAME_free(b->v[i].name);
    }
    free(b->v);
    free(b);
}

size_t cert_bundle_size(const struct cert_bundle *b)
{
    return b->n;
}

/* 1 when entry e's subject is name (e->name decoded on the way). */
static int subject_is(struct bundle_entry *e, const X509_NAME *name, int have_fp, uint64_t fp)
{
    if (have_fp && e->fingerprinted && e->fingerprint != fp)
        return 0;
    if (!e->name) {
        const unsigned char *q = e->subject;
        e->name = d2i_X509_NAME(NULL, &q, e->subject_len);
    }
    return e->name && X509_NAME_cmp(e->name, name) == 0;
}

int cert_bundle_add_subject(struct cert_bundle *b, X509_STORE *store, const X509_NAME *name)
{
    uint64_t fp = 0;
    int have_fp = name_fingerprint(name, &fp) == 0, added = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct bundle_entry *e = &b->v[i];
        if (!e->der || !subject_is(e, name, have_fp, fp))
            continue;
        const unsigned char *p = e->der;
        X509 *cert = e->trusted_form ? d2i_X509_AUX(NULL, &p, e->der_len)
                                     : d2i_X509(NULL, &p, e->der_len);
        if (cert && X509_STORE_add_cert(store, cert))
            added++;
        X509_free(cert);
        OPENSSL_free(e->der);
        e->der = NULL;
    }
    return added;
}
