/*
 * test_config.c — configuration resolution (runtime/config.c) against the AWS CLI's
 * documented behaviour: precedence of client fields, environment variables, the shared
 * credentials and config files, profiles, services sections, endpoint rules; the
 * credentials chain; credential_process with its cache; the error messages.
 *
 * The environment is injected (never the process's own); files and credential_process
 * scripts are written to a fresh temporary directory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "credentials/cache.h"

/* ---------------------------------------------------------------- a fake environment */

#define MAX_VARS 32

struct fake_env {
    const char *names[MAX_VARS];
    const char *values[MAX_VARS];
    int n;
};

static const char *fake_getenv(void *ud, const char *name)
{
    const struct fake_env *e = ud;
    for (int i = e->n; i-- > 0;)
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    return NULL;
}

static void setv(struct fake_env *e, const char *name, const char *value)
{
    if (e->n < MAX_VARS) {
        e->names[e->n] = name;
        e->values[e->n++] = value;
    }
}

static char tmpdir[64];
static char config_path[96], creds_path[96];

/* An environment pointing at the temp dir's files, HOME there too. */
static struct fake_env base_env(void)
{
    struct fake_env e = {{0}, {0}, 0};
    setv(&e, "HOME", tmpdir);
    setv(&e, "AWS_CONFIG_FILE", config_path);
    setv(&e, "AWS_SHARED_CREDENTIALS_FILE", creds_path);
    setv(&e, "AWS_EC2_METADATA_DISABLED", "true");     /* never 169.254.169.254 */
    return e;
}

static struct cfg_env as_env(struct fake_env *e)
{
    struct cfg_env c = {fake_getenv, e};
    return c;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK_REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void write_script(const char *name, const char *body, char *path_out, size_t cap)
{
    snprintf(path_out, cap, "%s/%s", tmpdir, name);
    write_file(path_out, body);
    chmod(path_out, 0700);
}

static void files(const char *config, const char *creds)
{
    if (config)
        write_file(config_path, config);
    else
        unlink(config_path);
    if (creds)
        write_file(creds_path, creds);
    else
        unlink(creds_path);
}

/* Resolves settings; returns rc, with r and err filled. */
static int resolve(struct fake_env *e, const struct cfg_explicit *ex, struct cfg_resolved *r,
                   char err[CFG_ERROR_LEN])
{
    struct cfg_env env = as_env(e);
    struct cfg_explicit none = CFG_EXPLICIT_INIT;
    return cfg_resolve(ex ? ex : &none, &env, r, err);
}

/* ---------------------------------------------------------------- region and profile */

static void test_region_precedence(void)
{
    struct cfg_resolved r;
    char err[CFG_ERROR_LEN];
    struct cfg_explicit ex = CFG_EXPLICIT_INIT;
    files("[default]\nregion = eu-west-1\n[profile ops]\nregion = ap-south-1\n", NULL);

    struct fake_env e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "eu-west-1");
    CHECK_STR_CONTAINS(r.region_source, "'region' of profile 'default' in ");
    CHECK_STR_EQ(r.profile, "default");
    CHECK_STR_EQ(r.endpoint, "https://data-ats.iot.eu-west-1.amazonaws.com");
    CHECK_STR_EQ(r.endpoint_source, "endpoint rules");
    CHECK_INT_EQ(r.max_attempts, 3);
    CHECK_STR_EQ(r.retry_mode, "standard");
    CHECK(r.ca_bundle == NULL);
    cfg_resolved_free(&r);

    setv(&e, "AWS_DEFAULT_REGION", "us-west-1");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "us-west-1");
    CHECK_STR_EQ(r.region_source, "environment variable AWS_DEFAULT_REGION");
    cfg_resolved_free(&r);

    setv(&e, "AWS_REGION", "us-east-2");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "us-east-2");
    CHECK_STR_EQ(r.region_source, "environment variable AWS_REGION");
    cfg_resolved_free(&r);

    ex.region = "ca-central-1";
    CHECK_INT_EQ(resolve(&e, &ex, &r, err), 0);
    CHECK_STR_EQ(r.region, "ca-central-1");
    CHECK_STR_EQ(r.region_source, "client field 'region'");
    cfg_resolved_free(&r);

    /* AWS_PROFILE picks [profile ops]; an empty variable counts as unset. */
    e = base_env();
    setv(&e, "AWS_REGION", "");
    setv(&e, "AWS_PROFILE", "ops");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.profile, "ops");
    CHECK_STR_EQ(r.region, "ap-south-1");
    cfg_resolved_free(&r);

    /* The client's profile beats AWS_PROFILE. */
    struct cfg_explicit ex2 = CFG_EXPLICIT_INIT;
    ex2.profile = "default";
    CHECK_INT_EQ(resolve(&e, &ex2, &r, err), 0);
    CHECK_STR_EQ(r.region, "eu-west-1");
    cfg_resolved_free(&r);
}

