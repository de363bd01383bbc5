/*
 * test_shadow_doc.c — the emulator's Device Shadow document rules (emulator/shadow/):
 * merge, null deletes, arrays, delta, metadata, versions, the 48-hour version memory,
 * the errors and limits, and named-shadow listing, driven through emulator/shadow.h
 * with an injected clock.
 *
 * The documents are the examples of the AWS IoT Developer Guide, cited per case
 * (awsdocs/aws-iot-docs, developerguide/): device-shadow-document.md ("Example
 * Document", "Empty Sections", "Arrays"), device-shadow-data-flow.md ("Updating a
 * shadow", "Optimistic locking", "Deleting a property", "Deleting a shadow"), and the
 * error table of device-shadow-error-messages.html.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"
#include "shadow.h"
#include "shadow_doc.h"

/* ---------------------------------------------------------------- the clock and the listener */

static int64_t now_ms = 1700000000000LL;

static int64_t test_clock(void *arg)
{
    (void)arg;
    return now_ms;
}

struct heard {
    int updates, deletes;
    char delta[4096];          /* "" when the last update had none */
    char documents[8192];
    char accepted[4096];
};

static void listen(void *arg, const struct shadow_event *ev)
{
    struct heard *h = arg;
    if (ev->change == SHADOW_DELETED) {
        h->deletes++;
        snprintf(h->accepted, sizeof h->accepted, "%s", buf_cstr(ev->accepted));
        return;
    }
    h->updates++;
    snprintf(h->accepted, sizeof h->accepted, "%s", buf_cstr(ev->accepted));
    snprintf(h->delta, sizeof h->delta, "%s", ev->delta ? buf_cstr(ev->delta) : "");
    snprintf(h->documents, sizeof h->documents, "%s", buf_cstr(ev->documents));
}

/* ---------------------------------------------------------------- JSON checks */

static struct json_value *parse(const char *text)
{
    struct json_value *v = NULL;
    if (json_parse(text, strlen(text), NULL, &v, NULL) != 0) {
        fprintf(stderr, "  not JSON: %s\n", text);
        return NULL;
    }
    return v;
}

/* The value at a dotted path ("state.desired.color"), or NULL. */
static const struct json_value *at(const struct json_value *v, const char *path)
{
    char part[128];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, path);
        v = json_get(v, part);
        path += n + (path[n] == '.');
    }
    return v;
}

/* The member at path of document doc is the JSON want ("absent" when it must not be). */
#define CHECK_AT(doc, path, want) check_at(__FILE__, __LINE__, doc, path, want)
static void check_at(const char *file, int line, const char *doc, const char *path,
                     const char *want)
{
    struct json_value *d = parse(doc);
    const struct json_value *got = d ? at(d, path) : NULL;
    bool ok;
    if (strcmp(want, "absent") == 0) {
        ok = d && !got;
    } else {
        struct json_value *w = parse(want);
        ok = got && w && sdoc_value_equal(got, w);
        json_free(w);
    }
    check_count_++;
    if (!ok) {
        check_fail_(file, line);
        fprintf(stderr, "%s: want %s in %s\n", path, want, doc);
    }
    json_free(d);
}

/* ---------------------------------------------------------------- helpers */

static struct shadow_store *store;
static struct heard heard;
static struct shadow_reply reply;

static int update(const char *thing, const char *name, const char *doc)
{
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    return shadow_update(store, thing, name, doc, strlen(doc), &reply);
}

static int get(const char *thing, const char *name)
{
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    return shadow_get(store, thing, name, NULL, &reply);
}

static const char *body(void)
{
    return buf_cstr(&reply.body);
}

static void fresh(void)
{
    shadow_store_free(store);
    store = shadow_store_new(test_clock, NULL);
    CHECK_REQUIRE(store != NULL);
    memset(&heard, 0, sizeof heard);
    shadow_store_set_listener(store, listen, &heard);
}

/* ---------------------------------------------------------------- the cases */

/* device-shadow-document.md, "Example Document": desired color and sequence, reported
 * color; the get has the delta, per-field metadata, the version. */
