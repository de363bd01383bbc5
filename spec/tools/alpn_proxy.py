#!/usr/bin/env python3
"""A TLS front for a plain MQTT broker that insists on an ALPN protocol, as AWS IoT Core
does for MQTT with a client certificate on port 443 ("x-amzn-mqtt-ca").

    alpn_proxy.py --cert C --key K --upstream PORT --alpn NAME --ready-file F

Listens on 127.0.0.1 (an ephemeral port, written to F as {"port": P} once listening).
A client that does not offer NAME is closed right after the handshake (logged as
refused); one that does is connected to 127.0.0.1:PORT and the bytes are relayed both
ways. Each connection is logged on stdout as one JSON line with the protocol selected.
"""
import argparse
import json
import socket
import ssl
import sys
import threading


def relay(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, ctx, upstream):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print(json.dumps({"event": "refused", "error": str(e)}), flush=True)
        conn.close()
        return
    selected = tls.selected_alpn_protocol()
    if selected != ctx.wanted_alpn:
        print(json.dumps({"event": "refused", "alpn": selected}), flush=True)
        tls.close()
        return
    print(json.dumps({"event": "accepted", "alpn": selected}), flush=True)
    up = socket.create_connection(("127.0.0.1", upstream))
    threading.Thread(target=relay, args=(tls, up), daemon=True).start()
    relay(up, tls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--alpn", required=True)
    ap.add_argument("--ready-file", required=True)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols([a.alpn])
    ctx.wanted_alpn = a.alpn
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    with open(a.ready_file, "w") as f:
        json.dump({"port": server.getsockname()[1]}, f)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, ctx, a.upstream), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
