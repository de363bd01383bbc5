/*
 * deadline.c — the host's hard stop after the run's deadline (deadline.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "deadline.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECONDS (366.0 * 24 * 3600)

int host_seconds_parse(const char *text, double *seconds_out)
{
    char *end = NULL;
    errno = 0;
    double s = text && *text ? strtod(text, &end) : NAN;
    if (errno != 0 || !end || *end != '\0' || !(s > 0) || s > MAX_SECONDS)
        return -1;
    *seconds_out = s;
    return 0;
}

/* Built before the alarm is armed: the handler only writes it (async-signal-safe). */
static char stop_message[160];
static size_t stop_message_len;

static void hard_stop(int sig)
{
    (void)sig;
    ssize_t n = write(STDERR_FILENO, stop_message, stop_message_len);
    (void)n;
    _exit(HOST_DEADLINE_EXIT);
}

int host_hard_stop_arm(double deadline_s, double grace_s)
{
    int len = snprintf(stop_message, sizeof stop_message,
                       "iotlua: the script had not ended %g s after its deadline of %g s "
                       "(--deadline-grace): stopped\n", grace_s, deadline_s);
    stop_message_len = len > 0 && (size_t)len < sizeof stop_message ? (size_t)len : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hard_stop;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return -1;
    double total = deadline_s + grace_s;
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)total;
    it.it_value.tv_usec = (suseconds_t)((total - (double)it.it_value.tv_sec) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
        it.it_value.tv_usec = 1;
    return setitimer(ITIMER_REAL, &it, NULL);
}
