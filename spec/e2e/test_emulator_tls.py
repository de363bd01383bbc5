"""The data-plane API over HTTPS (--http-tls-cert/--http-tls-key): boto3 and the AWS CLI
verify the emulator's certificate; plain HTTP and garbage on the TLS port are refused
without harm."""

import os
import socket
import subprocess
import tempfile

import pytest


@pytest.fixture(scope="module")
def tls_emulator():
    from conftest import Emulator
    with tempfile.TemporaryDirectory(prefix="iotlua-tls-") as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        emu = Emulator(["--http-tls-cert", cert, "--http-tls-key", key])
        emu.ca_bundle = cert
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