static void test_example_document(void)
{
    fresh();
    CHECK_INT_EQ(update("lamp", NULL,
                        "{\"state\":{\"desired\":{\"color\":\"RED\",\"sequence\":[\"RED\","
                        "\"GREEN\",\"BLUE\"]},\"reported\":{\"color\":\"GREEN\"}},"
                        "\"clientToken\":\"UniqueClientToken\"}"), 200);
    CHECK_AT(body(), "clientToken", "\"UniqueClientToken\"");
    CHECK_AT(body(), "version", "1");
    CHECK_AT(body(), "timestamp", "1700000000");
    CHECK_AT(body(), "metadata.desired.sequence", "{\"timestamp\":1700000000}");
    CHECK_INT_EQ(get("lamp", NULL), 200);
    CHECK_AT(body(), "state.desired.sequence", "[\"RED\",\"GREEN\",\"BLUE\"]");
    CHECK_AT(body(), "state.reported", "{\"color\":\"GREEN\"}");
    CHECK_AT(body(), "state.delta", "{\"color\":\"RED\",\"sequence\":[\"RED\",\"GREEN\",\"BLUE\"]}");
    CHECK_AT(body(), "metadata.desired.color.timestamp", "1700000000");
    CHECK_AT(body(), "metadata.reported.color.timestamp", "1700000000");
    CHECK_AT(body(), "version", "1");
    CHECK_AT(heard.delta, "state", "{\"color\":\"RED\",\"sequence\":[\"RED\",\"GREEN\",\"BLUE\"]}");
    CHECK_AT(heard.delta, "metadata.color.timestamp", "1700000000");
    CHECK_AT(heard.delta, "version", "1");
    CHECK_AT(heard.delta, "clientToken", "\"UniqueClientToken\"");
}

/* device-shadow-document.md, "Empty Sections": "desired": null removes the section; a
 * shadow may hold neither section ({} state). */
static void test_empty_sections(void)
{
    fresh();
    update("lamp", NULL, "{\"state\":{\"desired\":{\"color\":\"RED\"}}}");
    CHECK_INT_EQ(update("lamp", NULL,
                        "{\"state\":{\"reported\":{\"color\":\"red\"},\"desired\":null}}"), 200);
    CHECK_AT(body(), "state.desired", "null");
    CHECK_INT_EQ(get("lamp", NULL), 200);
    CHECK_AT(body(), "state.desired", "absent");
    CHECK_AT(body(), "metadata.desired", "absent");
    CHECK_AT(body(), "state.delta", "absent");
    CHECK_AT(body(), "state.reported.color", "\"red\"");
    update("lamp", NULL, "{\"state\":{\"reported\":null}}");
    CHECK_INT_EQ(get("lamp", NULL), 200);
    CHECK_AT(body(), "state", "{}");
    CHECK_AT(body(), "metadata", "{}");
    CHECK_AT(body(), "version", "3");
}

/* device-shadow-document.md, "Arrays": an update replaces the whole array; an array
 * holding null is rejected. */
static void test_arrays(void)
{
    fresh();
    update("lamp", NULL, "{\"state\":{\"desired\":{\"colors\":[\"RED\",\"GREEN\",\"BLUE\"]}}}");
    CHECK_INT_EQ(update("lamp", NULL, "{\"state\":{\"desired\":{\"colors\":[\"RED\"]}}}"), 200);
    get("lamp", NULL);
    CHECK_AT(body(), "state.desired", "{\"colors\":[\"RED\"]}");
    CHECK_INT_EQ(update("lamp", NULL,
                        "{\"state\":{\"desired\":{\"colors\":[null,\"RED\",\"GREEN\"]}}}"), 400);
    get("lamp", NULL);
    CHECK_AT(body(), "state.desired", "{\"colors\":[\"RED\"]}");
    CHECK_AT(body(), "version", "2");
}

/* device-shadow-data-flow.md, "Optimistic locking": at version 10 an update carrying
 * version 9 is 409 "Version conflict" (clientToken echoed), one carrying 10 gives 11. */