static void test_profile_rules(void)
{
    struct cfg_resolved r;
    char err[CFG_ERROR_LEN];
    /* In the config file [ops] is not a profile; [profile "q x"] is "q x"; the
     * credentials file's section overrides the config file's (botocore's merge). */
    files("[ops]\nregion = eu-west-1\n[profile \"q x\"]\nregion = eu-north-1\n"
          "[profile cred]\nregion = eu-west-2\n",
          "[cred]\nregion = eu-west-3\n[onlycreds]\nregion = sa-east-1\n");
    struct fake_env e = base_env();
    setv(&e, "AWS_PROFILE", "ops");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "The config profile (ops) could not be found");
    cfg_resolved_free(&r);

    e = base_env();
    setv(&e, "AWS_PROFILE", "q x");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "eu-north-1");
    cfg_resolved_free(&r);

    e = base_env();
    setv(&e, "AWS_PROFILE", "cred");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "eu-west-3");
    CHECK_STR_CONTAINS(r.region_source, creds_path);
    cfg_resolved_free(&r);

    e = base_env();
    setv(&e, "AWS_PROFILE", "onlycreds");          /* a profile of the credentials file */
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "sa-east-1");
    cfg_resolved_free(&r);

    /* Section names split like botocore's shlex: "[profile x ]" is x; "[ default ]",
     * "[profilex]" and "[profile a b]" are not profiles. */
    files("[profile x ]\nregion = eu-west-1\n[ default ]\nregion = eu-west-2\n"
          "[profilex]\nregion = eu-west-3\n[profile a b]\nregion = eu-west-3\n", NULL);
    e = base_env();
    setv(&e, "AWS_PROFILE", "x");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "eu-west-1");
    cfg_resolved_free(&r);
    e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);              /* no [default] at all */
    CHECK_STR_CONTAINS(err, "No region configured");
    cfg_resolved_free(&r);
    const char *not_profiles[] = {"a b", "a", "profilex", "x "};
    for (int i = 0; i < 4; i++) {
        e = base_env();
        setv(&e, "AWS_PROFILE", not_profiles[i]);
        CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
        CHECK_STR_CONTAINS(err, "could not be found");
        cfg_resolved_free(&r);
    }

    /* [default] or [profile default]: the later section wins. */
    files("[default]\nregion = eu-west-1\n[profile default]\nregion = us-west-2\n", NULL);
    e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "us-west-2");
    cfg_resolved_free(&r);

    /* "~" in AWS_CONFIG_FILE is HOME of the injected environment. */
    files("[default]\nregion = me-south-1\n", NULL);
    e = base_env();
    setv(&e, "AWS_CONFIG_FILE", "~/config");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.region, "me-south-1");
    CHECK_STR_EQ(r.config_file, config_path);
    cfg_resolved_free(&r);

    /* Unparsable file: the error names the file and line. */
    files("[default]\nregion = a\nregion = b\n", NULL);
    e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, config_path);
    CHECK_STR_CONTAINS(err, ":3: duplicate key 'region'");
    cfg_resolved_free(&r);
}

static void test_missing_region(void)
{
    struct cfg_resolved r;
    char err[CFG_ERROR_LEN];
    files(NULL, NULL);
    struct fake_env e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "No region configured");
    CHECK_STR_CONTAINS(err, "'region' field");
    CHECK_STR_CONTAINS(err, "AWS_REGION");
    CHECK_STR_CONTAINS(err, "AWS_DEFAULT_REGION");
    CHECK_STR_CONTAINS(err, config_path);
    CHECK_STR_CONTAINS(err, creds_path);
    CHECK_STR_CONTAINS(err, "(not found)");
    CHECK(r.region == NULL);
    cfg_resolved_free(&r);

    setv(&e, "AWS_REGION", "us east 1");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "doesn't match a supported format");
    CHECK_STR_CONTAINS(err, "environment variable AWS_REGION");
    cfg_resolved_free(&r);
}

/* ---------------------------------------------------------------- endpoint */

