/*
 * chain.c — the credentials chain as a list of steps, each a source botocore looks at,
 * tried in order until one finds credentials (chain.h).
 */
#include "chain.h"

#include <stdio.h>
#include <string.h>

#include "process.h"

/* What the steps read: the client's explicit fields, the environment, the files. */
struct chain_ctx {
    const struct cfg_explicit *ex;
    const struct cfg_env *env;
    const struct cfg_files *f;
};

/* A step: 1 with *out set when its source has credentials, 0 when it has none, -1 with
 * err_out when it has some but they cannot be used. */
typedef int (*chain_step)(const struct chain_ctx *c, struct cred_provider **out,
                          char err_out[CRED_ERROR_LEN]);

/* ================================================================ sources */

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
                        "client credentials", out, err_out);
}

static int from_env(const struct chain_ctx *c, struct cred_provider **out,
                    char err_out[CRED_ERROR_LEN])
{
    if (c->f->profile_from_client)
        return 0;
    const char *akid = cfg_env_get(c->env, "AWS_ACCESS_KEY_ID");
    const char *secret = cfg_env_get(c->env, "AWS_SECRET_ACCESS_KEY");
    const char *token = cfg_env_get(c->env, "AWS_SESSION_TOKEN");
    if (!token)
        token = cfg_env_get(c->env, "AWS_SECURITY_TOKEN");
    int found = pair_or_partial(akid, secret, "the environment", "AWS_ACCESS_KEY_ID",
                                "AWS_SECRET_ACCESS_KEY", err_out);
    return found_static(found, akid, secret, token, "environment", out, err_out);
}

/* A file section with aws_access_key_id/aws_secret_access_key. */
static int from_section(const struct ini_section *s, const char *what, const char *path,
                        struct cred_provider **out, char err_out[CRED_ERROR_LEN])
{
    char where[CRED_ERROR_LEN / 2];
    const char *akid = ini_get(s, "aws_access_key_id");
    const char *secret = ini_get(s, "aws_secret_access_key");
    const char *token = ini_get(s, "aws_session_token");
    if (!token)
        token = ini_get(s, "aws_security_token");
    akid = akid && *akid ? akid : NULL;
    secret = secret && *secret ? secret : NULL;
    snprintf(where, sizeof where, "%s %s [%s]", what, path, s ? s->name : "");
    int found = pair_or_partial(akid, secret, where, "aws_access_key_id",
                                "aws_secret_access_key", err_out);
    return found_static(found, akid, secret, token, where, out, err_out);
}

static int from_credentials_file(const struct chain_ctx *c, struct cred_provider **out,
                                 char err_out[CRED_ERROR_LEN])
{
    return from_section(c->f->cred_sect, "shared credentials file", c->f->credentials_path,
                        out, err_out);
}

static int from_process(const struct chain_ctx *c, struct cred_provider **out,
                        char err_out[CRED_ERROR_LEN])
{
    const char *where = NULL, *cmd = cfg_profile_get(c->f, "credential_process", &where);
    if (!cmd)
        return 0;
    char source[CRED_SOURCE_LEN];
    snprintf(source, sizeof source, "credential_process of profile '%s' in %.100s",
             c->f->profile, where);
    return (*out = cred_process_provider_new(cmd, source, err_out)) ? 1 : -1;
}

static int from_config_file(const struct chain_ctx *c, struct cred_provider **out,
                            char err_out[CRED_ERROR_LEN])
{
    return from_section(c->f->cfg_sect, "config file", c->f->config_path, out, err_out);
}

/* botocore's order. */
static const chain_step STEPS[] = {
    from_client, from_env, from_credentials_file, from_process, from_config_file,
};

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
    if (cfg_profile_get(f, "role_arn", NULL))
        return "role_arn (assume role)";
    if (cfg_profile_get(f, "sso_session", NULL))
        return "sso_session (IAM Identity Center)";
    if (cfg_profile_get(f, "sso_start_url", NULL))
        return "sso_start_url (IAM Identity Center)";
    if (cfg_profile_get(f, "web_identity_token_file", NULL))
        return "web_identity_token_file";
    return NULL;
}

/* The "unable to locate" message, listing every place looked at. */
static void no_credentials(const struct cfg_files *f, char err_out[CRED_ERROR_LEN])
{
    const char *unsupported = unsupported_source(f);
    cred_set_error(err_out, "Unable to locate credentials. Looked in: the client's "
                   "'credentials' field (not set); environment variables AWS_ACCESS_KEY_ID "
                   "and AWS_SECRET_ACCESS_KEY (%s); shared credentials file %s [%s] (%s); "
                   "credential_process of profile '%s' (not set); config file %s [%s%s] "
                   "(%s).%s%s%s",
                   f->profile_from_client ? "skipped: a profile was given" : "not set",
                   f->credentials_path, f->profile,
                   why_absent(f->credentials_missing, f->cred_sect), f->profile,
                   f->config_path, strcmp(f->profile, "default") ? "profile " : "", f->profile,
                   why_absent(f->config_missing, f->cfg_sect),
                   unsupported ? " The profile uses " : "", unsupported ? unsupported : "",
                   unsupported ? ", which iotlua does not support." : "");
}

/* ================================================================ the chain */

struct cred_provider *cred_chain_resolve(const struct cfg_explicit *ex, const struct cfg_env *env,
                                         char err_out[CRED_ERROR_LEN])
{
    struct cfg_files f;
    struct cred_provider *p = NULL;
    err_out[0] = '\0';
    if (cfg_files_load(ex, env, &f, err_out) == 0) {
        struct chain_ctx c = {ex, env, &f};
        int found = 0;
        for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0] && found == 0; i++)
            found = STEPS[i](&c, &p, err_out);
        if (found == 0)
            no_credentials(&f, err_out);
    }
    cfg_files_free(&f);
    return p;
}
