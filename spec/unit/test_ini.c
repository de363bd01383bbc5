/*
 * test_ini.c — the AWS config/credentials file parser (botocore's reading of the format):
 * sections, comments, whitespace, key case, ':' separator, continuation lines, nested
 * sub-sections, and the errors botocore raises (duplicates, keys outside sections).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ini.h"

static int parse(const char *text, struct ini_file *f, struct ini_error *e)
{
    return ini_parse(text, strlen(text), f, e);
}

static void test_basic(void)
{
    struct ini_file f;
    struct ini_error e;
    const char *text =
        "# a comment\n"
        "; another\n"
        "   # indented comment\n"
        "[default]\n"
        "region = eu-west-1\n"
        "Output=json\n"
        "  \n"
        "[profile ops]\r\n"
        "aws_access_key_id   =   AKIDOPS   \r\n"
        "colon: yes\n"
        "inline = a # not a comment\n"
        "empty =\n"
        "eq = a=b\n"
        "[ spaced ] # trailing text after the bracket is ignored\n"
        "k = v";
    CHECK_INT_EQ(parse(text, &f, &e), 0);
    CHECK_INT_EQ(f.nsections, 3);
    const struct ini_section *d = ini_find_section(&f, "default");
    const struct ini_section *o = ini_find_section(&f, "profile ops");
    CHECK_REQUIRE(d && o);
    CHECK_STR_EQ(ini_get(d, "region"), "eu-west-1");
    CHECK_STR_EQ(ini_get(d, "output"), "json");              /* keys are lowercased */
    CHECK(ini_get(d, "Output") == NULL);
    CHECK_STR_EQ(ini_get(o, "aws_access_key_id"), "AKIDOPS"); /* trimmed, \r dropped */
    CHECK_STR_EQ(ini_get(o, "colon"), "yes");
    CHECK_STR_EQ(ini_get(o, "inline"), "a # not a comment");
    CHECK_STR_EQ(ini_get(o, "empty"), "");
    CHECK_STR_EQ(ini_get(o, "eq"), "a=b");
    CHECK_STR_EQ(ini_get(ini_find_section(&f, " spaced "), "k"), "v");  /* verbatim */
    CHECK(ini_find_section(&f, "spaced") == NULL);
    CHECK(ini_find_section(&f, "ops") == NULL);
    CHECK(ini_get(d, "missing") == NULL);
    ini_free(&f);
    ini_free(&f);                                             /* safe twice */
}

static void test_nested(void)
{
    struct ini_file f;
    struct ini_error e;
    const char *text =
        "[profile dev]\n"
        "services = my-services\n"
        "s3 =\n"
        "  max_concurrent_requests = 20\n"
        "\n"
        "  # comment inside\n"
        "  addressing_style=path\n"
        "region = us-west-2\n"
        "[services my-services]\n"
        "iot_data_plane =\n"
        "\tendpoint_url = http://localhost:4566\n"
        "\tEndpoint_URL = http://override:1\n"
        "endpoint_url = https://global.example\n"
        "multi = first\n"
        "   second line\n";
    CHECK_INT_EQ(parse(text, &f, &e), 0);
    const struct ini_section *dev = ini_find_section(&f, "profile dev");
    const struct ini_section *svc = ini_find_section(&f, "services my-services");
    CHECK_REQUIRE(dev && svc);
    CHECK_STR_EQ(ini_get_sub(dev, "s3", "max_concurrent_requests"), "20");
    CHECK_STR_EQ(ini_get_sub(dev, "s3", "addressing_style"), "path");
    CHECK_INT_EQ(ini_find_pair(dev, "s3")->nsub, 2);
    CHECK_STR_EQ(ini_get(dev, "region"), "us-west-2");
    CHECK_STR_EQ(ini_get_sub(svc, "iot_data_plane", "endpoint_url"), "http://localhost:4566");
    CHECK_STR_EQ(ini_get_sub(svc, "iot_data_plane", "Endpoint_URL"), "http://override:1");
    CHECK_STR_EQ(ini_get(svc, "endpoint_url"), "https://global.example");
    CHECK_STR_EQ(ini_get(svc, "multi"), "first\nsecond line");  /* not a block */
    CHECK_INT_EQ(ini_find_pair(svc, "multi")->nsub, 0);
    CHECK(ini_get_sub(svc, "iot_data_plane", "nope") == NULL);
    ini_free(&f);
}

struct bad_case {
    const char *text;
    int line;
    const char *message;
};

static void test_errors(void)
{
    static const struct bad_case cases[] = {
        {"key = v\n", 1, "before any [section]"},
        {"[a]\nk = 1\n[a]\n", 3, "duplicate section [a]"},
        {"[a]\nk = 1\nK = 2\n", 3, "duplicate key 'k'"},
        {"[a]\njust words\n", 2, "expected 'key = value'"},
        {"[a]\n = v\n", 2, "empty key"},
        {"[]\n", 1, "section header"},
        {"[a\n", 1, "section header"},
        {"[a]\nblock =\n  no equals here\n", 3, "is not 'key = value'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ini_file f;
        struct ini_error e;
        CHECK_INT_EQ(parse(cases[i].text, &f, &e), -1);
        CHECK_STR_CONTAINS(e.message, cases[i].message);
        if (i != 7)                                   /* block errors are found at its end */
            CHECK_INT_EQ(e.line, cases[i].line);
        ini_free(&f);
    }
    /* A NUL byte, and bytes that are not text, never crash. */
    struct ini_file f;
    struct ini_error e;
    CHECK_INT_EQ(ini_parse("[a]\nk=\0v\n", 9, &f, &e), -1);
    CHECK_STR_CONTAINS(e.message, "NUL");
    ini_free(&f);
    CHECK_INT_EQ(ini_parse("[a]\nk=vvv", 7, &f, &e), 0);   /* length-bounded */
    CHECK_STR_EQ(ini_get(ini_find_section(&f, "a"), "k"), "v");
    ini_free(&f);
}

static void test_empty_and_files(void)
{
    struct ini_file f;
    struct ini_error e;
    CHECK_INT_EQ(parse("", &f, &e), 0);
    CHECK_INT_EQ(f.nsections, 0);
    ini_free(&f);
    CHECK_INT_EQ(parse("\n\n# only comments\n", &f, &e), 0);
    ini_free(&f);

    CHECK_INT_EQ(ini_parse_file("/nonexistent/dir/config", &f, &e), 1);   /* missing: ok */
    CHECK_INT_EQ(f.nsections, 0);
    ini_free(&f);
    CHECK_INT_EQ(ini_parse_file("/dev/null", &f, &e), 0);
    ini_free(&f);

    char path[] = "/tmp/iotlua-test-ini-XXXXXX";
    int fd = mkstemp(path);
    CHECK_REQUIRE(fd >= 0);
    const char *text = "[default]\nregion=x\nregion=y\n";
    CHECK_INT_EQ(write(fd, text, strlen(text)), (long)strlen(text));
    close(fd);
    CHECK_INT_EQ(ini_parse_file(path, &f, &e), -1);
    CHECK_STR_CONTAINS(e.message, path);                  /* names the file and line */
    CHECK_STR_CONTAINS(e.message, ":3: duplicate key 'region'");
    ini_free(&f);
    unlink(path);
}

int main(void)
{
    test_basic();
    test_nested();
    test_errors();
    test_empty_and_files();
    return CHECK_SUMMARY();
}
