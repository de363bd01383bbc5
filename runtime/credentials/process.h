/*
 * process.h — credential_process: runs the profile's command and reads the credentials
 * it prints (botocore's ProcessProvider).
 *
 * The command runs through /bin/sh -c with the process environment; its stdout must be
 * the Version 1 JSON document (AccessKeyId, SecretAccessKey, SessionToken?,
 * Expiration? as RFC 3339); a non-zero exit is an error that quotes the last line of
 * its stderr. The run is bounded: 60 s, 1 MiB of output. Messages never contain the
 * output's secrets; the output buffer is wiped.
 */
#ifndef IOTLUA_CRED_PROCESS_H
#define IOTLUA_CRED_PROCESS_H

#include "provider.h"

/* Runs one credential_process command and parses its JSON into *out (its source is
 * "credential_process"). Returns 0, or -1 with err_out (*out zeroed). */
int cred_process_run(const char *command, struct cred_credentials *out,
                     char err_out[CRED_ERROR_LEN]);

/* The provider that runs command on every get (cache.c keeps its result until it is due
 * for refresh). NULL with err_out when out of memory. */
struct cred_provider *cred_process_provider_new(const char *command, const char *source,
                                                char err_out[CRED_ERROR_LEN]);

#endif
