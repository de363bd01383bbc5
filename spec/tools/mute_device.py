#!/usr/bin/python3
"""mute_device.py --port P --id CLIENT [--topic T ...] [--mqtt 5|311]

A real MQTT device process that receives QoS 1 messages and never acknowledges them
(no PUBACK), for the "device never acks → GatewayTimeoutException" end-to-end specs;
mosquitto_sub always acknowledges.  Raw sockets, no library.  Connects to 127.0.0.1:P,
subscribes to each --topic at QoS 1, prints one JSON line per event on stdout:
{"event":"ready"} once connected (and subscribed), then
{"event":"publish","topic":...,"qos":...,"packet_id":...,"payload":...} per message.
Runs until killed or the connection closes."""

import argparse
import json
import os
import socket
import struct
import sys


# The MQTT wire helpers of the broker tests (no pytest in them).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from broker_support import mstr as mqtt_str, packet, recv_packet  # noqa: E402


def read_packet(sock):
    first, body = recv_packet(sock)
    return first >> 4, first & 0x0F, body


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--topic", action="append", default=[])
    ap.add_argument("--mqtt", choices=["5", "311"], default="5")
    args = ap.parse_args()
    v5 = args.mqtt == "5"
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=None)
    props = b"\x00" if v5 else b""
    body = mqtt_str("MQTT") + bytes([5 if v5 else 4, 0x02]) + struct.pack("!H", 60) + props
    sock.sendall(packet(1, 0, body + mqtt_str(args.id)))
    ptype, _, data = read_packet(sock)
    if ptype != 2 or data[1] != 0:
        emit({"event": "refused", "packet": ptype, "code": data[1] if len(data) > 1 else None})
        return 1
    if args.topic:
        filters = b"".join(mqtt_str(t) + b"\x01" for t in args.topic)
        sock.sendall(packet(8, 2, struct.pack("!H", 1) + props + filters))
        while read_packet(sock)[0] != 9:
            pass
    emit({"event": "ready"})
    try:
        while True:
            ptype, flags, data = read_packet(sock)
            if ptype != 3:
                continue
            tlen = struct.unpack("!H", data[:2])[0]
            topic, pos = data[2:2 + tlen].decode(), 2 + tlen
            qos, pid = (flags >> 1) & 3, None
            if qos:
                pid = struct.unpack("!H", data[pos:pos + 2])[0]
                pos += 2
            if v5:
                plen, shift = 0, 0
                while True:
                    byte = data[pos]
                    pos += 1
                    plen |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                pos += plen
            emit({"event": "publish", "topic": topic, "qos": qos, "packet_id": pid,
                  "payload": data[pos:].decode("utf-8", "replace")})
    except (EOFError, OSError):
        emit({"event": "closed"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
