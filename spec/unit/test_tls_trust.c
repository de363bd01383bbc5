/*
 * test_tls_trust.c — the trust store of a TLS client context (runtime/tls_trust.c): the
 * system store answers from its hashed directory, reads its bundle only for a subject
 * the directory lacks and decodes only the certificates asked for, trusts what
 * OpenSSL's defaults trust, and a CA file named by the user is read whole.
 */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "test_pki.h"
#include "tls_trust.h"

static char tmpdir[] = "/tmp/iotlua-trust-XXXXXX";

/* tmpdir/name; the last four stay valid, so that one call can take two. */
static const char *path(const char *name)
{
    static char bufs[4][512];
    static int next;
    char *buf = bufs[next++ % 4];
    snprintf(buf, sizeof bufs[0], "%s/%s", tmpdir, name);
    return buf;
}

static void write_pem(const char *file, X509 **certs, int n, int trusted_form)
{
    FILE *f = fopen(file, "w");
    CHECK_REQUIRE(f != NULL);
    for (int i = 0; i < n; i++)
        CHECK_REQUIRE((trusted_form ? PEM_write_X509_AUX(f, certs[i])
                                    : PEM_write_X509(f, certs[i])) == 1);
    fclose(f);
}

/* A hashed directory as c_rehash makes it: each certificate as <subject hash>.<n>. */
static void make_hashed_dir(const char *dir, X509 **certs, int n)
{
    CHECK_REQUIRE(mkdir(dir, 0700) == 0);
    for (int i = 0; i < n; i++) {
        char file[600];
        unsigned long h = X509_NAME_hash_ex(X509_get_subject_name(certs[i]), NULL, NULL, NULL);
        for (int k = 0;; k++) {
            snprintf(file, sizeof file, "%s/%08lx.%d", dir, h, k);
            if (access(file, F_OK) != 0)
                break;
        }
        write_pem(file, &certs[i], 1, 0);
    }
}

/* A context whose system store is dir and bundle (the variables OpenSSL reads). */
static SSL_CTX *system_store(const char *dir, const char *bundle)
{
    setenv("SSL_CERT_DIR", dir, 1);
    setenv("SSL_CERT_FILE", bundle, 1);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    struct iot_error err;
    CHECK_REQUIRE(ctx && tls_trust_load(ctx, NULL, &err) == 0);
    return ctx;
}

static int store_size(SSL_CTX *ctx)
{
    return sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx)));
}

/* X509_verify_cert of leaf (with untrusted intermediates) against ctx's store: the
 * verification error, X509_V_OK when it passed. */
static int verify(SSL_CTX *ctx, X509 *leaf, STACK_OF(X509) *untrusted)
{
    X509_STORE_CTX *v = X509_STORE_CTX_new();
    CHECK_REQUIRE(v && X509_STORE_CTX_init(v, SSL_CTX_get_cert_store(ctx), leaf, untrusted));
    int ok = X509_verify_cert(v);
    int error = X509_STORE_CTX_get_error(v);
    X509_STORE_CTX_free(v);
    CHECK_INT_EQ(ok == 1, error == X509_V_OK);
    return error;
}

enum { OTHERS = 20 };
static X509 *root, *others[OTHERS], *leaf;
static EVP_PKEY *root_key;

static void make_pki(void)
{
    root = test_cert("Trust Test Root", NULL, NULL, NULL, 1, &root_key);
    for (int i = 0; i < OTHERS; i++) {
        char cn[32];
        snprintf(cn, sizeof cn, "Another Root %d", i);
        others[i] = test_cert(cn, NULL, NULL, NULL, 1, NULL);
    }
    leaf = test_cert("device.example", "DNS:device.example", root, root_key, 0, NULL);
}

/* The bundle: the other roots, with the test's root among them when with_root. */
static const char *make_bundle(const char *name, int with_root, int trusted_form)
{
    X509 *certs[OTHERS + 1];
    int n = 0;
    for (int i = 0; i < OTHERS; i++) {
        certs[n++] = others[i];
        if (with_root && i == OTHERS / 2)
            certs[n++] = root;
    }
    write_pem(path(name), certs, n, trusted_form);
    return path(name);
}

