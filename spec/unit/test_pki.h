/*
 * test_pki.h — throwaway certificates for the C unit tests (P-256 keys, valid from a
 * minute ago for an hour). Include after check.h.
 *
 *   EVP_PKEY *key;
 *   X509 *ca = test_cert("Test Root", NULL, NULL, NULL, 1, &key);       self-signed CA
 *   X509 *leaf = test_cert("leaf", "IP:127.0.0.1", ca, key, 0, NULL);   signed by ca
 */
#ifndef IOTLUA_TEST_PKI_H
#define IOTLUA_TEST_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline void test_cert_ext_(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    CHECK_REQUIRE(ext != NULL);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate for common name cn (subjectAltName san unless NULL), a CA when is_ca,
 * signed by itself when issuer is NULL, else by issuer_key; with key identifiers, as
 * real ones have. Its new key goes to *key_out (the caller's to free) unless key_out is
 * NULL. */
static inline X509 *test_cert(const char *cn, const char *san, X509 *issuer,
                              EVP_PKEY *issuer_key, int is_ca, EVP_PKEY **key_out)
{
    static long serial = 1;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    CHECK_REQUIRE(key && x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
    X509 *signer = issuer ? issuer : x;
    if (san)
        test_cert_ext_(x, signer, NID_subject_alt_name, san);
    test_cert_ext_(x, signer, NID_basic_constraints,
                   is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    test_cert_ext_(x, signer, NID_subject_key_identifier, "hash");
    test_cert_ext_(x, signer, NID_authority_key_identifier, "keyid:always");
    CHECK_REQUIRE(X509_sign(x, issuer ? issuer_key : key, EVP_sha256()) > 0);
    if (key_out)
        *key_out = key;
    else
        EVP_PKEY_free(key);
    return x;
}

#endif
