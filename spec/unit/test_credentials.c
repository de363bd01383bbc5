/*
 * test_credentials.c — the credentials provider interface and the cache over it
 * (runtime/credentials/): a provider is asked only when the cache is due, the client's
 * credentials function reuses what never expires, and a provider with refresh_start is
 * refreshed through the engine (a timer here, as a network fetch would be an fd source)
 * without any attempt waiting for it; a failed refresh keeps the old credentials.
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
    (void)engine;
    struct test_provider *t = DL_CONTAINER(timer, struct test_provider, timer);
    if (t->refresh_fails) {
        t->done(t->done_ctx, 0, "the metadata service did not answer");
        return;
    }
    t->generation++;
    t->done(t->done_ctx, 1, NULL);
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
    t->generation = 1;
    t->expiration = expiration;
    eng_timer_init(&t->timer, refresh_fired);
}

static void poll_until_refreshed(struct iot_engine *e, struct cred_cache *c)
{
    for (int i = 0; i < 100 && cred_cache_refreshing(c); i++)
        iot_engine_poll(e, 50);
}

static void test_refresh_through_the_engine(void)
{
    struct iot_error err = {0};
    struct iot_engine *e = iot_engine_new(NULL, &err);
    CHECK_REQUIRE(e != NULL);
    struct test_provider t;
    init_provider(&t, &TEST_OPS, time(NULL) + 3600);
    char msg[CRED_ERROR_LEN];
    struct cred_cache *c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    struct cred_credentials got;
    CHECK_INT_EQ(cred_cache_get(c, time(NULL), &got, msg), 0);
    CHECK_STR_EQ(got.access_key_id, "AKID1");
    cred_credentials_free(&got);
    CHECK_INT_EQ(cred_cache_get(c, time(NULL), &got, msg), 0);   /* cached: not asked again */
    cred_credentials_free(&got);
    CHECK_INT_EQ(t.gets, 1);

    CHECK_INT_EQ(cred_cache_refresh_async(c, e, msg), 1);
    CHECK(cred_cache_refreshing(c));
    CHECK_INT_EQ(cred_cache_refresh_async(c, e, msg), 0);       /* one at a time */
    /* while it runs, attempts get the old credentials at once */
    CHECK_INT_EQ(cred_cache_get(c, time(NULL), &got, msg), 0);
    CHECK_STR_EQ(got.access_key_id, "AKID1");
    cred_credentials_free(&got);
    poll_until_refreshed(e, c);
    CHECK(!cred_cache_refreshing(c));
    CHECK_INT_EQ(cred_cache_get(c, time(NULL), &got, msg), 0);
    CHECK_STR_EQ(got.access_key_id, "AKID2");
    cred_credentials_free(&got);
    CHECK_INT_EQ(t.gets, 2);                                    /* fetched once, in the refresh */

    /* a failed refresh keeps what the cache had */
    t.refresh_fails = 1;
    CHECK_INT_EQ(cred_cache_refresh_async(c, e, msg), 1);
    poll_until_refreshed(e, c);
    CHECK_INT_EQ(cred_cache_get(c, time(NULL), &got, msg), 0);
    CHECK_STR_EQ(got.access_key_id, "AKID2");
    cred_credentials_free(&got);
    cred_cache_free(c);
    iot_engine_free(e);
}

static void test_sync_provider_and_the_client_function(void)
{
    struct iot_error err = {0};
    struct iot_engine *e = iot_engine_new(NULL, &err);
    CHECK_REQUIRE(e != NULL);
    struct test_provider t;
    init_provider(&t, &TEST_OPS_SYNC, 0);                       /* never expires */
    char msg[CRED_ERROR_LEN];
    struct cred_cache *c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    CHECK_INT_EQ(cred_cache_refresh_async(c, e, msg), 0);       /* nothing to fetch ahead */
    struct iot_credentials creds;
    for (int i = 0; i < 5; i++) {
        CHECK_INT_EQ(cred_cache_credentials_fn(c, &creds, &err), 0);
        CHECK_STR_EQ(creds.access_key_id, "AKID1");
        CHECK_STR_EQ(creds.secret_access_key, "secret");
    }
    CHECK_INT_EQ(t.gets, 1);
    CHECK_STR_EQ(cred_cache_source(c), "test provider");
    cred_cache_free(c);

    /* expiring credentials inside the refresh margin are fetched again */
    init_provider(&t, &TEST_OPS_SYNC, time(NULL) + 30);
    c = cred_cache_new(&t.base, msg);
    CHECK_REQUIRE(c != NULL);
    CHECK_INT_EQ(cred_cache_credentials_fn(c, &creds, &err), 0);
    CHECK_INT_EQ(cred_cache_credentials_fn(c, &creds, &err), 0);
    CHECK_INT_EQ(t.gets, 2);                                    /* 30 s left < 60 s margin */
    cred_cache_set_refresh_margin(c, 10);
    CHECK_INT_EQ(cred_cache_credentials_fn(c, &creds, &err), 0);
    CHECK_INT_EQ(t.gets, 2);
    cred_cache_free(c);
    iot_engine_free(e);
}

int main(void)
{
    test_refresh_through_the_engine();
    test_sync_provider_and_the_client_function();
    return CHECK_SUMMARY();
}
