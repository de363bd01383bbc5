/* test_net_stream.c — connecting a stream to resolved addresses (runtime/net_stream.c:
 * net_stream_open_addrs): when the connect to one address is refused the next one is
 * tried (as for a name whose first address is ::1 where nobody listens), and when all
 * are refused the error says so. The addresses are made here, on 127.0.0.1: a port
 * with a listener, and one just closed. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "net_stream.h"

/* A socket bound to 127.0.0.1 on an ephemeral port (listening when listening is 1). */
static int loopback_socket(int listening, struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);   /* accept never blocks */
    CHECK_REQUIRE(fd >= 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *addr;
    CHECK_REQUIRE(bind(fd, (struct sockaddr *)addr, sizeof *addr) == 0);
    CHECK_REQUIRE(getsockname(fd, (struct sockaddr *)addr, &len) == 0);
    if (listening)
        CHECK_REQUIRE(listen(fd, 4) == 0);
    return fd;
}

static void link_addr(struct addrinfo *ai, struct sockaddr_in *sa, struct addrinfo *next)
{
    memset(ai, 0, sizeof *ai);
    ai->ai_family = AF_INET;
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_addr = (struct sockaddr *)sa;
    ai->ai_addrlen = sizeof *sa;
    ai->ai_next = next;
}

/* Drives ns until it is open or failed (at most 3 s): net_stream_progress's last answer. */
static int drive(struct net_stream *ns, struct iot_error *err)
{
    for (int i = 0; i < 300; i++) {
        struct pollfd pfd = {ns->fd, POLLOUT, 0};
        poll(&pfd, 1, 10);
        int r = net_stream_progress(ns, err);
        if (r != 0)
            return r;
    }
    return 0;
}

static void test_next_address_after_a_refusal(void)
{
    struct sockaddr_in closed, open;
    close(loopback_socket(0, &closed));         /* nobody listens there now */
    int listener = loopback_socket(1, &open);
    struct addrinfo second, first;
    link_addr(&second, &open, NULL);
    link_addr(&first, &closed, &second);
    struct dns_addrs addrs = {1, &first};       /* the test's: never freed by a release */
    struct net_stream ns;
    struct iot_error err = {0};
    CHECK_REQUIRE(net_stream_open_addrs(&ns, "127.0.0.1", &addrs, NULL, &err) == 0);
    CHECK_INT_EQ(addrs.refs, 2);                /* the stream holds it while connecting */
    int first_fd = ns.fd;
    CHECK_INT_EQ(drive(&ns, &err), 1);
    CHECK_INT_EQ(addrs.refs, 1);                /* let go once connected */
    int accepted = accept(listener, NULL, NULL);
    CHECK(accepted >= 0);                       /* the connection reached the listener */
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    CHECK_REQUIRE(getpeername(ns.fd, (struct sockaddr *)&peer, &len) == 0);
    CHECK_INT_EQ(ntohs(peer.sin_port), ntohs(open.sin_port));
    CHECK(ns.fd >= 0 && (ns.fd != first_fd || ntohs(peer.sin_port) != ntohs(closed.sin_port)));
    net_stream_close(&ns);
    close(accepted);
    close(listener);
}

static void test_every_address_refused(void)
{
    struct sockaddr_in a, b;
    close(loopback_socket(0, &a));
    close(loopback_socket(0, &b));
    struct addrinfo second, first;
    link_addr(&second, &b, NULL);
    link_addr(&first, &a, &second);
    struct dns_addrs addrs = {1, &first};
    struct net_stream ns;
    struct iot_error err = {0};
    CHECK_REQUIRE(net_stream_open_addrs(&ns, "127.0.0.1", &addrs, NULL, &err) == 0);
    CHECK_INT_EQ(drive(&ns, &err), -1);
    CHECK_STR_EQ(err.code, "NetworkError");
    CHECK_STR_CONTAINS(err.message, "refused");
    net_stream_close(&ns);
    CHECK_INT_EQ(addrs.refs, 1);                /* closing let go of it */
}

static void test_ip_literals(void)
{
    CHECK_INT_EQ(net_is_ip_literal("127.0.0.1"), 1);
    CHECK_INT_EQ(net_is_ip_literal("::1"), 1);
    CHECK_INT_EQ(net_is_ip_literal("2001:db8::7"), 1);
    CHECK_INT_EQ(net_is_ip_literal("localhost"), 0);
    CHECK_INT_EQ(net_is_ip_literal("abc.iot.us-east-1.amazonaws.com"), 0);
    CHECK_INT_EQ(net_is_ip_literal("127.0.0.1.example"), 0);
}

int main(void)
{
    test_ip_literals();
    test_next_address_after_a_refusal();
    test_every_address_refused();
    return CHECK_SUMMARY();
}
