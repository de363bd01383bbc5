/*
 * mqtt_topic.c — topic validation, AWS limits and wildcard matching (see mqtt_topic.h).
 */
#include <string.h>

#include "mqtt_topic.h"

bool mqtt_topic_name_valid(const char *topic, size_t len)
{
    if (len == 0)
        return false;
    return memchr(topic, '+', len) == NULL && memchr(topic, '#', len) == NULL;
}

bool mqtt_topic_filter_valid(const char *filter, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = filter[i];
        if (c != '+' && c != '#')
            continue;
        bool starts_level = i == 0 || filter[i - 1] == '/';
        bool ends_level = i + 1 == len || filter[i + 1] == '/';
        if (!starts_level || !ends_level)
            return false;
        if (c == '#' && i + 1 != len)
            return false;
    }
    return true;
}

/* Length of a `$aws/rules/<name>/` prefix, 0 when there is none. */
static size_t rules_prefix_len(const char *topic, size_t len)
{
    static const char prefix[] = "$aws/rules/";
    size_t n = sizeof(prefix) - 1;
    if (len <= n || memcmp(topic, prefix, n) != 0)
        return 0;
    const char *slash = memchr(topic + n, '/', len - n);
    return slash ? (size_t)(slash - topic) + 1 : 0;
}

bool mqtt_topic_within_aws_limits(const char *topic, size_t len)
{
    if (len > TOPIC_AWS_MAX_BYTES)
        return false;
    size_t slashes = 0;
    for (size_t i = rules_prefix_len(topic, len); i < len; i++)
        slashes += topic[i] == '/';
    return slashes <= TOPIC_AWS_MAX_SLASHES;
}

/* Length of the level starting at s (up to '/' or end). */
static size_t level_len(const char *s, size_t left)
{
    const char *slash = memchr(s, '/', left);
    return slash ? (size_t)(slash - s) : left;
}

bool mqtt_topic_matches(const char *filter, size_t flen, const char *topic, size_t tlen)
{
    if (tlen > 0 && topic[0] == '$' && flen > 0 && (filter[0] == '+' || filter[0] == '#'))
        return false;
    size_t f = 0, t = 0;
    for (;;) {
        size_t fl = level_len(filter + f, flen - f);
        if (fl == 1 && filter[f] == '#')
            return true;    /* matches the parent level too: "a/#" matches "a" */
        if (t > tlen)
            return false;
        size_t tl = level_len(topic + t, tlen - t);
        if (!(fl == 1 && filter[f] == '+') && (fl != tl || memcmp(filter + f, topic + t, fl)))
            return false;
        bool f_end = f + fl >= flen, t_end = t + tl >= tlen;
        if (f_end && t_end)
            return true;
        if (t_end) {
            /* topic done; only a trailing "/#" in the filter still matches */
            return f + fl + 2 == flen && filter[f + fl + 1] == '#';
        }
        if (f_end)
            return false;
        f += fl + 1;
        t += tl + 1;
    }
}

int mqtt_topic_split_shared(const char *filter, size_t len, const char **group_out,
                       size_t *group_len_out, const char **rest_out, size_t *rest_len_out)
{
    static const char prefix[] = "$share/";
    size_t n = sizeof(prefix) - 1;
    if (len < n || memcmp(filter, prefix, n) != 0)
        return 0;
    const char *group = filter + n;
    const char *slash = memchr(group, '/', len - n);
    if (!slash || slash == group)
        return -1;
    size_t group_len = (size_t)(slash - group);
    if (memchr(group, '+', group_len) || memchr(group, '#', group_len))
        return -1;
    const char *rest = slash + 1;
    size_t rest_len = len - (size_t)(rest - filter);
    if (rest_len == 0)
        return -1;
    *group_out = group;
    *group_len_out = group_len;
    *rest_out = rest;
    *rest_len_out = rest_len;
    return 1;
}
