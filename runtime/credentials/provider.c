/*
 * provider.c — the credentials value (copies, wiping), the calls every provider answers
 * through its ops, messages and RFC 3339 times (provider.h).
 */
#include "provider.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* ================================================================ credentials */

void cred_credentials_free(struct cred_credentials *c)
{
    if (c->secret_access_key)
        OPENSSL_cleanse(c->secret_access_key, strlen(c->secret_access_key));
    if (c->session_token)
        OPENSSL_cleanse(c->session_token, strlen(c->session_token));
    free(c->access_key_id);
    free(c->secret_access_key);
    free(c->session_token);
    memset(c, 0, sizeof *c);
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int cred_credentials_set(struct cred_credentials *c, const char *akid, const char *secret,
                         const char *token, time_t expiration, const char *source)
{
    memset(c, 0, sizeof *c);
    c->access_key_id = xstrdup(akid);
    c->secret_access_key = xstrdup(secret);
    c->session_token = token && *token ? strdup(token) : NULL;
    c->expiration = expiration;
    snprintf(c->source, sizeof c->source, "%s", source);
    if (!c->access_key_id || !c->secret_access_key || (token && *token && !c->session_token)) {
        cred_credentials_free(c);
        return -1;
    }
    return 0;
}

int cred_credentials_copy(const struct cred_credentials *from, struct cred_credentials *to)
{
    return cred_credentials_set(to, from->access_key_id, from->secret_access_key,
                                from->session_token, from->expiration, from->source);
}

/* ================================================================ providers */

int cred_provider_get(struct cred_provider *p, time_t now, struct cred_credentials *out,
                      char err_out[CRED_ERROR_LEN])
{
    err_out[0] = '\0';
    return p->ops->get(p, now, out, err_out);
}

const char *cred_provider_source(const struct cred_provider *p)
{
    return p->source;
}

void cred_provider_free(struct cred_provider *p)
{
    if (p)
        p->ops->free(p);
}

/* ================================================================ messages */

void cred_set_error(char err_out[CRED_ERROR_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_out, CRED_ERROR_LEN, fmt, ap);
    va_end(ap);
}

/* ================================================================ times */

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int num(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + s[i] - '0';
    }
    *out = v;
    return 0;
}

int cred_parse_rfc3339(const char *s, time_t *t_out)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    if (!s || strlen(s) < 20 || num(s, 4, &y) || s[4] != '-' || num(s + 5, 2, &mo) ||
        s[7] != '-' || num(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        num(s + 11, 2, &h) || s[13] != ':' || num(s + 14, 2, &mi) || s[16] != ':' ||
        num(s + 17, 2, &se))
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !num(p + 1, 2, &oh) &&
               p[3] == ':' && !num(p + 4, 2, &om) && oh < 24 && om < 60) {
        sign = *p == '+' ? 1 : -1;
    } else {
        return -1;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 60)
        return -1;
    long long t = (long long)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    t -= (long long)sign * (oh * 3600 + om * 60);
    *t_out = (time_t)t;
    return 0;
}
