/*
 * config.c — AWS CLI-style configuration: profile, region, endpoint, retry and TLS
 * settings, and the config and credentials files they come from. See config.h for the
 * precedence rules. The credentials are credentials/'s: the chain of providers
 * (chain.c) reads its sources from the files loaded here.
 *
 * Sections: environment → files and profiles → settings (cfg_resolve).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "client.h"
#include "endpoints.h"
#include "ini.h"

/* ================================================================ environment */

static const char *process_getenv(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

struct cfg_env cfg_env_process(void)
{
    struct cfg_env e = {process_getenv, NULL};
    return e;
}

/* The variable's value, or NULL when unset or empty (as the AWS CLI treats them). */
const char *cfg_env_get(const struct cfg_env *env, const char *name)
{
    const char *v = env && env->getenv ? env->getenv(env->ud, name) : NULL;
    return v && *v ? v : NULL;
}

static void set_err(char err_out[CFG_ERROR_LEN], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(char err_out[CFG_ERROR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_out, CFG_ERROR_LEN, fmt, ap);
    va_end(ap);
}

int cfg_parse_bool(const char *s)
{
    if (!s)
        return -1;
    if (strcasecmp(s, "true") == 0)
        return 1;
    if (strcasecmp(s, "false") == 0)
        return 0;
    return -1;
}

/* ================================================================ files and profiles */

/* Everything read from the two files for one profile. */

/* "~/x" → "$HOME/x" (HOME from the injected environment). */
static char *expand_home(const struct cfg_env *env, const char *path)
{
    struct buf b = BUF_INIT;
    const char *home = cfg_env_get(env, "HOME");
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home)
        buf_printf(&b, "%s%s", home, path + 1);
    else
        buf_append_str(&b, path);
    return buf_steal(&b);
}

/* Splits s into at most `max` shell-like words (blanks separate, '...' and "..."
 * quote). Returns the number of words, or -1 on an unterminated quote or overflow. */
static int split_words(const char *s, char words[][256], int max)
{
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        if (n == max)
            return -1;
        size_t len = 0;
        while (*s && *s != ' ' && *s != '\t') {
            if (*s == '"' || *s == '\'') {
                const char *close = strchr(s + 1, *s);
                if (!close)
                    return -1;
                for (const char *c = s + 1; c < close; c++)
                    if (len < 255)
                        words[n][len++] = *c;
                s = close + 1;
            } else if (len < 255) {
                words[n][len++] = *s++;
            } else {
                s++;
            }
        }
        words[n++][len] = '\0';
    }
    return n;
}

/* The profile a config-file section names: "default" for [default], x for [profile x]
 * (shlex-style words, as botocore splits them); 0 when the section is not a profile. */
static int section_profile(const char *section, char *name_out, size_t cap)
{
    char words[3][256];
    if (strcmp(section, "default") == 0) {
        snprintf(name_out, cap, "default");
        return 1;
    }
    if (strncmp(section, "profile", 7) != 0 || split_words(section, words, 3) != 2 ||
        strcmp(words[0], "profile") != 0 || !words[1][0] || strlen(words[1]) >= cap)
        return 0;
    snprintf(name_out, cap, "%s", words[1]);
    return 1;
}

/* The config file's section for a profile; a later matching section wins. */
static const struct ini_section *find_config_profile(const struct ini_file *f,
                                                     const char *profile)
{
    const struct ini_section *found = NULL;
    char name[256];
    for (size_t i = 0; i < f->nsections; i++)
        if (section_profile(f->sections[i].name, name, sizeof name) &&
            strcmp(name, profile) == 0)
            found = &f->sections[i];
    return found;
}

