/*
 * test_endpoints.c — the IoT Data Plane endpoint rules (runtime/endpoints.c).
 *
 * 1. The embedded partition table equals spec/fixtures/endpoints/partitions.json
 *    (botocore's): ids, suffixes, support flags, listed regions, regexes.
 * 2. Every row of spec/fixtures/endpoints/iot-data-expected.tsv, produced by botocore's
 *    generic rules engine (spec/unit/gen_endpoints_botocore.py): every listed region of
 *    every partition, unlisted regions per regex, unmatched regions, FIPS x dual-stack,
 *    custom endpoints, no region, and a synthetic table for the "not supported" errors.
 * 3. Region validation (botocore's host-label check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "endpoints.h"
#include "fixture.h"
#include "json.h"

/* The published regex rewritten the way endpoints.c does (\w, \d, \-). */
static void to_ere(const char *re, char *out, size_t cap)
{
    struct buf b = BUF_INIT;
    for (const char *p = re; *p; p++) {
        if (p[0] == '\\' && p[1] == 'w')
            buf_append_str(&b, "[A-Za-z0-9_]"), p++;
        else if (p[0] == '\\' && p[1] == 'd')
            buf_append_str(&b, "[0-9]"), p++;
        else if (p[0] == '\\' && p[1] == '-')
            buf_append_char(&b, '-'), p++;
        else
            buf_append_char(&b, *p);
    }
    snprintf(out, cap, "%s", buf_cstr(&b));
    buf_free(&b);
}

static size_t count_regions(const struct ep_partition *p)
{
    size_t n = 0;
    while (p->regions[n])
        n++;
    return n;
}

static void test_table_matches_botocore(void)
{
    char path[1024], ere[256];
    size_t len;
    struct json_value *root = NULL;
    snprintf(path, sizeof path, "%s/endpoints/partitions.json", fixtures());
    char *text = slurp(path, &len);
    CHECK_REQUIRE(text && json_parse(text, len, NULL, &root, NULL) == 0);
    const struct json_value *parts = json_get(root, "partitions");
    const struct ep_partition *const *table = ep_partitions();
    size_t n = 0;
    while (table[n])
        n++;
    CHECK_INT_EQ(n, parts->u.arr.n);
    for (size_t i = 0; i < n && i < parts->u.arr.n; i++) {
        const struct json_value *jp = json_at(parts, i), *o = json_get(jp, "outputs");
        const struct json_value *regions = json_get(jp, "regions");
        const struct ep_partition *p = table[i];
        CHECK_STR_EQ(p->id, json_get_string(jp, "id"));
        to_ere(json_get_string(jp, "regionRegex"), ere, sizeof ere);
        CHECK_STR_EQ(p->region_regex, ere);
        CHECK_STR_EQ(p->dns_suffix, json_get_string(o, "dnsSuffix"));
        CHECK_STR_EQ(p->dual_stack_dns_suffix, json_get_string(o, "dualStackDnsSuffix"));
        CHECK_INT_EQ(p->supports_fips, json_get(o, "supportsFIPS")->type == JSON_TRUE);
        CHECK_INT_EQ(p->supports_dual_stack, json_get(o, "supportsDualStack")->type == JSON_TRUE);
        CHECK_INT_EQ(count_regions(p), regions->u.obj.n);
        for (size_t k = 0; k < regions->u.obj.n; k++) {
            const char *r = regions->u.obj.members[k].key;
            CHECK_STR_EQ(ep_partition_of(r)->id, p->id);   /* listed → its partition */
        }
    }
    json_free(root);
    free(text);
}

/* The synthetic table of gen_endpoints_botocore.py (SYNTHETIC), in C. */
static const char *const SYN_AWS[] = {"us-east-1", NULL};
static const char *const SYN_EMPTY[] = {NULL};
static const char *const SYN_NONE[] = {"nn-listed", NULL};
static const struct ep_partition SYN[] = {
    {"aws", "^(us|eu)-[A-Za-z0-9_]+-[0-9]+$", "amazonaws.com", "api.aws", 1, 1, SYN_AWS},
    {"test-nofips", "^nf-[A-Za-z0-9_]+-[0-9]+$", "nofips.test", "ds.nofips.test", 0, 1,
     SYN_EMPTY},
    {"test-nods", "^nd-[A-Za-z0-9_]+-[0-9]+$", "nods.test", "ds.nods.test", 1, 0, SYN_EMPTY},
    {"test-none", "^nn-[A-Za-z0-9_]+-[0-9]+$", "none.test", "ds.none.test", 0, 0, SYN_NONE},
};
static const struct ep_partition *const SYN_TABLE[] = {&SYN[0], &SYN[1], &SYN[2], &SYN[3],
                                                       NULL};

