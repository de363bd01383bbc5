/*
 * fuzz_emulator_http.c — libFuzzer target for the emulator HTTP API's own parsers
 * (emulator/http/http_parse.c): percent-decoding, query splitting, base64, the
 * x-amz-mqtt5-user-properties JSON, topic and client-id rules, integers, booleans and
 * ListSubscriptions page tokens. HTTP framing itself is libevent's evhttp.
 *
 * Every input goes through every parser, and round trips are checked (base64 and page
 * tokens decode to what was encoded; a decoded percent-encoding re-encodes to a string
 * that decodes to the same bytes). Build (owner of fuzz/CMakeLists.txt: H1):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_DEFAULT_SOURCE \
 *     -I emulator/http -I emulator -I runtime fuzz/fuzz_emulator_http.c \
 *     emulator/http/http_parse.c runtime/buf.c -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static volatile size_t sink;

static void check(int cond)
{
    if (!cond)
        abort();
}

static void fuzz_percent(const char *s, size_t n)
{
    char *dec = malloc(n + 1);
    size_t len;
    if (dec && hp_percent_decode(s, n, dec, &len) == 0) {
        check(len <= n);
        struct buf enc = BUF_INIT;
        if (hp_uri_encode(&enc, dec, len, false) == 0) {
            char *again = malloc(enc.len + 1);
            size_t len2;
            check(again && hp_percent_decode(enc.data, enc.len, again, &len2) == 0);
            check(len2 == len && memcmp(again, dec, len) == 0);
            free(again);
        }
        buf_free(&enc);
    }
    free(dec);
}

static void fuzz_query(const char *s, size_t n)
{
    struct hp_query_param params[8];
    int count = hp_query_split(s, n, params, 8);
    for (int i = 0; i < count; i++) {
        check(params[i].key >= s && params[i].key + params[i].key_len <= s + n);
        sink += params[i].key_len + params[i].value_len;
    }
}

static void fuzz_base64(const char *s, size_t n)
{
    uint8_t *dec = malloc(n / 4 * 3 + 1);
    size_t len;
    if (dec && hp_base64_decode(s, n, dec, &len) == 0) {
        struct buf enc = BUF_INIT;
        check(hp_base64_encode(&enc, dec, len) == 0);
        check(enc.len == n && memcmp(enc.data, s, n) == 0);   /* canonical form only */
        buf_free(&enc);
    }
    free(dec);
    struct buf enc = BUF_INIT;
    if (hp_base64_encode(&enc, (const uint8_t *)s, n) == 0) {
        uint8_t *back = malloc(enc.len / 4 * 3 + 1);
        check(back && hp_base64_decode(enc.data, enc.len, back, &len) == 0);
        check(len == n && memcmp(back, s, n) == 0);
        free(back);
    }
    buf_free(&enc);
}

static void fuzz_user_properties(const char *s, size_t n)
{
    struct buf arena = BUF_INIT;
    struct hp_user_property props[16];
    const char *why = NULL;
    int count = hp_user_properties_parse(s, n, &arena, props, 16, &why);
    check(count >= 0 || why != NULL);
    for (int i = 0; i < count; i++) {
        check(props[i].key_off < arena.len && props[i].value_off < arena.len);
        sink += strlen(arena.data + props[i].key_off) + strlen(arena.data + props[i].value_off);
    }
    buf_free(&arena);
}

static void fuzz_rules(const char *s, size_t n)
{
    sink += hp_topic_problem(s, n) != NULL;
    sink += hp_client_id_problem(s, n) != NULL;
    sink += hp_utf8_valid(s, n);
    int64_t v;
    bool b;
    sink += (size_t)hp_parse_int(s, n, -1000, 1000, &v);
    sink += (size_t)hp_parse_bool(s, n, &b);
}

static void fuzz_token(const char *s, size_t n)
{
    static const uint8_t key[16] = {1, 2, 3};
    uint64_t offset;
    if (hp_page_token_decode(s, n, "client", key, &offset) == 0)
        sink += offset;
    struct buf tok = BUF_INIT;
    uint64_t want = n * 2654435761u;
    check(hp_page_token_encode(&tok, want, "client", key) == 0);
    check(hp_page_token_decode(tok.data, tok.len, "client", key, &offset) == 0 && offset == want);
    check(hp_page_token_decode(tok.data, tok.len, "other", key, &offset) != 0);
    buf_free(&tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    fuzz_percent(s, size);
    fuzz_query(s, size);
    fuzz_base64(s, size);
    fuzz_user_properties(s, size);
    fuzz_rules(s, size);
    fuzz_token(s, size);
    return 0;
}
