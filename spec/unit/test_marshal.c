/* test_marshal.c — parameter validation (table-driven, exact messages) and the generic
 * marshaller: exact method, path, query, headers and body for tricky topics and every
 * parameter kind (the wire shapes were taken from boto3 1.26 with the vendored model). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "client.h"
#include "encode.h"
#include "json_compact.h"
#include "marshal.h"

static struct iot_value S(const char *s)
{
    struct iot_value v = {.kind = IOT_V_STRING, .str = s, .len = strlen(s)};
    return v;
}
static struct iot_value I(long long i)
{
    struct iot_value v = {.kind = IOT_V_INTEGER, .i = i};
    return v;
}
static struct iot_value N(double d)
{
    struct iot_value v = {.kind = IOT_V_NUMBER, .d = d};
    return v;
}
static struct iot_value B(int b)
{
    struct iot_value v = {.kind = IOT_V_BOOLEAN, .b = b};
    return v;
}
static struct iot_value J(const char *s)
{
    struct iot_value v = {.kind = IOT_V_JSON, .str = s, .len = strlen(s)};
    return v;
}
static struct iot_value O(const char *type_name)
{
    struct iot_value v = {.kind = IOT_V_OTHER, .type_name = type_name};
    return v;
}

struct kv {
    const char *name;
    struct iot_value v;
};

/* Params for op from kvs; every set must succeed. */
static struct iot_params *make(const char *op_name, const struct kv *kvs, size_t n)
{
    const struct iot_op *op = iot_op_find(op_name);
    CHECK_REQUIRE(op != NULL);
    struct iot_params *p = iot_params_new(op);
    CHECK_REQUIRE(p != NULL);
    for (size_t i = 0; i < n; i++) {
        char msg[512] = "";
        int rc = iot_params_set(p, kvs[i].name, &kvs[i].v, msg, sizeof msg);
        if (rc != 0)
            fprintf(stderr, "unexpected: %s\n", msg);
        CHECK_INT_EQ(rc, 0);
    }
    return p;
}

#define MAKE(op, ...) make(op, (const struct kv[]){__VA_ARGS__}, \
                           sizeof((const struct kv[]){__VA_ARGS__}) / sizeof(struct kv))

static void marshal_ok(struct iot_params *p, struct iot_request *req)
{
    char msg[512] = "";
    CHECK_INT_EQ(iot_params_check(p, msg, sizeof msg), 0);
    int rc = iot_marshal(p, req, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "marshal: %s\n", msg);
    CHECK_REQUIRE(rc == 0);
}

static void check_hash(const struct iot_request *req, const char *body, size_t n)
{
    char want[65];
    enc_sha256_hex(body, n, want);
    CHECK_STR_EQ(req->payload_hash, want);
}

/* ---------------------------------------------------------------- paths */

