/* test_engine.c — the engine's items and fd sources (engine.h): a stream item gives many
 * events and stays live until finished, cancel and free destroy it once; a source's hook
 * runs when its descriptor is ready and not otherwise, and a pending source keeps
 * iot_engine_poll waiting on it. */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "client.h"
#include "engine.h"

#define TEST_EV_STREAM ((enum iot_event_kind)101)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ================================================================ stream items */

/* A stream that hands out the numbers queued in it, one event each. */
struct counter_stream {
    struct eng_item item;
    int queued[8];
    int nqueued, next;
    int *destroyed;         /* incremented by destroy */
};

static void counter_pop(struct iot_engine *e, struct eng_item *item, struct iot_event *ev)
{
    struct counter_stream *cs = DL_CONTAINER(item, struct counter_stream, item);
    ev->payload = &cs->queued[cs->next++];
    if (cs->next < cs->nqueued)
        eng_item_ready(e, item);
}

static void counter_destroy(struct iot_engine *e, struct eng_item *item)
{
    (void)e;
    struct counter_stream *cs = DL_CONTAINER(item, struct counter_stream, item);
    (*cs->destroyed)++;
    free(cs);
}

static struct counter_stream *counter_new(struct iot_engine *e, int *destroyed)
{
    struct counter_stream *cs = calloc(1, sizeof *cs);
    cs->item.id = eng_next_id(e);
    cs->item.kind = TEST_EV_STREAM;
    cs->item.stream = 1;
    cs->item.pop = counter_pop;
    cs->item.destroy = counter_destroy;
    cs->destroyed = destroyed;
    eng_item_track(e, &cs->item);
    return cs;
}

static void counter_push(struct iot_engine *e, struct counter_stream *cs, int v)
{
    cs->queued[cs->nqueued++] = v;
    eng_item_ready(e, &cs->item);
}

static void test_stream_gives_every_event_and_stays_live(void)
{
    struct iot_engine *e = iot_engine_new(NULL, NULL);
    int destroyed = 0;
    struct counter_stream *cs = counter_new(e, &destroyed);
    counter_push(e, cs, 10);
    counter_push(e, cs, 11);
    counter_push(e, cs, 12);
    CHECK_INT_EQ(iot_engine_poll(e, 0), 1);      /* one item ready, however many events */
    int got[4], n = 0;
    struct iot_event ev;
    while (n < 4 && iot_engine_next_event(e, &ev)) {
        CHECK_INT_EQ(ev.kind, TEST_EV_STREAM);
        CHECK(ev.id == cs->item.id);
        CHECK(ev.result == NULL);
        got[n++] = *(int *)ev.payload;
    }
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(got[0], 10);
    CHECK_INT_EQ(got[1], 11);
    CHECK_INT_EQ(got[2], 12);
    CHECK_INT_EQ(destroyed, 0);                  /* still live after its events */
    CHECK_INT_EQ(iot_engine_pending(e), 1);
    counter_push(e, cs, 13);                     /* and gives more later */
    CHECK_INT_EQ(iot_engine_next_event(e, &ev), 1);
    CHECK_INT_EQ(*(int *)ev.payload, 13);
    counter_push(e, cs, 14);                     /* a queued event goes with finish */
    eng_item_finish(e, &cs->item);
    CHECK_INT_EQ(destroyed, 1);
    CHECK_INT_EQ(iot_engine_pending(e), 0);
    CHECK_INT_EQ(iot_engine_next_event(e, &ev), 0);
    iot_engine_free(e);
    CHECK_INT_EQ(destroyed, 1);
}

static void test_stream_cancel_and_free_destroy_once(void)
{
    struct iot_engine *e = iot_engine_new(NULL, NULL);
    int destroyed_a = 0, destroyed_b = 0;
    struct counter_stream *a = counter_new(e, &destroyed_a);
    counter_new(e, &destroyed_b);
    counter_push(e, a, 1);
    uint64_t id = a->item.id;
    CHECK_INT_EQ(iot_engine_cancel(e, id), 1);
    CHECK_INT_EQ(destroyed_a, 1);
    CHECK_INT_EQ(iot_engine_cancel(e, id), 0);
    struct iot_event ev;
    CHECK_INT_EQ(iot_engine_next_event(e, &ev), 0);   /* its queued event went with it */
    iot_engine_free(e);                              /* b is destroyed with the engine */
    CHECK_INT_EQ(destroyed_a, 1);
    CHECK_INT_EQ(destroyed_b, 1);
}