static void test_directory_answers_first(void)
{
    make_hashed_dir(path("dir-with-root"), &root, 1);
    const char *bundle = make_bundle("others.pem", 0, 0);
    SSL_CTX *ctx = system_store(path("dir-with-root"), bundle);
    CHECK_INT_EQ(store_size(ctx), 0);                   /* nothing read up front */
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_OK);
    CHECK_INT_EQ(store_size(ctx), 1);                   /* the root, from the directory */
    CHECK_INT_EQ(ERR_peek_error(), 0);
    SSL_CTX_free(ctx);
}

static void test_bundle_decodes_only_what_is_asked(void)
{
    CHECK_REQUIRE(mkdir(path("empty-dir"), 0700) == 0);
    const char *bundle = make_bundle("with-root.pem", 1, 0);
    SSL_CTX *ctx = system_store(path("empty-dir"), bundle);
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_OK);
    /* OpenSSL's own defaults would hold all 21 certificates of the bundle by now */
    CHECK_INT_EQ(store_size(ctx), 1);
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_OK);   /* again, from the store's list */
    CHECK_INT_EQ(store_size(ctx), 1);
    CHECK_INT_EQ(verify(ctx, others[3], NULL), X509_V_OK);     /* another subject */
    CHECK_INT_EQ(store_size(ctx), 2);
    CHECK_INT_EQ(ERR_peek_error(), 0);
    SSL_CTX_free(ctx);

    bundle = make_bundle("trusted-form.pem", 1, 1);
    ctx = system_store(path("empty-dir"), bundle);      /* "TRUSTED CERTIFICATE" blocks */
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_OK);
    SSL_CTX_free(ctx);
}

static void test_a_chain_through_an_intermediate(void)
{
    EVP_PKEY *mid_key;
    X509 *mid = test_cert("Trust Test Intermediate", NULL, root, root_key, 1, &mid_key);
    X509 *device = test_cert("device2.example", NULL, mid, mid_key, 0, NULL);
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, mid);

    /* the directory lacks the intermediate's subject (trusted-first asks for it), the
     * bundle has the root: only the root is decoded */
    const char *bundle = make_bundle("with-root.pem", 1, 0);
    SSL_CTX *ctx = system_store(path("empty-dir"), bundle);
    CHECK_INT_EQ(verify(ctx, device, chain), X509_V_OK);
    CHECK_INT_EQ(store_size(ctx), 1);
    SSL_CTX_free(ctx);

    ctx = system_store(path("dir-with-root"), path("no-such-bundle.pem"));
    CHECK_INT_EQ(verify(ctx, device, chain), X509_V_OK);
    SSL_CTX_free(ctx);

    sk_X509_free(chain);
    X509_free(device);
    X509_free(mid);
    EVP_PKEY_free(mid_key);
}

static void test_what_is_not_in_the_store_is_refused(void)
{
    const char *bundle = make_bundle("others.pem", 0, 0);
    SSL_CTX *ctx = system_store(path("empty-dir"), bundle);
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CHECK_INT_EQ(store_size(ctx), 0);
    CHECK_INT_EQ(ERR_peek_error(), 0);
    SSL_CTX_free(ctx);

    ctx = system_store(path("no-such-dir"), path("no-such-bundle.pem"));
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CHECK_INT_EQ(ERR_peek_error(), 0);
    SSL_CTX_free(ctx);

    /* a bundle of garbage and a truncated block trusts nothing, and breaks nothing */
    FILE *f = fopen(path("garbage.pem"), "w");
    CHECK_REQUIRE(f != NULL);
    fputs("-----BEGIN CERTIFICATE-----\nMIIBzzCCAXWgAwIBAgIB\n-----END CERTIFICATE-----\n"
          "not pem at all\n-----BEGIN CERTIFICATE-----\nAAAA\n", f);
    fclose(f);
    ctx = system_store(path("empty-dir"), path("garbage.pem"));
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    SSL_CTX_free(ctx);
}

static void test_two_roots_of_one_name(void)
{
    /* a root re-keyed under the same name: the bundle's first copy does not sign the
     * leaf, its second does; both are decoded and the chain finds the right one */
    EVP_PKEY *old_key;
    X509 *old = test_cert("Trust Test Root", NULL, NULL, NULL, 1, &old_key);
    X509 *certs[] = {old, others[0], root};
    write_pem(path("two-of-a-name.pem"), certs, 3, 0);
    SSL_CTX *ctx = system_store(path("empty-dir"), path("two-of-a-name.pem"));
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_OK);
    CHECK_INT_EQ(store_size(ctx), 2);
    SSL_CTX_free(ctx);
    X509_free(old);
    EVP_PKEY_free(old_key);
}

