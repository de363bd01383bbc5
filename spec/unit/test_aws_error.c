/* test_aws_error.c — the error answers of any AWS protocol as iotlua.aws_request reads
 * them (runtime/aws_error.c: aws_parse_error). Table-driven: each case is a status, an
 * x-amzn-ErrorType header (or none), a body, and the code, message and request id
 * expected. The XML bodies are the documented shapes: the query protocol's
 * <ErrorResponse> (STS, IAM), S3's <Error>, EC2's <Response><Errors>. */
#include <string.h>

#include "aws_request.h"
#include "check.h"
#include "client.h"

static const struct {
    const char *what;
    long status;
    const char *type_header;
    const char *body;
    const char *code, *message, *request_id;
} CASES[] = {
    {"JSON __type with a namespace", 400, NULL,
     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
     "\"message\":\"Requested resource not found\"}",
     "ResourceNotFoundException", "Requested resource not found", ""},
    {"JSON code and Message", 404, NULL, "{\"code\":\"NotFound\",\"Message\":\"gone\"}",
     "NotFound", "gone", ""},
    {"JSON Code (capital)", 409, NULL, "{\"Code\":\"ConflictException\",\"Message\":\"busy\"}",
     "ConflictException", "busy", ""},
    {"x-amzn-ErrorType wins over the body, text before ':'", 400,
     "ValidationException:http://internal.amazon.com/coral/", "{\"__type\":\"Other\"}",
     "ValidationException", "HTTP 400 Bad Request", ""},
    {"STS ErrorResponse", 403, NULL,
     "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n"
     "    <Type>Sender</Type>\n    <Code>InvalidClientTokenId</Code>\n"
     "    <Message>The security token included in the request is invalid.</Message>\n"
     "  </Error>\n  <RequestId>4c4a7e21-0000-example</RequestId>\n</ErrorResponse>\n",
     "InvalidClientTokenId", "The security token included in the request is invalid.",
     "4c4a7e21-0000-example"},
    {"S3 Error with a declaration and entities", 404, NULL,
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
     "<Message>The key &quot;a&amp;b&quot; does not exist &#60;here&#62;</Message>"
     "<Key>a&amp;b</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>",
     "NoSuchKey", "The key \"a&b\" does not exist <here>", "4442587FB7D0A2F9"},
    {"S3 SlowDown (a throttling code)", 503, NULL,
     "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
     "SlowDown", "Please reduce your request rate.", ""},
    {"EC2 Response/Errors/Error and RequestID", 400, NULL,
     "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance "
     "ID 'i-1' does not exist</Message></Error></Errors><RequestID>ea966190-f9aa</RequestID>"
     "</Response>",
     "InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist", "ea966190-f9aa"},
    {"XML with a byte order mark and blanks first", 400, NULL,
     "\xef\xbb\xbf \r\n<Error><Code>BadDigest</Code></Error>", "BadDigest", "HTTP 400 Bad Request",
     ""},
    {"XML without Error: UnknownError with the snippet", 500, NULL, "<html>oops</html>",
     "UnknownError",
     "HTTP 500 Internal Server Error with a body that is not JSON (truncated or not from the "
     "service): <html>oops</html>", ""},
    {"XML Error without Code but the header", 400, "AccessDenied", "<Error></Error>",
     "AccessDenied", "HTTP 400 Bad Request", ""},
    {"empty body", 503, NULL, "", "UnknownError", "HTTP 503 Service Unavailable with an empty body",
     ""},
    {"JSON without a code", 400, NULL, "{\"message\":\"no code\"}", "UnknownError", "no code", ""},
    {"plain text", 502, NULL, "Bad Gateway", "UnknownError",
     "HTTP 502 Bad Gateway with a body that is not JSON (truncated or not from the service): "
     "Bad Gateway", ""},
    {"an unclosed Code element is no code", 400, NULL, "<Error><Code>Cut", "UnknownError",
     "HTTP 400 Bad Request with a body that is not JSON (truncated or not from the service): "
     "<Error><Code>Cut", ""},
};

static void test_cases(void)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        struct iot_error err;
        memset(&err, 0, sizeof err);
        aws_parse_error(CASES[c].status, CASES[c].type_header, CASES[c].body,
                        strlen(CASES[c].body), &err);
        if (strcmp(err.code, CASES[c].code) != 0 || strcmp(err.message, CASES[c].message) != 0 ||
            strcmp(err.request_id, CASES[c].request_id) != 0)
            fprintf(stderr, "case: %s\n", CASES[c].what);
        CHECK_STR_EQ(err.code, CASES[c].code);
        CHECK_STR_EQ(err.message, CASES[c].message);
        CHECK_STR_EQ(err.request_id, CASES[c].request_id);
        CHECK_INT_EQ(err.status, CASES[c].status);
    }
}

/* A request id already known (from the x-amzn-RequestId header) is kept. */
static void test_request_id_kept(void)
{
    struct iot_error err;
    memset(&err, 0, sizeof err);
    strcpy(err.request_id, "from-header");
    const char *body = "<Error><Code>X</Code><RequestId>from-body</RequestId></Error>";
    aws_parse_error(400, NULL, body, strlen(body), &err);
    CHECK_STR_EQ(err.request_id, "from-header");
    CHECK_STR_EQ(err.code, "X");
}

/* Only the given length is read: the same bytes cut before </Code> have no code. */
static void test_length_bounds(void)
{
    const char *body = "<Error><Code>Whole</Code></Error>";
    struct iot_error err;
    memset(&err, 0, sizeof err);
    aws_parse_error(400, NULL, body, strlen("<Error><Code>Whole</Co"), &err);
    CHECK_STR_EQ(err.code, "UnknownError");
    aws_parse_error(400, NULL, NULL, 5, &err);
    CHECK_STR_EQ(err.code, "UnknownError");
    CHECK_STR_EQ(err.message, "HTTP 400 Bad Request with an empty body");
}

int main(void)
{
    test_cases();
    test_request_id_kept();
    test_length_bounds();
    return CHECK_SUMMARY();
}