static void test_endpoint_precedence(void)
{
    struct cfg_resolved r;
    char err[CFG_ERROR_LEN];
    struct cfg_explicit ex = CFG_EXPLICIT_INIT;
    files("[default]\nregion = us-east-1\nendpoint_url = https://profile.example\n"
          "services = local\n"
          "[services local]\niot_data_plane =\n  endpoint_url = http://services.example:1\n"
          "s3 =\n  endpoint_url = http://s3.example\n",
          NULL);
    struct fake_env e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "http://services.example:1");
    CHECK_STR_CONTAINS(r.endpoint_source, "[services local] iot_data_plane.endpoint_url");
    cfg_resolved_free(&r);

    setv(&e, "AWS_ENDPOINT_URL", "http://global-env:2");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "http://global-env:2");
    cfg_resolved_free(&r);

    setv(&e, "AWS_ENDPOINT_URL_IOT_DATA_PLANE", "http://service-env:3");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "http://service-env:3");
    CHECK_STR_EQ(r.endpoint_source, "environment variable AWS_ENDPOINT_URL_IOT_DATA_PLANE");
    cfg_resolved_free(&r);

    ex.endpoint = "http://127.0.0.1:4";
    CHECK_INT_EQ(resolve(&e, &ex, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "http://127.0.0.1:4");
    CHECK_STR_EQ(r.endpoint_source, "client field 'endpoint'");
    cfg_resolved_free(&r);

    /* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: env and files ignored, the client's kept. */
    setv(&e, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "https://data-ats.iot.us-east-1.amazonaws.com");
    cfg_resolved_free(&r);
    CHECK_INT_EQ(resolve(&e, &ex, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "http://127.0.0.1:4");
    cfg_resolved_free(&r);

    /* No services entry for iot_data_plane: the profile's endpoint_url. */
    files("[default]\nregion = us-east-1\nendpoint_url = https://profile.example\n"
          "services = local\n[services local]\ns3 =\n  endpoint_url = http://s3.example\n",
          NULL);
    e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "https://profile.example");
    CHECK_STR_CONTAINS(r.endpoint_source, "'endpoint_url' of profile 'default'");
    cfg_resolved_free(&r);

    /* A services name with no such section is an error (as in botocore). */
    files("[default]\nregion = us-east-1\nservices = nope\n", NULL);
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "\"nope\" services configuration does not exist");
    cfg_resolved_free(&r);

    /* Invalid endpoint; custom endpoint with FIPS / dual-stack. */
    files("[default]\nregion = us-east-1\n", NULL);
    struct cfg_explicit bad = CFG_EXPLICIT_INIT;
    bad.endpoint = "ftp://x";
    CHECK_INT_EQ(resolve(&e, &bad, &r, err), -1);
    CHECK_STR_CONTAINS(err, "Invalid endpoint: 'ftp://x'");
    cfg_resolved_free(&r);
    setv(&e, "AWS_ENDPOINT_URL", "http://custom:1");
    setv(&e, "AWS_USE_FIPS_ENDPOINT", "true");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "Invalid Configuration: FIPS and custom endpoint are not supported");
    CHECK_STR_CONTAINS(err, "AWS_ENDPOINT_URL");
    cfg_resolved_free(&r);
    e = base_env();
    setv(&e, "AWS_ENDPOINT_URL", "http://custom:1");
    setv(&e, "AWS_USE_DUALSTACK_ENDPOINT", "TRUE");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "Dualstack and custom endpoint are not supported");
    cfg_resolved_free(&r);
}

static void test_fips_dualstack(void)
{
    struct cfg_resolved r;
    char err[CFG_ERROR_LEN];
    struct cfg_explicit ex = CFG_EXPLICIT_INIT;
    files("[default]\nregion = us-gov-west-1\nuse_fips_endpoint = true\n"
          "[profile cn]\nregion = cn-north-1\nuse_dualstack_endpoint = true\n", NULL);
    struct fake_env e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_INT_EQ(r.use_fips_endpoint, 1);
    CHECK_STR_EQ(r.endpoint, "https://data.iot-fips.us-gov-west-1.amazonaws.com");
    cfg_resolved_free(&r);

    setv(&e, "AWS_USE_FIPS_ENDPOINT", "false");      /* env beats profile */
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "https://data-ats.iot.us-gov-west-1.amazonaws.com");
    cfg_resolved_free(&r);

    ex.use_fips_endpoint = 1;                        /* client beats env */
    ex.use_dualstack_endpoint = 1;
    CHECK_INT_EQ(resolve(&e, &ex, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "https://data-ats.iot-fips.us-gov-west-1.api.aws");
    cfg_resolved_free(&r);

    e = base_env();
    setv(&e, "AWS_PROFILE", "cn");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_STR_EQ(r.endpoint, "https://data-ats.iot.cn-north-1.api.amazonwebservices.com.cn");
    cfg_resolved_free(&r);

    setv(&e, "AWS_USE_DUALSTACK_ENDPOINT", "yes");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "environment variable AWS_USE_DUALSTACK_ENDPOINT must be true or "
                            "false, got 'yes'");
    cfg_resolved_free(&r);
}

