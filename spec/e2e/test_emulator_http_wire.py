"""The HTTP wire of the emulator (emulator/http/http_server.c and http_wire.c), over plain
HTTP and over HTTPS (every test runs on both): raw bytes in, exact bytes out (request ids
and dates masked), the same bytes on both schemes. The answers are the ones evhttp
gave before the emulator had its own server: header order, Date and Content-Length by
HTTP version, Connection handling, its HTML error pages. Also chunked bodies, Expect:
100-continue, requests arriving a byte at a time, pipelining and a reply that waits.
The one answer that differs from evhttp's on purpose: HEAD gets headers only (evhttp
sent the body too, without a length, which broke the connection for the next answer)."""

import re
import socket
import ssl
import time

import pytest

ID = rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
DATE = rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"


@pytest.fixture(scope="module", params=["http", "https"])
def emu(request):
    from conftest import emulator_for
    e = emulator_for(request.param, ["--no-verify-signatures"])
    yield e
    e.stop()


def mask(data):
    data = re.sub(ID, b"ID", data)
    return re.sub(DATE, b"Date: D", data)


def connect(emu):
    return emu.raw_http()


def read_until_closed(s, timeout=1.0):
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return out + b"<open>"
        except (ConnectionResetError, ssl.SSLError):
            return out + b"<reset>"
        if not chunk:
            return out + b"<closed>"
        out += chunk


def read_answers(s, n):
    """Reads n answers framed by Content-Length; returns their bytes, unmasked."""
    s.settimeout(5)
    data, answers = b"", []
    while len(answers) < n:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            m = re.search(rb"Content-Length: (\d+)", data[:end])
            total = end + 4 + (int(m.group(1)) if m else 0)
            if len(data) >= total:
                answers.append(data[:total])
                data = data[total:]
                continue
        chunk = s.recv(65536)
        assert chunk, "closed after %d answers: %r" % (len(answers), data)
        data += chunk
    assert data == b""
    return answers


def exchange(emu, data):
    """Sends data, then reads until the emulator closes (or goes quiet for 1 s)."""
    s = connect(emu)
    try:
        s.sendall(data)
        return mask(read_until_closed(s))
    finally:
        s.close()


OK_BODY = b'{"message":"OK","traceId":"ID"}'
OK_11 = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: ID\r\n"
         b"Date: D\r\nContent-Length: 65\r\n\r\n" + OK_BODY)


def page(status, reason):
    body = (b"<HTML><HEAD>\n<TITLE>%d %s</TITLE>\n</HEAD><BODY>\n<H1>%s</H1>\n"
            b"</BODY></HTML>\n" % (status, reason, reason))
    return (b"HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nConnection: close\r\nDate: D\r\n"
            b"Content-Length: %d\r\n\r\n" % (status, reason, len(body)) + body + b"<closed>")


PUBLISH = b"POST /topics/wire HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"


