"""The data-plane API over HTTPS (--http-tls-cert/--http-tls-key): boto3 and the AWS CLI
verify the emulator's certificate; plain HTTP and garbage on the TLS port are refused
without harm."""

import json
import os
import socket
import subprocess
import tempfile

import pytest


@pytest.fixture(scope="module")
def tls_emulator():
    from conftest import https_emulator
    emu = https_emulator()
    yield emu
    emu.stop()


def iot_data_tls(emu):
    import boto3
    from botocore.config import Config
    return boto3.session.Session(
        aws_access_key_id=emu.access_key, aws_secret_access_key=emu.secret_key,
        region_name=emu.region).client(
            "iot-data", endpoint_url=emu.http_url, verify=emu.ca_bundle,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def test_ready_file_names_https(tls_emulator):
    assert tls_emulator.http_url.startswith("https://127.0.0.1:")


def test_boto3_over_https(tls_emulator):
    dev = tls_emulator.device("tls-dev")
    dev.subscribe("tls/#")
    iot = iot_data_tls(tls_emulator)
    assert iot.publish(topic="tls/a", payload=b"secure")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert dev.wait_message("tls/a").payload == b"secure"
    c = iot.get_connection(clientId="tls-dev")
    assert c["connected"] is True


def test_aws_cli_over_https(tls_emulator):
    tls_emulator.device("tls-cli")
    out = tls_emulator.aws("iot-data", "list-subscriptions", "--client-id", "tls-cli",
                           "--ca-bundle", tls_emulator.ca_bundle).json
    assert out["subscriptions"] == []


def test_https_accept_queue_is_deep(tls_emulator):
    """The HTTPS listening socket gets the same accept queue as plain HTTP and MQTT."""
    from conftest import expected_backlog, listen_backlog
    assert listen_backlog(tls_emulator.http_port) == expected_backlog()


def test_plain_http_and_garbage_on_the_tls_port(tls_emulator):
    for data in (b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\xff\xff" + b"A" * 100):
        s = socket.create_connection((tls_emulator.http_host, tls_emulator.http_port), timeout=5)
        s.sendall(data)
        s.settimeout(5)
        try:
            reply = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            reply = b""
        s.close()
        assert not reply.startswith(b"HTTP/1.1 200")
    iot = iot_data_tls(tls_emulator)
    assert iot.publish(topic="tls/b", payload=b"1")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_mutual_tls_device_has_its_certificate_cn_as_thing_name():
    from conftest import Emulator
    with tempfile.TemporaryDirectory(prefix="iotlua-mtls-") as d:
        p = lambda name: os.path.join(d, name)

        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", p("ca.key"),
                "-out", p("ca.pem"), "-days", "1", "-subj", "/CN=iotlua test CA")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", p("srv.key"),
                "-out", p("srv.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1",
                "-CA", p("ca.pem"), "-CAkey", p("ca.key"))
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", p("dev.key"),
                "-out", p("dev.pem"), "-days", "1", "-subj", "/CN=thermostat-42",
                "-CA", p("ca.pem"), "-CAkey", p("ca.key"))
        emu = Emulator(["--mqtt-tls-cert", p("srv.pem"), "--mqtt-tls-key", p("srv.key"),
                        "--mqtt-tls-ca", p("ca.pem")])
        try:
            emu.device("mtls-dev", tls={"ca_certs": p("ca.pem"), "certfile": p("dev.pem"),
                                        "keyfile": p("dev.key")})
            c = emu.iot_data().get_connection(clientId="mtls-dev")
            assert (c["connected"], c["thingName"]) == (True, "thermostat-42")
            out = emu.aws("iot-data", "get-connection", "--client-id", "mtls-dev").json
            assert out["thingName"] == "thermostat-42"
        finally:
            emu.stop()


HEALTH = b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n"


