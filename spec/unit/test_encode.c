/*
 * test_encode.c — percent-encoding, hex, base64, SHA-256/HMAC (known vectors: FIPS 180-2
 * and RFC 4231), the reusable hasher and prepared HMAC keys (the same vectors through one
 * hasher, interleaved), constant-time comparison, UTF-8 validation and counting.
 */
#include <string.h>

#include "check.h"
#include "encode.h"

static void check_uri(const char *in, unsigned flags, const char *want)
{
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(enc_uri_str(&b, in, flags), 0);
    CHECK_STR_EQ(buf_cstr(&b), want);
    buf_free(&b);
}

static void test_percent(void)
{
    check_uri("", 0, "");
    check_uri("AZaz09-._~", 0, "AZaz09-._~");
    check_uri("a/b c/#", 0, "a%2Fb%20c%2F%23");
    check_uri("a/b c/#", ENC_KEEP_SLASH, "a/b%20c/%23");
    check_uri("$aws/things/x", 0, "%24aws%2Fthings%2Fx");
    check_uri("%+=&?", 0, "%25%2B%3D%26%3F");
    check_uri("\xe1\x88\xb4", 0, "%E1%88%B4");                 /* uppercase hex */
    check_uri("\x01\x7f\xff", 0, "%01%7F%FF");
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(enc_uri(&b, "a\0b", 3, 0), 0);                /* NUL inside */
    CHECK_STR_EQ(buf_cstr(&b), "a%00b");
    buf_reset(&b);
    CHECK_INT_EQ(enc_uri_path_canonical(&b, "/t/a%2Fb", 8), 0);
    CHECK_STR_EQ(buf_cstr(&b), "/t/a%252Fb");
    buf_free(&b);
    for (int c = 0; c < 256; c++) {
        int want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~';
        CHECK_INT_EQ(enc_is_unreserved((unsigned char)c), want);
    }
}

static void check_decode(const char *in, const char *want, size_t want_len)
{
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(enc_uri_decode(&b, in, strlen(in)), 0);
    CHECK_MEM_EQ(b.data ? b.data : "", b.len, want, want_len);
    buf_free(&b);
}

static void test_decode(void)
{
    check_decode("a%2Fb", "a/b", 3);
    check_decode("a%2fb", "a/b", 3);
    check_decode("a+b", "a+b", 3);            /* '+' stays */
    check_decode("100%", "100%", 4);          /* stray '%' kept */
    check_decode("%4", "%4", 2);
    check_decode("%zz", "%zz", 3);
    check_decode("%00", "\0", 1);
    check_decode("%E1%88%B4", "\xe1\x88\xb4", 3);
    check_decode("", "", 0);
}

/* enc_uri_decode_to: the same decoding into a caller's array; strict mode rejects a
 * '%' that does not start an escape (the emulator's path labels and query values). */
static void check_decode_to(const char *in, unsigned flags, int want_rc, const char *want,
                            size_t want_len)
{
    char dst[32];
    size_t len = 99;
    memset(dst, 'x', sizeof dst);
    CHECK_INT_EQ(enc_uri_decode_to(dst, in, strlen(in), flags, &len), want_rc);
    if (want_rc == 0) {
        CHECK_MEM_EQ(dst, len, want, want_len);
        CHECK_INT_EQ(dst[len], '\0');
    }
}

