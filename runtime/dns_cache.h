/*
 * dns_cache.h — host names resolved off the event loop, for the native HTTP/1.1
 * transport (http1.c), and kept for a minute as libcurl keeps them.
 *
 * getaddrinfo blocks for as long as the resolver takes (seconds when a name server is
 * slow), so each name is resolved on a short-lived thread of its own; the thread wakes
 * the loop through an eventfd (dns_cache_fd, in the transport's epoll set) and the loop
 * takes the answer in dns_cache_collect. Everything but the resolution itself runs on
 * the loop's thread. A failure is kept for a second, so the calls waiting on one answer
 * all get it; then the name is asked again.
 *
 * Addresses are shared: dns_addrs is counted, held by the cache and by every
 * connection that still tries them (released on the loop's thread only).
 */
#ifndef IOTLUA_DNS_CACHE_H
#define IOTLUA_DNS_CACHE_H

#include <stddef.h>

struct addrinfo;

struct dns_addrs {
    int refs;
    struct addrinfo *list;              /* getaddrinfo's, freed with the last reference */
};

/* Takes list (from getaddrinfo); NULL when out of memory (list is then freed). */
struct dns_addrs *dns_addrs_wrap(struct addrinfo *list);
struct dns_addrs *dns_addrs_ref(struct dns_addrs *a);
void dns_addrs_release(struct dns_addrs *a);       /* NULL is fine */

struct dns_cache;

struct dns_cache *dns_cache_new(void);              /* NULL: out of memory or no eventfd */
/* Threads still resolving finish on their own and free what they hold. */
void dns_cache_free(struct dns_cache *c);
int dns_cache_fd(const struct dns_cache *c);        /* readable when an answer came */
int dns_cache_pending(const struct dns_cache *c);   /* names being resolved */
/* Takes the answers that came (from the loop, when dns_cache_fd is readable). */
void dns_cache_collect(struct dns_cache *c);

/* The addresses of host:port (port as digits). 1: *out holds a reference; 0: being
 * resolved (wait for dns_cache_fd); -1: the name could not be resolved, or no thread
 * could be started (why, in err). */
int dns_cache_lookup(struct dns_cache *c, const char *host, const char *port,
                     struct dns_addrs **out, char *err, size_t err_size);

#endif
