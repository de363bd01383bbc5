/*
 * test_sigv4_verify.c — the SigV4 verifier (what the emulator checks every request with).
 *
 * 1. Good requests accepted, each kind of tampering rejected with its reason; all of it
 *    again through one long-lived sigv4_verifier (cached signing keys).
 * 2. A request signed for either wire path (encoded or not) is accepted.
 * 3. The verifier's cache notices a changed secret and survives more scopes than it holds.
 * 4. The CONTENT_SHA256 and ANY_TOKEN verify flags.
 * 5. One verifier through 600 good and 600 tampered requests of many shapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sigv4.h"
#include "sigv4_cases.h"

/* ---------------------------------------------------------------- 1. good and tampered requests */

struct keyring {
    const char *token;   /* token required for EX_AKID */
    const char *secret;  /* EX_AKID's secret; NULL means EX_SECRET */
};

/* When set, verify() goes through this long-lived verifier instead of sigv4_verify. */
static struct sigv4_verifier *shared_verifier;

static int lookup(void *ud, const char *akid, const char **secret_out, const char **token_out)
{
    const struct keyring *k = ud;
    if (strcmp(akid, EX_AKID) != 0)
        return 0;
    *secret_out = k->secret ? k->secret : EX_SECRET;
    *token_out = k->token;
    return 1;
}

/* A signed request held as the server would receive it. */
struct received {
    struct sigv4_header h[12];
    size_t nh;
    char authz[512];
    char date[20];
    char token[64];
    const char *path, *query, *body;
};

static void make_received(struct received *rx, const char *token, time_t t)
{
    struct sigv4_header base[] = {{"Host", "data-ats.iot.eu-west-1.amazonaws.com"},
                                  {"Content-Type", "application/json"},
                                  {"User-Agent", "iotlua/0.1"}};
    struct sigv4_request req = {"POST", "/topics/a%2Fb", "qos=1", base, 3, "{}", 2, NULL};
    struct sigv4_params p = {"eu-west-1", "iotdata", {EX_AKID, EX_SECRET, token}, t, 0};
    struct sigv4_result r;
    memset(rx, 0, sizeof *rx);
    CHECK_REQUIRE(sigv4_sign(&req, &p, &r) == 0);
    memcpy(rx->h, base, sizeof base);
    rx->nh = 3;
    snprintf(rx->authz, sizeof rx->authz, "%s", r.authorization);
    snprintf(rx->date, sizeof rx->date, "%s", r.amz_date);
    rx->h[rx->nh++] = (struct sigv4_header){"Authorization", rx->authz};
    rx->h[rx->nh++] = (struct sigv4_header){"X-Amz-Date", rx->date};
    if (token) {
        snprintf(rx->token, sizeof rx->token, "%s", token);
        rx->h[rx->nh++] = (struct sigv4_header){"X-Amz-Security-Token", rx->token};
    }
    rx->path = "/topics/a%2Fb";
    rx->query = "qos=1";
    rx->body = "{}";
    sigv4_result_free(&r);
}

static enum sigv4_verify_status verify(const struct received *rx, const char *method,
                                       time_t now, const char *need_token,
                                       struct sigv4_verify_result *out)
{
    struct keyring k = {need_token, NULL};
    struct sigv4_request req = {method, rx->path, rx->query, rx->h, rx->nh, rx->body,
                                strlen(rx->body), NULL};
    struct sigv4_verify_params p = {"eu-west-1", "iotdata", now, 0, lookup, &k, 0};
    if (shared_verifier)
        return sigv4_verifier_verify(shared_verifier, &req, &p, out);
    return sigv4_verify(&req, &p, out);
}

static void expect_reject(struct received *rx, const char *method, time_t now,
                          const char *need_token, enum sigv4_verify_status want,
                          const char *code, const char *reason)
{
    struct sigv4_verify_result v;
    CHECK_INT_EQ(verify(rx, method, now, need_token, &v), want);
    CHECK_STR_EQ(v.code, code);
    CHECK_STR_CONTAINS(v.message, reason);
    CHECK(strstr(v.message, EX_SECRET) == NULL);
    sigv4_verify_result_free(&v);
}

