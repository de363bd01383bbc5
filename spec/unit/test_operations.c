/* test_operations.c — the operation table (runtime/operations_table.c) against the
 * vendored service model, read with the runtime's JSON parser: every operation, member,
 * location, type and constraint must agree, recursively through the output shapes. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "json.h"
#include "operations.h"

static const struct json_value *shapes;

static const char *jstr(const struct json_value *obj, const char *key)
{
    return json_get_string(obj, key);
}

static int jint(const struct json_value *obj, const char *key, int64_t *out)
{
    const struct json_value *v = json_get(obj, key);
    if (!v || v->type != JSON_INT)
        return 0;
    *out = v->u.i;
    return 1;
}

static int jbool(const struct json_value *obj, const char *key)
{
    const struct json_value *v = json_get(obj, key);
    return v && v->type == JSON_TRUE;
}

static void check_shape(const struct iot_shape *sh, const char *name, int depth);

static void check_member(const struct iot_member *m, const char *mname,
                         const struct json_value *mj, const struct json_value *container,
                         int depth)
{
    CHECK_STR_EQ(m->name, mname);
    const char *loc = jstr(mj, "location");
    const char *payload = jstr(container, "payload");
    const char *want_loc = payload && strcmp(payload, mname) == 0 ? "payload"
                           : loc ? loc : "body";
    CHECK_STR_EQ(iot_location_name(m->location), want_loc);
    const char *ln = jstr(mj, "locationName");
    CHECK_STR_EQ(m->location_name, ln ? ln : mname);
    CHECK_INT_EQ(m->jsonvalue, jbool(mj, "jsonvalue"));
    int required = 0;
    const struct json_value *req = json_get(container, "required");
    for (size_t i = 0; req && i < req->u.arr.n; i++)
        required |= strcmp(req->u.arr.items[i].u.str.ptr, mname) == 0;
    CHECK_INT_EQ(m->required, required);
    check_shape(m->shape, jstr(mj, "shape"), depth + 1);
}

static void check_members(const struct iot_member *ms, size_t n, const char *shape_name,
                          int depth)
{
    const struct json_value *sj = json_get(shapes, shape_name);
    CHECK_REQUIRE(sj != NULL);
    const struct json_value *members = json_get(sj, "members");
    CHECK_REQUIRE(members && members->type == JSON_OBJECT);
    CHECK_INT_EQ(n, members->u.obj.n);
    for (size_t i = 0; i < n && i < members->u.obj.n; i++)
        check_member(&ms[i], members->u.obj.members[i].key, &members->u.obj.members[i].value,
                     sj, depth);
}

static void check_shape(const struct iot_shape *sh, const char *name, int depth)
{
    CHECK_REQUIRE(sh && name && depth < 10);
    const struct json_value *sj = json_get(shapes, name);
    CHECK_REQUIRE(sj != NULL);
    CHECK_STR_EQ(sh->name, name);
    CHECK_STR_EQ(iot_type_name(sh->type), jstr(sj, "type"));
    int64_t v;
    CHECK_INT_EQ(sh->has_min, jint(sj, "min", &v));
    if (sh->has_min && jint(sj, "min", &v))
        CHECK_INT_EQ(sh->min, v);
    CHECK_INT_EQ(sh->has_max, jint(sj, "max", &v));
    if (sh->has_max && jint(sj, "max", &v))
        CHECK_INT_EQ(sh->max, v);
    const char *pattern = jstr(sj, "pattern");
    if (pattern || sh->pattern)
        CHECK_STR_EQ(sh->pattern, pattern);
    const struct json_value *en = json_get(sj, "enum");
    CHECK_INT_EQ(sh->enum_values != NULL, en != NULL);
    if (en && sh->enum_values) {
        size_t k = 0;
        for (; sh->enum_values[k]; k++)
            if (k < en->u.arr.n)
                CHECK_STR_EQ(sh->enum_values[k], en->u.arr.items[k].u.str.ptr);
        CHECK_INT_EQ(k, en->u.arr.n);
    }
    const struct json_value *elem = json_get(sj, "member");
    if (!elem)
        elem = json_get(sj, "value");
    CHECK_INT_EQ(sh->element != NULL, elem != NULL);
    if (elem && sh->element)
        check_shape(sh->element, jstr(elem, "shape"), depth + 1);
    if (sh->type == IOT_T_STRUCTURE)
        check_members(sh->members, sh->nmembers, name, depth);
}

static const char *snake(const char *camel, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; camel[i] && j + 2 < outlen; i++) {
        if (isupper((unsigned char)camel[i]) && i > 0)
            out[j++] = '_';
        out[j++] = (char)tolower((unsigned char)camel[i]);
    }
    out[j] = '\0';
    return out;
}

static void check_operation(const char *name, const struct json_value *oj)
{
    const struct iot_op *op = iot_op_find(name);
    CHECK_REQUIRE(op != NULL);
    char sn[128];
    CHECK_STR_EQ(op->name, name);
    CHECK_STR_EQ(op->method_name, snake(name, sn, sizeof sn));
    CHECK(iot_op_find(op->method_name) == op);
    const struct json_value *http = json_get(oj, "http");
    CHECK_STR_EQ(op->http_method, jstr(http, "method"));
    CHECK_STR_EQ(op->request_uri, jstr(http, "requestUri"));
    const struct json_value *in = json_get(oj, "input"), *out = json_get(oj, "output");
    CHECK_INT_EQ(op->input_shape != NULL, in != NULL);
    if (in) {
        check_shape(op->input_shape, jstr(in, "shape"), 0);
        check_members(op->input, op->ninput, jstr(in, "shape"), 0);
    }
    CHECK_INT_EQ(op->output_shape != NULL, out != NULL);
    if (out) {
        check_shape(op->output_shape, jstr(out, "shape"), 0);
        check_members(op->output, op->noutput, jstr(out, "shape"), 0);
    } else {
        CHECK_INT_EQ(op->noutput, 0);
    }
    const struct json_value *errs = json_get(oj, "errors");
    size_t k = 0;
    for (; op->errors[k]; k++)
        if (errs && k < errs->u.arr.n)
            CHECK_STR_EQ(op->errors[k], jstr(&errs->u.arr.items[k], "shape"));
    CHECK_INT_EQ(k, errs ? errs->u.arr.n : 0);
}

static void test_against_model(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/aws-models/iot-data/2015-05-28/service-2.json",
             fixtures());
    size_t len = 0;
    char *text = slurp(path, &len);
    CHECK_REQUIRE(text != NULL);
    struct json_value *root = NULL;
    struct json_error err;
    CHECK_REQUIRE(json_parse(text, len, NULL, &root, &err) == 0);
    shapes = json_get(root, "shapes");
    const struct json_value *ops = json_get(root, "operations");
    CHECK_REQUIRE(shapes && ops && ops->type == JSON_OBJECT);
    CHECK_INT_EQ(iot_op_count(), ops->u.obj.n);
    for (size_t i = 0; i < ops->u.obj.n; i++) {
        check_operation(ops->u.obj.members[i].key, &ops->u.obj.members[i].value);
        CHECK_STR_EQ(iot_op_at(i)->name, ops->u.obj.members[i].key);
    }
    const struct json_value *meta = json_get(root, "metadata");
    CHECK_STR_EQ(jstr(meta, "signingName"), IOT_SERVICE_SIGNING_NAME);
    CHECK_STR_EQ(jstr(meta, "apiVersion"), IOT_SERVICE_API_VERSION);
    json_free(root);
    free(text);
}

/* Every paginator of paginators-1.json is the operation's pagination, member for member;
 * the operations it leaves out are paged only by the nextToken convention. */
