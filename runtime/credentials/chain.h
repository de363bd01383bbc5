/*
 * chain.h — the credentials chain: the sources botocore looks at, in its order, as a
 * list of steps (chain.c), resolved once to the provider of the first source found.
 *
 *   the client's credentials field > environment (AWS_ACCESS_KEY_ID,
 *   AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; skipped when the client gave a profile) >
 *   assume-role profile (role_arn with source_profile or credential_source) >
 *   web identity (AWS_WEB_IDENTITY_TOKEN_FILE / web_identity_token_file) >
 *   shared credentials file [profile] > credential_process (profile) >
 *   config file [profile x] static keys > container endpoint
 *   (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI) > EC2 instance metadata
 *   (unless AWS_EC2_METADATA_DISABLED=true)
 *
 * Sources in the files and the environment are found without network; the network
 * providers (container, instance metadata, STS) fetch on the first call that needs
 * them. No source at all is an error whose message lists every place looked at;
 * partial credentials (a key without its secret) and unusable settings are errors
 * naming where.
 */
#ifndef IOTLUA_CRED_CHAIN_H
#define IOTLUA_CRED_CHAIN_H

#include "config.h"
#include "provider.h"

/* What the chain reads: the client's explicit fields, the environment (only during
 * cred_chain_resolve; providers copy what they keep), the client's region (STS). */
struct cred_chain_settings {
    const struct cfg_explicit *ex;
    const struct cfg_env *env;
    const char *region;                 /* NULL: none resolved */
    /* When an assume-role profile needs an MFA code (mfa_serial) and ex->mfa_code is
     * not set, its serial is written here (NUL-terminated) beside the error; may be NULL. */
    char *mfa_serial_out;
    size_t mfa_serial_cap;
};

/* The provider of the first source found, or NULL with err_out. */
struct cred_provider *cred_chain_resolve(const struct cred_chain_settings *settings,
                                         char err_out[CRED_ERROR_LEN]);

#endif
