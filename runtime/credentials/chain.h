/*
 * chain.h — the credentials chain: the sources botocore looks at, in its order, as a
 * list of steps (chain.c), resolved once to the provider of the first source found.
 *
 *   the client's credentials field > environment (AWS_ACCESS_KEY_ID,
 *   AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; skipped when the client gave a profile) >
 *   shared credentials file [profile] > credential_process (profile) >
 *   config file [profile x] static keys
 *
 * No source at all is an error whose message lists every place looked at; partial
 * credentials (a key without its secret) are an error naming where.
 */
#ifndef IOTLUA_CRED_CHAIN_H
#define IOTLUA_CRED_CHAIN_H

#include "config.h"
#include "provider.h"

/* The provider of the first source found, or NULL with err_out. */
struct cred_provider *cred_chain_resolve(const struct cfg_explicit *ex, const struct cfg_env *env,
                                         char err_out[CRED_ERROR_LEN]);

#endif