static void test_decode_to(void)
{
    check_decode_to("a%2Fb%2f", 0, 0, "a/b/", 4);
    check_decode_to("a%2Fb%2f", ENC_DECODE_STRICT, 0, "a/b/", 4);
    check_decode_to("a+b~", ENC_DECODE_STRICT, 0, "a+b~", 4);
    check_decode_to("%00x", ENC_DECODE_STRICT, 0, "\0x", 2);
    check_decode_to("", ENC_DECODE_STRICT, 0, "", 0);
    check_decode_to("100%", 0, 0, "100%", 4);                /* lenient: kept */
    check_decode_to("%zz", 0, 0, "%zz", 3);
    const char *bad[] = {"100%", "%", "%4", "a%4", "%zz", "%g0", "%0g", "x%%41"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_decode_to(bad[i], ENC_DECODE_STRICT, -1, NULL, 0);
}

static void test_hex(void)
{
    char out[9];
    struct buf b = BUF_INIT;
    enc_hex_to(out, "\x00\x01\xab\xff", 4);
    CHECK_STR_EQ(out, "0001abff");
    CHECK_INT_EQ(enc_hex_decode(&b, "0001ABff", 8), 0);
    CHECK_MEM_EQ(b.data, b.len, "\x00\x01\xab\xff", 4);
    buf_reset(&b);
    CHECK_INT_EQ(enc_hex_decode(&b, "abc", 3), -1);
    CHECK_INT_EQ(enc_hex_decode(&b, "zz", 2), -1);
    CHECK_INT_EQ(b.len, 0);
    CHECK_INT_EQ(enc_hex(&b, "\x12\x34", 2), 0);
    CHECK_STR_EQ(buf_cstr(&b), "1234");
    buf_free(&b);
}

struct b64_case {
    const char *raw;
    const char *enc;
};

static void test_base64(void)
{
    /* RFC 4648 section 10 vectors. */
    static const struct b64_case cases[] = {{"", ""},           {"f", "Zg=="},
                                            {"fo", "Zm8="},     {"foo", "Zm9v"},
                                            {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                            {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf e = BUF_INIT, d = BUF_INIT;
        CHECK_INT_EQ(enc_base64(&e, cases[i].raw, strlen(cases[i].raw)), 0);
        CHECK_STR_EQ(buf_cstr(&e), cases[i].enc);
        CHECK_INT_EQ(enc_base64_decode(&d, cases[i].enc, strlen(cases[i].enc)), 0);
        CHECK_MEM_EQ(d.data ? d.data : "", d.len, cases[i].raw, strlen(cases[i].raw));
        buf_free(&e);
        buf_free(&d);
    }
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(enc_base64(&b, "\xff\xfe\x00", 3), 0);
    CHECK_STR_EQ(buf_cstr(&b), "//4A");
    buf_free(&b);
    /* userProperties header of the wire rules: base64 of compact JSON. */
    CHECK_INT_EQ(enc_base64(&b, "[{\"a\":\"b\"}]", 11), 0);
    CHECK_STR_EQ(buf_cstr(&b), "W3siYSI6ImIifV0=");
    buf_free(&b);
    const char *bad[] = {"Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zg==Zg==", "Zm 9", "Zm9v\n",
                         "=Zm9", "Zm-v", NULL};
    for (int i = 0; bad[i]; i++) {
        CHECK_INT_EQ(enc_base64_decode(&b, bad[i], strlen(bad[i])), -1);
        CHECK_INT_EQ(b.len, 0);
    }
    buf_free(&b);
}

static void test_digests(void)
{
    char hex[65];
    unsigned char mac[32];
    CHECK_INT_EQ(enc_sha256_hex("", 0, hex), 0);
    CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_INT_EQ(enc_sha256_hex(NULL, 0, hex), 0);
    CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_INT_EQ(enc_sha256_hex("abc", 3, hex), 0);
    CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* Incremental equals one-shot. */
    struct enc_sha256_ctx ctx;
    unsigned char md[32];
    CHECK_INT_EQ(enc_sha256_init(&ctx), 0);
    CHECK_INT_EQ(enc_sha256_update(&ctx, "a", 1), 0);
    CHECK_INT_EQ(enc_sha256_update(&ctx, "", 0), 0);
    CHECK_INT_EQ(enc_sha256_update(&ctx, "bc", 2), 0);
    CHECK_INT_EQ(enc_sha256_final(&ctx, md), 0);
    enc_hex_to(hex, md, 32);
    CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(ctx.md_ctx == NULL);
    CHECK_INT_EQ(enc_sha256_update(&ctx, "x", 1), -1);      /* finished: refused */
    enc_sha256_abort(&ctx);                                 /* safe again */

    /* RFC 4231 test case 2. */
    CHECK_INT_EQ(enc_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac), 0);
    enc_hex_to(hex, mac, 32);
    CHECK_STR_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* RFC 4231 HMAC-SHA256 cases 1-4, 6 and 7 (6 and 7 have a key longer than a block). */
struct hmac_case {
    unsigned char key[131];
    size_t key_len;
    const char *data;
    size_t data_len;
    const char *mac;
};

static void hmac_cases(struct hmac_case *c)
{
    static char dd[50], cd[50];
    memset(dd, 0xdd, sizeof dd);
    memset(cd, 0xcd, sizeof cd);
    memset(c, 0, 6 * sizeof *c);
    memset(c[0].key, 0x0b, c[0].key_len = 20);
    c[0].data = "Hi There";
    c[0].mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    memcpy(c[1].key, "Jefe", c[1].key_len = 4);
    c[1].data = "what do ya want for nothing?";
    c[1].mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    memset(c[2].key, 0xaa, c[2].key_len = 20);
    c[2].data = dd;
    c[2].data_len = sizeof dd;
    c[2].mac = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
    for (size_t i = 0; i < 25; i++)
        c[3].key[i] = (unsigned char)(i + 1);
    c[3].key_len = 25;
    c[3].data = cd;
    c[3].data_len = sizeof cd;
    c[3].mac = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
    memset(c[4].key, 0xaa, c[4].key_len = 131);
    c[4].data = "Test Using Larger Than Block-Size Key - Hash Key First";
    c[4].mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
    memset(c[5].key, 0xaa, c[5].key_len = 131);
    c[5].data = "This is a test using a larger than block-size key and a larger than "
                "block-size data. The key needs to be hashed before being used by the HMAC "
                "algorithm.";
    c[5].mac = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";
    for (int i = 0; i < 6; i++)
        if (!c[i].data_len)
            c[i].data_len = strlen(c[i].data);
}

/* One hasher (and prepared keys) reused across inputs gives each its own answer, and
 * keys made on one hasher work with another. */
static void hasher_cases(struct enc_hasher *h, struct enc_hasher *other)
{
    struct hmac_case c[6];
    unsigned char mac[32];
    char hex[65];
    for (int round = 0; round < 2; round++) {
        CHECK_INT_EQ(enc_hasher_sha256_hex(h, "abc", 3, hex), 0);
        CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        CHECK_INT_EQ(enc_hasher_sha256_hex(h, NULL, 0, hex), 0);
        CHECK_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        CHECK_INT_EQ(enc_hasher_sha256_hex(
                         h, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex),
                     0);                                    /* two blocks */
        CHECK_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    hmac_cases(c);
    struct enc_hmac_key *k[6];
    for (int i = 0; i < 6; i++) {
        CHECK_INT_EQ(enc_hasher_hmac(h, c[i].key, c[i].key_len, c[i].data, c[i].data_len, mac),
                     0);
        enc_hex_to(hex, mac, 32);
        CHECK_STR_EQ(hex, c[i].mac);
        CHECK_INT_EQ(enc_hmac_sha256(c[i].key, c[i].key_len, c[i].data, c[i].data_len, mac), 0);
        enc_hex_to(hex, mac, 32);
        CHECK_STR_EQ(hex, c[i].mac);
        k[i] = enc_hmac_key_new(h, c[i].key, c[i].key_len);
        CHECK_REQUIRE(k[i] != NULL);
    }
    /* prepared keys, interleaved and each used twice: the states are copied, not used up */
    for (int round = 0; round < 2; round++)
        for (int i = 5; i >= 0; i--) {
            CHECK_INT_EQ(enc_hasher_hmac_with(round ? other : h, k[i], c[i].data,
                                              c[i].data_len, mac), 0);
            enc_hex_to(hex, mac, 32);
            CHECK_STR_EQ(hex, c[i].mac);
            CHECK_INT_EQ(enc_hasher_sha256_hex(h, "abc", 3, hex), 0);   /* in between */
            CHECK_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        }
    CHECK_INT_EQ(enc_hasher_hmac_with(h, k[1], NULL, 0, mac), 0);       /* empty message */
    unsigned char want[32];
    CHECK_INT_EQ(enc_hmac_sha256("Jefe", 4, "", 0, want), 0);
    CHECK(memcmp(mac, want, 32) == 0);
    for (int i = 0; i < 6; i++)
        enc_hmac_key_free(k[i]);
}

static void test_hasher(void)
{
    struct enc_hasher *h = enc_hasher_new(), *other = enc_hasher_new();
    CHECK_REQUIRE(h != NULL && other != NULL);
    hasher_cases(h, other);
    hasher_cases(other, h);
    enc_hmac_key_free(NULL);
    enc_hasher_free(h);
    enc_hasher_free(other);
    enc_hasher_free(NULL);
}

static void test_uri_to(void)
{
    char dst[32];
    memset(dst, 'Z', sizeof dst);
    CHECK_INT_EQ(enc_uri_to(dst, "a/b c~", 6, ENC_KEEP_SLASH), 8);
    CHECK_MEM_EQ(dst, 9, "a/b%20c~Z", 9);                      /* no NUL written */
    CHECK_INT_EQ(enc_uri_to(dst, "a/\xff", 3, 0), 7);
    CHECK_MEM_EQ(dst, 7, "a%2F%FF", 7);
    CHECK_INT_EQ(enc_uri_to(dst, "", 0, 0), 0);
    for (int c = 0; c < 256; c++)
        CHECK_INT_EQ(enc_is_unreserved((unsigned char)c),
                     (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                         c == '-' || c == '.' || c == '_' || c == '~');
}

static void test_ct(void)
{
    CHECK(enc_ct_equal("abc", "abc", 3));
    CHECK(!enc_ct_equal("abc", "abd", 3));
    CHECK(enc_ct_equal("", "", 0));
    CHECK(enc_ct_streq("secret", "secret"));
    CHECK(!enc_ct_streq("secret", "secreT"));
    CHECK(!enc_ct_streq("secret", "secret2"));
    CHECK(!enc_ct_streq("secret2", "secret"));
    CHECK(!enc_ct_streq("", "x"));
    CHECK(enc_ct_streq("", ""));
    CHECK(!enc_ct_streq(NULL, "x"));
    CHECK(!enc_ct_streq(NULL, NULL));
}

static void test_utf8(void)
{
    struct { const char *s; size_t n; int ok; } cases[] = {
        {"", 0, 1}, {"ascii", 5, 1}, {"\xc3\xa9", 2, 1}, {"\xe2\x82\xac", 3, 1},
        {"\xf0\x9f\x98\x80", 4, 1}, {"\xf4\x8f\xbf\xbf", 4, 1},
        {"\xc3", 1, 0},                 /* truncated */
        {"\xc0\xaf", 2, 0},             /* overlong */
        {"\xe0\x80\xaf", 3, 0},         /* overlong */
        {"\xed\xa0\x80", 3, 0},         /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0},     /* > U+10FFFF */
        {"\xff", 1, 0}, {"\x80", 1, 0}, {"a\xe2\x82", 3, 0},
        {"a\0b", 3, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_INT_EQ(enc_utf8_valid(cases[i].s, cases[i].n), cases[i].ok);
    CHECK_INT_EQ(enc_utf8_seq_len("\xe2\x82\xac", 3), 3);
    CHECK_INT_EQ(enc_utf8_seq_len("\xe2\x82\xac", 2), 0);
    CHECK_INT_EQ(enc_utf8_seq_len("", 0), 0);
    /* text: well-formed and no NUL anywhere */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_INT_EQ(enc_utf8_valid_text(cases[i].s, cases[i].n),
                     cases[i].ok && !memchr(cases[i].s, 0, cases[i].n));
    CHECK_INT_EQ(enc_utf8_valid_text("a\0b", 3), 0);
    CHECK_INT_EQ(enc_utf8_valid_text("\0", 1), 0);
    CHECK_INT_EQ(enc_utf8_valid_text(NULL, 0), 1);
    CHECK_INT_EQ(enc_utf8_valid_text("\xc3\xa9\xf0\x9f\x98\x80", 6), 1);
    /* code points */
    CHECK_INT_EQ(enc_utf8_count("", 0), 0);
    CHECK_INT_EQ(enc_utf8_count("abc", 3), 3);
    CHECK_INT_EQ(enc_utf8_count("\xc3\xa9t\xc3\xa9", 5), 3);
    CHECK_INT_EQ(enc_utf8_count("\xe2\x82\xac\xf0\x9f\x98\x80", 7), 2);
}

int main(void)
{
    test_percent();
    test_decode();
    test_decode_to();
    test_hex();
    test_base64();
    test_digests();
    test_hasher();
    test_uri_to();
    test_ct();
    test_utf8();
    return CHECK_SUMMARY();
}
