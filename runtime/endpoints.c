/*
 * endpoints.c — the IoT Data Plane default endpoint: a hand translation of the published
 * rule set (endpoint-rule-set-1.json, 2015-05-28) over the AWS partition table.
 *
 * The partition facts below (ids, region regexes, DNS suffixes, FIPS and dual-stack
 * support, listed regions) come from botocore 1.43.11 data/partitions.json, Copyright
 * Amazon.com, Inc. or its affiliates, Apache License 2.0; a copy of that file, its
 * LICENSE and NOTICE are in spec/fixtures/endpoints/. The regexes are rewritten as
 * POSIX EREs (\w -> [A-Za-z0-9_], \d -> [0-9], \- -> -).
 *
 * The rules, in order (each branch is tested in spec/unit/test_endpoints.c):
 *   Endpoint set:  FIPS -> error; dual-stack -> error; else the endpoint as given.
 *   Region set:    p = aws.partition(Region)
 *     FIPS+DS:     both supported -> https://data-ats.iot-fips.{Region}.{p.dualStackDnsSuffix}
 *                  else error
 *     FIPS:        supported -> fixed hosts for ca-central-1, us-east-1, us-east-2,
 *                  us-west-1, us-west-2, us-gov-east-1, us-gov-west-1
 *                  (https://data.iot-fips.{Region}.amazonaws.com), else
 *                  https://data-ats.iot-fips.{Region}.{p.dnsSuffix}; unsupported -> error
 *     DS:          supported -> https://data-ats.iot.{Region}.{p.dualStackDnsSuffix}, else error
 *     cn-north-1:  https://data.ats.iot.cn-north-1.amazonaws.com.cn
 *     otherwise:   https://data-ats.iot.{Region}.{p.dnsSuffix}
 *                  (the rule set spells out aws, aws-cn and aws-us-gov; same result)
 *   No region:     error "Invalid Configuration: Missing Region".
 * Before the rules, a set region must be a valid host label, as botocore checks when
 * it creates a client.
 */
#include "endpoints.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

static const char *const AWS_REGIONS[] = {
    "af-south-1",     "ap-east-1",      "ap-east-2",      "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1",     "ap-south-2",     "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
    "aws-global",     "ca-central-1",   "ca-west-1",      "eu-central-1",   "eu-central-2",
    "eu-north-1",     "eu-south-1",     "eu-south-2",     "eu-west-1",      "eu-west-2",
    "eu-west-3",      "il-central-1",   "me-central-1",   "me-south-1",     "mx-central-1",
    "sa-east-1",      "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",
    NULL};
static const char *const AWS_CN_REGIONS[] = {"aws-cn-global", "cn-north-1", "cn-northwest-1",
                                             NULL};
static const char *const AWS_EUSC_REGIONS[] = {"eusc-de-east-1", NULL};
static const char *const AWS_ISO_REGIONS[] = {"aws-iso-global", "us-iso-east-1",
                                              "us-iso-west-1", NULL};
static const char *const AWS_ISO_B_REGIONS[] = {"aws-iso-b-global", "us-isob-east-1",
                                                "us-isob-west-1", NULL};
static const char *const AWS_ISO_E_REGIONS[] = {"aws-iso-e-global", "eu-isoe-west-1", NULL};
static const char *const AWS_ISO_F_REGIONS[] = {"aws-iso-f-global", "us-isof-east-1",
                                                "us-isof-south-1", NULL};
static const char *const AWS_US_GOV_REGIONS[] = {"aws-us-gov-global", "us-gov-east-1",
                                                 "us-gov-west-1", NULL};

#define W "[A-Za-z0-9_]+"
#define D "[0-9]+"

static const struct ep_partition PARTITIONS[] = {
    {"aws", "^(us|eu|ap|sa|ca|me|af|il|mx)-" W "-" D "$", "amazonaws.com", "api.aws", 1, 1,
     AWS_REGIONS},
    {"aws-cn", "^cn-" W "-" D "$", "amazonaws.com.cn", "api.amazonwebservices.com.cn", 1, 1,
     AWS_CN_REGIONS},
    {"aws-eusc", "^eusc-(de)-" W "-" D "$", "amazonaws.eu", "api.amazonwebservices.eu", 1, 1,
     AWS_EUSC_REGIONS},
    {"aws-iso", "^us-iso-" W "-" D "$", "c2s.ic.gov", "api.aws.ic.gov", 1, 1, AWS_ISO_REGIONS},
    {"aws-iso-b", "^us-isob-" W "-" D "$", "sc2s.sgov.gov", "api.aws.scloud", 1, 1,
     AWS_ISO_B_REGIONS},
    {"aws-iso-e", "^eu-isoe-" W "-" D "$", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk", 1, 1,
     AWS_ISO_E_REGIONS},
    {"aws-iso-f", "^us-isof-" W "-" D "$", "csp.hci.ic.gov", "api.aws.hci.ic.gov", 1, 1,
     AWS_ISO_F_REGIONS},
    {"aws-us-gov", "^us-gov-" W "-" D "$", "amazonaws.com", "api.aws", 1, 1,
     AWS_US_GOV_REGIONS},
};

#undef W
#undef D

