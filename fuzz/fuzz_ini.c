/*
 * fuzz_ini.c — libFuzzer target for the AWS config-file parser (runtime/ini.c).
 *
 * Any input: ini_parse returns 0 or -1 without a sanitizer report, the result can be
 * walked and freed in both cases, and every key of a parsed file can be found again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ini_file f;
    struct ini_error e;
    int rc = ini_parse((const char *)data, size, &f, &e);
    for (size_t i = 0; i < f.nsections; i++) {
        const struct ini_section *s = &f.sections[i];
        if (rc == 0 && ini_find_section(&f, s->name) != s)
            abort();                      /* sections are unique */
        for (size_t k = 0; k < s->npairs; k++) {
            const struct ini_pair *p = &s->pairs[k];
            if (rc == 0 && ini_find_pair(s, p->key) != p)
                abort();
            sink += p->value ? strlen(p->value) : 0;
            for (size_t j = 0; j < p->nsub; j++)
                sink += ini_get_sub(s, p->key, p->sub[j].key) != NULL;
        }
    }
    if (rc != 0 && !e.message[0])
        abort();
    ini_free(&f);
    return 0;
}
