/*
 * mqtt_read.c — the MQTT frame decoder and per-type parsers (pure functions; see
 * mqtt_codec.h). Every read is bounds-checked against the frame; a parser either accepts the
 * whole body or names the error.
 */
#include <string.h>

#include "mqtt_codec.h"

/* ---------------------------------------------------------------- a cursor over a body */

struct rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static size_t rd_left(const struct rd *r) { return r->len - r->pos; }

static bool rd_u8(struct rd *r, uint8_t *v)
{
    if (rd_left(r) < 1)
        return false;
    *v = r->p[r->pos++];
    return true;
}

static bool rd_u16(struct rd *r, uint16_t *v)
{
    if (rd_left(r) < 2)
        return false;
    *v = (uint16_t)((r->p[r->pos] << 8) | r->p[r->pos + 1]);
    r->pos += 2;
    return true;
}

static bool rd_u32(struct rd *r, uint32_t *v)
{
    if (rd_left(r) < 4)
        return false;
    const uint8_t *q = r->p + r->pos;
    *v = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
    r->pos += 4;
    return true;
}

/* Variable byte integer: at most 4 bytes. */
static bool rd_varint(struct rd *r, uint32_t *v)
{
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t byte;
        if (!rd_u8(r, &byte))
            return false;
        value |= (uint32_t)(byte & 0x7F) << (7 * i);
        if (!(byte & 0x80)) {
            *v = value;
            return true;
        }
    }
    return false;
}

static bool rd_bin(struct rd *r, struct mqtt_bin *out)
{
    uint16_t n;
    if (!rd_u16(r, &n) || rd_left(r) < n)
        return false;
    out->p = r->p + r->pos;
    out->len = n;
    r->pos += n;
    return true;
}

/* A UTF-8 string: length-prefixed and well formed. */
static enum mqtt_err rd_str(struct rd *r, struct mqtt_str *out)
{
    struct mqtt_bin b;
    if (!rd_bin(r, &b))
        return MQTT_E_MALFORMED;
    if (!mqtt_utf8_valid(b.p, b.len))
        return MQTT_E_MALFORMED;
    out->p = (const char *)b.p;
    out->len = b.len;
    return MQTT_OK;
}

bool mqtt_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        uint32_t cp;
        size_t n;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---------------------------------------------------------------- frames */

enum mqtt_err mqtt_frame_header(const uint8_t *buf, size_t len, size_t *header_len_out,
                                size_t *body_len_out)
{
    uint32_t body_len = 0;
    for (size_t i = 1;; i++) {
        if (i > 4)
            return MQTT_E_MALFORMED;
        if (i >= len)
            return MQTT_NEED_MORE;
        body_len |= (uint32_t)(buf[i] & 0x7F) << (7 * (i - 1));
        if (!(buf[i] & 0x80)) {
            *header_len_out = i + 1;
            *body_len_out = body_len;
            return MQTT_OK;
        }
    }
}

enum mqtt_err mqtt_frame_decode(const uint8_t *buf, size_t len, size_t max_body,
                                struct mqtt_frame *frame_out)
{
    size_t header, body_len;
    enum mqtt_err e = mqtt_frame_header(buf, len, &header, &body_len);
    if (e != MQTT_OK)
        return e;
    if (body_len > max_body)
        return MQTT_E_TOO_LARGE;
    if (len - header < body_len)
        return MQTT_NEED_MORE;
    frame_out->type = buf[0] >> 4;
    frame_out->flags = buf[0] & 0x0F;
    frame_out->body = buf + header;
    frame_out->body_len = body_len;
    frame_out->frame_len = header + body_len;
    return MQTT_OK;
}

/* ---------------------------------------------------------------- properties */

enum prop_kind { P_NONE, P_BYTE, P_U16, P_U32, P_VARINT, P_STR, P_BIN, P_PAIR };

static enum prop_kind prop_kind(uint8_t id)
{
    switch (id) {
    case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
        return P_BYTE;
    case 0x13: case 0x21: case 0x22: case 0x23:
        return P_U16;
    case 0x02: case 0x11: case 0x18: case 0x27:
        return P_U32;
    case 0x0B:
        return P_VARINT;
    case 0x03: case 0x08: case 0x12: case 0x15: case 0x1A: case 0x1C: case 0x1F:
        return P_STR;
    case 0x09: case 0x16:
        return P_BIN;
    case 0x26:
        return P_PAIR;
    default:
        return P_NONE;
    }
}

