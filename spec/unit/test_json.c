/*
 * test_json.c — the strict JSON parser and the writer (runtime/json.c): tables of valid
 * and invalid documents with the error offset, numbers (int64 bounds, doubles, huge),
 * strings (escapes, surrogates, bad UTF-8), nesting limits, truncation at every byte,
 * the size limit, and writer output / round trips.
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

static struct json_value *parse_ok(const char *text)
{
    struct json_value *v = NULL;
    struct json_error e;
    int rc = json_parse(text, strlen(text), NULL, &v, &e);
    CHECK_INT_EQ(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  input %s: %s at %zu\n", text, e.message, e.offset);
    return v;
}

/* Parses, writes back compactly, compares. */
static void round_trip(const char *text, const char *want)
{
    struct json_value *v = parse_ok(text);
    struct buf b = BUF_INIT;
    struct json_writer w;
    if (!v)
        return;
    jw_init(&w, &b);
    jw_value(&w, v);
    CHECK_INT_EQ(jw_finish(&w), 0);
    CHECK_STR_EQ(buf_cstr(&b), want);
    buf_free(&b);
    json_free(v);
}

static void test_valid(void)
{
    round_trip("null", "null");
    round_trip(" true ", "true");
    round_trip("\t\r\nfalse\n", "false");
    round_trip("0", "0");
    round_trip("-0", "0");
    round_trip("123", "123");
    round_trip("-0e0", "-0.0");                 /* found by fuzz_json: stays a double */
    round_trip("1E2", "100.0");
    round_trip("[]", "[]");
    round_trip("{}", "{}");
    round_trip("[1, [2, [3]], {\"a\": {}}]", "[1,[2,[3]],{\"a\":{}}]");
    round_trip("{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}");             /* order kept */
    round_trip("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"");
    round_trip("\"\\u0041\\u00e9\\u20AC\"", "\"A\xc3\xa9\xe2\x82\xac\"");
    round_trip("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");         /* surrogate pair */
    round_trip("\"\\u0000x\"", "\"\\u0000x\"");                       /* NUL kept */
    round_trip("\"\xe6\x97\xa5\xe6\x9c\xac\"", "\"\xe6\x97\xa5\xe6\x9c\xac\"");
    round_trip("\"\\u001f\"", "\"\\u001f\"");
    round_trip("[{\"userProperties\":[{\"k\":\"v\"}]}]",
               "[{\"userProperties\":[{\"k\":\"v\"}]}]");
}

static void test_numbers(void)
{
    struct json_value *v;
    v = parse_ok("9223372036854775807");
    CHECK(v && v->type == JSON_INT && v->u.i == INT64_MAX);
    json_free(v);
    v = parse_ok("-9223372036854775808");
    CHECK(v && v->type == JSON_INT && v->u.i == INT64_MIN);
    json_free(v);
    v = parse_ok("9223372036854775808");                  /* one more: a double */
    CHECK(v && v->type == JSON_DOUBLE && v->u.d == 9223372036854775808.0);
    json_free(v);
    v = parse_ok("-9223372036854775809");
    CHECK(v && v->type == JSON_DOUBLE);
    json_free(v);
    v = parse_ok("1.5");
    CHECK(v && v->type == JSON_DOUBLE && v->u.d == 1.5);
    json_free(v);
    v = parse_ok("1e2");
    CHECK(v && v->type == JSON_DOUBLE && v->u.d == 100.0);
    json_free(v);
    v = parse_ok("-2.5E-3");
    CHECK(v && v->type == JSON_DOUBLE && v->u.d == -0.0025);
    json_free(v);
    v = parse_ok("1e-400");                                /* underflow is fine: 0 */
    CHECK(v && v->type == JSON_DOUBLE && v->u.d == 0.0);
    json_free(v);
    /* A 300-digit integer: a double; 400 digits: out of range, not a crash. */
    char big[402];
    memset(big, '9', 400);
    big[300] = '\0';
    v = parse_ok(big);
    CHECK(v && v->type == JSON_DOUBLE && v->u.d > 9e299);
    json_free(v);
    big[300] = '9';
    big[400] = '\0';
    struct json_error e;
    CHECK_INT_EQ(json_parse(big, 400, NULL, &v, &e), -1);
    CHECK_STR_CONTAINS(e.message, "number out of range");
    /* The parser does not depend on the C locale's decimal point. */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        v = parse_ok("2.25");
        CHECK(v && v->type == JSON_DOUBLE && v->u.d == 2.25);
        json_free(v);
        struct buf b = BUF_INIT;
        struct json_writer w;
        jw_init(&w, &b);
        jw_double(&w, 2.25);
        CHECK_INT_EQ(jw_finish(&w), 0);
        CHECK_STR_EQ(buf_cstr(&b), "2.25");
        buf_free(&b);
        setlocale(LC_NUMERIC, "C");
    }
}

