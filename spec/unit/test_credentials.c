/*
 * test_credentials.c — the credentials provider interface and the cache over it
 * (runtime/credentials/): a provider is asked only when the cache is due; a provider
 * with refresh_start is fetched through the engine (a timer here, as a network fetch
 * would be) once for every waiter; inside the advisory window the old credentials are
 * handed out while it refreshes and its failure keeps them; inside the mandatory window
 * callers wait and its failure is their answer; the client's function reuses what never
 * expires.
 */
#include "check.h"

#include <string.h>

#include "credentials/cache.h"
#include "engine.h"

/* A provider whose credentials are "AKID<n>", n counting its fetches; refresh_start
 * arms a 10 ms engine timer that makes the next fetch's credentials ready. */
struct test_provider {
    struct cred_provider base;
    int gets;                           /* calls of get */
    int generation;                     /* the credentials get hands out: AKID<generation> */
    time_t expiration;
    int refresh_fails;
    struct eng_timer timer;
    cred_refresh_done done;
    void *done_ctx;
};

static int test_get(struct cred_provider *p, time_t now, struct cred_credentials *out,
                    char err_out[CRED_ERROR_LEN])
{
    (void)now;
    struct test_provider *t = (struct test_provider *)p;
    t->gets++;
    if (t->generation == 0) {
        cred_set_error(err_out, "nothing fetched");
        return -1;
    }
    char akid[32];
    snprintf(akid, sizeof akid, "AKID%d", t->generation);
    if (cred_credentials_set(out, akid, "secret", NULL, t->expiration, p->source) != 0) {
        cred_set_error(err_out, "out of memory");
        return -1;
    }
    return 0;
}

static void refresh_fired(struct iot_engine *engine, struct eng_timer *timer)
{
    struct test_provider *t = DL_CONTAINER(timer, struct test_provider, timer);
    if (t->refresh_fails) {
        t->done(t->done_ctx, engine, 0, "the metadata service did not answer");
        return;
    }
    t->generation++;
    t->done(t->done_ctx, engine, 1, NULL);
}

static int test_refresh_start(struct cred_provider *p, struct iot_engine *engine,
                              cred_refresh_done done, void *ctx, char err_out[CRED_ERROR_LEN])
{
    (void)err_out;
    struct test_provider *t = (struct test_provider *)p;
    t->done = done;
    t->done_ctx = ctx;
    return eng_timer_arm(engine, &t->timer, 10);
}

static void test_free(struct cred_provider *p)
{
    (void)p;                            /* on the test's stack */
}

static const struct cred_provider_ops TEST_OPS = {test_get, test_refresh_start, test_free};
static const struct cred_provider_ops TEST_OPS_SYNC = {test_get, NULL, test_free};

static void init_provider(struct test_provider *t, const struct cred_provider_ops *ops,
                          time_t expiration)
{
    memset(t, 0, sizeof *t);
    t->base.ops = ops;
    snprintf(t->base.source, sizeof t->base.source, "test provider");
    t->generation = ops->refresh_start ? 0 : 1;     /* fetched ones start empty */
    t->expiration = expiration;
    eng_timer_init(&t->timer, refresh_fired);
}

/* A caller waiting for credentials, as a call would. */
struct waiter {
    struct iot_credentials_wait w;
    int woken, ok;
    char message[CRED_ERROR_LEN];
};

static void waiter_woken(struct iot_engine *engine, struct iot_credentials_wait *w, int ok,
                         const char *message)
{
    (void)engine;
    struct waiter *me = DL_CONTAINER(w, struct waiter, w);
    me->woken++;
    me->ok = ok;
    snprintf(me->message, sizeof me->message, "%s", message ? message : "");
}

static void poll_until_refreshed(struct iot_engine *e, struct cred_cache *c)
{
    for (int i = 0; i < 100 && cred_cache_refreshing(c); i++)
        iot_engine_poll(e, 50);
}

static struct iot_engine *engine_new(void)
{
    struct iot_error err = {0};
    struct iot_engine *e = iot_engine_new(NULL, &err);
    CHECK_REQUIRE(e != NULL);
    return e;
}

#define WAITERS 1000

/* A thousand callers with nothing cached: one fetch, every one woken with ok. */
static void test_one_fetch_for_every_waiter(void)
{
    struct iot_engine *e = engine_new();
    struct test_provider t;
    init_provider(&t, &TEST_OPS, time(NULL) + 3600);
    char msg[CRED_ERROR_LEN];
    struct cred_cache *c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    struct cred_credentials got;
    CHECK_INT_EQ(cred_cache_get(c, time(NULL), &got, msg), -1);     /* no engine to fetch on */
    CHECK_STR_CONTAINS(msg, "must be fetched first");
    static struct waiter ws[WAITERS];
    memset(ws, 0, sizeof ws);
    for (int i = 0; i < WAITERS; i++) {
        ws[i].w.wake = waiter_woken;
        CHECK_INT_EQ(cred_cache_acquire(c, e, time(NULL), &got, msg, &ws[i].w), 1);
    }
    CHECK_INT_EQ(cred_cache_refreshes(c), 1);
    cred_cache_forget(ws[7].w.holder, &ws[7].w);        /* a call cancelled meanwhile */
    poll_until_refreshed(e, c);
    int woken_ok = 0;
    for (int i = 0; i < WAITERS; i++)
        woken_ok += ws[i].woken == 1 && ws[i].ok;
    CHECK_INT_EQ(woken_ok, WAITERS - 1);
    CHECK_INT_EQ(ws[7].woken, 0);
    CHECK_INT_EQ(cred_cache_acquire(c, e, time(NULL), &got, msg, &ws[0].w), 0);
    CHECK_STR_EQ(got.access_key_id, "AKID1");
    cred_credentials_free(&got);
    CHECK_INT_EQ(t.gets, 1);            /* asked once, when the fetch ended */
    cred_cache_free(c);
    iot_engine_free(e);
}