/* Which properties a client may send in each packet (MQTT 5, 2.2.2.2). */
static const char PROPS_CONNECT[] = {0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16, 0};
static const char PROPS_WILL[] = {0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26, 0};
static const char PROPS_PUBLISH[] = {0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x03, 0};
static const char PROPS_SUBSCRIBE[] = {0x0B, 0x26, 0};
static const char PROPS_UNSUBSCRIBE[] = {0x26, 0};
static const char PROPS_ACK[] = {0x1F, 0x26, 0};
static const char PROPS_DISCONNECT[] = {0x11, 0x1F, 0x26, 0x1C, 0};
/* ... and which a server may send to a client. */
static const char PROPS_CONNACK[] = {0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1F, 0x26,
                                     0x28, 0x29, 0x2A, 0x13, 0x1A, 0x1C, 0x15, 0x16, 0};
static const char PROPS_SERVER_PUBLISH[] = {0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x03, 0x0B, 0};
static const char PROPS_SUBACK[] = {0x1F, 0x26, 0};

/* User properties repeat anywhere; subscription identifiers only in a server's PUBLISH
 * (one per matching subscription). */
static bool may_repeat(uint32_t id, const char *allowed)
{
    return id == MQTT_P_USER || (id == MQTT_P_SUBSCRIPTION_ID && allowed == PROPS_SERVER_PUBLISH);
}

/* Every property absent. */
static void props_init(struct mqtt_props *p)
{
    memset(p, 0, sizeof(*p));
    p->payload_format = -1;
    p->request_problem_info = -1;
    p->max_qos = -1;
    p->retain_available = -1;
}

struct prop_value {
    uint32_t num;
    struct mqtt_bin bin;
};

static enum mqtt_err read_prop_value(struct rd *r, enum prop_kind kind, struct prop_value *v)
{
    uint8_t b;
    uint16_t s;
    struct mqtt_str str, str2;
    switch (kind) {
    case P_BYTE:
        if (!rd_u8(r, &b)) return MQTT_E_MALFORMED;
        v->num = b;
        return MQTT_OK;
    case P_U16:
        if (!rd_u16(r, &s)) return MQTT_E_MALFORMED;
        v->num = s;
        return MQTT_OK;
    case P_U32:
        return rd_u32(r, &v->num) ? MQTT_OK : MQTT_E_MALFORMED;
    case P_VARINT:
        return rd_varint(r, &v->num) ? MQTT_OK : MQTT_E_MALFORMED;
    case P_STR:
        if (rd_str(r, &str) != MQTT_OK) return MQTT_E_MALFORMED;
        v->bin.p = (const uint8_t *)str.p;
        v->bin.len = str.len;
        return MQTT_OK;
    case P_BIN:
        return rd_bin(r, &v->bin) ? MQTT_OK : MQTT_E_MALFORMED;
    case P_PAIR:
        if (rd_str(r, &str) != MQTT_OK || rd_str(r, &str2) != MQTT_OK)
            return MQTT_E_MALFORMED;
        return MQTT_OK;
    default:
        return MQTT_E_MALFORMED;
    }
}

