"""MQTT over WebSockets on the emulator's HTTP port (/mqtt): paho-mqtt with
transport="websockets", unsigned (--ws-allow-unsigned) and with URLs presigned by
botocore's SigV4QueryAuth for iotdevicegateway (the independent check of the query
authentication); refusals with 403 before the upgrade; raw RFC 6455 frames for masking,
fragmentation, ping/pong, frames split across writes, the frame size limit and the close
handshake; WebSocket and TCP clients on one broker."""

import base64
import datetime
import http.client
import os
import socket
import struct
import threading
import time
from unittest import mock

import pytest

from conftest import Device


# --------------------------------------------------------------------------- helpers

def presign(emu, access_key=None, secret_key=None, token=None, service="iotdevicegateway",
            region="us-east-1", expires=300, when=None, port=None, scheme="http"):
    """The /mqtt path and query presigned by botocore for the emulator's host:port."""
    port = port or emu.http_port
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    creds = Credentials(access_key or emu.access_key, secret_key or emu.secret_key, token)
    req = AWSRequest(method="GET", url=f"{scheme}://{emu.http_host}:{port}/mqtt")
    auth = SigV4QueryAuth(creds, service, region, expires=expires)
    if when is not None:
        with mock.patch("botocore.auth.datetime") as fake:
            fake.datetime.utcnow.return_value = when
            auth.add_auth(req)
    else:
        auth.add_auth(req)
    return req.url.partition(f":{port}")[2]                  # "/mqtt?X-Amz-..."


class WsDevice(Device):
    """conftest's paho device, over WebSockets to the HTTP port."""

    def __init__(self, emu, client_id, path="/mqtt", port=None, ca=None):
        import paho.mqtt.client as mqtt
        super().__init__(emu, client_id, 5, True, 60, None, None, None)
        self.client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5,
                                  transport="websockets")
        self.client.ws_set_options(path=path)
        if ca:
            import ssl
            self.client.tls_set_context(ssl.create_default_context(cafile=ca))
        self.port = port or emu.http_port
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect

    def connect(self, timeout=5):
        self.client.connect(self.emu.http_host, self.port, self.keepalive, clean_start=True)
        self.client.loop_start()
        self._wait(lambda: self.connack is not None, timeout, "CONNACK")
        rc = self.connack[1]
        assert int(getattr(rc, "value", rc)) == 0, f"CONNACK refused: {rc}"
        return self


def ws_device(emu, client_id, path="/mqtt", port=None, ca=None):
    dev = WsDevice(emu, client_id, path, port, ca)
    emu._clients.append(dev)
    return dev.connect()


def upgrade_request(emu, target, protocol="mqtt", extra=None):
    """A raw upgrade request; returns (status, headers, body, socket-or-None)."""
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {"Host": f"{emu.http_host}:{emu.http_port}", "Upgrade": "websocket",
               "Connection": "Upgrade", "Sec-WebSocket-Key": key,
               "Sec-WebSocket-Version": "13"}
    if protocol:
        headers["Sec-WebSocket-Protocol"] = protocol
    headers.update(extra or {})
    conn = http.client.HTTPConnection(emu.http_host, emu.http_port, timeout=5)
    conn.request("GET", target, headers=headers)
    r = conn.getresponse()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if r.status == 101:
        return r.status, hdrs, b"", conn.sock, key
    body = r.read()
    conn.close()
    return r.status, hdrs, body, None, key


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(sock):
    """One server frame: (fin, opcode, payload); None at EOF."""
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data
    head = exact(2)
    if head is None:
        return None
    assert not head[1] & 0x80, "server frames are not masked"
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    return bool(head[0] & 0x80), head[0] & 0x0F, exact(n) if n else b""


