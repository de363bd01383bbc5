/* operations.c — look-ups over the generated operation table; see operations.h. */
#include "operations.h"

#include <string.h>

extern const struct iot_op iot_op_table[];
extern const size_t iot_op_table_len;

const struct iot_op *iot_op_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < iot_op_table_len; i++) {
        const struct iot_op *op = &iot_op_table[i];
        if (strcmp(op->method_name, name) == 0 || strcmp(op->name, name) == 0)
            return op;
    }
    return NULL;
}

size_t iot_op_count(void)
{
    return iot_op_table_len;
}

const struct iot_op *iot_op_at(size_t i)
{
    return i < iot_op_table_len ? &iot_op_table[i] : NULL;
}

const struct iot_member *iot_op_input(const struct iot_op *op, const char *name)
{
    for (size_t i = 0; i < op->ninput; i++)
        if (strcmp(op->input[i].name, name) == 0)
            return &op->input[i];
    return NULL;
}

static const struct iot_member *find_payload(const struct iot_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].location == IOT_LOC_PAYLOAD)
            return &m[i];
    return NULL;
}

const struct iot_member *iot_op_payload(const struct iot_op *op)
{
    return find_payload(op->input, op->ninput);
}

const struct iot_member *iot_op_output_payload(const struct iot_op *op)
{
    return find_payload(op->output, op->noutput);
}

const char *iot_type_name(enum iot_type type)
{
    static const char *const names[] = {"string", "integer", "long", "boolean", "blob",
                                        "timestamp", "double", "list", "structure", "map"};
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "?";
}

const char *iot_location_name(enum iot_location loc)
{
    static const char *const names[] = {"body", "uri", "querystring", "header", "payload"};
    return (unsigned)loc < sizeof names / sizeof names[0] ? names[loc] : "?";
}
