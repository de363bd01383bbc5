/*
 * fixture.h — reading the test fixtures (spec/fixtures) from the C unit tests.
 *
 *   char path[1024];
 *   snprintf(path, sizeof path, "%s/endpoints/partitions.json", fixtures());
 *   size_t len;
 *   char *text = slurp(path, &len);     // free() it; NULL when the file cannot be opened
 *
 * fixtures() is $IOTLUA_FIXTURES (set by ctest), else "spec/fixtures" relative to the
 * working directory.
 */
#ifndef IOTLUA_FIXTURE_H
#define IOTLUA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

static inline const char *fixtures(void)
{
    const char *f = getenv("IOTLUA_FIXTURES");
    return f ? f : "spec/fixtures";
}

/* Reads a whole file into a NUL-terminated malloc'd string; NULL when it cannot be
 * opened. *len_out (when len_out is not NULL) gets the length without the NUL. */
static inline char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    if (len_out)
        *len_out = b.len;
    return buf_steal(&b);
}

#endif
