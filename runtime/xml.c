/*
 * xml.c — the minimal XML reader of AWS answers (xml.h).
 */
#include "xml.h"

#include <stdio.h>
#include <string.h>

/* The first start tag, then the first end tag after it: no nesting of the same tag. */
int xml_element(const char *xml, size_t len, const char *tag, const char **start_out,
                size_t *n_out)
{
    char open[64], close[64];
    int ol = snprintf(open, sizeof open, "<%s>", tag);
    int cl = snprintf(close, sizeof close, "</%s>", tag);
    const char *end = xml + len;
    for (const char *p = xml; p && p + ol <= end; p = memchr(p + 1, '<', (size_t)(end - p - 1))) {
        if (memcmp(p, open, (size_t)ol) != 0)
            continue;
        const char *body = p + ol;
        for (const char *q = body; q && q + cl <= end;
             q = memchr(q + 1, '<', (size_t)(end - q - 1))) {
            if (memcmp(q, close, (size_t)cl) == 0) {
                *start_out = body;
                *n_out = (size_t)(q - body);
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

int xml_text(struct buf *out, const char *s, size_t n)
{
    static const struct { const char *name; char c; } ENTITIES[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
    };
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        size_t skip = 0;
        for (size_t e = 0; c == '&' && !skip && e < sizeof ENTITIES / sizeof ENTITIES[0]; e++) {
            size_t el = strlen(ENTITIES[e].name);
            if (n - i >= el && memcmp(s + i, ENTITIES[e].name, el) == 0) {
                c = ENTITIES[e].c;
                skip = el - 1;
            }
        }
        if (c == '&' && !skip && n - i >= 4 && s[i + 1] == '#') {
            size_t j = i + 2;
            unsigned v = 0;
            while (j < n && j < i + 6 && s[j] >= '0' && s[j] <= '9')
                v = v * 10 + (unsigned)(s[j++] - '0');
            if (j < n && s[j] == ';' && j > i + 2 && v > 0 && v < 128) {
                c = (char)v;
                skip = j - i;
            }
        }
        if (buf_append_char(out, c) != 0)
            return -1;
        i += skip;
    }
    return 0;
}

int xml_field(const char *xml, size_t len, const char *tag, struct buf *out)
{
    const char *s;
    size_t n;
    buf_reset(out);
    if (!xml_element(xml, len, tag, &s, &n))
        return 0;
    return xml_text(out, s, n) == 0 ? 1 : -1;
}
