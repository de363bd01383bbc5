"""Fixtures that start iotlua-emulator and drive it with independent real clients.

    def test_something(emulator):              # one emulator per test module
        iot = emulator.iot_data()              # boto3 iot-data client (signed, no retries)
        dev = emulator.device("sensor-1")      # paho-mqtt device, MQTT 5, connected
        dev.subscribe("a/#")
        iot.publish(topic="a/b", payload=b"hi")
        msg = dev.wait_message("a/b")
        out = emulator.aws("iot-data", "get-connection", "--client-id", "sensor-1")
        raw = emulator.raw_device("dev-2")     # raw-socket MQTT client: acks only when told

    def test_other(fresh_emulator): ...        # a new emulator for this test only
    def test_args(start_emulator): emu = start_emulator("--credentials", "K:S")

The emulator runs as $IOTLUA_BUILD_DIR/iotlua-emulator --http-port 0 --mqtt-port 0
--ready-file F on 127.0.0.1; at teardown it gets SIGTERM and must exit with status 0.
Only /usr/bin/python3 (Debian's boto3, paho-mqtt 1.6.1) and /usr/bin/aws are used.
IOTLUA_EMULATOR_WRAPPER, when set, is prefixed to the command, e.g.
  IOTLUA_EMULATOR_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full"
so the same tests run the emulator under valgrind (any error fails the clean-exit check).
"""

import base64
import json
import os
import shlex
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from broker_support import mstr, packet, recv_packet, varint

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

