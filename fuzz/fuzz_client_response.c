/*
 * fuzz_client_response.c — libFuzzer target for iot_response_parse (runtime/response.c):
 * a whole HTTP response (header block and body) → the result a call returns: headers,
 * request id, the output tree for 2xx (decoded along the operation's output shapes,
 * blobs base64-decoded) or the service error.
 *
 * Input: byte 0 picks the operation (modulo the model's count), byte 1 the status
 * (200/204/299 or an error status), then the header block up to the first "\r\n\r\n" and
 * the body after it. Must hold: no sanitizer report; a result for every input (memory
 * does not run out here); ok exactly when the status is 2xx and an output could be made;
 * every string in the tree and the headers readable to its length; a failed result has a
 * code; the request id is one of the headers' values (or "").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "operations.h"
#include "response.h"

static volatile unsigned char sink;

/* The end of the header block: the first "\r\n\r\n", or NULL. */
static const char *blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(s + i, "\r\n\r\n", 4) == 0)
            return s + i;
    return NULL;
}

static void touch(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sink ^= (unsigned char)s[i];
}

static void walk(const struct iot_out *o, int depth)
{
    if (depth > 200)
        abort();
    if (o->key)
        touch(o->key, strlen(o->key));
    switch (o->kind) {
    case IOT_OUT_STRING: touch(o->str, o->len); break;
    case IOT_OUT_LIST: case IOT_OUT_MAP:
        for (size_t i = 0; i < o->n; i++) {
            if (o->kind == IOT_OUT_MAP && !o->items[i].key)
                abort();
            walk(&o->items[i], depth + 1);
        }
        break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 204, 299, 400, 403, 404, 429, 500, 503, 302};
    if (size < 2 || iot_op_count() == 0)
        return 0;
    const struct iot_op *op = iot_op_at(data[0] % iot_op_count());
    long status = statuses[data[1] % (sizeof statuses / sizeof statuses[0])];
    const char *rest = (const char *)data + 2;
    size_t n = size - 2;
    const char *sep = blank_line(rest, n);
    size_t hlen = sep ? (size_t)(sep - rest) : 0;
    size_t boff = sep ? hlen + 4 : 0;
    char *head = malloc(hlen + 1), *body = malloc(n - boff + 1);
    if (!head || !body)
        abort();
    memcpy(head, rest, hlen);
    memcpy(body, rest + boff, n - boff);

    struct iot_result *r = iot_response_parse(op, status, head, hlen, body, n - boff);
    if (!r)
        abort();
    if (r->ok && (status < 200 || status > 299 || !r->output || r->error.code[0]))
        abort();
    if (!r->ok && !r->error.code[0])
        abort();
    if (r->body_len != n - boff || r->body[r->body_len] != '\0')
        abort();
    touch(r->body, r->body_len);
    int rid_found = r->request_id[0] == '\0';
    for (size_t i = 0; i < r->nheaders; i++) {
        touch(r->headers[i].name, strlen(r->headers[i].name));
        touch(r->headers[i].value, strlen(r->headers[i].value));
        rid_found |= r->headers[i].value == r->request_id;
    }
    if (!rid_found)
        abort();
    if (r->ok)
        walk(r->output, 0);
    char line[1024];
    iot_error_format(&r->error, line, sizeof line);
    iot_result_free(r);
    free(head);
    free(body);
    return 0;
}