static void test_topic_paths(void)
{
    static const struct {
        const char *topic, *path;
    } cases[] = {
        {"a/b c/#", "/topics/a%2Fb%20c%2F%23"},
        {"$aws/things/x/shadow/update", "/topics/%24aws%2Fthings%2Fx%2Fshadow%2Fupdate"},
        {"100%", "/topics/100%25"},
        {"a+b", "/topics/a%2Bb"},
        {"~tilde-._", "/topics/~tilde-._"},
        {"caf\xc3\xa9/\xe2\x82\xac", "/topics/caf%C3%A9%2F%E2%82%AC"},
        {"/leading", "/topics/%2Fleading"},
        {"double//slash", "/topics/double%2F%2Fslash"},
        {"trailing/", "/topics/trailing%2F"},
        {"..", "/topics/.."},
        {"q?x=1&y", "/topics/q%3Fx%3D1%26y"},
        {"", "/topics/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct iot_params *p = MAKE("publish", {"topic", S(cases[i].topic)});
        struct iot_request req;
        marshal_ok(p, &req);
        CHECK_STR_EQ(req.method, "POST");
        CHECK_STR_EQ(buf_cstr(&req.target), cases[i].path);
        CHECK_INT_EQ(req.path_len, strlen(cases[i].path));
        CHECK_STR_EQ(iot_request_query(&req), "");
        CHECK_INT_EQ(req.nhdrs, 0);
        CHECK_INT_EQ(req.has_body, 1);       /* POST without payload: Content-Length: 0 */
        CHECK_INT_EQ(req.body_len, 0);
        check_hash(&req, "", 0);
        iot_request_free(&req);
        iot_params_free(p);
    }
}

/* ---------------------------------------------------------------- every kind */

static void header_is(const struct iot_request *req, size_t i, const char *name, const char *value)
{
    const char *n, *v;
    CHECK_REQUIRE(i < req->nhdrs);
    iot_request_header(req, i, &n, &v);
    CHECK_STR_EQ(n, name);
    CHECK_STR_EQ(v, value);
}

static void test_publish_everything(void)
{
    /* boto3: POST /topics/a%2Fb%20c%2F%23?qos=1&retain=true&contentType=text%2Fplain
     * &responseTopic=r%2Ft&messageExpiry=5 with the three x-amz-mqtt5-* headers. */
    struct iot_params *p = MAKE("publish", {"topic", S("a/b c/#")}, {"qos", I(1)},
                                {"retain", B(1)}, {"payload", S("hi")},
                                {"userProperties", J("[ {\"a\" : \"b\"} ]")},
                                {"payloadFormatIndicator", S("UTF8_DATA")},
                                {"contentType", S("text/plain")}, {"responseTopic", S("r/t")},
                                {"correlationData", S("Y29y")}, {"messageExpiry", I(5)});
    struct iot_request req;
    marshal_ok(p, &req);
    CHECK_STR_EQ(buf_cstr(&req.target),
                 "/topics/a%2Fb%20c%2F%23?qos=1&retain=true&contentType=text%2Fplain"
                 "&responseTopic=r%2Ft&messageExpiry=5");
    CHECK_STR_EQ(iot_request_query(&req),
                 "qos=1&retain=true&contentType=text%2Fplain&responseTopic=r%2Ft&messageExpiry=5");
    CHECK_INT_EQ(req.nhdrs, 3);
    header_is(&req, 0, "x-amz-mqtt5-user-properties", "W3siYSI6ImIifV0=");  /* [{"a":"b"}] */
    header_is(&req, 1, "x-amz-mqtt5-payload-format-indicator", "UTF8_DATA");
    header_is(&req, 2, "x-amz-mqtt5-correlation-data", "Y29y");
    CHECK_MEM_EQ(req.body, req.body_len, "hi", 2);
    check_hash(&req, "hi", 2);
    iot_request_free(&req);
    iot_params_free(p);

    /* retain=false, qos=0 and a float that is an integer */
    p = MAKE("publish", {"topic", S("t")}, {"qos", N(0.0)}, {"retain", B(0)});
    marshal_ok(p, &req);
    CHECK_STR_EQ(buf_cstr(&req.target), "/topics/t?qos=0&retain=false");
    iot_request_free(&req);
    iot_params_free(p);

    /* a payload with NUL bytes is sent byte for byte */
    struct iot_value bin = {.kind = IOT_V_STRING, .str = "a\0b\xff", .len = 4};
    p = MAKE("publish", {"topic", S("t")}, {"payload", bin});
    marshal_ok(p, &req);
    CHECK_MEM_EQ(req.body, req.body_len, "a\0b\xff", 4);
    check_hash(&req, "a\0b\xff", 4);
    iot_request_free(&req);
    iot_params_free(p);

    /* a table payload (JSON text from the bindings) is sent as given */
    p = MAKE("publish", {"topic", S("t")}, {"payload", J("{\"now\":true}")});
    marshal_ok(p, &req);
    CHECK_MEM_EQ(req.body, req.body_len, "{\"now\":true}", 12);
    iot_request_free(&req);
    iot_params_free(p);
}

static void test_other_ops(void)
{
    struct iot_request req;
    struct iot_params *p = MAKE("send_direct_message", {"clientId", S("sensor 42")},
                                {"topic", S("cmd/reboot")}, {"payload", S("{\"now\":true}")},
                                {"confirmation", B(1)}, {"timeout", I(5)},
                                {"contentType", S("a")}, {"responseTopic", S("b")});
    marshal_ok(p, &req);
    CHECK_STR_EQ(req.method, "POST");
    CHECK_STR_EQ(buf_cstr(&req.target), "/connections/sensor%2042/messages?topic=cmd%2Freboot"
                 "&contentType=a&responseTopic=b&confirmation=true&timeout=5");
    CHECK_MEM_EQ(req.body, req.body_len, "{\"now\":true}", 12);
    iot_request_free(&req);
    iot_params_free(p);

    p = MAKE("get_connection", {"clientId", S("s+1~%")}, {"includeSocketInformation", B(0)});
    marshal_ok(p, &req);
    CHECK_STR_EQ(req.method, "GET");
    CHECK_STR_EQ(buf_cstr(&req.target), "/connections/s%2B1~%25?includeSocketInformation=false");
    CHECK_INT_EQ(req.has_body, 0);
    check_hash(&req, "", 0);
    iot_request_free(&req);
    iot_params_free(p);

    p = MAKE("list_subscriptions", {"maxResults", I(50)}, {"clientId", S("s")},
             {"nextToken", S("a+b/c=")});
    marshal_ok(p, &req);
    CHECK_STR_EQ(req.method, "GET");
    CHECK_STR_EQ(buf_cstr(&req.target), "/connections/s/subscriptions?nextToken=a%2Bb%2Fc%3D"
                 "&maxResults=50");
    iot_request_free(&req);
    iot_params_free(p);

    p = MAKE("delete_connection", {"clientId", S("c")}, {"cleanSession", B(1)});
    marshal_ok(p, &req);
    CHECK_STR_EQ(req.method, "DELETE");
    CHECK_STR_EQ(buf_cstr(&req.target), "/connections/c?cleanSession=true");
    CHECK_INT_EQ(req.has_body, 0);
    iot_request_free(&req);
    iot_params_free(p);

    p = MAKE("get_thing_shadow", {"thingName", S("t1")}, {"shadowName", S("$s")});
    marshal_ok(p, &req);
    CHECK_STR_EQ(buf_cstr(&req.target), "/things/t1/shadow?name=%24s");
    iot_request_free(&req);
    iot_params_free(p);
}

static void test_file_payload(void)
{
    char path[] = "/tmp/iotlua-test-marshal-XXXXXX";
    int fd = mkstemp(path);
    CHECK_REQUIRE(fd >= 0);
    FILE *f = fdopen(fd, "w+b");
    CHECK_REQUIRE(f != NULL);
    fputs("skipHELLO FILE", f);
    fseek(f, 4, SEEK_SET);      /* streamed from the current position */
    struct iot_value v = {.kind = IOT_V_FILE, .file = f};
    struct iot_params *p = MAKE("publish", {"topic", S("t")}, {"payload", v});
    struct iot_request req;
    marshal_ok(p, &req);
    CHECK(req.file == f);
    CHECK_INT_EQ(req.file_start, 4);
    CHECK_INT_EQ(req.file_len, 10);
    check_hash(&req, "HELLO FILE", 10);
    CHECK_INT_EQ(ftell(f), 4);  /* hashing leaves the position where it was */
    iot_request_free(&req);
    iot_params_free(p);

    /* a pipe is not seekable */
    int fds[2];
    CHECK_REQUIRE(pipe(fds) == 0);
    FILE *pf = fdopen(fds[0], "rb");
    struct iot_value pv = {.kind = IOT_V_FILE, .file = pf};
    p = iot_params_new(iot_op_find("publish"));
    char msg[512];
    CHECK_INT_EQ(iot_params_set(p, "payload", &pv, msg, sizeof msg), -1);
    CHECK_STR_EQ(msg, "publish: parameter 'payload' must be a seekable file (it is read again "
                 "on a retry)");
    iot_params_free(p);
    fclose(pf);
    close(fds[1]);
    fclose(f);
    unlink(path);
}

/* ---------------------------------------------------------------- validation */

struct vcase {
    const char *op, *name;
    struct iot_value v;
    const char *msg;    /* NULL: accepted */
};

static void test_validation(void)
{
    char long129[130], long128[129];
    memset(long129, 'c', 129);
    long129[129] = '\0';
    memset(long128, 'c', 128);
    long128[128] = '\0';
    const struct vcase cases[] = {
        {"publish", "qos", I(2), "publish: parameter 'qos' must be between 0 and 1 (got 2)"},
        {"publish", "qos", I(-1), "publish: parameter 'qos' must be between 0 and 1 (got -1)"},
        {"publish", "qos", I(1), NULL},
        {"publish", "qos", N(0.5), "publish: parameter 'qos' must be an integer (got 0.5)"},
        {"publish", "qos", S("1"), "publish: parameter 'qos' must be an integer (got string)"},
        {"publish", "retain", S("true"),
         "publish: parameter 'retain' must be a boolean (got string)"},
        {"publish", "retain", I(1), "publish: parameter 'retain' must be a boolean (got integer)"},
        {"publish", "topic", I(3), "publish: parameter 'topic' must be a string (got integer)"},
        {"publish", "topic", O("table"), "publish: parameter 'topic' must be a string (got table)"},
        {"publish", "topc", S("x"),
         "publish: unknown parameter 'topc' (valid parameters: topic, qos, retain, payload, "
         "userProperties, payloadFormatIndicator, contentType, responseTopic, correlationData, "
         "messageExpiry)"},
        {"publish", "payloadFormatIndicator", S("UTF8"),
         "publish: parameter 'payloadFormatIndicator' must be one of UNSPECIFIED_BYTES, "
         "UTF8_DATA (got \"UTF8\")"},
        {"publish", "payloadFormatIndicator", S("UNSPECIFIED_BYTES"), NULL},
        {"publish", "payload", I(5),
         "publish: parameter 'payload' must be a string, a file handle or a table (got integer)"},
        {"publish", "payload", B(1),
         "publish: parameter 'payload' must be a string, a file handle or a table (got boolean)"},
        {"publish", "userProperties", S("[{\"a\":\"b\"}]"), NULL},
        {"publish", "userProperties", S("[{\"a\":}]"),
         "publish: parameter 'userProperties' must be valid JSON: unexpected character at "
         "byte 6"},
        {"publish", "userProperties", I(1),
         "publish: parameter 'userProperties' must be a table or a JSON string (got integer)"},
        {"publish", "correlationData", S("a\r\nX-Evil: 1"),
         "publish: parameter 'correlationData' must not contain control characters (it is "
         "sent as the header x-amz-mqtt5-correlation-data)"},
        {"publish", "messageExpiry", I(4294967296LL), NULL},    /* long */
        {"publish", "topic", S("bad\xff"), "publish: parameter 'topic' must be valid UTF-8"},
        {"get_connection", "clientId", S("$abc"),
         "get_connection: parameter 'clientId' must not start with '$' (pattern ^[^$].*, "
         "got \"$abc\")"},
        {"get_connection", "clientId", S(""),
         "get_connection: parameter 'clientId' must be 1 to 128 characters long (got 0)"},
        {"get_connection", "clientId", S(long129),
         "get_connection: parameter 'clientId' must be 1 to 128 characters long (got 129)"},
        {"get_connection", "clientId", S(long128), NULL},
        {"get_connection", "clientId", S("\xc3\xa9"), NULL},     /* 1 character, 2 bytes */
        {"get_connection", "includeSocketInformation", S("yes"),
         "get_connection: parameter 'includeSocketInformation' must be a boolean (got string)"},
        {"list_subscriptions", "maxResults", I(0),
         "list_subscriptions: parameter 'maxResults' must be between 1 and 200 (got 0)"},
        {"list_subscriptions", "maxResults", I(201),
         "list_subscriptions: parameter 'maxResults' must be between 1 and 200 (got 201)"},
        {"list_subscriptions", "maxResults", I(200), NULL},
        {"send_direct_message", "timeout", I(5000000000LL),
         "send_direct_message: parameter 'timeout' must be a 32-bit integer (got 5000000000)"},
        {"send_direct_message", "confirmation", I(1),
         "send_direct_message: parameter 'confirmation' must be a boolean (got integer)"},
        {"get_thing_shadow", "thingName", S("bad name"),
         "get_thing_shadow: parameter 'thingName' must match the pattern [a-zA-Z0-9:_-]+ "
         "(got \"bad name\")"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct iot_params *p = iot_params_new(iot_op_find(cases[i].op));
        char msg[512] = "";
        int rc = iot_params_set(p, cases[i].name, &cases[i].v, msg, sizeof msg);
        if (cases[i].msg) {
            CHECK_INT_EQ(rc, -1);
            CHECK_STR_EQ(msg, cases[i].msg);
        } else {
            if (rc != 0)
                fprintf(stderr, "case %zu: %s\n", i, msg);
            CHECK_INT_EQ(rc, 0);
        }
        iot_params_free(p);
    }
}

static void test_missing_and_twice(void)
{
    char msg[512];
    struct iot_params *p = MAKE("send_direct_message", {"clientId", S("c")});
    CHECK_INT_EQ(iot_params_check(p, msg, sizeof msg), -1);
    CHECK_STR_EQ(msg, "send_direct_message: missing required parameter 'topic'");
    struct iot_value v = S("c2");
    CHECK_INT_EQ(iot_params_set(p, "clientId", &v, msg, sizeof msg), -1);
    CHECK_STR_EQ(msg, "send_direct_message: parameter 'clientId' given twice");
    iot_params_free(p);

    p = iot_params_new(iot_op_find("publish"));
    CHECK_INT_EQ(iot_params_check(p, msg, sizeof msg), -1);
    CHECK_STR_EQ(msg, "publish: missing required parameter 'topic'");
    /* a failed set leaves the member unset */
    struct iot_value bad = I(1);
    CHECK_INT_EQ(iot_params_set(p, "topic", &bad, msg, sizeof msg), -1);
    CHECK_INT_EQ(iot_params_check(p, msg, sizeof msg), -1);
    struct iot_value good = S("t");
    CHECK_INT_EQ(iot_params_set(p, "topic", &good, msg, sizeof msg), 0);
    CHECK_INT_EQ(iot_params_check(p, msg, sizeof msg), 0);
    iot_params_free(p);
}

/* ---------------------------------------------------------------- compact JSON */

static void compact_is(const char *in, const char *want)
{
    struct buf b = BUF_INIT;
    char msg[200] = "";
    int rc = iot_json_compact(in, strlen(in), &b, msg, sizeof msg);
    if (rc != 0)
        fprintf(stderr, "compact(%s): %s\n", in, msg);
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(buf_cstr(&b), want);
    buf_free(&b);
}

static void compact_fails(const char *in, const char *why)
{
    struct buf b = BUF_INIT;
    char msg[200] = "";
    CHECK_INT_EQ(iot_json_compact(in, strlen(in), &b, msg, sizeof msg), -1);
    CHECK_STR_CONTAINS(msg, why);
    CHECK_INT_EQ(b.len, 0);
    buf_free(&b);
}

static void test_json_compact(void)
{
    /* expected outputs printed by Python: json.dumps(v, separators=(',', ':')) */
    compact_is(" [ {\"a\" : \"b\"} , {\"c\":\"d\"} ] ", "[{\"a\":\"b\"},{\"c\":\"d\"}]");
    compact_is("[{\"a\":\"\xc3\xa9\"}]", "[{\"a\":\"\\u00e9\"}]");
    compact_is("[\"\xf0\x9f\x98\x80\",\"\\u0001\",\"a\\/b\",\"\x7f\"]",
               "[\"\\ud83d\\ude00\",\"\\u0001\",\"a/b\",\"\\u007f\"]");
    compact_is("\"\\n\\t\\\"\\\\\\b\\f\\r\"", "\"\\n\\t\\\"\\\\\\b\\f\\r\"");
    compact_is("\"\\u00E9\\ud83d\\ude00\"", "\"\\u00e9\\ud83d\\ude00\"");
    compact_is("{}", "{}");
    compact_is("[ ]", "[]");
    compact_is("[true,false,null,-1.5e3,0]", "[true,false,null,-1.5e3,0]");
    compact_fails("[1,]", "unexpected character");
    compact_fails("[01]", "bad number");
    compact_fails("{\"a\" 1}", "':' expected");
    compact_fails("[\"a\xff\"]", "not valid UTF-8");
    compact_fails("", "unexpected end");
    compact_fails("[1] x", "trailing characters");
    compact_fails("\"abc", "unterminated string");
}

int main(void)
{
    test_topic_paths();
    test_publish_everything();
    test_other_ops();
    test_file_payload();
    test_validation();
    test_missing_and_twice();
    test_json_compact();
    return CHECK_SUMMARY();
}
