/* http_wire.c — the in-place HTTP/1.1 request parser of the emulator's server; see
 * http_wire.h. Where evhttp (which served plain HTTP before) had a particular answer for
 * odd input, the same answer is kept: unknown or lower-case methods 501, a version other
 * than 1.x 400, a head over 64 KiB 400, a body over 1 MiB 413, an Expect other than
 * 100-continue 417, a Transfer-Encoding other than chunked 400, a chunk size line that
 * is not hex digits (optionally followed by spaces: no extensions) 413, the first
 * Content-Length wins, "Connection" compared as a whole value. */
#include "http_wire.h"

#include <string.h>
#include <strings.h>

/* A header line as found, before anything is written into the buffer. */
struct raw_header {
    size_t name, name_len, value, value_len;
    bool folded;                    /* continued on further lines */
};

struct head {
    size_t method_len, target, target_len;
    struct raw_header h[HW_MAX_HEADERS];
    size_t n;
};

static const struct {
    const char *name;
    size_t len;
    enum hw_method type;
} methods[] = {
    {"GET", 3, HW_GET},         {"POST", 4, HW_POST},
    {"HEAD", 4, HW_HEAD},       {"PUT", 3, HW_PUT},
    {"DELETE", 6, HW_DELETE},   {"OPTIONS", 7, HW_OPTIONS},
    {"PATCH", 5, HW_PATCH},
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The end of the line starting at p (the '\n'), or NULL. *text_len_out excludes CR LF. */
static const char *line_end(const char *p, const char *end, size_t *text_len_out)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl)
        *text_len_out = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
    return nl;
}

/* "METHOD target HTTP/1.x": fills method, target and minor; 0, or the status to answer. */
static int request_line(const char *b, size_t n, struct head *h, struct hw_request *r)
{
    const char *sp1 = memchr(b, ' ', n), *sp2 = b + n;
    while (sp2 > b && sp2[-1] != ' ')
        sp2--;
    if (!sp1 || sp2 - 1 <= sp1)
        return 400;
    size_t vlen = n - (size_t)(sp2 - b);
    if (vlen != 8 || memcmp(sp2, "HTTP/1.", 7) != 0 || sp2[7] < '0' || sp2[7] > '9')
        return 400;
    r->minor = sp2[7] - '0';
    size_t t = (size_t)(sp1 - b) + 1, t_end = (size_t)(sp2 - b) - 1;
    while (t < t_end && b[t] == ' ')
        t++;
    while (t_end > t && b[t_end - 1] == ' ')
        t_end--;
    if (t == t_end)
        return 400;
    h->method_len = (size_t)(sp1 - b);
    h->target = t;
    h->target_len = t_end - t;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (methods[i].len == h->method_len && memcmp(b, methods[i].name, h->method_len) == 0) {
            r->method = methods[i].type;
            r->method_name = methods[i].name;
            return 0;
        }
    return 501;
}

/* One "name: value" line at b[off..off+n). A line starting with SP or HT continues the
 * previous value. 0, or 400. */
static int header_line(const char *b, size_t off, size_t n, struct head *h)
{
    const char *p = b + off;
    if (n && is_space(p[0]) && h->n) {
        struct raw_header *prev = &h->h[h->n - 1];
        size_t end = off + n;
        while (end > off && is_space(b[end - 1]))
            end--;
        if (end > off) {
            prev->value_len = end - prev->value;
            prev->folded = true;
        }
        return 0;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon || h->n == HW_MAX_HEADERS)
        return 400;
    struct raw_header *x = &h->h[h->n++];
    x->name = off;
    x->name_len = (size_t)(colon - p);
    while (x->name_len && is_space(p[x->name_len - 1]))
        x->name_len--;
    size_t v = (size_t)(colon - b) + 1, v_end = off + n;
    while (v < v_end && is_space(b[v]))
        v++;
    while (v_end > v && is_space(b[v_end - 1]))
        v_end--;
    x->value = v;
    x->value_len = v_end - v;
    x->folded = false;
    return 0;
}

