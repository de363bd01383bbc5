/*
 * cert_bundle.h — a PEM bundle of certificates (the system's ca-certificates.crt) indexed
 * by subject without decoding the certificates: OpenSSL 3.0 decodes every public key it
 * reads, which for a bundle of 145 is some 240 million instructions; here a certificate
 * is decoded only when a chain asks for its subject.
 *
 * Indexing reads the PEM blocks (CERTIFICATE, X509 CERTIFICATE, TRUSTED CERTIFICATE),
 * decodes their base64, and finds each certificate's subject in its DER. Subjects are
 * compared as X509_NAME_cmp compares them (canonical encodings); a fingerprint that
 * canonically equal names share (cert_bundle.c) rules out most without decoding the
 * name. What is not a well-formed block or certificate is left out, as OpenSSL leaves
 * out what it cannot read of a bundle.
 */
#ifndef IOTLUA_CERT_BUNDLE_H
#define IOTLUA_CERT_BUNDLE_H

#include <stddef.h>

#include <openssl/x509.h>

struct cert_bundle;

/* The index of pem[0..len); NULL when out of memory (an empty index for a text with no
 * certificate). */
struct cert_bundle *cert_bundle_index(const char *pem, size_t len);
void cert_bundle_free(struct cert_bundle *b);

/* The certificates indexed. */
size_t cert_bundle_size(const struct cert_bundle *b);

/* Decodes the certificates whose subject is name and adds them to store; each is added
 * once (a later call finds it gone from the index). Returns how many were added. */
int cert_bundle_add_subject(struct cert_bundle *b, X509_STORE *store, const X509_NAME *name);

#endif
