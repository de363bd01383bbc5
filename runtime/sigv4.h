/*
 * sigv4.h — AWS Signature Version 4, as a pipeline of small pure steps:
 *
 *   payload hash → timestamp → canonical request → string to sign → signature
 *   → Authorization value (+ the headers to add)
 *
 * and the reverse for servers (the emulator): parse an Authorization header, rebuild the
 * canonical request from the request as received, compare in constant time, and say
 * precisely why a request is rejected.
 *
 * No clock is read here: the signing time is always passed in (time_t, UTC).
 *
 * Rules implemented (see the comments in sigv4.c for the details):
 * - Canonical URI: the path *as given* is percent-encoded once more with '/' kept. For
 *   AWS services other than S3 the path given is the one sent on the wire, already
 *   encoded once, so "/topics/a%2Fb" is signed as "/topics/a%252Fb". The published test
 *   suite gives raw paths ("/example space/"), which the same rule encodes once.
 *   SIGV4_NORMALIZE_PATH removes "." and ".." segments and empty segments (duplicate
 *   slashes) first, as the suite's normalize-path cases and botocore do. The client's
 *   data-plane calls sign with it OFF (a topic path is sent as given); iotlua.sigv4.sign
 *   takes the defaults of sigv4_service_flags (on for every service but the S3 names).
 *   SIGV4_NO_URI_ENCODE (S3) uses the path as given, unencoded again.
 * - Canonical query: the raw query is split on '&'; each key and value is decoded as
 *   received and encoded exactly once ('+' is a literal plus, signed as %2B); pairs are
 *   sorted by key then value (bytewise); a key without '=' is signed as "key=".
 * - Canonical headers: names lowercased and trimmed; values trimmed with runs of
 *   whitespace (incl. folded lines) collapsed to one space; repeated headers joined with
 *   ',' in the order given; sorted by name. Every header given is signed except
 *   user-agent, authorization, x-amzn-trace-id and hop-by-hop headers (connection,
 *   keep-alive, proxy-*, te, trailer, transfer-encoding, upgrade, expect). X-Amz-Date,
 *   X-Amz-Security-Token and X-Amz-Content-Sha256 headers in the input are ignored: the
 *   signer adds its own.
 */
#ifndef IOTLUA_SIGV4_H
#define IOTLUA_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_AMZ_DATE_LEN 16          /* "20150830T123600Z" */
#define SIGV4_HASH_HEX_LEN 64
#define SIGV4_MAX_ADD 4
#define SIGV4_ERROR_LEN 256

struct sigv4_header {
    const char *name;
    const char *value;
};

struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;         /* NULL or "" when none */
};

enum sigv4_flags {
    SIGV4_NORMALIZE_PATH = 1u << 0,    /* remove dot segments and empty segments */
    SIGV4_NO_URI_ENCODE = 1u << 1,     /* S3: canonical URI = path as given */
    SIGV4_ADD_CONTENT_SHA256 = 1u << 2,/* add and sign X-Amz-Content-Sha256 */
    SIGV4_TOKEN_UNSIGNED = 1u << 3,    /* add X-Amz-Security-Token after signing */
    SIGV4_VERIFY_EITHER_PATH = 1u << 4,/* verify only: accept normalized or as-is path */
    SIGV4_VERIFY_CONTENT_SHA256 = 1u << 5, /* verify only: an X-Amz-Content-Sha256 header,
                                          when sent, must be the payload hash (either hex
                                          case) or UNSIGNED-PAYLOAD (then signed as is) */
    SIGV4_VERIFY_ANY_TOKEN = 1u << 6   /* verify only: X-Amz-Security-Token is not checked
                                          (a server without a token service); it is still
                                          signed when SignedHeaders lists it */
};

/* A request to sign, or one received (verify). Nothing here is owned by the signer. */
struct sigv4_request {
    const char *method;                /* "GET", "POST", ... */
    const char *path;                  /* as sent on the wire, e.g. "/topics/a%2Fb"; "" = "/" */
    const char *query;                 /* raw query without '?', NULL or "" when none */
    const struct sigv4_header *headers;/* must include Host */
    size_t nheaders;
    const void *body;                  /* may be NULL when body_len is 0 */
    size_t body_len;
    const char *payload_hash;          /* hex SHA-256 (or "UNSIGNED-PAYLOAD"); if set, the
                                          body is not hashed (e.g. streamed payloads) */
};