static int rows, error_rows;

static void check_row(char *line)
{
    char *f[5];
    for (int i = 0; i < 5; i++) {
        f[i] = strsep(&line, "\t");
        CHECK_REQUIRE(f[i] != NULL);
    }
    int synthetic = strncmp(f[0], "synthetic:", 10) == 0;
    struct ep_params p = {synthetic ? f[0] + 10 : f[0], atoi(f[1]), atoi(f[2]), f[3]};
    if (strcmp(p.region, "-") == 0)
        p.region = NULL;
    if (strcmp(p.endpoint, "-") == 0)
        p.endpoint = NULL;
    char url[EP_URL_LEN], err[EP_ERROR_LEN];
    int rc = synthetic ? ep_resolve_in(SYN_TABLE, &p, url, err) : ep_resolve(&p, url, err);
    rows++;
    if (strncmp(f[4], "ERROR ", 6) == 0) {
        error_rows++;
        CHECK_INT_EQ(rc, -1);
        CHECK_STR_EQ(err, f[4] + 6);
    } else {
        CHECK_INT_EQ(rc, 0);
        CHECK_STR_EQ(url, f[4]);
    }
    if (check_failed_ && rows > 0 && (rc != 0) != (strncmp(f[4], "ERROR ", 6) == 0))
        fprintf(stderr, "  row: %s fips=%s ds=%s endpoint=%s\n", f[0], f[1], f[2], f[3]);
}

static void test_botocore_table(void)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/endpoints/iot-data-expected.tsv", fixtures());
    char *text = slurp(path, &len);
    CHECK_REQUIRE(text != NULL);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (line[0] != '#')
            check_row(line);
    free(text);
    CHECK_INT_EQ(rows, 316);           /* the whole table was read */
    CHECK_INT_EQ(error_rows, 26);
}

static void test_partition_lookup(void)
{
    CHECK_STR_EQ(ep_partition_of("us-east-1")->id, "aws");
    CHECK_STR_EQ(ep_partition_of("cn-northwest-1")->id, "aws-cn");
    CHECK_STR_EQ(ep_partition_of("us-gov-west-1")->id, "aws-us-gov");
    CHECK_STR_EQ(ep_partition_of("us-gov-central-9")->id, "aws-us-gov");   /* regex */
    CHECK_STR_EQ(ep_partition_of("us-iso-east-1")->id, "aws-iso");
    CHECK_STR_EQ(ep_partition_of("us-isob-east-1")->id, "aws-iso-b");
    CHECK_STR_EQ(ep_partition_of("eu-isoe-west-1")->id, "aws-iso-e");
    CHECK_STR_EQ(ep_partition_of("us-isof-south-1")->id, "aws-iso-f");
    CHECK_STR_EQ(ep_partition_of("eusc-de-east-1")->id, "aws-eusc");
    CHECK_STR_EQ(ep_partition_of("nowhere")->id, "aws");                  /* default */
    CHECK_STR_EQ(ep_partition_of(NULL)->id, "aws");
}

static void test_region_validation(void)
{
    const char *bad[] = {"us east 1", "-us-east-1", "us-east-1-", "123", "us_east_1",
                         "us-east-1.evil.com", "us-east-1/", "\xc3\xa9u-west-1",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL};
    for (int i = 0; bad[i]; i++) {
        struct ep_params p = {bad[i], 0, 0, NULL};
        char url[EP_URL_LEN], err[EP_ERROR_LEN];
        CHECK_INT_EQ(ep_resolve(&p, url, err), -1);
        CHECK_STR_CONTAINS(err, "doesn't match a supported format");
        CHECK_STR_EQ(url, "");
    }
    struct ep_params empty = {"", 0, 0, NULL};
    char url[EP_URL_LEN], err[EP_ERROR_LEN];
    CHECK_INT_EQ(ep_resolve(&empty, url, err), -1);
    CHECK_STR_EQ(err, "Invalid Configuration: Missing Region");
}

int main(void)
{
    test_table_matches_botocore();
    test_botocore_table();
    test_partition_lookup();
    test_region_validation();
    return CHECK_SUMMARY();
}
