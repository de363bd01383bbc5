"""MQTT broker: raw-byte protocol tests. Exact CONNACK/SUBACK/UNSUBACK/PUBACK/PINGRESP
bytes for MQTT 3.1.1 and 5.0, refused CONNECTs, and malformed or truncated packets:
each closes only its own connection (MQTT 5: DISCONNECT with the reason code first)
while a bystander client keeps publishing and receiving."""

import os
import struct

import pytest

from broker_support import (Wire, connect_packet, mstr, packet, publish_packet,
                            read_disconnect, subscribe_packet, varint)


@pytest.fixture(scope="module")
def bystander(emulator):
    dev = emulator.device("proto-bystander", protocol=4)
    dev.subscribe("bystander/#")
    return dev


def _still_serving(bystander, tag):
    bystander.publish(f"bystander/{tag}", tag.encode(), qos=1)
    assert bystander.wait_message(f"bystander/{tag}").payload == tag.encode()


def _wire(emulator):
    return Wire(emulator.mqtt_host, emulator.mqtt_port)


# ---- CONNACK

def test_connack_311_exact_bytes_and_session_present(emulator):
    w = _wire(emulator)
    w.send(connect_packet("connack-311", protocol=4, clean=False))
    assert w.read_raw_packet() == b"\x20\x02\x00\x00"
    w.close()
    w = _wire(emulator)
    w.send(connect_packet("connack-311", protocol=4, clean=False))
    assert w.read_raw_packet() == b"\x20\x02\x01\x00"       # session present
    w.close()


def test_connack_v5_exact_bytes(emulator):
    w = _wire(emulator)
    w.send(connect_packet("connack-5", protocol=5))
    props = (b"\x21\x00\x64"            # Receive Maximum 100
             b"\x24\x01"                # Maximum QoS 1
             b"\x25\x01"                # Retain Available
             b"\x27\x00\x02\x20\x04"    # Maximum Packet Size 139,268
             b"\x22\x00\x08"            # Topic Alias Maximum 8 (AWS IoT's)
             b"\x28\x01"                # Wildcard Subscription Available
             b"\x29\x00"                # Subscription Identifiers not available
             b"\x2a\x01")               # Shared Subscription Available
    body = b"\x00\x00" + varint(len(props)) + props
    assert w.read_raw_packet() == b"\x20" + varint(len(body)) + body
    w.close()


def test_v5_empty_client_id_gets_an_assigned_one(emulator):
    w = _wire(emulator)
    body = w.connect("", protocol=5)
    assert body[:2] == b"\x00\x00"
    props = body[3:]
    at = props.index(b"\x12")
    n = struct.unpack_from("!H", props, at + 1)[0]
    assigned = props[at + 3:at + 3 + n].decode()
    assert assigned.startswith("iotlua-")
    got = emulator.iot_data().get_connection(clientId=assigned)
    assert got["connected"] is True
    w.close()


@pytest.mark.parametrize("name,level", [("MQIsdp", 3), ("MQTT", 6)])
def test_unsupported_protocol_level_refused(emulator, bystander, name, level):
    w = _wire(emulator)
    body = mstr(name) + bytes([level, 0x02]) + b"\x00\x3c" + mstr("old-proto")
    w.send(packet(1, 0, body))
    assert w.read_raw_packet() == b"\x20\x02\x00\x01"       # unacceptable protocol version
    assert w.closed()
    _still_serving(bystander, f"level{level}")


def test_311_empty_client_id_without_clean_session_rejected(emulator):
    w = _wire(emulator)
    w.send(connect_packet("", protocol=4, clean=False))
    assert w.read_raw_packet() == b"\x20\x02\x00\x02"       # identifier rejected
    assert w.closed()


def test_v5_client_id_over_aws_limit_rejected(emulator):
    w = _wire(emulator)
    w.send(connect_packet("x" * 129, protocol=5))
    assert w.read_raw_packet() == b"\x20\x03\x00\x85\x00"   # Client Identifier not valid
    assert w.closed()


def test_v5_will_qos2_refused(emulator):
    w = _wire(emulator)
    w.send(connect_packet("will-qos2", protocol=5, will=("w/t", b"x", 2, False)))
    assert w.read_raw_packet() == b"\x20\x03\x00\x9b\x00"   # QoS not supported
    assert w.closed()


def test_first_packet_must_be_connect(emulator, bystander):
    w = _wire(emulator)
    w.send(b"\xc0\x00")
    assert w.closed()
    _still_serving(bystander, "first-not-connect")


# ---- acknowledgements