/* Finds the end of the head and splits it; HW_MORE, HW_ERROR or HW_DONE (head only). */
static enum hw_result read_head(const char *b, size_t len, struct head *h, struct hw_request *r)
{
    const char *end = b + (len < HW_MAX_HEAD ? len : HW_MAX_HEAD), *p = b;
    size_t text;
    const char *nl = line_end(p, end, &text);
    if (!nl)
        goto more;
    if ((r->error_status = request_line(p, text, h, r)) != 0)
        return HW_ERROR;
    for (p = nl + 1;; p = nl + 1) {
        if (!(nl = line_end(p, end, &text)))
            goto more;
        if (text == 0)
            break;
        if ((r->error_status = header_line(b, (size_t)(p - b), text, h)) != 0)
            return HW_ERROR;
    }
    r->head_len = (size_t)(nl + 1 - b);
    return HW_DONE;
more:
    if (len >= HW_MAX_HEAD) {
        r->error_status = 400;
        return HW_ERROR;
    }
    return HW_MORE;
}

static const char *raw_value(const char *b, const struct head *h, const char *name,
                             size_t *len_out)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (h->h[i].name_len == n && strncasecmp(b + h->h[i].name, name, n) == 0) {
            *len_out = h->h[i].value_len;
            return b + h->h[i].value;
        }
    return NULL;
}