/* leaf re-issued by root under issuer name cn, a string of the given ASN.1 type. */
static X509 *issued_as(const unsigned char *cn, int len, int type)
{
    X509 *x = test_cert("device3.example", NULL, root, root_key, 0, NULL);
    X509_NAME *issuer = X509_NAME_new();
    CHECK_REQUIRE(issuer && X509_NAME_add_entry_by_NID(issuer, NID_commonName, type, cn, len,
                                                       -1, 0) == 1);
    X509_set_issuer_name(x, issuer);
    X509_NAME_free(issuer);
    CHECK_REQUIRE(X509_sign(x, root_key, EVP_sha256()) > 0);
    return x;
}

static void test_names_equal_as_openssl_compares_them(void)
{
    /* the root's name is a PrintableString; chains may name it in another string type,
     * case and spacing (X509_NAME_cmp compares canonical forms): still found */
    static const unsigned char bmp[] = {0, 'T', 0, 'R', 0, 'U', 0, 'S', 0, 'T', 0, ' ', 0, 't',
                                        0, 'e', 0, 's', 0, 't', 0, ' ', 0, 'R', 0, 'O', 0, 'O',
                                        0, 't'};
    X509 *utf8 = issued_as((const unsigned char *)"  trust   TEST root ", -1, V_ASN1_UTF8STRING);
    X509 *wide = issued_as(bmp, (int)sizeof bmp, V_ASN1_BMPSTRING);
    X509 *other = issued_as((const unsigned char *)"Trust Test Roots", -1, V_ASN1_UTF8STRING);
    const char *bundle = make_bundle("with-root.pem", 1, 0);
    X509 *chains[] = {utf8, wide};
    for (int i = 0; i < 2; i++) {
        SSL_CTX *ctx = system_store(path("empty-dir"), bundle);
        CHECK_INT_EQ(verify(ctx, chains[i], NULL), X509_V_OK);
        CHECK_INT_EQ(store_size(ctx), 1);
        SSL_CTX_free(ctx);
    }
    SSL_CTX *ctx = system_store(path("empty-dir"), bundle);
    CHECK_INT_EQ(verify(ctx, other, NULL), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    SSL_CTX_free(ctx);
    X509_free(utf8);
    X509_free(wide);
    X509_free(other);
}

static void test_a_named_ca_file_is_read_whole(void)
{
    const char *bundle = make_bundle("with-root.pem", 1, 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    struct iot_error err;
    CHECK_INT_EQ(tls_trust_load(ctx, bundle, &err), 0);
    CHECK_INT_EQ(store_size(ctx), OTHERS + 1);
    CHECK_INT_EQ(verify(ctx, leaf, NULL), X509_V_OK);
    SSL_CTX_free(ctx);

    ctx = SSL_CTX_new(TLS_client_method());
    CHECK_INT_EQ(tls_trust_load(ctx, path("missing.pem"), &err), -1);
    CHECK_STR_EQ(err.code, "TLSError");
    CHECK_STR_CONTAINS(err.message, "cannot read the CA file");
    CHECK_STR_CONTAINS(err.message, "missing.pem");
    CHECK_INT_EQ(ERR_peek_error(), 0);
    SSL_CTX_free(ctx);
}

int main(void)
{
    CHECK_REQUIRE(mkdtemp(tmpdir) != NULL);
    make_pki();
    test_directory_answers_first();
    test_bundle_decodes_only_what_is_asked();
    test_a_chain_through_an_intermediate();
    test_what_is_not_in_the_store_is_refused();
    test_two_roots_of_one_name();
    test_names_equal_as_openssl_compares_them();
    test_a_named_ca_file_is_read_whole();

    X509_free(root);
    X509_free(leaf);
    for (int i = 0; i < OTHERS; i++)
        X509_free(others[i]);
    EVP_PKEY_free(root_key);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK_INT_EQ(system(cmd), 0);
    return CHECK_SUMMARY();
}