static void test_retry_and_tls(void)
{
    struct cfg_resolved r;
    char err[CFG_ERROR_LEN];
    struct cfg_explicit ex = CFG_EXPLICIT_INIT;
    files("[default]\nregion = us-east-1\nmax_attempts = 7\nretry_mode = legacy\n"
          "ca_bundle = ~/ca.pem\n", NULL);
    struct fake_env e = base_env();
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_INT_EQ(r.max_attempts, 7);
    CHECK_STR_EQ(r.retry_mode, "legacy");
    char want[400];
    snprintf(want, sizeof want, "%s/ca.pem", tmpdir);
    CHECK_STR_EQ(r.ca_bundle, want);
    cfg_resolved_free(&r);

    setv(&e, "AWS_MAX_ATTEMPTS", "2");
    setv(&e, "AWS_RETRY_MODE", "adaptive");         /* one answer everywhere: not supported */
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "Invalid value provided to retry_mode (environment variable AWS_RETRY_MODE): 'adaptive'");
    CHECK_STR_CONTAINS(err, "Valid values are: standard, legacy (adaptive is not supported)");
    cfg_resolved_free(&r);
    setv(&e, "AWS_RETRY_MODE", "legacy");
    setv(&e, "AWS_CA_BUNDLE", "/etc/ca.pem");
    CHECK_INT_EQ(resolve(&e, NULL, &r, err), 0);
    CHECK_INT_EQ(r.max_attempts, 2);
    CHECK_STR_EQ(r.retry_mode, "legacy");
    CHECK_STR_EQ(r.ca_bundle, "/etc/ca.pem");
    cfg_resolved_free(&r);

    ex.max_attempts = 5;
    ex.retry_mode = "standard";
    ex.ca_bundle = "/mine.pem";
    CHECK_INT_EQ(resolve(&e, &ex, &r, err), 0);
    CHECK_INT_EQ(r.max_attempts, 5);
    CHECK_STR_EQ(r.retry_mode, "standard");
    CHECK_STR_EQ(r.ca_bundle, "/mine.pem");
    cfg_resolved_free(&r);

    const char *bad_attempts[] = {"0", "-1", "x", "3x", "", NULL};
    for (int i = 0; bad_attempts[i]; i++) {
        struct fake_env b = base_env();
        setv(&b, "AWS_MAX_ATTEMPTS", bad_attempts[i]);
        int rc = resolve(&b, NULL, &r, err);
        if (*bad_attempts[i]) {
            CHECK_INT_EQ(rc, -1);
            CHECK_STR_CONTAINS(err, "AWS_MAX_ATTEMPTS must be an integer");
        } else {
            CHECK_INT_EQ(rc, 0);                     /* empty = unset: the profile's 7 */
            CHECK_INT_EQ(r.max_attempts, 7);
        }
        cfg_resolved_free(&r);
    }
    struct fake_env b = base_env();
    setv(&b, "AWS_RETRY_MODE", "fast");
    CHECK_INT_EQ(resolve(&b, NULL, &r, err), -1);
    CHECK_STR_CONTAINS(err, "Invalid value provided to retry_mode");
    cfg_resolved_free(&r);
    struct cfg_explicit zero = CFG_EXPLICIT_INIT;
    zero.max_attempts = 0;
    CHECK_INT_EQ(resolve(&b, &zero, &r, err), -1);
    CHECK_STR_CONTAINS(err, "max_attempts must be an integer >= 1");
    cfg_resolved_free(&r);
}

/* ---------------------------------------------------------------- credentials */

#define SECRET_CLIENT "client-SECRET-0000"
#define SECRET_ENV "env-SECRET-1111"
#define SECRET_CREDS "creds-SECRET-2222"
#define SECRET_CONFIG "config-SECRET-3333"
#define SECRET_PROC "proc-SECRET-4444"

