/*
 * aws_request.c — iotlua.aws_request's C half (aws_request.h): the request checked field
 * by field, built into a raw call (client_raw.h) and started on the client; the answers
 * that are errors read by aws_parse_error (aws_error.c).
 */
#include "aws_request.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_raw.h"
#include "http1.h"
#include "response.h"

/* What names the results and errors: no output members, so any 2xx is a success. */
static const struct iot_op aws_request_op = {
    .name = AWS_REQUEST_OPERATION,
    .method_name = "aws_request",
};

static int misuse(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int misuse(char *msg, size_t msglen, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* 1 when s is 1..max bytes, each of them in `allowed`. */
static int made_of(const char *s, const char *allowed, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= max && strspn(s, allowed) == n;
}

#define LOWER_DIGITS_DASH "abcdefghijklmnopqrstuvwxyz0123456789-"
#define HTTP_TOKEN_CHARS "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* The scalar fields: 0, or -1 with the message naming the first one at fault. */
static int check_fields(const struct aws_request *r, char *msg, size_t msglen)
{
    if (!made_of(r->service, LOWER_DIGITS_DASH, 63))
        return misuse(msg, msglen, "field 'service' must be a signing name such as \"s3\", "
                      "\"sts\" or \"iotdata\" (lower-case letters, digits and '-')");
    if (!made_of(r->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 32))
        return misuse(msg, msglen, "field 'method' must be an HTTP method in upper case, such "
                      "as \"GET\" or \"PUT\"");
    if (r->region && !made_of(r->region, LOWER_DIGITS_DASH, 63))
        return misuse(msg, msglen, "field 'region' must be a region name such as "
                      "\"eu-west-1\" (lower-case letters, digits and '-')");
    if (!r->url || (strncasecmp(r->url, "https://", 8) != 0 &&
                    strncasecmp(r->url, "http://", 7) != 0))
        return misuse(msg, msglen, "field 'url' must start with http:// or https://");
    for (const unsigned char *c = (const unsigned char *)r->url; *c; c++)
        if (*c <= ' ' || *c == 0x7f || *c == '#')
            return misuse(msg, msglen, "field 'url' must not hold %s",
                          *c == '#' ? "a fragment ('#')" : "spaces or control characters");
    if (r->timeout_ms < 0)
        return misuse(msg, msglen, "field 'timeout' must not be negative");
    return 0;
}

/* Headers the runtime adds itself: a caller's would be sent twice or contradict it. */
static const char *reserved_header(const char *name)
{
    static const char *const RESERVED[] = {"Host", "Authorization", "X-Amz-Date",
                                           "X-Amz-Security-Token", "Content-Length",
                                           "Transfer-Encoding"};
    for (size_t i = 0; i < sizeof RESERVED / sizeof RESERVED[0]; i++)
        if (strcasecmp(name, RESERVED[i]) == 0)
            return RESERVED[i];
    return NULL;
}

/* An X-Amz-Content-Sha256 value: "UNSIGNED-PAYLOAD" or a SHA-256 in hex. */
static int payload_hash_ok(const char *v)
{
    return strcmp(v, "UNSIGNED-PAYLOAD") == 0 ||
           (made_of(v, "0123456789abcdefABCDEF", SIGV4_HASH_HEX_LEN) &&
            strlen(v) == SIGV4_HASH_HEX_LEN);
}

/* One caller's header into raw (or, X-Amz-Content-Sha256, its payload hash). 0, -1 with
 * msg; -2 out of memory. `check` holds the headers already checked (h1_headers_add
 * says whether the name is an HTTP token and the value free of CR and LF). */
static int take_header(struct iot_raw_call *raw, struct h1_headers *check,
                       const struct sigv4_header *h, char *msg, size_t msglen)
{
    const char *name = h->name ? h->name : "", *value = h->value ? h->value : "";
    const char *reserved = reserved_header(name);
    if (reserved)
        return misuse(msg, msglen, "field 'headers': %s is added by the runtime, not given",
                      reserved);
    int rc = h1_headers_add(check, name, value);
    if (rc == -1)
        return -2;
    if (rc != 0 && made_of(name, HTTP_TOKEN_CHARS, 100))
        return misuse(msg, msglen, "field 'headers': the value of %s must not hold CR or LF",
                      name);
    if (rc != 0)
        return misuse(msg, msglen, "field 'headers': a header name must be an HTTP token "
                      "(letters, digits and !#$%%&'*+-.^_`|~)");
    if (strcasecmp(name, "X-Amz-Content-Sha256") == 0) {
        if (!payload_hash_ok(value))
            return misuse(msg, msglen, "field 'headers': X-Amz-Content-Sha256 must be "
                          "\"UNSIGNED-PAYLOAD\" or a SHA-256 as 64 hex digits");
        snprintf(raw->req.payload_hash, sizeof raw->req.payload_hash, "%s", value);
        raw->sign_flags |= SIGV4_ADD_CONTENT_SHA256;     /* the signer sends it */
        return 0;
    }
    if (buf_append(&raw->req.hdrs, name, strlen(name) + 1) != 0 ||
        buf_append(&raw->req.hdrs, value, strlen(value) + 1) != 0)
        return -2;
    raw->req.nhdrs++;
    return 0;
}

/* The request's target (path and query as sent) and headers into raw. 0, -1 with msg. */
static int build(struct iot_raw_call *raw, const struct aws_request *r,
                 const struct sigv4_url *u, char *msg, size_t msglen)
{
    struct h1_headers check = {BUF_INIT, 0, 0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->nheaders; i++)
        rc = take_header(raw, &check, &r->headers[i], msg, msglen);
    h1_headers_free(&check);
    if (rc == -1)
        return -1;
    struct buf *t = &raw->req.target;
    if (rc == 0)
        rc = u->path.len ? buf_append(t, buf_cstr(&u->path), u->path.len) : buf_append_char(t, '/');
    raw->req.path_len = t->len;
    if (rc == 0 && u->query.len)
        rc = buf_append_char(t, '?') != 0 || buf_append(t, buf_cstr(&u->query), u->query.len);
    if (rc == 0 && !raw->req.payload_hash[0])
        rc = sigv4_payload_hash(r->body, raw->req.body_len, raw->req.payload_hash);
    return rc == 0 ? 0 : misuse(msg, msglen, "out of memory");
}

/* client_raw.h's parse_error: the AWS protocols' error bodies. */
static void parse_error(struct iot_result *r)
{
    aws_parse_error(r->status, iot_result_header(r, "x-amzn-errortype"), r->body,
                    r->body_len, &r->error);
}

int aws_request_start(struct iot_client *client, const struct aws_request *r, void *user,
                      uint64_t *id_out, char *msg, size_t msglen)
{
    if (check_fields(r, msg, msglen) != 0)
        return -1;
    struct sigv4_url u = {BUF_INIT, BUF_INIT, BUF_INIT, 0};
    struct iot_raw_call raw = {.op = &aws_request_op, .req = IOT_REQUEST_INIT};
    int rc = -1;
    const char *why = sigv4_split_url(r->url, &u);
    if (why) {
        misuse(msg, msglen, "field 'url' cannot be used: %s", why);
        goto out;
    }
    raw.req.method = r->method;
    raw.req.body = r->body;
    raw.req.body_len = r->body ? r->body_len : 0;
    raw.req.has_body = r->body != NULL;
    raw.sign_flags = sigv4_service_flags(r->service);
    if (build(&raw, r, &u, msg, msglen) != 0)
        goto out;
    raw.url = r->url;
    raw.host = buf_cstr(&u.host);
    raw.service = r->service;
    raw.region = r->region ? r->region : iot_client_region(client);
    raw.parse_error = parse_error;
    struct iot_call_opts opts = {r->timeout_ms};
    rc = iot_call_start_raw(client, &raw, &opts, user, id_out, msg, msglen);
out:
    iot_request_free(&raw.req);     /* taken over by a started call: empty then */
    buf_free(&u.host);
    buf_free(&u.path);
    buf_free(&u.query);
    return rc;
}
