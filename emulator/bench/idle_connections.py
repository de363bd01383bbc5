#!/usr/bin/python3
"""Load check (not a timed test): hold N idle MQTT connections to iotlua-emulator and
report its resident memory. Issue 3 asks for 10,000 idle connections in under 200 MiB.

    /usr/bin/python3 emulator/bench/idle_connections.py [--connections 10000]
        [--emulator build/iotlua-emulator] [--protocol 4|5] [--subscribe]

Starts its own emulator on ephemeral ports (--ready-file), raises the open-file limit
for itself and the emulator (like `ulimit -n`), connects N clients (CONNECT, CONNACK
checked; each also subscribes with --subscribe), then reads VmRSS/VmHWM from
/proc/<pid>/status, checks that the broker still delivers, and stops the emulator with
SIGTERM (exit status 0 expected). Prints one JSON line; exits 1 if the RSS limit is
exceeded or anything fails.
"""

import argparse
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# The MQTT wire helpers of the broker tests (spec/e2e/broker_support.py: no pytest in it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "spec", "e2e"))
from broker_support import mstr, recv_packet, varint  # noqa: E402,F401  (mstr, varint: also for mqtt_latency.py)


def connect_bytes(cid, protocol):
    body = mstr("MQTT") + bytes([protocol, 0x02]) + struct.pack("!H", 1200)
    if protocol == 5:
        body += b"\x00"
    body += mstr(cid)
    return b"\x10" + varint(len(body)) + body


def subscribe_bytes(topic, protocol):
    body = struct.pack("!H", 1) + (b"\x00" if protocol == 5 else b"") + mstr(topic) + b"\x00"
    return b"\x82" + varint(len(body)) + body


def start_emulator(binary, tmp):
    ready = os.path.join(tmp, "ready.json")
    proc = subprocess.Popen([binary, "--http-port", "0", "--mqtt-port", "0",
                             "--ready-file", ready], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(ready) as f:
                urls = json.load(f)
            port = int(urls["mqtt"].rsplit(":", 1)[1])
            return proc, port
        except (FileNotFoundError, ValueError):
            time.sleep(0.01)
    proc.kill()
    raise SystemExit("emulator did not become ready")


def memory_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--emulator", default=os.path.join(SOURCE, "build", "iotlua-emulator"))
    ap.add_argument("--protocol", type=int, choices=(4, 5), default=5)
    ap.add_argument("--subscribe", action="store_true", help="each client subscribes too")
    ap.add_argument("--limit-mib", type=float, default=200.0)
    args = ap.parse_args()

    fds = raise_fd_limit(args.connections + 256)
    if fds < args.connections + 64:
        raise SystemExit(f"open-file limit {fds} is too low for {args.connections} connections")
    with tempfile.TemporaryDirectory(prefix="iotlua-idle-") as tmp:
        proc, port = start_emulator(args.emulator, tmp)
        base = memory_kib(proc.pid)["VmRSS"]
        socks = []
        start = time.monotonic()
        try:
            for i in range(args.connections):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(connect_bytes(f"idle-{i}", args.protocol))
                first, body = recv_packet(s)
                if first != 0x20 or body[1] != 0:
                    raise SystemExit(f"connection {i}: CONNACK refused: {body!r}")
                if args.subscribe:
                    s.sendall(subscribe_bytes(f"idle/{i}", args.protocol))
                    if recv_packet(s)[0] != 0x90:
                        raise SystemExit(f"connection {i}: no SUBACK")
                socks.append(s)
            connect_s = time.monotonic() - start
            time.sleep(1.0)         # let the allocator settle before reading RSS
            mem = memory_kib(proc.pid)
            # the broker still serves: one more client publishes to the first idle one
            probe = socket.create_connection(("127.0.0.1", port), timeout=10)
            probe.sendall(connect_bytes("idle-probe", args.protocol))
            recv_packet(probe)
            if args.subscribe:
                probe.sendall(b"\x30" + varint(2 + 6 + (1 if args.protocol == 5 else 0) + 2)
                              + mstr("idle/0") + (b"\x00" if args.protocol == 5 else b"")
                              + b"hi")
                first, _ = recv_packet(socks[0])
                if first & 0xF0 != 0x30:
                    raise SystemExit("idle subscriber did not receive the probe")
            probe.close()
        finally:
            for s in socks:
                s.close()
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=30)
    rss_mib = mem["VmRSS"] / 1024
    result = {
        "connections": len(socks), "protocol": args.protocol, "subscribed": args.subscribe,
        "rss_mib": round(rss_mib, 1), "peak_rss_mib": round(mem["VmHWM"] / 1024, 1),
        "baseline_rss_mib": round(base / 1024, 1),
        "kib_per_connection": round((mem["VmRSS"] - base) / max(1, len(socks)), 2),
        "connect_seconds": round(connect_s, 2), "exit_status": status,
        "limit_mib": args.limit_mib,
    }
    print(json.dumps(result))
    return 0 if rss_mib < args.limit_mib and status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
