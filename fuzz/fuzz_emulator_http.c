/*
 * fuzz_emulator_http.c — libFuzzer target for what the emulator's HTTP API parses itself
 * (emulator/http/http_parse.c): query splitting, the x-amz-mqtt5-user-properties JSON
 * (runtime/json.h's parser plus the emulator's shape rules), topic and client-id rules,
 * integers, booleans, ListSubscriptions page tokens and ListRetainedMessages topic tokens; and the runtime decoders it
 * applies to what clients send (strict percent-decoding of labels and query values,
 * base64 of the MQTT 5 headers). HTTP framing (http_wire.c) has fuzz_emulator_http_wire.c.
 *
 * Every input goes through every parser, and results are checked: user properties are
 * NUL-free valid UTF-8 inside the arena, round trips hold (base64 and page tokens decode
 * to what was encoded; a strict percent-decoding re-encodes to a string that decodes to
 * the same bytes). Built by fuzz/CMakeLists.txt:
 *   CC=clang cmake -S . -B build-fuzz -DIOTLUA_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_emulator_http
 *   build-fuzz/fuzz_emulator_http -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "http_parse.h"

static volatile size_t sink;

static void check(int cond)
{
    if (!cond)
        abort();
}

/* As decode_label and query values: strict, into an array of n + 1 bytes. */
static void fuzz_percent(const char *s, size_t n)
{
    char *dec = malloc(n + 1);
    size_t len;
    check(dec != NULL);
    if (enc_uri_decode_to(dec, s, n, ENC_DECODE_STRICT, &len) == 0) {
        check(len <= n && dec[len] == '\0');
        struct buf enc = BUF_INIT;
        check(enc_uri(&enc, dec, len, 0) == 0);
        char *again = malloc(enc.len + 1);
        size_t len2 = 0;
        check(again && enc_uri_decode_to(again, buf_cstr(&enc), enc.len, ENC_DECODE_STRICT,
                                         &len2) == 0);
        check(len2 == len && memcmp(again, dec, len) == 0);
        free(again);
        buf_free(&enc);
    } else {
        check(memchr(s, '%', n) != NULL);       /* only a bad escape fails */
    }
    free(dec);
}

static void fuzz_query(const char *s, size_t n)
{
    struct hp_query_param params[8];
    int count = hp_query_split(s, n, params, 8);
    check(count >= -1 && count <= 8);
    for (int i = 0; i < count; i++) {
        check(params[i].key >= s && params[i].key + params[i].key_len <= s + n);
        check(params[i].value_len == 0 ||
              (params[i].value >= s && params[i].value + params[i].value_len <= s + n));
        sink += params[i].key_len + params[i].value_len;
    }
}

/* As the user-properties and correlation-data headers: strict base64. */
static void fuzz_base64(const char *s, size_t n)
{
    struct buf dec = BUF_INIT, enc = BUF_INIT;
    if (enc_base64_decode(&dec, s, n) == 0) {
        check(enc_base64(&enc, dec.data ? dec.data : "", dec.len) == 0);
        check(enc.len == n && memcmp(buf_cstr(&enc), s, n) == 0);   /* canonical form only */
    } else {
        check(dec.len == 0);
    }
    buf_reset(&enc);
    buf_reset(&dec);
    check(enc_base64(&enc, s, n) == 0);
    check(enc_base64_decode(&dec, enc.data, enc.len) == 0);
    check(dec.len == n && memcmp(buf_cstr(&dec), s, n) == 0);
    buf_free(&dec);
    buf_free(&enc);
}

static void fuzz_user_properties(const char *s, size_t n)
{
    struct buf arena = BUF_INIT;
    struct hp_user_property props[16];
    char why[256] = "";
    int count = hp_user_properties_parse(s, n, &arena, props, 16, why, sizeof why);
    check(count >= -1 && count <= 16);
    check(count >= 0 || why[0] != '\0');
    for (int i = 0; i < count; i++) {
        check(props[i].key_off < arena.len && props[i].value_off < arena.len);
        const char *k = arena.data + props[i].key_off, *v = arena.data + props[i].value_off;
        check(enc_utf8_valid(k, strlen(k)) && enc_utf8_valid(v, strlen(v)));
        sink += strlen(k) + strlen(v);
    }
    buf_free(&arena);
}

static void fuzz_rules(const char *s, size_t n)
{
    const char *topic = hp_topic_problem(s, n), *client = hp_client_id_problem(s, n);
    check(topic != NULL || (n >= 1 && n <= 256 && enc_utf8_valid_text(s, n)));
    check(client != NULL || (n >= 1 && s[0] != '$' && enc_utf8_valid_text(s, n)));
    sink += (topic != NULL) + (client != NULL);
    int64_t v;
    bool b;
    if (hp_parse_int(s, n, -1000, 1000, &v) == 0)
        check(v >= -1000 && v <= 1000);
    if (hp_parse_bool(s, n, &b) == 0)
        check(n == 4 || n == 5);
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

/* Topic tokens: any input decodes or not without harm; an input used as a topic makes a
 * token that decodes back to it and fails under another key. */
static void fuzz_topic_token(const char *s, size_t n)
{
    static const uint8_t key[16] = {1, 2, 3}, other[16] = {4};
    struct buf topic = BUF_INIT, tok = BUF_INIT;
    if (hp_topic_token_decode(s, n, key, &topic) == 0)
        sink += topic.len;
    buf_reset(&topic);
    if (n > 0 && n <= HP_TOPIC_TOKEN_MAX) {
        check(hp_topic_token_encode(&tok, s, n, key) == 0);
        check(hp_topic_token_decode(tok.data, tok.len, key, &topic) == 0 && topic.len == n &&
              memcmp(topic.data, s, n) == 0);
        buf_reset(&topic);
        check(hp_topic_token_decode(tok.data, tok.len, other, &topic) != 0);
    }
    buf_free(&topic);
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
    fuzz_topic_token(s, size);
    return 0;
}