def mqtt_connect_packet(client_id):
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c"             # MQTT 3.1.1, clean session, 60 s
    body = var + struct.pack("!H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body


# --------------------------------------------------------------------------- paho

@pytest.fixture(scope="module")
def ws_emulator():
    from conftest import Emulator
    emu = Emulator(("--ws-allow-unsigned", "--ws-port", "0"))
    yield emu
    emu.stop()


def test_unsigned_ws_client_hears_http_publish(ws_emulator):
    dev = ws_device(ws_emulator, "ws-unsigned")
    dev.subscribe("ws/a/#")
    ws_emulator.iot_data().publish(topic="ws/a/b", payload=b"over http", qos=1)
    msg = dev.wait_message("ws/a/b")
    assert (msg.payload, msg.qos) == (b"over http", 1)
    c = ws_emulator.iot_data().get_connection(clientId="ws-unsigned",
                                              includeSocketInformation=True)
    assert c["connected"] is True
    assert c["targetPort"] == ws_emulator.http_port
    assert c["sourcePort"] == dev.client.socket()._socket.getsockname()[1]   # under paho's wrapper


def test_ws_and_tcp_clients_exchange_messages(ws_emulator):
    ws = ws_device(ws_emulator, "ws-peer")
    tcp = ws_emulator.device("tcp-peer")
    ws.subscribe("x/to-ws")
    tcp.subscribe("x/to-tcp")
    big = os.urandom(100_000)                     # several TCP segments, one frame
    ws.publish("x/to-tcp", big, qos=1)
    assert tcp.wait_message("x/to-tcp").payload == big
    tcp.publish("x/to-ws", b"hello ws", qos=1)
    assert ws.wait_message("x/to-ws").payload == b"hello ws"
    tcp.publish("x/to-ws", big, qos=0)
    assert ws.wait_message("x/to-ws", count=2).payload == big


def test_signed_url_is_still_checked_with_the_flag(ws_emulator):
    status, hdrs, body, _, _ = upgrade_request(
        ws_emulator, presign(ws_emulator, secret_key="wrong"))
    assert status == 403 and hdrs["x-amzn-errortype"] == "ForbiddenException"


def test_presigned_url_accepted(emulator):
    dev = ws_device(emulator, "ws-signed", path=presign(emulator))
    dev.subscribe("signed/t")
    emulator.iot_data().publish(topic="signed/t", payload=b"ok")
    assert emulator.iot_data().get_connection(clientId="ws-signed")["connected"] is True
    assert dev.wait_message("signed/t").payload == b"ok"


def test_session_token_in_the_signature_or_added_after(emulator):
    # botocore signs the token as a query parameter; AWS IoT documents adding it after
    # signing: both are accepted (the emulator has no token service to check it against)
    status, _, _, sock, _ = upgrade_request(emulator, presign(emulator, token="tok/en+1="))
    assert status == 101
    sock.close()
    added = presign(emulator) + "&X-Amz-Security-Token=" + "tok%2Fen%2B1%3D"
    status, _, _, sock, _ = upgrade_request(emulator, added)
    assert status == 101
    sock.close()


@pytest.mark.parametrize("why,target,message", [
    ("unsigned", "/mqtt", "Missing Authentication Token"),
    ("wrong secret", dict(secret_key="not-the-secret"), "signature we calculated"),
    ("unknown key", dict(access_key="AKIDUNKNOWN"), "security token"),
    ("wrong service", dict(service="iotdata"), "iotdevicegateway"),
    ("expired", dict(expires=60, when=datetime.datetime.utcnow()
                     - datetime.timedelta(minutes=10)), "expired"),
    ("from the future", dict(when=datetime.datetime.utcnow()
                             + datetime.timedelta(minutes=10)), "not yet current"),
])
def test_refused_with_403_before_the_upgrade(emulator, why, target, message):
    path = target if isinstance(target, str) else presign(emulator, **target)
    status, hdrs, body, sock, _ = upgrade_request(emulator, path)
    assert status == 403, why
    assert hdrs["x-amzn-errortype"] == "ForbiddenException"
    assert message in body.decode(), body
    assert "upgrade" not in hdrs and sock is None


def test_paho_refused_without_signature(emulator):
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id="ws-refused", protocol=mqtt.MQTTv5, transport="websockets")
    c.ws_set_options(path="/mqtt")
    with pytest.raises(Exception):
        c.connect(emulator.http_host, emulator.http_port, 60)
    with pytest.raises(Exception):
        emulator.iot_data().get_connection(clientId="ws-refused")


# --------------------------------------------------------------------------- raw frames

def open_ws(emu):
    status, hdrs, _, sock, key = upgrade_request(emu, "/mqtt")
    assert status == 101
    import hashlib
    want = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    assert hdrs["sec-websocket-accept"] == want
    assert hdrs["sec-websocket-protocol"] == "mqtt"
    sock.settimeout(5)
    return sock


