/*
 * test_timer_item.h — a one-shot timer item for the engine's tests, built on engine.h as
 * any owner of an item would: one event of kind TEST_EV_TIMER after delay_ms.
 */
#ifndef IOTLUA_TEST_TIMER_ITEM_H
#define IOTLUA_TEST_TIMER_ITEM_H

#include <stdint.h>
#include <stdlib.h>

#include "engine.h"

#define TEST_EV_TIMER ((enum iot_event_kind)100)

struct test_timer {
    struct eng_item item;
    struct eng_timer timer;
};

static void test_timer_fire(struct iot_engine *e, struct eng_timer *t)
{
    eng_item_ready(e, &DL_CONTAINER(t, struct test_timer, timer)->item);
}

static void test_timer_destroy(struct iot_engine *e, struct eng_item *item)
{
    struct test_timer *tt = DL_CONTAINER(item, struct test_timer, item);
    eng_timer_disarm(e, &tt->timer);
    free(tt);
}

/* 0 with *id_out, or -1 out of memory. */
static inline int test_timer_start(struct iot_engine *e, long delay_ms, void *user,
                                   uint64_t *id_out)
{
    struct test_timer *tt = calloc(1, sizeof *tt);
    if (!tt)
        return -1;
    tt->item.id = eng_next_id(e);
    tt->item.user = user;
    tt->item.kind = TEST_EV_TIMER;
    tt->item.destroy = test_timer_destroy;
    eng_timer_init(&tt->timer, test_timer_fire);
    if (eng_timer_arm(e, &tt->timer, delay_ms) != 0) {
        free(tt);
        return -1;
    }
    eng_item_track(e, &tt->item);
    *id_out = tt->item.id;
    return 0;
}

#endif
