/* retry.c — the AWS standard/legacy retry policy; see retry.h. */
#include "retry.h"

#include <string.h>

void iot_retry_quota_init(struct iot_retry_quota *q)
{
    q->available = q->max = IOT_RETRY_QUOTA_INITIAL;
}

int iot_retry_quota_acquire(struct iot_retry_quota *q, int cost)
{
    if (cost > q->available)
        return 0;
    q->available -= cost;
    return 1;
}

void iot_retry_quota_success(struct iot_retry_quota *q, int acquired)
{
    int give = acquired > 0 ? acquired : IOT_RETRY_NO_RETRY_INCREMENT;
    int room = q->max - q->available;
    q->available += give < room ? give : room;
}

static int in_list(const char *code, const char *const *list)
{
    if (!code || !*code)
        return 0;
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return 1;
    return 0;
}

int iot_retry_is_throttle_code(const char *code)
{
    static const char *const codes[] = {
        "Throttling", "ThrottlingException", "ThrottledException",
        "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
        "RequestThrottled", "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
        NULL};
    return in_list(code, codes);
}

int iot_retry_is_transient_code(const char *code)
{
    static const char *const codes[] = {"RequestTimeout", "RequestTimeoutException",
                                        "PriorRequestNotComplete", NULL};
    return in_list(code, codes);
}

int iot_retry_is_retryable(enum iot_failure failure, long status, const char *code)
{
    switch (failure) {
    case IOT_FAIL_NETWORK:
    case IOT_FAIL_TIMEOUT:
        return 1;
    case IOT_FAIL_PERMANENT:
        return 0;
    case IOT_FAIL_NONE:
        break;
    }
    if (status >= 200 && status < 300)
        return 0;
    if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429)
        return 1;
    return iot_retry_is_throttle_code(code) || iot_retry_is_transient_code(code);
}

long iot_retry_backoff_ms(int attempts, double r)
{
    if (r < 0)
        r = 0;
    if (r >= 1)
        r = 0.999999;
    double factor = 1.0;
    for (int i = 1; i < attempts && factor < IOT_RETRY_MAX_BACKOFF_MS; i++)
        factor *= 2.0;
    double ms = r * factor * 1000.0;
    return ms > IOT_RETRY_MAX_BACKOFF_MS ? IOT_RETRY_MAX_BACKOFF_MS : (long)ms;
}

struct iot_retry_decision iot_retry_decide(enum iot_retry_mode mode, int max_attempts,
                                           int attempts, enum iot_failure failure,
                                           long status, const char *code,
                                           struct iot_retry_quota *quota, double r)
{
    struct iot_retry_decision d = {0, 0, 0, NULL};
    if (!iot_retry_is_retryable(failure, status, code)) {
        d.why_not = "not retryable";
        return d;
    }
    if (attempts >= max_attempts) {
        d.why_not = "max attempts reached";
        return d;
    }
    if (mode == IOT_RETRY_STANDARD && quota) {
        int cost = failure == IOT_FAIL_TIMEOUT ? IOT_RETRY_TIMEOUT_COST : IOT_RETRY_COST;
        if (!iot_retry_quota_acquire(quota, cost)) {
            d.why_not = "retry quota exhausted";
            return d;
        }
        d.cost = cost;
    }
    d.retry = 1;
    d.delay_ms = iot_retry_backoff_ms(attempts, r);
    return d;
}