static enum mqtt_err store_prop(uint8_t id, const struct prop_value *v, struct mqtt_props *p)
{
    struct mqtt_str s = {(const char *)v->bin.p, v->bin.len};
    switch (id) {
    case 0x01:
        if (v->num > 1) return MQTT_E_PROTOCOL;
        p->payload_format = (int)v->num; break;
    case 0x02: p->has_message_expiry = true; p->message_expiry = v->num; break;
    case 0x03: p->has_content_type = true; p->content_type = s; break;
    case 0x08: p->has_response_topic = true; p->response_topic = s; break;
    case 0x09: p->has_correlation = true; p->correlation = v->bin; break;
    case 0x0B:
        if (v->num == 0) return MQTT_E_PROTOCOL;
        if (!p->subscription_id) p->subscription_id = v->num;
        break;
    case 0x12: p->has_assigned_client_id = true; p->assigned_client_id = s; break;
    case 0x13: p->has_server_keep_alive = true; p->server_keep_alive = (uint16_t)v->num; break;
    case 0x24:
        if (v->num > 1) return MQTT_E_PROTOCOL;
        p->max_qos = (int)v->num; break;
    case 0x25:
        if (v->num > 1) return MQTT_E_PROTOCOL;
        p->retain_available = (int)v->num; break;
    case 0x28: case 0x29: case 0x2A:
        if (v->num > 1) return MQTT_E_PROTOCOL;
        break;
    case 0x11: p->has_session_expiry = true; p->session_expiry = v->num; break;
    case 0x15: p->has_auth_method = true; p->auth_method = s; break;
    case 0x17:
        if (v->num > 1) return MQTT_E_PROTOCOL;
        p->request_problem_info = (int)v->num; break;
    case 0x19:
        if (v->num > 1) return MQTT_E_PROTOCOL;
        break;
    case 0x18: p->will_delay = v->num; break;
    case 0x1F: p->has_reason_string = true; p->reason_string = s; break;
    case 0x21:
        if (v->num == 0) return MQTT_E_PROTOCOL;
        p->has_receive_max = true; p->receive_max = (uint16_t)v->num; break;
    case 0x22: p->has_topic_alias_max = true; p->topic_alias_max = (uint16_t)v->num; break;
    case 0x23: p->has_topic_alias = true; p->topic_alias = (uint16_t)v->num; break;
    case 0x26: p->user_count++; break;
    case 0x27:
        if (v->num == 0) return MQTT_E_PROTOCOL;
        p->has_max_packet = true; p->max_packet = v->num; break;
    default: break;
    }
    return MQTT_OK;
}

/* Reads a property length and block, checking that each property is allowed in this
 * packet and that none but user properties repeats. */
static enum mqtt_err rd_props(struct rd *r, const char *allowed, struct mqtt_props *out)
{
    props_init(out);
    uint32_t block_len;
    if (!rd_varint(r, &block_len) || rd_left(r) < block_len)
        return MQTT_E_MALFORMED;
    struct rd pr = {r->p + r->pos, block_len, 0};
    out->block = pr.p;
    out->block_len = block_len;
    r->pos += block_len;
    uint8_t seen[64] = {0};
    while (rd_left(&pr) > 0) {
        uint32_t id;
        if (!rd_varint(&pr, &id))
            return MQTT_E_MALFORMED;
        enum prop_kind kind = id < 64 ? prop_kind((uint8_t)id) : P_NONE;
        if (kind == P_NONE)
            return MQTT_E_MALFORMED;
        if (!strchr(allowed, (int)id))
            return MQTT_E_PROTOCOL;
        if (seen[id] && !may_repeat(id, allowed))
            return MQTT_E_PROTOCOL;
        seen[id] = 1;
        struct prop_value v = {0};
        enum mqtt_err e = read_prop_value(&pr, kind, &v);
        if (e == MQTT_OK)
            e = store_prop((uint8_t)id, &v, out);
        if (e != MQTT_OK)
            return e;
    }
    return MQTT_OK;
}

bool mqtt_props_next(const struct mqtt_props *props, size_t *offset, uint8_t *id_out,
                     struct mqtt_bin *raw_out)
{
    struct rd r = {props->block, props->block_len, *offset};
    if (rd_left(&r) == 0)
        return false;
    uint32_t id;
    if (!rd_varint(&r, &id))
        return false;
    enum prop_kind kind = id < 64 ? prop_kind((uint8_t)id) : P_NONE;
    struct prop_value v;
    if (kind == P_NONE || read_prop_value(&r, kind, &v) != MQTT_OK)
        return false;
    *id_out = (uint8_t)id;
    raw_out->p = props->block + *offset;
    raw_out->len = r.pos - *offset;
    *offset = r.pos;
    return true;
}

bool mqtt_props_next_user(const struct mqtt_props *props, size_t *offset,
                          struct mqtt_str *key_out, struct mqtt_str *value_out)
{
    struct rd r = {props->block, props->block_len, *offset};
    while (rd_left(&r) > 0) {
        uint32_t id;
        if (!rd_varint(&r, &id))
            return false;
        enum prop_kind kind = id < 64 ? prop_kind((uint8_t)id) : P_NONE;
        if (kind == P_NONE)
            return false;
        if (kind == P_PAIR) {
            if (rd_str(&r, key_out) != MQTT_OK || rd_str(&r, value_out) != MQTT_OK)
                return false;
            *offset = r.pos;
            return true;
        }
        struct prop_value v;
        if (read_prop_value(&r, kind, &v) != MQTT_OK)
            return false;
    }
    *offset = r.pos;
    return false;
}

