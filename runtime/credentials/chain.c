/*
 * chain.c — the credentials chain as lists of steps, each a source botocore looks at,
 * tried in order until one finds credentials (chain.h). A profile named by
 * source_profile is resolved through the profile's own steps (PROFILE_STEPS), so it may
 * assume a role itself (role chaining), use web identity, a process or static keys.
 */
#include "chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "process.h"
#include "sts.h"

#define MAX_ROLE_CHAIN 8

/* What the steps read. */
struct chain_ctx {
    const struct cfg_explicit *ex;
    const struct cfg_env *env;
    const struct cfg_files *f;          /* the files, seen through the profile being read */
    const char *region;
    char *mfa_serial_out;               /* see cred_chain_settings */
    size_t mfa_serial_cap;
    const char *visited[MAX_ROLE_CHAIN];    /* profiles on the way here (source_profile) */
    int depth;
};

/* A step: 1 with *out set when its source has credentials, 0 when it has none, -1 with
 * err_out when it has some but they cannot be used. */
typedef int (*chain_step)(const struct chain_ctx *c, struct cred_provider **out,
                          char err_out[CRED_ERROR_LEN]);

static int resolve_profile(const struct chain_ctx *c, struct cred_provider **out,
                           char err_out[CRED_ERROR_LEN]);

/* ================================================================ settings */

/* An environment variable (unless the client named the profile, or var is NULL), else
 * the profile's key. */
static const char *env_or_profile(const struct chain_ctx *c, const char *var, const char *key)
{
    const char *v = var && !c->f->profile_from_client && c->depth == 0
                        ? cfg_env_get(c->env, var) : NULL;
    return v ? v : cfg_profile_get(c->f, key, NULL);
}

static int is_true(const char *v)
{
    return v && strcasecmp(v, "true") == 0;
}

/* A whole number of seconds from a setting; dflt when unset. -1 when malformed. */
static long seconds_setting(const char *v, long dflt)
{
    if (!v)
        return dflt;
    char *end;
    double d = strtod(v, &end);
    return end != v && *end == '\0' && d > 0 && d < 86400 ? (long)(d * 1000) : -1;
}

/* ================================================================ static keys */

/* A pair of key values where both or neither must be set. Returns 1 when found, 0 when
 * absent, -1 (with err_out) when only one is. */
static int pair_or_partial(const char *akid, const char *secret, const char *where,
                           const char *akid_name, const char *secret_name,
                           char err_out[CRED_ERROR_LEN])
{
    if (akid && secret)
        return 1;
    if (!akid && !secret)
        return 0;
    cred_set_error(err_out, "Partial credentials found in %s, missing: %s", where,
                   akid ? secret_name : akid_name);
    return -1;
}

static int found_static(int found, const char *akid, const char *secret, const char *token,
                        const char *source, struct cred_provider **out,
                        char err_out[CRED_ERROR_LEN])
{
    if (found == 1 && !(*out = cred_static_new(akid, secret, token, source, err_out)))
        return -1;
    return found;
}

static int from_client(const struct chain_ctx *c, struct cred_provider **out,
                       char err_out[CRED_ERROR_LEN])
{
    const struct cfg_explicit *ex = c->ex;
    const char *ak = ex && ex->access_key_id && *ex->access_key_id ? ex->access_key_id : NULL;
    const char *sk = ex && ex->secret_access_key && *ex->secret_access_key
                         ? ex->secret_access_key : NULL;
    int found = pair_or_partial(ak, sk, "the client's 'credentials' field", "access_key_id",
                                "secret_access_key", err_out);
    return found_static(found, ak, sk, found == 1 ? ex->session_token : NULL,
                        "client", out, err_out);
}

/* The environment's keys, whether or not a profile was named (credential_source). */
static int env_keys(const struct chain_ctx *c, struct cred_provider **out,
                    char err_out[CRED_ERROR_LEN])
{
    const char *akid = cfg_env_get(c->env, "AWS_ACCESS_KEY_ID");
    const char *secret = cfg_env_get(c->env, "AWS_SECRET_ACCESS_KEY");
    const char *token = cfg_env_get(c->env, "AWS_SESSION_TOKEN");
    if (!token)
        token = cfg_env_get(c->env, "AWS_SECURITY_TOKEN");
    int found = pair_or_partial(akid, secret, "the environment", "AWS_ACCESS_KEY_ID",
                                "AWS_SECRET_ACCESS_KEY", err_out);
    return found_static(found, akid, secret, token, "environment", out, err_out);
}

