/*
 * bench_sigv4.c — signatures per second of iotlua's C signer alone (runtime/sigv4.c),
 * for scripts/bench. Signs a typical Publish request (path, query, two MQTT 5 headers,
 * a 57-byte body) N times with a fresh time each round and prints one JSON line:
 *   {"signatures": N, "seconds": S, "per_second": R, "mode": "sign", "cpu_seconds": C,
 *    "per_cpu_second": P}
 * (per_cpu_second counts this process's CPU time only: steadier on a shared machine).
 * Mode "sign" (the default, what scripts/bench reports) calls sigv4_sign, which derives
 * the signing key every time; mode "signer" signs through one sigv4_signer, as a client
 * does (the key is derived once per day and scope).
 * Built by scripts/bench against the runtime library:
 *   cc -O2 -I runtime spec/tools/bench_sigv4.c build/runtime/libiotlua_runtime.a -lcrypto
 * usage: bench_sigv4 [N [sign|signer]]   (default 200000 sign)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

static double now_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    const char *mode = argc > 2 ? argv[2] : "sign";
    struct sigv4_signer *signer = NULL;
    if (strcmp(mode, "signer") == 0 && !(signer = sigv4_signer_new())) {
        fprintf(stderr, "bench_sigv4: out of memory\n");
        return 1;
    } else if (!signer && strcmp(mode, "sign") != 0) {
        fprintf(stderr, "usage: bench_sigv4 [N [sign|signer]]\n");
        return 2;
    }
    static const char body[] = "{\"temperature\":21.5,\"humidity\":40,\"device\":\"sensor-0042\"}";
    const struct sigv4_header headers[] = {
        { "Host", "data-ats.iot.us-east-1.amazonaws.com" },
        { "x-amz-mqtt5-payload-format-indicator", "UTF8_DATA" },
        { "x-amz-mqtt5-user-properties", "W3siYSI6IjEifV0=" },
    };
    const struct sigv4_request req = {
        .method = "POST", .path = "/topics/fleet%2Fsensor-0042%2Ftelemetry",
        .query = "qos=1&retain=false", .headers = headers,
        .nheaders = sizeof headers / sizeof headers[0], .body = body, .body_len = sizeof body - 1,
    };
    struct sigv4_params params = {
        .region = "us-east-1", .service = "iotdata",
        .credentials = { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL },
        .time = 1700000000,
    };
    double t0 = now_seconds(CLOCK_MONOTONIC), c0 = now_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
        struct sigv4_result r = { 0 };
        params.time = 1700000000 + i;    /* a new X-Amz-Date every time */
        int rc = signer ? sigv4_signer_sign(signer, &req, &params, &r)
                        : sigv4_sign(&req, &params, &r);
        if (rc != 0) {
            fprintf(stderr, "bench_sigv4: %s\n", r.error);
            sigv4_result_free(&r);
            sigv4_signer_free(signer);
            return 1;
        }
        sigv4_result_free(&r);
    }
    double s = now_seconds(CLOCK_MONOTONIC) - t0;
    double c = now_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    sigv4_signer_free(signer);
    printf("{\"signatures\": %ld, \"seconds\": %.6f, \"per_second\": %.1f, \"mode\": \"%s\", "
           "\"cpu_seconds\": %.6f, \"per_cpu_second\": %.1f}\n",
           n, s, n / s, mode, c, n / c);
    return 0;
}
