/*
 * fuzz_json_compact.c — libFuzzer target for iot_json_compact (runtime/json_compact.c): JSON
 * text a caller gives for a jsonvalue member (userProperties) → the compact JSON sent,
 * base64-encoded, in the x-amz-mqtt5-user-properties header.
 *
 * Must hold for any input: no sanitizer report; on failure the buffer is back to what it
 * held and the message names a byte offset; on success the output is printable ASCII
 * (Python's ensure_ascii), compacting it again gives the same bytes, and json.h's strict
 * parser accepts it whenever it accepts the input (json.h rejects lone surrogates, which
 * the compactor keeps as Python does). Whatever json.h accepts at depth <= 64 the
 * compactor accepts too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json_compact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct buf out = BUF_INIT, again = BUF_INIT;
    char msg[160];
    struct json_limits lim = {64, 1u << 20};
    struct json_value *v = NULL;
    int strict_ok = json_parse(s, size, &lim, &v, NULL) == 0;
    json_free(v);
    v = NULL;
    buf_append_str(&out, "keep");
    if (iot_json_compact(s, size, &out, msg, sizeof msg) != 0) {
        if (out.len != 4 || memcmp(out.data, "keep", 4) != 0 || !strstr(msg, " at byte "))
            abort();
        if (strict_ok)
            abort();                /* json.h took it: the compactor must too */
        buf_free(&out);
        return 0;
    }
    const char *c = out.data + 4;
    size_t clen = out.len - 4;
    for (size_t i = 0; i < clen; i++)
        if ((unsigned char)c[i] < 0x20 || (unsigned char)c[i] > 0x7e)
            abort();
    if (iot_json_compact(c, clen, &again, msg, sizeof msg) != 0 || again.len != clen ||
        memcmp(again.data, c, clen) != 0)
        abort();
    if (strict_ok && json_parse(c, clen, &lim, &v, NULL) != 0)
        abort();
    json_free(v);
    buf_free(&out);
    buf_free(&again);
    return 0;
}
