/*
 * error.c — the one readable line of an error (client.h: iot_error_line), shared by the
 * C callers of struct iot_error and by Lua's tostring(err).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "client.h"

void iot_error_empty(struct iot_error *err)
{
    err->code[0] = '\0';
    err->message[0] = '\0';
    err->status = 0;
    err->request_id[0] = '\0';
    err->operation = NULL;
    err->retryable = 0;
    err->attempts = 0;
}

void iot_error_set(struct iot_error *err, const char *code, const char *fmt, ...)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* Appends s[0..n) with every run of CR/LF replaced by one space. 0 / -1 (OOM). */
static int append_one_line(struct buf *b, const char *s, size_t n)
{
    int rc = 0;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] != '\r' && s[run] != '\n')
            run++;
        rc |= buf_append(b, s + i, run - i);
        if (run == n)
            break;
        rc |= buf_append_char(b, ' ');
        while (run < n && (s[run] == '\r' || s[run] == '\n'))
            run++;
        i = run;
    }
    return rc;
}

/* Appends one detail: " (" before the first, ", " before the others. 0 / -1 (OOM). */
__attribute__((format(printf, 3, 4)))
static int add_detail(struct buf *b, int *ndetails, const char *fmt, ...)
{
    int rc = buf_append_str(b, (*ndetails)++ ? ", " : " (");
    va_list ap;
    va_start(ap, fmt);
    rc |= buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int iot_error_line(struct buf *b, const struct iot_error_parts *p)
{
    int rc = buf_append_str(b, p->code && p->code[0] ? p->code : "Error");
    if (p->message && p->message_len) {
        rc |= buf_append_str(b, ": ");
        rc |= append_one_line(b, p->message, p->message_len);
    }
    int n = 0;
    if (p->status)
        rc |= add_detail(b, &n, "HTTP %ld", p->status);
    if (p->operation && p->operation[0])
        rc |= add_detail(b, &n, "%s", p->operation);
    if (p->request_id && p->request_id[0])
        rc |= add_detail(b, &n, "request %s", p->request_id);
    if (p->attempts > 0)
        rc |= add_detail(b, &n, "%ld attempt%s", p->attempts, p->attempts == 1 ? "" : "s");
    if (n)
        rc |= buf_append_char(b, ')');
    return rc ? -1 : 0;
}

size_t iot_error_format(const struct iot_error *err, char *out, size_t outlen)
{
    struct iot_error_parts parts = {err->code, err->message, strlen(err->message),
                                    err->status, err->operation, err->request_id,
                                    err->attempts};
    struct buf b = BUF_INIT;
    iot_error_line(&b, &parts);
    size_t n = b.len;
    if (out && outlen) {
        size_t k = n < outlen - 1 ? n : outlen - 1;
        memcpy(out, buf_cstr(&b), k);
        out[k] = '\0';
    }
    buf_free(&b);
    return n;
}
