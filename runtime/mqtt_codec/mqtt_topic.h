/*
 * mqtt_topic.h — MQTT topic names and filters: validity, AWS IoT limits, wildcard matching
 * and `$share/<group>/<filter>` shared subscriptions. Pure functions over byte ranges.
 */
#ifndef IOTLUA_MQTT_TOPIC_H
#define IOTLUA_MQTT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define TOPIC_AWS_MAX_BYTES 256
#define TOPIC_AWS_MAX_SLASHES 7

/* A topic name someone publishes to: non-empty, no + or #. */
bool mqtt_topic_name_valid(const char *topic, size_t len);
/* A subscription filter: + and # only as whole levels, # only last. */
bool mqtt_topic_filter_valid(const char *filter, size_t len);
/* AWS IoT: at most 256 bytes and 7 slashes, not counting a `$aws/rules/<name>/` prefix. */
bool mqtt_topic_within_aws_limits(const char *topic, size_t len);
/* Does a filter match a topic? Topics starting with `$` are not matched by a filter that
 * starts with a wildcard. */
bool mqtt_topic_matches(const char *filter, size_t filter_len, const char *topic, size_t topic_len);

/* Splits `$share/<group>/<filter>`. Returns 1 with the parts for a shared subscription,
 * 0 for an ordinary filter, -1 for a malformed `$share/` filter. */
int mqtt_topic_split_shared(const char *filter, size_t len, const char **group_out,
                       size_t *group_len_out, const char **rest_out, size_t *rest_len_out);

#endif
