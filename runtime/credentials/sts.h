/*
 * sts.h — credentials from AWS STS (sts.c): AssumeRole, signed with the credentials of a
 * source (another provider, kept in its own cache: a profile's source_profile, which may
 * itself assume a role, or its credential_source), and AssumeRoleWithWebIdentity,
 * unsigned, with a token read from its file on every fetch. Both are the query
 * protocol (a form POST) through the engine, retried as the data-plane calls are, and
 * answer XML; an STS error becomes a message carrying its code and message.
 */
#ifndef IOTLUA_CRED_STS_H
#define IOTLUA_CRED_STS_H

#include <stddef.h>

#include "provider.h"

struct cred_cache;

struct cred_sts_settings {
    const char *endpoint;               /* "https://sts.eu-west-1.amazonaws.com" */
    const char *region;                 /* signing region */
    const char *role_arn;
    const char *session_name;           /* NULL: botocore's default form */
    const char *external_id;            /* AssumeRole only; NULL: none */
    int duration_s;                     /* 0: STS's default */
    const char *mfa_serial, *mfa_code;  /* AssumeRole with MFA (SerialNumber, TokenCode) */
    const char *ca_bundle;              /* NULL: system store */
    /* AssumeRole: the cache of the source credentials, taken over. */
    struct cred_cache *source;
    /* AssumeRoleWithWebIdentity: the token file. */
    const char *token_file;
    const char *source_name;            /* for iot.credentials_source: "assume-role:ops" */
};

struct cred_provider *cred_sts_assume_role_new(const struct cred_sts_settings *s,
                                               char err_out[CRED_ERROR_LEN]);
struct cred_provider *cred_sts_web_identity_new(const struct cred_sts_settings *s,
                                                char err_out[CRED_ERROR_LEN]);

/* Reads an STS answer: 0 with *out (the Credentials element); -1 with err_out naming the
 * STS error code and message when it holds an ErrorResponse, or what is malformed.
 * `action` names the call for messages. Never quotes a secret. */
int cred_sts_parse(const char *xml, size_t len, const char *action,
                   struct cred_credentials *out, char err_out[CRED_ERROR_LEN]);

#endif
