/*
 * fuzz_json.c — libFuzzer target for the JSON parser and writer (runtime/json.c).
 *
 * Any input: the parser must return 0 or -1 without a sanitizer report, with an error
 * offset inside the input. When it parses, the writer's output must parse again and
 * write back to the same bytes (the DOM survives a round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int write_dom(const struct json_value *v, struct buf *out)
{
    struct json_writer w;
    jw_init(&w, out);
    jw_value(&w, v);
    return jw_finish(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_limits lim = {32, 1u << 20};
    struct json_value *v = NULL, *again = NULL;
    struct json_error e;
    struct buf first = BUF_INIT, second = BUF_INIT;
    if (json_parse((const char *)data, size, &lim, &v, &e) != 0) {
        if (e.offset > size || !e.message[0])
            abort();
        return 0;
    }
    json_get(v, "a");
    json_get_string(v, "Version");
    json_at(v, 0);
    if (write_dom(v, &first) != 0)
        abort();                       /* depth 32 < writer limit: must succeed */
    if (json_parse(first.data, first.len, &lim, &again, &e) != 0)
        abort();
    if (write_dom(again, &second) != 0 || first.len != second.len ||
        memcmp(first.data, second.data, first.len) != 0)
        abort();
    json_free(v);
    json_free(again);
    buf_free(&first);
    buf_free(&second);
    return 0;
}
