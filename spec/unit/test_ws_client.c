/* test_ws_client.c — the client's WebSocket upgrade (runtime/ws_client.c): the request
 * it writes (Host with and without the port, IPv6 literals in brackets, the key and the
 * mqtt subprotocol) and its reading of the server's answer (accepted, incomplete,
 * refused, a wrong Sec-WebSocket-Accept or subprotocol). The accept values come from
 * ws_accept_value, itself checked against RFC 6455's example key. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ws_client.h"

/* The Host line of the upgrade for host:port (default port default_port), in host_line. */
static void upgrade_host(const char *host, int port, int default_port, char *host_line,
                         size_t size)
{
    struct ws_client ws;
    struct buf out = BUF_INIT;
    struct iot_error err;
    CHECK_REQUIRE(ws_client_start(&ws, host, port, default_port, "/mqtt", &out, &err) == 0);
    CHECK_REQUIRE(buf_append(&out, "", 1) == 0);
    const char *line = strstr(out.data, "\r\nHost: ");
    CHECK_REQUIRE(line != NULL);
    line += 2;
    size_t n = strcspn(line, "\r");
    snprintf(host_line, size, "%.*s", (int)n, line);
    buf_free(&out);
}

static void test_host_header(void)
{
    char line[128];
    upgrade_host("127.0.0.1", 8083, 80, line, sizeof line);
    CHECK_STR_EQ(line, "Host: 127.0.0.1:8083");
    upgrade_host("example.iot.us-east-1.amazonaws.com", 443, 443, line, sizeof line);
    CHECK_STR_EQ(line, "Host: example.iot.us-east-1.amazonaws.com");
    upgrade_host("::1", 8443, 443, line, sizeof line);
    CHECK_STR_EQ(line, "Host: [::1]:8443");
    upgrade_host("2001:db8::7", 443, 443, line, sizeof line);
    CHECK_STR_EQ(line, "Host: [2001:db8::7]");
}

static void test_request_shape(void)
{
    struct ws_client ws;
    struct buf out = BUF_INIT;
    struct iot_error err;
    CHECK_REQUIRE(ws_client_start(&ws, "127.0.0.1", 80, 80, "/mqtt?X-Amz-Date=1", &out,
                                  &err) == 0);
    CHECK_REQUIRE(buf_append(&out, "", 1) == 0);
    CHECK(strncmp(out.data, "GET /mqtt?X-Amz-Date=1 HTTP/1.1\r\n", 33) == 0);
    CHECK_STR_CONTAINS(out.data, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    CHECK_STR_CONTAINS(out.data, "\r\nSec-WebSocket-Version: 13\r\n");
    CHECK_STR_CONTAINS(out.data, "\r\nSec-WebSocket-Protocol: mqtt\r\n");
    char key_line[64];
    snprintf(key_line, sizeof key_line, "\r\nSec-WebSocket-Key: %s\r\n", ws.key);
    CHECK_STR_CONTAINS(out.data, key_line);
    CHECK_INT_EQ((int)strlen(ws.key), 24);
    CHECK(out.len >= 4 && memcmp(out.data + out.len - 5, "\r\n\r\n", 4) == 0);
    buf_free(&out);
}

/* The server's answer to a fresh upgrade: status_line, then Sec-WebSocket-Accept (the
 * right one unless accept is given) and the extra header lines. ws_client_read_answer's
 * result; *used and err as it left them. */
static int answer(const char *status_line, const char *accept, const char *extra,
                  size_t *used, struct iot_error *err)
{
    struct ws_client ws;
    struct buf out = BUF_INIT;
    CHECK_REQUIRE(ws_client_start(&ws, "127.0.0.1", 80, 80, "/mqtt", &out, err) == 0);
    buf_free(&out);
    char right[29], text[1024];
    CHECK_REQUIRE(ws_accept_value(ws.key, 24, right) == 0);
    int n = snprintf(text, sizeof text, "%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s\r\n", status_line,
                     accept ? accept : right, extra);
    return ws_client_read_answer(&ws, text, (size_t)n, used, err);
}

static void test_answers(void)
{
    size_t used = 0;
    struct iot_error err;
    CHECK_INT_EQ(answer("HTTP/1.1 101 Switching Protocols", NULL,
                        "Sec-WebSocket-Protocol: mqtt\r\n", &used, &err), 1);
    CHECK(used > 0);
    CHECK_INT_EQ(answer("HTTP/1.1 101 Switching Protocols", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                        "", &used, &err), -1);
    CHECK_STR_EQ(err.code, "ProtocolError");
    CHECK_STR_CONTAINS(err.message, "Sec-WebSocket-Accept");
    CHECK_INT_EQ(answer("HTTP/1.1 101 Switching Protocols", NULL,
                        "Sec-WebSocket-Protocol: chat\r\n", &used, &err), -1);
    CHECK_STR_CONTAINS(err.message, "'chat'");
    CHECK_INT_EQ(answer("HTTP/1.1 403 Forbidden", NULL, "", &used, &err), -1);
    CHECK_STR_EQ(err.code, "NotAuthorized");
    CHECK_STR_CONTAINS(err.message, "403");

    struct ws_client ws;
    struct buf out = BUF_INIT;
    CHECK_REQUIRE(ws_client_start(&ws, "127.0.0.1", 80, 80, "/mqtt", &out, &err) == 0);
    buf_free(&out);
    const char *partial = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n";
    CHECK_INT_EQ(ws_client_read_answer(&ws, partial, strlen(partial), &used, &err), 0);
}

static void test_accept_value_of_rfc6455(void)
{
    char out[29];
    CHECK_INT_EQ(ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
    CHECK_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
    test_accept_value_of_rfc6455();
    test_host_header();
    test_request_shape();
    test_answers();
    return CHECK_SUMMARY();
}
