/*
 * fuzz_credentials_answers.c — libFuzzer target for what credential endpoints answer:
 * STS XML (runtime/credentials/sts_xml.c) and the JSON credentials documents of the
 * instance metadata service, container endpoints and the SSO portal
 * (runtime/credentials/fetched.c).
 *
 * Any input: each reader returns 0 with credentials that have both keys, or -1 with a
 * message; nothing leaks and no sanitizer reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credentials/provider.h"
#include "credentials/sts.h"

static const struct cred_json_names SSO_NAMES = {"accessKeyId", "secretAccessKey",
                                                 "sessionToken", "expiration", 1};

static void check(int rc, struct cred_credentials *c, const char *err)
{
    if (rc == 0 && (!c->access_key_id || !*c->access_key_id || !c->secret_access_key))
        abort();
    if (rc != 0 && !err[0])
        abort();                        /* a failure always says why */
    cred_credentials_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct cred_credentials c;
    char err[CRED_ERROR_LEN];
    err[0] = '\0';
    check(cred_sts_parse(text, size, "AssumeRole", &c, err), &c, err);
    err[0] = '\0';
    check(cred_parse_json(text, size, NULL, &CRED_JSON_METADATA, "imds", &c, err), &c, err);
    err[0] = '\0';
    check(cred_parse_json(text, size, "roleCredentials", &SSO_NAMES, "sso", &c, err), &c, err);
    return 0;
}
