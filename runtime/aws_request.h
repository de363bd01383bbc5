/*
 * aws_request.h — one signed request to any AWS service (iotlua.aws_request), run as a
 * call of an iot_client (client_raw.h): signed for every attempt with the client's
 * resolved credentials by the service's path rules (sigv4_service_flags: S3's names
 * sign the path as given with X-Amz-Content-Sha256, every other service normalises it),
 * retried, timed and ended as the client's data-plane calls are.
 *
 * The request is sent as given: the URL's path and query exactly as written (never
 * decoded or normalised on the wire), the caller's headers, the body. Added: Host (from
 * the URL), the SigV4 headers, Content-Length, User-Agent.
 *
 * The outcome is the call's IOT_EV_CALL event. Its result's op is named
 * AWS_REQUEST_OPERATION and has no output members: any 2xx answer is a success with
 * status, headers and body as they came (JSON, XML or anything else, not parsed). Any
 * other answer is an error whose code and message aws_parse_error reads from the body;
 * transport failures, timeouts and credentials errors are as for the data-plane calls
 * (client.h).
 */
#ifndef IOTLUA_AWS_REQUEST_H
#define IOTLUA_AWS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "sigv4.h"

#define AWS_REQUEST_OPERATION "AwsRequest"

struct aws_request {
    const char *service;                /* signing name: "s3", "sts", "iotdata", ... */
    const char *method;                 /* upper-case letters: "GET", "PUT", "POST", ... */
    const char *url;                    /* http(s)://host[:port][/path][?query], no fragment */
    const char *region;                 /* signing region; NULL: the client's */
    const struct sigv4_header *headers; /* the caller's headers (names as sent) */
    size_t nheaders;
    const char *body;                   /* NULL: no body; else body_len bytes */
    size_t body_len;
    long timeout_ms;                    /* > 0: the call's whole budget (iot_call_opts),
                                           instead of the run's deadline; 0: none */
};

/*
 * Checks r and starts it as a call of client (the strings are copied). Returns 0 with
 * *id_out, or -1 with a message in msg naming the field at fault, e.g. "field 'url'
 * must start with http:// or https://" or "field 'headers': Authorization is added by
 * the signer" (misuse: nothing was sent; no header value and no secret is ever quoted).
 * Headers refused: Host, Authorization, X-Amz-Date, X-Amz-Security-Token,
 * Content-Length, Transfer-Encoding; a name that is not an HTTP token; a value holding
 * CR, LF or NUL. An X-Amz-Content-Sha256 header ("UNSIGNED-PAYLOAD" or 64 hex digits) is
 * signed as the payload's hash instead of the body's, and sent.
 */
int aws_request_start(struct iot_client *client, const struct aws_request *r, void *user,
                      uint64_t *id_out, char *msg, size_t msglen);

/*
 * A non-2xx answer of any AWS protocol → err->code, message and status; err->request_id
 * too when it is "" and an XML body names one (<RequestId>, EC2's <RequestID>). Code:
 * the x-amzn-ErrorType header (text before the first ':'), else for an XML body (its
 * first non-blank byte '<') the <Code> of its first <Error> element (the query
 * protocol's <ErrorResponse><Error>, S3's <Error>, EC2's <Response><Errors><Error>),
 * else the JSON body's __type, code or Code (text after the last '#'). Message: <Error>'s
 * <Message>, or JSON's message or Message; "HTTP 404 Not Found" when there is none. With
 * no code at all: "UnknownError", as iot_parse_service_error says it (status, text and a
 * printable snippet of the body).
 */
void aws_parse_error(long status, const char *error_type_header, const char *body,
                     size_t body_len, struct iot_error *err);

#endif
