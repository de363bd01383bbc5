/* http_parse.c — parsers of the data-plane HTTP API that are its own; see http_parse.h. */
#include "http_parse.h"

#include <stdio.h>
#include <string.h>

#include "encode.h"
#include "json.h"

/* ---------------------------------------------------------------- query */

int hp_query_split(const char *q, size_t n, struct hp_query_param *out, int max)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && q[end] != '&')
            end++;
        if (end > i) {
            if (count == max)
                return -1;
            const char *eq = memchr(q + i, '=', end - i);
            struct hp_query_param *p = &out[count++];
            p->key = q + i;
            p->key_len = eq ? (size_t)(eq - (q + i)) : end - i;
            p->value = eq ? eq + 1 : "";
            p->value_len = eq ? (size_t)(q + end - (eq + 1)) : 0;
        }
        i = end + 1;
    }
    return count;
}

/* ---------------------------------------------------------------- user properties JSON */

/* Copies s[0..n) and a NUL into the arena; *off_out is where it starts. */
static int arena_string(struct buf *arena, const char *s, size_t n, size_t *off_out)
{
    *off_out = arena->len;
    return buf_append(arena, s, n) == 0 && buf_append_char(arena, '\0') == 0 ? 0 : -1;
}

/* The members of one {"k":"v",...} object, appended to props. NULL, or the reason. */
static const char *object_properties(const struct json_value *obj, struct buf *arena,
                                     struct hp_user_property *props, int max, int *count)
{
    if (obj->type != JSON_OBJECT)
        return "expected an object";
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        const struct json_member *m = &obj->u.obj.members[i];
        if (*count == max)
            return "too many user properties";
        if (m->value.type != JSON_STRING)
            return "user property values must be strings";
        if (!enc_utf8_valid_text(m->key, m->key_len) ||
            !enc_utf8_valid_text(m->value.u.str.ptr, m->value.u.str.len))
            return "a key or value contains U+0000";
        struct hp_user_property *up = &props[*count];
        if (arena_string(arena, m->key, m->key_len, &up->key_off) != 0 ||
            arena_string(arena, m->value.u.str.ptr, m->value.u.str.len, &up->value_off) != 0)
            return "out of memory";
        (*count)++;
    }
    return NULL;
}

int hp_user_properties_parse(const char *json, size_t n, struct buf *arena,
                             struct hp_user_property *props_out, int max, char *why_out,
                             size_t why_len)
{
    struct json_value *root = NULL;
    struct json_error err;
    const char *why = NULL;
    int count = 0;
    if (json_parse(json, n, NULL, &root, &err) != 0) {
        snprintf(why_out, why_len, "not valid JSON: %s at byte %zu", err.message, err.offset);
        return -1;
    }
    if (root->type != JSON_ARRAY)
        why = "expected a JSON array of objects";
    for (size_t i = 0; !why && i < root->u.arr.n; i++)
        why = object_properties(&root->u.arr.items[i], arena, props_out, max, &count);
    json_free(root);
    if (why) {
        snprintf(why_out, why_len, "%s", why);
        return -1;
    }
    return count;
}

/* ---------------------------------------------------------------- AWS IoT rules */

const char *hp_topic_problem(const char *topic, size_t n)
{
    if (n == 0)
        return "the topic is empty";
    if (n > 256)
        return "the topic is longer than 256 bytes";
    if (!enc_utf8_valid_text(topic, n))
        return "the topic is not valid UTF-8";
    if (memchr(topic, '+', n) || memchr(topic, '#', n))
        return "the topic contains a wildcard ('+' or '#')";
    size_t start = 0;
    static const char rules[] = "$aws/rules/";
    if (n > sizeof rules - 1 && memcmp(topic, rules, sizeof rules - 1) == 0) {
        const char *slash = memchr(topic + sizeof rules - 1, '/', n - (sizeof rules - 1));
        if (slash)
            start = (size_t)(slash - topic) + 1;
    }
    int slashes = 0;
    for (size_t i = start; i < n; i++)
        slashes += topic[i] == '/';
    if (slashes > 7)
        return "the topic has more than 7 forward slashes";
    return NULL;
}

const char *hp_client_id_problem(const char *client_id, size_t n)
{
    if (n == 0)
        return "clientId is empty";
    if (!enc_utf8_valid_text(client_id, n))
        return "clientId is not valid UTF-8";
    if (enc_utf8_count(client_id, n) > 128)
        return "clientId is longer than 128 characters";
    if (client_id[0] == '$')
        return "clientId must not start with '$'";
    return NULL;
}