static void test_verify(void)
{
    const time_t t = 1440938160;
    struct received rx;
    struct sigv4_verify_result v;

    make_received(&rx, NULL, t);
    CHECK_INT_EQ(verify(&rx, "POST", t + 60, NULL, &v), SIGV4_VERIFY_OK);
    CHECK(v.code == NULL);
    CHECK_STR_EQ(v.access_key_id, EX_AKID);
    CHECK_STR_CONTAINS(v.canonical_request, "/topics/a%252Fb\nqos=1\n");
    sigv4_verify_result_free(&v);

    /* With a session token: accepted with the right one, rejected otherwise. */
    make_received(&rx, "tok-1", t);
    CHECK_INT_EQ(verify(&rx, "POST", t, "tok-1", &v), SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&v);
    expect_reject(&rx, "POST", t, "tok-2", SIGV4_VERIFY_BAD_TOKEN,
                  "UnrecognizedClientException", "security token");
    make_received(&rx, NULL, t);
    expect_reject(&rx, "POST", t, "tok-1", SIGV4_VERIFY_BAD_TOKEN,
                  "UnrecognizedClientException", "security token");

    /* Tampering: method, path, query, body, a signed header, the signature. */
    make_received(&rx, NULL, t);
    expect_reject(&rx, "PUT", t, NULL, SIGV4_VERIFY_MISMATCH, "InvalidSignatureException",
                  "does not match");
    rx.path = "/topics/a%2Fc";
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISMATCH, "InvalidSignatureException",
                  "does not match");
    make_received(&rx, NULL, t);
    rx.query = "qos=0";
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISMATCH, "InvalidSignatureException",
                  "does not match");
    make_received(&rx, NULL, t);
    rx.body = "{ }";
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISMATCH, "InvalidSignatureException",
                  "does not match");
    make_received(&rx, NULL, t);
    rx.h[1].value = "text/plain";
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISMATCH, "InvalidSignatureException",
                  "does not match");
    make_received(&rx, NULL, t);
    rx.h[2].value = "curl/8";    /* user-agent is not signed: changing it is fine */
    CHECK_INT_EQ(verify(&rx, "POST", t, NULL, &v), SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&v);
    char *sig = strstr(rx.authz, "Signature=") + 10;
    sig[0] = sig[0] == '0' ? '1' : '0';
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISMATCH, "InvalidSignatureException",
                  "does not match");

    /* Missing / malformed Authorization. */
    make_received(&rx, NULL, t);
    rx.h[3].name = "X-Other";
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISSING,
                  "MissingAuthenticationTokenException", "Missing Authentication Token");
    struct { const char *authz; enum sigv4_verify_status st; const char *reason; } bad[] = {
        {"", SIGV4_VERIFY_MALFORMED, "no algorithm"},
        {"AWS4-HMAC-SHA1 Credential=a/b/c/d/e", SIGV4_VERIFY_BAD_ALGORITHM, "algorithm"},
        {"AWS4-HMAC-SHA256", SIGV4_VERIFY_MALFORMED, "'Credential'"},
        {"AWS4-HMAC-SHA256 Credential=" EX_AKID "/20150830/eu-west-1/iotdata/aws4_request, "
         "SignedHeaders=host;x-amz-date", SIGV4_VERIFY_MALFORMED, "'Signature'"},
        {"AWS4-HMAC-SHA256 Credential=" EX_AKID "/20150830/eu-west-1/aws4_request, "
         "SignedHeaders=host, Signature=" "0000000000000000000000000000000000000000000000000000000000000000",
         SIGV4_VERIFY_MALFORMED, "Credential must be"},
        {"AWS4-HMAC-SHA256 Credential=" EX_AKID "/20150830/eu-west-1/iotdata/aws4_request, "
         "SignedHeaders=host, Signature=abc", SIGV4_VERIFY_MALFORMED, "64 lowercase"},
        {"AWS4-HMAC-SHA256 Credential=x/20150830/eu-west-1/iotdata/aws4_request, Bogus=1",
         SIGV4_VERIFY_MALFORMED, "unknown component"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_received(&rx, NULL, t);
        rx.h[3].value = bad[i].authz;
        expect_reject(&rx, "POST", t, NULL, bad[i].st, sigv4_verify_code(bad[i].st),
                      bad[i].reason);
    }

    /* Date: missing, malformed, skewed both ways (5 minutes), scope mismatch. */
    make_received(&rx, NULL, t);
    rx.h[4].name = "X-Not-Date";
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISSING_DATE,
                  "IncompleteSignatureException", "X-Amz-Date");
    make_received(&rx, NULL, t);
    rx.h[4].value = "2015-08-30T12:36:00Z";
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_BAD_DATE, "IncompleteSignatureException",
                  "ISO-8601");
    make_received(&rx, NULL, t);
    CHECK_INT_EQ(verify(&rx, "POST", t + 300, NULL, &v), SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&v);
    expect_reject(&rx, "POST", t + 301, NULL, SIGV4_VERIFY_DATE_SKEW,
                  "InvalidSignatureException", "Signature expired: 20150830T123600Z is now "
                  "earlier than 20150830T123601Z");
    expect_reject(&rx, "POST", t - 301, NULL, SIGV4_VERIFY_DATE_SKEW,
                  "InvalidSignatureException", "Signature not yet current");
    make_received(&rx, NULL, t);
    rx.h[4].value = "20150830T123700Z";      /* within skew, but the signature covers it */
    expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_MISMATCH, "InvalidSignatureException",
                  "does not match");
    make_received(&rx, NULL, t + 86400);     /* next day: scope date differs from header */
    rx.h[4].value = "20150830T235959Z";
    expect_reject(&rx, "POST", t + 40000, NULL, SIGV4_VERIFY_DATE_SKEW,
                  "InvalidSignatureException", "Signature");

    /* Scope: wrong region / service / terminator; unknown key. */
    const char *scopes[][2] = {
        {"/20150830/us-east-1/iotdata/aws4_request", "valid region"},
        {"/20150830/eu-west-1/iot/aws4_request", "correct service: 'iotdata'"},
        {"/20150830/eu-west-1/iotdata/aws5_request", "terminator"},
        {"/20150831/eu-west-1/iotdata/aws4_request", "Date in Credential scope"},
    };
    for (size_t i = 0; i < 4; i++) {
        char a[512];
        make_received(&rx, NULL, t);
        snprintf(a, sizeof a, "AWS4-HMAC-SHA256 Credential=%s%s, SignedHeaders=%s, "
                 "Signature=%s", EX_AKID, scopes[i][0], "content-type;host;x-amz-date",
                 strstr(rx.authz, "Signature=") + 10);
        rx.h[3].value = a;
        expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_BAD_SCOPE,
                      "InvalidSignatureException", scopes[i][1]);
    }
    {
        char a[512];
        make_received(&rx, NULL, t);
        snprintf(a, sizeof a, "%s", rx.authz);
        memcpy(strstr(a, EX_AKID), "AKIAZZZZZZZZZZZZZZZZ", 20);
        rx.h[3].value = a;
        expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_UNKNOWN_KEY,
                      "UnrecognizedClientException", "unknown access key id 'AKIAZZZZ");
    }

    /* Signed headers: host must be signed; a signed header must be present. */
    {
        char a[512];
        make_received(&rx, NULL, t);
        snprintf(a, sizeof a, "%s", rx.authz);
        char *sh = strstr(a, "content-type;host;x-amz-date");
        CHECK_REQUIRE(sh != NULL);
        memcpy(sh, "content-type;hxst", 17);
        rx.h[3].value = a;
        expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_BAD_SIGNED_HEADERS,
                      "IncompleteSignatureException", "'Host'");
        make_received(&rx, NULL, t);
        rx.h[1].name = "X-Content-Type";
        expect_reject(&rx, "POST", t, NULL, SIGV4_VERIFY_BAD_SIGNED_HEADERS,
                      "IncompleteSignatureException", "'content-type' is not present");
    }
}

