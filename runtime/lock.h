/*
 * lock.h — an exclusive lock on a file for the life of a run (flock(2)), so that two runs
 * of one runbook never overlap: the kernel releases it when the process ends, however it
 * ends, so a crash leaves no stale lock behind. The file keeps the holder's pid, for the
 * message another run gets.
 */
#ifndef IOTLUA_LOCK_H
#define IOTLUA_LOCK_H

#include <stddef.h>
#include <sys/types.h>

#define LOCK_ERROR_LEN 512

/* Takes the lock on path (the file is created if missing). Returns the descriptor
 * holding it (>= 0); -1 when another process holds it (*holder_out its pid when the file
 * says, else 0) or -2 on any other failure, with a message in err naming the path. */
int lock_take(const char *path, pid_t *holder_out, char err[LOCK_ERROR_LEN]);
/* Releases a lock lock_take gave (the file stays). Safe with -1. */
void lock_release(int fd);

#endif