/* "[kind name]" of the config file ("services x", "sso-session x"); a later one wins. */
static const struct ini_section *find_named(const struct ini_file *f, const char *kind,
                                            const char *name)
{
    const struct ini_section *found = NULL;
    char words[3][256];
    size_t kind_len = strlen(kind);
    for (size_t i = 0; i < f->nsections; i++) {
        const char *s = f->sections[i].name;
        if (strncmp(s, kind, kind_len) == 0 && split_words(s, words, 3) == 2 &&
            strcmp(words[0], kind) == 0 && strcmp(words[1], name) == 0)
            found = &f->sections[i];
    }
    return found;
}

static const struct ini_section *find_services(const struct ini_file *f, const char *name)
{
    return find_named(f, "services", name);
}

const struct ini_section *cfg_named_section(const struct cfg_files *f, const char *kind,
                                            const char *name)
{
    return find_named(&f->config, kind, name);
}

void cfg_files_free(struct cfg_files *f)
{
    free(f->config_path);
    free(f->credentials_path);
    free(f->profile);
    ini_free(&f->config);
    ini_free(&f->credentials);
    memset(f, 0, sizeof *f);
}

static int load_one(const char *path, struct ini_file *out, int *missing,
                    char err_out[CFG_ERROR_LEN])
{
    struct ini_error e;
    int rc = ini_parse_file(path, out, &e);
    if (rc < 0) {
        set_err(err_out, "Unable to parse config file: %s", e.message);
        return -1;
    }
    *missing = rc == 1;
    return 0;
}

/* Reads both files and picks the profile. */
int cfg_files_load(const struct cfg_explicit *ex, const struct cfg_env *env,
                      struct cfg_files *f, char err_out[CFG_ERROR_LEN])
{
    const char *cp = cfg_env_get(env, "AWS_CONFIG_FILE"), *kp = cfg_env_get(env, "AWS_SHARED_CREDENTIALS_FILE");
    const char *profile = ex && ex->profile && *ex->profile ? ex->profile : NULL;
    memset(f, 0, sizeof *f);
    f->profile_from_client = profile != NULL;
    if (!profile)
        profile = cfg_env_get(env, "AWS_PROFILE");
    f->profile_explicit = profile != NULL;
    f->profile = strdup(profile ? profile : "default");
    f->config_path = expand_home(env, cp ? cp : "~/.aws/config");
    f->credentials_path = expand_home(env, kp ? kp : "~/.aws/credentials");
    if (!f->profile || !f->config_path || !f->credentials_path) {
        set_err(err_out, "out of memory");
        return -1;
    }
    if (load_one(f->config_path, &f->config, &f->config_missing, err_out) != 0 ||
        load_one(f->credentials_path, &f->credentials, &f->credentials_missing, err_out) != 0)
        return -1;
    f->cfg_sect = find_config_profile(&f->config, f->profile);
    f->cred_sect = ini_find_section(&f->credentials, f->profile);
    if (f->profile_explicit && !f->cfg_sect && !f->cred_sect) {
        set_err(err_out, "The config profile (%s) could not be found (looked for [profile %s] "
                "in %s and [%s] in %s)", f->profile, f->profile, f->config_path, f->profile,
                f->credentials_path);
        return -1;
    }
    return 0;
}

int cfg_files_view(const struct cfg_files *f, const char *profile, struct cfg_files *view)
{
    *view = *f;
    view->profile = (char *)profile;    /* borrowed: a view is never freed */
    view->cfg_sect = find_config_profile(&f->config, profile);
    view->cred_sect = ini_find_section(&f->credentials, profile);
    return view->cfg_sect || view->cred_sect ? 0 : -1;
}

/* A profile setting: the credentials file's section overrides the config file's, as in
 * botocore. *where_out names the file it came from. */
const char *cfg_profile_get(const struct cfg_files *f, const char *key, const char **where_out)
{
    const char *v = ini_get(f->cred_sect, key);
    if (v && where_out)
        *where_out = f->credentials_path;
    if (!v && (v = ini_get(f->cfg_sect, key)) && where_out)
        *where_out = f->config_path;
    return v && *v ? v : NULL;
}