static void test_optimistic_locking(void)
{
    fresh();
    for (int i = 0; i < 10; i++)
        update("lamp", NULL, "{\"state\":{\"desired\":{\"colors\":[\"RED\",\"GREEN\",\"BLUE\"]}}}");
    CHECK_INT_EQ(update("lamp", NULL,
                        "{\"state\":{\"desired\":{\"colors\":[\"BLUE\"]}},\"version\":9,"
                        "\"clientToken\":\"426bfd96-e720-46d3-95cd-014e3ef12bb6\"}"), 409);
    CHECK_STR_EQ(reply.code, "ConflictException");
    CHECK_AT(body(), "code", "409");
    CHECK_AT(body(), "message", "\"Version conflict\"");
    CHECK_AT(body(), "clientToken", "\"426bfd96-e720-46d3-95cd-014e3ef12bb6\"");
    CHECK_INT_EQ(update("lamp", NULL,
                        "{\"state\":{\"desired\":{\"colors\":[\"BLUE\"]}},\"version\":10}"), 200);
    CHECK_AT(body(), "version", "11");
    get("lamp", NULL);
    CHECK_AT(body(), "state.desired.colors", "[\"BLUE\"]");
    CHECK_AT(body(), "version", "11");
}

/* device-shadow-data-flow.md, "Updating a shadow": the client's desired
 * {"color":{"r":10},"engine":"ON"} gives a delta; the device reporting the same clears
 * it; "Deleting a property": "engine": null removes it. Nested objects merge. */
static void test_request_and_report(void)
{
    fresh();
    update("car", NULL, "{\"state\":{\"desired\":{\"color\":{\"r\":10},\"engine\":\"ON\"}}}");
    CHECK_AT(heard.delta, "state", "{\"color\":{\"r\":10},\"engine\":\"ON\"}");
    CHECK_AT(heard.delta, "metadata.color.r.timestamp", "1700000000");
    now_ms += 5000;
    update("car", NULL, "{\"state\":{\"reported\":{\"color\":{\"r\":10},\"engine\":\"ON\"}}}");
    CHECK_STR_EQ(heard.delta, "");
    CHECK_INT_EQ(heard.updates, 2);
    get("car", NULL);
    CHECK_AT(body(), "state.delta", "absent");
    CHECK_AT(body(), "metadata.reported.color.r.timestamp", "1700000005");
    CHECK_AT(body(), "metadata.desired.color.r.timestamp", "1700000000");
    /* nested merge: g joins r; untouched fields keep their timestamps */
    now_ms += 5000;
    update("car", NULL, "{\"state\":{\"desired\":{\"color\":{\"g\":3}}}}");
    get("car", NULL);
    CHECK_AT(body(), "state.desired.color", "{\"r\":10,\"g\":3}");
    CHECK_AT(body(), "state.delta", "{\"color\":{\"g\":3}}");
    CHECK_AT(body(), "metadata.desired.color", "{\"r\":{\"timestamp\":1700000000},"
                                              "\"g\":{\"timestamp\":1700000010}}");
    CHECK_AT(heard.delta, "state", "{\"color\":{\"g\":3}}");
    update("car", NULL, "{\"state\":{\"desired\":{\"engine\":null,\"color\":{\"g\":null}}}}");
    CHECK_AT(body(), "state.desired", "{\"engine\":null,\"color\":{\"g\":null}}");
    CHECK_AT(body(), "metadata.desired.engine.timestamp", "1700000010");
    get("car", NULL);
    CHECK_AT(body(), "state.desired", "{\"color\":{\"r\":10}}");
    CHECK_AT(body(), "metadata.desired", "{\"color\":{\"r\":{\"timestamp\":1700000000}}}");
    /* an object left empty goes: desired then holds nothing and is removed */
    update("car", NULL, "{\"state\":{\"desired\":{\"color\":{\"r\":null}}}}");
    get("car", NULL);
    CHECK_AT(body(), "state.desired", "absent");
    CHECK_AT(body(), "version", "5");
}

/* The delta rules (reference notes, from device-shadow-mqtt.md): only desired fields
 * that reported lacks or holds differently; fields only in reported are not in it; a
 * field deleted from reported while still desired comes back into it; numbers compare
 * by value. */
