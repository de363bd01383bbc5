/* dns_cache.c — host names resolved on threads of their own, kept; see dns_cache.h. */
#define _GNU_SOURCE
#include "dns_cache.h"

#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"

#define DNS_KEEP_MS 60000               /* libcurl's CURLOPT_DNS_CACHE_TIMEOUT default */
#define DNS_FAILURE_KEEP_MS 1000

/* ================================================================ shared addresses */

struct dns_addrs *dns_addrs_wrap(struct addrinfo *list)
{
    struct dns_addrs *a = malloc(sizeof *a);
    if (!a) {
        freeaddrinfo(list);
        return NULL;
    }
    a->refs = 1;
    a->list = list;
    return a;
}

struct dns_addrs *dns_addrs_ref(struct dns_addrs *a)
{
    a->refs++;
    return a;
}

void dns_addrs_release(struct dns_addrs *a)
{
    if (!a || --a->refs > 0)
        return;
    freeaddrinfo(a->list);
    free(a);
}

/* ================================================================ resolver threads */

/* One resolution, shared by its thread and the cache entry that waits for it: the last
 * of the two to let go frees it. */
struct dns_job {
    pthread_mutex_t lock;
    int holders;                        /* 2 while both hold it */
    int done;
    int rc;                             /* getaddrinfo's */
    struct addrinfo *result;
    int wake_fd;                        /* the job's own copy of the cache's eventfd */
    char host[256], port[8];
};

static void job_free(struct dns_job *j)
{
    if (j->result)
        freeaddrinfo(j->result);
    close(j->wake_fd);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static void job_let_go(struct dns_job *j)
{
    pthread_mutex_lock(&j->lock);
    int last = --j->holders == 0;
    pthread_mutex_unlock(&j->lock);
    if (last)
        job_free(j);
}

static void *resolve_main(void *arg)
{
    struct dns_job *j = arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(j->host, j->port, &hints, &res);
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    j->result = rc == 0 ? res : NULL;
    j->done = 1;
    pthread_mutex_unlock(&j->lock);
    uint64_t one = 1;
    if (write(j->wake_fd, &one, sizeof one) < 0) {
        /* the counter is full or the fd gone: the loop still finds the job done */
    }
    job_let_go(j);
    return NULL;
}

/* A job for host:port on its own detached thread; NULL when none could start. */
static struct dns_job *job_start(int wake_fd, const char *host, const char *port)
{
    struct dns_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->wake_fd = dup(wake_fd);
    if (j->wake_fd < 0 || pthread_mutex_init(&j->lock, NULL) != 0) {
        if (j->wake_fd >= 0)
            close(j->wake_fd);
        free(j);
        return NULL;
    }
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->port, sizeof j->port, "%s", port);
    j->holders = 2;
    pthread_attr_t attr;
    pthread_t thread;
    int ok = pthread_attr_init(&attr) == 0;
    ok = ok && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
         pthread_create(&thread, &attr, resolve_main, j) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        job_free(j);
        return NULL;
    }
    return j;
}

/* ================================================================ the cache */

enum dns_state { DNS_RESOLVING, DNS_READY, DNS_FAILED };

struct dns_entry {
    struct dns_entry *next;
    char host[256], port[8];
    enum dns_state state;
    struct dns_job *job;                /* DNS_RESOLVING */
    struct dns_addrs *addrs;            /* DNS_READY */
    char error[160];                    /* DNS_FAILED */
    int64_t until_ms;                   /* READY and FAILED: kept until then */
};

struct dns_cache {
    int efd;
    int pending;
    struct dns_entry *entries;
};

struct dns_cache *dns_cache_new(void)
{
    struct dns_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void entry_clear(struct dns_cache *c, struct dns_entry *en)
{
    if (en->job) {
        job_let_go(en->job);
        en->job = NULL;
        c->pending--;
    }
    dns_addrs_release(en->addrs);
    en->addrs = NULL;
}

void dns_cache_free(struct dns_cache *c)
{
    if (!c)
        return;
    while (c->entries) {
        struct dns_entry *en = c->entries;
        c->entries = en->next;
        entry_clear(c, en);
        free(en);
    }
    close(c->efd);
    free(c);
}

int dns_cache_fd(const struct dns_cache *c)
{
    return c->efd;
}

int dns_cache_pending(const struct dns_cache *c)
{
    return c ? c->pending : 0;
}

/* en's job finished: its answer becomes en's. */
static void take_answer(struct dns_cache *c, struct dns_entry *en)
{
    struct dns_job *j = en->job;
    pthread_mutex_lock(&j->lock);
    int done = j->done, rc = j->rc;
    struct addrinfo *res = j->result;
    j->result = NULL;
    pthread_mutex_unlock(&j->lock);
    if (!done)
        return;
    entry_clear(c, en);
    int64_t now = eng_now_ms();
    if (rc == 0 && (en->addrs = dns_addrs_wrap(res)) != NULL) {
        en->state = DNS_READY;
        en->until_ms = now + DNS_KEEP_MS;
        return;
    }
    en->state = DNS_FAILED;
    en->until_ms = now + DNS_FAILURE_KEEP_MS;
    snprintf(en->error, sizeof en->error, "cannot resolve '%.100s': %s", en->host,
             rc ? gai_strerror(rc) : "out of memory");
}

void dns_cache_collect(struct dns_cache *c)
{
    uint64_t count;
    if (read(c->efd, &count, sizeof count) < 0) {
        /* nothing written since the last collect */
    }
    for (struct dns_entry *en = c->entries; en; en = en->next)
        if (en->state == DNS_RESOLVING)
            take_answer(c, en);
}

static struct dns_entry *find(struct dns_cache *c, const char *host, const char *port)
{
    for (struct dns_entry *en = c->entries; en; en = en->next)
        if (strcasecmp(en->host, host) == 0 && strcmp(en->port, port) == 0)
            return en;
    return NULL;
}

/* Starts resolving into en (new or expired). 0, or -1 with err. */
static int start_resolving(struct dns_cache *c, struct dns_entry *en, char *err,
                           size_t err_size)
{
    entry_clear(c, en);
    en->job = job_start(c->efd, en->host, en->port);
    if (!en->job) {
        en->state = DNS_FAILED;
        en->until_ms = eng_now_ms() + DNS_FAILURE_KEEP_MS;
        snprintf(en->error, sizeof en->error, "cannot resolve '%.100s': no thread to "
                 "resolve it on", en->host);
        snprintf(err, err_size, "%s", en->error);
        return -1;
    }
    en->state = DNS_RESOLVING;
    c->pending++;
    return 0;
}

int dns_cache_lookup(struct dns_cache *c, const char *host, const char *port,
                     struct dns_addrs **out, char *err, size_t err_size)
{
    struct dns_entry *en = find(c, host, port);
    if (en && en->state == DNS_RESOLVING)
        return 0;
    if (en && eng_now_ms() < en->until_ms) {
        if (en->state == DNS_READY) {
            *out = dns_addrs_ref(en->addrs);
            return 1;
        }
        snprintf(err, err_size, "%s", en->error);
        return -1;
    }
    if (!en) {
        if (strlen(host) >= sizeof en->host || strlen(port) >= sizeof en->port ||
            !(en = calloc(1, sizeof *en))) {
            snprintf(err, err_size, "cannot resolve '%.100s': name too long or no memory",
                     host);
            return -1;
        }
        snprintf(en->host, sizeof en->host, "%s", host);
        snprintf(en->port, sizeof en->port, "%s", port);
        en->next = c->entries;
        c->entries = en;
    }
    return start_resolving(c, en, err, err_size);
}