static int from_env(const struct chain_ctx *c, struct cred_provider **out,
                    char err_out[CRED_ERROR_LEN])
{
    return c->f->profile_from_client ? 0 : env_keys(c, out, err_out);
}

/* A file section with aws_access_key_id/aws_secret_access_key; `id` names the file in
 * the source ("shared-credentials-file:base"), `what` in messages. */
static int from_section(const struct chain_ctx *c, const struct ini_section *s,
                        const char *id, const char *what, const char *path,
                        struct cred_provider **out, char err_out[CRED_ERROR_LEN])
{
    char where[CRED_ERROR_LEN / 2], source[CRED_SOURCE_LEN];
    const char *akid = ini_get(s, "aws_access_key_id");
    const char *secret = ini_get(s, "aws_secret_access_key");
    const char *token = ini_get(s, "aws_session_token");
    if (!token)
        token = ini_get(s, "aws_security_token");
    akid = akid && *akid ? akid : NULL;
    secret = secret && *secret ? secret : NULL;
    snprintf(where, sizeof where, "%s %s [%s]", what, path, s ? s->name : "");
    snprintf(source, sizeof source, "%s:%.100s", id, c->f->profile);
    int found = pair_or_partial(akid, secret, where, "aws_access_key_id",
                                "aws_secret_access_key", err_out);
    return found_static(found, akid, secret, token, source, out, err_out);
}

static int from_credentials_file(const struct chain_ctx *c, struct cred_provider **out,
                                 char err_out[CRED_ERROR_LEN])
{
    return from_section(c, c->f->cred_sect, "shared-credentials-file", "shared credentials file",
                        c->f->credentials_path, out, err_out);
}

static int from_config_file(const struct chain_ctx *c, struct cred_provider **out,
                            char err_out[CRED_ERROR_LEN])
{
    return from_section(c, c->f->cfg_sect, "config-file", "config file", c->f->config_path,
                        out, err_out);
}

static int from_process(const struct chain_ctx *c, struct cred_provider **out,
                        char err_out[CRED_ERROR_LEN])
{
    const char *cmd = cfg_profile_get(c->f, "credential_process", NULL);
    if (!cmd)
        return 0;
    char source[CRED_SOURCE_LEN];
    snprintf(source, sizeof source, "process:%.100s", c->f->profile);
    return (*out = cred_process_provider_new(cmd, source, err_out)) ? 1 : -1;
}

/* ================================================================ STS */