static void test_delta_rules(void)
{
    fresh();
    update("t", NULL, "{\"state\":{\"desired\":{\"lights\":{\"color\":\"RED\"},\"engine\":\"ON\","
                      "\"level\":1},\"reported\":{\"lights\":{\"color\":\"GREEN\"},"
                      "\"engine\":\"ON\",\"level\":1.0,\"extra\":true}}}");
    get("t", NULL);
    CHECK_AT(body(), "state.delta", "{\"lights\":{\"color\":\"RED\"}}");
    update("t", NULL, "{\"state\":{\"reported\":{\"engine\":null}}}");
    CHECK_AT(heard.delta, "state", "{\"lights\":{\"color\":\"RED\"},\"engine\":\"ON\"}");
    /* the documents carry previous and current with their versions */
    CHECK_AT(heard.documents, "previous.version", "1");
    CHECK_AT(heard.documents, "current.version", "2");
    CHECK_AT(heard.documents, "previous.state.reported.engine", "\"ON\"");
    CHECK_AT(heard.documents, "current.state.reported.engine", "absent");
    CHECK_AT(heard.documents, "timestamp", "1700000010");
}

/* device-shadow-error-messages.html: each 400 message; 413 over 8 KB; nesting of six
 * levels inside desired passes, seven does not; unknown shadows are 404. */
static void test_errors(void)
{
    static const struct {
        const char *doc;
        int status;
        const char *message;
    } cases[] = {
        {"{\"state\":", 400, "Invalid JSON"},
        {"[1]", 400, "Invalid JSON"},
        {"{\"desired\":{\"a\":1}}", 400, "Missing required node: state"},
        {"{\"state\":[1]}", 400, "State node must be an object"},
        {"{\"state\":{\"desired\":5}}", 400, "Desired node must be an object"},
        {"{\"state\":{\"reported\":\"x\"}}", 400, "Reported node must be an object"},
        {"{\"state\":{\"delta\":{}}}", 400, "State contains an invalid node"},
        {"{\"state\":{\"desired\\u0000x\":{}}}", 400, "State contains an invalid node"},
        {"{\"state\":{},\"version\":\"3\"}", 400, "Invalid version"},
        {"{\"state\":{},\"version\":-1}", 400, "Invalid version"},
        {"{\"state\":{},\"clientToken\":\"0123456789012345678901234567890123456789012345678901234567890123X\"}",
         400, "Invalid clientToken"},
        {"{\"state\":{\"desired\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":1}}}}}}}}}", 400,
         "JSON contains too many levels of nesting; maximum is 6"},
        {"{\"state\":{\"desired\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":1}}}}}}}}", 200, NULL},
        {"{\"state\":{}}", 200, NULL},
        {"{\"state\":null}", 200, NULL},
    };
    fresh();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT_EQ(update("t", NULL, cases[i].doc), cases[i].status);
        if (cases[i].message) {
            CHECK_STR_EQ(reply.message, cases[i].message);
            CHECK_STR_EQ(reply.code, "InvalidRequestException");
            CHECK_AT(body(), "code", "400");
        }
    }
    /* deep JSON beyond the parser's own bound still gets the nesting message */
    char deep[400] = "{\"state\":{\"desired\":";
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    CHECK_INT_EQ(update("t", NULL, deep), 400);
    CHECK_STR_EQ(reply.message, "JSON contains too many levels of nesting; maximum is 6");
    /* a version on a shadow that does not exist must be 0 */
    CHECK_INT_EQ(update("new", NULL, "{\"state\":{},\"version\":3}"), 409);
    /* 8 KB of state: in two halves, the second crossing the limit is refused whole */
    char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char doc[6100];
    snprintf(doc, sizeof doc, "{\"state\":{\"desired\":{\"a\":\"%s\"}}}", big);
    CHECK_INT_EQ(update("big", NULL, doc), 200);
    snprintf(doc, sizeof doc, "{\"state\":{\"reported\":{\"a\":\"%s\"}}}", big);
    CHECK_INT_EQ(update("big", NULL, doc), 413);
    CHECK_STR_EQ(reply.code, "RequestEntityTooLargeException");
    CHECK_STR_EQ(reply.message, "The payload exceeds the maximum size allowed");
    get("big", NULL);
    CHECK_AT(body(), "state.reported", "absent");
    CHECK_AT(body(), "version", "1");
    CHECK_INT_EQ(get("nobody", NULL), 404);
    CHECK_STR_EQ(reply.code, "ResourceNotFoundException");
    CHECK_STR_EQ(reply.message, "No shadow exists with name: 'nobody'");
    CHECK_INT_EQ(get("big", "config"), 404);
    CHECK_STR_EQ(reply.message, "No shadow exists with name: 'config'");
}

