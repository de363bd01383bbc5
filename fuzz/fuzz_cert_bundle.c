/*
 * fuzz_cert_bundle.c — libFuzzer target for the trust bundle's index (runtime/
 * cert_bundle.c): its PEM and base64 reader, the walk to a certificate's subject and
 * the name fingerprints.
 *
 * Any input: the index is built without a sanitizer report, and for the subject of each
 * certificate OpenSSL's own PEM reader finds in the input, the index adds at most as many
 * certificates as it holds, and nothing more when asked for that subject again (each
 * certificate is decoded once).
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cert_bundle *b = cert_bundle_index((const char *)data, size);
    X509_STORE *store = X509_STORE_new();
    if (!b || !store)
        abort();
    BIO *in = BIO_new_mem_buf(data, (int)size);
    X509 *cert;
    size_t seen = 0;
    while (in && (cert = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL && seen++ < 64) {
        const X509_NAME *name = X509_get_subject_name(cert);
        int added = cert_bundle_add_subject(b, store, name);
        if (cert_bundle_add_subject(b, store, name) != 0)
            abort();                    /* each certificate is decoded once */
        if (added > (int)cert_bundle_size(b))
            abort();
        X509_free(cert);
    }
    BIO_free(in);
    X509_STORE_free(store);
    cert_bundle_free(b);
    return 0;
}
