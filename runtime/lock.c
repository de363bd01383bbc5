/*
 * lock.c — a run's exclusive file lock (lock.h).
 */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid the holder wrote into the file, or 0. */
static pid_t read_holder(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    long pid = strtol(text, NULL, 10);
    return pid > 0 ? (pid_t)pid : 0;
}

static void write_holder(int fd)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == n)
        return;         /* the pid is only for messages: failing to write it is no failure */
}

int lock_take(const char *path, pid_t *holder_out, char err[LOCK_ERROR_LEN])
{
    *holder_out = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, LOCK_ERROR_LEN, "cannot open the lock file %s: %s", path, strerror(errno));
        return -2;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        int held = errno == EWOULDBLOCK;
        if (held) {
            *holder_out = read_holder(fd);
            if (*holder_out)
                snprintf(err, LOCK_ERROR_LEN, "%s is locked by another run (pid %ld)", path,
                         (long)*holder_out);
            else
                snprintf(err, LOCK_ERROR_LEN, "%s is locked by another run", path);
        } else {
            snprintf(err, LOCK_ERROR_LEN, "cannot lock %s: %s", path, strerror(errno));
        }
        close(fd);
        return held ? -1 : -2;
    }
    write_holder(fd);
    return fd;
}

void lock_release(int fd)
{
    if (fd < 0)
        return;
    flock(fd, LOCK_UN);
    close(fd);
}
