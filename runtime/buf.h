/*
 * buf.h — a growable byte buffer, the one string builder of the runtime and emulator.
 *
 * A buf owns its bytes; buf_free releases them. The data is always NUL-terminated so it
 * can be used as a C string when it holds text. Appends return 0, or -1 when memory
 * runs out (the buffer is then left as it was).
 */
#ifndef IOTLUA_BUF_H
#define IOTLUA_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;     /* NULL until the first append; then len bytes + a NUL */
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *bytes, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);              /* len = 0, memory kept */
void buf_free(struct buf *b);               /* back to BUF_INIT */
const char *buf_cstr(const struct buf *b);  /* "" for an empty buffer */
char *buf_steal(struct buf *b);             /* the caller owns the result; b is emptied */

#endif