/* A request signed with a normalized path (botocore's habit) verifies under
 * SIGV4_VERIFY_EITHER_PATH, and not without it. */
static void test_verify_either_path(void)
{
    struct sigv4_header h[4] = {{"Host", "h"}};
    struct sigv4_request req = {"GET", "/connections/..", "", h, 1, "", 0, NULL};
    struct sigv4_params p = {"eu-west-1", "iotdata", {EX_AKID, EX_SECRET, NULL}, 1000,
                             SIGV4_NORMALIZE_PATH};
    struct sigv4_result r;
    struct sigv4_verify_result v;
    struct keyring k = {NULL, NULL};
    CHECK_REQUIRE(sigv4_sign(&req, &p, &r) == 0);
    h[1] = (struct sigv4_header){"Authorization", r.authorization};
    h[2] = (struct sigv4_header){"X-Amz-Date", r.amz_date};
    req.nheaders = 3;
    struct sigv4_verify_params vp = {NULL, NULL, 1000, 0, lookup, &k, 0};
    CHECK_INT_EQ(sigv4_verify(&req, &vp, &v), SIGV4_VERIFY_MISMATCH);
    sigv4_verify_result_free(&v);
    vp.flags = SIGV4_VERIFY_EITHER_PATH;
    CHECK_INT_EQ(sigv4_verify(&req, &vp, &v), SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&v);
    sigv4_result_free(&r);
}

