/*
 * tls_trust.c — the trust store of a TLS client context: a CA file, or the system store
 * with its bundle read only when its hashed directory lacks a subject (tls_trust.h).
 */
#define _GNU_SOURCE
#include "tls_trust.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

void tls_set_error(struct iot_error *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "";
    if (e)
        ERR_error_string_n(e, detail, sizeof detail);
    ERR_clear_error();
    iot_error_set(err, "TLSError", "%s%s%s", what, *detail ? ": " : "", detail);
}

/* ================================================================ the bundle, on demand */

/* One certificate of the bundle: its subject, decoded, and its DER, decoded into a
 * certificate only when a lookup asks for that subject (decoding a certificate's public
 * key is what makes reading a whole bundle costly; its name is cheap). */
struct bundle_entry {
    X509_NAME *subject;
    unsigned char *der;                 /* OPENSSL_malloc'd, NULL once in the store */
    long der_len;
    int trusted_form;                   /* "TRUSTED CERTIFICATE": d2i_X509_AUX */
};

/* The system store's bundle file, for one store: indexed by subject the first time the
 * directory had no certificate for a subject; the certificates a lookup asks for go into
 * the store's own list, which OpenSSL searches before asking any lookup. */
struct lazy_bundle {
    char *path;
    int indexed;
    struct bundle_entry *v;
    size_t n;
};

static void bundle_free(X509_LOOKUP *lu)
{
    struct lazy_bundle *b = X509_LOOKUP_get_method_data(lu);
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        X509_NAME_free(b->v[i].subject);
        OPENSSL_free(b->v[i].der);
    }
    free(b->v);
    free(b->path);
    free(b);
}

/* Reads the header of the DER element at *p (before end): *p then points at its
 * content. 0, or -1 when it is malformed or of indefinite length. */
static int der_header(const unsigned char **p, const unsigned char *end, int *tag, long *len)
{
    int cls;
    int r = ASN1_get_object(p, len, tag, &cls, end - *p);
    return (r & 0x80) || r == 0x21 ? -1 : 0;
}

/* The subject of a DER certificate: the sixth element of tbsCertificate, or the fifth
 * when the version is left out. NULL when der is not a certificate. */
static X509_NAME *der_subject(const unsigned char *der, long der_len)
{
    const unsigned char *p = der, *end = der + der_len;
    int tag;
    long len;
    for (int depth = 0; depth < 2; depth++)     /* into Certificate, then tbsCertificate */
        if (der_header(&p, end, &tag, &len) != 0 || tag != V_ASN1_SEQUENCE)
            return NULL;
    for (int skipped = 0;; ) {
        const unsigned char *element = p;
        if (der_header(&p, end, &tag, &len) != 0 || len > end - p)
            return NULL;
        int is_version = skipped == 0 && element[0] == 0xa0;
        if (!is_version && skipped++ == 4) {    /* serial, signature, issuer, validity */
            const unsigned char *q = element;
            return d2i_X509_NAME(NULL, &q, (long)(p - element) + len);
        }
        p += len;
    }
}

static int bundle_add(struct lazy_bundle *b, const char *type, unsigned char *der, long len)
{
    int trusted = strcmp(type, PEM_STRING_X509_TRUSTED) == 0;
    X509_NAME *subject = trusted || strcmp(type, PEM_STRING_X509) == 0 ||
                         strcmp(type, PEM_STRING_X509_OLD) == 0 ? der_subject(der, len) : NULL;
    struct bundle_entry *v = subject ? realloc(b->v, (b->n + 1) * sizeof *v) : NULL;
    if (!v) {
        X509_NAME_free(subject);
        OPENSSL_free(der);              /* not a certificate (a CRL, say), or no memory */
        return 0;
    }
    b->v = v;
    v[b->n++] = (struct bundle_entry){subject, der, len, trusted};
    return 1;
}

/* Indexes every certificate of the bundle by subject. A missing or unreadable bundle
 * trusts nothing more, as with OpenSSL's defaults. */
static void bundle_index(struct lazy_bundle *b)
{
    b->indexed = 1;
    BIO *in = BIO_new_file(b->path, "r");
    for (;;) {
        char *type = NULL, *header = NULL;
        unsigned char *der = NULL;
        long len = 0;
        if (!in || PEM_read_bio(in, &type, &header, &der, &len) != 1)
            break;
        bundle_add(b, type, der, len);
        OPENSSL_free(type);
        OPENSSL_free(header);
    }
    BIO_free(in);
}

