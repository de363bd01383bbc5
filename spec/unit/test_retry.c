/* test_retry.c — the AWS retry policy (runtime/retry.c): what is retried, backoff bounds
 * with a fixed random, the retry quota's accounting. */
#include <string.h>

#include "check.h"
#include "client.h"
#include "retry.h"

static void test_retryable(void)
{
    static const long transient[] = {500, 502, 503, 504, 429};
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        CHECK(iot_retry_is_retryable(IOT_FAIL_NONE, transient[i], "Whatever"));
    static const long permanent[] = {200, 204, 400, 401, 403, 404, 405, 409, 413, 501};
    for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
        CHECK(!iot_retry_is_retryable(IOT_FAIL_NONE, permanent[i], "InvalidRequestException"));
    static const char *const throttles[] = {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException"};
    for (size_t i = 0; i < sizeof throttles / sizeof throttles[0]; i++) {
        CHECK(iot_retry_is_throttle_code(throttles[i]));
        CHECK(iot_retry_is_retryable(IOT_FAIL_NONE, 400, throttles[i]));
    }
    CHECK(iot_retry_is_retryable(IOT_FAIL_NONE, 400, "RequestTimeout"));
    CHECK(iot_retry_is_retryable(IOT_FAIL_NONE, 408, "RequestTimeoutException"));
    CHECK(!iot_retry_is_throttle_code("throttlingexception"));   /* exact, case-sensitive */
    CHECK(!iot_retry_is_throttle_code(""));
    CHECK(!iot_retry_is_throttle_code(NULL));
    CHECK(iot_retry_is_retryable(IOT_FAIL_NETWORK, 0, NULL));
    CHECK(iot_retry_is_retryable(IOT_FAIL_TIMEOUT, 0, NULL));
    CHECK(!iot_retry_is_retryable(IOT_FAIL_PERMANENT, 0, NULL));
}

static void test_backoff(void)
{
    /* random() * 2^(attempts-1) seconds, capped at 20 s. */
    CHECK_INT_EQ(iot_retry_backoff_ms(1, 0.0), 0);
    CHECK_INT_EQ(iot_retry_backoff_ms(1, 0.5), 500);
    CHECK_INT_EQ(iot_retry_backoff_ms(2, 0.5), 1000);
    CHECK_INT_EQ(iot_retry_backoff_ms(3, 0.5), 2000);
    CHECK_INT_EQ(iot_retry_backoff_ms(5, 0.25), 4000);
    CHECK_INT_EQ(iot_retry_backoff_ms(6, 0.5), 16000);
    CHECK_INT_EQ(iot_retry_backoff_ms(6, 0.99), 20000);
    CHECK_INT_EQ(iot_retry_backoff_ms(40, 0.5), 20000);
    CHECK_INT_EQ(iot_retry_backoff_ms(1000, 0.999), 20000);
    for (int a = 1; a < 12; a++) {
        long hi = iot_retry_backoff_ms(a, 0.999999);
        CHECK(hi >= 0 && hi <= 20000);
        CHECK(hi <= (1L << (a - 1)) * 1000L);
    }
    /* out-of-range randoms are clamped, never negative or above the cap */
    CHECK_INT_EQ(iot_retry_backoff_ms(2, -3.0), 0);
    CHECK(iot_retry_backoff_ms(2, 7.0) < 2000);
}

static void test_quota(void)
{
    struct iot_retry_quota q;
    iot_retry_quota_init(&q);
    CHECK_INT_EQ(q.available, 500);
    CHECK(iot_retry_quota_acquire(&q, IOT_RETRY_COST));
    CHECK_INT_EQ(q.available, 495);
    CHECK(iot_retry_quota_acquire(&q, IOT_RETRY_TIMEOUT_COST));
    CHECK_INT_EQ(q.available, 485);
    iot_retry_quota_success(&q, 10);             /* success after a timeout retry */
    CHECK_INT_EQ(q.available, 495);
    iot_retry_quota_success(&q, 0);              /* success with no retry: +1 */
    CHECK_INT_EQ(q.available, 496);
    iot_retry_quota_success(&q, 5);
    CHECK_INT_EQ(q.available, 500);              /* never above the maximum */
    iot_retry_quota_success(&q, 0);
    CHECK_INT_EQ(q.available, 500);
    /* drain: 100 retries of 5 */
    int taken = 0;
    while (iot_retry_quota_acquire(&q, 5))
        taken++;
    CHECK_INT_EQ(taken, 100);
    CHECK_INT_EQ(q.available, 0);
    CHECK(!iot_retry_quota_acquire(&q, 5));
    CHECK_INT_EQ(q.available, 0);
}

static void test_decide(void)
{
    struct iot_retry_quota q;
    iot_retry_quota_init(&q);
    struct iot_retry_decision d;

    d = iot_retry_decide(IOT_RETRY_STANDARD, 3, 1, IOT_FAIL_NONE, 503, "", &q, 0.5);
    CHECK_INT_EQ(d.retry, 1);
    CHECK_INT_EQ(d.delay_ms, 500);
    CHECK_INT_EQ(d.cost, 5);
    CHECK_INT_EQ(q.available, 495);

    d = iot_retry_decide(IOT_RETRY_STANDARD, 3, 2, IOT_FAIL_TIMEOUT, 0, NULL, &q, 0.5);
    CHECK_INT_EQ(d.retry, 1);
    CHECK_INT_EQ(d.delay_ms, 1000);
    CHECK_INT_EQ(d.cost, 10);
    CHECK_INT_EQ(q.available, 485);

    d = iot_retry_decide(IOT_RETRY_STANDARD, 3, 3, IOT_FAIL_NONE, 503, "", &q, 0.5);
    CHECK_INT_EQ(d.retry, 0);
    CHECK_STR_EQ(d.why_not, "max attempts reached");
    CHECK_INT_EQ(q.available, 485);              /* nothing taken when not retrying */

    d = iot_retry_decide(IOT_RETRY_STANDARD, 3, 1, IOT_FAIL_NONE, 400,
                         "InvalidRequestException", &q, 0.5);
    CHECK_INT_EQ(d.retry, 0);
    CHECK_STR_EQ(d.why_not, "not retryable");

    d = iot_retry_decide(IOT_RETRY_STANDARD, 1, 1, IOT_FAIL_NONE, 503, "", &q, 0.5);
    CHECK_INT_EQ(d.retry, 0);                    /* max_attempts 1: never */

    q.available = 7;
    d = iot_retry_decide(IOT_RETRY_STANDARD, 3, 1, IOT_FAIL_TIMEOUT, 0, NULL, &q, 0.5);
    CHECK_INT_EQ(d.retry, 0);
    CHECK_STR_EQ(d.why_not, "retry quota exhausted");
    CHECK_INT_EQ(q.available, 7);
    d = iot_retry_decide(IOT_RETRY_STANDARD, 3, 1, IOT_FAIL_NETWORK, 0, NULL, &q, 0.5);
    CHECK_INT_EQ(d.retry, 1);                    /* 5 still fit */
    CHECK_INT_EQ(q.available, 2);

    /* legacy: no quota involved */
    d = iot_retry_decide(IOT_RETRY_LEGACY, 5, 4, IOT_FAIL_NONE, 429, "", NULL, 0.5);
    CHECK_INT_EQ(d.retry, 1);
    CHECK_INT_EQ(d.cost, 0);
    CHECK_INT_EQ(d.delay_ms, 4000);
}

static void test_mode_parse(void)
{
    enum iot_retry_mode m = IOT_RETRY_LEGACY;
    char msg[200];
    CHECK_INT_EQ(iot_retry_mode_parse(NULL, &m, msg, sizeof msg), 0);
    CHECK_INT_EQ(m, IOT_RETRY_STANDARD);
    CHECK_INT_EQ(iot_retry_mode_parse("legacy", &m, msg, sizeof msg), 0);
    CHECK_INT_EQ(m, IOT_RETRY_LEGACY);
    CHECK_INT_EQ(iot_retry_mode_parse("standard", &m, msg, sizeof msg), 0);
    CHECK_INT_EQ(m, IOT_RETRY_STANDARD);
    CHECK_INT_EQ(iot_retry_mode_parse("adaptive", &m, msg, sizeof msg), -1);
    CHECK_STR_CONTAINS(msg, "retry_mode must be \"standard\" or \"legacy\" (got \"adaptive\"");
    CHECK_INT_EQ(iot_retry_mode_parse("Standard", &m, msg, sizeof msg), -1);
}

int main(void)
{
    test_retryable();
    test_backoff();
    test_quota();
    test_decide();
    test_mode_parse();
    return CHECK_SUMMARY();
}