def test_handshake_errors(ws_emulator):
    for protocol, extra, status in ((None, None, 400), ("mqtt", {"Sec-WebSocket-Version": "8"}, 400),
                                    ("mqtt", {"Sec-WebSocket-Key": "short"}, 400),
                                    ("mqtt", {"Upgrade": "h2c"}, 400)):
        got, hdrs, body, _, _ = upgrade_request(ws_emulator, "/mqtt", protocol, extra)
        assert got == status and hdrs["x-amzn-errortype"] == "InvalidRequestException", body
    r = ws_emulator.signed_request("POST", "/mqtt")
    assert (r.status, r.error_type) == (405, "MethodNotAllowedException")


def test_fragmented_split_and_interleaved_ping(ws_emulator):
    sock = open_ws(ws_emulator)
    connect = mqtt_connect_packet("ws-raw")
    wire = (frame(0x2, connect[:5], fin=False) + frame(0x9, b"ping-1")
            + frame(0x0, connect[5:9], fin=False) + frame(0x0, connect[9:]))
    for i in range(0, len(wire), 3):              # every frame split across writes
        sock.sendall(wire[i:i + 3])
        time.sleep(0.002)
    got = [read_frame(sock), read_frame(sock)]
    assert (True, 0xA, b"ping-1") in got          # the pong, with the ping's payload
    connack = [f for f in got if f[1] == 0x2][0]
    assert connack[2] == b"\x20\x02\x00\x00"
    sock.sendall(frame(0x8, struct.pack("!H", 1000) + b"bye"))
    fin, op, payload = read_frame(sock)
    assert op == 0x8 and struct.unpack("!H", payload[:2])[0] == 1000
    assert read_frame(sock) is None               # then the server closes the TCP connection
    sock.close()
    c = ws_emulator.iot_data().get_connection(clientId="ws-raw")
    assert c["connected"] is False and c["disconnectReason"] == "CONNECTION_LOST"


@pytest.mark.parametrize("bad,code", [
    (frame(0x2, b"\x10\x00", mask=False), 1002),            # unmasked client frame
    (frame(0x1, b"text"), 1003),                            # text frames are not MQTT
    (frame(0x2, b"x", rsv=0x40), 1002),                     # reserved bit
    (frame(0x0, b"x"), 1002),                               # continuation of nothing
    (frame(0x9, b"p", fin=False), 1002),                    # fragmented control frame
    (bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 40) + b"mask", 1009),   # too big
])
def test_protocol_errors_close_with_a_code(ws_emulator, bad, code):
    sock = open_ws(ws_emulator)
    sock.sendall(bad)
    fin, op, payload = read_frame(sock)
    assert op == 0x8 and struct.unpack("!H", payload[:2])[0] == code
    sock.close()


def test_server_close_sends_close_frame(ws_emulator):
    sock = open_ws(ws_emulator)
    sock.sendall(frame(0x2, mqtt_connect_packet("ws-kicked")))
    assert read_frame(sock)[2] == b"\x20\x02\x00\x00"
    status, _ = ws_emulator.control("POST", "/_emulator/connections/ws-kicked/disconnect")
    assert status == 200
    fin, op, payload = read_frame(sock)
    assert op == 0x8 and struct.unpack("!H", payload[:2])[0] == 1000
    sock.sendall(frame(0x8, struct.pack("!H", 1000)))
    assert read_frame(sock) is None
    sock.close()


def test_other_clients_served_while_a_ws_client_stalls(ws_emulator):
    stalled = open_ws(ws_emulator)
    stalled.sendall(frame(0x2, mqtt_connect_packet("ws-stall"))[:7])   # half a frame
    dev = ws_device(ws_emulator, "ws-alive")
    dev.subscribe("alive/t")
    ws_emulator.iot_data().publish(topic="alive/t", payload=b"y")
    assert dev.wait_message("alive/t").payload == b"y"
    stalled.close()