/* ================================================================ fd sources */

struct pipe_source {
    struct eng_source source;
    int calls;
    unsigned last_events;
    char byte;
};

static void pipe_ready(struct iot_engine *e, struct eng_source *s, unsigned events)
{
    (void)e;
    struct pipe_source *ps = DL_CONTAINER(s, struct pipe_source, source);
    ps->calls++;
    ps->last_events = events;
    if (events & ENG_READ && read(s->fd, &ps->byte, 1) != 1)
        ps->byte = 0;
}

static void test_source_reports_readable(void)
{
    int fds[2];
    CHECK_REQUIRE(pipe(fds) == 0);
    struct iot_engine *e = iot_engine_new(NULL, NULL);
    struct pipe_source ps = {0};
    eng_source_init(&ps.source, fds[0], ENG_READ, pipe_ready);
    eng_source_add(e, &ps.source);
    CHECK_INT_EQ(iot_engine_poll(e, 20), 0);        /* nothing written: no call */
    CHECK_INT_EQ(ps.calls, 0);
    CHECK(iot_engine_next_timeout_ms(e) > 0);       /* a waiting source keeps it alive */
    CHECK_REQUIRE(write(fds[1], "x", 1) == 1);
    int64_t t0 = now_ms();
    iot_engine_poll(e, 2000);
    CHECK(now_ms() - t0 < 1000);                    /* woken by the descriptor */
    CHECK_INT_EQ(ps.calls, 1);
    CHECK_INT_EQ(ps.last_events, ENG_READ);
    CHECK_INT_EQ(ps.byte, 'x');

    /* interest 0: no call even though the pipe is readable; nothing keeps poll waiting */
    CHECK_REQUIRE(write(fds[1], "y", 1) == 1);
    eng_source_set_interest(&ps.source, 0);
    t0 = now_ms();
    iot_engine_poll(e, -1);
    CHECK(now_ms() - t0 < 500);
    CHECK_INT_EQ(ps.calls, 1);
    eng_source_set_interest(&ps.source, ENG_READ);
    iot_engine_poll(e, 1000);
    CHECK_INT_EQ(ps.calls, 2);
    CHECK_INT_EQ(ps.byte, 'y');

    /* removed: no more calls */
    eng_source_remove(e, &ps.source);
    eng_source_remove(e, &ps.source);               /* twice is fine */
    CHECK_REQUIRE(write(fds[1], "z", 1) == 1);
    iot_engine_poll(e, 20);
    CHECK_INT_EQ(ps.calls, 2);
    iot_engine_free(e);
    close(fds[0]);
    close(fds[1]);
}

static void test_source_reports_writable_and_hangup(void)
{
    int fds[2];
    CHECK_REQUIRE(pipe(fds) == 0);
    struct iot_engine *e = iot_engine_new(NULL, NULL);
    struct pipe_source w = {0};
    eng_source_init(&w.source, fds[1], ENG_WRITE, pipe_ready);
    eng_source_add(e, &w.source);
    iot_engine_poll(e, 1000);
    CHECK_INT_EQ(w.calls, 1);
    CHECK_INT_EQ(w.last_events, ENG_WRITE);
    eng_source_remove(e, &w.source);

    /* the writer closes: the reader hears ENG_READ (its read finds the end) */
    struct pipe_source r = {0};
    eng_source_init(&r.source, fds[0], ENG_READ, pipe_ready);
    eng_source_add(e, &r.source);
    close(fds[1]);
    iot_engine_poll(e, 1000);
    CHECK_INT_EQ(r.calls, 1);
    CHECK_INT_EQ(r.last_events, ENG_READ);
    CHECK_INT_EQ(r.byte, 0);
    eng_source_remove(e, &r.source);
    iot_engine_free(e);
    close(fds[0]);
}

int main(void)
{
    test_stream_gives_every_event_and_stays_live();
    test_stream_cancel_and_free_destroy_once();
    test_source_reports_readable();
    test_source_reports_writable_and_hangup();
    return CHECK_SUMMARY();
}
