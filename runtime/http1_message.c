/*
 * http1_message.c — HTTP/1.1 messages without sockets: the response parser (status line,
 * headers, Content-Length, chunked and close-delimited bodies, 1xx interim responses)
 * and the request writer. See http1.h.
 *
 * The parser takes bytes in any split; it never reads past the end of the response it
 * is parsing, so what is left over tells the caller the server sent something extra.
 */
#include "http1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ================================================================ response parser */

static void fail(struct h1_response *r, const char *error)
{
    r->state = H1_ERROR;
    r->error = error;
}

static void fail_too_large(struct h1_response *r, const char *error)
{
    r->too_large = 1;
    fail(r, error);
}

void h1_response_init(struct h1_response *r, struct buf *head, struct buf *body,
                      size_t max_body, int no_body)
{
    memset(r, 0, sizeof *r);
    r->head = head;
    r->body = body;
    r->max_body = max_body;
    r->no_body = no_body;
    r->state = H1_HEAD;
    buf_reset(head);
    buf_reset(body);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The value of a header line "Name: value", trimmed; NULL when the name differs. */
static const char *header_value(const char *line, size_t len, const char *name,
                                size_t *vlen_out)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return NULL;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && is_space(*v))
        v++;
    while (end > v && (is_space(end[-1]) || end[-1] == '\r'))
        end--;
    *vlen_out = (size_t)(end - v);
    return v;
}

/* 1 when the comma-separated list value holds token (any case). */
static int has_token(const char *v, size_t len, const char *token)
{
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (is_space(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_space(v[end - 1]))
            end--;
        if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0)
            return 1;
    }
    return 0;
}

static int parse_status_line(struct h1_response *r, const char *line, size_t len)
{
    /* "HTTP/1.1 200 OK": the reason phrase may be empty or missing. */
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++)
        if (line[i] < '0' || line[i] > '9')
            return -1;
    if (len > 12 && line[12] != ' ' && line[12] != '\r')
        return -1;
    r->version = line[7] == '1' ? 11 : 10;
    r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return r->status >= 100 ? 0 : -1;
}

static int parse_length(const char *v, size_t len, uint64_t *out)
{
    uint64_t n = 0;
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    *out = n;
    return 0;
}

struct framing {
    int has_length, chunked, close, keep_alive;
    uint64_t length;
};

static const char *read_header_line(struct framing *f, const char *line, size_t len)
{
    size_t vlen;
    const char *v;
    if (len == 0 || (len == 1 && line[0] == '\r'))
        return NULL;
    if (is_space(line[0]))
        return NULL;                    /* obsolete line folding: part of the last value */
    if (!memchr(line, ':', len))
        return "a response header line has no colon";
    if ((v = header_value(line, len, "Content-Length", &vlen)) != NULL) {
        uint64_t n;
        if (parse_length(v, vlen, &n) != 0)
            return "the response has an invalid Content-Length";
        if (f->has_length && n != f->length)
            return "the response has conflicting Content-Length headers";
        f->has_length = 1;
        f->length = n;
    } else if ((v = header_value(line, len, "Transfer-Encoding", &vlen)) != NULL) {
        if (!has_token(v, vlen, "chunked"))
            return "the response uses a transfer coding other than chunked";
        f->chunked = 1;
    } else if ((v = header_value(line, len, "Connection", &vlen)) != NULL) {
        f->close |= has_token(v, vlen, "close");
        f->keep_alive |= has_token(v, vlen, "keep-alive");
    }
    return NULL;
}

/* The head is complete in r->head: read the status and the framing headers. */
static void parse_head(struct h1_response *r)
{
    const char *p = r->head->data, *end = p + r->head->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t first = (size_t)(nl - p);
    if (parse_status_line(r, p, first > 0 && p[first - 1] == '\r' ? first - 1 : first) != 0) {
        fail(r, "the server's reply is not an HTTP/1.x response");
        return;
    }
    struct framing f = {0};
    for (p = nl + 1; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *error = read_header_line(&f, p, (size_t)(nl - p));
        if (error) {
            fail(r, error);
            return;
        }
    }
    if (r->status >= 100 && r->status < 200) {
        if (r->status == 101) {
            fail(r, "the server switched protocols (101), which was not asked for");
            return;
        }
        buf_reset(r->head);             /* an interim response: the real one follows */
        r->newline_seen = 0;
        return;
    }
    r->keep_alive = r->version == 11 ? !f.close : f.keep_alive && !f.close;
    if (r->no_body || r->status == 204 || r->status == 304) {
        r->state = H1_DONE;
    } else if (f.chunked) {
        r->chunked = 1;
        r->state = H1_CHUNK_SIZE;
    } else if (f.has_length) {
        if (f.length > r->max_body) {
            fail_too_large(r, "the response body is larger than the limit");
            return;
        }
        r->remaining = f.length;
        r->state = f.length ? H1_BODY_LENGTH : H1_DONE;
    } else {
        r->keep_alive = 0;
        r->state = H1_BODY_CLOSE;
    }
}

