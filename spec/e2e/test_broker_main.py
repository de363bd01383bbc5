"""iotlua-emulator's command line and process life: --help/--version, bad options (one
line, exit 2), the ready file, SIGINT/SIGTERM with connections open, and TLS: MQTT over
TLS with mutual authentication (the client certificate's CN becomes thingName) and HTTPS.
"""

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD_DIR, Emulator

BINARY = os.path.join(BUILD_DIR, "iotlua-emulator")


def _run(*args, timeout=10):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def test_help_documents_every_option():
    p = _run("--help")
    assert p.returncode == 0
    for opt in ("--host", "--http-port", "--mqtt-port", "--ready-file", "--credentials",
                "--no-verify-signatures", "--http-tls-cert", "--http-tls-key",
                "--mqtt-tls-cert", "--mqtt-tls-key", "--mqtt-tls-ca", "--log-level",
                "--help", "--version"):
        assert opt in p.stdout, opt
    assert p.stderr == ""


def test_version():
    p = _run("--version")
    assert p.returncode == 0
    assert re.fullmatch(r"iotlua-emulator \d+\.\d+\.\d+\n", p.stdout)


@pytest.mark.parametrize("args,names", [
    (["--bogus"], "--bogus"),
    (["--http-port", "70000"], "--http-port"),
    (["--mqtt-port", "x"], "--mqtt-port"),
    (["--credentials", "no-colon"], "--credentials"),
    (["--credentials", ":s3cr3t-value"], "--credentials"),
    (["--http-tls-cert", "/nonexistent.pem"], "--http-tls-key"),
    (["--mqtt-tls-ca", "/nonexistent.pem"], "--mqtt-tls-ca"),
    (["--log-level", "loud"], "--log-level"),
    (["stray-argument"], "stray-argument"),
    (["--host", "localhost"], "--host"),
    (["--mqtt-port"], "--mqtt-port"),
])
def test_bad_options_one_line_and_exit_2(args, names):
    p = _run(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert names in lines[0]
    assert "s3cr3t-value" not in p.stderr       # secrets never echoed


def test_ready_file_is_written_atomically_with_both_urls():
    emu = Emulator()
    try:
        with open(emu.ready_file) as f:
            text = f.read()
        ready = json.loads(text)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", ready["http"])
        assert re.fullmatch(r"mqtt://127\.0\.0\.1:\d+", ready["mqtt"])
        assert sorted(os.listdir(os.path.dirname(emu.ready_file))) == ["ready.json",
                                                                        "stderr.log"]
    finally:
        emu.stop()


def test_sigint_with_open_connections_exits_zero():
    emu = Emulator()
    devs = [emu.device(f"sigint-{i}", protocol=4 if i % 2 else 5) for i in range(5)]
    devs[0].subscribe("sigint/#")
    emu.proc.send_signal(signal.SIGINT)
    assert emu.proc.wait(timeout=10) == 0
    for d in devs:
        d._wait(lambda d=d: d.disconnected is not None, 5, "disconnect")
    emu.stop()


def test_port_in_use_fails_cleanly():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        p = _run("--mqtt-port", str(port), "--http-port", "0")
        assert p.returncode == 1
        assert f"{port}" in p.stderr
    finally:
        holder.close()


# ---- TLS

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki():
    """A CA, a server certificate for 127.0.0.1 and a client certificate CN=thing-42."""
    d = tempfile.TemporaryDirectory(prefix="iotlua-pki-")
    cwd = d.name
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "2", "-subj", "/CN=iotlua test CA", cwd=cwd)
    with open(os.path.join(cwd, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "thing-42")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", f"/CN={cn}", cwd=cwd)
        ext = ["-extfile", "server.ext"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", *ext, cwd=cwd)
    yield {n: os.path.join(cwd, n) for n in ("ca.crt", "server.crt", "server.key",
                                              "client.crt", "client.key")}
    d.cleanup()


def test_mqtt_mutual_tls_gives_thing_name(start_emulator, pki):
    emu = start_emulator("--mqtt-tls-cert", pki["server.crt"], "--mqtt-tls-key",
                         pki["server.key"], "--mqtt-tls-ca", pki["ca.crt"])
    with open(emu.ready_file) as f:
        assert json.load(f)["mqtt"].startswith("mqtts://127.0.0.1:")
    dev = emu.device("tls-dev", connect=False)
    dev.client.tls_set(ca_certs=pki["ca.crt"], certfile=pki["client.crt"],
                       keyfile=pki["client.key"])
    dev.connect()
    dev.subscribe("tls/t")
    dev.publish("tls/t", b"secure", qos=1)
    assert dev.wait_message("tls/t").payload == b"secure"
    conn = emu.iot_data().get_connection(clientId="tls-dev")
    assert conn["connected"] is True and conn["thingName"] == "thing-42"
    # mosquitto_pub over mutual TLS reaches the paho subscriber
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(emu.mqtt_port), "-q", "1",
                    "--cafile", pki["ca.crt"], "--cert", pki["client.crt"], "--key",
                    pki["client.key"], "-t", "tls/t", "-m", "from-mosquitto"],
                   check=True, timeout=10)
    assert dev.wait_message("tls/t", count=2).payload == b"from-mosquitto"