/* Signs POST /topics/t with body "{}" (extra headers first), as received by a server. */
static void sign_extra(struct received *rx, const struct sigv4_header *extra, size_t nextra,
                       const char *secret, const char *region, const char *payload_hash,
                       time_t t)
{
    struct sigv4_request req = {"POST", "/topics/t", "", rx->h, 0, "{}", 2, payload_hash};
    struct sigv4_params p = {region, "iotdata", {EX_AKID, secret, NULL}, t, 0};
    struct sigv4_result r;
    memset(rx, 0, sizeof *rx);
    rx->h[0] = (struct sigv4_header){"Host", "h"};
    if (nextra)
        memcpy(rx->h + 1, extra, nextra * sizeof *extra);
    req.nheaders = 1 + nextra;
    CHECK_REQUIRE(sigv4_sign(&req, &p, &r) == 0);
    rx->nh = req.nheaders;
    snprintf(rx->authz, sizeof rx->authz, "%s", r.authorization);
    snprintf(rx->date, sizeof rx->date, "%s", r.amz_date);
    rx->h[rx->nh++] = (struct sigv4_header){"Authorization", rx->authz};
    rx->h[rx->nh++] = (struct sigv4_header){"X-Amz-Date", rx->date};
    rx->path = "/topics/t";
    rx->query = "";
    rx->body = "{}";
    sigv4_result_free(&r);
}

static enum sigv4_verify_status verify_with(struct sigv4_verifier *v, const struct received *rx,
                                            const struct keyring *k, unsigned flags,
                                            time_t now, struct sigv4_verify_result *out)
{
    struct sigv4_request req = {"POST", rx->path, rx->query, rx->h, rx->nh, rx->body,
                                strlen(rx->body), NULL};
    struct sigv4_verify_params p = {NULL, "iotdata", now, 0, lookup, (void *)k, flags};
    enum sigv4_verify_status s = sigv4_verifier_verify(v, &req, &p, out);
    CHECK(strstr(out->message, EX_SECRET) == NULL);
    return s;
}

