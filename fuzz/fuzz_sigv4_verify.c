/*
 * fuzz_sigv4_verify.c — libFuzzer target for what a server parses of a signed request
 * (runtime/sigv4.c): the Authorization header parser, query and path canonicalization,
 * header canonicalization with the client's SignedHeaders list, sigv4_verify, and a
 * long-lived sigv4_verifier (cached signing keys), which must give the same answers.
 *
 * The input is split on '\n' into: Authorization value, X-Amz-Date value, path, query,
 * then "Name:value" header lines up to an empty line, then the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define MAX_HEADERS 16

static int lookup(void *ud, const char *akid, const char **secret_out, const char **token_out)
{
    (void)ud;
    if (strcmp(akid, "AKIAIOSFODNN7EXAMPLE") != 0)
        return 0;
    *secret_out = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    *token_out = NULL;
    return 1;
}

/* Cuts the next line off *p (NUL-terminates it in place); "" when none is left. */
static char *next_line(char **p, char *end)
{
    char *line = *p;
    if (line >= end)
        return end;                      /* points at the final NUL */
    char *nl = memchr(line, '\n', (size_t)(end - line));
    if (!nl)
        nl = end;
    *nl = '\0';
    *p = nl < end ? nl + 1 : end;
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *p = copy, *end = copy + size;
    struct sigv4_header h[MAX_HEADERS + 2];
    size_t nh = 0;
    memcpy(copy, data, size);
    copy[size] = '\0';

    char *authz = next_line(&p, end), *date = next_line(&p, end);
    char *path = next_line(&p, end), *query = next_line(&p, end);
    h[nh++] = (struct sigv4_header){"Authorization", authz};
    h[nh++] = (struct sigv4_header){"X-Amz-Date", date};
    while (p < end && nh < MAX_HEADERS + 2) {
        char *line = next_line(&p, end);
        if (!*line)
            break;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        h[nh++] = (struct sigv4_header){line, colon + 1};
    }

    struct sigv4_authz a;
    char why[256];
    sigv4_parse_authorization(authz, strlen(authz), &a, why, sizeof why);

    struct buf b = BUF_INIT;
    sigv4_canonical_query(&b, query);
    sigv4_canonical_uri(&b, path, SIGV4_NORMALIZE_PATH);
    sigv4_canonical_uri(&b, path, 0);
    buf_free(&b);

    struct sigv4_request req = {"POST", path, query, h, nh, p, (size_t)(end - p), NULL};
    struct sigv4_verify_params vp = {"us-east-1", "iotdata", 1440938160, 0, lookup, NULL,
                                     SIGV4_VERIFY_EITHER_PATH};
    struct sigv4_verify_result r, r2;
    enum sigv4_verify_status s = sigv4_verify(&req, &vp, &r);
    if (s != SIGV4_VERIFY_OK && (!r.message[0] || !r.code))
        abort();                         /* every rejection has a reason and a code */
    /* A long-lived verifier (its key cache kept across inputs) answers the same, with the
     * CONTENT_SHA256 and ANY_TOKEN rules on too. */
    static struct sigv4_verifier *v;
    if (!v && !(v = sigv4_verifier_new()))
        abort();
    if (sigv4_verifier_verify(v, &req, &vp, &r2) != s || strcmp(r.message, r2.message) != 0)
        abort();
    sigv4_verify_result_free(&r2);
    vp.flags |= SIGV4_VERIFY_CONTENT_SHA256 | SIGV4_VERIFY_ANY_TOKEN;
    if (sigv4_verifier_verify(v, &req, &vp, &r2) != SIGV4_VERIFY_OK && !r2.message[0])
        abort();
    sigv4_verify_result_free(&r2);
    sigv4_verify_result_free(&r);
    free(copy);
    return 0;
}