def test_mqtt_tls_without_client_certificate_is_refused(start_emulator, pki):
    emu = start_emulator("--mqtt-tls-cert", pki["server.crt"], "--mqtt-tls-key",
                         pki["server.key"], "--mqtt-tls-ca", pki["ca.crt"])
    ctx = ssl.create_default_context(cafile=pki["ca.crt"])
    raw = socket.create_connection(("127.0.0.1", emu.mqtt_port), timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionError, EOFError, OSError)):
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x")
        if not s.recv(4):
            raise EOFError("closed")
    raw.close()
    # plain TCP on the TLS port is no way in either, and the broker keeps serving
    plain = socket.create_connection(("127.0.0.1", emu.mqtt_port), timeout=5)
    plain.sendall(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x")
    plain.settimeout(5)
    try:
        data = plain.recv(4)
    except (ConnectionError, socket.timeout):
        data = b""
    assert not data.startswith(b"\x20")
    plain.close()


def test_https_api_serves_over_tls(start_emulator, pki):
    emu = start_emulator("--http-tls-cert", pki["server.crt"], "--http-tls-key",
                         pki["server.key"])
    with open(emu.ready_file) as f:
        assert json.load(f)["http"].startswith("https://127.0.0.1:")
    ctx = ssl.create_default_context(cafile=pki["ca.crt"])
    with socket.create_connection(("127.0.0.1", emu.http_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /connections/nobody HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 ")


def test_tls_key_that_does_not_load_fails_start_up(pki):
    p = _run("--mqtt-tls-cert", pki["server.crt"], "--mqtt-tls-key", pki["ca.crt"])
    assert p.returncode == 1
    assert "private key" in p.stderr


def test_out_of_file_descriptors_pauses_accepting_then_recovers(tmp_path):
    """With a tiny open-file limit the broker stops accepting (no busy loop, no crash),
    keeps serving the clients it has, and accepts the waiting ones once fds free up."""
    import resource
    from broker_support import Wire

    ready = tmp_path / "ready.json"

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    proc = subprocess.Popen([BINARY, "--http-port", "0", "--mqtt-port", "0", "--ready-file",
                             str(ready)], stderr=subprocess.PIPE, preexec_fn=low_limit)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        port = int(json.loads(ready.read_text())["mqtt"].rsplit(":", 1)[1])
        accepted, waiting = [], []
        for i in range(40):
            w = Wire("127.0.0.1", port)
            w.sock.settimeout(0.3)
            w.send(b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03" + b"c%02d" % i)
            try:
                assert w.read_raw_packet() == b"\x20\x02\x00\x00"
                accepted.append(w)
            except (socket.timeout, EOFError):
                waiting.append(w)
        assert accepted and waiting, (len(accepted), len(waiting))
        accepted[0].sock.settimeout(5)
        accepted[0].send(b"\xc0\x00")
        assert accepted[0].read_raw_packet() == b"\xd0\x00"
        for w in accepted[1:]:
            w.close()
        for w in waiting[:5]:
            w.sock.settimeout(5)
            assert w.read_raw_packet() == b"\x20\x02\x00\x00"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert 1 <= err.decode().count("accept failed") < 100
