/*
 * ini.c — the AWS config/credentials file format (botocore's reading of it). See ini.h.
 *
 * One pass over the lines; each line is a blank, a comment, a section header, a
 * "key = value" line or a continuation (deeper indentation than the current key). A
 * value that starts on the following lines is then split into "subkey = value" pairs.
 */
#include "ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct ini_parser {
    struct ini_file *f;
    struct ini_error *err;
    int line;
    struct ini_section *sect;    /* current section, NULL before the first header */
    struct ini_pair *pair;       /* current key, NULL when continuation is impossible */
    size_t pair_indent;
    struct buf value;            /* the current key's value being built */
};

static int ierr(struct ini_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ierr(struct ini_parser *p, const char *fmt, ...)
{
    if (p->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
        p->err->line = p->line;
    }
    return -1;
}

static int ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims s[0..*n) in place: returns the new start, updates *n. */
static const char *trim(const char *s, size_t *n)
{
    while (*n && ws(*s))
        s++, (*n)--;
    while (*n && ws(s[*n - 1]))
        (*n)--;
    return s;
}

static char *dupn(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static void free_pair(struct ini_pair *pr)
{
    free(pr->key);
    free(pr->value);
    for (size_t i = 0; i < pr->nsub; i++)
        free_pair(&pr->sub[i]);
    free(pr->sub);
}

void ini_free(struct ini_file *f)
{
    for (size_t i = 0; i < f->nsections; i++) {
        struct ini_section *s = &f->sections[i];
        for (size_t k = 0; k < s->npairs; k++)
            free_pair(&s->pairs[k]);
        free(s->pairs);
        free(s->name);
    }
    free(f->sections);
    f->sections = NULL;
    f->nsections = 0;
}

/* ---------------------------------------------------------------- nested blocks */

/* Splits a value that starts with '\n' into "subkey = value" pairs (botocore's
 * _parse_nested: blank lines skipped, split at the first '=', both sides stripped). */
static int parse_nested(struct ini_parser *p, struct ini_pair *pr)
{
    const char *v = pr->value;
    size_t lines = 1;
    for (const char *c = v; *c; c++)
        lines += *c == '\n';
    pr->sub = calloc(lines, sizeof *pr->sub);
    if (!pr->sub)
        return ierr(p, "out of memory");
    for (const char *ln = v; *ln;) {
        size_t n = strcspn(ln, "\n");
        const char *next = ln + n + (ln[n] == '\n');
        const char *t = trim(ln, &n);
        if (n) {
            const char *eq = memchr(t, '=', n);
            if (!eq)
                return ierr(p, "in the block under '%s': line \"%.*s\" is not 'key = value'",
                            pr->key, (int)(n > 60 ? 60 : n), t);
            size_t kn = (size_t)(eq - t), vn = n - kn - 1;
            const char *k = trim(t, &kn), *val = trim(eq + 1, &vn);
            struct ini_pair *sp = &pr->sub[pr->nsub];
            sp->key = dupn(k, kn);
            sp->value = dupn(val, vn);
            pr->nsub++;
            if (!sp->key || !sp->value)
                return ierr(p, "out of memory");
        }
        ln = next;
    }
    return 0;
}

/* Stores the value built for the current key (trailing blank lines dropped). */
static int finish_pair(struct ini_parser *p)
{
    if (!p->pair)
        return 0;
    struct ini_pair *pr = p->pair;
    while (p->value.len && p->value.data[p->value.len - 1] == '\n')
        p->value.data[--p->value.len] = '\0';
    pr->value = buf_steal(&p->value);
    p->pair = NULL;
    if (!pr->value)
        return ierr(p, "out of memory");
    return pr->value[0] == '\n' ? parse_nested(p, pr) : 0;
}

/* ---------------------------------------------------------------- line kinds */

static int grow(void **v, size_t n, size_t size)
{
    /* Capacity doubles at powers of two; n is the current count. */
    if (n && (n & (n - 1)))
        return 0;
    void *np = realloc(*v, (n ? n * 2 : 1) * size);
    if (!np)
        return -1;
    *v = np;
    return 0;
}

static int section_line(struct ini_parser *p, const char *s, size_t n)
{
    const char *close = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ']')
            close = s + i;
    if (!close || close == s + 1)
        return ierr(p, "section header must be [name]");
    size_t nn = (size_t)(close - s - 1);
    const char *name = s + 1;           /* kept verbatim, as botocore does */
    for (size_t i = 0; i < p->f->nsections; i++)
        if (strlen(p->f->sections[i].name) == nn &&
            memcmp(p->f->sections[i].name, name, nn) == 0)
            return ierr(p, "duplicate section [%.*s]", (int)nn, name);
    if (grow((void **)&p->f->sections, p->f->nsections, sizeof *p->f->sections) != 0)
        return ierr(p, "out of memory");
    struct ini_section *sec = &p->f->sections[p->f->nsections];
    memset(sec, 0, sizeof *sec);
    if (!(sec->name = dupn(name, nn)))
        return ierr(p, "out of memory");
    p->f->nsections++;
    p->sect = sec;
    return 0;
}

static int key_line(struct ini_parser *p, const char *s, size_t n, size_t indent)
{
    size_t sep = 0;
    while (sep < n && s[sep] != '=' && s[sep] != ':')
        sep++;
    if (sep >= n)
        return ierr(p, "expected 'key = value', '[section]' or a comment");
    if (!p->sect)
        return ierr(p, "'key = value' before any [section]");
    size_t kn = sep, vn = n - sep - 1;
    const char *k = trim(s, &kn), *v = trim(s + sep + 1, &vn);
    if (kn == 0)
        return ierr(p, "empty key");
    char *key = dupn(k, kn);
    if (!key)
        return ierr(p, "out of memory");
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (ini_find_pair(p->sect, key)) {
        ierr(p, "duplicate key '%s' in section [%s]", key, p->sect->name);
        free(key);
        return -1;
    }
    if (grow((void **)&p->sect->pairs, p->sect->npairs, sizeof *p->sect->pairs) != 0) {
        free(key);
        return ierr(p, "out of memory");
    }
    struct ini_pair *pr = &p->sect->pairs[p->sect->npairs++];
    memset(pr, 0, sizeof *pr);
    pr->key = key;
    p->pair = pr;
    p->pair_indent = indent;
    return buf_append(&p->value, v, vn) == 0 ? 0 : ierr(p, "out of memory");
}

static int one_line(struct ini_parser *p, const char *s, size_t n)
{
    size_t indent = 0;
    while (indent < n && ws(s[indent]))
        indent++;
    size_t tn = n - indent;
    const char *t = trim(s + indent, &tn);
    if (tn == 0) {                       /* blank: kept inside a value, dropped at its end */
        if (p->pair && buf_append_char(&p->value, '\n') != 0)
            return ierr(p, "out of memory");
        return 0;
    }
    if (t[0] == '#' || t[0] == ';')
        return 0;
    if (p->pair && indent > p->pair_indent) {   /* continuation of the current value */
        if (buf_append_char(&p->value, '\n') != 0 || buf_append(&p->value, t, tn) != 0)
            return ierr(p, "out of memory");
        return 0;
    }
    if (finish_pair(p) != 0)
        return -1;
    if (t[0] == '[')
        return section_line(p, t, tn);
    return key_line(p, t, tn, indent);
}

int ini_parse(const char *text, size_t len, struct ini_file *out, struct ini_error *err)
{
    struct ini_parser p = {out, err, 0, NULL, NULL, 0, BUF_INIT};
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (err) {
        err->line = 0;
        err->message[0] = '\0';
    }
    if (len > INI_MAX_SIZE)
        return ierr(&p, "file larger than %u bytes", INI_MAX_SIZE);
    for (size_t pos = 0; rc == 0 && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        p.line++;
        if (memchr(text + pos, '\0', n))
            rc = ierr(&p, "NUL byte in line");
        else
            rc = one_line(&p, text + pos, n);
        pos += n + 1;
    }
    if (rc == 0)
        rc = finish_pair(&p);
    buf_free(&p.value);
    return rc;
}

int ini_parse_file(const char *path, struct ini_file *out, struct ini_error *err)
{
    struct buf b = BUF_INIT;
    char chunk[8192];
    size_t n;
    memset(out, 0, sizeof *out);
    if (err) {
        err->line = 0;
        err->message[0] = '\0';
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 1;
        if (err)
            snprintf(err->message, sizeof err->message, "cannot read %s: %s", path,
                     strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0 && b.len <= INI_MAX_SIZE)
        if (buf_append(&b, chunk, n) != 0)
            break;
    int read_err = ferror(fp);
    fclose(fp);
    int rc = read_err ? -1 : ini_parse(buf_cstr(&b), b.len, out, err);
    if (read_err && err)
        snprintf(err->message, sizeof err->message, "cannot read %s", path);
    else if (rc != 0 && err) {
        struct buf m = BUF_INIT;
        buf_printf(&m, "%s:%d: %s", path, err->line, err->message);
        snprintf(err->message, sizeof err->message, "%s", buf_cstr(&m));
        buf_free(&m);
    }
    buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- lookups */

const struct ini_section *ini_find_section(const struct ini_file *f, const char *name)
{
    for (size_t i = 0; f && i < f->nsections; i++)
        if (strcmp(f->sections[i].name, name) == 0)
            return &f->sections[i];
    return NULL;
}

const struct ini_pair *ini_find_pair(const struct ini_section *s, const char *key)
{
    for (size_t i = 0; s && i < s->npairs; i++)
        if (strcmp(s->pairs[i].key, key) == 0)
            return &s->pairs[i];
    return NULL;
}

const char *ini_get(const struct ini_section *s, const char *key)
{
    const struct ini_pair *p = ini_find_pair(s, key);
    return p ? p->value : NULL;
}

const char *ini_get_sub(const struct ini_section *s, const char *key, const char *subkey)
{
    const struct ini_pair *p = ini_find_pair(s, key);
    for (size_t i = p ? p->nsub : 0; i-- > 0;)    /* the last one wins, as in botocore */
        if (strcmp(p->sub[i].key, subkey) == 0)
            return p->sub[i].value;
    return NULL;
}
