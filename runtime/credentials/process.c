/*
 * process.c — credential_process (process.h): spawn /bin/sh -c command with stdout and
 * stderr on pipes, read both under a deadline and a size cap, parse the JSON it prints.
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "json.h"

extern char **environ;

/* ================================================================ running the command */

#define PROC_MAX_OUTPUT (1u << 20)
#define PROC_TIMEOUT_MS 60000

/* Reads the child's stdout and stderr until both close, the cap, or the deadline. */
static int drain(int out_fd, int err_fd, struct buf *out, struct buf *err)
{
    struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    struct buf *dst[2] = {out, err};
    int open_fds = 2, waited = 0;
    while (open_fds > 0) {
        int n = poll(fds, 2, 1000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0 && (waited += 1000) >= PROC_TIMEOUT_MS)
            return -2;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[4096];
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                fds[i].fd = -1;
                open_fds--;
            } else if (dst[i]->len + (size_t)got > PROC_MAX_OUTPUT ||
                       buf_append(dst[i], chunk, (size_t)got) != 0) {
                return -3;
            }
        }
    }
    return 0;
}

/* Runs /bin/sh -c command; stdout and stderr captured; *status_out from waitpid. */
static int spawn_capture(const char *command, struct buf *out, struct buf *err,
                         int *status_out, char err_out[CRED_ERROR_LEN])
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, rc = -1;
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    if (pipe(po) != 0 || pipe(pe) != 0) {
        cred_set_error(err_out, "credential_process: cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    fcntl(po[0], F_SETFD, FD_CLOEXEC);
    fcntl(pe[0], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[1]);
    posix_spawn_file_actions_addclose(&fa, pe[1]);
    int e = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    if (e != 0) {
        cred_set_error(err_out, "credential_process: cannot run /bin/sh: %s", strerror(e));
        goto fail;
    }
    int d = drain(po[0], pe[0], out, err);
    if (d != 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, status_out, 0) < 0 && errno == EINTR)
        ;
    if (d == -2)
        cred_set_error(err_out, "credential_process: no result after %d s; the process was killed",
                PROC_TIMEOUT_MS / 1000);
    else if (d == -3)
        cred_set_error(err_out, "credential_process: output larger than %u bytes", PROC_MAX_OUTPUT);
    else if (d != 0)
        cred_set_error(err_out, "credential_process: reading its output failed");
    rc = d == 0 ? 0 : -1;
fail:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    return rc;
}


/* ================================================================ its output */

/* Parses the Version 1 JSON document; messages never quote the secret values. */
static int parse_process_output(const struct buf *out, struct cred_credentials *c,
                                char err_out[CRED_ERROR_LEN])
{
    struct json_value *root = NULL;
    struct json_error je;
    time_t exp = 0;
    int rc = -1;
    if (json_parse(buf_cstr(out), out->len, NULL, &root, &je) != 0) {
        cred_set_error(err_out, "credential_process: output is not valid JSON (%s at byte %zu)",
                je.message, je.offset);
        return -1;
    }
    const struct json_value *ver = json_get(root, "Version");
    const char *akid = json_get_string(root, "AccessKeyId");
    const char *secret = json_get_string(root, "SecretAccessKey");
    const char *token = json_get_string(root, "SessionToken");
    const char *expiration = json_get_string(root, "Expiration");
    if (root->type != JSON_OBJECT)
        cred_set_error(err_out, "credential_process: output must be a JSON object");
    else if (!ver || ver->type != JSON_INT || ver->u.i != 1)
        cred_set_error(err_out, "credential_process: unsupported Version (expected the number 1)");
    else if (!akid || !*akid)
        cred_set_error(err_out, "credential_process: output has no AccessKeyId string");
    else if (!secret || !*secret)
        cred_set_error(err_out, "credential_process: output has no SecretAccessKey string");
    else if (json_get(root, "Expiration") && (!expiration || cred_parse_rfc3339(expiration, &exp)))
        cred_set_error(err_out, "credential_process: Expiration is not an RFC 3339 time");
    else if (cred_credentials_set(c, akid, secret, token, exp, "credential_process") != 0)
        cred_set_error(err_out, "out of memory");
    else
        rc = 0;
    json_free(root);
    return rc;
}

/* The last line of the process's stderr (trimmed), for error messages. */
static void stderr_tail(const struct buf *err, char *dst, size_t cap)
{
    size_t n = err->len;
    const char *s = buf_cstr(err);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    size_t start = n;
    while (start && s[start - 1] != '\n')
        start--;
    snprintf(dst, cap, "%.*s", (int)(n - start > 200 ? 200 : n - start), s + start);
}

int cred_process_run(const char *command, struct cred_credentials *out,
                     char err_out[CRED_ERROR_LEN])
{
    struct buf o = BUF_INIT, e = BUF_INIT;
    int status = 0, rc = -1;
    char tail[256];
    memset(out, 0, sizeof *out);
    if (spawn_capture(command, &o, &e, &status, err_out) != 0)
        goto fail;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        stderr_tail(&e, tail, sizeof tail);
        if (WIFEXITED(status))
            cred_set_error(err_out, "credential_process failed with exit status %d%s%s",
                    WEXITSTATUS(status), *tail ? ": " : "", tail);
        else
            cred_set_error(err_out, "credential_process was killed by signal %d",
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        goto fail;
    }
    rc = parse_process_output(&o, out, err_out);
fail:
    if (o.data)
        OPENSSL_cleanse(o.data, o.len);
    buf_free(&o);
    buf_free(&e);
    return rc;
}

/* ================================================================ the provider */

struct process_provider {
    struct cred_provider base;
    char *command;
};

static int process_get(struct cred_provider *p, time_t now, struct cred_credentials *out,
                       char err_out[CRED_ERROR_LEN])
{
    struct process_provider *pp = (struct process_provider *)p;
    if (cred_process_run(pp->command, out, err_out) != 0)
        return -1;
    if (out->expiration != 0 && out->expiration <= now) {
        cred_credentials_free(out);
        cred_set_error(err_out, "credential_process returned credentials that have already "
                       "expired (check its Expiration and the system clock)");
        return -1;
    }
    snprintf(out->source, sizeof out->source, "%s", p->source);
    return 0;
}

static void process_free(struct cred_provider *p)
{
    struct process_provider *pp = (struct process_provider *)p;
    free(pp->command);
    free(pp);
}

static const struct cred_provider_ops PROCESS_OPS = {
    .get = process_get, .refresh_start = NULL, .free = process_free,
};

struct cred_provider *cred_process_provider_new(const char *command, const char *source,
                                                char err_out[CRED_ERROR_LEN])
{
    struct process_provider *pp = calloc(1, sizeof *pp);
    if (!pp || !(pp->command = strdup(command))) {
        free(pp);
        cred_set_error(err_out, "out of memory");
        return NULL;
    }
    pp->base.ops = &PROCESS_OPS;
    snprintf(pp->base.source, sizeof pp->base.source, "%s", source);
    return &pp->base;
}