struct bad_case {
    const char *text;
    size_t offset;
    const char *message;
};

static void test_invalid(void)
{
    static const struct bad_case cases[] = {
        {"", 0, "unexpected end of input"},
        {"   ", 3, "unexpected end of input"},
        {"nul", 0, "invalid literal"},
        {"truex", 4, "unexpected data after"},
        {"[1,]", 3, "unexpected character ']'"},
        {"{\"a\":1,}", 7, "expected a string key"},
        {"{\"a\" 1}", 5, "expected ':'"},
        {"{a:1}", 1, "expected a string key"},
        {"[1 2]", 3, "expected ',' or ']'"},
        {"{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"},
        {"01", 1, "leading zeros"},
        {"-", 0, "invalid number"},
        {"1.", 2, "digit after the decimal point"},
        {"1e", 2, "digit in the exponent"},
        {".5", 0, "unexpected character '.'"},
        {"+1", 0, "unexpected character '+'"},
        {"NaN", 0, "unexpected character 'N'"},
        {"Infinity", 0, "unexpected character 'I'"},
        {"1e999", 0, "number out of range"},
        {"\"abc", 4, "unterminated string"},
        {"\"a\nb\"", 2, "control character"},
        {"\"\\x\"", 2, "invalid escape"},
        {"\"\\u12\"", 2, "four hex digits"},
        {"\"\\udc00\"", 1, "lone low surrogate"},
        {"\"\\ud800\"", 7, "high surrogate not followed"},
        {"\"\\ud800\\u0041\"", 7, "high surrogate not followed"},
        {"\"\xff\"", 1, "invalid UTF-8"},
        {"\"\xc0\xaf\"", 1, "invalid UTF-8"},
        {"\"\xed\xa0\x80\"", 1, "invalid UTF-8"},
        {"\"\xe2\x82\"", 1, "invalid UTF-8"},
        {"[1] [2]", 4, "unexpected data after"},
        {"// c\n1", 0, "unexpected character '/'"},
        {"\xef\xbb\xbf{}", 0, "unexpected character '?'"},   /* BOM refused */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_value *v = (struct json_value *)1;
        struct json_error e;
        CHECK_INT_EQ(json_parse(cases[i].text, strlen(cases[i].text), NULL, &v, &e), -1);
        CHECK(v == NULL);
        CHECK_STR_CONTAINS(e.message, cases[i].message);
        CHECK_INT_EQ(e.offset, cases[i].offset);
        if (e.offset != cases[i].offset)
            fprintf(stderr, "  (invalid case %zu)\n", i);
    }
    /* A NUL byte in the middle of the input is an error, not the end. */
    struct json_value *v;
    struct json_error e;
    CHECK_INT_EQ(json_parse("[1]\0", 4, NULL, &v, &e), -1);
    CHECK_INT_EQ(e.offset, 3);
    CHECK_INT_EQ(json_parse("\"a\0b\"", 5, NULL, &v, &e), -1);
    CHECK_STR_CONTAINS(e.message, "control character");
    CHECK_INT_EQ(json_parse("1", 1, NULL, &v, NULL), 0);   /* err may be NULL */
    json_free(v);
    CHECK_INT_EQ(json_parse("x", 1, NULL, &v, NULL), -1);
}

