#!/usr/bin/python3
"""http_call.py METHOD URL  — one plain HTTP request for the Lua specs (which have no
sockets): the request body is read from stdin (empty: none); prints one JSON line
{"status": N, "body": "..."} on stdout.  Used by spec/tools/servers.lua to drive the
recording server's /__control/ and the emulator's /_emulator/ controls, both on
127.0.0.1.  Exits 0 whenever an HTTP answer came back, 2 when none did."""

import http.client
import json
import sys
import urllib.parse


def main():
    method, url = sys.argv[1], sys.argv[2]
    body = sys.stdin.buffer.read()
    parts = urllib.parse.urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = {"Content-Type": "application/json"} if body else {}
        conn.request(method, target or "/", body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        print(json.dumps({"status": None, "error": "%s: %s" % (type(exc).__name__, exc)}))
        return 2
    print(json.dumps({"status": resp.status, "body": data.decode("utf-8", "replace")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
