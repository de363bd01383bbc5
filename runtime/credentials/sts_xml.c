/*
 * sts_xml.c — reading STS answers (sts.h): the Credentials element of an AssumeRole or
 * AssumeRoleWithWebIdentity response, or the code and message of an ErrorResponse. A
 * minimal reader for those documents (elements without attributes, the five named
 * entities and numeric ASCII references), bounded by the answer's length; fuzzed
 * (fuzz/fuzz_credentials_answers.c).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "sts.h"

/* The text of the first <tag>...</tag> in the n bytes at xml: 1 with *start and *n, or 0. */
static int xml_element(const char *xml, size_t len, const char *tag, const char **start,
                       size_t *n)
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
                *start = body;
                *n = (size_t)(q - body);
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

/* XML text with the five named entities and numeric ASCII references decoded. */
static int xml_text(struct buf *out, const char *s, size_t n)
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

/* The decoded text of <tag> inside [xml, xml+len) into out: 1, 0 when absent, -1 OOM. */
static int xml_field(const char *xml, size_t len, const char *tag, struct buf *out)
{
    const char *s;
    size_t n;
    buf_reset(out);
    if (!xml_element(xml, len, tag, &s, &n))
        return 0;
    return xml_text(out, s, n) == 0 ? 1 : -1;
}

static void sts_error(const char *xml, size_t len, const char *action,
                      char err_out[CRED_ERROR_LEN])
{
    struct buf code = BUF_INIT, msg = BUF_INIT;
    const char *err;
    size_t n;
    if (xml_element(xml, len, "Error", &err, &n) && xml_field(err, n, "Code", &code) == 1) {
        xml_field(err, n, "Message", &msg);
        cred_set_error(err_out, "STS %s failed: %.100s: %.400s", action, buf_cstr(&code),
                       msg.len ? buf_cstr(&msg) : "(no message)");
    } else {
        cred_set_error(err_out, "STS %s answered neither credentials nor an error", action);
    }
    buf_free(&code);
    buf_free(&msg);
}

int cred_sts_parse(const char *xml, size_t len, const char *action,
                   struct cred_credentials *out, char err_out[CRED_ERROR_LEN])
{
    const char *cr;
    size_t n;
    memset(out, 0, sizeof *out);
    if (!xml_element(xml, len, "Credentials", &cr, &n)) {
        sts_error(xml, len, action, err_out);
        return -1;
    }
    struct buf f[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    static const char *const TAGS[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                        "Expiration"};
    int rc = -1;
    time_t exp = 0;
    for (int i = 0; i < 4; i++) {
        if (xml_field(cr, n, TAGS[i], &f[i]) != 1 || f[i].len == 0 ||
            strlen(buf_cstr(&f[i])) != f[i].len) {
            cred_set_error(err_out, "STS %s answered Credentials without a usable %s", action,
                           TAGS[i]);
            goto out;
        }
    }
    if (cred_parse_rfc3339(buf_cstr(&f[3]), &exp) != 0)
        cred_set_error(err_out, "STS %s answered an Expiration that is not a time", action);
    else if (cred_credentials_set(out, buf_cstr(&f[0]), buf_cstr(&f[1]), buf_cstr(&f[2]), exp,
                                  "sts") != 0)
        cred_set_error(err_out, "out of memory");
    else
        rc = 0;
out:
    for (int i = 0; i < 4; i++) {
        if (f[i].data)
            OPENSSL_cleanse(f[i].data, f[i].cap);
        buf_free(&f[i]);
    }
    return rc;
}