def tls_client(emu, alpn=None, session=None):
    import ssl
    ctx = ssl.create_default_context(cafile=emu.ca_bundle)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    s = socket.create_connection((emu.http_host, emu.http_port), timeout=5)
    return ctx, ctx.wrap_socket(s, server_hostname=emu.http_host, session=session)


def health(s):
    s.sendall(HEALTH)
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data
    return data


def test_alpn_http11_is_answered_when_offered(tls_emulator):
    for offered, chosen in ((["h2", "http/1.1"], "http/1.1"), (["h2"], None), (None, None)):
        _, s = tls_client(tls_emulator, offered)
        try:
            assert s.selected_alpn_protocol() == chosen
            health(s)                   # HTTP/1.1 whatever was negotiated
        finally:
            s.close()


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_sessions_resume(tls_emulator, version):
    import ssl
    ctx = ssl.create_default_context(cafile=tls_emulator.ca_bundle)
    ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, version)
    first = ctx.wrap_socket(socket.create_connection((tls_emulator.http_host,
                                                      tls_emulator.http_port), timeout=5),
                            server_hostname=tls_emulator.http_host)
    health(first)                       # TLS 1.3 tickets arrive after the handshake
    session = first.session
    first.close()
    assert session is not None and session.has_ticket
    again = ctx.wrap_socket(socket.create_connection((tls_emulator.http_host,
                                                      tls_emulator.http_port), timeout=5),
                            server_hostname=tls_emulator.http_host, session=session)
    try:
        assert again.session_reused
        health(again)
    finally:
        again.close()


def test_garbage_instead_of_a_handshake_is_closed_others_served(tls_emulator):
    """A client sending non-TLS bytes is closed at once (not left to the idle timeout)
    while a keep-alive TLS connection opened before goes on being served."""
    _, kept = tls_client(tls_emulator)
    try:
        health(kept)
        for garbage in (b"GET / HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x00\x05hello",
                        bytes(range(256)) * 4):
            s = socket.create_connection((tls_emulator.http_host, tls_emulator.http_port),
                                         timeout=3)
            s.sendall(garbage)
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)    # a TLS alert at most, then the close
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
            s.close()
            assert not got.startswith(b"HTTP/"), got
            health(kept)
    finally:
        kept.close()