/* The cached signing key belongs to one secret and one scope. */
static void test_verifier_cache(void)
{
    const time_t t = 1440938160;
    const char *rotated = "rotatedSecretKey/EXAMPLE0000000000000000";
    struct sigv4_verifier *v = sigv4_verifier_new();
    struct received rx;
    struct sigv4_verify_result out;
    struct keyring k = {NULL, NULL};
    CHECK_REQUIRE(v != NULL);
    sign_extra(&rx, NULL, 0, EX_SECRET, "eu-west-1", NULL, t);
    for (int i = 0; i < 3; i++) {                  /* derived once, then from the cache */
        CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_OK);
        CHECK_STR_CONTAINS(out.string_to_sign, "20150830/eu-west-1/iotdata/aws4_request");
        sigv4_verify_result_free(&out);
    }
    k.secret = rotated;                            /* the key's secret changed */
    CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_MISMATCH);
    sigv4_verify_result_free(&out);
    sign_extra(&rx, NULL, 0, rotated, "eu-west-1", NULL, t);
    CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&out);
    k.secret = NULL;
    CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_MISMATCH);
    sigv4_verify_result_free(&out);

    /* More scopes than the cache holds, in turn, twice over; each one still verifies,
     * and a request signed for one region never passes under another's key. */
    char regions[SIGV4_VERIFIER_KEYS * 2][16];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < SIGV4_VERIFIER_KEYS * 2; i++) {
            snprintf(regions[i], sizeof regions[i], "xx-test-%d", i);
            sign_extra(&rx, NULL, 0, EX_SECRET, regions[i], NULL, t + i);
            CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_OK);
            sigv4_verify_result_free(&out);
            char *scope_region = strstr(rx.authz, regions[i]);
            CHECK_REQUIRE(scope_region != NULL);
            char *last = scope_region + strlen(regions[i]) - 1;
            *last = *last == '0' ? '1' : '0';   /* now names another cached region */
            CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_MISMATCH);
            sigv4_verify_result_free(&out);
        }
    sigv4_verifier_free(v);
    sigv4_verifier_free(NULL);
}

/* SIGV4_VERIFY_CONTENT_SHA256: X-Amz-Content-Sha256 must be the body's hash or
 * UNSIGNED-PAYLOAD. SIGV4_VERIFY_ANY_TOKEN: the security token is not checked. */
static void test_verify_flags(void)
{
    const time_t t = 1440938160;
    char hash[SIGV4_HASH_HEX_LEN + 1], upper[SIGV4_HASH_HEX_LEN + 1];
    struct sigv4_verifier *v = sigv4_verifier_new();
    struct received rx;
    struct sigv4_verify_result out;
    struct keyring k = {NULL, NULL};
    CHECK_REQUIRE(v != NULL);
    CHECK_REQUIRE(sigv4_payload_hash("{}", 2, hash) == 0);
    for (size_t i = 0; i <= SIGV4_HASH_HEX_LEN; i++)
        upper[i] = (char)((hash[i] >= 'a' && hash[i] <= 'f') ? hash[i] - 32 : hash[i]);

    struct sigv4_header right[] = {{"X-Amz-Content-Sha256", upper}};
    sign_extra(&rx, right, 1, EX_SECRET, "eu-west-1", NULL, t);
    CHECK_INT_EQ(verify_with(v, &rx, &k, SIGV4_VERIFY_CONTENT_SHA256, t, &out),
                 SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&out);

    struct sigv4_header wrong[] = {{"X-Amz-Content-Sha256", "0000000000000000000000000000"
                                                            "000000000000000000000000000000000000"}};
    sign_extra(&rx, wrong, 1, EX_SECRET, "eu-west-1", NULL, t);
    CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_OK);   /* not looked at */
    sigv4_verify_result_free(&out);
    CHECK_INT_EQ(verify_with(v, &rx, &k, SIGV4_VERIFY_CONTENT_SHA256, t, &out),
                 SIGV4_VERIFY_MISMATCH);
    CHECK_STR_EQ(out.code, "InvalidSignatureException");
    CHECK_STR_CONTAINS(out.message, "'x-amz-content-sha256' header does not match");
    sigv4_verify_result_free(&out);

    struct sigv4_header unsigned_payload[] = {{"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}};
    sign_extra(&rx, unsigned_payload, 1, EX_SECRET, "eu-west-1", "UNSIGNED-PAYLOAD", t);
    CHECK_INT_EQ(verify_with(v, &rx, &k, SIGV4_VERIFY_CONTENT_SHA256, t, &out),
                 SIGV4_VERIFY_OK);
    CHECK_STR_CONTAINS(out.canonical_request, "\nUNSIGNED-PAYLOAD");
    sigv4_verify_result_free(&out);
    CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_MISMATCH);
    sigv4_verify_result_free(&out);

    /* A token sent to a key that needs none, or a wrong one: only ANY_TOKEN accepts. */
    struct sigv4_header token[] = {{"X-Amz-Security-Token", "tok-1"}};
    sign_extra(&rx, token, 1, EX_SECRET, "eu-west-1", NULL, t);
    CHECK_INT_EQ(verify_with(v, &rx, &k, 0, t, &out), SIGV4_VERIFY_BAD_TOKEN);
    sigv4_verify_result_free(&out);
    CHECK_INT_EQ(verify_with(v, &rx, &k, SIGV4_VERIFY_ANY_TOKEN, t, &out), SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&out);
    k.token = "tok-2";
    CHECK_INT_EQ(verify_with(v, &rx, &k, SIGV4_VERIFY_ANY_TOKEN, t, &out), SIGV4_VERIFY_OK);
    sigv4_verify_result_free(&out);
    rx.h[1].value = "tok-3";                    /* still signed: tampering shows */
    CHECK_INT_EQ(verify_with(v, &rx, &k, SIGV4_VERIFY_ANY_TOKEN, t, &out),
                 SIGV4_VERIFY_MISMATCH);
    sigv4_verify_result_free(&out);
    sigv4_verifier_free(v);
}

