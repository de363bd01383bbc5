/*
 * http_status.h — the reason phrase of an HTTP status code, shared by the client (its
 * error messages: "HTTP 404 Not Found with an empty body") and the emulator's HTTP API
 * (the status line it sends).
 */
#ifndef IOTLUA_HTTP_STATUS_H
#define IOTLUA_HTTP_STATUS_H

/* "Not Found" for 404, ...; NULL for a code not in the table (each caller picks its own
 * default). Static storage. */
const char *http_status_text(long status);

#endif