/* Decodes the bundle's certificates for name into the store. */
static void bundle_add_subject(struct lazy_bundle *b, X509_STORE *store, const X509_NAME *name)
{
    for (size_t i = 0; i < b->n; i++) {
        struct bundle_entry *e = &b->v[i];
        if (!e->der || X509_NAME_cmp(e->subject, name) != 0)
            continue;
        const unsigned char *p = e->der;
        X509 *cert = e->trusted_form ? d2i_X509_AUX(NULL, &p, e->der_len)
                                     : d2i_X509(NULL, &p, e->der_len);
        if (cert)
            X509_STORE_add_cert(store, cert);
        X509_free(cert);
        OPENSSL_free(e->der);
        e->der = NULL;
    }
}

/* ret borrows the store's certificate, as OpenSSL's own lookups answer (the caller takes
 * its reference). 1 found, 0 not. */
static int borrow_from_store(X509_STORE *store, const X509_NAME *name, X509_OBJECT *ret)
{
    int found = 0;
    if (!X509_STORE_lock(store))
        return 0;
    X509_OBJECT *obj = X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(store),
                                                       X509_LU_X509, name);
    X509 *cert = obj ? X509_OBJECT_get0_X509(obj) : NULL;
    if (cert && X509_OBJECT_set1_X509(ret, cert)) {
        X509_free(cert);                /* set1 took a reference: the store keeps its own */
        found = 1;
    }
    X509_STORE_unlock(store);
    return found;
}

static int bundle_by_subject(X509_LOOKUP *lu, X509_LOOKUP_TYPE type, const X509_NAME *name,
                             X509_OBJECT *ret)
{
    struct lazy_bundle *b = X509_LOOKUP_get_method_data(lu);
    if (!b || type != X509_LU_X509)     /* no CRLs are checked */
        return 0;
    ERR_set_mark();                     /* nothing of this on the handshake's queue */
    if (!b->indexed)
        bundle_index(b);
    X509_STORE *store = X509_LOOKUP_get_store(lu);
    bundle_add_subject(b, store, name);
    ERR_pop_to_mark();
    return borrow_from_store(store, name, ret);
}

static X509_LOOKUP_METHOD *bundle_method;

static void bundle_method_make(void)
{
    X509_LOOKUP_METHOD *m = X509_LOOKUP_meth_new("iotlua system bundle, read on demand");
    if (m && X509_LOOKUP_meth_set_free(m, bundle_free) &&
        X509_LOOKUP_meth_set_get_by_subject(m, bundle_by_subject))
        bundle_method = m;              /* process-wide: every store may hold a lookup */
    else
        X509_LOOKUP_meth_free(m);
}

/* The bundle lookup for store, its file from SSL_CERT_FILE or OpenSSL's default. */
static int add_bundle_lookup(X509_STORE *store)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, bundle_method_make);
    const char *env = secure_getenv(X509_get_default_cert_file_env());
    struct lazy_bundle *b = calloc(1, sizeof *b);
    if (!b || !bundle_method || !(b->path = strdup(env ? env : X509_get_default_cert_file()))) {
        free(b);
        return -1;
    }
    X509_LOOKUP *lu = X509_STORE_add_lookup(store, bundle_method);
    if (!lu || X509_LOOKUP_get_method_data(lu) || !X509_LOOKUP_set_method_data(lu, b)) {
        free(b->path);
        free(b);
        return lu ? 0 : -1;             /* a store that has one already keeps it */
    }
    return 0;
}

/* OpenSSL's default locations in the order above: the hashed directory (SSL_CERT_DIR,
 * a colon-separated list, else the built-in one), the bundle on demand, then the
 * directory as an OSSL_STORE, as X509_STORE_set_default_paths adds it. */
static int load_system_store(SSL_CTX *ctx, struct iot_error *err)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    ERR_set_mark();
    X509_LOOKUP *dir = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    if (dir)
        X509_LOOKUP_add_dir(dir, NULL, X509_FILETYPE_DEFAULT);
    int ok = dir && add_bundle_lookup(store) == 0;
    X509_LOOKUP *uri = ok ? X509_STORE_add_lookup(store, X509_LOOKUP_store()) : NULL;
    if (uri)
        X509_LOOKUP_add_store(uri, NULL);
    ERR_pop_to_mark();
    if (!uri) {
        iot_error_set(err, "TLSError", "cannot set up the system trust store");
        return -1;
    }
    return 0;
}

int tls_trust_load(SSL_CTX *ctx, const char *ca_file, struct iot_error *err)
{
    if (!ca_file)
        return load_system_store(ctx, err);
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        char what[300];
        snprintf(what, sizeof what, "cannot read the CA file '%.200s'", ca_file);
        tls_set_error(err, what);
        return -1;
    }
    return 0;
}
