"""The client's HTTPS on the native HTTP/1.1 transport (issue 16, point 1), against small
Python ssl servers on 127.0.0.1: verification (custom CA, unknown CA, a certificate for
another host), handshake failures, SNI, ALPN, session resumption, and a server that
closes mid-response. Every case reads core.http_stats() from the iotlua run, so a
silent fall-back to libcurl fails it; one case checks IOTLUA_HTTP_TRANSPORT=curl."""

import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from conftest import BUILD_DIR

HOST = os.environ.get("IOTLUA_HOST", os.path.join(BUILD_DIR, "iotlua"))

SCRIPT = r"""
local iotlua = require("iotlua")
local core = require("iotlua.core")
local cjson = require("cjson")
local url, ca, n, attempts, verify = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4]), arg[5]
local concurrency = tonumber(arg[6])
local iot = assert(iotlua.client{
  endpoint = url, region = "us-east-1", timeout = 5, max_attempts = attempts,
  credentials = { access_key_id = "AKIAIOSFODNN7EXAMPLE",
                  secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
  ca_bundle = ca ~= "" and ca or nil, verify_tls = verify ~= "off" })
local out = { calls = {} }
local t0 = core.now()
local function call(i)
  local r, err = iot:publish{ topic = "tls/t", payload = "x" }
  out.calls[i] = r and { ok = true, attempts = r.ResponseMetadata.RetryAttempts + 1 }
                 or { ok = false, code = err.code, message = err.message, attempts = err.attempts }
  out.calls[i].ms = math.floor((core.now() - t0) * 1000)
end
local items = {}
for i = 1, n do items[i] = i end
if concurrency > 1 then
  iotlua.map(items, call, { concurrency = concurrency })
else
  for i = 1, n do call(i) end
end
out.stats = core.http_stats()
out.stores = core.stream_tls_stats().stores
print(cjson.encode(out))
"""


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki():
    """A CA; a server certificate for localhost and 127.0.0.1 and one for other.example,
    both signed by it; a self-signed certificate nobody trusts."""
    d = tempfile.TemporaryDirectory(prefix="iotlua-clienttls-")
    p = lambda name: os.path.join(d.name, name)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "1",
            "-subj", "/CN=iotlua-clienttls-ca")
    for name, san in (("local", "DNS:localhost,IP:127.0.0.1"), ("other", "DNS:other.example")):
        openssl("req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
                "-subj", "/CN=" + name)
        with open(p(name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey",
                p("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", p(name + ".ext"),
                "-out", p(name + ".pem"))
    openssl("req", "-x509", *ec, "-keyout", p("self.key"), "-out", p("self.pem"), "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    yield p
    d.cleanup()


class TlsServer:
    """HTTPS on 127.0.0.1:ephemeral. Records per connection the SNI name, the ALPN
    protocol chosen (it offers h2 first, so "http/1.1" means the client offered that and
    not h2), whether the session was resumed, and the requests. mode: "ok" (200, kept
    alive), "close" (200 with Connection: close, then closed), "truncate" (half of the
    announced body, then the TCP connection closed), "plain" (no TLS: an HTTP answer to
    the ClientHello)."""

    def __init__(self, cert, key, mode="ok", max_version=None, alpn=("h2", "http/1.1"),
                 tickets=True, first_delay=0, body_delay=0):
        self.first_delay = first_delay
        self.body_delay = body_delay            # s before reading a request's body
        self.bodies = []                        # (length, sha256) of each request body
        self.mode = mode
        self.conns = []
        self.requests = 0
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.set_alpn_protocols(list(alpn))
        if max_version:
            self.ctx.maximum_version = max_version
        if not tickets:
            self.ctx.num_tickets = 0            # TLS 1.3: no session to resume
        self.ctx.sni_callback = self._sni
        self.sni = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _sni(self, sslobj, name, ctx):
        with self.lock:
            self.sni.append(name)

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        raw.settimeout(10)
        try:
            if self.mode == "plain":
                raw.recv(4096)
                raw.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            s = self.ctx.wrap_socket(raw, server_side=True)
            conn = {"alpn": s.selected_alpn_protocol(), "resumed": s.session_reused,
                    "version": s.version(), "requests": 0}
            with self.lock:
                self.conns.append(conn)
            self._exchanges(s, conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()

    def _exchanges(self, s, conn):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = s.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if self.body_delay:
                time.sleep(self.body_delay)     # the client's socket fills meanwhile
            rest = bytearray(buf)
            while len(rest) < length:
                data = s.recv(65536)
                if not data:
                    return
                rest += data
            body, buf = bytes(rest[:length]), bytes(rest[length:])
            with self.lock:
                self.bodies.append((len(body), hashlib.sha256(body).hexdigest()))
            with self.lock:
                conn["requests"] += 1
                self.requests += 1
                first = self.requests == 1
            if first and self.first_delay:
                time.sleep(self.first_delay)
            if self.mode == "truncate":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"half\":")
                return                          # TCP close, no close_notify
            close = self.mode == "close"
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
                      (b"Connection: close\r\n" if close else b"") +
                      b"Content-Length: 2\r\n\r\n{}")
            if close:
                s.unwrap()
                return

    def stop(self):
        self.sock.close()


@pytest.fixture
def servers():
    made = []
    def make(*args, **kw):
        srv = TlsServer(*args, **kw)
        made.append(srv)
        return srv
    yield make
    for srv in made:
        srv.stop()


def run(url, ca="", calls=1, attempts=1, verify="on", env_extra=None, concurrency=1):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true")
    env.pop("IOTLUA_HTTP_TRANSPORT", None)
    env.update(env_extra or {})
    try:
        p = subprocess.run([HOST, f.name, url, ca, str(calls), str(attempts), verify,
                            str(concurrency)],
                           env=env, capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(f.name)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def native_only(out, attempts):
    assert out["stats"]["native_tls"] == attempts, out
    assert out["stats"]["libcurl"] == 0, out


def test_custom_ca_verifies_on_the_native_path(pki, servers):
    srv = servers(pki("local.pem"), pki("local.key"))
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"), calls=3)
    assert [c["ok"] for c in out["calls"]] == [True, True, True]
    native_only(out, 3)
    assert len(srv.conns) == 1 and srv.conns[0]["requests"] == 3   # kept alive
    assert out["stats"]["tls_handshakes"] == 1


def test_unknown_ca_is_a_tls_error_not_retried(pki, servers):
    srv = servers(pki("local.pem"), pki("local.key"))
    out = run("https://127.0.0.1:%d" % srv.port, attempts=3)      # system store only
    call = out["calls"][0]
    assert (call["ok"], call["code"], call["attempts"]) == (False, "TLSError", 1)
    assert "certificate verification" in call["message"]
    native_only(out, 1)
    assert srv.requests == 0


def test_self_signed_certificate_trusted_when_named(pki, servers):
    srv = servers(pki("self.pem"), pki("self.key"))
    assert run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"))["calls"][0]["code"] == "TLSError"
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("self.pem"))
    assert out["calls"][0]["ok"]
    native_only(out, 1)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_certificate_for_another_host_is_refused(pki, servers, host):
    srv = servers(pki("other.pem"), pki("other.key"))
    out = run("https://%s:%d" % (host, srv.port), ca=pki("ca.pem"), attempts=3)
    call = out["calls"][0]
    assert (call["ok"], call["code"], call["attempts"]) == (False, "TLSError", 1)
    assert "mismatch" in call["message"], call["message"]
    native_only(out, 1)
    assert srv.requests == 0


def test_a_missing_ca_bundle_is_a_tls_error(pki, servers):
    srv = servers(pki("local.pem"), pki("local.key"))
    out = run("https://127.0.0.1:%d" % srv.port, ca="/nonexistent/ca.pem")
    call = out["calls"][0]
    assert (call["code"], call["attempts"]) == ("TLSError", 1)
    assert "/nonexistent/ca.pem" in call["message"]
    assert out["stats"]["libcurl"] == 0


def test_handshake_failure_is_a_tls_error(pki, servers):
    srv = servers(pki("local.pem"), pki("local.key"), mode="plain")
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"), attempts=2)
    call = out["calls"][0]
    assert (call["ok"], call["code"]) == (False, "TLSError")
    assert "TLS handshake" in call["message"]
    assert call["attempts"] == 2                # retryable, as on libcurl
    native_only(out, 2)


def test_sni_is_sent_for_a_host_name_not_for_an_ip(pki, servers):
    srv = servers(pki("local.pem"), pki("local.key"))
    assert run("https://localhost:%d" % srv.port, ca=pki("ca.pem"))["calls"][0]["ok"]
    assert run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"))["calls"][0]["ok"]
    assert srv.sni == ["localhost", None]       # RFC 6066: no SNI for an address


def test_alpn_offers_http11_only(pki, servers):
    srv = servers(pki("local.pem"), pki("local.key"))
    assert run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"))["calls"][0]["ok"]
    assert srv.conns[0]["alpn"] == "http/1.1"   # h2 was the server's first choice


def test_verify_tls_false_accepts_any_certificate(pki, servers):
    srv = servers(pki("other.pem"), pki("other.key"))
    out = run("https://127.0.0.1:%d" % srv.port, verify="off")
    assert out["calls"][0]["ok"]
    native_only(out, 1)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_reconnect_resumes_the_session(pki, servers, version):
    srv = servers(pki("local.pem"), pki("local.key"), mode="close",
                  max_version=getattr(ssl.TLSVersion, version))
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"), calls=3)
    assert [c["ok"] for c in out["calls"]] == [True, True, True]
    assert [c["resumed"] for c in srv.conns] == [False, True, True]
    assert {c["version"] for c in srv.conns} == {version.replace("_", ".")}
    assert out["stats"]["tls_handshakes"] == 3 and out["stats"]["tls_resumed"] == 2
    native_only(out, 3)


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_concurrent_connections_resume_the_first_session(pki, servers, version):
    """Calls started together: the first connection's full handshake, then the others
    resume its session (they wait for it rather than each verifying the certificate)."""
    srv = servers(pki("local.pem"), pki("local.key"), max_version=getattr(ssl.TLSVersion, version))
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"), calls=40, concurrency=8)
    assert all(c["ok"] for c in out["calls"]) and len(out["calls"]) == 40
    assert len(srv.conns) == 8, srv.conns
    full = [c["resumed"] for c in srv.conns].count(False)
    assert out["stats"]["tls_handshakes"] == 8 and out["stats"]["tls_resumed"] == 8 - full
    if version == "TLSv1_2":
        assert full == 1                        # the session comes with the handshake
    else:
        # the ticket comes after the handshake; the others wait for it up to 100 ms, which
        # a loaded machine may overrun for some of them
        assert full <= 4, srv.conns
    native_only(out, 40)


def test_a_server_without_sessions_delays_the_others_briefly(pki, servers):
    """TLS 1.3 without tickets brings no session: calls started beside a first one whose
    answer is slow wait for its session at most briefly (100 ms), not for the answer."""
    srv = servers(pki("local.pem"), pki("local.key"), tickets=False, first_delay=2,
                  max_version=ssl.TLSVersion.TLSv1_3)
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"), calls=4, concurrency=4)
    assert all(c["ok"] for c in out["calls"])
    times = sorted(c["ms"] for c in out["calls"])
    assert times[-1] >= 2000 and times[2] < 1500, times
    assert out["stats"]["tls_resumed"] == 0
    native_only(out, 4)


@pytest.mark.parametrize("attempts", [1, 3])
def test_close_mid_response_is_a_network_error_each_send_counted(pki, servers, attempts):
    srv = servers(pki("local.pem"), pki("local.key"), mode="truncate")
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"), attempts=attempts)
    call = out["calls"][0]
    assert (call["ok"], call["code"], call["attempts"]) == (False, "NetworkError", attempts)
    assert srv.requests == attempts             # never sent twice without a counted retry
    native_only(out, attempts)


BIG_BODY_SCRIPT = r"""
local iotlua = require("iotlua")
local core = require("iotlua.core")
local cjson = require("cjson")
local url, ca, size = arg[1], arg[2], tonumber(arg[3])
local iot = assert(iotlua.client{
  endpoint = url, region = "us-east-1", timeout = 30, ca_bundle = ca,
  credentials = { access_key_id = "AKIAIOSFODNN7EXAMPLE",
                  secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" } })
local chunk = {}
for i = 1, 256 do chunk[i] = string.char(i - 1) end
local payload = string.rep(table.concat(chunk), size // 256)
local r, err = iot:publish{ topic = "tls/big", payload = payload }
print(cjson.encode{ ok = r ~= nil, code = err and err.code, message = err and err.message,
                    stats = core.http_stats() })
"""


def test_a_body_larger_than_the_socket_takes_arrives_whole(pki, servers, tmp_path):
    """A request body of 8 MiB over TLS to a server that lets it wait half a second: the
    socket fills, the records OpenSSL wrote are kept and sent as it drains, and the server
    receives every byte in order (its SHA-256)."""
    size = 8 << 20
    srv = servers(pki("local.pem"), pki("local.key"), body_delay=0.5)
    script = tmp_path / "big.lua"
    script.write_text(BIG_BODY_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true")
    env.pop("IOTLUA_HTTP_TRANSPORT", None)
    p = subprocess.run([HOST, str(script), "https://127.0.0.1:%d" % srv.port, pki("ca.pem"),
                        str(size)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["ok"], out
    expected = hashlib.sha256(bytes(range(256)) * (size // 256)).hexdigest()
    assert srv.bodies == [(size, expected)]
    assert out["stats"]["native_tls"] == 1 and out["stats"]["libcurl"] == 0, out


def test_iotlua_http_transport_curl_forces_libcurl(pki, servers):
    srv = servers(pki("local.pem"), pki("local.key"), alpn=["http/1.1"])   # libcurl offers h2
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("ca.pem"),
              env_extra={"IOTLUA_HTTP_TRANSPORT": "curl"})
    assert out["calls"][0]["ok"]
    assert out["stats"]["libcurl"] == 1 and out["stats"]["native"] == 0
    out = run("https://127.0.0.1:%d" % srv.port, ca=pki("self.pem"),
              env_extra={"IOTLUA_HTTP_TRANSPORT": "curl"})
    assert out["calls"][0]["code"] == "TLSError"   # the same code from libcurl


def python_trusts(port, env):
    """Whether Python's ssl (OpenSSL's default locations, read eagerly) verifies the
    server under env's SSL_CERT_FILE / SSL_CERT_DIR: the independent verdict."""
    code = ("import socket, ssl, sys\n"
            "ctx = ssl.create_default_context()\n"
            "try:\n"
            "    ctx.wrap_socket(socket.create_connection(('127.0.0.1', %d)),\n"
            "                    server_hostname='127.0.0.1').close()\n"
            "except ssl.SSLCertVerificationError:\n"
            "    sys.exit(3)\n" % port)
    return subprocess.run([sys.executable, "-c", code], env=env, timeout=30).returncode == 0


@pytest.mark.parametrize("transport", ["native", "curl"])
@pytest.mark.parametrize("where", ["directory", "bundle", "neither"])
def test_the_system_store_is_where_openssl_looks(pki, servers, tmp_path, where, transport):
    """No ca_bundle: the system store, at SSL_CERT_DIR (hashed by `openssl rehash`) and
    SSL_CERT_FILE; iotlua reads the bundle only for what the directory lacks, and trusts
    what OpenSSL's own defaults (Python's ssl here) trust. libcurl's connections get the
    same store (libcurl alone would read only its built-in bundle)."""
    srv = servers(pki("local.pem"), pki("local.key"), alpn=["http/1.1"])   # libcurl offers h2
    hashed, empty = tmp_path / "hashed", tmp_path / "empty"
    hashed.mkdir()
    empty.mkdir()
    with open(pki("ca.pem")) as f:
        ca = f.read()
    (hashed / "ca.pem").write_text(ca)
    openssl("rehash", str(hashed))
    bundle = tmp_path / "bundle.pem"
    others = "".join(open(pki(n)).read() for n in ("self.pem", "other.pem"))
    bundle.write_text(others + (ca if where == "bundle" else "") + others)
    env = {"SSL_CERT_DIR": str(hashed if where == "directory" else empty),
           "SSL_CERT_FILE": str(bundle)}
    forced = {"IOTLUA_HTTP_TRANSPORT": "curl"} if transport == "curl" else {}
    out = run("https://127.0.0.1:%d" % srv.port, env_extra=dict(env, **forced))
    call = out["calls"][0]
    assert call["ok"] == (where != "neither"), call
    if where == "neither":
        assert (call["code"], call["attempts"]) == ("TLSError", 1)
        assert "certificate" in call["message"]
    assert python_trusts(srv.port, dict(os.environ, **env)) == call["ok"]
    assert out["stores"] == 1                   # the engine's system store, either transport
    if transport == "curl":
        assert out["stats"]["libcurl"] == 1 and out["stats"]["native"] == 0
    else:
        native_only(out, 1)