SOURCE_DIR = os.environ.get(
    "IOTLUA_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("IOTLUA_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
FIXTURES = os.environ.get("IOTLUA_FIXTURES", os.path.join(SOURCE_DIR, "spec", "fixtures"))
AWS_DATA_PATH = os.environ.get("AWS_DATA_PATH", os.path.join(FIXTURES, "aws-models"))


# --------------------------------------------------------------------------- emulator

class Emulator:
    """A running iotlua-emulator and factories for the clients that talk to it."""

    def __init__(self, extra_args=(), preexec_fn=None):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="iotlua-emu-")
        self.ready_file = os.path.join(self.tmpdir.name, "ready.json")
        self.stderr_path = os.path.join(self.tmpdir.name, "stderr.log")
        self.binary = os.path.join(BUILD_DIR, "iotlua-emulator")
        self.access_key, self.secret_key, self.region = ACCESS_KEY, SECRET_KEY, REGION
        wrapper = shlex.split(os.environ.get("IOTLUA_EMULATOR_WRAPPER", ""))
        self.ready_timeout = READY_TIMEOUT * (6 if wrapper else 1)
        self.args = [*wrapper, self.binary, "--http-port", "0", "--mqtt-port", "0",
                     "--ready-file", self.ready_file, *extra_args]
        self._clients = []
        self.ca_bundle = None       # the HTTPS certificate (https_emulator) to verify
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr,
                                     preexec_fn=preexec_fn)
        self._wait_ready()

    def stderr_text(self):
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail_start(f"exited with status {self.proc.returncode} before ready")
            try:
                with open(self.ready_file, "rb") as f:
                    ready = json.loads(f.read())
                break
            except (FileNotFoundError, ValueError):
                time.sleep(0.01)
        else:
            self.proc.kill()
            self.proc.wait()
            self._fail_start(f"no ready file after {self.ready_timeout} s")
        self.http_url = ready["http"]
        scheme, _, hostport = ready["mqtt"].partition("://")
        host, _, port = hostport.rpartition(":")
        self.mqtt_host, self.mqtt_port = host, int(port)
        http_hostport = self.http_url.partition("://")[2]
        self.http_host = http_hostport.rpartition(":")[0]
        self.http_port = int(http_hostport.rpartition(":")[2])

    def _fail_start(self, why):
        text = self.stderr_text()
        self.tmpdir.cleanup()
        pytest.fail(f"iotlua-emulator {why}: {' '.join(self.args)}\n--- stderr ---\n{text}",
                    pytrace=False)

    # ---- clients

    def iot_data(self, access_key=None, secret_key=None, attempts=1, read_timeout=30,
                 region=None):
        """A boto3 iot-data client signed with the emulator's (or the given) keys."""
        import boto3
        from botocore.config import Config
        os.environ.setdefault("AWS_DATA_PATH", AWS_DATA_PATH)
        session = boto3.session.Session(
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=region or self.region)
        cfg = Config(retries={"total_max_attempts": attempts, "mode": "standard"},
                     read_timeout=read_timeout, connect_timeout=5)
        return session.client("iot-data", endpoint_url=self.http_url, config=cfg,
                              verify=self.ca_bundle)

    def raw_http(self, timeout=5):
        """A connected socket to the HTTP API, TLS-wrapped (certificate verified) when
        the emulator serves HTTPS: raw request bytes in, raw answer bytes out."""
        s = socket.create_connection((self.http_host, self.http_port), timeout=timeout)
        if not self.ca_bundle:
            return s
        import ssl
        ctx = ssl.create_default_context(cafile=self.ca_bundle)
        try:
            return ctx.wrap_socket(s, server_hostname=self.http_host)
        except Exception:
            s.close()
            raise

    def aws(self, *args, check=True, env=None, timeout=60):
        """Runs /usr/bin/aws <args> --endpoint-url <http> with the emulator's keys.
        Returns AwsResult(returncode, stdout, stderr, json)."""
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.tmpdir.name,
            "AWS_DATA_PATH": AWS_DATA_PATH,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }
        full_env.update(env or {})
        cmd = ["/usr/bin/aws", *args, "--endpoint-url", self.http_url, "--output", "json"]
        p = subprocess.run(cmd, env=full_env, capture_output=True, timeout=timeout)
        res = AwsResult(p.returncode, p.stdout.decode(), p.stderr.decode())
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{res.stderr}")
        return res

    def device(self, client_id, protocol=5, clean=True, keepalive=60, session_expiry=None,
               username=None, will=None, connect=True, tls=None):
        """A paho-mqtt device (MQTT 5 by default, 3.1.1 with protocol=4), connected.
        tls: keyword arguments for paho's tls_set (ca_certs, certfile, keyfile)."""
        dev = Device(self, client_id, protocol, clean, keepalive, session_expiry, username,
                     will)
        if tls:
            dev.client.tls_set(**tls)
        self._clients.append(dev)
        if connect:
            dev.connect()
        return dev

    def raw_device(self, client_id, protocol=5, clean=True, keepalive=60,
                   session_expiry=0, auto_ack=False):
        """A raw-socket MQTT client: sends exactly what it is told (never a PUBACK unless
        auto_ack or ack() says so). Connected, CONNACK checked."""
        dev = RawMqtt(self.mqtt_host, self.mqtt_port)
        self._clients.append(dev)
        dev.connect(client_id, protocol=protocol, clean=clean, keepalive=keepalive,
                    session_expiry=session_expiry)
        dev.auto_ack = auto_ack
        return dev

    def control(self, method, path, body=None, timeout=10):
        """Calls a QA control under /_emulator/ (unsigned JSON). Returns (status, json)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.http_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        ctx = None
        if self.ca_bundle:
            import ssl
            ctx = ssl.create_default_context(cafile=self.ca_bundle)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        return status, (json.loads(raw) if raw else None)

    def signed_request(self, method, path, query="", headers=None, body=b"",
                       access_key=None, secret_key=None, region=None, service="iotdata",
                       when=None, sign=True, timeout=30):
        """Sends one request signed by botocore's SigV4Auth (an independent signer) over
        http.client, exactly as given: `path` is sent as is (already percent-encoded) and
        `when` (a naive UTC datetime) overrides the signing time. Returns Response."""
        import http.client
        from unittest import mock
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        target = path + ("?" + query if query else "")
        req = AWSRequest(method=method, url=self.http_url + target, data=body,
                         headers=dict(headers or {}))
        if sign:
            auth = SigV4Auth(Credentials(access_key or self.access_key,
                                         secret_key or self.secret_key),
                             service, region or self.region)
            if when is not None:
                with mock.patch("botocore.auth.datetime") as fake:
                    fake.datetime.utcnow.return_value = when
                    auth.add_auth(req)
            else:
                auth.add_auth(req)
        sent = dict(req.headers.items())
        if self.ca_bundle:
            import ssl
            conn = http.client.HTTPSConnection(
                self.http_host, self.http_port, timeout=timeout,
                context=ssl.create_default_context(cafile=self.ca_bundle))
        else:
            conn = http.client.HTTPConnection(self.http_host, self.http_port, timeout=timeout)
        try:
            conn.request(method, target, body=body, headers=sent)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def published(self, topic):
        """What the emulator recorded as published on `topic` (HTTP and devices)."""
        from urllib.parse import quote
        status, body = self.control("GET", "/_emulator/published?topic=" + quote(topic, safe=""))
        assert status == 200, body
        return body["messages"]

    # ---- lifetime

    def stop(self):
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients.clear()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("iotlua-emulator did not exit after SIGTERM\n"
                                     + self.stderr_text())
        code = self.proc.returncode
        text = self.stderr_text()
        self._stderr.close()
        self.tmpdir.cleanup()
        assert code == 0, f"iotlua-emulator exited with status {code}\n--- stderr ---\n{text}"


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    @property
    def error_type(self):
        return self.headers.get("x-amzn-errortype")

    def __repr__(self):
        return f"Response({self.status}, {self.error_type}, {self.body[:200]!r})"


class AwsResult:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    @property
    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else None


def https_emulator(extra_args=()):
    """An Emulator serving HTTPS with a throw-away self-signed certificate for 127.0.0.1
    (its ca_bundle), made with the openssl tool in the emulator's own temporary directory."""
    d = tempfile.TemporaryDirectory(prefix="iotlua-https-")
    cert, key = os.path.join(d.name, "cert.pem"), os.path.join(d.name, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    emu = Emulator(["--http-tls-cert", cert, "--http-tls-key", key, *extra_args])
    emu.ca_bundle = cert
    emu.cert_dir = d                # removed with the Emulator object
    return emu


def emulator_for(scheme, extra_args=()):
    """An Emulator on plain HTTP ("http") or HTTPS ("https")."""
    return https_emulator(extra_args) if scheme == "https" else Emulator(list(extra_args))


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture
def fresh_emulator():
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture
def start_emulator():
    """Factory: start_emulator(*extra_args) -> Emulator, stopped at teardown."""
    started = []

    def start(*extra_args):
        emu = Emulator(extra_args)
        started.append(emu)
        return emu
    yield start
    for emu in started:
        emu.stop()


# --------------------------------------------------------------------------- paho device

class Message:
    """One received PUBLISH, with the MQTT 5 properties that came with it."""

    def __init__(self, topic, payload, qos, retain, properties=None):
        self.topic, self.payload, self.qos, self.retain = topic, payload, qos, retain
        self.properties = properties or {}

    def __repr__(self):
        return f"Message({self.topic!r}, {self.payload!r}, qos={self.qos}, props={self.properties})"


def _paho_properties(props):
    out = {}
    if props is None:
        return out
    for name in ("UserProperty", "ContentType", "ResponseTopic", "CorrelationData",
                 "PayloadFormatIndicator", "MessageExpiryInterval"):
        if hasattr(props, name):
            out[name] = getattr(props, name)
    return out


class Device:
    """A paho-mqtt 1.6.1 client with its network loop on a thread; records messages."""

    def __init__(self, emu, client_id, protocol, clean, keepalive, session_expiry, username,
                 will):
        import paho.mqtt.client as mqtt
        self._mqtt = mqtt
        self.emu, self.client_id, self.protocol = emu, client_id, protocol
        self.clean, self.keepalive, self.session_expiry = clean, keepalive, session_expiry
        proto = mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311
        if protocol == 5:
            self.client = mqtt.Client(client_id=client_id, protocol=proto)
        else:
            self.client = mqtt.Client(client_id=client_id, protocol=proto, clean_session=clean)
        if username:
            self.client.username_pw_set(username)
        if will:
            self.client.will_set(**will)
        self.messages = []
        self.cond = threading.Condition()
        self.connack = None
        self.disconnected = None
        self.suback = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self.cond:
            self.connack = (flags, rc)
            self.cond.notify_all()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        with self.cond:
            self.disconnected = rc
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self.cond:
            self.suback[mid] = granted
            self.cond.notify_all()

    def _on_message(self, client, userdata, msg):
        props = _paho_properties(getattr(msg, "properties", None))
        with self.cond:
            self.messages.append(Message(msg.topic, msg.payload, msg.qos, msg.retain, props))
            self.cond.notify_all()

    def _wait(self, pred, timeout, what):
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise AssertionError(f"device {self.client_id}: no {what} within {timeout} s")

    def connect(self, timeout=5):
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes
        kw = {}
        if self.protocol == 5:
            kw["clean_start"] = self.clean
            if self.session_expiry is not None:
                p = Properties(PacketTypes.CONNECT)
                p.SessionExpiryInterval = self.session_expiry
                kw["properties"] = p
        self.client.connect(self.emu.mqtt_host, self.emu.mqtt_port, self.keepalive, **kw)
        self.client.loop_start()
        self._wait(lambda: self.connack is not None, timeout, "CONNACK")
        rc = self.connack[1]
        assert int(getattr(rc, "value", rc)) == 0, f"CONNACK refused: {rc}"
        return self

    def subscribe(self, topic_filter, qos=1, timeout=5):
        rc, mid = self.client.subscribe(topic_filter, qos)
        assert rc == 0
        self._wait(lambda: mid in self.suback, timeout, "SUBACK")
        return self.suback[mid]

    def publish(self, topic, payload, qos=0, retain=False, timeout=5):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(timeout)
        return info

    def wait_message(self, topic=None, timeout=5, count=1):
        """Waits until `count` messages (on `topic` if given) arrived; returns the last."""
        def matching():
            return [m for m in self.messages if topic is None or m.topic == topic]
        self._wait(lambda: len(matching()) >= count, timeout, f"message on {topic}")
        with self.cond:
            return matching()[count - 1]

    def disconnect(self, timeout=5):
        """Clean disconnect (DISCONNECT packet)."""
        self.client.disconnect()
        self._wait(lambda: self.disconnected is not None, timeout, "disconnect")
        self.client.loop_stop()

    def drop(self):
        """Unclean disconnect: the TCP connection is closed without DISCONNECT."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def close(self):
        try:
            self.client.loop_stop()
            sock = self.client.socket()
            if sock is not None:
                sock.close()
        except Exception:
            pass


# --------------------------------------------------------------------------- raw MQTT

def _read_varint(buf, pos):
    mult, val = 1, 0
    while True:
        b = buf[pos]
        pos += 1
        val += (b & 0x7F) * mult
        if not b & 0x80:
            return val, pos
        mult *= 128


def _parse_properties(buf):
    """MQTT 5 properties of a PUBLISH -> dict of paho-style names."""
    props, pos, users = {}, 0, []
    while pos < len(buf):
        pid = buf[pos]
        pos += 1
        if pid == 0x01:
            props["PayloadFormatIndicator"] = buf[pos]; pos += 1
        elif pid == 0x02:
            props["MessageExpiryInterval"] = struct.unpack_from("!I", buf, pos)[0]; pos += 4
        elif pid in (0x03, 0x08):
            n = struct.unpack_from("!H", buf, pos)[0]
            val = buf[pos + 2:pos + 2 + n].decode()
            props["ContentType" if pid == 0x03 else "ResponseTopic"] = val
            pos += 2 + n
        elif pid == 0x09:
            n = struct.unpack_from("!H", buf, pos)[0]
            props["CorrelationData"] = bytes(buf[pos + 2:pos + 2 + n]); pos += 2 + n
        elif pid == 0x0B:
            _, pos = _read_varint(buf, pos)
        elif pid == 0x23:
            pos += 2
        elif pid == 0x26:
            n = struct.unpack_from("!H", buf, pos)[0]
            k = buf[pos + 2:pos + 2 + n].decode(); pos += 2 + n
            n = struct.unpack_from("!H", buf, pos)[0]
            v = buf[pos + 2:pos + 2 + n].decode(); pos += 2 + n
            users.append((k, v))
        else:
            raise ValueError(f"unexpected PUBLISH property 0x{pid:02x}")
    if users:
        props["UserProperty"] = users
    return props


class RawMqtt:
    """A minimal MQTT 3.1.1/5 client over a plain socket, for what paho cannot do (never
    acknowledging a QoS 1 message) and for raw-byte tests. Reads on a thread."""

    def __init__(self, host, port, timeout=5):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self.protocol = 5
        self.auto_ack = False
        self.messages = []          # Message, with .packet_id
        self.packets = []           # (type, flags, body) of everything else received
        self.cond = threading.Condition()
        self.closed = False
        self._next_id = 1
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # ---- sending
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_packet(self, ptype, flags, body):
        self.sock.sendall(packet(ptype, flags, body))

    def connect(self, client_id, protocol=5, clean=True, keepalive=60, session_expiry=0,
                timeout=5):
        self.protocol = protocol
        flags = 0x02 if clean else 0
        body = mstr("MQTT") + bytes([protocol, flags]) + struct.pack("!H", keepalive)
        if protocol == 5:
            props = b""
            if session_expiry:
                props = b"\x11" + struct.pack("!I", session_expiry)
            body += varint(len(props)) + props
        body += mstr(client_id)
        self.send_packet(1, 0, body)
        ptype, _, ack = self.wait_packet(2, timeout)
        rc = ack[1]
        assert rc == 0, f"CONNACK refused: {rc}"
        return ack

    def subscribe(self, topic_filter, qos=1, timeout=5):
        pid = self._take_id()
        body = struct.pack("!H", pid)
        if self.protocol == 5:
            body += b"\x00"
        body += mstr(topic_filter) + bytes([qos])
        self.send_packet(8, 2, body)
        _, _, ack = self.wait_packet(9, timeout, lambda b: struct.unpack_from("!H", b)[0] == pid)
        return ack

    def ack(self, packet_id):
        body = struct.pack("!H", packet_id)
        self.send_packet(4, 0, body)

    def disconnect(self):
        self.send_packet(14, 0, b"\x00" if self.protocol == 5 else b"")
        self.close()

    def _take_id(self):
        pid = self._next_id
        self._next_id = self._next_id % 65535 + 1
        return pid

    # ---- receiving
    def _read_loop(self):
        try:
            while True:
                head, body = recv_packet(self.sock)
                self._dispatch(head >> 4, head & 0x0F, body)
        except (EOFError, OSError):
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _dispatch(self, ptype, flags, body):
        if ptype != 3:
            with self.cond:
                self.packets.append((ptype, flags, body))
                self.cond.notify_all()
            return
        qos, retain = (flags >> 1) & 3, bool(flags & 1)
        n = struct.unpack_from("!H", body)[0]
        topic = body[2:2 + n].decode()
        pos, pid = 2 + n, None
        if qos:
            pid = struct.unpack_from("!H", body, pos)[0]
            pos += 2
        props = {}
        if self.protocol == 5:
            plen, pos = _read_varint(body, pos)
            props = _parse_properties(body[pos:pos + plen])
            pos += plen
        msg = Message(topic, bytes(body[pos:]), qos, retain, props)
        msg.packet_id = msg_pid = pid
        msg.dup = bool(flags & 8)
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()
        if qos and self.auto_ack:
            self.ack(msg_pid)

    def wait_packet(self, ptype, timeout=5, pred=None):
        with self.cond:
            def find():
                for p in self.packets:
                    if p[0] == ptype and (pred is None or pred(p[2])):
                        return p
                return None
            ok = self.cond.wait_for(lambda: find() is not None or self.closed, timeout)
            found = find()
            if found is None:
                raise AssertionError(f"no packet type {ptype} (closed={self.closed})"
                                     if ok else f"no packet type {ptype} within {timeout} s")
            self.packets.remove(found)
            return found

    def wait_message(self, topic=None, timeout=5, count=1):
        def matching():
            return [m for m in self.messages if topic is None or m.topic == topic]
        with self.cond:
            if not self.cond.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"no message on {topic} within {timeout} s")
            return matching()[count - 1]

    def wait_closed(self, timeout=5):
        with self.cond:
            return self.cond.wait_for(lambda: self.closed, timeout)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def b64_user_properties(pairs):
    """The x-amz-mqtt5-user-properties encoding: base64 of a JSON array of single-key
    objects."""
    return base64.b64encode(json.dumps([{k: v} for k, v in pairs]).encode()).decode()


def listen_backlog(port):
    """The accept-queue length of the socket listening on 127.0.0.1:port, as `ss` (iproute2)
    reports it for a listening socket (its Send-Q column)."""
    import subprocess
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out and out[0] == "LISTEN", f"nothing listens on port {port}: {out}"
    return int(out[2])


def expected_backlog():
    """4096, or less when the kernel's net.core.somaxconn caps listen() lower."""
    with open("/proc/sys/net/core/somaxconn") as f:
        return min(4096, int(f.read()))