static void test_pagination_against_model(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/aws-models/iot-data/2015-05-28/paginators-1.json",
             fixtures());
    size_t len = 0;
    char *text = slurp(path, &len);
    CHECK_REQUIRE(text != NULL);
    struct json_value *root = NULL;
    struct json_error err;
    CHECK_REQUIRE(json_parse(text, len, NULL, &root, &err) == 0);
    const struct json_value *pages = json_get(root, "pagination");
    CHECK_REQUIRE(pages && pages->type == JSON_OBJECT);
    size_t paged = 0;
    for (size_t i = 0; i < iot_op_count(); i++) {
        const struct iot_op *op = iot_op_at(i);
        const struct json_value *p = json_get(pages, op->name);
        paged += op->pagination != NULL;
        if (!p) {
            if (op->pagination)
                CHECK_STR_EQ(op->pagination->input_token, "nextToken");
            continue;
        }
        CHECK_REQUIRE(op->pagination != NULL);
        CHECK_STR_EQ(op->pagination->input_token, jstr(p, "input_token"));
        CHECK_STR_EQ(op->pagination->output_token, jstr(p, "output_token"));
        CHECK_STR_EQ(op->pagination->limit_key, jstr(p, "limit_key"));
        CHECK_STR_EQ(op->pagination->result_key, jstr(p, "result_key"));
        CHECK(iot_op_input(op, op->pagination->input_token) != NULL);
    }
    CHECK(paged >= pages->u.obj.n);
    /* the one the model leaves out: ListNamedShadowsForThing, by the convention */
    const struct iot_pagination *sh = iot_op_find("list_named_shadows_for_thing")->pagination;
    CHECK_REQUIRE(sh != NULL);
    CHECK_STR_EQ(sh->limit_key, "pageSize");
    CHECK_STR_EQ(sh->result_key, "results");
    CHECK(iot_op_find("publish")->pagination == NULL);
    json_free(root);
    free(text);
}