/* ---------------------------------------------------------------- CONNECT */

static enum mqtt_err connect_header(struct rd *r, struct mqtt_connect *c, uint8_t *flags)
{
    struct mqtt_bin name;
    uint8_t level;
    if (!rd_bin(r, &name) || !rd_u8(r, &level))
        return MQTT_E_MALFORMED;
    if (name.len == 6 && memcmp(name.p, "MQIsdp", 6) == 0)
        return MQTT_E_VERSION;
    if (name.len != 4 || memcmp(name.p, "MQTT", 4) != 0)
        return MQTT_E_PROTOCOL;
    if (level != MQTT_V311 && level != MQTT_V5)
        return MQTT_E_VERSION;
    c->version = level;
    if (!rd_u8(r, flags) || !rd_u16(r, &c->keep_alive))
        return MQTT_E_MALFORMED;
    if (*flags & 0x01)
        return MQTT_E_MALFORMED;
    c->clean_start = (*flags & 0x02) != 0;
    c->has_will = (*flags & 0x04) != 0;
    c->will_qos = (*flags >> 3) & 0x03;
    c->will_retain = (*flags & 0x20) != 0;
    c->has_password = (*flags & 0x40) != 0;
    c->has_username = (*flags & 0x80) != 0;
    if (!c->has_will && (c->will_qos || c->will_retain))
        return MQTT_E_MALFORMED;
    if (c->will_qos == 3)
        return MQTT_E_MALFORMED;
    if (c->version == MQTT_V311 && c->has_password && !c->has_username)
        return MQTT_E_MALFORMED;
    return MQTT_OK;
}

static enum mqtt_err connect_will(struct rd *r, struct mqtt_connect *c)
{
    enum mqtt_err e;
    if (c->version == MQTT_V5 && (e = rd_props(r, PROPS_WILL, &c->will_props)) != MQTT_OK)
        return e;
    if ((e = rd_str(r, &c->will_topic)) != MQTT_OK)
        return e;
    if (!rd_bin(r, &c->will_payload))
        return MQTT_E_MALFORMED;
    return MQTT_OK;
}

enum mqtt_err mqtt_parse_connect(const struct mqtt_frame *f, struct mqtt_connect *out)
{
    memset(out, 0, sizeof(*out));
    props_init(&out->props);
    props_init(&out->will_props);
    if (f->type != MQTT_CONNECT || f->flags != 0)
        return MQTT_E_MALFORMED;
    struct rd r = {f->body, f->body_len, 0};
    uint8_t flags;
    enum mqtt_err e = connect_header(&r, out, &flags);
    if (e != MQTT_OK)
        return e;
    if (out->version == MQTT_V5 && (e = rd_props(&r, PROPS_CONNECT, &out->props)) != MQTT_OK)
        return e;
    if ((e = rd_str(&r, &out->client_id)) != MQTT_OK)
        return e;
    if (out->has_will && (e = connect_will(&r, out)) != MQTT_OK)
        return e;
    if (out->has_username && (e = rd_str(&r, &out->username)) != MQTT_OK)
        return e;
    if (out->has_password && !rd_bin(&r, &out->password))
        return MQTT_E_MALFORMED;
    return rd_left(&r) == 0 ? MQTT_OK : MQTT_E_MALFORMED;
}

/* ---------------------------------------------------------------- PUBLISH */

static enum mqtt_err parse_publish(const struct mqtt_frame *f, int version,
                                   const char *allowed, struct mqtt_publish *out)
{
    memset(out, 0, sizeof(*out));
    props_init(&out->props);
    out->dup = (f->flags & 0x08) != 0;
    out->qos = (f->flags >> 1) & 0x03;
    out->retain = (f->flags & 0x01) != 0;
    if (out->qos == 3)
        return MQTT_E_MALFORMED;
    if (out->qos == 0 && out->dup)
        return MQTT_E_MALFORMED;
    struct rd r = {f->body, f->body_len, 0};
    enum mqtt_err e = rd_str(&r, &out->topic);
    if (e != MQTT_OK)
        return e;
    if (out->qos > 0) {
        if (!rd_u16(&r, &out->packet_id))
            return MQTT_E_MALFORMED;
        if (out->packet_id == 0)
            return MQTT_E_MALFORMED;
    }
    if (version == MQTT_V5 && (e = rd_props(&r, allowed, &out->props)) != MQTT_OK)
        return e;
    out->payload.p = r.p + r.pos;
    out->payload.len = rd_left(&r);
    return MQTT_OK;
}

