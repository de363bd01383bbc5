"""MQTT 5 details of AWS IoT Core in the emulator's broker (issue 15, point 6): the
keep-alive adjustment (30..1200 s by default, Server Keep Alive in CONNACK), topic
aliases both ways (at most 8), subscription identifiers refused, the client's Maximum
Packet Size and Receive Maximum, and our own Maximum Packet Size."""

import os
import struct
import subprocess

import pytest

from broker_support import (Wire, mstr, packet, publish_packet, read_disconnect,
                            subscribe_packet, varint)
from conftest import BUILD_DIR

# CONNACK property ids this broker sends, and how long each value is (None: a string).
_SIZES = {0x21: 2, 0x22: 2, 0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1, 0x13: 2,
          0x12: None}


def connack_props(body):
    """The properties of an MQTT 5 CONNACK body as {id: int or bytes}."""
    assert body[1] == 0, f"CONNACK reason 0x{body[1]:02x}"
    n, i, shift = 0, 2, 0
    while True:
        n |= (body[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not body[i - 1] & 0x80:
            break
    props, end = {}, i + n
    while i < end:
        pid, i = body[i], i + 1
        size = _SIZES[pid]
        if size is None:
            size = struct.unpack("!H", body[i:i + 2])[0] + 2
            props[pid] = body[i + 2:i + size]
        else:
            props[pid] = int.from_bytes(body[i:i + size], "big")
        i += size
    return props


def server_keep_alive(emu, asked, protocol=5):
    w = Wire(emu.mqtt_host, emu.mqtt_port)
    body = w.connect(f"ka-{asked}-{protocol}", protocol=protocol, keepalive=asked)
    w.close()
    return connack_props(body).get(0x13) if protocol == 5 else body


def test_keep_alive_moved_into_aws_range(emulator):
    assert server_keep_alive(emulator, 5) == 30        # below 30: raised to 30
    assert server_keep_alive(emulator, 0) == 1200      # 0 (none): AWS uses 1200
    assert server_keep_alive(emulator, 3600) == 1200   # above 1200: lowered
    assert server_keep_alive(emulator, 60) is None     # in range: not announced
    iot = emulator.iot_data()
    assert iot.get_connection(clientId="ka-5-5")["keepAliveDuration"] == 30


def test_keep_alive_enforced_for_mqtt311_without_announcement(emulator):
    assert server_keep_alive(emulator, 5, protocol=4) == b"\x00\x00"
    iot = emulator.iot_data()
    assert iot.get_connection(clientId="ka-5-4")["keepAliveDuration"] == 30


def test_keep_alive_range_flag(start_emulator):
    emu = start_emulator("--keep-alive-range", "2:10")
    assert server_keep_alive(emu, 1) == 2
    assert server_keep_alive(emu, 11) == 10
    assert server_keep_alive(emu, 5) is None


def test_keep_alive_range_flag_refused_when_malformed():
    binary = os.path.join(BUILD_DIR, "iotlua-emulator")
    for bad in ("10:2", "0:5", "5", "1:70000", "a:b", "1:5x"):
        r = subprocess.run([binary, "--keep-alive-range", bad], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 2, bad
        assert "--keep-alive-range" in r.stderr and bad in r.stderr


# ---- topic aliases (AWS IoT: at most 8 per connection, Topic Alias Maximum in CONNACK)

def _server_publish(first, body, protocol=5):
    """(topic, topic alias or None, packet id or None, payload) of a PUBLISH the broker
    sent. Only the properties this broker can put there are understood."""
    assert first >> 4 == 3, f"expected PUBLISH, got 0x{first:02x}"
    n = struct.unpack_from("!H", body)[0]
    topic, i = body[2:2 + n].decode(), 2 + n
    packet_id = None
    if first & 0x06:
        packet_id, i = struct.unpack_from("!H", body, i)[0], i + 2
    alias = None
    if protocol == 5:
        size, i = body[i], i + 1                       # the tests keep it under 128
        end = i + size
        while i < end:
            pid = body[i]
            if pid == 0x23:
                alias = struct.unpack_from("!H", body, i + 1)[0]
                i += 3
            elif pid == 0x02:
                i += 5
            else:
                raise AssertionError(f"unexpected property 0x{pid:02x}")
    return topic, alias, packet_id, body[i:]


def test_topic_aliases_from_the_client_are_resolved(emulator):
    watcher = emulator.device("alias-in-watch")
    watcher.subscribe("alias-in/#")
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("alias-in", protocol=5)
    w.send(publish_packet("alias-in/a", b"one", props=b"\x23\x00\x01"))     # sets alias 1
    w.send(publish_packet("", b"two", props=b"\x23\x00\x01"))               # uses it
    w.send(publish_packet("alias-in/b", b"three", props=b"\x23\x00\x08"))   # 8: the maximum
    w.send(publish_packet("alias-in/c", b"four", props=b"\x23\x00\x01"))    # remaps 1
    w.send(publish_packet("", b"five", qos=1, packet_id=7, props=b"\x23\x00\x01"))
    assert w.read_raw_packet() == b"\x40\x02\x00\x07"
    w.send(publish_packet("", b"six", props=b"\x23\x00\x08"))
    watcher.wait_message(count=6)
    got = [(m.topic, m.payload) for m in watcher.messages]
    assert got == [("alias-in/a", b"one"), ("alias-in/a", b"two"), ("alias-in/b", b"three"),
                   ("alias-in/c", b"four"), ("alias-in/c", b"five"), ("alias-in/b", b"six")]
    w.close()


def test_topic_alias_unknown_on_a_new_connection(emulator):
    """Aliases live as long as their connection: a new one starts with none."""
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("alias-fresh", protocol=5)
    w.send(publish_packet("alias-fresh/t", b"x", props=b"\x23\x00\x02"))
    w.close()
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("alias-fresh", protocol=5)
    w.send(publish_packet("", b"x", props=b"\x23\x00\x02"))
    assert read_disconnect(w)[0] == 0x94
    assert w.closed()
    assert emulator.iot_data().get_connection(clientId="alias-fresh")["disconnectReason"] \
        == "CLIENT_ERROR"


def _alias_subscriber(emulator, client_id, topic_filter, props=b"", protocol=5):
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect(client_id, protocol=protocol, props=props)
    w.send(subscribe_packet(topic_filter, options=0, protocol=protocol))
    assert w.read_packet()[0] == 0x90
    return w


def test_topic_aliases_toward_a_client_that_allows_them(emulator):
    w = _alias_subscriber(emulator, "alias-out", "alias-out/#", props=b"\x22\x00\x02")
    pub = emulator.device("alias-out-pub")
    for t in ("a", "a", "b", "c", "a", "c"):
        pub.publish("alias-out/" + t, t.encode(), qos=1)
    got = [_server_publish(*w.read_packet())[:2] for _ in range(6)]
    assert got == [("alias-out/a", 1),     # new mapping: topic and alias
                   ("", 1),                # known: alias only
                   ("alias-out/b", 2),
                   ("alias-out/c", 1),     # both taken: alias 1 remapped
                   ("alias-out/a", 2),     # then alias 2
                   ("", 1)]                # c still has 1
    w.close()


@pytest.mark.parametrize("protocol,props", [(5, b""), (5, b"\x22\x00\x00"), (4, b"")])
def test_no_topic_aliases_toward_a_client_that_did_not_ask(emulator, protocol, props):
    cid = f"alias-none-{protocol}-{len(props)}"
    w = _alias_subscriber(emulator, cid, cid + "/t", props=props, protocol=protocol)
    pub = emulator.device(cid + "-pub")
    for _ in range(2):
        pub.publish(cid + "/t", b"x", qos=1)
    for _ in range(2):
        assert _server_publish(*w.read_packet(), protocol=protocol)[:2] == (cid + "/t", None)
    w.close()


# ---- subscription identifiers: not offered, as AWS IoT Core (re:Post, CONNACK 0x29 = 0)

def test_subscription_identifier_refused(emulator):
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    assert connack_props(w.connect("subid", protocol=5))[0x29] == 0
    w.send(packet(8, 2, b"\x00\x01\x02\x0b\x05" + mstr("subid/t") + b"\x01"))
    assert read_disconnect(w)[0] == 0xA1       # Subscription Identifiers not supported
    assert w.closed()


# ---- the client's Maximum Packet Size and Receive Maximum

def _stats(emulator):
    status, body = emulator.control("GET", "/_emulator/stats")
    assert status == 200
    return body["mqtt"]


def test_client_maximum_packet_size_is_exact_and_never_blocks(emulator):
    """Over the client's maximum a PUBLISH is not sent and counted; a QoS 1 message
    dropped so takes no in-flight slot, so Receive Maximum 1 still lets the next through.
    QoS 1 to an MQTT 5 client here is 12 bytes + payload ("mps/t", no properties)."""
    w = _alias_subscriber(emulator, "mps", "mps/t",
                          props=b"\x27\x00\x00\x00\x64\x21\x00\x01")   # 100 bytes, 1 in flight
    w.send(subscribe_packet("mps/t", options=1, packet_id=2))
    assert w.read_packet()[0] == 0x90
    before = _stats(emulator)["publishTooLarge"]
    pub = emulator.device("mps-pub")
    pub.publish("mps/t", b"L" * 89, qos=1)          # 101 bytes: not sent
    pub.publish("mps/t", b"F" * 88, qos=1)          # 100 bytes: sent
    first, body = w.read_packet()
    raw = bytes([first]) + varint(len(body)) + body
    assert len(raw) == 100 and raw.endswith(b"F" * 88)
    assert _stats(emulator)["publishTooLarge"] == before + 1
    w.close()


def test_client_receive_maximum_queues_the_rest_in_order(emulator):
    w = _alias_subscriber(emulator, "rmq", "rmq/t", props=b"\x21\x00\x02")
    w.send(subscribe_packet("rmq/t", options=1, packet_id=2))
    assert w.read_packet()[0] == 0x90
    pub = emulator.device("rmq-pub")
    for i in range(6):
        pub.publish("rmq/t", str(i).encode(), qos=1)
    got = [_server_publish(*w.read_packet()) for _ in range(2)]
    for _ in range(4):
        assert w.silent(0.3), "more than Receive Maximum 2 unacknowledged"
        w.send(packet(4, 0, struct.pack("!H", got[-2][2])))    # the oldest unacknowledged
        got.append(_server_publish(*w.read_packet()))
    got = [g[3] for g in got]
    assert got == [str(i).encode() for i in range(6)]
    w.close()


# ---- our own limits: Maximum Packet Size announced, exactly what is accepted

def _big_publish(extra):
    """A QoS 0 PUBLISH of 139,268 + extra bytes: the 128 KiB payload AWS allows, the rest
    a user property."""
    value = b"v" * (8174 + extra)
    props = b"\x26" + mstr("k") + mstr(value)
    body = mstr("ours/big") + varint(len(props)) + props + b"p" * (128 * 1024)
    return bytes([0x30]) + varint(len(body)) + body


def test_our_maximum_packet_size_is_exact(emulator):
    watcher = emulator.device("ours-watch")
    watcher.subscribe("ours/big")
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    limit = connack_props(w.connect("ours-big", protocol=5))[0x27]
    assert limit == 139268                  # 128 KiB + 8 KiB body, 4-byte fixed header
    assert len(_big_publish(0)) == limit
    w.send(_big_publish(0))
    m = watcher.wait_message("ours/big")
    assert len(m.payload) == 128 * 1024
    assert m.properties["UserProperty"] == [("k", "v" * 8174)]
    w.send(_big_publish(1))
    assert read_disconnect(w)[0] == 0x95       # Packet too large
    assert w.closed()
    w.close()