/* ================================================================ settings */

/* A setting looked up in order: explicit value, environment variable, profile key. */
struct lookup {
    const char *value;
    char source[CFG_ERROR_LEN / 2];
};

static void lookup3(const char *explicit_value, const char *client_field,
                    const struct cfg_env *env, const char *var, const struct cfg_files *f,
                    const char *key, struct lookup *out)
{
    const char *where = NULL;
    out->value = NULL;
    out->source[0] = '\0';
    if (explicit_value && *explicit_value) {
        out->value = explicit_value;
        snprintf(out->source, sizeof out->source, "client field '%s'", client_field);
    } else if (var && (out->value = cfg_env_get(env, var))) {
        snprintf(out->source, sizeof out->source, "environment variable %s", var);
    } else if (key && (out->value = cfg_profile_get(f, key, &where))) {
        snprintf(out->source, sizeof out->source, "'%s' of profile '%s' in %s", key,
                 f->profile, where);
    }
}

static int resolve_region(const struct cfg_explicit *ex, const struct cfg_env *env,
                          const struct cfg_files *f, struct cfg_resolved *r,
                          char err_out[CFG_ERROR_LEN])
{
    struct lookup l;
    lookup3(ex ? ex->region : NULL, "region", env, "AWS_REGION", f, NULL, &l);
    if (!l.value)
        lookup3(NULL, NULL, env, "AWS_DEFAULT_REGION", f, "region", &l);
    if (!l.value) {
        set_err(err_out, "No region configured. Looked in: the client's 'region' field; "
                "environment variables AWS_REGION and AWS_DEFAULT_REGION; 'region' of "
                "profile '%s' in %s%s and %s%s. Set one, e.g. region = \"us-east-1\" in "
                "iotlua.client{...} or export AWS_REGION=us-east-1.", f->profile,
                f->config_path, f->config_missing ? " (not found)" : "",
                f->credentials_path, f->credentials_missing ? " (not found)" : "");
        return -1;
    }
    struct ep_params probe = {l.value, 0, 0, NULL};
    char url[EP_URL_LEN], err[EP_ERROR_LEN];
    if (ep_resolve(&probe, url, err) != 0) {
        set_err(err_out, "%s (region from %s)", err, l.source);
        return -1;
    }
    r->region = strdup(l.value);
    r->region_source = strdup(l.source);
    return r->region && r->region_source ? 0 : (set_err(err_out, "out of memory"), -1);
}

static int parse_flag(const char *explicit_name, int explicit_value, const struct cfg_env *env,
                      const char *var, const struct cfg_files *f, const char *key,
                      int *out, char err_out[CFG_ERROR_LEN])
{
    struct lookup l;
    if (explicit_value >= 0) {
        *out = explicit_value != 0;
        return 0;
    }
    lookup3(NULL, explicit_name, env, var, f, key, &l);
    *out = 0;
    if (!l.value)
        return 0;
    if ((*out = cfg_parse_bool(l.value)) < 0) {
        set_err(err_out, "%s must be true or false, got '%.64s'", l.source, l.value);
        return -1;
    }
    return 0;
}

/* http(s)://host...; anything else is refused before any request is made. */
static int valid_endpoint(const char *url)
{
    const char *rest = strncasecmp(url, "https://", 8) == 0   ? url + 8
                       : strncasecmp(url, "http://", 7) == 0 ? url + 7
                                                             : NULL;
    return rest && *rest && *rest != '/' && !strpbrk(url, " \t\r\n");
}

/* The endpoint configured for a service (as the SDKs' "service-specific endpoints"):
 * AWS_ENDPOINT_URL_<ENV_ID>, AWS_ENDPOINT_URL, [services x] <key>.endpoint_url, the
 * profile's endpoint_url; none when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true. */