/* Where the head ends in data (just past its empty line), or 0 when it goes on. Lines
 * end in LF or CRLF; r->newline_seen carries "at the start of a line" across calls. */
static size_t find_head_end(struct h1_response *r, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (r->newline_seen) {
            if (data[i] == '\n')
                return i + 1;
            if (data[i] == '\r') {
                i++;
                continue;
            }
        }
        const char *nl = memchr(data + i, '\n', len - i);
        if (!nl) {
            r->newline_seen = 0;
            return 0;
        }
        i = (size_t)(nl - data) + 1;
        r->newline_seen = 1;
    }
    return 0;
}

/* Bytes of the head, up to and including its empty line. */
static size_t feed_head(struct h1_response *r, const char *data, size_t len)
{
    size_t end = find_head_end(r, data, len);
    size_t i = end ? end : len;
    if (r->head->len + i > H1_MAX_HEAD_BYTES) {
        fail_too_large(r, "the response headers are larger than 1 MiB");
        return i;
    }
    if (r->head->len == 0 && i > 0 && data[0] != 'H') {
        fail(r, "the server's reply is not an HTTP/1.x response");
        return i;
    }
    if (buf_append(r->head, data, i) != 0) {
        fail(r, "out of memory");
        return i;
    }
    if (end)
        parse_head(r);
    return i;
}

static size_t feed_body_bytes(struct h1_response *r, const char *data, size_t len)
{
    size_t n = len;
    if (r->state != H1_BODY_CLOSE && (uint64_t)n > r->remaining)
        n = (size_t)r->remaining;
    if (r->body->len + n > r->max_body) {
        fail_too_large(r, "the response body is larger than the limit");
        return n;
    }
    if (buf_append(r->body, data, n) != 0) {
        fail(r, "out of memory");
        return n;
    }
    if (r->state == H1_BODY_CLOSE)
        return n;
    r->remaining -= n;
    if (r->remaining == 0)
        r->state = r->state == H1_CHUNK_DATA ? H1_CHUNK_END : H1_DONE;
    return n;
}

/* Collect one line into r->line; returns bytes used and sets *complete at its end. */
static size_t feed_line(struct h1_response *r, const char *data, size_t len, int *complete)
{
    size_t i = 0;
    *complete = 0;
    while (i < len) {
        char c = data[i++];
        if (c == '\n') {
            *complete = 1;
            break;
        }
        if (r->line_len + 1 >= sizeof r->line) {
            fail(r, "a chunk line of the response is too long");
            return i;
        }
        r->line[r->line_len++] = c;
    }
    return i;
}

static void parse_chunk_size(struct h1_response *r)
{
    uint64_t n = 0;
    size_t i = 0, digits = 0;
    for (; i < r->line_len; i++, digits++) {
        char c = r->line[i];
        int v = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            break;
        if (digits >= 15) {
            fail_too_large(r, "a chunk of the response is larger than the limit");
            return;
        }
        n = n * 16 + (uint64_t)v;
    }
    while (i < r->line_len && is_space(r->line[i]))
        i++;
    if (digits == 0 || (i < r->line_len && r->line[i] != ';' && r->line[i] != '\r')) {
        fail(r, "the response has an invalid chunk-size line");
        return;
    }
    r->remaining = n;
    r->state = n ? H1_CHUNK_DATA : H1_TRAILER;
}

static size_t feed_chunk_line(struct h1_response *r, const char *data, size_t len)
{
    int complete;
    size_t used = feed_line(r, data, len, &complete);
    if (!complete || r->state == H1_ERROR)
        return used;
    if (r->state == H1_CHUNK_SIZE) {
        parse_chunk_size(r);
    } else if (!(r->line_len == 0 || (r->line_len == 1 && r->line[0] == '\r'))) {
        fail(r, "a chunk of the response is longer than its size line says");
    } else {
        r->state = H1_CHUNK_SIZE;       /* the CRLF after a chunk's data */
    }
    r->line_len = 0;
    return used;
}

