"""Helpers for the broker tests (spec/e2e/test_broker_*.py): exact-byte MQTT packets on
plain sockets. Imported by the tests and by conftest.py (RawMqtt); not a test file itself.
"""

import socket
import struct
import time


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def recv_exact(sock, n):
    """Exactly n bytes from sock; EOFError when it closes first."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_packet(sock):
    """(first byte, body) of the next packet on sock."""
    first = recv_exact(sock, 1)[0]
    mult, length = 1, 0
    while True:
        b = recv_exact(sock, 1)[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return first, recv_exact(sock, length) if length else b""


def connect_packet(client_id, protocol=5, clean=True, keepalive=60, props=b"",
                   will=None, will_props=b""):
    """CONNECT bytes. will = (topic, payload, qos, retain) or None; will_props are the
    MQTT 5 will properties (encoded)."""
    flags = 0x02 if clean else 0
    if will:
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
    body = mstr("MQTT") + bytes([protocol, flags]) + struct.pack("!H", keepalive)
    if protocol == 5:
        body += varint(len(props)) + props
    body += mstr(client_id)
    if will:
        if protocol == 5:
            body += varint(len(will_props)) + will_props
        body += mstr(will[0]) + mstr(will[1])
    return packet(1, 0, body)


def publish_packet(topic, payload, qos=0, packet_id=1, protocol=5, props=b"", retain=False):
    body = mstr(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    if protocol == 5:
        body += varint(len(props)) + props
    return packet(3, (qos << 1) | (1 if retain else 0), body + payload)


def subscribe_packet(topic_filter, options=1, packet_id=1, protocol=5):
    body = struct.pack("!H", packet_id)
    if protocol == 5:
        body += b"\x00"
    return packet(8, 2, body + mstr(topic_filter) + bytes([options]))


class Wire:
    """A blocking socket with exact reads, for byte-level protocol tests."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        return recv_exact(self.sock, n)

    def read_packet(self):
        """(first byte, body) of the next packet."""
        return recv_packet(self.sock)

    def read_raw_packet(self):
        first, body = self.read_packet()
        return bytes([first]) + varint(len(body)) + body

    def closed(self, timeout=3.0):
        """True when the server closes the connection within timeout (data before the
        close is discarded)."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(4096):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return False

    def silent(self, timeout=0.5):
        """True when nothing arrives (and the connection stays open) for timeout."""
        self.sock.settimeout(timeout)
        try:
            self.sock.recv(1)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(5.0)
        return False

    def connect(self, client_id, **kw):
        self.send(connect_packet(client_id, **kw))
        first, body = self.read_packet()
        assert first == 0x20, f"expected CONNACK, got 0x{first:02x}"
        return body

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def read_disconnect(wire):
    """Reads a server DISCONNECT (MQTT 5); checks its shape (reason code, then properties
    holding at most a Reason String) and returns (reason code, reason string or None)."""
    first, body = wire.read_packet()
    assert first == 0xE0, f"expected DISCONNECT, got 0x{first:02x}"
    reason = body[0]
    if len(body) < 2:
        return reason, None
    plen = body[1]
    props = body[2:]
    assert len(props) == plen, "property length must cover the rest of the packet"
    if not props:
        return reason, None
    assert props[0] == 0x1F, f"unexpected DISCONNECT property 0x{props[0]:02x}"
    n = struct.unpack_from("!H", props, 1)[0]
    assert 3 + n == len(props)
    return reason, props[3:].decode()