static void test_limits(void)
{
    struct json_value *v;
    struct json_error e;
    struct json_limits lim = {4, 0};
    CHECK_INT_EQ(json_parse("[[[[1]]]]", 9, &lim, &v, &e), 0);
    json_free(v);
    CHECK_INT_EQ(json_parse("[[[[[1]]]]]", 11, &lim, &v, &e), -1);
    CHECK_STR_CONTAINS(e.message, "nesting deeper than 4 levels");
    CHECK_INT_EQ(e.offset, 4);
    CHECK_INT_EQ(json_parse("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", 26, &lim, &v, &e), -1);

    /* 100000 nested arrays with the default limit: an error, no stack overflow. */
    size_t n = 100000;
    char *deep = malloc(2 * n);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    CHECK_INT_EQ(json_parse(deep, 2 * n, NULL, &v, &e), -1);
    CHECK_STR_CONTAINS(e.message, "nesting deeper than 128");
    free(deep);

    struct json_limits small = {0, 8};
    CHECK_INT_EQ(json_parse("\"12345678\"", 10, &small, &v, &e), -1);
    CHECK_STR_CONTAINS(e.message, "larger than 8 bytes");
    CHECK_INT_EQ(json_parse("\"123456\"", 8, &small, &v, &e), 0);
    json_free(v);
}

/* Every prefix of a valid document is rejected cleanly (and never crashes). */
static void test_truncation(void)
{
    const char *doc = "{\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\ud83d\\ude00\xc3\xa9\"],"
                      "\"b\":{\"c\":\"\"}}";
    size_t n = strlen(doc);
    int rejected = 0;
    for (size_t k = 0; k < n; k++) {
        struct json_value *v;
        struct json_error e;
        if (json_parse(doc, k, NULL, &v, &e) == -1 && e.offset <= k)
            rejected++;
        else
            json_free(v);
    }
    CHECK_INT_EQ(rejected, (int)n);
    struct json_value *v = parse_ok(doc);
    json_free(v);
}

static void test_lookups(void)
{
    struct json_value *v = parse_ok("{\"k\":1,\"s\":\"str\",\"k\":2,\"a\":[10,20]}");
    CHECK_REQUIRE(v);
    CHECK_INT_EQ(json_get(v, "k")->u.i, 2);                   /* last duplicate wins */
    CHECK_STR_EQ(json_get_string(v, "s"), "str");
    CHECK(json_get_string(v, "k") == NULL);                   /* wrong type */
    CHECK(json_get(v, "missing") == NULL);
    CHECK_INT_EQ(json_at(json_get(v, "a"), 1)->u.i, 20);
    CHECK(json_at(json_get(v, "a"), 2) == NULL);
    CHECK(json_at(v, 0) == NULL);
    CHECK(json_get(json_get(v, "a"), "x") == NULL);
    CHECK(json_get(NULL, "x") == NULL);
    CHECK_STR_EQ(json_type_name(JSON_INT), "number");
    CHECK_STR_EQ(json_type_name(JSON_TRUE), "boolean");
    CHECK_STR_EQ(json_type_name(JSON_OBJECT), "object");
    json_free(v);
    json_free(NULL);
}