static void test_lookups(void)
{
    const struct iot_op *pub = iot_op_find("publish");
    CHECK_REQUIRE(pub != NULL);
    CHECK(iot_op_find("Publish") == pub);
    CHECK(iot_op_find("publish_message") == NULL);
    CHECK(iot_op_find("") == NULL);
    CHECK(iot_op_find(NULL) == NULL);
    CHECK(iot_op_at(iot_op_count()) == NULL);
    CHECK_STR_EQ(iot_op_payload(pub)->name, "payload");
    CHECK(iot_op_output_payload(pub) == NULL);
    CHECK_STR_EQ(iot_op_output_payload(iot_op_find("get_thing_shadow"))->name, "payload");
    CHECK(iot_op_payload(iot_op_find("get_connection")) == NULL);
    const struct iot_member *up = iot_op_input(pub, "userProperties");
    CHECK_REQUIRE(up != NULL);
    CHECK_INT_EQ(up->jsonvalue, 1);
    CHECK_STR_EQ(up->location_name, "x-amz-mqtt5-user-properties");
    CHECK(iot_op_input(pub, "Topic") == NULL);   /* member names are case-sensitive */
    /* the four operations of the contract, by their boto3 names */
    static const char *const four[] = {"publish", "send_direct_message", "list_subscriptions",
                                       "get_connection"};
    for (size_t i = 0; i < 4; i++)
        CHECK(iot_op_find(four[i]) != NULL);
    /* ListSubscriptions' output: a list of structures */
    const struct iot_op *ls = iot_op_find("list_subscriptions");
    CHECK_STR_EQ(ls->output[0].name, "subscriptions");
    CHECK_INT_EQ(ls->output[0].shape->type, IOT_T_LIST);
    CHECK_INT_EQ(ls->output[0].shape->element->type, IOT_T_STRUCTURE);
    CHECK_STR_EQ(ls->output[0].shape->element->members[0].name, "topicFilter");
}

int main(void)
{
    test_against_model();
    test_pagination_against_model();
    test_lookups();
    return CHECK_SUMMARY();
}
