/*
 * sts_xml.c — reading STS answers (sts.h): the Credentials element of an AssumeRole or
 * AssumeRoleWithWebIdentity response, or the code and message of an ErrorResponse, with
 * the runtime's minimal XML reader (xml.h); fuzzed (fuzz/fuzz_credentials_answers.c).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "sts.h"
#include "xml.h"

static void sts_error(const char *xml, size_t len, const char *action,
                      char err_out[CRED_ERROR_LEN])
{
    struct buf code = BUF_INIT, msg = BUF_INIT;
    const char *err;
    size_t n;
    if (xml_element(xml, len, "Error", &err, &n) && xml_field(err, n, "Code", &code) == 1) {
        xml_field(err, n, "Message", &msg);
        cred_set_error(err_out, "STS %s failed: %.100s: %.400s", action, buf_cstr(&code),
                       msg.len ? buf_cstr(&msg) : "(no message)");
    } else {
        cred_set_error(err_out, "STS %s answered neither credentials nor an error", action);
    }
    buf_free(&code);
    buf_free(&msg);
}

int cred_sts_parse(const char *xml, size_t len, const char *action,
                   struct cred_credentials *out, char err_out[CRED_ERROR_LEN])
{
    const char *cr;
    size_t n;
    memset(out, 0, sizeof *out);
    if (!xml_element(xml, len, "Credentials", &cr, &n)) {
        sts_error(xml, len, action, err_out);
        return -1;
    }
    struct buf f[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
    static const char *const TAGS[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                        "Expiration"};
    int rc = -1;
    time_t exp = 0;
    for (int i = 0; i < 4; i++) {
        if (xml_field(cr, n, TAGS[i], &f[i]) != 1 || f[i].len == 0 ||
            strlen(buf_cstr(&f[i])) != f[i].len) {
            cred_set_error(err_out, "STS %s answered Credentials without a usable %s", action,
                           TAGS[i]);
            goto out;
        }
    }
    if (cred_parse_rfc3339(buf_cstr(&f[3]), &exp) != 0)
        cred_set_error(err_out, "STS %s answered an Expiration that is not a time", action);
    else if (cred_credentials_set(out, buf_cstr(&f[0]), buf_cstr(&f[1]), buf_cstr(&f[2]), exp,
                                  "sts") != 0)
        cred_set_error(err_out, "out of memory");
    else
        rc = 0;
out:
    for (int i = 0; i < 4; i++) {
        if (f[i].data)
            OPENSSL_cleanse(f[i].data, f[i].cap);
        buf_free(&f[i]);
    }
    return rc;
}

