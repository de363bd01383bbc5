#!/usr/bin/python3
"""recording_server.py - a local HTTP/1.1 server that records requests, checks their
SigV4 signatures independently (with botocore) and answers from a script.

Used by the differential test (boto3 vs iotlua), by the Lua specs (spec/tools/servers.lua)
and by anyone debugging what iotlua puts on the wire.

Run it
------
    /usr/bin/python3 spec/tools/recording_server.py [--ready-file F] [--port 0]
        [--credentials AKID:SECRET ...] [--region us-east-1] [--service iotdata]

It listens on 127.0.0.1 (port 0 = ephemeral), prints one JSON line
{"url": "http://127.0.0.1:P", "port": P, "pid": N} on stdout once ready, writes the same
JSON to the ready file if one is given (atomically: written to F.tmp, then renamed), and
runs until SIGTERM/SIGINT or POST /__control/shutdown.  Without --credentials it knows
the documented AWS example pair AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.

Or in-process from Python:  with RecordingServer() as srv: srv.url, srv.requests(), ...

Control (reserved path prefix /__control/, never recorded, never scripted)
--------------------------------------------------------------------------
  GET    /__control/requests   -> JSON array of recorded requests, oldest first
  DELETE /__control/requests   -> forget them (connection ids keep counting)
  POST   /__control/script     -> body: JSON array of responses, appended to the queue
                                  (or one JSON object)
  DELETE /__control/script     -> empty the queue
  GET    /__control/script     -> what is still queued
  PUT    /__control/default    -> body: JSON response used when the queue is empty
  POST   /__control/shutdown   -> stop the server (the process exits)

A recorded request is a JSON object:
  id            1, 2, ... in order of arrival
  connection    id of the TCP connection it came on (1, 2, ...): equal ids = reuse
  method        "POST"
  target        request target exactly as received, e.g. "/topics/a%2Fb?qos=1"
  path          the part before "?", raw (never decoded)
  query         the part after "?", raw ("" if none)
  query_pairs   [[k, v], ...] split on & and =, still raw (never decoded)
  version       "HTTP/1.1"
  headers       [[name, value], ...] in the order received, names as sent
  body_b64      the body (after de-chunking), base64
  body          the body as text if it is valid UTF-8, else null
  chunked       true if it came with Transfer-Encoding: chunked
  time          epoch seconds of arrival
  signature     {verified: bool, reason: "...", access_key, region, service, date,
                 signed_headers: [...], signature, expected, canonical_request}
  response      what was answered (the script entry, or the default)

A response (script entry) is a JSON object; every field optional:
  status        200
  headers       {"Name": "value"} or [[name, value], ...]  (Content-Length is added)
  body          text   | body_b64: base64 bytes            (default "{}")
  delay         seconds to wait before answering (the connection stays open)
  action        "respond" (default) | "close" (close the connection without answering)
                | "truncate" (announce the full Content-Length, send only half the
                  body, then close)
  repeat        use this entry for the next N requests (default 1)
The default response is {"status": 200, "body": "{}",
"headers": {"Content-Type": "application/json", "x-amzn-RequestId": "rec-<id>"}}
(x-amzn-RequestId is always added, as rec-<request id>, unless the entry sets one).
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CREDENTIALS = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
CONTROL = "/__control/"
S3_SIGNING_NAMES = ("s3", "s3-object-lambda", "s3-outposts")
DEFAULT_RESPONSE = {"status": 200, "body": "{}",
                    "headers": {"Content-Type": "application/json"}}


# --------------------------------------------------------------------------------------
# SigV4 verification: rebuild the request as botocore would have signed it, re-sign it
# with botocore at the request's own X-Amz-Date, compare.
# --------------------------------------------------------------------------------------

def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=x;y, Signature=h' -> dict."""
    algo, _, rest = value.strip().partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        raise ValueError("algorithm is %r, not AWS4-HMAC-SHA256" % algo)
    fields = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            raise ValueError("malformed Authorization component %r" % part.strip())
        fields[key] = val
    for key in ("Credential", "SignedHeaders", "Signature"):
        if key not in fields:
            raise ValueError("Authorization lacks %s" % key)
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise ValueError("malformed credential scope %r" % fields["Credential"])
    return {"access_key": scope[0], "scope_date": scope[1], "region": scope[2],
            "service": scope[3], "signed_headers": fields["SignedHeaders"].split(";"),
            "signature": fields["Signature"]}


