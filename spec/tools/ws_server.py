#!/usr/bin/python3
"""ws_server.py - a WebSocket server on 127.0.0.1 that misbehaves on purpose, for the
tests of iotlua.mqtt's client over WebSockets (spec/e2e/mqtt_ws_spec.lua).

    ws_server.py --mode MODE --ready-file F --log L

Writes {"port": P} to F once it listens (ephemeral port), then serves connections one at
a time until SIGTERM. Every upgrade request head is appended to L as one JSON line
{"head": "..."}; what the client sent after the upgrade as {"frames": [[opcode,
masked, payload-hex], ...]}.

Modes (what follows the client's upgrade request):
  refuse      HTTP 403 Forbidden
  bad-accept  101 with a Sec-WebSocket-Accept that is not the key's
  close       a proper 101, then a Close frame (1008, "policy says no")
  masked      a proper 101, then a masked binary frame (servers must not mask)
  ping        a proper 101, then a Ping ("are-you-there"); the client's frames are
              read for a second and logged; then a Close (1000)
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def header(head, name):
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return ""


def frame(opcode, payload, mask=None):
    b0 = 0x80 | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n | (0x80 if mask else 0))
    else:
        head = struct.pack("!BBH", b0, 126 | (0x80 if mask else 0), n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return head + mask + payload
    return head + payload


def read_frames(conn, rest, seconds):
    """The client's frames for `seconds`: [[opcode, masked, payload-hex], ...]."""
    conn.settimeout(0.05)
    data, frames, end = rest, [], time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        except socket.timeout:
            pass
        while len(data) >= 2:
            b0, b1 = data[0], data[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(data) < 4:
                    break
                n, off = struct.unpack("!H", data[2:4])[0], 4
            masked = bool(b1 & 0x80)
            need = off + (4 if masked else 0) + n
            if len(data) < need:
                break
            key = data[off:off + 4] if masked else b"\0\0\0\0"
            start = off + (4 if masked else 0)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(data[start:need]))
            frames.append([b0 & 0x0F, masked, payload.hex()])
            data = data[need:]
    return frames


def serve(conn, mode, log):
    head, rest = read_head(conn)
    if head is None:
        return
    log.write(json.dumps({"head": head}) + "\n")
    log.flush()
    if mode == "refuse":
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        return
    key = header(head, "Sec-WebSocket-Key").encode()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    if mode == "bad-accept":
        accept = base64.b64encode(hashlib.sha1(b"not-the-key" + GUID).digest()).decode()
    conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                  "Sec-WebSocket-Protocol: mqtt\r\n\r\n" % accept).encode())
    if mode == "close":
        conn.sendall(frame(0x8, struct.pack("!H", 1008) + b"policy says no"))
    elif mode == "masked":
        conn.sendall(frame(0x2, b"\x20\x02\x00\x00", mask=b"\x01\x02\x03\x04"))
    elif mode == "ping":
        conn.sendall(frame(0x9, b"are-you-there"))
        frames = read_frames(conn, rest, 1.0)
        log.write(json.dumps({"frames": frames}) + "\n")
        log.flush()
        conn.sendall(frame(0x8, struct.pack("!H", 1000)))
    time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True,
                    choices=["refuse", "bad-accept", "close", "masked", "ping"])
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"port": srv.getsockname()[1]}, f)
    os.rename(tmp, args.ready_file)
    with open(args.log, "a") as log:
        while True:
            conn, _ = srv.accept()
            with conn:
                try:
                    serve(conn, args.mode, log)
                except OSError:
                    pass


if __name__ == "__main__":
    main()