static void test_writer(void)
{
    struct buf b = BUF_INIT;
    struct json_writer w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "s");
    jw_string(&w, "q\"\\\x01\x7f/\xc3\xa9");
    jw_key(&w, "i");
    jw_int(&w, INT64_MIN);
    jw_key(&w, "d");
    jw_double(&w, 0.1);
    jw_key(&w, "a");
    jw_array_begin(&w);
    jw_bool(&w, 1);
    jw_null(&w);
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_object_begin(&w);
    jw_object_end(&w);
    jw_array_end(&w);
    jw_key_n(&w, "n\0ul", 4);
    jw_string_n(&w, "a\0b", 3);
    jw_object_end(&w);
    CHECK_INT_EQ(jw_finish(&w), 0);
    CHECK_STR_EQ(buf_cstr(&b), "{\"s\":\"q\\\"\\\\\\u0001\x7f/\xc3\xa9\",\"i\":-9223372036854775808,"
                               "\"d\":0.10000000000000001,\"a\":[true,null,[],{}],"
                               "\"n\\u0000ul\":\"a\\u0000b\"}");
    /* Integral doubles keep a fraction so they read back as doubles. */
    struct buf nb = BUF_INIT;
    jw_init(&w, &nb);
    jw_array_begin(&w);
    jw_double(&w, 2.0);
    jw_double(&w, -0.0);
    jw_double(&w, 1e300);
    jw_array_end(&w);
    CHECK_INT_EQ(jw_finish(&w), 0);
    CHECK_STR_EQ(buf_cstr(&nb), "[2.0,-0.0,1.0000000000000001e+300]");
    buf_free(&nb);
    /* The output parses back. */
    struct json_value *v = NULL;
    CHECK_INT_EQ(json_parse(b.data, b.len, NULL, &v, NULL), 0);
    CHECK(json_get(v, "d") && json_get(v, "d")->u.d == 0.1);
    json_free(v);
    buf_free(&b);

    /* Misuse is reported by jw_finish, and nothing after the error is written. */
    struct { const char *what; int step; } misuse[] = {
        {"value without key", 0}, {"key in array", 1}, {"unclosed", 2}, {"two top-level", 3},
        {"bad utf8", 4}, {"nan", 5}, {"close mismatch", 6}, {"nothing", 7}, {"dangling key", 8},
    };
    for (size_t i = 0; i < sizeof misuse / sizeof misuse[0]; i++) {
        jw_init(&w, &b);
        switch (misuse[i].step) {
        case 0: jw_object_begin(&w); jw_int(&w, 1); jw_object_end(&w); break;
        case 1: jw_array_begin(&w); jw_key(&w, "k"); jw_array_end(&w); break;
        case 2: jw_array_begin(&w); break;
        case 3: jw_int(&w, 1); jw_int(&w, 2); break;
        case 4: jw_string(&w, "\xff"); break;
        case 5: jw_double(&w, NAN); break;
        case 6: jw_array_begin(&w); jw_object_end(&w); break;
        case 7: break;
        case 8: jw_object_begin(&w); jw_key(&w, "k"); jw_object_end(&w); break;
        }
        CHECK_INT_EQ(jw_finish(&w), -1);
        buf_free(&b);
    }
    /* Writer depth limit. */
    jw_init(&w, &b);
    for (int i = 0; i < JSON_WRITER_MAX_DEPTH + 2; i++)
        jw_array_begin(&w);
    CHECK_INT_EQ(jw_finish(&w), -1);
    buf_free(&b);

    CHECK_INT_EQ(json_write_string(&b, "ok", 2), 0);
    CHECK_INT_EQ(json_write_string(&b, "\xc3", 1), -1);
    CHECK_STR_EQ(buf_cstr(&b), "\"ok\"");                     /* failed call left no trace */
    buf_free(&b);
}

/* json_write_string's escapes, and json_write_string_lossy: the same output for valid
 * UTF-8, U+FFFD for each byte that does not start a well-formed sequence. */
static void check_written(int lossy, const char *in, size_t n, const char *want)
{
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(buf_append_str(&b, "x"), 0);
    CHECK_INT_EQ(lossy ? json_write_string_lossy(&b, in, n) : json_write_string(&b, in, n), 0);
    CHECK_STR_EQ(buf_cstr(&b), want);
    struct json_value *v = NULL;
    CHECK_INT_EQ(json_parse(b.data + 1, b.len - 1, NULL, &v, NULL), 0);   /* reads back */
    CHECK(v && v->type == JSON_STRING);
    if (v && !lossy)
        CHECK_MEM_EQ(v->u.str.ptr, v->u.str.len, in, n);
    json_free(v);
    buf_free(&b);
}

static void test_write_string(void)
{
    static const char all[] = "q\"b\\n\nr\rt\tb\bf\f\x01\x1f\x7f/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    static const char all_json[] =
        "x\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\x7f/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"";
    for (int lossy = 0; lossy < 2; lossy++) {
        check_written(lossy, all, sizeof all - 1, all_json);
        check_written(lossy, "", 0, "x\"\"");
        check_written(lossy, "a\0b", 3, "x\"a\\u0000b\"");
        check_written(lossy, "plain text, long enough to be one run", 37,
                      "x\"plain text, long enough to be one run\"");
    }
    check_written(1, "a\xff" "b\xc3", 4, "x\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
    check_written(1, "\xed\xa0\x80\"", 4,        /* a surrogate: three bad bytes */
                  "x\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\\\"\"");
    check_written(1, "\xc0\xaf\xe2\x82\xac", 5, "x\"\xef\xbf\xbd\xef\xbf\xbd\xe2\x82\xac\"");
    struct buf b = BUF_INIT;
    CHECK_INT_EQ(json_write_string(&b, "a\xff" "b", 3), -1);      /* strict: refused */
    CHECK_INT_EQ(b.len, 0);
    buf_free(&b);
}

int main(void)
{
    test_valid();
    test_numbers();
    test_invalid();
    test_limits();
    test_truncation();
    test_lookups();
    test_writer();
    test_write_string();
    return CHECK_SUMMARY();
}
