/*
 * deadline.h — the host's --deadline and --deadline-grace: the hard stop after the
 * run's deadline (which the bindings keep: iotlua_deadline_start, bindings.h).
 *
 * The deadline itself is the bindings' (the engine ends the calls in flight, map stops
 * starting items, waits end); the host adds the hard stop: when the script has not ended
 * `grace` seconds after the deadline (a loop that never calls, a blocking os.execute),
 * SIGALRM writes one line on stderr and the process exits with status 124 at once.
 */
#ifndef IOTLUA_HOST_DEADLINE_H
#define IOTLUA_HOST_DEADLINE_H

#define HOST_DEADLINE_EXIT 124          /* the deadline passed, as timeout(1) reports it */
#define HOST_DEADLINE_GRACE_S 10.0      /* the default of --deadline-grace */

/* Parses a number of seconds > 0 (finite, at most a year): 0, or -1 when it is not. */
int host_seconds_parse(const char *text, double *seconds_out);

/* Arms the hard stop at deadline + grace seconds from now (0, or -1 with errno). */
int host_hard_stop_arm(double deadline_s, double grace_s);

#endif
