/*
 * aws_error.c — the error answers of any AWS protocol (aws_request.h): JSON (json and
 * rest-json: __type, code, Code; message, Message) and XML (query and rest-xml:
 * <Error><Code>, <Message>, <RequestId>), read with the runtime's JSON parser and its
 * small XML reader (xml.h). A pure function of its input; fuzzed (fuzz/fuzz_aws_error.c).
 */
#include <stdio.h>
#include <string.h>

#include "aws_request.h"
#include "buf.h"
#include "http_status.h"
#include "json.h"
#include "response.h"
#include "xml.h"

/* An XML document: its first byte that is not blank (after a UTF-8 byte order mark) is '<'. */
static int looks_like_xml(const char *body, size_t len)
{
    size_t i = len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    return i < len && body[i] == '<';
}

/* The decoded text of <tag> in xml[0..len) into dst[dstlen] (truncated): 1, or 0 when
 * absent or empty. */
static int xml_copy(const char *xml, size_t len, const char *tag, struct buf *scratch,
                    char *dst, size_t dstlen)
{
    if (xml_field(xml, len, tag, scratch) != 1 || scratch->len == 0)
        return 0;
    snprintf(dst, dstlen, "%s", buf_cstr(scratch));
    return 1;
}

static void xml_error(const char *body, size_t len, struct iot_error *err)
{
    struct buf text = BUF_INIT;
    const char *e;
    size_t n;
    if (!xml_element(body, len, "Error", &e, &n)) {
        e = body;               /* no <Error>: a <RequestId> of the document may still be */
        n = 0;
    }
    if (!err->code[0] && xml_field(e, n, "Code", &text) == 1)
        iot_clean_error_code(err->code, sizeof err->code, buf_cstr(&text), strlen(buf_cstr(&text)));
    xml_copy(e, n, "Message", &text, err->message, sizeof err->message);
    if (!err->request_id[0] &&
        !xml_copy(e, n, "RequestId", &text, err->request_id, sizeof err->request_id) &&
        !xml_copy(body, len, "RequestId", &text, err->request_id, sizeof err->request_id))
        xml_copy(body, len, "RequestID", &text, err->request_id, sizeof err->request_id);
    buf_free(&text);
}

/* The first of keys that is a string member of obj, or NULL. */
static const struct json_value *json_first_string(const struct json_value *obj,
                                                  const char *const *keys)
{
    for (; *keys; keys++) {
        const struct json_value *v = json_get(obj, *keys);
        if (v && v->type == JSON_STRING)
            return v;
    }
    return NULL;
}

static void json_error(const char *body, size_t len, struct iot_error *err)
{
    static const char *const CODE_KEYS[] = {"__type", "code", "Code", NULL};
    static const char *const MESSAGE_KEYS[] = {"message", "Message", NULL};
    struct json_value *root = NULL;
    if (len == 0 || json_parse(body, len, NULL, &root, NULL) != 0 || root->type != JSON_OBJECT) {
        json_free(root);
        return;
    }
    const struct json_value *c = json_first_string(root, CODE_KEYS);
    const struct json_value *m = json_first_string(root, MESSAGE_KEYS);
    if (!err->code[0] && c)
        iot_clean_error_code(err->code, sizeof err->code, c->u.str.ptr, c->u.str.len);
    if (m)
        snprintf(err->message, sizeof err->message, "%s", m->u.str.ptr);
    json_free(root);
}

void aws_parse_error(long status, const char *error_type_header, const char *body,
                     size_t body_len, struct iot_error *err)
{
    err->code[0] = '\0';
    err->message[0] = '\0';
    err->status = status;
    if (!body)
        body_len = 0;
    if (error_type_header && *error_type_header)
        iot_clean_error_code(err->code, sizeof err->code, error_type_header,
                             strlen(error_type_header));
    if (looks_like_xml(body, body_len))
        xml_error(body, body_len, err);
    else
        json_error(body, body_len, err);
    if (!err->code[0]) {
        iot_parse_service_error(status, NULL, body ? body : "", body_len, err);
        return;
    }
    if (!err->message[0]) {
        const char *text = http_status_text(status);
        snprintf(err->message, sizeof err->message, "HTTP %ld%s%s", status, text ? " " : "",
                 text ? text : "");
    }
}
