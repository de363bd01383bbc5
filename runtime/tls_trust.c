/*
 * tls_trust.c — the trust store of a TLS client context: a CA file, or the system store
 * with its bundle read only when its hashed directory lacks a subject (tls_trust.h).
 */
#define _GNU_SOURCE
#include "tls_trust.h"

#include "cert_bundle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
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

/* Bundles larger than this are not read (Debian's is 220 KB). */
#define BUNDLE_MAX_BYTES (64L << 20)

/* The system store's bundle file, for one store: indexed (cert_bundle.h) the first time
 * the directory had no certificate for a subject; the certificates a lookup asks for
 * go into the store's own list, which OpenSSL searches before asking any lookup. */
struct lazy_bundle {
    char *path;
    int indexed;
    struct cert_bundle *index;          /* NULL when unreadable */
};

static void bundle_free(X509_LOOKUP *lu)
{
    struct lazy_bundle *b = X509_LOOKUP_get_method_data(lu);
    if (!b)
        return;
    cert_bundle_free(b->index);
    free(b->path);
    free(b);
}

/* The whole of file path, *len set; NULL when it cannot be read. */
static char *read_bundle(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size <= BUNDLE_MAX_BYTES &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)) &&
        fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (f)
        fclose(f);
    *len = text ? (size_t)size : 0;
    return text;
}

/* A missing or unreadable bundle trusts nothing more, as with OpenSSL's defaults. */
static void bundle_index(struct lazy_bundle *b)
{
    b->indexed = 1;
    size_t len;
    char *text = read_bundle(b->path, &len);
    if (text)
        b->index = cert_bundle_index(text, len);
    free(text);
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
    if (b->index)
        cert_bundle_add_subject(b->index, store, name);
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
static int load_system_store(X509_STORE *store, struct iot_error *err)
{
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

static int fill_store(X509_STORE *store, const char *ca_file, struct iot_error *err)
{
    if (!ca_file)
        return load_system_store(store, err);
    if (X509_STORE_load_file(store, ca_file) != 1) {
        char what[300];
        snprintf(what, sizeof what, "cannot read the CA file '%.200s'", ca_file);
        tls_set_error(err, what);
        return -1;
    }
    return 0;
}

int tls_trust_load(SSL_CTX *ctx, const char *ca_file, struct iot_error *err)
{
    return fill_store(SSL_CTX_get_cert_store(ctx), ca_file, err);
}

/* ================================================================ shared stores */

struct tls_trust {
    int refs;
    char *ca_file;                      /* NULL: the system store */
    X509_STORE *store;                  /* NULL until filled */
    void (*gone)(void *owner);
    void *owner;
};

struct tls_trust *tls_trust_new(const char *ca_file)
{
    struct tls_trust *t = calloc(1, sizeof *t);
    if (!t || (ca_file && !(t->ca_file = strdup(ca_file)))) {
        free(t);
        return NULL;
    }
    t->refs = 1;
    return t;
}

struct tls_trust *tls_trust_ref(struct tls_trust *t)
{
    t->refs++;
    return t;
}

void tls_trust_set_owner(struct tls_trust *t, void *owner, void (*gone)(void *owner))
{
    t->owner = owner;
    t->gone = gone;
}

void tls_trust_free(struct tls_trust *t)
{
    if (!t || --t->refs > 0)
        return;
    if (t->gone)
        t->gone(t->owner);
    X509_STORE_free(t->store);          /* contexts that took it keep their references */
    free(t->ca_file);
    free(t);
}

int tls_trust_attach(struct tls_trust *t, SSL_CTX *ctx, struct iot_error *err)
{
    if (!t->store) {
        X509_STORE *store = X509_STORE_new();
        if (!store) {
            iot_error_set(err, "InternalError", "out of memory");
            return -1;
        }
        if (fill_store(store, t->ca_file, err) != 0) {
            X509_STORE_free(store);     /* tried again by the next attach */
            return -1;
        }
        t->store = store;
    }
    SSL_CTX_set1_cert_store(ctx, t->store);
    return 0;
}
