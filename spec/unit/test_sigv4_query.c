/*
 * test_sigv4_query.c — sigv4_verifier_verify_query, SigV4 in the query string (presigned
 * URLs, as MQTT over WebSockets to AWS IoT is signed).
 *
 * The good request is the presigned GET of AWS's own documentation example ("Amazon S3:
 * Authenticating Requests: Using Query Parameters": examplebucket, test.txt, 2013-05-24,
 * 86400 s, the documented example key pair), so the verifier is checked against a
 * signature it did not make. Then each kind of tampering, the time window of
 * X-Amz-Expires, and a session token signed or added after signing.
 * sigv4_presign_url is checked against the same documented URL, byte for byte, and its
 * output accepted by the verifier; then its argument checks.
 * The emulator's use of it (service iotdevicegateway, URLs presigned by botocore) is
 * spec/e2e/test_emulator_websocket.py.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SIGNED_AT 1369353600            /* 20130524T000000Z */

#define Q_ALG "X-Amz-Algorithm=AWS4-HMAC-SHA256"
#define Q_CRED "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
#define Q_DATE "X-Amz-Date=20130524T000000Z"
#define Q_EXP "X-Amz-Expires=86400"
#define Q_SH "X-Amz-SignedHeaders=host"
#define Q_SIG "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
#define GOOD Q_ALG "&" Q_CRED "&" Q_DATE "&" Q_EXP "&" Q_SH "&" Q_SIG

static int lookup(void *ud, const char *akid, const char **secret_out, const char **token_out)
{
    (void)ud;
    if (strcmp(akid, AKID) != 0)
        return 0;
    *secret_out = SECRET;
    *token_out = NULL;
    return 1;
}

