/*
 * ini.h — the AWS shared config/credentials file format, as botocore reads it
 * (botocore/configloader.py over Python's RawConfigParser):
 *
 * - "[name]" starts a section; the name is the text between the '[' and the last ']'
 *   on the line, not trimmed (botocore does not trim either: "[ default ]" is not the
 *   default profile).
 * - "key = value" or "key: value"; keys are lowercased and trimmed, values trimmed.
 * - Lines starting (after optional whitespace) with '#' or ';' are comments; there are
 *   no inline comments ("region = x # y" has the value "x # y"), as in botocore.
 * - A line indented deeper than its key continues that key's value. A key with an empty
 *   value followed by indented "subkey = value" lines is a nested sub-section (used by
 *   "[services x]" and "s3 ="): ini_get_sub reads them.
 * - A duplicate section or a duplicate key in one section is an error (as in botocore),
 *   as is a key before any section or a line that is neither.
 *
 * Section names are kept verbatim ("profile x", "services y", "default"); config.c
 * applies the different naming rules of the config and credentials files.
 */
#ifndef IOTLUA_INI_H
#define IOTLUA_INI_H

#include <stddef.h>

struct ini_pair {
    char *key;
    char *value;              /* raw value; continuation lines joined with '\n' */
    struct ini_pair *sub;     /* nested "subkey = value" lines, when value is a block */
    size_t nsub;
};

struct ini_section {
    char *name;
    struct ini_pair *pairs;
    size_t npairs;
};

struct ini_file {
    struct ini_section *sections;
    size_t nsections;
};

struct ini_error {
    int line;                 /* 1-based; 0 when not about a line */
    char message[512];
};

#define INI_MAX_SIZE (4u * 1024u * 1024u)

/* Parses text[0..len). Returns 0, or -1 with err filled (err may be NULL); out is
 * always safe to ini_free. */
int ini_parse(const char *text, size_t len, struct ini_file *out, struct ini_error *err);

/* Reads and parses a file. A missing file is not an error: returns 1 with an empty
 * *out. Returns 0 when parsed, -1 on a read or parse error (the message names path). */
int ini_parse_file(const char *path, struct ini_file *out, struct ini_error *err);
void ini_free(struct ini_file *f);

const struct ini_section *ini_find_section(const struct ini_file *f, const char *name);
const struct ini_pair *ini_find_pair(const struct ini_section *s, const char *key);
/* The value of key (NULL when absent); for nested blocks use ini_get_sub. */
const char *ini_get(const struct ini_section *s, const char *key);
const char *ini_get_sub(const struct ini_section *s, const char *key, const char *subkey);

#endif