static int service_endpoint(const struct cfg_env *env, const struct cfg_files *f,
                            const char *env_id, const char *key, struct lookup *l,
                            char err_out[CFG_ERROR_LEN])
{
    const char *where = NULL;
    int ignore = 0;
    char var[96];
    l->value = NULL;
    l->source[0] = '\0';
    if (parse_flag(NULL, -1, env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", f,
                   "ignore_configured_endpoint_urls", &ignore, err_out) != 0)
        return -1;
    if (ignore)
        return 0;
    snprintf(var, sizeof var, "AWS_ENDPOINT_URL_%s", env_id);
    lookup3(NULL, NULL, env, var, f, NULL, l);
    if (!l->value)
        lookup3(NULL, NULL, env, "AWS_ENDPOINT_URL", f, NULL, l);
    const char *svc = l->value ? NULL : cfg_profile_get(f, "services", NULL);
    if (svc) {
        const struct ini_section *s = find_services(&f->config, svc);
        if (!s) {
            set_err(err_out, "The profile '%s' is configured to use the services section "
                    "but the \"%s\" services configuration does not exist in %s.",
                    f->profile, svc, f->config_path);
            return -1;
        }
        if ((l->value = ini_get_sub(s, key, "endpoint_url")))
            snprintf(l->source, sizeof l->source, "[services %s] %s.endpoint_url in %s", svc,
                     key, f->config_path);
    }
    if (!l->value && (l->value = cfg_profile_get(f, "endpoint_url", &where)))
        snprintf(l->source, sizeof l->source, "'endpoint_url' of profile '%s' in %s",
                 f->profile, where);
    return 0;
}

/* The data plane's configured endpoint: the client's field first. */
static int configured_endpoint(const struct cfg_explicit *ex, const struct cfg_env *env,
                               const struct cfg_files *f, struct lookup *l,
                               char err_out[CFG_ERROR_LEN])
{
    lookup3(ex ? ex->endpoint : NULL, "endpoint", NULL, NULL, f, NULL, l);
    if (l->value)
        return 0;
    return service_endpoint(env, f, "IOT_DATA_PLANE", "iot_data_plane", l, err_out);
}

int cfg_service_endpoint(const struct cfg_env *env, const struct cfg_files *f,
                         const char *env_id, const char *key, const char **url_out,
                         char err_out[CFG_ERROR_LEN])
{
    struct lookup l;
    *url_out = NULL;
    if (service_endpoint(env, f, env_id, key, &l, err_out) != 0)
        return -1;
    if (l.value && !valid_endpoint(l.value)) {
        set_err(err_out, "Invalid endpoint: '%.200s' (from %s); expected http(s)://host[:port]",
                l.value, l.source);
        return -1;
    }
    *url_out = l.value;
    return 0;
}

static int resolve_endpoint(const struct cfg_explicit *ex, const struct cfg_env *env,
                            const struct cfg_files *f, struct cfg_resolved *r,
                            char err_out[CFG_ERROR_LEN])
{
    struct lookup l;
    char url[EP_URL_LEN], err[EP_ERROR_LEN];
    if (configured_endpoint(ex, env, f, &l, err_out) != 0)
        return -1;
    if (l.value && !valid_endpoint(l.value)) {
        set_err(err_out, "Invalid endpoint: '%.200s' (from %s); expected http(s)://host[:port]",
                l.value, l.source);
        return -1;
    }
    struct ep_params p = {r->region, r->use_fips_endpoint, r->use_dualstack_endpoint, l.value};
    if (ep_resolve(&p, url, err) != 0) {
        set_err(err_out, "%s%s%s", err, l.value ? " (endpoint from " : "",
                l.value ? l.source : "");
        if (l.value)
            strncat(err_out, ")", CFG_ERROR_LEN - strlen(err_out) - 1);
        return -1;
    }
    r->endpoint = strdup(url);
    r->endpoint_source = strdup(l.value ? l.source : "endpoint rules");
    return r->endpoint && r->endpoint_source ? 0 : (set_err(err_out, "out of memory"), -1);
}