static const struct ep_partition *const PARTITION_PTRS[] = {
    &PARTITIONS[0], &PARTITIONS[1], &PARTITIONS[2], &PARTITIONS[3], &PARTITIONS[4],
    &PARTITIONS[5], &PARTITIONS[6], &PARTITIONS[7], NULL};

const struct ep_partition *const *ep_partitions(void)
{
    return PARTITION_PTRS;
}

static int regex_match(const char *re, const char *s)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int m = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return m;
}

static int listed(const struct ep_partition *p, const char *region)
{
    for (size_t i = 0; p->regions[i]; i++)
        if (strcmp(p->regions[i], region) == 0)
            return 1;
    return 0;
}

const struct ep_partition *ep_partition_in(const struct ep_partition *const *table,
                                            const char *region)
{
    for (size_t i = 0; region && table[i]; i++) {
        const struct ep_partition *p = table[i];
        if (listed(p, region) || regex_match(p->region_regex, region))
            return p;
    }
    return table[0];
}

const struct ep_partition *ep_partition_of(const char *region)
{
    return ep_partition_in(PARTITION_PTRS, region);
}

/* botocore's validate_region_name: a host label of letters, digits and '-', at most 63
 * characters, not starting or ending with '-', not all digits. */
static int valid_region(const char *r)
{
    size_t n = strlen(r);
    int all_digits = 1;
    if (n > 63 || r[0] == '-' || r[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        int digit = c >= '0' && c <= '9';
        if (!digit && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '-')
            return 0;
        all_digits &= digit;
    }
    return !all_digits;
}

static int fail(char err_out[EP_ERROR_LEN], const char *msg)
{
    snprintf(err_out, EP_ERROR_LEN, "%s", msg);
    return -1;
}

static int url(char url_out[EP_URL_LEN], char err_out[EP_ERROR_LEN], const char *prefix,
               const char *region, const char *suffix)
{
    int n = snprintf(url_out, EP_URL_LEN, "%s%s.%s", prefix, region, suffix);
    if (n < 0 || n >= EP_URL_LEN)
        return fail(err_out, "endpoint URL too long");
    return 0;
}

static int fips_fixed_host(const char *region)
{
    static const char *const hosts[] = {"ca-central-1",  "us-east-1",     "us-east-2",
                                        "us-west-1",     "us-west-2",     "us-gov-east-1",
                                        "us-gov-west-1", NULL};
    for (size_t i = 0; hosts[i]; i++)
        if (strcmp(hosts[i], region) == 0)
            return 1;
    return 0;
}

/* The rules under "Region is set". */
static int resolve_region(const struct ep_partition *const *table, const struct ep_params *p,
                          char url_out[EP_URL_LEN], char err_out[EP_ERROR_LEN])
{
    const struct ep_partition *part = ep_partition_in(table, p->region);
    const char *r = p->region;
    if (p->use_fips && p->use_dual_stack) {
        if (part->supports_fips && part->supports_dual_stack)
            return url(url_out, err_out, "https://data-ats.iot-fips.", r,
                       part->dual_stack_dns_suffix);
        return fail(err_out, "FIPS and DualStack are enabled, but this partition does not "
                             "support one or both");
    }
    if (p->use_fips) {
        if (!part->supports_fips)
            return fail(err_out, "FIPS is enabled but this partition does not support FIPS");
        if (fips_fixed_host(r))
            return url(url_out, err_out, "https://data.iot-fips.", r, "amazonaws.com");
        return url(url_out, err_out, "https://data-ats.iot-fips.", r, part->dns_suffix);
    }
    if (p->use_dual_stack) {
        if (!part->supports_dual_stack)
            return fail(err_out,
                        "DualStack is enabled but this partition does not support DualStack");
        return url(url_out, err_out, "https://data-ats.iot.", r, part->dual_stack_dns_suffix);
    }
    if (strcmp(r, "cn-north-1") == 0)
        return url(url_out, err_out, "https://data.ats.iot.", r, "amazonaws.com.cn");
    return url(url_out, err_out, "https://data-ats.iot.", r, part->dns_suffix);
}

int ep_resolve(const struct ep_params *p, char url_out[EP_URL_LEN], char err_out[EP_ERROR_LEN])
{
    return ep_resolve_in(PARTITION_PTRS, p, url_out, err_out);
}

int ep_resolve_in(const struct ep_partition *const *table, const struct ep_params *p,
                  char url_out[EP_URL_LEN], char err_out[EP_ERROR_LEN])
{
    url_out[0] = '\0';
    err_out[0] = '\0';
    if (p->endpoint) {
        if (p->use_fips)
            return fail(err_out, "Invalid Configuration: FIPS and custom endpoint are not "
                                 "supported");
        if (p->use_dual_stack)
            return fail(err_out, "Invalid Configuration: Dualstack and custom endpoint are "
                                 "not supported");
        if (strlen(p->endpoint) >= EP_URL_LEN)
            return fail(err_out, "endpoint URL too long");
        snprintf(url_out, EP_URL_LEN, "%s", p->endpoint);
        return 0;
    }
    if (!p->region || !*p->region)
        return fail(err_out, "Invalid Configuration: Missing Region");
    if (!valid_region(p->region)) {
        snprintf(err_out, EP_ERROR_LEN,
                 "Provided region_name '%.64s' doesn't match a supported format.", p->region);
        return -1;
    }
    return resolve_region(table, p, url_out, err_out);
}
