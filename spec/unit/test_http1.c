/*
 * test_http1.c — the native HTTP/1.1 transport's message layer (runtime/http1_message.c):
 * the response parser fed whole and in every split, the request writer and the URL
 * splitter. The transport's sockets are covered end to end by test_http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http1.h"

struct parsed {
    struct buf head, body;
    struct h1_response r;
    size_t used;
};

static void parse_with(struct parsed *p, const char *text, size_t len, size_t max_body,
                       int no_body)
{
    memset(p, 0, sizeof *p);
    h1_response_init(&p->r, &p->head, &p->body, max_body, no_body);
    p->used = h1_response_feed(&p->r, text, len);
}

static void parse(struct parsed *p, const char *text)
{
    parse_with(p, text, strlen(text), 1 << 20, 0);
}

static void done(struct parsed *p)
{
    buf_free(&p->head);
    buf_free(&p->body);
}

/* Feeding text in two pieces, split at every position, gives the same as whole. */
static void check_every_split(const char *text, int status, const char *body, int keep_alive)
{
    size_t len = strlen(text);
    int all_ok = 1;
    for (size_t cut = 0; cut <= len; cut++) {
        struct parsed p;
        memset(&p, 0, sizeof p);
        h1_response_init(&p.r, &p.head, &p.body, 1 << 20, 0);
        size_t used = h1_response_feed(&p.r, text, cut);
        used += h1_response_feed(&p.r, text + cut, len - cut);
        int ok = p.r.state == H1_DONE && used == len && p.r.status == status &&
                 p.body.len == strlen(body) && memcmp(buf_cstr(&p.body), body, p.body.len) == 0 &&
                 p.r.keep_alive == keep_alive;
        if (!ok) {
            fprintf(stderr, "split at %zu of %s: state %d used %zu status %d body '%s'\n", cut,
                    text, (int)p.r.state, used, p.r.status, buf_cstr(&p.body));
            all_ok = 0;
        }
        done(&p);
    }
    CHECK(all_ok);
}

