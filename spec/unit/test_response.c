/* test_response.c — the response header block as the results carry it (runtime/client.c:
 * iot_response_parse): names lower-cased, values trimmed, the status line and lines
 * without ':' skipped, repeated names joined with ", " in arrival order, the request id
 * and the error type read from them. Table-driven: each case is a raw header block and
 * the headers expected, in order. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "client.h"
#include "response.h"

struct want_header {
    const char *name, *value;
};

static const struct {
    const char *what;
    const char *head;
    size_t nheaders;
    struct want_header headers[4];
    const char *request_id;
} CASES[] = {
    {"plain CRLF block", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
     "x-amzn-RequestId: rid-1\r\n\r\n", 2,
     {{"content-type", "application/json"}, {"x-amzn-requestid", "rid-1"}}, "rid-1"},
    {"spaces and tabs around names and values", "HTTP/1.1 200 OK\r\n  X-Pad \t:  \t a b  \t\r\n",
     1, {{"x-pad", "a b"}}, ""},
    {"repeated names, any case, joined in order", "HTTP/1.1 200 OK\r\nX-A: 1\r\nx-b: z\r\n"
     "X-a: 2\r\nx-A:3\r\n", 2, {{"x-a", "1, 2, 3"}, {"x-b", "z"}}, ""},
    {"no final line break, LF only", "HTTP/1.1 200 OK\nx-amz-request-id: r2\nX-Last: end", 2,
     {{"x-amz-request-id", "r2"}, {"x-last", "end"}}, "r2"},
    {"lines without ':' and empty names skipped, empty value kept",
     "HTTP/1.1 200 OK\r\ngarbage line\r\n: no name\r\nX-Empty:\r\n", 1, {{"x-empty", ""}}, ""},
    {"a value holding ':'", "HTTP/1.1 200 OK\r\nDate: Sun, 22 Nov 2026 05:03:13 GMT\r\n", 1,
     {{"date", "Sun, 22 Nov 2026 05:03:13 GMT"}}, ""},
    {"x-amzn-RequestId preferred to x-amz-request-id", "HTTP/1.1 200 OK\r\n"
     "x-amz-request-id: second\r\nX-Amzn-RequestId: first\r\n", 2,
     {{"x-amz-request-id", "second"}, {"x-amzn-requestid", "first"}}, "first"},
    {"no headers at all", "", 0, {{NULL, NULL}}, ""},
};

static void test_header_cases(void)
{
    const struct iot_op *op = iot_op_find("Publish");
    CHECK_REQUIRE(op != NULL);
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        struct iot_result *r = iot_response_parse(op, 200, CASES[c].head, strlen(CASES[c].head),
                                                  "", 0);
        CHECK_REQUIRE(r != NULL);
        if ((size_t)r->nheaders != CASES[c].nheaders)
            fprintf(stderr, "case: %s\n", CASES[c].what);
        CHECK_INT_EQ((int64_t)r->nheaders, (int64_t)CASES[c].nheaders);
        for (size_t i = 0; i < r->nheaders && i < CASES[c].nheaders; i++) {
            CHECK_STR_EQ(r->headers[i].name, CASES[c].headers[i].name);
            CHECK_STR_EQ(r->headers[i].value, CASES[c].headers[i].value);
        }
        CHECK_STR_EQ(r->request_id, CASES[c].request_id);
        CHECK_INT_EQ(r->ok, 1);
        iot_result_free(r);
    }
}

/* The error type header of a failed response names the code; the head is parsed the same
 * way for errors (a repeated header is joined before the code is cut at ':'). */
static void test_error_type_header(void)
{
    const struct iot_op *op = iot_op_find("GetConnection");
    CHECK_REQUIRE(op != NULL);
    const char *head = "HTTP/1.1 404 Not Found\r\nX-Amzn-ErrorType: ResourceNotFoundException:"
                       "http://internal/\r\nx-amzn-requestid: e-1\r\n";
    const char *body = "{\"message\":\"No connection\"}";
    struct iot_result *r = iot_response_parse(op, 404, head, strlen(head), body, strlen(body));
    CHECK_REQUIRE(r != NULL);
    CHECK_INT_EQ(r->ok, 0);
    CHECK_STR_EQ(r->error.code, "ResourceNotFoundException");
    CHECK_STR_EQ(r->error.message, "No connection");
    CHECK_STR_EQ(r->request_id, "e-1");
    CHECK_STR_EQ(r->headers[0].name, "x-amzn-errortype");
    iot_result_free(r);
}

/* A long block (many headers, long values) keeps every byte. */
static void test_many_headers(void)
{
    const struct iot_op *op = iot_op_find("Publish");
    CHECK_REQUIRE(op != NULL);
    char head[8192];
    size_t n = (size_t)snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(head + n, sizeof head - n, "X-H%d: %0*d\r\n", i, 60, i);
    struct iot_result *r = iot_response_parse(op, 200, head, n, "", 0);
    CHECK_REQUIRE(r != NULL);
    CHECK_INT_EQ((int64_t)r->nheaders, 50);
    char want[80];
    snprintf(want, sizeof want, "%0*d", 60, 49);
    CHECK_STR_EQ(r->headers[49].name, "x-h49");
    CHECK_STR_EQ(r->headers[49].value, want);
    iot_result_free(r);
}

int main(void)
{
    test_header_cases();
    test_error_type_header();
    test_many_headers();
    return CHECK_SUMMARY();
}