static size_t feed_trailer(struct h1_response *r, const char *data, size_t len)
{
    /* Trailer lines may be longer than r->line: only the line's start is kept. */
    size_t i = 0;
    while (i < len && r->state == H1_TRAILER) {
        char c = data[i++];
        if (c == '\n') {
            int empty = r->line_len == 0 || (r->line_len == 1 && r->line[0] == '\r');
            r->line_len = 0;
            if (empty)
                r->state = H1_DONE;
        } else if (++r->trailer_bytes > H1_MAX_HEAD_BYTES) {
            fail_too_large(r, "the response trailers are larger than 1 MiB");
        } else if (r->line_len < 2) {
            r->line[r->line_len++] = c;
        } else {
            r->line_len = 2;            /* a long line: no longer an empty one */
        }
    }
    return i;
}

size_t h1_response_feed(struct h1_response *r, const char *data, size_t len)
{
    size_t used = 0;
    while (used < len) {
        const char *p = data + used;
        size_t n = len - used;
        switch (r->state) {
        case H1_HEAD:
            used += feed_head(r, p, n);
            break;
        case H1_BODY_LENGTH:
        case H1_CHUNK_DATA:
        case H1_BODY_CLOSE:
            used += feed_body_bytes(r, p, n);
            break;
        case H1_CHUNK_SIZE:
        case H1_CHUNK_END:
            used += feed_chunk_line(r, p, n);
            break;
        case H1_TRAILER:
            used += feed_trailer(r, p, n);
            break;
        case H1_DONE:
        case H1_ERROR:
            return used;
        }
    }
    return used;
}

int h1_response_eof(struct h1_response *r)
{
    if (r->state == H1_BODY_CLOSE) {
        r->state = H1_DONE;
        return 0;
    }
    if (r->state == H1_DONE)
        return 0;
    if (r->state != H1_ERROR)
        fail(r, r->state == H1_HEAD ? "the connection closed in the middle of the response "
                                      "headers"
                                    : "the connection closed before the whole response body "
                                      "arrived");
    return -1;
}

/* ================================================================ request writer */

static char *put(char *p, const void *bytes, size_t n)
{
    memcpy(p, bytes, n);
    return p + n;
}

static char *put_header(char *p, const char *name, size_t name_len, const char *value,
                        size_t value_len)
{
    p = put(p, name, name_len);
    p = put(p, ": ", 2);
    p = put(p, value, value_len);
    return put(p, "\r\n", 2);
}

/* The visible ASCII characters RFC 9110 calls delimiters: not allowed in a token. */
static const unsigned char is_delimiter[256] = {
    ['"'] = 1, ['('] = 1, [')'] = 1, [','] = 1, ['/'] = 1, [':'] = 1, [';'] = 1, ['<'] = 1,
    ['='] = 1, ['>'] = 1, ['?'] = 1, ['@'] = 1, ['['] = 1, ['\\'] = 1, [']'] = 1, ['{'] = 1,
    ['}'] = 1,
};

/* An RFC 9110 token character (what a header name is made of). */
static int is_token_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f && !is_delimiter[ch];
}

static int is_header_name(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_token_char((unsigned char)name[i]))
            return 0;
    return 1;
}

void h1_headers_reset(struct h1_headers *h)
{
    buf_reset(&h->lines);
    h->has_host = 0;
    h->has_user_agent = 0;
}

void h1_headers_free(struct h1_headers *h)
{
    buf_free(&h->lines);
    h1_headers_reset(h);
}

int h1_headers_add(struct h1_headers *h, const char *name, const char *value)
{
    size_t name_len = strlen(name), value_len = strlen(value);
    if (!is_header_name(name, name_len) || strpbrk(value, "\r\n"))
        return -2;
    /* A signed request's lines take about 400 bytes: one allocation, not three. */
    size_t need = name_len + value_len + 4;
    if (buf_reserve(&h->lines, h->lines.cap || need > 512 ? need : 512) != 0)
        return -1;
    char *end = put_header(h->lines.data + h->lines.len, name, name_len, value, value_len);
    h->lines.len = (size_t)(end - h->lines.data);
    h->lines.data[h->lines.len] = '\0';
    h->has_host |= name_len == 4 && strncasecmp(name, "Host", 4) == 0;
    h->has_user_agent |= name_len == 10 && strncasecmp(name, "User-Agent", 10) == 0;
    return 0;
}

