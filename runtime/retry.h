/*
 * retry.h — the AWS retry policy, as pure functions over small structs (no I/O, no
 * clock, randomness injected), so every decision is unit-tested.
 *
 * Standard mode (botocore's retries/standard.py, the SDKs' shared "standard" spec):
 *  - at most max_attempts attempts (default 3);
 *  - retryable: HTTP 500/502/503/504 and 429, the throttling error codes, the transient
 *    codes (RequestTimeout, RequestTimeoutException, PriorRequestNotComplete), and
 *    transient local failures (network, DNS, timeouts, TLS handshake); never other 4xx;
 *  - backoff before attempt n+1: random() * 2^(n-1) seconds, capped at 20 s (full jitter);
 *  - a retry quota shared by the client's calls: 500 tokens, a retry takes 5 (10 after a
 *    timeout); a success gives back what its last retry took, or 1 when it needed none.
 *    With the quota empty the error is returned at once.
 * Legacy mode: max_attempts default 5, the same retryable conditions, the same backoff,
 * no quota.
 */
#ifndef IOTLUA_RETRY_H
#define IOTLUA_RETRY_H

#include "client.h"

#define IOT_RETRY_QUOTA_INITIAL 500
#define IOT_RETRY_COST 5
#define IOT_RETRY_TIMEOUT_COST 10
#define IOT_RETRY_NO_RETRY_INCREMENT 1
#define IOT_RETRY_MAX_BACKOFF_MS 20000
#define IOT_RETRY_DEFAULT_MAX_ATTEMPTS 3
#define IOT_RETRY_LEGACY_MAX_ATTEMPTS 5

/* What happened on one attempt, as the policy sees it. */
enum iot_failure {
    IOT_FAIL_NONE = 0,      /* an HTTP response arrived (look at status and code) */
    IOT_FAIL_NETWORK,       /* refused, reset, closed early: transient */
    IOT_FAIL_TIMEOUT,       /* connect or total timeout: transient, costs 10 */
    IOT_FAIL_PERMANENT,     /* local failure that a retry cannot fix (TLS verify, OOM) */
};

struct iot_retry_quota {
    int available;
    int max;
};

void iot_retry_quota_init(struct iot_retry_quota *q);
/* Take cost tokens: 1 when taken, 0 when not enough are left (nothing taken). */
int iot_retry_quota_acquire(struct iot_retry_quota *q, int cost);
/* A 2xx response after a call whose last retry took `acquired` tokens (0: no retry). */
void iot_retry_quota_success(struct iot_retry_quota *q, int acquired);

int iot_retry_is_throttle_code(const char *code);
int iot_retry_is_transient_code(const char *code);
/* 1 when this outcome is worth retrying (ignoring attempts and quota). */
int iot_retry_is_retryable(enum iot_failure failure, long status, const char *code);

/* Backoff before the next attempt, after `attempts` attempts (>= 1), with r in [0, 1). */
long iot_retry_backoff_ms(int attempts, double r);

struct iot_retry_decision {
    int retry;              /* 1: wait delay_ms then try again */
    long delay_ms;
    int cost;               /* tokens taken for this retry (0 in legacy mode) */
    const char *why_not;    /* when !retry: "not retryable", "max attempts reached",
                               "retry quota exhausted" (static) */
};

/*
 * Decide after attempt number `attempts` (1-based). quota may be NULL (legacy mode).
 * r is a random number in [0, 1) for the jitter.
 */
struct iot_retry_decision iot_retry_decide(enum iot_retry_mode mode, int max_attempts,
                                           int attempts, enum iot_failure failure,
                                           long status, const char *code,
                                           struct iot_retry_quota *quota, double r);

#endif