/* Regions whose legacy STS endpoint is the global one (sts_regional_endpoints = legacy). */
static int legacy_global_region(const char *region)
{
    static const char *const GLOBAL[] = {
        "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global",
        "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3",
        "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    };
    for (size_t i = 0; i < sizeof GLOBAL / sizeof GLOBAL[0]; i++)
        if (strcmp(region, GLOBAL[i]) == 0)
            return 1;
    return 0;
}

/* The STS endpoint: configured (AWS_ENDPOINT_URL_STS, ...), else regional (botocore's
 * default), else global for a legacy region or no region. */
static int sts_endpoint(const struct chain_ctx *c, char *url, size_t cap,
                        char err_out[CRED_ERROR_LEN])
{
    const char *configured = NULL;
    if (cfg_service_endpoint(c->env, c->f, "STS", "sts", &configured, err_out) != 0)
        return -1;
    const char *mode = env_or_profile(c, "AWS_STS_REGIONAL_ENDPOINTS", "sts_regional_endpoints");
    if (mode && strcmp(mode, "regional") != 0 && strcmp(mode, "legacy") != 0) {
        cred_set_error(err_out, "sts_regional_endpoints must be \"regional\" or \"legacy\" "
                       "(got \"%.40s\")", mode);
        return -1;
    }
    if (configured)
        snprintf(url, cap, "%s", configured);
    else if (!c->region || (mode && strcmp(mode, "legacy") == 0 && legacy_global_region(c->region)))
        snprintf(url, cap, "https://sts.amazonaws.com");
    else
        snprintf(url, cap, "https://sts.%s.amazonaws.com", c->region);
    return 0;
}

/* The settings both STS calls share, from the profile (and env for web identity). */
static int sts_common(const struct chain_ctx *c, struct cred_sts_settings *s, char *url,
                      size_t cap, char err_out[CRED_ERROR_LEN])
{
    const char *duration = cfg_profile_get(c->f, "duration_seconds", NULL);
    char *end = NULL;
    memset(s, 0, sizeof *s);
    if (sts_endpoint(c, url, cap, err_out) != 0)
        return -1;
    s->endpoint = url;
    s->region = c->region ? c->region : "us-east-1";
    s->ca_bundle = env_or_profile(c, "AWS_CA_BUNDLE", "ca_bundle");
    if (duration) {
        long d = strtol(duration, &end, 10);
        if (*end || d < 900 || d > 43200) {
            cred_set_error(err_out, "duration_seconds of profile '%s' must be a whole number "
                           "of seconds from 900 to 43200 (got \"%.40s\")", c->f->profile, duration);
            return -1;
        }
        s->duration_s = (int)d;
    }
    return 0;
}

/* ================================================================ web identity */

static int from_web_identity(const struct chain_ctx *c, struct cred_provider **out,
                             char err_out[CRED_ERROR_LEN])
{
    const char *file = env_or_profile(c, "AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file");
    if (!file)
        return 0;
    const char *role = env_or_profile(c, "AWS_ROLE_ARN", "role_arn");
    if (!role) {
        cred_set_error(err_out, "web identity: a token file is set (%.200s) but no role_arn "
                       "(AWS_ROLE_ARN or the profile's role_arn)", file);
        return -1;
    }
    struct cred_sts_settings s;
    char url[512], name[CRED_SOURCE_LEN];
    if (sts_common(c, &s, url, sizeof url, err_out) != 0)
        return -1;
    s.role_arn = role;
    s.session_name = env_or_profile(c, "AWS_ROLE_SESSION_NAME", "role_session_name");
    s.token_file = file;
    snprintf(name, sizeof name, "web-identity:%.300s", role);
    s.source_name = name;
    return (*out = cred_sts_web_identity_new(&s, err_out)) ? 1 : -1;
}

/* ================================================================ IAM Identity Center */

/* An SSO setting of the profile, or of its [sso-session] (they must agree). */
static int sso_value(const struct chain_ctx *c, const struct ini_section *session,
                     const char *key, const char **out, char err_out[CRED_ERROR_LEN])
{
    const char *mine = cfg_profile_get(c->f, key, NULL);
    const char *theirs = session ? ini_get(session, key) : NULL;
    theirs = theirs && *theirs ? theirs : NULL;
    if (mine && theirs && strcmp(mine, theirs) != 0) {
        cred_set_error(err_out, "The value for %s is inconsistent between profile '%s' "
                       "(%.200s) and sso-session (%.200s).", key, c->f->profile, mine, theirs);
        return -1;
    }
    *out = theirs ? theirs : mine;
    return 0;
}

static int from_sso(const struct chain_ctx *c, struct cred_provider **out,
                    char err_out[CRED_ERROR_LEN])
{
    const char *account = cfg_profile_get(c->f, "sso_account_id", NULL);
    const char *role = cfg_profile_get(c->f, "sso_role_name", NULL);
    const char *name = cfg_profile_get(c->f, "sso_session", NULL);
    const char *start_url = NULL, *region = NULL, *home = cfg_env_get(c->env, "HOME");
    if (!account && !role)
        return 0;
    const struct ini_section *session = name ? cfg_named_section(c->f, "sso-session", name) : NULL;
    if (name && !session) {
        cred_set_error(err_out, "The specified sso-session does not exist: \"%.100s\" (profile "
                       "'%s', %s)", name, c->f->profile, c->f->config_path);
        return -1;
    }
    if (sso_value(c, session, "sso_start_url", &start_url, err_out) != 0 ||
        sso_value(c, session, "sso_region", &region, err_out) != 0)
        return -1;
    if (!start_url || !region || !account || !role) {
        cred_set_error(err_out, "The profile '%s' is configured to use SSO but is missing "
                       "required configuration:%s%s%s%s", c->f->profile,
                       start_url ? "" : " sso_start_url", region ? "" : " sso_region",
                       account ? "" : " sso_account_id", role ? "" : " sso_role_name");
        return -1;
    }
    const char *configured = NULL;
    char portal[512], cache_dir[1024], hint[256], source[CRED_SOURCE_LEN];
    if (cfg_service_endpoint(c->env, c->f, "SSO", "sso", &configured, err_out) != 0)
        return -1;
    if (configured)
        snprintf(portal, sizeof portal, "%s", configured);
    else
        snprintf(portal, sizeof portal, "https://portal.sso.%.100s.amazonaws.com", region);
    snprintf(cache_dir, sizeof cache_dir, "%s/.aws/sso/cache", home ? home : ".");
    snprintf(hint, sizeof hint, "aws sso login --%s %.100s", name ? "sso-session" : "profile",
             name ? name : c->f->profile);
    snprintf(source, sizeof source, "sso:%.200s", name ? name : c->f->profile);
    struct cred_sso_settings s = {portal, cache_dir, name ? name : start_url, hint, account,
                                  role, env_or_profile(c, "AWS_CA_BUNDLE", "ca_bundle"), source};
    return (*out = cred_sso_new(&s, err_out)) ? 1 : -1;
}

/* ================================================================ network providers */

/* Hosts a container FULL_URI may name over plain http (botocore's list). */
static int container_host_allowed(const char *url)
{
    if (strncasecmp(url, "https://", 8) == 0)
        return 1;
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *h = url + 7;
    size_t n = *h == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
    static const char *const ALLOWED[] = {"localhost", "169.254.170.2", "169.254.170.23",
                                          "[fd00:ec2::23]", "[::1]"};
    for (size_t i = 0; i < sizeof ALLOWED / sizeof ALLOWED[0]; i++)
        if (strlen(ALLOWED[i]) == n && strncasecmp(h, ALLOWED[i], n) == 0)
            return 1;
    return n > 4 && strncmp(h, "127.", 4) == 0;     /* any loopback IPv4 address */
}

static int container_provider(const struct chain_ctx *c, int required,
                              struct cred_provider **out, char err_out[CRED_ERROR_LEN])
{
    const char *rel = cfg_env_get(c->env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = cfg_env_get(c->env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[2048];
    if (!rel && !full) {
        if (required)
            cred_set_error(err_out, "credential_source EcsContainer: neither "
                           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI is set");
        return required ? -1 : 0;
    }
    if (rel)
        snprintf(url, sizeof url, "http://169.254.170.2%s%s", *rel == '/' ? "" : "/", rel);
    else if (!container_host_allowed(full)) {
        cred_set_error(err_out, "AWS_CONTAINER_CREDENTIALS_FULL_URI (%.200s) must be https, "
                       "or http to a loopback address, 169.254.170.2, 169.254.170.23 or "
                       "fd00:ec2::23", full);
        return -1;
    } else
        snprintf(url, sizeof url, "%s", full);
    struct cred_container_settings s = {
        url, cfg_env_get(c->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        cfg_env_get(c->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")};
    return (*out = cred_container_new(&s, err_out)) ? 1 : -1;
}

static int from_container(const struct chain_ctx *c, struct cred_provider **out,
                          char err_out[CRED_ERROR_LEN])
{
    return container_provider(c, 0, out, err_out);
}

/* The instance metadata service as configured; looked_in: see cred_imds_settings. */
static int imds_provider(const struct chain_ctx *c, const char *looked_in,
                         struct cred_provider **out, char err_out[CRED_ERROR_LEN])
{
    const char *endpoint = env_or_profile(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                          "ec2_metadata_service_endpoint");
    const char *mode = env_or_profile(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                      "ec2_metadata_service_endpoint_mode");
    const char *timeout = env_or_profile(c, "AWS_METADATA_SERVICE_TIMEOUT",
                                         "metadata_service_timeout");
    const char *attempts = env_or_profile(c, "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
                                          "metadata_service_num_attempts");
    if (mode && strcasecmp(mode, "ipv4") != 0 && strcasecmp(mode, "ipv6") != 0) {
        cred_set_error(err_out, "ec2_metadata_service_endpoint_mode must be IPv4 or IPv6 "
                       "(got \"%.40s\")", mode);
        return -1;
    }
    if (endpoint && strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8)) {
        cred_set_error(err_out, "the EC2 metadata service endpoint is not an http(s) URL: "
                       "\"%.200s\"", endpoint);
        return -1;
    }
    struct cred_imds_settings s = {
        endpoint ? endpoint
                 : mode && strcasecmp(mode, "ipv6") == 0 ? "http://[fd00:ec2::254]/"
                                                        : "http://169.254.169.254/",
        seconds_setting(timeout, 1000), attempts ? atoi(attempts) : 1,
        is_true(env_or_profile(c, "AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled")),
        looked_in};
    if (s.timeout_ms < 0 || s.attempts < 1) {
        cred_set_error(err_out, "metadata_service_timeout and metadata_service_num_attempts "
                       "must be positive numbers");
        return -1;
    }
    return (*out = cred_imds_new(&s, err_out)) ? 1 : -1;
}

static int imds_disabled(const struct chain_ctx *c)
{
    return is_true(cfg_env_get(c->env, "AWS_EC2_METADATA_DISABLED"));
}

/* ================================================================ assume role */

/* The credentials a role is assumed with: credential_source or source_profile. */
static int role_source(const struct chain_ctx *c, const char *source_profile,
                       const char *credential_source, struct cred_provider **out,
                       char err_out[CRED_ERROR_LEN])
{
    if (credential_source) {
        int found = -1;
        if (strcasecmp(credential_source, "Environment") == 0)
            found = env_keys(c, out, err_out);
        else if (strcasecmp(credential_source, "EcsContainer") == 0)
            found = container_provider(c, 1, out, err_out);
        else if (strcasecmp(credential_source, "Ec2InstanceMetadata") == 0 && imds_disabled(c))
            cred_set_error(err_out, "credential_source Ec2InstanceMetadata of profile '%s': the "
                           "instance metadata service is disabled by AWS_EC2_METADATA_DISABLED",
                           c->f->profile);
        else if (strcasecmp(credential_source, "Ec2InstanceMetadata") == 0)
            found = imds_provider(c, NULL, out, err_out);
        else
            cred_set_error(err_out, "credential_source of profile '%s' must be Environment, "
                           "EcsContainer or Ec2InstanceMetadata (got \"%.40s\")",
                           c->f->profile, credential_source);
        if (found == 0)
            cred_set_error(err_out, "credential_source Environment of profile '%s': "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
                           c->f->profile);
        return found == 1 ? 0 : -1;
    }
    struct cfg_files view;
    struct chain_ctx next = *c;
    int self = strcmp(source_profile, c->f->profile) == 0;
    for (int i = 0; i < c->depth && !self; i++)
        if (strcmp(c->visited[i], source_profile) == 0) {
            cred_set_error(err_out, "Infinite loop in profile configuration: profile '%s' "
                           "is its own source through source_profile", source_profile);
            return -1;
        }
    if (c->depth + 1 >= MAX_ROLE_CHAIN || cfg_files_view(c->f, source_profile, &view) != 0) {
        cred_set_error(err_out, c->depth + 1 >= MAX_ROLE_CHAIN
                       ? "role chain of profile '%s' is longer than 8 profiles"
                       : "The source_profile \"%s\" does not exist", source_profile);
        return -1;
    }
    next.f = &view;
    next.visited[next.depth++] = c->f->profile;
    int found = self ? from_credentials_file(&next, out, err_out) : resolve_profile(&next, out, err_out);
    if (found == 0 && self)
        found = from_config_file(&next, out, err_out);
    if (found == 0)
        cred_set_error(err_out, "source_profile '%s' of profile '%s' has no credentials%s",
                       source_profile, c->f->profile,
                       self ? " (a profile may be its own source only with static keys)" : "");
    return found == 1 ? 0 : -1;
}

static int from_assume_role(const struct chain_ctx *c, struct cred_provider **out,
                            char err_out[CRED_ERROR_LEN])
{
    const struct cfg_files *f = c->f;
    const char *role = cfg_profile_get(f, "role_arn", NULL);
    if (!role || cfg_profile_get(f, "web_identity_token_file", NULL))
        return 0;
    const char *src_profile = cfg_profile_get(f, "source_profile", NULL);
    const char *src_cred = cfg_profile_get(f, "credential_source", NULL);
    if (src_profile && src_cred) {
        cred_set_error(err_out, "The profile \"%s\" contains both source_profile and "
                       "credential_source.", f->profile);
        return -1;
    }
    if (!src_profile && !src_cred) {
        cred_set_error(err_out, "The profile \"%s\" has role_arn but neither source_profile "
                       "nor credential_source.", f->profile);
        return -1;
    }
    const char *mfa_serial = cfg_profile_get(f, "mfa_serial", NULL);
    const char *mfa_code = c->ex ? c->ex->mfa_code : NULL;
    if (mfa_serial && !mfa_code) {
        cred_set_error(err_out, "The profile \"%s\" assumes its role with mfa_serial %.200s: "
                       "give the client an mfa_token function that returns the device's code",
                       f->profile, mfa_serial);
        if (c->mfa_serial_out && c->mfa_serial_cap)
            snprintf(c->mfa_serial_out, c->mfa_serial_cap, "%s", mfa_serial);
        return -1;
    }
    struct cred_sts_settings s;
    char url[512], name[CRED_SOURCE_LEN];
    struct cred_provider *source = NULL;
    if (sts_common(c, &s, url, sizeof url, err_out) != 0 ||
        role_source(c, src_profile, src_cred, &source, err_out) != 0)
        return -1;
    snprintf(name, sizeof name, "assume-role:%.100s <- %.300s", f->profile,
             cred_provider_source(source));
    s.role_arn = role;
    s.session_name = cfg_profile_get(f, "role_session_name", NULL);
    s.external_id = cfg_profile_get(f, "external_id", NULL);
    s.mfa_serial = mfa_serial;
    s.mfa_code = mfa_serial ? mfa_code : NULL;
    s.source_name = name;
    if (!(s.source = cred_cache_new(source, err_out)))
        return -1;
    return (*out = cred_sts_assume_role_new(&s, err_out)) ? 1 : -1;
}

/* ================================================================ the lists */

/* botocore's order for the client's own profile. */
static const chain_step STEPS[] = {
    from_client, from_env, from_assume_role, from_web_identity, from_sso, from_credentials_file,
    from_process, from_config_file, from_container,
};

/* A source_profile: what the profile itself holds. */
static const chain_step PROFILE_STEPS[] = {
    from_assume_role, from_web_identity, from_sso, from_credentials_file, from_process,
    from_config_file,
};

static int resolve_profile(const struct chain_ctx *c, struct cred_provider **out,
                           char err_out[CRED_ERROR_LEN])
{
    int found = 0;
    for (size_t i = 0; i < sizeof PROFILE_STEPS / sizeof PROFILE_STEPS[0] && found == 0; i++)
        found = PROFILE_STEPS[i](c, out, err_out);
    return found;
}

/* ================================================================ nothing found */

/* Why a file section gave no keys, for the "looked in" message. */
static const char *why_absent(int missing, const struct ini_section *s)
{
    if (missing)
        return "file not found";
    return s ? "no aws_access_key_id/aws_secret_access_key" : "no such section";
}

/* A source the profile names that iotlua has no provider for yet, or NULL. */
static const char *unsupported_source(const struct cfg_files *f)
{
    if (cfg_profile_get(f, "login_session", NULL))
        return "login_session";
    return NULL;
}

/* Every place looked at, for the "Unable to locate credentials" message. */
static void looked_in(const struct cfg_files *f, char *out, size_t cap)
{
    snprintf(out, cap, "the client's 'credentials' field (not set); environment variables "
             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (%s); profile '%s': no role_arn, "
             "no web_identity_token_file, no credential_process; shared credentials file "
             "%s [%s] (%s); config file %s [%s%s] (%s); container credentials "
             "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI not set)",
             f->profile_from_client ? "skipped: a profile was given" : "not set", f->profile,
             f->credentials_path, f->profile, why_absent(f->credentials_missing, f->cred_sect),
             f->config_path, strcmp(f->profile, "default") ? "profile " : "", f->profile,
             why_absent(f->config_missing, f->cfg_sect));
}

/* Nothing found before the instance metadata service: it is the last resort, unless
 * disabled (then the message lists every place looked at). */
static int last_resort(const struct chain_ctx *c, struct cred_provider **out,
                       char err_out[CRED_ERROR_LEN])
{
    char where[CRED_ERROR_LEN];
    const char *unsupported = unsupported_source(c->f);
    looked_in(c->f, where, sizeof where);
    if (!imds_disabled(c) && !unsupported)
        return imds_provider(c, where, out, err_out);
    cred_set_error(err_out, "Unable to locate credentials. Looked in: %s; EC2 instance "
                   "metadata (%s).%s%s%s", where,
                   imds_disabled(c) ? "disabled by AWS_EC2_METADATA_DISABLED" : "not asked",
                   unsupported ? " The profile uses " : "", unsupported ? unsupported : "",
                   unsupported ? ", which iotlua does not support yet." : "");
    return -1;
}

/* ================================================================ the chain */

struct cred_provider *cred_chain_resolve(const struct cred_chain_settings *settings,
                                         char err_out[CRED_ERROR_LEN])
{
    struct cfg_files f;
    struct cred_provider *p = NULL;
    err_out[0] = '\0';
    if (cfg_files_load(settings->ex, settings->env, &f, err_out) == 0) {
        struct chain_ctx c = {settings->ex, settings->env, &f, settings->region,
                              settings->mfa_serial_out, settings->mfa_serial_cap, {NULL}, 0};
        int found = 0;
        for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0] && found == 0; i++)
            found = STEPS[i](&c, &p, err_out);
        if (found == 0)
            last_resort(&c, &p, err_out);
    }
    cfg_files_free(&f);
    return p;
}