struct sigv4_params {
    const char *region;                /* "us-east-1" */
    const char *service;               /* signing name, "iotdata" */
    struct sigv4_credentials credentials;
    time_t time;                       /* signing time, UTC epoch seconds */
    unsigned flags;                    /* enum sigv4_flags */
};

/* Everything the pipeline produced. The strings share one allocation (storage); release
 * with sigv4_result_free, never free() a string alone. */
struct sigv4_result {
    char amz_date[SIGV4_AMZ_DATE_LEN + 1];
    char payload_hash[SIGV4_HASH_HEX_LEN + 1];
    char signature[SIGV4_HASH_HEX_LEN + 1];
    char *canonical_request;
    char *string_to_sign;
    char *credential_scope;            /* "20150830/us-east-1/service/aws4_request" */
    char *signed_headers;              /* "host;x-amz-date" */
    char *authorization;               /* the Authorization header value */
    char *security_token;              /* copy of the token, NULL when none */
    struct sigv4_header add[SIGV4_MAX_ADD]; /* headers to add to the request, in order:
                                          Authorization, X-Amz-Date, [X-Amz-Security-Token],
                                          [X-Amz-Content-Sha256]; values point into this */
    size_t nadd;
    char error[SIGV4_ERROR_LEN];       /* why sigv4_sign failed */
    void *storage;                     /* the allocation the strings above live in */
};

/* Signs req. Returns 0, or -1 with out->error set (bad input or out of memory); out must
 * be freed with sigv4_result_free either way. Never puts the secret in out->error. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *params,
               struct sigv4_result *out);
void sigv4_result_free(struct sigv4_result *r);

/* One call for scripts (iotlua.sigv4.sign): url is scheme://host[:port][/path][?query]
 * (path and query exactly as they will be sent). A Host header is derived from the URL
 * (the port only when it is not the scheme's default) unless headers has one. flags are
 * used as given (sigv4_service_flags gives a service's defaults); payload_hash, when not
 * NULL, is signed instead of the body's hash ("UNSIGNED-PAYLOAD" or hex). The headers to
 * add are out->add[0 .. out->nadd). Returns 0 or -1 with out->error. */
int sigv4_sign_url(const char *method, const char *url, const struct sigv4_header *headers,
                   size_t nheaders, const void *body, size_t body_len, const char *payload_hash,
                   const char *region, const char *service,
                   const struct sigv4_credentials *creds, time_t time, unsigned flags,
                   struct sigv4_result *out);

/* A URL as the signer reads it: scheme://host[:port][/path][?query][#fragment]. */
struct sigv4_url {
    struct buf host;    /* the Host header value (the port only when not the scheme's default) */
    struct buf path;    /* as given ("" when none) */
    struct buf query;   /* without '?' */
    size_t origin_len;  /* bytes of scheme://host[:port] at the URL's start */
};

/* Splits url into u (whose bufs the caller frees, also on failure). Returns NULL, or the
 * reason it cannot ("url has no host", ...; never quoting the URL). */
const char *sigv4_split_url(const char *url, struct sigv4_url *u);

/* The flags botocore's signer implies for a signing name: s3, s3-object-lambda and
 * s3-outposts sign the path as given (no normalisation, no second encoding) with an
 * X-Amz-Content-Sha256 header (SIGV4_NO_URI_ENCODE | SIGV4_ADD_CONTENT_SHA256); every
 * other service normalises the path and encodes it once more (SIGV4_NORMALIZE_PATH). */
unsigned sigv4_service_flags(const char *service);

/* A presigned URL (query-string signing, as botocore's SigV4QueryAuth and, with
 * SIGV4_NO_URI_ENCODE in params->flags, S3SigV4QueryAuth): the URL (fragment dropped)
 * with X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires (expires, 1..604800
 * seconds), X-Amz-SignedHeaders=host, X-Amz-Security-Token (a session token) after its own
 * query, all signed, then X-Amz-Signature. Only Host is signed; the payload is
 * UNSIGNED-PAYLOAD with SIGV4_NO_URI_ENCODE, the empty body's hash otherwise;
 * SIGV4_NORMALIZE_PATH applies as for sigv4_sign. Appends to out; returns 0, or -1 with
 * error set (naming what is wrong, never the secret). */