def verify_sigv4(method, target, headers, body, credentials, region=None, service=None,
                 max_skew=900):
    """Return a dict {verified, reason, ...}.  headers: [(name, value)] as received."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest, HTTPHeaders
    from botocore.credentials import Credentials

    out = {"verified": False}
    lower = {}
    for name, value in headers:
        lower.setdefault(name.lower(), []).append(value)
    auth = lower.get("authorization")
    if not auth:
        out["reason"] = "no Authorization header"
        return out
    try:
        parsed = parse_authorization(auth[0])
    except ValueError as exc:
        out["reason"] = str(exc)
        return out
    out.update(parsed)
    amz_date = (lower.get("x-amz-date") or [None])[0]
    out["date"] = amz_date
    if amz_date is None:
        out["reason"] = "no X-Amz-Date header"
        return out
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        out["reason"] = "X-Amz-Date %r is not YYYYMMDDTHHMMSSZ" % amz_date
        return out
    skew = abs((datetime.datetime.utcnow() - when).total_seconds())
    if max_skew is not None and skew > max_skew:
        out["reason"] = "X-Amz-Date is %d s away from now" % skew
        return out
    if parsed["scope_date"] != amz_date[:8]:
        out["reason"] = "credential scope date %s differs from X-Amz-Date" % parsed["scope_date"]
        return out
    if region is not None and parsed["region"] != region:
        out["reason"] = "region %r, expected %r" % (parsed["region"], region)
        return out
    if service is not None and parsed["service"] != service:
        out["reason"] = "service %r, expected %r" % (parsed["service"], service)
        return out
    secret = credentials.get(parsed["access_key"])
    if secret is None:
        out["reason"] = "unknown access key %s" % parsed["access_key"]
        return out
    signed = parsed["signed_headers"]
    if signed != sorted(signed) or any(h != h.lower() for h in signed):
        out["reason"] = "SignedHeaders not lower-case and sorted: %s" % ";".join(signed)
        return out
    for required in ("host", "x-amz-date"):
        if required not in signed:
            out["reason"] = "%s is not signed" % required
            return out
    missing = [h for h in signed if h not in lower]
    if missing:
        out["reason"] = "signed header(s) not sent: %s" % ", ".join(missing)
        return out
    body_hash = hashlib.sha256(body).hexdigest()
    claimed = (lower.get("x-amz-content-sha256") or [None])[0]
    if claimed is not None and claimed not in (body_hash, "UNSIGNED-PAYLOAD"):
        out["reason"] = "X-Amz-Content-SHA256 does not match the body received"
        return out

    hdrs = HTTPHeaders()
    for name, value in headers:
        if name.lower() in signed:
            hdrs[name.lower()] = value       # HTTPHeaders keeps duplicates, in order
    request = AWSRequest(method=method, url="http://" + lower["host"][0] + target,
                         data=body)
    request.headers = hdrs
    request.context["timestamp"] = amz_date
    token = (lower.get("x-amz-security-token") or [None])[0]
    # S3's names are signed by botocore's S3 signer: the path as given, not normalised
    # nor encoded again, and X-Amz-Content-SHA256 (the header's value) as the payload.
    auth_class = S3SigV4Auth if parsed["service"] in S3_SIGNING_NAMES else SigV4Auth
    signer = auth_class(Credentials(parsed["access_key"], secret, token),
                        parsed["service"], parsed["region"])
    canonical = signer.canonical_request(request)
    out["canonical_request"] = canonical
    got_signed = canonical.split("\n")[-2].split(";")
    if got_signed != signed:
        out["reason"] = "botocore would sign %s, request claims %s" % (
            ";".join(got_signed), ";".join(signed))
        return out
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    out["expected"] = expected
    if hmac.compare_digest(expected, parsed["signature"]):
        out["verified"] = True
        out["reason"] = "ok"
    else:
        out["reason"] = "signature mismatch"
    return out


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------

class State:
    """Recorded requests, the response script and the connection counter (thread-safe)."""

    def __init__(self, credentials, region, service):
        self.lock = threading.Lock()
        self.credentials = credentials
        self.region = region
        self.service = service
        self.records = []
        self.script = []
        self.default = dict(DEFAULT_RESPONSE)
        self.next_request = 1
        self.next_connection = 1

    def new_connection(self):
        with self.lock:
            cid = self.next_connection
            self.next_connection += 1
            return cid

    def take_response(self):
        with self.lock:
            rid = self.next_request
            self.next_request += 1
            if not self.script:
                return rid, dict(self.default)
            entry = self.script[0]
            left = int(entry.get("repeat", 1)) - 1
            if left > 0:
                self.script[0] = dict(entry, repeat=left)
            else:
                self.script.pop(0)
            entry = dict(entry)
            entry.pop("repeat", None)
            return rid, entry

    def add(self, record):
        with self.lock:
            self.records.append(record)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "recording-server/1"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection_id = self.server.state.new_connection()

    def log_message(self, fmt, *args):   # quiet; the records are the log
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    # ---- body -----------------------------------------------------------------------
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return self.read_chunked(), True
        length = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(length) if length > 0 else b""), False

    def read_chunked(self):
        parts = []
        while True:
            size_line = self.rfile.readline(65537)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass                   # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)     # CRLF after each chunk

    # ---- dispatch -------------------------------------------------------------------
    def dispatch(self):
        body, chunked = self.read_body()
        if self.path.startswith(CONTROL):
            return self.control(body)
        state = self.server.state
        rid, response = state.take_response()
        headers = list(self.headers.items())
        path, _, query = self.path.partition("?")
        record = {
            "id": rid, "connection": self.connection_id, "method": self.command,
            "target": self.path, "path": path, "query": query,
            "query_pairs": [list(p.partition("=")[::2]) for p in query.split("&")] if query else [],
            "version": self.request_version, "headers": [list(h) for h in headers],
            "body_b64": base64.b64encode(body).decode(), "body": _text(body),
            "chunked": chunked, "time": time.time(),
            "signature": _safe_verify(self.command, self.path, headers, body, state),
            "response": response,
        }
        state.add(record)
        self.answer(rid, response)

    def answer(self, rid, response):
        delay = float(response.get("delay") or 0)
        if delay > 0:
            time.sleep(delay)
        action = response.get("action", "respond")
        if action == "close":
            self.close_connection = True
            return
        if "body_b64" in response:
            payload = base64.b64decode(response["body_b64"])
        else:
            payload = str(response.get("body", "{}")).encode()
        headers = response.get("headers") or {}
        items = list(headers.items()) if isinstance(headers, dict) else [tuple(h) for h in headers]
        if not any(k.lower() == "x-amzn-requestid" for k, _ in items):
            items.append(("x-amzn-RequestId", "rec-%d" % rid))
        try:
            self.send_response(int(response.get("status", 200)))
            for key, value in items:
                if key.lower() != "content-length":
                    self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if action == "truncate":
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---- control --------------------------------------------------------------------
    def control(self, body):
        state = self.server.state
        what = self.path[len(CONTROL):].split("?")[0]
        key = (self.command, what)
        try:
            data = json.loads(body) if body else None
        except ValueError as exc:
            return self.reply(400, {"error": "body is not JSON: %s" % exc})
        with state.lock:
            if key == ("GET", "requests"):
                return self.reply(200, list(state.records))
            if key == ("DELETE", "requests"):
                state.records.clear()
                return self.reply(200, {"ok": True})
            if key == ("GET", "script"):
                return self.reply(200, list(state.script))
            if key == ("POST", "script"):
                entries = data if isinstance(data, list) else [data]
                if not all(isinstance(e, dict) for e in entries):
                    return self.reply(400, {"error": "script entries must be objects"})
                state.script.extend(entries)
                return self.reply(200, {"queued": len(state.script)})
            if key == ("DELETE", "script"):
                state.script.clear()
                return self.reply(200, {"ok": True})
            if key == ("PUT", "default"):
                if not isinstance(data, dict):
                    return self.reply(400, {"error": "default must be an object"})
                state.default = data
                return self.reply(200, {"ok": True})
        if key == ("POST", "shutdown"):
            self.reply(200, {"ok": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return None
        return self.reply(404, {"error": "no control %s %s" % key})

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _text(body):
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _safe_verify(method, target, headers, body, state):
    try:
        return verify_sigv4(method, target, headers, body, state.credentials,
                            state.region, state.service)
    except Exception as exc:   # a verifier bug must show up in the record, not kill it
        return {"verified": False, "reason": "verifier error: %r" % exc}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class RecordingServer:
    """In-process use:  with RecordingServer() as srv: ... srv.requests() ..."""

    def __init__(self, credentials=None, region="us-east-1", service="iotdata", port=0):
        self.state = State(dict(credentials or DEFAULT_CREDENTIALS), region, service)
        self.httpd = Server(("127.0.0.1", port), Handler)
        self.httpd.state = self.state
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def requests(self):
        with self.state.lock:
            return [json.loads(json.dumps(r)) for r in self.state.records]

    def clear(self):
        with self.state.lock:
            self.state.records.clear()
            self.state.script.clear()

    def script(self, *entries):
        with self.state.lock:
            self.state.script.extend(dict(e) for e in entries)

    def set_default(self, entry):
        with self.state.lock:
            self.state.default = dict(entry)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file")
    ap.add_argument("--credentials", action="append", metavar="AKID:SECRET")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--service", default="iotdata")
    args = ap.parse_args(argv)
    creds = None
    if args.credentials:
        creds = dict(c.split(":", 1) for c in args.credentials)
    srv = RecordingServer(creds, args.region, args.service, args.port)
    info = json.dumps({"url": srv.url, "port": srv.port, "pid": os.getpid()})
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(info + "\n")
        os.replace(tmp, args.ready_file)
    print(info, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=srv.httpd.shutdown, daemon=True).start())
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
