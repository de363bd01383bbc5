/*
 * endpoints.h — the default endpoint of the IoT Data Plane, a hand translation of the
 * published rule set (spec/fixtures/aws-models/iot-data/2015-05-28/endpoint-rule-set-1.json)
 * with the partition facts of botocore's partitions.json (Apache-2.0, see
 * runtime/endpoints_partitions.c). Cross-checked against botocore's resolver by
 * spec/unit/test_endpoints.c (table: spec/fixtures/endpoints/iot-data-expected.tsv).
 */
#ifndef IOTLUA_ENDPOINTS_H
#define IOTLUA_ENDPOINTS_H

#include <stddef.h>

struct ep_partition {
    const char *id;                      /* "aws", "aws-cn", ... */
    const char *region_regex;            /* POSIX ERE equivalent of the published regex */
    const char *dns_suffix;              /* "amazonaws.com" */
    const char *dual_stack_dns_suffix;   /* "api.aws" */
    int supports_fips;
    int supports_dual_stack;
    const char *const *regions;          /* explicitly listed regions, NULL-terminated */
};

/* The partition table (NULL-terminated array of pointers; static, read-only). */
const struct ep_partition *const *ep_partitions(void);

/* aws.partition(region): an explicitly listed region, else the first partition whose
 * regex matches, else "aws". Never NULL. */
const struct ep_partition *ep_partition_of(const char *region);

struct ep_params {
    const char *region;       /* NULL when not set */
    int use_fips;
    int use_dual_stack;
    const char *endpoint;     /* custom endpoint (SDK::Endpoint), NULL when not set */
};

#define EP_URL_LEN 512
#define EP_ERROR_LEN 256

/* Evaluates the rules. Returns 0 with url_out, or -1 with err_out holding the rule
 * set's error message ("Invalid Configuration: FIPS and custom endpoint are not
 * supported", "Invalid Configuration: Missing Region", ...). */
int ep_resolve(const struct ep_params *p, char url_out[EP_URL_LEN], char err_out[EP_ERROR_LEN]);

/* The same over another partition table (NULL-terminated, first entry the default);
 * used by tests to reach the "partition does not support" branches. */
const struct ep_partition *ep_partition_in(const struct ep_partition *const *table,
                                           const char *region);
int ep_resolve_in(const struct ep_partition *const *table, const struct ep_params *p,
                  char url_out[EP_URL_LEN], char err_out[EP_ERROR_LEN]);

#endif