int sigv4_presign_url(const char *method, const char *url, const struct sigv4_params *params,
                      long expires, struct buf *out, char *error, size_t error_len);

/* ---------------------------------------------------------------- the pipeline's steps
 * Each is unit-tested on its own. */

/* "YYYYMMDDTHHMMSSZ" <-> epoch seconds (UTC). Parse returns 0, or -1 when s is not
 * exactly that form or names an impossible date/time. */
int sigv4_format_time(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1]);
int sigv4_parse_time(const char *s, time_t *t_out);

int sigv4_payload_hash(const void *body, size_t n, char out[SIGV4_HASH_HEX_LEN + 1]);
int sigv4_canonical_uri(struct buf *out, const char *path, unsigned flags);
int sigv4_canonical_query(struct buf *out, const char *query);
/* Canonical header block ("name:value\n" lines) and the signed-headers list. With
 * only_names == NULL the headers to sign are chosen by the rules above; otherwise
 * exactly the ';'-separated names listed are used (verify) and -1 is returned with
 * *missing_out (if given) set to the first listed name absent from headers. */
int sigv4_canonical_headers(struct buf *canon_out, struct buf *signed_out,
                            const struct sigv4_header *headers, size_t n,
                            const char *only_names, const char **missing_out);
int sigv4_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                         const char *canonical_request);
int sigv4_signing_key(const char *secret, const char *date8, const char *region,
                      const char *service, unsigned char key_out[32]);
int sigv4_signature(const unsigned char key[32], const char *string_to_sign,
                    char out[SIGV4_HASH_HEX_LEN + 1]);

/* ---------------------------------------------------------------- verification (servers) */

enum sigv4_verify_status {
    SIGV4_VERIFY_OK = 0,
    SIGV4_VERIFY_MISSING,        /* no Authorization header */
    SIGV4_VERIFY_MALFORMED,      /* Authorization unparsable or incomplete */
    SIGV4_VERIFY_BAD_ALGORITHM,  /* not AWS4-HMAC-SHA256 */
    SIGV4_VERIFY_BAD_SCOPE,      /* credential scope: wrong region/service/terminator/date */
    SIGV4_VERIFY_MISSING_DATE,   /* no X-Amz-Date (nor Date) header */
    SIGV4_VERIFY_BAD_DATE,       /* X-Amz-Date not YYYYMMDDTHHMMSSZ */
    SIGV4_VERIFY_DATE_SKEW,      /* request time more than max_skew from now */
    SIGV4_VERIFY_BAD_SIGNED_HEADERS, /* host not signed, or a signed header absent */
    SIGV4_VERIFY_UNKNOWN_KEY,    /* access key id not known */
    SIGV4_VERIFY_BAD_TOKEN,      /* security token missing or wrong for the key */
    SIGV4_VERIFY_MISMATCH,       /* signature does not match */
    SIGV4_VERIFY_NOMEM
};

/* Parsed "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex". Fixed-size fields: overlong parts are malformed. */
struct sigv4_authz {
    char algorithm[32];
    char access_key_id[129];
    char date[9];
    char region[64];
    char service[64];
    char terminator[32];
    char signed_headers[2048];
    char signature[SIGV4_HASH_HEX_LEN + 1];
};

/* Returns SIGV4_VERIFY_OK, _MALFORMED or _BAD_ALGORITHM; why_out gets the reason. */
enum sigv4_verify_status sigv4_parse_authorization(const char *value, size_t len,
                                                   struct sigv4_authz *out, char *why_out,
                                                   size_t why_len);

/* Looks up the secret (and the session token that must accompany it, or NULL when none
 * is required) for an access key id. Returns 1 when known, 0 when not. */
typedef int (*sigv4_secret_lookup)(void *ud, const char *access_key_id,
                                   const char **secret_out, const char **token_out);

struct sigv4_verify_params {
    const char *region;          /* expected scope region; NULL accepts any */
    const char *service;         /* expected scope service; NULL accepts any */
    time_t now;
    int max_skew;                /* seconds; 0 means 300 (AWS's 5 minutes) */
    sigv4_secret_lookup lookup;
    void *lookup_ud;
    unsigned flags;              /* SIGV4_NORMALIZE_PATH, SIGV4_VERIFY_EITHER_PATH,
                                    SIGV4_VERIFY_CONTENT_SHA256, SIGV4_VERIFY_ANY_TOKEN */
};