const char *h1_headers_next(const struct h1_headers *h, const char *at, size_t *name_len,
                            const char **value, size_t *value_len)
{
    const char *end = h->lines.data + h->lines.len;
    if (!h->lines.data || at >= end)
        return NULL;
    const char *colon = memchr(at, ':', (size_t)(end - at));
    const char *eol = memchr(colon, '\r', (size_t)(end - colon));
    *name_len = (size_t)(colon - at);
    *value = colon + 2;
    *value_len = (size_t)(eol - *value);
    return eol + 2;
}

int h1_write_request(struct buf *out, const char *method, const char *target,
                     const char *host_port, const struct h1_headers *headers,
                     const char *user_agent, const char *body, size_t body_len, int has_body)
{
    if (strpbrk(method, "\r\n ") || strpbrk(target, "\r\n "))
        return -2;
    int has_host = headers && headers->has_host;
    int has_agent = headers && headers->has_user_agent;
    size_t listed = headers ? headers->lines.len : 0;
    char length[24];
    size_t length_len = has_body ? (size_t)snprintf(length, sizeof length, "%zu", body_len) : 0;
    size_t method_len = strlen(method), target_len = strlen(target);
    size_t host_len = has_host ? 0 : strlen(host_port);
    size_t agent_len = has_agent || !user_agent ? 0 : strlen(user_agent);
    size_t need = method_len + target_len + 12 + listed + (has_host ? 0 : host_len + 8) +
                  (agent_len ? agent_len + 14 : 0) + (has_body ? length_len + 18 : 0) + 2 +
                  (has_body ? body_len : 0);
    if (buf_reserve(out, need) != 0)
        return -1;
    char *p = out->data + out->len;
    p = put(p, method, method_len);
    p = put(p, " ", 1);
    p = put(p, target, target_len);
    p = put(p, " HTTP/1.1\r\n", 11);
    if (!has_host)
        p = put_header(p, "Host", 4, host_port, host_len);
    if (agent_len)
        p = put_header(p, "User-Agent", 10, user_agent, agent_len);
    if (listed)
        p = put(p, headers->lines.data, listed);
    if (has_body)
        p = put_header(p, "Content-Length", 14, length, length_len);
    p = put(p, "\r\n", 2);
    if (has_body && body_len)
        p = put(p, body, body_len);
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* ================================================================ URLs */

static int parse_port(const char *p, size_t len, int *port_out)
{
    int port = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        port = port * 10 + (p[i] - '0');
    }
    if (port < 1 || port > 65535)
        return -1;
    *port_out = port;
    return 0;
}

int h1_parse_url(const char *url, struct h1_url *out)
{
    int tls = strncasecmp(url, "https://", 8) == 0;
    if (!tls && strncasecmp(url, "http://", 7) != 0)
        return -1;
    const char *auth = url + (tls ? 8 : 7);
    size_t auth_len = strcspn(auth, "/?#");
    const char *host = auth, *port = NULL;
    size_t host_len = auth_len;
    if (memchr(auth, '@', auth_len))
        return -1;                      /* user info: leave it to libcurl */
    if (auth_len && auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (!close)
            return -1;
        host = auth + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < auth + auth_len) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', auth_len);
        if (colon) {
            host_len = (size_t)(colon - auth);
            port = colon + 1;
        }
    }
    if (host_len == 0 || host_len >= sizeof out->host || auth_len >= sizeof out->host_port)
        return -1;
    out->tls = tls;
    out->port = tls ? 443 : 80;
    if (port && parse_port(port, (size_t)(auth + auth_len - port), &out->port) != 0)
        return -1;
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    memcpy(out->host_port, auth, auth_len);
    out->host_port[auth_len] = '\0';
    out->target = auth[auth_len] == '/' ? auth + auth_len
                  : auth[auth_len] == '?' ? NULL : "/";
    if (!out->target || strchr(auth + auth_len, '#'))
        return -1;                      /* "http://h?q" or a fragment: leave it to libcurl */
    return 0;
}
