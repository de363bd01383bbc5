"""MQTT 5 details of AWS IoT Core in the emulator's broker (issue 15, point 6): the
keep-alive adjustment (30..1200 s by default, Server Keep Alive in CONNACK)."""

import os
import struct
import subprocess

from broker_support import Wire
from conftest import BUILD_DIR

# CONNACK property ids this broker sends, and how long each value is (None: a string).
_SIZES = {0x21: 2, 0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1, 0x13: 2, 0x12: None}


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