@pytest.mark.parametrize("protocol", [4, 5])
def test_ack_packets_exact_bytes(emulator, protocol):
    w = _wire(emulator)
    w.connect(f"acks-{protocol}", protocol=protocol)
    w.send(b"\xc0\x00")
    assert w.read_raw_packet() == b"\xd0\x00"
    v5 = protocol == 5
    props = b"\x00" if v5 else b""
    body = (struct.pack("!H", 5) + props + mstr("acks/+") + b"\x01" + mstr("bad/#/x") + b"\x00"
            + mstr("a/" * 8 + "deep") + b"\x00")
    w.send(packet(8, 2, body))
    fail = b"\x8f" if v5 else b"\x80"
    assert w.read_raw_packet() == packet(9, 0, struct.pack("!H", 5) + props + b"\x01" + fail
                                         + fail)
    w.send(publish_packet("acks/x", b"p", qos=1, packet_id=7, protocol=protocol))
    # our own subscription matches: the PUBLISH comes back, and the PUBACK
    got = sorted([w.read_raw_packet() for _ in range(2)])
    assert b"\x40\x02\x00\x07" in got
    w.send(packet(8 + 2, 2, struct.pack("!H", 6) + props + mstr("acks/+") + mstr("never")))
    expect = packet(11, 0, struct.pack("!H", 6) + (b"\x00\x00\x11" if v5 else b""))
    assert w.read_raw_packet() == expect
    w.close()


# ---- malformed and truncated packets

MALFORMED_V5 = [
    ("varint-too-long", b"\x30\xff\xff\xff\xff\x01", 0x81),
    ("bad-utf8-topic", publish_packet(b"a/\xff\xfe", b"x"), 0x81),
    ("nul-in-topic", publish_packet(b"a/\x00", b"x"), 0x81),
    ("publish-qos3", bytes([0x36]) + varint(6) + mstr("a/b") + b"\x00", 0x81),
    ("qos0-with-dup", bytes([0x38]) + varint(6) + mstr("a/b") + b"\x00", 0x81),
    ("qos1-packet-id-0", bytes([0x32]) + varint(8) + mstr("a/b") + b"\x00\x00\x00", 0x81),
    ("subscribe-bad-flags", packet(8, 0, b"\x00\x01\x00" + mstr("a") + b"\x01"), 0x81),
    ("subscribe-no-filters", packet(8, 2, b"\x00\x01\x00"), 0x82),
    ("subscribe-options-reserved", packet(8, 2, b"\x00\x01\x00" + mstr("a") + b"\xc1"), 0x81),
    ("topic-with-wildcard", publish_packet("a/+/b", b"x"), 0x90),
    ("pubrel-qos2-flow", packet(6, 2, b"\x00\x01"), 0x82),
    ("second-connect", connect_packet("again"), 0x82),
    ("property-not-allowed", publish_packet("a/b", b"x", props=b"\x11\x00\x00\x00\x01"), 0x82),
    ("duplicate-property", publish_packet("a/b", b"x", props=b"\x01\x00\x01\x01"), 0x82),
    ("unknown-property", publish_packet("a/b", b"x", props=b"\x7f\x00"), 0x81),
    ("property-length-overruns", publish_packet("a/b", b"", props=b"") [:-1] + b"\x05", 0x81),
    ("topic-alias-0", publish_packet("a/b", b"x", props=b"\x23\x00\x00"), 0x94),
    ("topic-alias-over-max", publish_packet("a/b", b"x", props=b"\x23\x00\x09"), 0x94),
    ("topic-alias-unknown", publish_packet("", b"x", props=b"\x23\x00\x01"), 0x94),
    ("empty-topic-no-alias", publish_packet("", b"x"), 0x82),
    ("subscription-identifier",
     packet(8, 2, b"\x00\x01\x02\x0b\x01" + mstr("a") + b"\x01"), 0xA1),
    ("auth-packet", packet(15, 0, b"\x00\x00"), 0x82),
    ("reserved-type-0", packet(0, 0, b""), 0x82),
    ("pingreq-with-body", packet(12, 0, b"\x00"), 0x81),
    ("declared-too-large", b"\x30" + varint(10_000_000), 0x95),
]


@pytest.mark.parametrize("name,data,reason", MALFORMED_V5, ids=[c[0] for c in MALFORMED_V5])
def test_malformed_v5_gets_disconnect_and_only_that_connection_closes(emulator, bystander,
                                                                      name, data, reason):
    w = _wire(emulator)
    w.connect(f"bad5-{name}", protocol=5)
    w.send(data)
    assert read_disconnect(w)[0] == reason
    assert w.closed()
    w.close()
    _still_serving(bystander, f"v5-{name}")