/* One verifier, 600 requests in turn: each good one accepted with exactly the canonical
 * request the signer made, each tampered one rejected, across scopes and sizes. */
static void test_verifier_many(void)
{
    static struct big_request big;
    struct sigv4_verifier *v = sigv4_verifier_new();
    struct keyring k = {NULL, NULL};
    int accepted = 0, rejected = 0, same_creq = 0;
    CHECK_REQUIRE(v != NULL);
    make_big(&big);
    for (int i = 0; i < 600; i++) {
        const time_t t = 1440938160 + i * 3600;     /* 25 days: new keys as it goes */
        char region[16], topic[40];
        snprintf(region, sizeof region, "xx-test-%d", i % 5);   /* cached across days */
        snprintf(topic, sizeof topic, "/topics/t%d%s", i, i % 3 ? "" : "%2Fsub");
        int use_big = i % 5 == 0;
        struct sigv4_header h[52];
        size_t nh = use_big ? 41 : 2;
        if (use_big)
            memcpy(h, big.h, 41 * sizeof *h);
        else
            h[0] = (struct sigv4_header){"Host", "h"}, h[1] = (struct sigv4_header){"X-I", topic};
        struct sigv4_request req = {"POST", topic, use_big ? big.query : "qos=1", h, nh,
                                    "{}", 2, NULL};
        struct sigv4_params p = {region, "iotdata", {EX_AKID, EX_SECRET, NULL}, t, 0};
        struct sigv4_result r;
        CHECK_REQUIRE(sigv4_sign(&req, &p, &r) == 0);
        for (size_t j = 0; j < r.nadd; j++)
            h[nh++] = r.add[j];
        req.nheaders = nh;
        struct sigv4_verify_params vp = {region, "iotdata", t, 0, lookup, &k, 0};
        struct sigv4_verify_result out;
        if (sigv4_verifier_verify(v, &req, &vp, &out) == SIGV4_VERIFY_OK)
            accepted++;
        same_creq += out.canonical_request &&
                     strcmp(out.canonical_request, r.canonical_request) == 0 &&
                     strcmp(out.string_to_sign, r.string_to_sign) == 0;
        sigv4_verify_result_free(&out);
        req.body = i % 2 ? "{ }" : "[]";            /* tampered: another body */
        req.body_len = strlen(req.body);
        if (sigv4_verifier_verify(v, &req, &vp, &out) == SIGV4_VERIFY_MISMATCH)
            rejected++;
        sigv4_verify_result_free(&out);
        sigv4_result_free(&r);
    }
    CHECK_INT_EQ(accepted, 600);
    CHECK_INT_EQ(rejected, 600);
    CHECK_INT_EQ(same_creq, 600);
    sigv4_verifier_free(v);
}


int main(void)
{
    test_verify();
    test_verify_either_path();
    shared_verifier = sigv4_verifier_new();      /* the same answers from one verifier */
    CHECK_REQUIRE(shared_verifier != NULL);
    test_verify();
    sigv4_verifier_free(shared_verifier);
    shared_verifier = NULL;
    test_verifier_cache();
    test_verify_flags();
    test_verifier_many();
    return CHECK_SUMMARY();
}
