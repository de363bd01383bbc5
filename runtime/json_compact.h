/*
 * json_compact.h — the JSON re-writer beside json.h's parser: JSON text in, the compact
 * form botocore sends out (jsonvalue members such as userProperties travel so).
 */
#ifndef IOTLUA_JSON_COMPACT_H
#define IOTLUA_JSON_COMPACT_H

#include <stddef.h>

#include "buf.h"

/*
 * JSON text → compact JSON exactly as Python's json.dumps(v, separators=(',', ':'))
 * prints it (what botocore puts in jsonvalue headers): no whitespace, non-ASCII and
 * control characters as \uXXXX (lower-case hex, surrogate pairs), other escapes
 * normalised, numbers as written. Appends to out; 0, or -1 with a reason in msg
 * (invalid JSON, invalid UTF-8, out of memory).
 */
int iot_json_compact(const char *s, size_t n, struct buf *out, char *msg, size_t msglen);

#endif