MALFORMED_311 = [
    ("varint-too-long", b"\x30\xff\xff\xff\xff\x01"),
    ("bad-utf8-topic", publish_packet(b"a/\xff", b"x", protocol=4)),
    ("subscribe-options-reserved", packet(8, 2, b"\x00\x01" + mstr("a") + b"\x05")),
    ("disconnect-with-body", packet(14, 0, b"\x00")),
    ("short-puback", packet(4, 0, b"\x00")),
    ("unsubscribe-truncated-filter", packet(10, 2, b"\x00\x01\x00\x05ab")),
]


@pytest.mark.parametrize("name,data", MALFORMED_311, ids=[c[0] for c in MALFORMED_311])
def test_malformed_311_closes_only_that_connection(emulator, bystander, name, data):
    w = _wire(emulator)
    w.connect(f"bad311-{name}", protocol=4)
    w.send(data)
    assert w.closed()
    w.close()
    _still_serving(bystander, f"v311-{name}")


@pytest.mark.parametrize("cut", [1, 2, 5, 12])
def test_truncated_connect_then_hangup(emulator, bystander, cut):
    w = _wire(emulator)
    w.send(connect_packet(f"truncated-{cut}", protocol=5)[:cut])
    w.close()
    _still_serving(bystander, f"trunc-{cut}")


def test_packet_split_across_writes_is_reassembled(emulator):
    w = _wire(emulator)
    data = connect_packet("split", protocol=4) + b"\xc0\x00"
    for i in range(len(data)):
        w.send(data[i:i + 1])
    assert w.read_raw_packet() == b"\x20\x02\x00\x00"
    assert w.read_raw_packet() == b"\xd0\x00"
    w.close()


def test_many_packets_in_one_write(emulator):
    w = _wire(emulator)
    w.send(connect_packet("batched", protocol=4) + subscribe_packet("batched/t", 1, 3, 4)
           + publish_packet("batched/t", b"self", qos=1, packet_id=4, protocol=4)
           + b"\xc0\x00")
    assert w.read_raw_packet() == b"\x20\x02\x00\x00"
    assert w.read_raw_packet() == b"\x90\x03\x00\x03\x01"
    rest = sorted(w.read_raw_packet() for _ in range(3))
    assert b"\xd0\x00" in rest and b"\x40\x02\x00\x04" in rest
    w.close()


def test_truncated_body_waits_then_connect_timeout(emulator, bystander):
    """A CONNECT that never completes is dropped by the connect deadline; meanwhile
    everyone else is served."""
    w = _wire(emulator)
    w.send(connect_packet("slowloris", protocol=4)[:-3])
    _still_serving(bystander, "slowloris")
    assert w.silent(0.3)
    assert w.closed(timeout=15)
    w.close()


def _valid_session_bytes(i, protocol):
    """A plausible client conversation, to be mutated."""
    props = b"\x26" + mstr("k") + mstr("v") if protocol == 5 else b""
    return (connect_packet(f"mut-{i}", protocol=protocol, clean=bool(i % 2),
                           will=("mut/will", b"w", 1, False))
            + subscribe_packet("mut/+/x", options=1, packet_id=1, protocol=protocol)
            + subscribe_packet("$share/g/mut/#", options=0, packet_id=2, protocol=protocol)
            + publish_packet("mut/a/x", b"payload", qos=1, packet_id=3, protocol=protocol,
                             props=props, retain=bool(i % 3 == 0))
            + packet(10, 2, struct.pack("!H", 4) + (b"\x00" if protocol == 5 else b"")
                     + mstr("mut/+/x"))
            + b"\xc0\x00"
            + packet(4, 0, struct.pack("!H", 1)))


def test_random_mutations_never_take_the_broker_down(emulator, bystander):
    """A fixed-seed network fuzz: 300 connections each send a mutated conversation (bit
    flips, truncation, duplicated or dropped bytes). The broker answers or closes each,
    and keeps serving everyone else."""
    import random
    import socket as socketlib
    rng = random.Random(20261122)
    for i in range(int(os.environ.get("IOTLUA_MUTATIONS", "300"))):
        data = bytearray(_valid_session_bytes(i, 5 if i % 2 else 4))
        for _ in range(rng.randint(1, 6)):
            op = rng.randrange(4)
            pos = rng.randrange(len(data))
            if op == 0:
                data[pos] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[pos] = rng.randrange(256)
            elif op == 2:
                del data[pos:pos + rng.randint(1, 4)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            data = data[:rng.randrange(len(data))]
        w = _wire(emulator)
        try:
            w.send(bytes(data))
            w.sock.settimeout(0.05)
            try:
                while w.sock.recv(65536):
                    pass
            except (socketlib.timeout, ConnectionError):
                pass
        finally:
            w.close()
        if i % 50 == 49:
            _still_serving(bystander, f"mut-{i}")
    _still_serving(bystander, "mut-end")
