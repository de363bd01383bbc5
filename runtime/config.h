/*
 * config.h — configuration resolution the way the AWS CLI / botocore does it, for the
 * IoT Data Plane client: profile, region, endpoint, retry and TLS settings, and the
 * files they come from (which the credentials chain, credentials/chain.h, reads too).
 *
 * Nothing here reads the process environment directly: every lookup goes through a
 * struct cfg_env (a getenv callback), so tests pass their own environment. Use
 * cfg_env_process() for the real one.
 *
 * Precedence (first found wins):
 *   profile    explicit > AWS_PROFILE > "default"
 *   region     explicit > AWS_REGION > AWS_DEFAULT_REGION > profile "region"
 *   endpoint   explicit > AWS_ENDPOINT_URL_IOT_DATA_PLANE > AWS_ENDPOINT_URL >
 *              [services <profile's services>] iot_data_plane.endpoint_url >
 *              profile "endpoint_url" > endpoint rules (endpoints.h)
 *              (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS / ignore_configured_endpoint_urls
 *              = true skips the environment and file endpoint settings)
 *   max_attempts, retry_mode, ca_bundle, use_fips_endpoint, use_dualstack_endpoint:
 *              explicit > AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_CA_BUNDLE,
 *              AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT > profile keys
 *   credentials: botocore's chain, credentials/chain.h
 * Files: AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials) with sections named
 * by the profile ("[x]"); AWS_CONFIG_FILE (default ~/.aws/config) with "[default]" and
 * "[profile x]" ("[x]" there is not a profile). As botocore does, the profile's
 * settings are those of the config file overlaid with the credentials file's section.
 *
 * Errors never contain secret values. A missing region or credential lists every place
 * that was looked at.
 */
#ifndef IOTLUA_CONFIG_H
#define IOTLUA_CONFIG_H

#include <stddef.h>
#include <time.h>

#include "ini.h"

#include "credentials/provider.h"

#define CFG_ERROR_LEN 1024

/* Returns the variable's value or NULL. */
typedef const char *(*cfg_getenv_fn)(void *ud, const char *name);

struct cfg_env {
    cfg_getenv_fn getenv;
    void *ud;
};

/* The process environment (getenv(3)); HOME for "~". */
struct cfg_env cfg_env_process(void);

/* What the caller (the Lua client table) set explicitly; NULL / -1 mean "not set". */
struct cfg_explicit {
    const char *profile;
    const char *region;
    const char *endpoint;
    const char *access_key_id;        /* explicit credentials: both or neither */
    const char *secret_access_key;
    const char *session_token;
    int max_attempts;                 /* -1: not set */
    const char *retry_mode;           /* "standard" or "legacy" (iot_retry_mode_parse) */
    const char *ca_bundle;
    int use_fips_endpoint;            /* -1: not set, 0, 1 */
    int use_dualstack_endpoint;       /* -1: not set, 0, 1 */
    const char *mfa_code;             /* an MFA code for an assume-role profile's mfa_serial */
};
#define CFG_EXPLICIT_INIT {NULL, NULL, NULL, NULL, NULL, NULL, -1, NULL, NULL, -1, -1, NULL}

/* Resolved settings. Owned strings; release with cfg_resolved_free. Each *_source says
 * where the value came from ("client", "env AWS_REGION", "config file /p [profile x]",
 * "endpoint rules", "default"). */
struct cfg_resolved {
    char *profile;
    char *config_file;                /* paths actually used */
    char *credentials_file;
    char *region;
    char *region_source;
    char *endpoint;                   /* full URL, e.g. https://data-ats.iot.us-east-1.amazonaws.com */
    char *endpoint_source;
    int max_attempts;                 /* default 3 */
    char *retry_mode;                 /* default "standard" */
    char *ca_bundle;                  /* NULL: system default */
    int use_fips_endpoint;
    int use_dualstack_endpoint;
};

/* Resolves everything but credentials. Returns 0, or -1 with err_out set (e.g. no
 * region, bad AWS_MAX_ATTEMPTS, unparsable config file, unknown explicit profile,
 * custom endpoint with FIPS). *out must be freed with cfg_resolved_free either way. */
int cfg_resolve(const struct cfg_explicit *ex, const struct cfg_env *env,
                struct cfg_resolved *out, char err_out[CFG_ERROR_LEN]);
void cfg_resolved_free(struct cfg_resolved *r);

/* ---------------------------------------------------------------- files and profiles
 * The two files read and the profile picked, for the credentials chain
 * (credentials/chain.c), which reads its sources from them. */
struct cfg_files {
    char *config_path;
    char *credentials_path;
    int config_missing, credentials_missing;
    struct ini_file config;
    struct ini_file credentials;
    char *profile;
    int profile_explicit;              /* from the client or AWS_PROFILE */
    int profile_from_client;
    const struct ini_section *cfg_sect;   /* [default] / [profile x] in the config file */
    const struct ini_section *cred_sect;  /* [x] in the credentials file */
};

/* Reads both files and picks the profile. 0, or -1 with err_out (free *f either way). */
int cfg_files_load(const struct cfg_explicit *ex, const struct cfg_env *env,
                   struct cfg_files *f, char err_out[CFG_ERROR_LEN]);
void cfg_files_free(struct cfg_files *f);
/* A profile setting: the credentials file's section overrides the config file's, as in
 * botocore. *where_out (may be NULL) names the file it came from. */
const char *cfg_profile_get(const struct cfg_files *f, const char *key, const char **where_out);
/* *view = f seen through another profile (source_profile): the same files, that
 * profile's sections. 0, or -1 when neither file has the profile. A view borrows
 * everything from f and profile: never cfg_files_free it. */
int cfg_files_view(const struct cfg_files *f, const char *profile, struct cfg_files *view);
/* The endpoint configured for another service than the data plane (STS: env_id "STS",
 * key "sts"; the SSO portal: "SSO", "sso"): AWS_ENDPOINT_URL_<env_id>, AWS_ENDPOINT_URL,
 * the profile's [services] section, its endpoint_url. *url_out NULL when none (the
 * service's own endpoint applies). 0, or -1 with err_out (an invalid URL, a missing
 * services section). */
int cfg_service_endpoint(const struct cfg_env *env, const struct cfg_files *f,
                         const char *env_id, const char *key, const char **url_out,
                         char err_out[CFG_ERROR_LEN]);
/* The config file's "[kind name]" section ("sso-session corp"), or NULL. */
const struct ini_section *cfg_named_section(const struct cfg_files *f, const char *kind,
                                            const char *name);
/* The variable's value, or NULL when unset or empty (as the AWS CLI treats them). */
const char *cfg_env_get(const struct cfg_env *env, const char *name);

/* "true"/"false" (any case) → 1/0; anything else -1. */
int cfg_parse_bool(const char *s);

#endif