/* Advisory window: old credentials at once, refreshed behind; a failure keeps them. */
static void test_advisory_window(void)
{
    struct iot_engine *e = engine_new();
    struct test_provider t;
    time_t now = time(NULL);
    init_provider(&t, &TEST_OPS, now + 700);            /* inside 15 min, outside 10 */
    char msg[CRED_ERROR_LEN];
    struct cred_cache *c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    struct waiter w = {.w.wake = waiter_woken};
    struct cred_credentials got;
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 1);
    poll_until_refreshed(e, c);
    CHECK_INT_EQ(w.ok, 1);

    t.expiration = now + 3600;
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 0);  /* no wait */
    CHECK_STR_EQ(got.access_key_id, "AKID1");
    cred_credentials_free(&got);
    CHECK(cred_cache_refreshing(c));
    CHECK(w.w.holder == NULL);
    poll_until_refreshed(e, c);
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 0);
    CHECK_STR_EQ(got.access_key_id, "AKID2");
    cred_credentials_free(&got);

    /* due again; the refresh fails: the old ones stay, and it is not retried at once */
    t.expiration = now + 700;
    t.refresh_fails = 1;
    cred_cache_set_windows(c, 3600, 600);
    unsigned before = cred_cache_refreshes(c);
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 0);
    cred_credentials_free(&got);
    poll_until_refreshed(e, c);
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 0);
    CHECK_STR_EQ(got.access_key_id, "AKID2");
    cred_credentials_free(&got);
    CHECK_INT_EQ(cred_cache_refreshes(c), before + 1);
    cred_cache_free(c);
    iot_engine_free(e);
}

/* Mandatory window: callers wait; a failed refresh is their answer. */
static void test_mandatory_window(void)
{
    struct iot_engine *e = engine_new();
    struct test_provider t;
    time_t now = time(NULL);
    init_provider(&t, &TEST_OPS, now + 300);            /* inside 10 min */
    char msg[CRED_ERROR_LEN];
    struct cred_cache *c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    struct waiter w = {.w.wake = waiter_woken};
    struct cred_credentials got;
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 1);
    poll_until_refreshed(e, c);
    CHECK_INT_EQ(w.ok, 1);
    t.refresh_fails = 1;
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 1);  /* due: waits */
    poll_until_refreshed(e, c);
    CHECK_INT_EQ(w.woken, 2);
    CHECK_INT_EQ(w.ok, 0);
    CHECK_STR_CONTAINS(w.message, "did not answer");

    /* a cache freed with a waiter still kept lets it go */
    CHECK_INT_EQ(cred_cache_acquire(c, e, now, &got, msg, &w.w), 1);
    CHECK(w.w.holder == c);
    cred_cache_free(c);
    CHECK(w.w.holder == NULL);
    iot_engine_free(e);
}

static int call_fn(struct cred_cache *c, struct iot_credentials *creds)
{
    struct iot_error err;
    memset(&err, 0, sizeof err);
    return cred_cache_credentials_fn(c, NULL, creds, &err, NULL);
}

static void test_sync_provider_and_the_client_function(void)
{
    struct test_provider t;
    init_provider(&t, &TEST_OPS_SYNC, 0);                       /* never expires */
    char msg[CRED_ERROR_LEN];
    struct cred_cache *c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    struct iot_credentials creds;
    for (int i = 0; i < 5; i++) {
        CHECK_INT_EQ(call_fn(c, &creds), 0);
        CHECK_STR_EQ(creds.access_key_id, "AKID1");
        CHECK_STR_EQ(creds.secret_access_key, "secret");
    }
    CHECK_INT_EQ(t.gets, 1);
    CHECK_STR_EQ(cred_cache_source(c), "test provider");
    cred_cache_free(c);

    /* expiring credentials inside the mandatory window are fetched again */
    init_provider(&t, &TEST_OPS_SYNC, time(NULL) + 30);
    c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    CHECK_INT_EQ(call_fn(c, &creds), 0);
    CHECK_INT_EQ(call_fn(c, &creds), 0);
    CHECK_INT_EQ(t.gets, 2);                                    /* 30 s left < 10 min */
    cred_cache_set_windows(c, 10, 10);
    CHECK_INT_EQ(call_fn(c, &creds), 0);
    CHECK_INT_EQ(t.gets, 2);
    cred_cache_free(c);
}

int main(void)
{
    test_one_fetch_for_every_waiter();
    test_advisory_window();
    test_mandatory_window();
    test_sync_provider_and_the_client_function();
    return CHECK_SUMMARY();
}