static bool value_is(const char *v, size_t n, const char *want)
{
    return v && n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/* Content-Length as strtoll read it for evhttp: optional sign, digits. -1 when malformed,
 * -2 when above the limit. */
static long long content_length(const char *v, size_t n)
{
    size_t i = 0;
    if (i < n && (v[i] == '+' || v[i] == '-'))
        i++;
    if (i == n || (v[0] == '-'))
        return -1;
    long long x = 0;
    for (; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        if (x > HW_MAX_BODY)
            return -2;
        x = x * 10 + (v[i] - '0');
    }
    return x > HW_MAX_BODY ? -2 : x;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 32);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Walks a chunked body at b[0..n) without changing it. HW_DONE with the decoded length
 * and the bytes it spans (trailers included), HW_MORE, or HW_ERROR. */
static enum hw_result scan_chunks(const char *b, size_t n, size_t *decoded_out,
                                  size_t *span_out, int *status_out)
{
    size_t pos = 0, total = 0, text;
    const char *end = b + (n < HW_MAX_CHUNKED ? n : HW_MAX_CHUNKED);
    for (;;) {
        const char *nl = line_end(b + pos, end, &text);
        if (!nl)
            goto more;
        size_t size = 0, digits = 0;
        for (; digits < text; digits++) {
            char c = b[pos + digits];
            int d = hex_digit(c);
            if (d < 0)
                break;
            size = size * 16 + (size_t)d;
            if (size > HW_MAX_BODY)
                goto too_large;
        }
        if (digits == 0 || (digits < text && b[pos + digits] != ' '))
            goto corrupt;               /* evhttp: no chunk extensions either */
        pos = (size_t)(nl + 1 - b);
        if (size == 0)
            break;
        if ((total += size) > HW_MAX_BODY)
            goto too_large;
        if ((size_t)(end - b) < pos + size + 1)
            goto more;
        pos += size;
        if (b[pos] == '\r')
            pos++;
        if ((size_t)(end - b) <= pos)
            goto more;
        if (b[pos++] != '\n')
            goto corrupt;
    }
    for (;;) {                      /* trailers, up to the empty line */
        const char *nl = line_end(b + pos, end, &text);
        if (!nl)
            goto more;
        pos = (size_t)(nl + 1 - b);
        if (text == 0)
            break;
    }
    *decoded_out = total;
    *span_out = pos;
    return HW_DONE;
more:
    if (n >= HW_MAX_CHUNKED)
        goto too_large;
    return HW_MORE;
too_large:
corrupt:                            /* evhttp answered a corrupt chunk as too large */
    *status_out = 413;
    return HW_ERROR;
}

/* Joins the chunks of a body already scanned (scan_chunks said HW_DONE) in place. */
static void join_chunks(char *b, size_t span)
{
    size_t in = 0, out = 0;
    for (;;) {
        size_t size = 0;
        for (;; in++) {
            char c = b[in];
            int d = hex_digit(c);
            if (d < 0)
                break;
            size = size * 16 + (size_t)d;
        }
        in = (size_t)((char *)memchr(b + in, '\n', span - in) - b) + 1;
        if (size == 0)
            return;
        memmove(b + out, b + in, size);
        out += size;
        in += size;
        in += b[in] == '\r';
        in++;
    }
}

/* The body's framing: sets body/body_len/consumed, or says HW_MORE/HW_ERROR. */
static enum hw_result read_body(char *buf, size_t len, const struct head *h, struct hw_request *r)
{
    size_t vlen;
    const char *te = raw_value(buf, h, "Transfer-Encoding", &vlen);
    if (te) {
        if (!value_is(te, vlen, "chunked")) {
            r->error_status = 400;
            return HW_ERROR;
        }
        size_t decoded, span;
        enum hw_result res = scan_chunks(buf + r->head_len, len - r->head_len, &decoded, &span,
                                         &r->error_status);
        if (res != HW_DONE)
            return res;
        join_chunks(buf + r->head_len, span);
        r->body = buf + r->head_len;
        r->body_len = decoded;
        r->consumed = r->head_len + span;
        return HW_DONE;
    }
    const char *cl = raw_value(buf, h, "Content-Length", &vlen);
    long long n = cl ? content_length(cl, vlen) : 0;
    if (n < 0) {
        r->error_status = n == -2 ? 413 : 400;
        return HW_ERROR;
    }
    if (len - r->head_len < (size_t)n)
        return HW_MORE;
    r->body = buf + r->head_len;
    r->body_len = (size_t)n;
    r->consumed = r->head_len + (size_t)n;
    return HW_DONE;
}

/* Connection and Expect, as evhttp read them. 0, or the status to answer. */
static int connection_rules(const char *buf, const struct head *h, struct hw_request *r)
{
    size_t n;
    const char *conn = raw_value(buf, h, "Connection", &n);
    r->close_requested = value_is(conn, n, "close");
    r->keep_alive = !r->close_requested && (r->minor >= 1 || value_is(conn, n, "keep-alive"));
    const char *expect = r->minor >= 1 ? raw_value(buf, h, "Expect", &n) : NULL;
    if (expect && !value_is(expect, n, "100-continue"))
        return 417;
    r->expect_continue = expect != NULL;
    return 0;
}

/* Writes the NULs and hands out the pointers of a complete request. */
static void finish(char *buf, const struct head *h, struct hw_request *r)
{
    buf[h->method_len] = '\0';
    r->target = buf + h->target;
    r->target[h->target_len] = '\0';
    for (size_t i = 0; i < h->n; i++) {
        const struct raw_header *x = &h->h[i];
        buf[x->name + x->name_len] = '\0';
        char *v = buf + x->value;
        for (size_t k = 0; x->folded && k < x->value_len; k++)  /* line breaks to spaces */
            if (v[k] == '\r' || v[k] == '\n')
                v[k] = ' ';
        v[x->value_len] = '\0';
        r->headers[i].name = buf + x->name;
        r->headers[i].value = v;
        r->name_len[i] = x->name_len;
    }
    r->nheaders = h->n;
}

enum hw_result hw_parse(char *buf, size_t len, struct hw_request *r)
{
    struct head h;
    h.n = 0;
    r->head_len = 0;
    r->nheaders = 0;
    r->error_status = 0;
    enum hw_result res = read_head(buf, len, &h, r);
    if (res != HW_DONE)
        return res;
    if ((r->error_status = connection_rules(buf, &h, r)) != 0)
        return HW_ERROR;
    if ((res = read_body(buf, len, &h, r)) != HW_DONE)
        return res;
    finish(buf, &h, r);
    return HW_DONE;
}

const char *hw_header(const struct hw_request *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->name_len[i] == n && strncasecmp(r->headers[i].name, name, n) == 0)
            return r->headers[i].value;
    return NULL;
}