static void test_content_length(void)
{
    const char *text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       "Content-Length: 16\r\nx-amzn-RequestId: abc\r\n\r\n{\"message\":\"OK\"}";
    struct parsed p;
    parse(&p, text);
    CHECK_INT_EQ(p.r.state, H1_DONE);
    CHECK_INT_EQ(p.r.status, 200);
    CHECK_INT_EQ(p.r.version, 11);
    CHECK_INT_EQ(p.r.keep_alive, 1);
    CHECK_INT_EQ(p.used, strlen(text));
    CHECK_STR_EQ(buf_cstr(&p.body), "{\"message\":\"OK\"}");
    /* the head is kept as received, status line first, empty line last */
    CHECK_STR_EQ(buf_cstr(&p.head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 16\r\nx-amzn-RequestId: abc\r\n\r\n");
    done(&p);
    check_every_split(text, 200, "{\"message\":\"OK\"}", 1);
    check_every_split("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", 404, "", 1);
    /* a reason phrase may be missing; LF-only line ends are read too */
    check_every_split("HTTP/1.1 503\r\nContent-Length: 2\r\n\r\nno", 503, "no", 1);
    check_every_split("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 200, "ok", 1);
}

static void test_extra_bytes_are_left(void)
{
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
    struct parsed p;
    parse(&p, text);
    CHECK_INT_EQ(p.r.state, H1_DONE);
    CHECK_INT_EQ(p.used, strlen(text) - 5);
    CHECK_STR_EQ(buf_cstr(&p.body), "ok");
    done(&p);
}

static void test_chunked(void)
{
    const char *text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\n"
                       "X-Trailer: yes\r\n\r\n";
    check_every_split(text, 200, "hello 0123456789", 1);
    check_every_split("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                      200, "", 1);
    struct parsed p;
    parse(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_STR_CONTAINS(p.r.error, "chunk-size");
    done(&p);
    parse(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n");
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_STR_CONTAINS(p.r.error, "longer than its size line");
    done(&p);
    parse(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_STR_CONTAINS(p.r.error, "transfer coding");
    done(&p);
    /* a chunk size beyond any limit is refused before it is read */
    parse(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n");
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_INT_EQ(p.r.too_large, 1);
    done(&p);
}

static void test_close_delimited_and_eof(void)
{
    struct parsed p;
    parse(&p, "HTTP/1.0 200 OK\r\n\r\nall of");
    CHECK_INT_EQ(p.r.state, H1_BODY_CLOSE);
    CHECK_INT_EQ(p.r.keep_alive, 0);
    CHECK_INT_EQ(h1_response_feed(&p.r, " it", 3), 3);
    CHECK_INT_EQ(h1_response_eof(&p.r), 0);
    CHECK_INT_EQ(p.r.state, H1_DONE);
    CHECK_STR_EQ(buf_cstr(&p.body), "all of it");
    done(&p);
    /* HTTP/1.0 keeps the connection only when asked; Connection: close ends 1.1's */
    check_every_split("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx",
                      200, "x", 1);
    check_every_split("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, "x", 0);
    check_every_split("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1"
                      "\r\n\r\nx", 200, "x", 0);
    /* truncated: in the head, in a sized body, in a chunk */
    const char *cut[] = {"HTTP/1.1 200 OK\r\nContent-Le",
                         "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"};
    const char *why[] = {"middle of the response headers", "whole response body",
                         "whole response body"};
    for (int i = 0; i < 3; i++) {
        parse(&p, cut[i]);
        CHECK_INT_EQ(h1_response_eof(&p.r), -1);
        CHECK_INT_EQ(p.r.state, H1_ERROR);
        CHECK_STR_CONTAINS(p.r.error, why[i]);
        done(&p);
    }
}

static void test_no_body_responses(void)
{
    struct parsed p;
    parse_with(&p, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", 40, 1 << 20, 1);
    CHECK_INT_EQ(p.r.state, H1_DONE);     /* HEAD: the length is the resource's */
    CHECK_INT_EQ(p.body.len, 0);
    done(&p);
    check_every_split("HTTP/1.1 204 No Content\r\n\r\n", 204, "", 1);
    check_every_split("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 304, "", 1);
}

static void test_interim_responses(void)
{
    const char *text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                       "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx";
    check_every_split(text, 201, "x", 1);
    struct parsed p;
    parse(&p, text);
    CHECK_STR_EQ(buf_cstr(&p.head), "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n");
    done(&p);
    parse(&p, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n");
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_STR_CONTAINS(p.r.error, "101");
    done(&p);
}

static void test_bad_heads(void)
{
    struct { const char *text, *why; } cases[] = {
        {"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x response"},
        {"\x16\x03\x01\x02\x00", "not an HTTP/1.x response"},
        {"HTTP/2 200\r\n\r\n", "not an HTTP/1.x response"},
        {"HTTP/1.1 20 OK\r\n\r\n", "not an HTTP/1.x response"},
        {"HTTP/1.1 099 Low\r\n\r\n", "not an HTTP/1.x response"},
        {"HTTP/1.1 200OK\r\n\r\n", "not an HTTP/1.x response"},
        {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "no colon"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "conflicting"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct parsed p;
        parse(&p, cases[i].text);
        CHECK_INT_EQ(p.r.state, H1_ERROR);
        CHECK_STR_CONTAINS(p.r.error, cases[i].why);
        CHECK_INT_EQ(p.r.too_large, 0);
        done(&p);
    }
    /* the same length twice is fine; a folded line continues the last header */
    check_every_split("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n"
                      "X-Long: a\r\n  b\r\n\r\nx", 200, "x", 1);
}

static void test_limits(void)
{
    struct parsed p;
    parse_with(&p, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 39, 10, 0);
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_INT_EQ(p.r.too_large, 1);
    done(&p);
    const char *chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n";
    parse_with(&p, chunks, strlen(chunks), 10, 0);
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_INT_EQ(p.r.too_large, 1);
    done(&p);
    parse_with(&p, "HTTP/1.0 200 OK\r\n\r\n0123456789A", 30, 10, 0);
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_INT_EQ(p.r.too_large, 1);
    done(&p);
    /* headers over 1 MiB */
    size_t big = H1_MAX_HEAD_BYTES + 100;
    char *text = malloc(big);
    CHECK_REQUIRE(text != NULL);
    memcpy(text, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
    memset(text + 24, 'a', big - 24);
    memset(&p, 0, sizeof p);
    h1_response_init(&p.r, &p.head, &p.body, 1 << 20, 0);
    for (size_t off = 0; off < big && p.r.state == H1_HEAD; off += 4096)
        h1_response_feed(&p.r, text + off, big - off < 4096 ? big - off : 4096);
    CHECK_INT_EQ(p.r.state, H1_ERROR);
    CHECK_INT_EQ(p.r.too_large, 1);
    CHECK_STR_CONTAINS(p.r.error, "1 MiB");
    done(&p);
    free(text);
}

/* ================================================================ request writer */

static int64_t count_headers(const struct h1_headers *h)
{
    int64_t n = 0;
    size_t name_len, value_len;
    const char *value;
    for (const char *at = h->lines.data;
         (at = h1_headers_next(h, at, &name_len, &value, &value_len)) != NULL;)
        n++;
    return n;
}

static void add_headers(struct h1_headers *h, const char *const *pairs)
{
    for (; pairs[0]; pairs += 2)
        CHECK_INT_EQ(h1_headers_add(h, pairs[0], pairs[1]), 0);
}

static void test_request_writer(void)
{
    struct h1_headers h = {BUF_INIT, 0, 0};
    add_headers(&h, (const char *const[]){"Host", "127.0.0.1:8443",
                                          "X-Amz-Date", "20260101T000000Z",
                                          "X-Empty", "", NULL});
    CHECK_INT_EQ(count_headers(&h), 3);
    struct buf out = BUF_INIT;
    CHECK_INT_EQ(h1_write_request(&out, "POST", "/topics/a%2Fb?qos=1", "ignored:1", &h, "ua/1",
                                  "{}", 2, 1), 0);
    CHECK_STR_EQ(buf_cstr(&out), "POST /topics/a%2Fb?qos=1 HTTP/1.1\r\n"
                                 "User-Agent: ua/1\r\n"
                                 "Host: 127.0.0.1:8443\r\n"
                                 "X-Amz-Date: 20260101T000000Z\r\n"
                                 "X-Empty: \r\n"
                                 "Content-Length: 2\r\n\r\n{}");
    buf_reset(&out);
    /* reset keeps nothing of the last request's lines */
    h1_headers_reset(&h);
    CHECK_INT_EQ(count_headers(&h), 0);
    /* no Host in the list: from the URL; a listed User-Agent wins; GET has no length */
    add_headers(&h, (const char *const[]){"user-agent", "mine", NULL});
    CHECK_INT_EQ(h1_write_request(&out, "GET", "/", "[::1]:80", &h, "ua/1", NULL, 0, 0), 0);
    CHECK_STR_EQ(buf_cstr(&out), "GET / HTTP/1.1\r\nHost: [::1]:80\r\nuser-agent: mine\r\n\r\n");
    buf_reset(&out);
    /* an empty body that is sent still says so */
    CHECK_INT_EQ(h1_write_request(&out, "POST", "/", "h", NULL, NULL, NULL, 0, 1), 0);
    CHECK_STR_EQ(buf_cstr(&out), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    buf_reset(&out);
    /* header injection and names that are not tokens are refused, and add nothing */
    size_t before = h.lines.len;
    CHECK_INT_EQ(h1_headers_add(&h, "X-A", "1\r\nX-B: 2"), -2);
    CHECK_INT_EQ(h1_headers_add(&h, "X-A", "1\n"), -2);
    CHECK_INT_EQ(h1_headers_add(&h, "", "1"), -2);
    CHECK_INT_EQ(h1_headers_add(&h, "X A", "1"), -2);
    CHECK_INT_EQ(h1_headers_add(&h, "X-A:", "1"), -2);
    CHECK_INT_EQ(h1_headers_add(&h, "X\\A", "1"), -2);
    CHECK_INT_EQ(h1_headers_add(&h, "X{A}", "1"), -2);
    CHECK_INT_EQ(h1_headers_add(&h, "X-\x7f", "1"), -2);
    CHECK_INT_EQ((int64_t)h.lines.len, (int64_t)before);
    CHECK_INT_EQ(count_headers(&h), 1);
    CHECK_INT_EQ(h1_write_request(&out, "GET", "/a b", "h", NULL, NULL, NULL, 0, 0), -2);
    CHECK_INT_EQ(h1_write_request(&out, "GET\r\n", "/", "h", NULL, NULL, NULL, 0, 0), -2);
    /* the walk gives every line back */
    add_headers(&h, (const char *const[]){"X-Empty", "", "X-Two", "a: b", NULL});
    const char *names[3] = {"user-agent", "X-Empty", "X-Two"}, *values[3] = {"mine", "", "a: b"};
    size_t i = 0, name_len, value_len;
    const char *value;
    for (const char *at = h.lines.data, *next;
         (next = h1_headers_next(&h, at, &name_len, &value, &value_len)) != NULL; at = next, i++) {
        CHECK(i < 3);
        if (i >= 3)
            break;
        CHECK_INT_EQ((int64_t)name_len, (int64_t)strlen(names[i]));
        CHECK(strncmp(at, names[i], name_len) == 0);
        CHECK_INT_EQ((int64_t)value_len, (int64_t)strlen(values[i]));
        CHECK(strncmp(value, values[i], value_len) == 0);
    }
    CHECK_INT_EQ((int64_t)i, 3);
    h1_headers_free(&h);
    buf_free(&out);
}

/* ================================================================ URLs */

static void test_urls(void)
{
    struct h1_url u;
    CHECK_INT_EQ(h1_parse_url("http://127.0.0.1:8443/topics/x?qos=1", &u), 0);
    CHECK_STR_EQ(u.host, "127.0.0.1");
    CHECK_STR_EQ(u.host_port, "127.0.0.1:8443");
    CHECK_INT_EQ(u.port, 8443);
    CHECK_STR_EQ(u.target, "/topics/x?qos=1");
    CHECK_INT_EQ(h1_parse_url("HTTP://localhost", &u), 0);
    CHECK_STR_EQ(u.host, "localhost");
    CHECK_INT_EQ(u.port, 80);
    CHECK_STR_EQ(u.target, "/");
    CHECK_INT_EQ(h1_parse_url("http://[::1]:9000/p", &u), 0);
    CHECK_STR_EQ(u.host, "::1");
    CHECK_STR_EQ(u.host_port, "[::1]:9000");
    CHECK_INT_EQ(u.port, 9000);
    CHECK_INT_EQ(h1_parse_url("http://[::1]/p", &u), 0);
    CHECK_INT_EQ(u.port, 80);
    CHECK_INT_EQ(u.tls, 0);
    CHECK_INT_EQ(h1_parse_url("https://127.0.0.1/p", &u), 0);
    CHECK_INT_EQ(u.tls, 1);
    CHECK_INT_EQ(u.port, 443);
    CHECK_STR_EQ(u.host_port, "127.0.0.1");
    CHECK_INT_EQ(h1_parse_url("HTTPS://localhost:8443", &u), 0);
    CHECK_INT_EQ(u.port, 8443);
    const char *refused[] = {"httpx://h/", "https://", "http://", "http://:80/", "http://h:0/",
                             "http://h:65536/", "http://h:8x/", "http://u:p@h/", "http://[::1/",
                             "http://[::1]x/", "http://h?q=1", "http://h/p#frag", "ftp://h/"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int rc = h1_parse_url(refused[i], &u);
        if (rc != -1)
            fprintf(stderr, "accepted: %s\n", refused[i]);
        CHECK_INT_EQ(rc, -1);
    }
}

int main(void)
{
    test_content_length();
    test_extra_bytes_are_left();
    test_chunked();
    test_close_delimited_and_eof();
    test_no_body_responses();
    test_interim_responses();
    test_bad_heads();
    test_limits();
    test_request_writer();
    test_urls();
    return CHECK_SUMMARY();
}