/* Verifies GET /test.txt?query at `now`; returns the status, the message in why. */
static enum sigv4_verify_status verify_at(struct sigv4_verifier *v, const char *query,
                                          time_t now, unsigned flags, char *why, size_t n)
{
    struct sigv4_header headers[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    struct sigv4_request req = {.method = "GET", .path = "/test.txt", .query = query,
                                .headers = headers, .nheaders = 1,
                                .payload_hash = "UNSIGNED-PAYLOAD"};
    struct sigv4_verify_params p = {.service = "s3", .now = now, .lookup = lookup,
                                    .flags = SIGV4_NO_URI_ENCODE | flags};
    struct sigv4_verify_result r;
    enum sigv4_verify_status s = sigv4_verifier_verify_query(v, &req, &p, &r);
    snprintf(why, n, "%s", r.message);
    sigv4_verify_result_free(&r);
    return s;
}

static enum sigv4_verify_status verify(struct sigv4_verifier *v, const char *query)
{
    char why[512];
    return verify_at(v, query, SIGNED_AT + 3600, 0, why, sizeof why);
}

static void test_documented_example(struct sigv4_verifier *v)
{
    CHECK_INT_EQ(verify(v, GOOD), SIGV4_VERIFY_OK);
    /* parameter order does not matter: the canonical query is sorted */
    CHECK_INT_EQ(verify(v, Q_SIG "&" Q_SH "&" Q_EXP "&" Q_DATE "&" Q_CRED "&" Q_ALG),
                 SIGV4_VERIFY_OK);
}

static void test_tampering(struct sigv4_verifier *v)
{
    CHECK_INT_EQ(verify(v, GOOD "&extra=1"), SIGV4_VERIFY_MISMATCH);
    CHECK_INT_EQ(verify(v, Q_ALG "&" Q_CRED "&" Q_DATE "&X-Amz-Expires=86399&" Q_SH "&" Q_SIG),
                 SIGV4_VERIFY_MISMATCH);
    CHECK_INT_EQ(verify(v, Q_ALG "&" Q_CRED "&" Q_DATE "&" Q_EXP "&" Q_SH
                           "&X-Amz-Signature=beeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
                 SIGV4_VERIFY_MISMATCH);
    CHECK_INT_EQ(verify(v, Q_ALG "&" Q_CRED "&" Q_DATE "&" Q_EXP "&" Q_SIG),
                 SIGV4_VERIFY_MALFORMED);                           /* no SignedHeaders */
    CHECK_INT_EQ(verify(v, Q_ALG "&" Q_CRED "&" Q_DATE "&" Q_EXP "&X-Amz-SignedHeaders=x-a&" Q_SIG),
                 SIGV4_VERIFY_BAD_SIGNED_HEADERS);                  /* host not signed */
    CHECK_INT_EQ(verify(v, GOOD "&" Q_SIG), SIGV4_VERIFY_MALFORMED);  /* repeated */
    CHECK_INT_EQ(verify(v, "X-Amz-Algorithm=HMAC&" Q_CRED "&" Q_DATE "&" Q_EXP "&" Q_SH "&" Q_SIG),
                 SIGV4_VERIFY_BAD_ALGORITHM);
    CHECK_INT_EQ(verify(v, ""), SIGV4_VERIFY_MISSING);
    CHECK_INT_EQ(verify(v, "a=1&b=2"), SIGV4_VERIFY_MISSING);
    CHECK_INT_EQ(verify(v, Q_ALG "&X-Amz-Credential=AKIDOTHER%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
                           Q_DATE "&" Q_EXP "&" Q_SH "&" Q_SIG),
                 SIGV4_VERIFY_UNKNOWN_KEY);
    CHECK_INT_EQ(verify(v, Q_ALG "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130525%2Fus-east-1%2Fs3%2Faws4_request&"
                           Q_DATE "&" Q_EXP "&" Q_SH "&" Q_SIG),
                 SIGV4_VERIFY_BAD_SCOPE);                           /* scope date != X-Amz-Date */
}

static void test_time_window(struct sigv4_verifier *v)
{
    char why[512];
    CHECK_INT_EQ(verify_at(v, GOOD, SIGNED_AT + 86400, 0, why, sizeof why), SIGV4_VERIFY_OK);
    CHECK_INT_EQ(verify_at(v, GOOD, SIGNED_AT + 86401, 0, why, sizeof why),
                 SIGV4_VERIFY_DATE_SKEW);
    CHECK(strstr(why, "Request has expired") != NULL);
    CHECK_INT_EQ(verify_at(v, GOOD, SIGNED_AT - 300, 0, why, sizeof why), SIGV4_VERIFY_OK);
    CHECK_INT_EQ(verify_at(v, GOOD, SIGNED_AT - 301, 0, why, sizeof why),
                 SIGV4_VERIFY_DATE_SKEW);
    CHECK(strstr(why, "not yet current") != NULL);
    /* without X-Amz-Expires: 5 minutes either way (then the signature no longer matches,
     * X-Amz-Expires having been signed; the time is checked first) */
    const char *no_exp = Q_ALG "&" Q_CRED "&" Q_DATE "&" Q_SH "&" Q_SIG;
    CHECK_INT_EQ(verify_at(v, no_exp, SIGNED_AT + 301, 0, why, sizeof why),
                 SIGV4_VERIFY_DATE_SKEW);
    CHECK_INT_EQ(verify_at(v, no_exp, SIGNED_AT + 300, 0, why, sizeof why),
                 SIGV4_VERIFY_MISMATCH);
    CHECK_INT_EQ(verify(v, Q_ALG "&" Q_CRED "&" Q_DATE "&X-Amz-Expires=604801&" Q_SH "&" Q_SIG),
                 SIGV4_VERIFY_MALFORMED);
}

static void test_token_after_signing(struct sigv4_verifier *v)
{
    char why[512];
    const char *added = GOOD "&X-Amz-Security-Token=abc%2Fdef";
    CHECK_INT_EQ(verify_at(v, added, SIGNED_AT + 60,
                           SIGV4_VERIFY_ANY_TOKEN | SIGV4_VERIFY_QUERY_TOKEN_AFTER, why,
                           sizeof why),
                 SIGV4_VERIFY_OK);
    /* without the flag the token is part of the signed query, and this one was not */
    CHECK_INT_EQ(verify_at(v, added, SIGNED_AT + 60, SIGV4_VERIFY_ANY_TOKEN, why, sizeof why),
                 SIGV4_VERIFY_MISMATCH);
}

static void test_presign(struct sigv4_verifier *v)
{
    struct sigv4_params p = {"us-east-1", "s3", {AKID, SECRET, NULL}, SIGNED_AT,
                             sigv4_service_flags("s3")};
    struct buf out = BUF_INIT;
    char err[SIGV4_ERROR_LEN], why[512];
    CHECK_INT_EQ(sigv4_presign_url("GET", "https://examplebucket.s3.amazonaws.com/test.txt#f",
                                   &p, 86400, &out, err, sizeof err), 0);
    CHECK_STR_EQ(buf_cstr(&out), "https://examplebucket.s3.amazonaws.com/test.txt?" GOOD);
    const char *q = strchr(buf_cstr(&out), '?') + 1;
    CHECK_INT_EQ(verify_at(v, q, SIGNED_AT + 60, 0, why, sizeof why), SIGV4_VERIFY_OK);
    buf_free(&out);

    /* A session token is signed in the query; the URL's own query comes first. */
    p.credentials.session_token = "TOK/EN";
    CHECK_INT_EQ(sigv4_presign_url("GET", "https://h:8443/a/./b?x=1", &p, 60, &out, err,
                                   sizeof err), 0);
    CHECK_STR_CONTAINS(buf_cstr(&out), "https://h:8443/a/./b?x=1&X-Amz-Algorithm=");
    CHECK_STR_CONTAINS(buf_cstr(&out), "&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
                                       "&X-Amz-Security-Token=TOK%2FEN&X-Amz-Signature=");
    buf_free(&out);

    struct {
        const char *url;
        long expires;
        const char *secret, *error;
    } bad[] = {{"https://h/", 0, SECRET, "expires must be 1..604800"},
               {"https://h/", 604801, SECRET, "expires must be 1..604800"},
               {"https://h/", 60, "", "secret access key is missing"},
               {"nohost", 60, SECRET, "url must be"},
               {NULL, 60, SECRET, "url is missing"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p.credentials.secret_access_key = bad[i].secret;
        CHECK_INT_EQ(sigv4_presign_url("GET", bad[i].url, &p, bad[i].expires, &out, err,
                                       sizeof err), -1);
        CHECK_STR_CONTAINS(err, bad[i].error);
        CHECK(strstr(err, SECRET) == NULL);
        CHECK_INT_EQ(out.len, 0);
    }
}

int main(void)
{
    struct sigv4_verifier *v = sigv4_verifier_new();
    CHECK_REQUIRE(v != NULL);
    test_documented_example(v);
    test_tampering(v);
    test_time_window(v);
    test_token_after_signing(v);
    test_presign(v);
    sigv4_verifier_free(v);
    return CHECK_SUMMARY();
}
