/*
 * check.h — the tiny assertion kit shared by the C unit tests (spec/unit/test_*.c).
 *
 *   #include "check.h"
 *   int main(void) {
 *       CHECK(x > 0);
 *       CHECK_INT_EQ(status, 200);
 *       CHECK_STR_EQ(got, "expected");
 *       CHECK_MEM_EQ(ptr, len, "bytes", 5);
 *       return CHECK_SUMMARY();
 *   }
 *
 * A failed check prints "file:line: ..." with both values and the test keeps going;
 * CHECK_SUMMARY() prints "N checks, M failed" and returns the exit status (1 when any
 * check failed, or when no check ran at all: a test that checks nothing is a failure).
 * CHECK_REQUIRE(cond) stops the test at once (exit 1) when cond is false, for checks
 * whose failure would make the next lines crash.
 */
#ifndef IOTLUA_CHECK_H
#define IOTLUA_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long check_count_ = 0;
static unsigned long check_failed_ = 0;

static inline int check_fail_(const char *file, int line)
{
    check_failed_++;
    fprintf(stderr, "%s:%d: FAILED ", file, line);
    return 0;
}

/* Prints a byte string with non-printable bytes escaped, NULL as (null). */
static inline void check_print_bytes_(const char *s, size_t n)
{
    if (!s) {
        fputs("(null)", stderr);
        return;
    }
    fputc('"', stderr);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputc('"', stderr);
}

#define CHECK(cond)                                                                     \
    do {                                                                                \
        check_count_++;                                                                 \
        if (!(cond)) {                                                                  \
            check_fail_(__FILE__, __LINE__);                                            \
            fprintf(stderr, "CHECK(%s)\n", #cond);                                      \
        }                                                                               \
    } while (0)

#define CHECK_REQUIRE(cond)                                                             \
    do {                                                                                \
        check_count_++;                                                                 \
        if (!(cond)) {                                                                  \
            check_fail_(__FILE__, __LINE__);                                            \
            fprintf(stderr, "CHECK_REQUIRE(%s): stopping\n", #cond);                    \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

#define CHECK_INT_EQ(got, want)                                                         \
    do {                                                                                \
        intmax_t check_g_ = (intmax_t)(got), check_w_ = (intmax_t)(want);               \
        check_count_++;                                                                 \
        if (check_g_ != check_w_) {                                                     \
            check_fail_(__FILE__, __LINE__);                                            \
            fprintf(stderr, "CHECK_INT_EQ(%s, %s): got %" PRIdMAX ", want %" PRIdMAX "\n", \
                    #got, #want, check_g_, check_w_);                                   \
        }                                                                               \
    } while (0)

#define CHECK_MEM_EQ(got, got_len, want, want_len)                                      \
    do {                                                                                \
        const char *check_g_ = (const char *)(got), *check_w_ = (const char *)(want);   \
        size_t check_gl_ = (size_t)(got_len), check_wl_ = (size_t)(want_len);           \
        check_count_++;                                                                 \
        if (!check_g_ || !check_w_ || check_gl_ != check_wl_ ||                         \
            memcmp(check_g_, check_w_, check_gl_) != 0) {                               \
            check_fail_(__FILE__, __LINE__);                                            \
            fprintf(stderr, "CHECK_MEM_EQ(%s, %s)\n  got:  ", #got, #want);             \
            check_print_bytes_(check_g_, check_gl_);                                    \
            fputs("\n  want: ", stderr);                                                \
            check_print_bytes_(check_w_, check_wl_);                                    \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

#define CHECK_STR_EQ(got, want)                                                         \
    do {                                                                                \
        const char *check_gs_ = (got), *check_ws_ = (want);                             \
        CHECK_MEM_EQ(check_gs_, check_gs_ ? strlen(check_gs_) : 0, check_ws_,          \
                     check_ws_ ? strlen(check_ws_) : 0);                                \
    } while (0)

/* True when the string got contains want (both non-NULL). */
#define CHECK_STR_CONTAINS(got, want)                                                   \
    do {                                                                                \
        const char *check_gs_ = (got), *check_ws_ = (want);                             \
        check_count_++;                                                                 \
        if (!check_gs_ || !check_ws_ || !strstr(check_gs_, check_ws_)) {               \
            check_fail_(__FILE__, __LINE__);                                            \
            fprintf(stderr, "CHECK_STR_CONTAINS(%s, %s)\n  got:  ", #got, #want);       \
            check_print_bytes_(check_gs_, check_gs_ ? strlen(check_gs_) : 0);           \
            fputs("\n  want substring: ", stderr);                                      \
            check_print_bytes_(check_ws_, check_ws_ ? strlen(check_ws_) : 0);           \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

#define CHECK_SUMMARY()                                                                 \
    (fprintf(check_failed_ ? stderr : stdout, "%lu checks, %lu failed\n", check_count_, \
             check_failed_),                                                            \
     (check_failed_ || check_count_ == 0) ? 1 : 0)

#endif
