/*
 * operations.h — the declarative descriptions of the IoT data-plane operations.
 *
 * Every operation of the vendored service model (spec/fixtures/aws-models/iot-data/
 * 2015-05-28/service-2.json) is one `struct iot_op` in a constant table
 * (operations_table.c, generated from the model by runtime/gen_operations.py and
 * checked against the model by spec/unit/test_operations.c). Nothing else in the
 * runtime knows an operation by name: the marshaller, the validator and the response
 * parser read these descriptions, so adding an operation means adding a description.
 *
 * All data here is static and read-only; no function allocates.
 */
#ifndef IOTLUA_OPERATIONS_H
#define IOTLUA_OPERATIONS_H

#include <stddef.h>
#include <stdint.h>

enum iot_type {
    IOT_T_STRING,
    IOT_T_INTEGER,   /* 32-bit in the model; Lua integer */
    IOT_T_LONG,      /* 64-bit; Lua integer */
    IOT_T_BOOLEAN,
    IOT_T_BLOB,      /* bytes: raw in a payload, base64 inside a JSON document */
    IOT_T_TIMESTAMP, /* not used by iot-data today; epoch seconds (number) */
    IOT_T_DOUBLE,
    IOT_T_LIST,      /* elements described by `element` */
    IOT_T_STRUCTURE, /* members described by `members`/`nmembers` */
    IOT_T_MAP,       /* string keys; values described by `element` */
};

enum iot_location {
    IOT_LOC_BODY,        /* a member of the JSON document (output shapes) */
    IOT_LOC_URI,         /* {label} in the request URI, percent-encoded, not greedy */
    IOT_LOC_QUERY,       /* query string parameter */
    IOT_LOC_HEADER,      /* HTTP header */
    IOT_LOC_PAYLOAD,     /* the whole HTTP body (blob members with the payload trait) */
};

struct iot_member;

/* A shape: a type and its constraints. */
struct iot_shape {
    const char *name;               /* model shape name, e.g. "ClientId" */
    enum iot_type type;
    unsigned has_min : 1, has_max : 1;
    int64_t min, max;               /* numbers: value range; strings: length in characters */
    const char *pattern;            /* POSIX ERE from the model, or NULL */
    const char *const *enum_values; /* NULL-terminated, or NULL */
    const struct iot_shape *element;        /* LIST and MAP values */
    const struct iot_member *members;       /* STRUCTURE */
    size_t nmembers;
};

struct iot_member {
    const char *name;               /* model member name, e.g. "clientId" */
    const struct iot_shape *shape;
    enum iot_location location;
    const char *location_name;      /* query key / header name / uri label / JSON key */
    unsigned required : 1;
    unsigned jsonvalue : 1;         /* header member holding JSON text (base64 on the wire) */
};

/* How an operation is paged: the model's paginators-1.json entry, or for an operation
 * it leaves out whose input and output both carry nextToken, the same convention. */
struct iot_pagination {
    const char *input_token;        /* the request member that asks for the next page */
    const char *output_token;       /* the response member that gives it */
    const char *limit_key;          /* the page-size member, or NULL */
    const char *result_key;         /* the response list the pages hold */
};

struct iot_op {
    const char *name;               /* model name, e.g. "SendDirectMessage" */
    const char *method_name;        /* boto3 name, e.g. "send_direct_message" */
    const char *http_method;        /* "GET", "POST", "DELETE" */
    const char *request_uri;        /* template, e.g. "/connections/{clientId}/messages" */
    const struct iot_member *input; /* in model order */
    size_t ninput;
    const struct iot_member *output;/* in model order; NULL/0 when there is no output */
    size_t noutput;
    const char *const *errors;      /* NULL-terminated model error shape names */
    const struct iot_shape *input_shape;   /* the STRUCTURE shapes themselves, or NULL */
    const struct iot_shape *output_shape;
    const struct iot_pagination *pagination;   /* NULL: not paged */
};

/* The operation with that boto3 method name ("publish") or model name ("Publish"), or NULL. */
const struct iot_op *iot_op_find(const char *name);
/* Iteration: iot_op_at(i) for i < iot_op_count(); NULL past the end. Model order. */
size_t iot_op_count(void);
const struct iot_op *iot_op_at(size_t i);
/* The input member named `name` (model member name), or NULL. */
const struct iot_member *iot_op_input(const struct iot_op *op, const char *name);
/* The input member with the payload location, or NULL. */
const struct iot_member *iot_op_payload(const struct iot_op *op);
/* The output member with the payload location (raw body output, e.g. GetThingShadow), or NULL. */
const struct iot_member *iot_op_output_payload(const struct iot_op *op);

const char *iot_type_name(enum iot_type type);           /* "string", "integer", ... */
const char *iot_location_name(enum iot_location loc);    /* "uri", "querystring", ... */

/* Signing name and API version of the service the table describes. */
#define IOT_SERVICE_SIGNING_NAME "iotdata"
#define IOT_SERVICE_API_VERSION "2015-05-28"

#endif