static int resolve_retry(const struct cfg_explicit *ex, const struct cfg_env *env,
                         const struct cfg_files *f, struct cfg_resolved *r,
                         char err_out[CFG_ERROR_LEN])
{
    struct lookup l;
    r->max_attempts = 3;
    if (ex && ex->max_attempts >= 0) {
        if (ex->max_attempts < 1) {
            set_err(err_out, "max_attempts must be an integer >= 1, got %d", ex->max_attempts);
            return -1;
        }
        r->max_attempts = ex->max_attempts;
    } else {
        lookup3(NULL, NULL, env, "AWS_MAX_ATTEMPTS", f, "max_attempts", &l);
        if (l.value) {
            char *end;
            errno = 0;
            long v = strtol(l.value, &end, 10);
            if (errno || *end || end == l.value || v < 1 || v > 1000) {
                set_err(err_out, "%s must be an integer from 1 to 1000, got '%.64s'",
                        l.source, l.value);
                return -1;
            }
            r->max_attempts = (int)v;
        }
    }
    lookup3(ex ? ex->retry_mode : NULL, "retry_mode", env, "AWS_RETRY_MODE", f, "retry_mode",
            &l);
    const char *mode = l.value ? l.value : "standard";
    enum iot_retry_mode parsed;
    if (iot_retry_mode_parse(mode, &parsed, NULL, 0) != 0) {
        set_err(err_out, "Invalid value provided to retry_mode (%s): '%.64s'. Valid values "
                "are: " IOT_RETRY_MODE_NAMES " (adaptive is not supported)", l.source, mode);
        return -1;
    }
    r->retry_mode = strdup(mode);
    return r->retry_mode ? 0 : (set_err(err_out, "out of memory"), -1);
}

void cfg_resolved_free(struct cfg_resolved *r)
{
    free(r->profile);
    free(r->config_file);
    free(r->credentials_file);
    free(r->region);
    free(r->region_source);
    free(r->endpoint);
    free(r->endpoint_source);
    free(r->retry_mode);
    free(r->ca_bundle);
    memset(r, 0, sizeof *r);
}

int cfg_resolve(const struct cfg_explicit *ex, const struct cfg_env *env,
                struct cfg_resolved *out, char err_out[CFG_ERROR_LEN])
{
    struct cfg_files f;
    struct lookup l;
    int rc = -1;
    memset(out, 0, sizeof *out);
    err_out[0] = '\0';
    if (cfg_files_load(ex, env, &f, err_out) != 0)
        goto fail;
    out->profile = strdup(f.profile);
    out->config_file = strdup(f.config_path);
    out->credentials_file = strdup(f.credentials_path);
    if (resolve_region(ex, env, &f, out, err_out) != 0 ||
        parse_flag("use_fips_endpoint", ex ? ex->use_fips_endpoint : -1, env,
                   "AWS_USE_FIPS_ENDPOINT", &f, "use_fips_endpoint", &out->use_fips_endpoint,
                   err_out) != 0 ||
        parse_flag("use_dualstack_endpoint", ex ? ex->use_dualstack_endpoint : -1, env,
                   "AWS_USE_DUALSTACK_ENDPOINT", &f, "use_dualstack_endpoint",
                   &out->use_dualstack_endpoint, err_out) != 0 ||
        resolve_endpoint(ex, env, &f, out, err_out) != 0 ||
        resolve_retry(ex, env, &f, out, err_out) != 0)
        goto fail;
    lookup3(ex ? ex->ca_bundle : NULL, "ca_bundle", env, "AWS_CA_BUNDLE", &f, "ca_bundle", &l);
    if (l.value && !(out->ca_bundle = expand_home(env, l.value)))
        goto fail;
    rc = out->profile && out->config_file && out->credentials_file ? 0 : -1;
    if (rc)
        set_err(err_out, "out of memory");
fail:
    cfg_files_free(&f);
    return rc;
}
