/*
 * sigv4_cases.h — requests shared by the signer tests (test_sigv4.c) and the verifier
 * tests (test_sigv4_verify.c): the documentation's example keys, and one request with
 * more headers and a longer query than the signer's stack room, with what its canonical
 * parts must be.
 */
#ifndef IOTLUA_SIGV4_CASES_H
#define IOTLUA_SIGV4_CASES_H

#include <stdio.h>

#include "sigv4.h"

#define EX_AKID "AKIAIOSFODNN7EXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

/* A request with many headers (past the signer's stack room: sorted by qsort) and a long
 * query (past its stack room), with what its canonical parts must be. */
struct big_request {
    struct sigv4_header h[48];
    char names[48][16], values[48][24];
    char query[2200], want_query[2600], want_signed[1024];
};

static inline void make_big(struct big_request *b)
{
    size_t nq = 0, nw = 0;
    b->h[0] = (struct sigv4_header){"Host", "example.com"};
    for (int i = 0; i < 40; i++) {                  /* given in reverse, mixed case */
        snprintf(b->names[i], sizeof b->names[i], " X-H%02d ", 39 - i);
        snprintf(b->values[i], sizeof b->values[i], "  v  %d ", 39 - i);
        b->h[i + 1] = (struct sigv4_header){b->names[i], b->values[i]};
    }
    nw = (size_t)snprintf(b->want_signed, sizeof b->want_signed, "host;x-amz-date");
    for (int i = 0; i < 40; i++)
        nw += (size_t)snprintf(b->want_signed + nw, sizeof b->want_signed - nw, ";x-h%02d", i);
    for (int i = 99; i >= 0; i--)                   /* 100 pairs, reversed, to encode */
        nq += (size_t)snprintf(b->query + nq, sizeof b->query - nq, "%sk%02d=a+b%%2f~%d",
                               i == 99 ? "" : "&", i, i);
    nw = 0;
    for (int i = 0; i < 100; i++)
        nw += (size_t)snprintf(b->want_query + nw, sizeof b->want_query - nw,
                               "%sk%02d=a%%2Bb%%2F~%d", i ? "&" : "", i, i);
}

#endif
