"""Raw-socket HTTP tests: malformed, truncated, oversized and slow requests get an error
or a closed connection, never a crash, and the emulator keeps serving other clients
(checked after each case with a signed boto3 call). Also routing errors and keep-alive.
Every test runs over plain HTTP and over HTTPS (the same server, over OpenSSL)."""

import os
import socket
import ssl
import time

import pytest

SCHEMES = ["http", "https"]


@pytest.fixture(scope="module", params=SCHEMES)
def emulator(request):
    from conftest import emulator_for
    e = emulator_for(request.param)
    yield e
    e.stop()


def raw_exchange(emu, data, read_timeout=3.0, close_write=True):
    """Sends bytes, returns everything the emulator answers until it closes or goes quiet."""
    s = emu.raw_http()
    try:
        try:
            s.sendall(data)
            if close_write:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass                # the emulator may close before reading everything
        s.settimeout(read_timeout)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def still_serving(emu):
    r = emu.iot_data().publish(topic="alive", payload=b"1")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200


def status_of(response):
    line = response.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/1.") else None


@pytest.mark.parametrize("data", [
    b"\x00\x01\x02garbage\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST /topics/t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /topics/t HTTP/1.1\r\nBad Header Line\r\n\r\n",
    b"GET /topics/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
    b"POST /topics/t HTTP/1.1\r\nHost: x\r\n",
    b"G",
])
def test_malformed_requests_do_not_hurt_the_server(emulator, data):
    out = raw_exchange(emulator, data)
    status = status_of(out)
    assert status is None or 400 <= status < 600, out[:200]
    still_serving(emulator)


def test_huge_headers_are_refused(emulator):
    data = b"GET /connections/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n"
    out = raw_exchange(emulator, data)
    status = status_of(out)
    assert status is None or status >= 400
    still_serving(emulator)


def test_body_over_the_server_limit_is_refused(emulator):
    body = b"x" * (2 * 1024 * 1024)
    data = b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    out = raw_exchange(emulator, data)
    assert status_of(out) in (None, 413)
    still_serving(emulator)


def test_slow_partial_clients_do_not_block_others(emulator):
    socks = []
    for _ in range(50):
        s = emulator.raw_http()
        s.sendall(b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Le")
        socks.append(s)
    start = time.monotonic()
    still_serving(emulator)
    assert time.monotonic() - start < 2
    for s in socks:
        s.sendall(b"ngth: 10\r\n\r\nabc")      # still short of the body, then gone
        s.close()
    still_serving(emulator)


def test_unknown_path_and_wrong_method_get_aws_style_errors(emulator):
    cases = [("GET", "/nothing/here", 404, "UnknownOperationException"),
             ("GET", "/topics/t", 405, "MethodNotAllowedException"),
             ("POST", "/connections/c", 405, "MethodNotAllowedException"),
             ("DELETE", "/connections/c", 404, "ResourceNotFoundException"),
             ("GET", "/retainedMessage/a%2Fb", 404, "ResourceNotFoundException"),
             ("GET", "/things/t/shadow", 404, "ResourceNotFoundException"),
             ("POST", "/topics/", 400, "InvalidRequestException")]
    for method, path, status, code in cases:
        r = emulator.signed_request(method, path)
        assert (r.status, r.error_type) == (status, code), (method, path, r)
        assert r.headers["x-amzn-requestid"] and r.json["message"]
        assert r.headers["content-type"] == "application/json"


def test_keep_alive_and_pipelining(emulator):
    req = b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n"
    s = emulator.raw_http()
    try:
        s.sendall(req + req)                    # two requests in one write
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200") < 2 and time.monotonic() < deadline:
            data += s.recv(65536)
        assert data.count(b"HTTP/1.1 200") == 2
        s.sendall(req)                          # the same connection serves a third
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
    finally:
        s.close()
    ids = {emulator.signed_request("GET", "/nothing").headers["x-amzn-requestid"]
           for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("fault", ["latencyMs=300", "latencyMs=300&status=503",
                                   "latencyMs=300&dropConnection=true"])
def test_client_gone_while_its_reply_waits(scheme, fault):
    from conftest import emulator_for
    emu = emulator_for(scheme, ["--no-verify-signatures"])
    try:
        client_gone_while_its_reply_waits(emu, fault)
    finally:
        emu.stop()


def client_gone_while_its_reply_waits(emu, fault):
    status, _ = emu.control("POST", "/_emulator/faults?operation=Publish&count=3&" + fault)
    assert status == 201
    for _ in range(3):
        s = emu.raw_http()
        s.sendall(b"POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
        s.close()                       # gone before the delayed reply
    # wait until the three faults were taken and their delayed replies have fired
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        faults = emu.control("GET", "/_emulator/faults")[1]["faults"]
        status, health = emu.control("GET", "/_emulator/health")
        if not faults and health["pendingRequests"] == 0:
            break
        time.sleep(0.05)
    assert (faults, health["pendingRequests"]) == ([], 0)
    r = emu.signed_request("POST", "/topics/t", body=b"y", sign=False)
    assert r.status == 200


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_file_descriptors_pauses_accepting_then_recovers():
    import resource
    from conftest import Emulator
    emu = Emulator(["--no-verify-signatures"],
                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40)))
    socks = []
    try:
        for _ in range(60):             # more than the emulator has descriptors for
            socks.append(socket.create_connection((emu.http_host, emu.http_port), timeout=5))
        time.sleep(0.3)                 # let it hit EMFILE
        before = cpu_seconds(emu.proc.pid)
        time.sleep(1.0)
        assert cpu_seconds(emu.proc.pid) - before < 0.3   # paused, not spinning
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if emu.control("GET", "/_emulator/health", timeout=1)[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    assert emu.control("GET", "/_emulator/health")[0] == 200
    emu.stop()


def test_deep_accept_queues(emulator):
    """Both servers take a burst of connections: with a queue of 128 (libevent's default)
    a client opening 256 at once overflowed it and a dropped SYN waited 1 s for resending."""
    from conftest import expected_backlog, listen_backlog
    assert listen_backlog(emulator.http_port) == expected_backlog()
    assert listen_backlog(emulator.mqtt_port) == expected_backlog()
