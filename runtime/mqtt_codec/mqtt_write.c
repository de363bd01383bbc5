/*
 * mqtt_write.c — the MQTT encoders: big-endian integers, variable byte integers,
 * length-prefixed strings and fixed headers, appended to a struct buf.
 */
#include "mqtt_codec.h"

int mqtt_put_u8(struct buf *b, uint8_t v)
{
    return buf_append(b, &v, 1);
}

int mqtt_put_u16(struct buf *b, uint16_t v)
{
    uint8_t bytes[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return buf_append(b, bytes, 2);
}

int mqtt_put_u32(struct buf *b, uint32_t v)
{
    uint8_t bytes[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return buf_append(b, bytes, 4);
}

size_t mqtt_varint_size(uint32_t v)
{
    size_t n = 1;
    while (v >= 128) {
        v >>= 7;
        n++;
    }
    return n;
}

int mqtt_put_varint(struct buf *b, uint32_t v)
{
    uint8_t bytes[5];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        bytes[n++] = v ? (uint8_t)(byte | 0x80) : byte;
    } while (v && n < 4);
    return buf_append(b, bytes, n);
}

int mqtt_put_str(struct buf *b, const void *p, size_t len)
{
    if (len > 65535)
        return -1;
    if (mqtt_put_u16(b, (uint16_t)len) != 0)
        return -1;
    return len ? buf_append(b, p, len) : 0;
}

int mqtt_put_fixed_header(struct buf *b, uint8_t first_byte, size_t body_len)
{
    if (body_len > 268435455u)
        return -1;
    if (mqtt_put_u8(b, first_byte) != 0)
        return -1;
    return mqtt_put_varint(b, (uint32_t)body_len);
}
