/*
 * response.h — results and the parsing of responses (response.c): what a call's attempt
 * (client.c) makes of what came back, exposed also for the unit tests and fuzz targets.
 */
#ifndef IOTLUA_RESPONSE_H
#define IOTLUA_RESPONSE_H

#include <curl/curl.h>
#include <stddef.h>

#include "client.h"
#include "retry.h"

/*
 * A non-2xx response → err->code, message, status (request_id, operation, attempts are
 * left alone). Code: x-amzn-ErrorType (text before the first ':'), else the body's
 * __type or code (text after the last '#'); message: the body's message or Message.
 * With no code: "UnknownError", the message holding the status, its text and a
 * printable snippet of the body (or saying it was empty or had no code).
 */
void iot_parse_service_error(long status, const char *error_type_header, const char *body,
                             size_t body_len, struct iot_error *err);

/* An error code from s[0..n) in its "Prefix#Code:extra" forms (the text after the last
 * '#', before the first ':', blanks trimmed) into dst[dstlen], truncated. */
void iot_clean_error_code(char *dst, size_t dstlen, const char *s, size_t n);

/* The value of the header lname (lower-case) of a result, or NULL. */
const char *iot_result_header(const struct iot_result *r, const char *lname);

/*
 * A whole received response → a result, as a call's attempt builds it: the header block
 * head[0..head_len) ("HTTP/1.1 200 OK\r\nName: value\r\n..."; lines without ':' are
 * skipped, duplicate names joined with ", "), the request id from x-amzn-RequestId or
 * x-amz-request-id, then for 2xx the output tree of op (InvalidResponse when the body is
 * not the JSON object promised) and otherwise iot_parse_service_error. NULL only when
 * memory runs out; free with iot_result_free.
 */
struct iot_result *iot_response_parse(const struct iot_op *op, long status, const char *head,
                                      size_t head_len, const char *body, size_t body_len);

/* A new empty result for op (ok 0, no headers, no output), with room for a typical
 * response allocated along with it; NULL when memory runs out. */
struct iot_result *iot_result_new(const struct iot_op *op);
/* The same in the smallest allocation, for reporting that memory ran out. */
struct iot_result *iot_result_new_bare(const struct iot_op *op);

/*
 * Fill a result whose status is set from a received response, as iot_response_parse
 * does: head is the raw header block; the result takes *body over (it is left empty).
 * Returns the failure class for the retry policy: IOT_FAIL_NONE once a response was
 * parsed (even an error one), IOT_FAIL_PERMANENT when memory ran out or a 2xx body is
 * not what the model promises.
 */
struct buf;
enum iot_failure iot_response_fill(struct iot_result *result, const struct buf *head,
                                   struct buf *body);

/* How an attempt failed below HTTP (from libcurl). */
struct iot_transport_failure {
    CURLcode result;
    long os_errno;          /* CURLINFO_OS_ERRNO */
    int connected;          /* request bytes went out (so not a connect timeout) */
    int too_large;          /* the response passed the size cap */
    const char *host;       /* for messages: "host[:port]" */
    const char *errbuf;     /* libcurl's error text, may be "" */
    long timeout_ms, connect_timeout_ms;
    const char *waited_for; /* a connect timeout that ran out waiting for this, or NULL */
};

/*
 * A transport failure → err->code and message (NetworkError, DNSError, TLSError,
 * TimeoutError, InvalidResponse, InternalError, ConfigError; see client.h) and the
 * failure class the retry policy uses.
 */
enum iot_failure iot_classify_transport(const struct iot_transport_failure *x,
                                        struct iot_error *err);

#endif