enum mqtt_err mqtt_parse_publish(const struct mqtt_frame *f, int version,
                                 struct mqtt_publish *out)
{
    return parse_publish(f, version, PROPS_PUBLISH, out);
}

enum mqtt_err mqtt_parse_server_publish(const struct mqtt_frame *f, int version,
                                        struct mqtt_publish *out)
{
    return parse_publish(f, version, PROPS_SERVER_PUBLISH, out);
}

/* ---------------------------------------------------------------- SUBSCRIBE / UNSUBSCRIBE */

static enum mqtt_err sub_entry(struct rd *r, int version, bool with_options)
{
    struct mqtt_str filter;
    enum mqtt_err e = rd_str(r, &filter);
    if (e != MQTT_OK)
        return e;
    if (!with_options)
        return MQTT_OK;
    uint8_t opts;
    if (!rd_u8(r, &opts))
        return MQTT_E_MALFORMED;
    if ((opts & 0x03) == 3)
        return MQTT_E_MALFORMED;
    if (version == MQTT_V311 && (opts & 0xFC))
        return MQTT_E_MALFORMED;
    if (version == MQTT_V5 && ((opts & 0xC0) || ((opts >> 4) & 0x03) == 3))
        return MQTT_E_MALFORMED;
    return MQTT_OK;
}

static enum mqtt_err parse_sub_list(const struct mqtt_frame *f, int version, bool with_options,
                                    const char *allowed, struct mqtt_sub_list *out)
{
    memset(out, 0, sizeof(*out));
    props_init(&out->props);
    out->with_options = with_options;
    if (f->flags != 0x02)
        return MQTT_E_MALFORMED;
    struct rd r = {f->body, f->body_len, 0};
    if (!rd_u16(&r, &out->packet_id) || out->packet_id == 0)
        return MQTT_E_MALFORMED;
    enum mqtt_err e;
    if (version == MQTT_V5 && (e = rd_props(&r, allowed, &out->props)) != MQTT_OK)
        return e;
    out->entries = r.p + r.pos;
    out->entries_len = rd_left(&r);
    while (rd_left(&r) > 0) {
        if ((e = sub_entry(&r, version, with_options)) != MQTT_OK)
            return e;
        out->count++;
    }
    return out->count > 0 ? MQTT_OK : MQTT_E_PROTOCOL;
}

enum mqtt_err mqtt_parse_subscribe(const struct mqtt_frame *f, int version,
                                   struct mqtt_sub_list *out)
{
    return parse_sub_list(f, version, true, PROPS_SUBSCRIBE, out);
}

enum mqtt_err mqtt_parse_unsubscribe(const struct mqtt_frame *f, int version,
                                     struct mqtt_sub_list *out)
{
    return parse_sub_list(f, version, false, PROPS_UNSUBSCRIBE, out);
}

bool mqtt_sub_next(const struct mqtt_sub_list *list, size_t *offset,
                   struct mqtt_str *filter_out, uint8_t *options_out)
{
    struct rd r = {list->entries, list->entries_len, *offset};
    if (rd_left(&r) == 0 || rd_str(&r, filter_out) != MQTT_OK)
        return false;
    *options_out = 0;
    if (list->with_options && !rd_u8(&r, options_out))
        return false;
    *offset = r.pos;
    return true;
}

/* ---------------------------------------------------------------- PUBACK, DISCONNECT, PINGREQ */

enum mqtt_err mqtt_parse_ack(const struct mqtt_frame *f, int version, struct mqtt_ack *out)
{
    memset(out, 0, sizeof(*out));
    props_init(&out->props);
    uint8_t want_flags = f->type == MQTT_PUBREL ? 0x02 : 0x00;
    if (f->flags != want_flags)
        return MQTT_E_MALFORMED;
    struct rd r = {f->body, f->body_len, 0};
    if (!rd_u16(&r, &out->packet_id) || out->packet_id == 0)
        return MQTT_E_MALFORMED;
    if (version == MQTT_V311)
        return rd_left(&r) == 0 ? MQTT_OK : MQTT_E_MALFORMED;
    if (rd_left(&r) == 0)
        return MQTT_OK;
    if (!rd_u8(&r, &out->reason))
        return MQTT_E_MALFORMED;
    if (rd_left(&r) == 0)
        return MQTT_OK;
    enum mqtt_err e = rd_props(&r, PROPS_ACK, &out->props);
    if (e != MQTT_OK)
        return e;
    return rd_left(&r) == 0 ? MQTT_OK : MQTT_E_MALFORMED;
}

