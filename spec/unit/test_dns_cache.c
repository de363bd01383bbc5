/* test_dns_cache.c — host names resolved off the loop (runtime/dns_cache.c): a lookup
 * starts a resolution and answers 0 at once, the eventfd wakes the waiter, the answer
 * is kept and shared, failures carry getaddrinfo's reason and are kept briefly, and a
 * cache freed while a thread still resolves leaves that thread to finish on its own
 * (the ASan pass checks that nothing leaks or is used after it is freed). Only names
 * that resolve without the network: localhost (/etc/hosts) and IP literals. */
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "check.h"
#include "dns_cache.h"

/* Waits (at most 5 s) for the cache's fd, then collects; 1 when it became readable. */
static int wait_answer(struct dns_cache *c)
{
    struct pollfd pfd = {dns_cache_fd(c), POLLIN, 0};
    int ready = poll(&pfd, 1, 5000) == 1;
    dns_cache_collect(c);
    return ready;
}

static int is_loopback_on(const struct addrinfo *a, int port)
{
    if (a->ai_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)a->ai_addr;
        return ntohl(in->sin_addr.s_addr) >> 24 == 127 && ntohs(in->sin_port) == port;
    }
    if (a->ai_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)a->ai_addr;
        return memcmp(&in6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback) == 0 &&
               ntohs(in6->sin6_port) == port;
    }
    return 0;
}

static void test_localhost_resolved_and_kept(void)
{
    struct dns_cache *c = dns_cache_new();
    CHECK_REQUIRE(c != NULL);
    struct dns_addrs *a = NULL, *b = NULL;
    char err[160] = "";
    CHECK_INT_EQ(dns_cache_lookup(c, "localhost", "8443", &a, err, sizeof err), 0);
    CHECK_INT_EQ(dns_cache_pending(c), 1);
    CHECK_INT_EQ(dns_cache_lookup(c, "LOCALHOST", "8443", &a, err, sizeof err), 0);
    CHECK_INT_EQ(dns_cache_pending(c), 1);     /* the same name: one resolution */
    CHECK(wait_answer(c));
    CHECK_INT_EQ(dns_cache_pending(c), 0);
    CHECK_INT_EQ(dns_cache_lookup(c, "localhost", "8443", &a, err, sizeof err), 1);
    CHECK_REQUIRE(a != NULL && a->list != NULL);
    for (const struct addrinfo *ai = a->list; ai; ai = ai->ai_next)
        CHECK(is_loopback_on(ai, 8443));
    CHECK_INT_EQ(dns_cache_lookup(c, "localhost", "8443", &b, err, sizeof err), 1);
    CHECK(a == b);                              /* kept: shared, not asked again */
    CHECK_INT_EQ(dns_cache_pending(c), 0);
    CHECK_INT_EQ(dns_cache_lookup(c, "localhost", "80", &b, err, sizeof err), 0);
    dns_cache_free(c);                          /* a and b outlive the cache */
    CHECK(is_loopback_on(a->list, 8443));
    dns_addrs_release(b);
    dns_addrs_release(a);
}

static void test_failure_is_reported_and_kept(void)
{
    struct dns_cache *c = dns_cache_new();
    CHECK_REQUIRE(c != NULL);
    struct dns_addrs *a = NULL;
    char err[160] = "";
    /* a service that is not digits fails in getaddrinfo without asking any server */
    CHECK_INT_EQ(dns_cache_lookup(c, "127.0.0.1", "https", &a, err, sizeof err), 0);
    CHECK(wait_answer(c));
    CHECK_INT_EQ(dns_cache_lookup(c, "127.0.0.1", "https", &a, err, sizeof err), -1);
    CHECK(a == NULL);
    CHECK_STR_CONTAINS(err, "cannot resolve '127.0.0.1': ");
    err[0] = '\0';
    CHECK_INT_EQ(dns_cache_lookup(c, "127.0.0.1", "https", &a, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "cannot resolve");  /* kept: no second resolution */
    CHECK_INT_EQ(dns_cache_pending(c), 0);
    dns_cache_free(c);
}

static void test_freed_while_resolving(void)
{
    struct dns_cache *c = dns_cache_new();
    CHECK_REQUIRE(c != NULL);
    struct dns_addrs *a = NULL;
    char err[160];
    for (int port = 1; port <= 8; port++) {
        char service[8];
        snprintf(service, sizeof service, "%d", port);
        CHECK_INT_EQ(dns_cache_lookup(c, "localhost", service, &a, err, sizeof err), 0);
    }
    dns_cache_free(c);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);                       /* the threads end and free their jobs */
}

int main(void)
{
    test_localhost_resolved_and_kept();
    test_failure_is_reported_and_kept();
    test_freed_while_resolving();
    return CHECK_SUMMARY();
}