int hp_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n || n - i > 18)
        return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int hp_parse_bool(const char *s, size_t n, bool *out)
{
    if (n == 4 && memcmp(s, "true", 4) == 0)
        *out = true;
    else if (n == 5 && memcmp(s, "false", 5) == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- page tokens */

/* Token text: "v1." + 16 hex digits of the offset + 16 hex digits of a MAC (the first 8
 * bytes of HMAC-SHA256 over the big-endian offset and the client id). */
static int page_mac(uint64_t offset, const char *client_id, const uint8_t key[16],
                    uint8_t mac_out[8])
{
    uint8_t msg[8];
    unsigned char full[ENC_SHA256_LEN] = {0};
    for (int k = 0; k < 8; k++)
        msg[k] = (uint8_t)(offset >> (56 - 8 * k));
    struct buf data = BUF_INIT;
    int rc = buf_append(&data, msg, 8) == 0 && buf_append_str(&data, client_id) == 0 &&
                     enc_hmac_sha256(key, 16, data.data, data.len, full) == 0
                 ? 0
                 : -1;
    buf_free(&data);
    memcpy(mac_out, full, 8);
    return rc;
}

int hp_page_token_encode(struct buf *out, uint64_t offset, const char *client_id,
                         const uint8_t key[16])
{
    uint8_t bytes[16];
    for (int k = 0; k < 8; k++)
        bytes[k] = (uint8_t)(offset >> (56 - 8 * k));
    if (page_mac(offset, client_id, key, bytes + 8) != 0)
        return -1;
    return buf_append_str(out, "v1.") == 0 && enc_hex(out, bytes, sizeof bytes) == 0 ? 0 : -1;
}

int hp_page_token_decode(const char *token, size_t n, const char *client_id,
                         const uint8_t key[16], uint64_t *offset_out)
{
    struct buf bytes = BUF_INIT;
    uint8_t mac[8];
    uint64_t offset = 0;
    int rc = -1;
    if (n != 35 || memcmp(token, "v1.", 3) != 0 || enc_hex_decode(&bytes, token + 3, 32) != 0)
        goto fail;
    for (int k = 0; k < 8; k++)
        offset = offset << 8 | (uint8_t)bytes.data[k];
    if (page_mac(offset, client_id, key, mac) != 0 || !enc_ct_equal(mac, bytes.data + 8, 8))
        goto fail;
    *offset_out = offset;
    rc = 0;
fail:
    buf_free(&bytes);
    return rc;
}

/* Topic tokens: "t1." + the topic in hex + "." + 16 hex digits of a MAC (the first 8
 * bytes of HMAC-SHA256 over "retained:" and the topic). */
static int topic_mac(const char *topic, size_t n, const uint8_t key[16], uint8_t mac_out[8])
{
    unsigned char full[ENC_SHA256_LEN] = {0};
    struct buf data = BUF_INIT;
    int rc = buf_append_str(&data, "retained:") == 0 && buf_append(&data, topic, n) == 0 &&
                     enc_hmac_sha256(key, 16, data.data, data.len, full) == 0
                 ? 0
                 : -1;
    buf_free(&data);
    memcpy(mac_out, full, 8);
    return rc;
}

int hp_topic_token_encode(struct buf *out, const char *topic, size_t n, const uint8_t key[16])
{
    uint8_t mac[8];
    if (n > HP_TOPIC_TOKEN_MAX || topic_mac(topic, n, key, mac) != 0)
        return -1;
    return buf_append_str(out, "t1.") == 0 && enc_hex(out, topic, n) == 0 &&
                   buf_append_char(out, '.') == 0 && enc_hex(out, mac, sizeof mac) == 0
               ? 0
               : -1;
}

int hp_topic_token_decode(const char *token, size_t n, const uint8_t key[16],
                          struct buf *topic_out)
{
    struct buf raw = BUF_INIT;
    uint8_t want[8];
    int rc = -1;
    /* "t1." + at least one topic byte + "." + 16 digits */
    if (n < 3 + 2 + 1 + 16 || n > 3 + 2 * HP_TOPIC_TOKEN_MAX + 1 + 16 ||
        memcmp(token, "t1.", 3) != 0 || token[n - 17] != '.')
        goto fail;
    size_t hex_len = n - 3 - 17;
    if (enc_hex_decode(&raw, token + 3, hex_len) != 0 ||
        enc_hex_decode(&raw, token + n - 16, 16) != 0 || raw.len != hex_len / 2 + 8)
        goto fail;
    size_t topic_len = raw.len - 8;
    if (topic_mac(raw.data, topic_len, key, want) != 0 ||
        !enc_ct_equal(want, raw.data + topic_len, 8))
        goto fail;
    rc = buf_append(topic_out, raw.data, topic_len);
fail:
    buf_free(&raw);
    return rc;
}