enum mqtt_err mqtt_parse_disconnect(const struct mqtt_frame *f, int version,
                                    struct mqtt_disconnect *out)
{
    memset(out, 0, sizeof(*out));
    props_init(&out->props);
    if (f->flags != 0)
        return MQTT_E_MALFORMED;
    struct rd r = {f->body, f->body_len, 0};
    if (version == MQTT_V311)
        return f->body_len == 0 ? MQTT_OK : MQTT_E_MALFORMED;
    if (rd_left(&r) == 0)
        return MQTT_OK;
    if (!rd_u8(&r, &out->reason))
        return MQTT_E_MALFORMED;
    if (rd_left(&r) == 0)
        return MQTT_OK;
    enum mqtt_err e = rd_props(&r, PROPS_DISCONNECT, &out->props);
    if (e != MQTT_OK)
        return e;
    return rd_left(&r) == 0 ? MQTT_OK : MQTT_E_MALFORMED;
}

enum mqtt_err mqtt_parse_empty(const struct mqtt_frame *f)
{
    return f->flags == 0 && f->body_len == 0 ? MQTT_OK : MQTT_E_MALFORMED;
}

/* ---------------------------------------------------------------- CONNACK, SUBACK, UNSUBACK */

enum mqtt_err mqtt_parse_connack(const struct mqtt_frame *f, int version,
                                 struct mqtt_connack *out)
{
    memset(out, 0, sizeof(*out));
    props_init(&out->props);
    if (f->flags != 0)
        return MQTT_E_MALFORMED;
    struct rd r = {f->body, f->body_len, 0};
    uint8_t ack_flags;
    if (!rd_u8(&r, &ack_flags) || !rd_u8(&r, &out->reason) || (ack_flags & 0xFE))
        return MQTT_E_MALFORMED;
    out->session_present = (ack_flags & 1) != 0;
    if (version == MQTT_V311)
        return rd_left(&r) == 0 ? MQTT_OK : MQTT_E_MALFORMED;
    enum mqtt_err e = rd_props(&r, PROPS_CONNACK, &out->props);
    if (e != MQTT_OK)
        return e;
    return rd_left(&r) == 0 ? MQTT_OK : MQTT_E_MALFORMED;
}

/* The 3.1.1 SUBACK return codes: granted QoS 0-2 or failure. */
static bool suback_v311_code(uint8_t c)
{
    return c <= 2 || c == 0x80;
}

static enum mqtt_err parse_ack_list(const struct mqtt_frame *f, int version, bool sub,
                                    struct mqtt_suback *out)
{
    memset(out, 0, sizeof(*out));
    props_init(&out->props);
    if (f->flags != 0)
        return MQTT_E_MALFORMED;
    struct rd r = {f->body, f->body_len, 0};
    if (!rd_u16(&r, &out->packet_id) || out->packet_id == 0)
        return MQTT_E_MALFORMED;
    if (version == MQTT_V5) {
        enum mqtt_err e = rd_props(&r, PROPS_SUBACK, &out->props);
        if (e != MQTT_OK)
            return e;
    }
    out->reasons = r.p + r.pos;
    out->count = rd_left(&r);
    if (version == MQTT_V311 && !sub)
        return out->count == 0 ? MQTT_OK : MQTT_E_MALFORMED;
    if (out->count == 0)
        return MQTT_E_PROTOCOL;
    for (size_t i = 0; version == MQTT_V311 && i < out->count; i++)
        if (!suback_v311_code(out->reasons[i]))
            return MQTT_E_PROTOCOL;
    return MQTT_OK;
}

enum mqtt_err mqtt_parse_suback(const struct mqtt_frame *f, int version,
                                struct mqtt_suback *out)
{
    return parse_ack_list(f, version, true, out);
}

enum mqtt_err mqtt_parse_unsuback(const struct mqtt_frame *f, int version,
                                  struct mqtt_suback *out)
{
    return parse_ack_list(f, version, false, out);
}