struct sigv4_verify_result {
    enum sigv4_verify_status status;
    const char *code;            /* static AWS-style error code, NULL when OK */
    char message[SIGV4_ERROR_LEN * 2]; /* precise reason; never contains a secret */
    char access_key_id[129];     /* as claimed by the request ("" if unparsed) */
    char *canonical_request;     /* what the server computed (owned, may be NULL) */
    char *string_to_sign;        /* shares canonical_request's allocation */
};

/* Verifies a received request. Returns out->status. Free out with
 * sigv4_verify_result_free. */
enum sigv4_verify_status sigv4_verify(const struct sigv4_request *req,
                                      const struct sigv4_verify_params *params,
                                      struct sigv4_verify_result *out);
void sigv4_verify_result_free(struct sigv4_verify_result *r);

/* A verifier for a busy server: it keeps between calls what sigv4_verify would redo for
 * every request — a SHA-256 context (encode.h's enc_hasher), the working buffers, and
 * the signing keys derived so far (the last SIGV4_VERIFIER_KEYS, each for one access
 * key id, secret, date, region and service, as AWS SDKs cache theirs, kept as HMAC pad
 * states; a request then costs one HMAC without its key blocks instead of five HMACs).
 * sigv4_verifier_verify answers exactly as sigv4_verify does (sigv4_verify is a verifier
 * used once). Not thread-safe: one per thread. */
#define SIGV4_VERIFIER_KEYS 8
struct sigv4_verifier;
struct sigv4_verifier *sigv4_verifier_new(void);       /* NULL when out of memory */
void sigv4_verifier_free(struct sigv4_verifier *v);    /* cleanses the keys; NULL is fine */
enum sigv4_verify_status sigv4_verifier_verify(struct sigv4_verifier *v,
                                               const struct sigv4_request *req,
                                               const struct sigv4_verify_params *params,
                                               struct sigv4_verify_result *out);

/* Presigned requests: SigV4 in the query string (X-Amz-Algorithm, X-Amz-Credential,
 * X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, optional X-Amz-Expires and
 * X-Amz-Security-Token), as AWS IoT's MQTT over WebSockets is signed. The canonical query
 * is the received one without X-Amz-Signature. Time: X-Amz-Date no later than now +
 * max_skew, and, with X-Amz-Expires (1..604800 s), not more than that long ago ("Request
 * has expired"); without it, within max_skew either way. With
 * SIGV4_VERIFY_QUERY_TOKEN_AFTER a query X-Amz-Security-Token may also have been added
 * after signing, as AWS IoT documents for WebSockets: the signature is then accepted over
 * the query without it too. SignedHeaders must list host. Otherwise as
 * sigv4_verifier_verify (the same checks and messages, the same key cache); "Missing
 * Authentication Token" when the query has neither X-Amz-Credential nor X-Amz-Signature. */
#define SIGV4_VERIFY_QUERY_TOKEN_AFTER (1u << 7)
enum sigv4_verify_status sigv4_verifier_verify_query(struct sigv4_verifier *v,
                                                     const struct sigv4_request *req,
                                                     const struct sigv4_verify_params *params,
                                                     struct sigv4_verify_result *out);

/* ---------------------------------------------------------------- signing many requests (clients)
 * A signer keeps between calls what sigv4_sign redoes for every request: a SHA-256
 * context, the buffer the canonical request is built in, the last X-Amz-Date formatted,
 * and the signing keys derived so far (the last SIGV4_VERIFIER_KEYS, each for one access
 * key id, secret, day, region and service; a changed secret derives a new key).
 * sigv4_signer_sign gives exactly what sigv4_sign gives. Not thread-safe: one per thread
 * (a client's engine runs on one). */
struct sigv4_signer;
struct sigv4_signer *sigv4_signer_new(void);           /* NULL when out of memory */
void sigv4_signer_free(struct sigv4_signer *s);        /* cleanses the keys; NULL is fine */
int sigv4_signer_sign(struct sigv4_signer *s, const struct sigv4_request *req,
                      const struct sigv4_params *params, struct sigv4_result *out);

/* The AWS error code for a status ("InvalidSignatureException", ...), NULL for OK. */
const char *sigv4_verify_code(enum sigv4_verify_status s);

#endif