def test_clients_gone_mid_request_or_mid_handshake(tls_emulator):
    """Clients that vanish halfway (in the handshake, in a request's head or body, before
    reading the answer) leave the server serving; under ASan, nothing leaks."""
    import ssl
    for step in range(4):
        raw = socket.create_connection((tls_emulator.http_host, tls_emulator.http_port),
                                       timeout=5)
        if step == 0:
            raw.sendall(b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03")   # half a hello
            raw.close()
            continue
        ctx = ssl.create_default_context(cafile=tls_emulator.ca_bundle)
        s = ctx.wrap_socket(raw, server_hostname=tls_emulator.http_host)
        s.sendall([b"POST /topics/gone HTTP/1.1\r\nHost: x\r\nContent-Le",
                   b"POST /topics/gone HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc",
                   b"POST /topics/gone HTTP/1.1\r\nContent-Length: 1\r\n\r\nx" * 50][step - 1])
        s.close()
    _, s = tls_client(tls_emulator)
    try:
        health(s)
    finally:
        s.close()


FLEET_SCRIPT = r"""
local iotlua = require("iotlua")
local core = require("iotlua.core")
local cjson = require("cjson")
local url, dir = arg[1], arg[2]
local function connect(id, name)
  return iotlua.mqtt.connect{ url = url, client_id = id, ca = dir .. "/ca.pem",
                              cert = dir .. "/" .. name .. ".pem", key = dir .. "/" .. name .. ".key" }
end
local out = {}
local function snap(label) local s = core.stream_tls_stats(); s.label = label; out[#out + 1] = s end
-- three devices sharing a certificate, one after the other
local a = assert(connect("fleet-a", "dev"))
local b = assert(connect("fleet-b", "dev"))
local c = assert(connect("fleet-c", "dev"))
snap("three with one certificate")
local d = assert(connect("fleet-d", "other"))
snap("a fourth with another")
-- the shared certificate rotated on disk (files replaced), then a reconnect
os.rename(dir .. "/rotated.pem", dir .. "/dev.pem")
os.rename(dir .. "/rotated.key", dir .. "/dev.key")
a:disconnect()
a = assert(connect("fleet-a", "dev"))
snap("after rotation")
-- the CA file replaced by a copy of itself (a new file): a store of its own
local f = assert(io.open(dir .. "/ca.pem")); local pem = f:read("a"); f:close()
f = assert(io.open(dir .. "/ca.new", "w")); f:write(pem); f:close()
os.rename(dir .. "/ca.new", dir .. "/ca.pem")
d:disconnect()
d = assert(connect("fleet-d", "other"))
snap("after the CA file was replaced")
for _, dev in ipairs({ a, b, c, d }) do dev:disconnect() end
print(cjson.encode(out))
"""


def test_devices_share_tls_contexts_and_see_rotations(tmp_path):
    """MQTT over mutual TLS from one iotlua process: devices with one certificate share a
    TLS context (the key and CA read once) and resume its session; another certificate
    gets a context of its own, never another identity's session, but the same trust store
    (the CA read once for both); a certificate replaced
    on disk is presented from the next connect (the emulator names the thing after the
    certificate's CN)."""
    from conftest import Emulator, BUILD_DIR
    p = lambda name: str(tmp_path / name)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "1",
            "-subj", "/CN=iotlua fleet CA")
    openssl("req", "-x509", *ec, "-keyout", p("srv.key"), "-out", p("srv.pem"), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-CA", p("ca.pem"), "-CAkey", p("ca.key"))
    for name, cn in (("dev", "shared-thing"), ("other", "other-thing"), ("rotated", "rotated-thing")):
        openssl("req", "-x509", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".pem"),
                "-days", "1", "-subj", "/CN=" + cn, "-CA", p("ca.pem"), "-CAkey", p("ca.key"))
    emu = Emulator(["--mqtt-tls-cert", p("srv.pem"), "--mqtt-tls-key", p("srv.key"),
                    "--mqtt-tls-ca", p("ca.pem")])
    try:
        script = p("fleet.lua")
        with open(script, "w") as f:
            f.write(FLEET_SCRIPT)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
                   AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   AWS_ENDPOINT_URL_IOT_DATA_PLANE=emu.http_url)
        url = "mqtts://%s:%d" % (emu.mqtt_host, emu.mqtt_port)
        run = subprocess.run([os.environ.get("IOTLUA_HOST", os.path.join(BUILD_DIR, "iotlua")), script, url, str(tmp_path)],
                             env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr + emu.stderr_text()
        three, fourth, rotated, new_ca = json.loads(run.stdout.strip().splitlines()[-1])
        assert (three["contexts"], three["handshakes"]) == (1, 3)
        assert three["resumed"] == 2              # b and c resumed a's session
        assert (fourth["contexts"], fourth["handshakes"], fourth["resumed"]) == (2, 4, 2)
        assert (rotated["contexts"], rotated["handshakes"], rotated["resumed"]) == (3, 5, 2)
        # one trust store for all three contexts: the CA is read once, not per identity
        assert [s["stores"] for s in (three, fourth, rotated)] == [1, 1, 1]
        assert (new_ca["contexts"], new_ca["stores"]) == (4, 2)
        # the emulator saw each device's certificate, the rotated one after the reconnect
        # (get_connection keeps the last connection's thing name)
        things = {cid: emu.iot_data().get_connection(clientId=cid).get("thingName")
                  for cid in ("fleet-a", "fleet-b", "fleet-d")}
        assert things == {"fleet-a": "rotated-thing", "fleet-b": "shared-thing",
                          "fleet-d": "other-thing"}
    finally:
        emu.stop()
