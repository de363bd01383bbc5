/*
 * tls_trust.h — what a TLS client context verifies servers against: a CA file named by
 * the user, or the system's trust store.
 *
 * The system store is OpenSSL's default locations (SSL_CERT_DIR / SSL_CERT_FILE, else the
 * directory and bundle OpenSSL was built with) with the same certificates trusted as
 * SSL_CTX_set_default_verify_paths trusts, but read when a chain asks for them: the
 * hashed directory first (one file per subject, the way OpenSSL looks there), then the
 * bundle, indexed by subject the first time the directory lacks one (cert_bundle.h:
 * only the certificates asked for are decoded). OpenSSL's defaults decode the whole
 * bundle up front: on Debian 12 (145 certificates) one HTTPS publish from a fresh iotlua
 * took 258 million instructions and 43 ms that way, against 21 million and 7.3 ms when
 * the directory has the root, 27 million when a subject sent the lookup to the bundle
 * (as a server's intermediate does: OpenSSL looks for each issuer among the trusted
 * first). callgrind and hyperfine medians, the emulator's certificate added to a copy of
 * the store.
 */
#ifndef IOTLUA_TLS_TRUST_H
#define IOTLUA_TLS_TRUST_H

#include <openssl/ssl.h>

#include "client.h"

/* Loads ca_file (PEM, one or more certificates) into ctx's store, or with ca_file NULL
 * sets up the system store as above. 0, or -1 with err set (TLSError naming the file
 * that could not be read; the system store itself never fails here: a directory or
 * bundle that is missing trusts nothing, and verification then says so). */
int tls_trust_load(SSL_CTX *ctx, const char *ca_file, struct iot_error *err);

/* A trust store many client contexts share: what one verification looked up (a
 * directory's root decoded, the bundle indexed) the next one finds, and a CA file is
 * read once for them all. Counted: tls_trust_new gives the caller one reference
 * (NULL: out of memory); tls_trust_free drops one and frees with the last, telling the
 * owner first. Contexts that were given the store keep it as long as they live. Not for
 * use from two threads at once (an engine's). */
struct tls_trust;
struct tls_trust *tls_trust_new(const char *ca_file);      /* NULL: the system store */
struct tls_trust *tls_trust_ref(struct tls_trust *trust);
void tls_trust_free(struct tls_trust *trust);
void tls_trust_set_owner(struct tls_trust *trust, void *owner, void (*gone)(void *owner));

/* Makes trust's store ctx's, reading it first the first time (as tls_trust_load: a CA
 * file that cannot be read is -1 with err set, and tried again by the next call). */
int tls_trust_attach(struct tls_trust *trust, SSL_CTX *ctx, struct iot_error *err);

/* err: TLSError "what: <the first error on OpenSSL's queue>"; the queue is emptied. */
void tls_set_error(struct iot_error *err, const char *what);

#endif