static struct cred_cache *provider(struct fake_env *e, const struct cfg_explicit *ex,
                                     char err[CFG_ERROR_LEN])
{
    struct cfg_env env = as_env(e);
    struct cfg_explicit none = CFG_EXPLICIT_INIT;
    struct cred_chain_settings chain = {ex ? ex : &none, &env, "us-east-1", NULL, 0};
    return cred_cache_resolve(&chain, err);
}

/* Resolves the chain and returns the access key id found ("" on error). */
static const char *akid_of(struct fake_env *e, const struct cfg_explicit *ex, time_t now,
                           char err[CFG_ERROR_LEN])
{
    static char akid[64];
    struct cred_credentials c;
    struct cred_cache *p = provider(e, ex, err);
    akid[0] = '\0';
    if (p && cred_cache_get(p, now, &c, err) == 0) {
        snprintf(akid, sizeof akid, "%s", c.access_key_id);
        cred_credentials_free(&c);
    }
    cred_cache_free(p);
    return akid;
}

static void no_secret_in(const char *err)
{
    CHECK(strstr(err, "SECRET") == NULL);
}

static void test_credentials_chain(void)
{
    char err[CFG_ERROR_LEN], script[400], cmdline[1024];
    struct cfg_explicit ex = CFG_EXPLICIT_INIT;
    write_script("proc.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                 "\"SecretAccessKey\": \"" SECRET_PROC "\"}'\n", script, sizeof script);
    snprintf(cmdline, sizeof cmdline, "[default]\naws_access_key_id = AKIDCONFIG\n"
             "aws_secret_access_key = " SECRET_CONFIG "\ncredential_process = %s\n"
             "[profile cfgonly]\naws_access_key_id = AKIDCFGONLY\n"
             "aws_secret_access_key = " SECRET_CONFIG "\n", script);
    files(cmdline, "[default]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = "
                   SECRET_CREDS "\naws_session_token = TOKCREDS\n");
    struct fake_env e = base_env();
    setv(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
    setv(&e, "AWS_SECRET_ACCESS_KEY", SECRET_ENV);
    setv(&e, "AWS_SESSION_TOKEN", "TOKENV");

    ex.access_key_id = "AKIDCLIENT";
    ex.secret_access_key = SECRET_CLIENT;
    CHECK_STR_EQ(akid_of(&e, &ex, 0, err), "AKIDCLIENT");           /* 1. client */
    CHECK_STR_EQ(akid_of(&e, NULL, 0, err), "AKIDENV");             /* 2. environment */

    struct cred_credentials c;
    struct cfg_env env = as_env(&e);
    struct cfg_explicit none = CFG_EXPLICIT_INIT;
    struct cred_chain_settings chain = {&none, &env, "us-east-1", NULL, 0};
    struct cred_cache *p = cred_cache_resolve(&chain, err);
    CHECK_REQUIRE(p && cred_cache_get(p, 0, &c, err) == 0);
    CHECK_STR_EQ(c.secret_access_key, SECRET_ENV);
    CHECK_STR_EQ(c.session_token, "TOKENV");
    CHECK_STR_EQ(c.source, "environment");
    CHECK_INT_EQ(c.expiration, 0);
    cred_credentials_free(&c);
    cred_cache_free(p);

    e = base_env();
    CHECK_STR_EQ(akid_of(&e, NULL, 0, err), "AKIDCREDS");           /* 3. credentials file */
    files(cmdline, NULL);
    CHECK_STR_EQ(akid_of(&e, NULL, 0, err), "AKIDPROC");            /* 4. credential_process */
    snprintf(cmdline, sizeof cmdline, "[default]\naws_access_key_id = AKIDCONFIG\n"
             "aws_secret_access_key = " SECRET_CONFIG "\n");
    files(cmdline, NULL);
    CHECK_STR_EQ(akid_of(&e, NULL, 0, err), "AKIDCONFIG");          /* 5. config file */

    /* A profile given by the client skips the environment (botocore); AWS_PROFILE not. */
    files("[profile ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = "
          SECRET_CONFIG "\n", NULL);
    e = base_env();
    setv(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
    setv(&e, "AWS_SECRET_ACCESS_KEY", SECRET_ENV);
    setv(&e, "AWS_PROFILE", "ops");
    CHECK_STR_EQ(akid_of(&e, NULL, 0, err), "AKIDENV");
    struct cfg_explicit prof = CFG_EXPLICIT_INIT;
    prof.profile = "ops";
    CHECK_STR_EQ(akid_of(&e, &prof, 0, err), "AKIDOPS");
}

static void test_partial_and_missing(void)
{
    char err[CFG_ERROR_LEN];
    struct cfg_explicit ex = CFG_EXPLICIT_INIT;
    files("[default]\naws_access_key_id = AKIDONLY\n", "[default]\naws_secret_access_key = "
          SECRET_CREDS "\n");
    struct fake_env e = base_env();

    ex.access_key_id = "AKIDCLIENT";
    CHECK(provider(&e, &ex, err) == NULL);
    CHECK_STR_CONTAINS(err, "Partial credentials found in the client's 'credentials' field, "
                            "missing: secret_access_key");

    setv(&e, "AWS_SECRET_ACCESS_KEY", SECRET_ENV);
    CHECK(provider(&e, NULL, err) == NULL);
    CHECK_STR_CONTAINS(err, "Partial credentials found in the environment, missing: "
                            "AWS_ACCESS_KEY_ID");
    no_secret_in(err);

    e = base_env();
    CHECK(provider(&e, NULL, err) == NULL);
    CHECK_STR_CONTAINS(err, "Partial credentials found in shared credentials file");
    CHECK_STR_CONTAINS(err, "missing: aws_access_key_id");
    no_secret_in(err);

    files("[default]\naws_access_key_id = AKIDONLY\n", NULL);
    CHECK(provider(&e, NULL, err) == NULL);
    CHECK_STR_CONTAINS(err, "Partial credentials found in config file");
    CHECK_STR_CONTAINS(err, "missing: aws_secret_access_key");

    /* Nothing anywhere: the message lists every place looked at. */
    files("[default]\nregion = us-east-1\n", NULL);
    CHECK(provider(&e, NULL, err) == NULL);
    CHECK_STR_CONTAINS(err, "Unable to locate credentials");
    CHECK_STR_CONTAINS(err, "'credentials' field");
    CHECK_STR_CONTAINS(err, "AWS_ACCESS_KEY_ID");
    CHECK_STR_CONTAINS(err, "AWS_SECRET_ACCESS_KEY");
    CHECK_STR_CONTAINS(err, creds_path);
    CHECK_STR_CONTAINS(err, "file not found");
    CHECK_STR_CONTAINS(err, "no credential_process");
    CHECK_STR_CONTAINS(err, config_path);
    CHECK_STR_CONTAINS(err, "[default] (no aws_access_key_id/aws_secret_access_key)");
    CHECK_STR_CONTAINS(err, "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)");

    /* Unless disabled, the instance metadata service is the last resort: picked without
     * a request (it is asked on the first call). */
    struct fake_env on_ec2 = base_env();
    setv(&on_ec2, "AWS_EC2_METADATA_DISABLED", "false");
    setv(&on_ec2, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/");
    struct cred_cache *imds = provider(&on_ec2, NULL, err);
    CHECK_REQUIRE(imds != NULL);
    CHECK_STR_EQ(cred_cache_source(imds), "imds");
    cred_cache_free(imds);

    /* Sources not supported yet are named. */
    files("[profile s]\nlogin_session = arn:aws:iam::1:user/me\n", "");
    setv(&e, "AWS_PROFILE", "s");
    CHECK(provider(&e, NULL, err) == NULL);
    CHECK_STR_CONTAINS(err, "[profile s] (no aws_access_key_id");
    CHECK_STR_CONTAINS(err, "[s] (no such section)");
    CHECK_STR_CONTAINS(err, "login_session, which iotlua does not support");
}

/* ---------------------------------------------------------------- credential_process */

static struct cred_cache *process_provider(const char *script_body, char err[CFG_ERROR_LEN])
{
    char script[400], cfg[600];
    write_script("cp.sh", script_body, script, sizeof script);
    snprintf(cfg, sizeof cfg, "[default]\ncredential_process = %s --flag 'arg with space'\n",
             script);
    files(cfg, NULL);
    struct fake_env e = base_env();
    return provider(&e, NULL, err);
}

static void test_process_cache(void)
{
    char err[CFG_ERROR_LEN], body[2048], counter[400];
    struct cred_credentials c;
    time_t exp;
    snprintf(counter, sizeof counter, "%s/count", tmpdir);
    unlink(counter);
    /* Each run appends a line to the counter file and reports the run number. */
    snprintf(body, sizeof body,
             "#!/bin/sh\n[ \"$1 $2\" = '--flag arg with space' ] || exit 9\n"
             "echo run >> %s\nn=$(wc -l < %s | tr -d ' ')\n"
             "printf '{\"Version\":1,\"AccessKeyId\":\"AKID%%s\",\"SecretAccessKey\":"
             "\"" SECRET_PROC "\",\"SessionToken\":\"TOK%%s\","
             "\"Expiration\":\"2030-01-01T00:00:00Z\"}' $n $n\n", counter, counter);
    CHECK_INT_EQ(cred_parse_rfc3339("2030-01-01T00:00:00Z", &exp), 0);
    struct cred_cache *p = process_provider(body, err);
    CHECK_REQUIRE(p != NULL);
    CHECK_STR_EQ(cred_cache_source(p), "process:default");
    cred_cache_set_windows(p, 60, 60);

    CHECK_INT_EQ(cred_cache_get(p, exp - 3600, &c, err), 0);    /* first run */
    CHECK_STR_EQ(c.access_key_id, "AKID1");
    CHECK_STR_EQ(c.secret_access_key, SECRET_PROC);
    CHECK_STR_EQ(c.session_token, "TOK1");
    CHECK_INT_EQ(c.expiration, exp);
    cred_credentials_free(&c);
    CHECK_INT_EQ(cred_cache_get(p, exp - 61, &c, err), 0);      /* cached */
    CHECK_STR_EQ(c.access_key_id, "AKID1");
    cred_credentials_free(&c);
    CHECK_INT_EQ(cred_cache_get(p, exp - 60, &c, err), 0);      /* due: run again */
    CHECK_STR_EQ(c.access_key_id, "AKID2");
    cred_credentials_free(&c);
    CHECK_INT_EQ(cred_cache_get(p, exp - 30, &c, err), 0);      /* due again */
    CHECK_STR_EQ(c.access_key_id, "AKID3");
    cred_credentials_free(&c);
    /* Once the returned credentials are already expired, that is an error. */
    CHECK_INT_EQ(cred_cache_get(p, exp + 1, &c, err), -1);
    CHECK_STR_CONTAINS(err, "already expired");
    cred_cache_free(p);

    /* Without Expiration: run once, cached for good. */
    unlink(counter);
    snprintf(body, sizeof body,
             "#!/bin/sh\necho run >> %s\nn=$(wc -l < %s | tr -d ' ')\n"
             "printf '{\"Version\":1,\"AccessKeyId\":\"AKID%%s\",\"SecretAccessKey\":\"s\"}' $n\n",
             counter, counter);
    p = process_provider(body, err);
    CHECK_REQUIRE(p != NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(cred_cache_get(p, 1000000 * (time_t)i, &c, err), 0);
        CHECK_STR_EQ(c.access_key_id, "AKID1");
        CHECK(c.session_token == NULL);
        cred_credentials_free(&c);
    }
    cred_cache_free(p);
}

struct process_error {
    const char *body;
    const char *message;
};

static void test_process_errors(void)
{
    static const struct process_error cases[] = {
        {"#!/bin/sh\necho 'token service down' >&2\nexit 3\n",
         "credential_process failed with exit status 3: token service down"},
        {"#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\""
         SECRET_PROC "\"'\n", "output is not valid JSON (expected ',' or '}' in object at byte 68)"},
        {"#!/bin/sh\necho 'not json " SECRET_PROC "'\n", "output is not valid JSON"},
        {"#!/bin/sh\necho '{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}'\n",
         "unsupported Version"},
        {"#!/bin/sh\necho '{\"Version\":\"1\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}'\n",
         "unsupported Version"},
        {"#!/bin/sh\necho '{\"Version\":1,\"SecretAccessKey\":\"s\"}'\n", "no AccessKeyId"},
        {"#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"A\"}'\n", "no SecretAccessKey"},
        {"#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
         "\"Expiration\":\"tomorrow\"}'\n", "Expiration is not an RFC 3339 time"},
        {"#!/bin/sh\necho '[1]'\n", "must be a JSON object"},
        {"#!/bin/sh\nkill -9 $$\n", "exit status 137"},   /* sh reports the killed script */
        {"#!/bin/sh\nexit 0\n", "output is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[CFG_ERROR_LEN];
        struct cred_credentials c;
        struct cred_cache *p = process_provider(cases[i].body, err);
        CHECK_REQUIRE(p != NULL);
        CHECK_INT_EQ(cred_cache_get(p, 0, &c, err), -1);
        CHECK_STR_CONTAINS(err, cases[i].message);
        no_secret_in(err);
        /* The provider stays usable: the same error again, no crash. */
        CHECK_INT_EQ(cred_cache_get(p, 0, &c, err), -1);
        cred_cache_free(p);
    }
    /* A failed refresh inside the advisory window (15 min) keeps the still-valid
     * credentials; inside the mandatory window (10 min) the failure is the answer. */
    char err[CFG_ERROR_LEN], flag[400], body[1024];
    struct cred_credentials c;
    snprintf(flag, sizeof flag, "%s/fail-now", tmpdir);
    unlink(flag);
    snprintf(body, sizeof body, "#!/bin/sh\n[ -e %s ] && exit 1\necho '{\"Version\":1,"
             "\"AccessKeyId\":\"AKOK\",\"SecretAccessKey\":\"s\",\"Expiration\":"
             "\"2030-01-01T00:00:00+00:00\"}'\n", flag);
    time_t exp;
    cred_parse_rfc3339("2030-01-01T00:00:00Z", &exp);
    struct cred_cache *p = process_provider(body, err);
    CHECK_REQUIRE(p && cred_cache_get(p, exp - 3600, &c, err) == 0);
    cred_credentials_free(&c);
    write_file(flag, "");
    CHECK_INT_EQ(cred_cache_get(p, exp - 700, &c, err), 0);
    CHECK_STR_EQ(c.access_key_id, "AKOK");
    CHECK_STR_EQ(err, "");
    cred_credentials_free(&c);
    CHECK_INT_EQ(cred_cache_get(p, exp - 300, &c, err), -1);
    CHECK_STR_CONTAINS(err, "exit status 1");
    CHECK_INT_EQ(cred_cache_get(p, exp, &c, err), -1);
    CHECK_STR_CONTAINS(err, "exit status 1");
    cred_cache_free(p);
}

static void test_rfc3339(void)
{
    time_t t;
    CHECK_INT_EQ(cred_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
    CHECK_INT_EQ(t, 0);
    CHECK_INT_EQ(cred_parse_rfc3339("2015-08-30T12:36:00Z", &t), 0);
    CHECK_INT_EQ(t, 1440938160);
    CHECK_INT_EQ(cred_parse_rfc3339("2015-08-30T12:36:00.123456Z", &t), 0);
    CHECK_INT_EQ(t, 1440938160);
    CHECK_INT_EQ(cred_parse_rfc3339("2015-08-30T14:36:00+02:00", &t), 0);
    CHECK_INT_EQ(t, 1440938160);
    CHECK_INT_EQ(cred_parse_rfc3339("2015-08-30T07:36:00-05:00", &t), 0);
    CHECK_INT_EQ(t, 1440938160);
    CHECK_INT_EQ(cred_parse_rfc3339("2024-02-29T00:00:00Z", &t), 0);
    const char *bad[] = {"", "2015-08-30", "2015-08-30T12:36:00", "2015-02-30T00:00:00Z",
                         "2023-02-29T00:00:00Z", "2015-08-30T25:00:00Z", "2015-08-30T12:36:00.Z",
                         "2015-08-30T12:36:00+0200", "2015-08-30T12:36:00Zjunk", "tomorrow",
                         NULL};
    for (int i = 0; bad[i]; i++)
        CHECK_INT_EQ(cred_parse_rfc3339(bad[i], &t), -1);
    CHECK_INT_EQ(cfg_parse_bool("TRUE"), 1);
    CHECK_INT_EQ(cfg_parse_bool("False"), 0);
    CHECK_INT_EQ(cfg_parse_bool("1"), -1);
}

static void cleanup(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/iotlua-test-config-XXXXXX");
    CHECK_REQUIRE(mkdtemp(tmpdir) != NULL);
    snprintf(config_path, sizeof config_path, "%s/config", tmpdir);
    snprintf(creds_path, sizeof creds_path, "%s/credentials", tmpdir);
    test_region_precedence();
    test_profile_rules();
    test_missing_region();
    test_endpoint_precedence();
    test_fips_dualstack();
    test_retry_and_tls();
    test_credentials_chain();
    test_partial_and_missing();
    test_process_cache();
    test_process_errors();
    test_rfc3339();
    cleanup();
    return CHECK_SUMMARY();
}