/* device-shadow-data-flow.md, "Deleting a shadow": get is 404 after; re-created within
 * 48 hours the version continues, after 48 hours it starts again. */
static void test_delete_and_versions(void)
{
    fresh();
    for (int i = 0; i < 3; i++)
        update("t", "cfg", "{\"state\":{\"reported\":{\"n\":1}}}");
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    CHECK_INT_EQ(shadow_delete(store, "t", "cfg", NULL, &reply), 200);
    CHECK_AT(body(), "version", "3");
    CHECK_INT_EQ(heard.deletes, 1);
    CHECK_INT_EQ(get("t", "cfg"), 404);
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    CHECK_INT_EQ(shadow_delete(store, "t", "cfg", NULL, &reply), 404);
    now_ms += SHADOW_VERSION_KEEP_MS - 1000;
    CHECK_INT_EQ(update("t", "cfg", "{\"state\":{\"reported\":{\"n\":2}}}"), 200);
    CHECK_AT(body(), "version", "4");
    get("t", "cfg");
    CHECK_AT(body(), "state.reported", "{\"n\":2}");
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    shadow_delete(store, "t", "cfg", NULL, &reply);
    now_ms += SHADOW_VERSION_KEEP_MS + 1000;
    CHECK_INT_EQ(update("t", "cfg", "{\"state\":{\"reported\":{\"n\":3}},\"version\":0}"), 200);
    CHECK_AT(body(), "version", "1");
}

/* ListNamedShadowsForThing: names in order, pages, tokens, deleted and classic shadows
 * left out, other things' shadows not mixed in. */
static void test_list_named(void)
{
    fresh();
    const char *names[] = {"delta", "alpha", "echo", "charlie", "bravo"};
    for (size_t i = 0; i < 5; i++)
        update("t", names[i], "{\"state\":{\"reported\":{\"on\":true}}}");
    update("t", NULL, "{\"state\":{\"reported\":{\"on\":true}}}");
    update("u", "aaa", "{\"state\":{\"reported\":{\"on\":true}}}");
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    shadow_delete(store, "t", "charlie", NULL, &reply);
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    CHECK_INT_EQ(shadow_list_named(store, "t", NULL, 2, &reply), 200);
    CHECK_AT(body(), "results", "[\"alpha\",\"bravo\"]");
    struct json_value *v = parse(body());
    char token[200] = "";
    const char *t = v ? json_get_string(v, "nextToken") : NULL;
    CHECK(t != NULL);
    snprintf(token, sizeof token, "%s", t ? t : "");
    json_free(v);
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    CHECK_INT_EQ(shadow_list_named(store, "t", token, 2, &reply), 200);
    CHECK_AT(body(), "results", "[\"delta\",\"echo\"]");
    CHECK_AT(body(), "nextToken", "absent");
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    CHECK_INT_EQ(shadow_list_named(store, "t", "zz", 2, &reply), 400);
    shadow_reply_free(&reply);
    shadow_reply_init(&reply);
    CHECK_INT_EQ(shadow_list_named(store, "nothing", NULL, 10, &reply), 200);
    CHECK_AT(body(), "results", "[]");
}

static void test_names(void)
{
    CHECK(shadow_thing_name_problem("my-thing:1_a", 12) == NULL);
    CHECK(shadow_thing_name_problem("a/b", 3) != NULL);
    CHECK(shadow_thing_name_problem("", 0) != NULL);
    CHECK(shadow_name_problem("$cfg", 4) == NULL);
    CHECK(shadow_thing_name_problem("$cfg", 4) != NULL);
    char long_name[70];
    memset(long_name, 'a', 65);
    CHECK(shadow_name_problem(long_name, 65) != NULL);
    CHECK(shadow_name_problem(long_name, 64) == NULL);
}

int main(void)
{
    shadow_reply_init(&reply);
    test_example_document();
    test_empty_sections();
    test_arrays();
    test_optimistic_locking();
    test_request_and_report();
    test_delta_rules();
    test_errors();
    test_delete_and_versions();
    test_list_named();
    test_names();
    shadow_reply_free(&reply);
    shadow_store_free(store);
    return CHECK_SUMMARY();
}
