#!/usr/bin/python3
"""Latency probe (not a timed test): sequential QoS 1 round trips over one MQTT
connection, plain TCP and TLS, against an emulator started here on ephemeral ports.

    /usr/bin/python3 emulator/bench/mqtt_latency.py [--emulator build/iotlua-emulator]
        [--messages 200] [--payload-bytes 16]

One MQTT 3.1.1 client subscribes (QoS 1) to its own topic, then publishes --messages
QoS 1 messages one at a time: each round trip is the PUBLISH, the broker's PUBACK and
the broker delivering the message back (answered with a PUBACK). The client sets
TCP_NODELAY itself, so what is measured is the broker's sending: two small packets in a
row (PUBACK, PUBLISH) wait for the client's delayed ACK when Nagle's algorithm holds the
second. Prints mean and median milliseconds per round trip for each transport.
"""

import argparse
import json
import os
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from idle_connections import connect_bytes, mstr, varint  # noqa: E402  (same folder)


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("connection closed by the broker")
        data += chunk
    return data


def read_packet(sock):
    first = read_exact(sock, 1)[0]
    length, mult = 0, 1
    while True:
        b = read_exact(sock, 1)[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return first, read_exact(sock, length)


def start_emulator(binary, tmp, extra):
    ready = os.path.join(tmp, "ready-%d.json" % len(os.listdir(tmp)))
    proc = subprocess.Popen([binary, "--http-port", "0", "--mqtt-port", "0",
                             "--ready-file", ready] + extra)
    deadline = time.monotonic() + 10
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    with open(ready) as f:
        url = json.load(f)["mqtt"]
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return proc, host, int(port)


def round_trips(sock, count, payload):
    sock.sendall(connect_bytes("latency-probe", 4))
    assert read_packet(sock)[0] >> 4 == 2, "no CONNACK"
    sock.sendall(packet(0x82, struct.pack("!H", 1) + mstr("probe/t") + b"\x01"))
    assert read_packet(sock)[0] >> 4 == 9, "no SUBACK"
    times = []
    for i in range(count):
        pid = 2 + i % 60000
        t0 = time.perf_counter()
        sock.sendall(packet(0x32, mstr("probe/t") + struct.pack("!H", pid) + payload))
        got_ack = got_msg = False
        while not (got_ack and got_msg):
            first, body = read_packet(sock)
            if first >> 4 == 4:
                got_ack = True
            elif first >> 4 == 3:
                got_msg = True
                sock.sendall(packet(0x40, body[2 + struct.unpack("!H", body[:2])[0]:][:2]))
        times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emulator", default=os.path.join(SOURCE, "build", "iotlua-emulator"))
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--payload-bytes", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                       capture_output=True)
        for label, extra in (("mqtt, tls", ["--mqtt-tls-cert", cert, "--mqtt-tls-key", key]),
                             ("mqtt, plain", [])):
            proc, host, port = start_emulator(args.emulator, tmp, extra)
            try:
                raw = socket.create_connection((host, port), timeout=10)
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock = raw
                if extra:
                    ctx = ssl.create_default_context(cafile=cert)
                    sock = ctx.wrap_socket(raw, server_hostname=host)
                times = round_trips(sock, args.messages, b"x" * args.payload_bytes)
                sock.close()
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            print("%-12s %4d round trips, %d-byte payload: mean %7.2f ms, median %7.2f ms" % (
                label, len(times), args.payload_bytes, statistics.mean(times) * 1e3,
                statistics.median(times) * 1e3))


if __name__ == "__main__":
    main()