def test_slow_ws_subscriber_gets_the_qos0_drop_not_unbounded_buffers(ws_emulator):
    # The broker drops QoS 0 for a client more than 4 MiB behind; over WebSockets its
    # output must wait in the broker's buffer (the socket's share is bounded) to be seen.
    sock = open_ws(ws_emulator)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(frame(0x2, mqtt_connect_packet("ws-slow")))
    assert read_frame(sock)[2] == b"\x20\x02\x00\x00"
    topic = b"slow/t"
    sub = b"\x00\x01" + struct.pack("!H", len(topic)) + topic + b"\x00"
    sock.sendall(frame(0x2, bytes([0x82, len(sub)]) + sub))
    assert read_frame(sock)[2] == b"\x90\x03\x00\x01\x00"
    pub = ws_emulator.device("slow-pub")
    count, size = 300, 64 * 1024                  # 19 MiB, QoS 0, while nobody reads
    for _ in range(count):
        pub.publish("slow/t", b"z" * size, qos=0)
    pub.publish("slow/done", b"", qos=1)          # the broker has routed them all
    stream, received = b"", 0
    sock.settimeout(2)
    try:
        while True:
            f = read_frame(sock)
            if f is None:
                break
            stream += f[2]
            while len(stream) >= 5:               # whole PUBLISH packets (4-byte length)
                n, mult, pos = 0, 1, 1
                while stream[pos] & 0x80:
                    n += (stream[pos] & 0x7F) * mult
                    mult *= 128
                    pos += 1
                n += stream[pos] * mult
                if len(stream) < pos + 1 + n:
                    break
                received += stream[0] >> 4 == 3
                stream = stream[pos + 1 + n:]
    except socket.timeout:
        pass
    sock.close()
    assert 0 < received < count, received


# --------------------------------------------------------------------------- --ws-port

def ready_ws_url(emu):
    import json
    with open(emu.ready_file) as f:
        return json.load(f)["ws"]


def test_ws_port_of_its_own(ws_emulator):
    url = ready_ws_url(ws_emulator)
    assert url.startswith("ws://127.0.0.1:") and url.endswith("/mqtt")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert port not in (ws_emulator.http_port, ws_emulator.mqtt_port)
    dev = ws_device(ws_emulator, "ws-own-port", port=port)
    dev.subscribe("own/t")
    ws_emulator.iot_data().publish(topic="own/t", payload=b"p")
    assert dev.wait_message("own/t").payload == b"p"
    s = socket.create_connection((ws_emulator.http_host, port), timeout=5)
    s.sendall(b"GET /topics/x HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 404") and b"UnknownOperationException" in answer
    s.close()


@pytest.fixture(scope="module")
def wss_emulator():
    import subprocess
    import tempfile
    from conftest import Emulator
    with tempfile.TemporaryDirectory(prefix="iotlua-wss-") as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        emu = Emulator(["--http-tls-cert", cert, "--http-tls-key", key, "--ws-port", "0"])
        emu.ca_bundle = cert
        yield emu
        emu.stop()


def test_wss_with_a_presigned_url(wss_emulator):
    import ssl
    url = ready_ws_url(wss_emulator)
    assert url.startswith("wss://127.0.0.1:")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    path = presign(wss_emulator, port=port, scheme="https")
    dev = ws_device(wss_emulator, "wss-dev", path=path, port=port, ca=wss_emulator.ca_bundle)
    dev.subscribe("wss/t")
    tcp = wss_emulator.device("wss-peer")
    tcp.publish("wss/t", b"secure ws", qos=1)
    assert dev.wait_message("wss/t").payload == b"secure ws"
    # unsigned: refused over TLS too, before the upgrade
    ctx = ssl.create_default_context(cafile=wss_emulator.ca_bundle)
    conn = http.client.HTTPSConnection(wss_emulator.http_host, port, context=ctx, timeout=5)
    conn.request("GET", "/mqtt", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                          "Sec-WebSocket-Key": base64.b64encode(b"k" * 16).decode(),
                                          "Sec-WebSocket-Version": "13",
                                          "Sec-WebSocket-Protocol": "mqtt"})
    r = conn.getresponse()
    assert r.status == 403 and r.getheader("x-amzn-ErrorType") == "ForbiddenException"
    conn.close()


def test_wss_on_the_https_port(wss_emulator):
    """The HTTPS server gives an upgraded connection, TLS session and all, to the
    WebSocket layer: a presigned wss client on the HTTPS port itself exchanges messages
    with a TCP device and hears an HTTP Publish."""
    port = wss_emulator.http_port
    path = presign(wss_emulator, port=port, scheme="https")
    dev = ws_device(wss_emulator, "wss-https", path=path, port=port, ca=wss_emulator.ca_bundle)
    dev.subscribe("wss/https/#")
    tcp = wss_emulator.device("wss-https-peer")
    tcp.publish("wss/https/a", b"over the https port", qos=1)
    assert dev.wait_message("wss/https/a").payload == b"over the https port"
    r = wss_emulator.iot_data().publish(topic="wss/https/b", payload=b"from http")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert dev.wait_message("wss/https/b").payload == b"from http"
