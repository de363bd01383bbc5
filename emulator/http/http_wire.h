/*
 * http_wire.h — the request parser of the emulator's own HTTP/1.1 server
 * (http_server.c): one request read from a connection's buffer, in place. Pure: no I/O,
 * no allocation; reads untrusted bytes with explicit lengths.
 *
 * What it accepts mirrors what libevent's evhttp (the server it replaces for plain HTTP)
 * accepted: "METHOD target HTTP/1.x", header lines ending in CRLF or LF, a body framed by
 * Content-Length or chunked Transfer-Encoding (no body without either), at most
 * HW_MAX_HEAD bytes of head and HW_MAX_BODY of body.
 */
#ifndef IOTLUA_EMULATOR_HTTP_WIRE_H
#define IOTLUA_EMULATOR_HTTP_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "sigv4.h"

#define HW_MAX_HEAD (64 * 1024)         /* request line + headers */
#define HW_MAX_BODY (1024 * 1024)       /* decoded body */
#define HW_MAX_CHUNKED (2 * HW_MAX_BODY)    /* a chunked body with its framing */
#define HW_MAX_HEADERS 128

/* The methods the parser knows; any other is answered 501 Not Implemented. */
enum hw_method { HW_GET, HW_POST, HW_HEAD, HW_PUT, HW_DELETE, HW_OPTIONS, HW_PATCH };

enum hw_result {
    HW_DONE,        /* a whole request: *r is filled, r->consumed bytes used */
    HW_MORE,        /* incomplete; r->head_len is set once the head is complete */
    HW_ERROR,       /* r->error_status says what to answer (the connection then closes) */
};

struct hw_request {
    enum hw_method method;
    const char *method_name;            /* "GET", ... as sent */
    char *target;                       /* NUL-terminated, as sent */
    int minor;                          /* HTTP/1.minor */
    struct sigv4_header headers[HW_MAX_HEADERS];    /* NUL-terminated, arrival order */
    size_t name_len[HW_MAX_HEADERS];                /* strlen of each header name */
    size_t nheaders;
    char *body;                         /* body_len bytes (chunks joined); not terminated */
    size_t body_len;
    size_t consumed;                    /* bytes of the buffer this request took */
    size_t head_len;                    /* bytes of request line + headers, 0 until known */
    bool keep_alive;                    /* the connection stays open after the answer */
    bool close_requested;               /* "Connection: close" was sent */
    bool expect_continue;               /* "Expect: 100-continue" (HTTP/1.1) */
    int error_status;                   /* with HW_ERROR: 400, 413, 417 or 501 */
};

/* Parses one request at buf[0..len). HW_DONE writes NULs into the head (over the
 * separators) and joins a chunked body in place; HW_MORE and HW_ERROR leave buf as it
 * was, so the same bytes can be parsed again once more have arrived. */
enum hw_result hw_parse(char *buf, size_t len, struct hw_request *r);

/* Case-insensitive lookup in r->headers; NULL when absent. */
const char *hw_header(const struct hw_request *r, const char *name);

#endif