EXACT_CASES = [
    # keep-alive HTTP/1.1: Date and Content-Length after our headers; stays open
    (PUBLISH, OK_11 + b"<open>"),
    # bare LF line ends are read like CRLF
    (b"POST /topics/wire HTTP/1.1\nContent-Length: 1\n\nx", OK_11 + b"<open>"),
    # "Connection: close" is answered with one and the connection closes
    (b"POST /topics/wire HTTP/1.1\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
     OK_11[:-len(OK_BODY) - 2] + b"Connection: close\r\n\r\n" + OK_BODY + b"<closed>"),
    # HTTP/1.0: no Date, no length, closed after the body
    (b"POST /topics/wire HTTP/1.0\r\nContent-Length: 1\r\n\r\nx",
     b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: ID\r\n\r\n"
     + OK_BODY + b"<closed>"),
    # HTTP/1.0 keep-alive: says so, with a length, and stays open
    (b"POST /topics/wire HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx",
     b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: ID\r\n"
     b"Connection: keep-alive\r\nContent-Length: 65\r\n\r\n" + OK_BODY + b"<open>"),
    # an operation error keeps the connection
    (b"GET /topics/wire HTTP/1.1\r\n\r\n",
     b"HTTP/1.1 405 Method Not Allowed\r\nx-amzn-ErrorType: MethodNotAllowedException\r\n"
     b"Content-Type: application/json\r\nx-amzn-RequestId: ID\r\nDate: D\r\n"
     b"Content-Length: 100\r\n\r\n"
     b'{"message":"the method is not allowed for Publish","traceId":"ID"}<open>'),
    # what evhttp refused itself: its HTML pages, then a close
    (b"FOO / HTTP/1.1\r\n\r\n", page(501, b"Not Implemented")),
    (b"get / HTTP/1.1\r\n\r\n", page(501, b"Not Implemented")),
    (b"TRACE / HTTP/1.1\r\n\r\n", page(501, b"Not Implemented")),
    (b"GET / HTTP/2.0\r\n\r\n", page(400, b"Bad Request")),
    (b"GET /_emulator/health\r\n\r\n", page(400, b"Bad Request")),
    (b"\r\nGET /_emulator/health HTTP/1.1\r\n\r\n", page(400, b"Bad Request")),
    (b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n", page(400, b"Bad Request")),
    (b"POST /topics/t HTTP/1.1\r\nContent-Length: abc\r\n\r\n", page(400, b"Bad Request")),
    (b"POST /topics/t HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx",
     page(400, b"Bad Request")),
    # a corrupt chunk, or one with an extension, was "too large" for evhttp
    (b"POST /topics/t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
     page(413, b"Request Entity Too Large")),
    (b"POST /topics/t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;e=1\r\nx\r\n0\r\n\r\n",
     page(413, b"Request Entity Too Large")),
    (b"POST /topics/t HTTP/1.1\r\nExpect: foo\r\nContent-Length: 1\r\n\r\nx",
     page(417, b"Expectation Failed")),
    (b"POST /topics/t HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n",
     page(413, b"Request Entity Too Large")),
    (b"GET /x HTTP/1.1\r\nA: " + b"a" * 70000 + b"\r\n\r\n", page(400, b"Bad Request")),
]


@pytest.mark.parametrize("request_bytes, expected", EXACT_CASES)
def test_exact_answers(emu, request_bytes, expected):
    assert exchange(emu, request_bytes) == expected


def test_head_answer_has_headers_only_and_the_connection_goes_on(emu):
    s = connect(emu)
    try:
        s.sendall(b"HEAD /topics/wire HTTP/1.1\r\n\r\n" + PUBLISH)
        time.sleep(0.2)
        data = mask(s.recv(65536))
        head = (b"HTTP/1.1 405 Method Not Allowed\r\nx-amzn-ErrorType: MethodNotAllowedException"
                b"\r\nContent-Type: application/json\r\nx-amzn-RequestId: ID\r\nDate: D\r\n\r\n")
        assert data == head + OK_11
    finally:
        s.close()


def test_chunked_body_is_joined(emu):
    body = (b"3\r\nabc\r\n4 \r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n")
    data = (b"POST /topics/wire%2Fchunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + body)
    assert exchange(emu, data) == OK_11 + b"<open>"
    assert [m["payloadText"] for m in emu.published("wire/chunked")][-1] == "abcdefg"


def test_expect_100_continue_before_the_body(emu):
    s = connect(emu)
    try:
        s.sendall(b"POST /topics/wire%2Fexpect HTTP/1.1\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 5\r\n\r\n")
        s.settimeout(5)
        assert s.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        assert mask(read_answers(s, 1)[0]) == OK_11
    finally:
        s.close()
    assert emu.published("wire/expect")[-1]["payloadText"] == "hello"


def test_a_request_arriving_a_byte_at_a_time(emu):
    s = connect(emu)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        data = (b"POST /topics/wire%2Fslow?qos=1 HTTP/1.1\r\nHost: x\r\n"
                b"x-amz-mqtt5-payload-format-indicator: UTF8_DATA\r\nContent-Length: 4\r\n\r\nslow")
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.002)
        assert mask(read_answers(s, 1)[0]) == OK_11
    finally:
        s.close()
    got = emu.published("wire/slow")[-1]
    assert (got["payloadText"], got["qos"], got["payloadFormatIndicator"]) == \
        ("slow", 1, "UTF8_DATA")


def test_pipelined_requests_answered_in_order(emu):
    reqs = b"".join(b"POST /topics/wire%%2Fpipe HTTP/1.1\r\nContent-Length: %d\r\n\r\n%d"
                    % (len(b"%d" % i), i) for i in range(30))
    s = connect(emu)
    try:
        s.sendall(reqs)
        answers = read_answers(s, 30)
    finally:
        s.close()
    assert [mask(a) for a in answers] == [OK_11] * 30
    ids = [re.search(rb"x-amzn-RequestId: (\S+)", a).group(1) for a in answers]
    assert len(set(ids)) == 30
    assert [m["payloadText"] for m in emu.published("wire/pipe")][-30:] == \
        [str(i) for i in range(30)]


def test_a_large_body_over_many_reads(emu):
    payload = bytes(range(256)) * 400        # 100 KiB, not UTF-8
    s = connect(emu)
    try:
        s.sendall(b"POST /topics/wire%%2Fbig HTTP/1.1\r\nContent-Length: %d\r\n\r\n"
                  % len(payload) + payload + PUBLISH)
        assert [mask(a) for a in read_answers(s, 2)] == [OK_11, OK_11]
    finally:
        s.close()
    import base64
    assert base64.b64decode(emu.published("wire/big")[-1]["payload"]) == payload


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_waiting_reply_holds_back_the_next_pipelined_request(scheme):
    from conftest import emulator_for
    e = emulator_for(scheme, ["--no-verify-signatures"])
    try:
        waiting_reply_holds_back_the_next(e)
    finally:
        e.stop()


def waiting_reply_holds_back_the_next(e):
    status, _ = e.control("POST", "/_emulator/faults?operation=Publish&count=1&latencyMs=300")
    assert status == 201
    s = connect(e)
    try:
        start = time.monotonic()
        s.sendall(b"POST /topics/wire HTTP/1.1\r\nContent-Length: 1\r\n\r\n1" + PUBLISH)
        answers = read_answers(s, 2)
        assert time.monotonic() - start >= 0.29
    finally:
        s.close()
    assert [mask(a) for a in answers] == [OK_11, OK_11]
    ids = [re.search(rb"x-amzn-RequestId: (\S+)", a).group(1) for a in answers]
    assert ids[0] != ids[1]
    assert [m["payloadText"] for m in e.published("wire")] == ["1", "x"]


# ---------------------------------------------------------------- plain vs HTTPS

@pytest.fixture(scope="module")
def pair():
    from conftest import emulator_for
    plain = emulator_for("http", ["--no-verify-signatures"])
    tls = emulator_for("https", ["--no-verify-signatures"])
    yield plain, tls
    plain.stop()
    tls.stop()


PIPELINE = b"".join(b"POST /topics/same HTTP/1.1\r\nContent-Length: %d\r\n\r\n%d"
                    % (len(b"%d" % i), i) for i in range(20))
SAME_CASES = [case for case, _ in EXACT_CASES] + [
    PIPELINE,                                            # pipelined, answered in one write
    PIPELINE + b"GET / HTTP/2.0\r\n\r\n",               # ... then an error page
    b"HEAD /topics/same HTTP/1.1\r\n\r\n" + PUBLISH,    # headers only, then the next
    b"GET /nothing HTTP/1.1\r\n\r\nGET /_emulator/health HTTP/1.0\r\n\r\n",
    b"DELETE /connections/none HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"POST /topics/%zz HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"POST /topics/same HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
]


def test_https_answers_are_the_plain_answers_byte_for_byte(pair):
    """The same raw bytes to a plain-HTTP and an HTTPS emulator: the same answer bytes,
    dates and request ids masked (good requests, malformed ones, pipelines, error pages,
    the connection left open or closed)."""
    from concurrent.futures import ThreadPoolExecutor
    plain, tls = pair
    with ThreadPoolExecutor(8) as pool:
        got_plain = list(pool.map(lambda d: exchange(plain, d), SAME_CASES))
        got_tls = list(pool.map(lambda d: exchange(tls, d), SAME_CASES))
    for data, a, b in zip(SAME_CASES, got_plain, got_tls):
        assert b == a, data[:80]
        assert a.startswith(b"HTTP/1."), data[:80]
    assert got_plain[len(EXACT_CASES)].count(b"HTTP/1.1 200 OK") == 20
