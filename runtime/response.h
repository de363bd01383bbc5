/*
 * response.h — parsing of error responses (client.c), exposed for the unit tests.
 */
#ifndef IOTLUA_RESPONSE_H
#define IOTLUA_RESPONSE_H

#include <stddef.h>

#include "client.h"

/*
 * A non-2xx response → err->code, message, status (request_id, operation, attempts are
 * left alone). Code: x-amzn-ErrorType (text before the first ':'), else the body's
 * __type or code (text after the last '#'); message: the body's message or Message.
 * With no code: "UnknownError", the message holding the status, its text and a
 * printable snippet of the body (or saying it was empty or had no code).
 */
void iot_parse_service_error(long status, const char *error_type_header, const char *body,
                             size_t body_len, struct iot_error *err);

#endif
