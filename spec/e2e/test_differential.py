"""Differential test: the same call made by boto3 and by iotlua must put the same
request on the wire.

Both clients talk to spec/tools/recording_server.py on 127.0.0.1 with the same fixed
credentials and region. For every case of the table below (all four operations, every
parameter of the model, tricky topics and client ids) the two recorded requests must have
the same method, raw path, query (as a multiset of raw key=value pairs), set of signed
headers, values of every header that carries data, and body; and both signatures must
verify (botocore, recomputed by the server). Then retries, throttling, timeouts and error
bodies are exercised through iotlua against scripted responses.

iotlua runs as a child process: $IOTLUA_BUILD_DIR/iotlua running a generated script.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("IOTLUA_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("IOTLUA_BUILD_DIR", os.path.join(SOURCE, "build"))
sys.path.insert(0, os.path.join(SOURCE, "spec", "tools"))
os.environ.setdefault("AWS_DATA_PATH", os.path.join(SOURCE, "spec", "fixtures", "aws-models"))
os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"

import boto3                      # noqa: E402
import botocore.config            # noqa: E402
import recording_server as rs     # noqa: E402

AKID, SECRET, REGION = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"

# Headers that differ by nature between two SDKs, or are transport details.
VOLATILE = {"authorization", "x-amz-date", "user-agent", "amz-sdk-invocation-id",
            "amz-sdk-request", "accept", "accept-encoding", "connection", "expect",
            "content-length", "transfer-encoding"}


# ----------------------------------------------------------------------------- values

class Table:
    """payload given to iotlua as a Lua table (JSON-encoded by iotlua); boto3 gets the
    compact JSON bytes. Bodies are compared as JSON values (key order may differ)."""
    def __init__(self, value):
        self.value = value


class File:
    """payload given as an open file (iotlua: io.open(path, "rb"), boto3: open(path))."""
    def __init__(self, data):
        self.data = data


class JsonText:
    """userProperties given to iotlua as a JSON string; boto3 gets the decoded value."""
    def __init__(self, text):
        self.text = text


def lua_string(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return '"' + "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\%03d" % c
                         for c in data) + '"'


def lua_literal(value, tmp):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (str, bytes)):
        return lua_string(value)
    if isinstance(value, Table):
        return lua_literal(value.value, tmp)
    if isinstance(value, JsonText):
        return lua_string(value.text)
    if isinstance(value, File):
        path = os.path.join(tmp, "payload-%d" % id(value))
        with open(path, "wb") as f:
            f.write(value.data)
        return "assert(io.open(%s, \"rb\"))" % lua_string(path)
    if isinstance(value, list):
        return "{ " + ", ".join(lua_literal(v, tmp) for v in value) + " }"
    if isinstance(value, dict):
        return "{ " + ", ".join("[%s] = %s" % (lua_string(k), lua_literal(v, tmp))
                               for k, v in value.items()) + " }"
    raise TypeError(value)


def boto_value(value):
    if isinstance(value, Table):
        return json.dumps(value.value, separators=(",", ":")).encode()
    if isinstance(value, File):
        f = tempfile.TemporaryFile()
        f.write(value.data)
        f.seek(0)
        return f
    if isinstance(value, JsonText):
        return json.loads(value.text)
    return value


# ----------------------------------------------------------------------------- clients

_BOTO = {}


def boto_client(url, attempts=1):
    """A boto3 iot-data client for url (cached: creating one costs about 0.3 s)."""
    if (url, attempts) in _BOTO:
        return _BOTO[url, attempts]
    cfg = botocore.config.Config(retries={"total_max_attempts": attempts, "mode": "standard"})
    _BOTO[url, attempts] = boto3.client(
        "iot-data", endpoint_url=url, region_name=REGION, aws_access_key_id=AKID,
        aws_secret_access_key=SECRET, config=cfg)
    return _BOTO[url, attempts]


LUA_CALL = """
local iotlua = require("iotlua")
local cjson = require("cjson")
local iot = assert(iotlua.client{ endpoint = %(endpoint)s, region = "us-east-1",
  credentials = %(credentials)s, %(options)s })
local r, err
for _ = 1, %(times)d do r, err = iot:%(method)s(%(params)s) end
local out = { ok = r ~= nil }
if r then
  out.result = r
else
  out.err = { code = err.code, message = err.message, status = err.status,
              request_id = err.request_id, operation = err.operation,
              retryable = err.retryable, attempts = err.attempts, text = tostring(err) }
end
io.write(cjson.encode(out))
"""


CREDENTIALS = {"access_key_id": AKID, "secret_access_key": SECRET}


def asan_preload():
    """Stock lua5.4 loading a sanitizer build of iotlua.so needs the ASan runtime first."""
    out = subprocess.run(["ldd", os.path.join(BUILD, "iotlua.so")], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            return {"LD_PRELOAD": line.split("=>")[1].split("(")[0].strip(),
                    "ASAN_OPTIONS": "detect_leaks=0"}
    return {}


def run_iotlua(url, method, params, options="max_attempts = 1", timeout=60,
               credentials=CREDENTIALS, times=1, runner="host"):
    """Runs a call (times times, one client) through build/iotlua (runner "host") or stock
    lua5.4 with build/iotlua.so (runner "module"); returns the decoded {ok, result|err}
    of the last."""
    with tempfile.TemporaryDirectory(prefix="iotlua-diff-") as tmp:
        script = os.path.join(tmp, "call.lua")
        with open(script, "w") as f:
            f.write(LUA_CALL % {"endpoint": lua_string(url), "options": options,
                                "method": method, "params": lua_literal(params, tmp),
                                "credentials": lua_literal(credentials, tmp), "times": times})
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        if runner == "host":
            argv = [os.path.join(BUILD, "iotlua"), script]
        else:
            env["LUA_CPATH"] = os.path.join(BUILD, "?.so") + ";;"
            env.update(asan_preload())
            argv = ["lua5.4", script]
        proc = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
    assert proc.returncode == 0, "iotlua failed (%d):\n%s\n%s" % (
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def server():
    with rs.RecordingServer() as srv:
        yield srv


@pytest.fixture
def srv(server):
    server.clear()
    server.set_default(rs.DEFAULT_RESPONSE)
    yield server


# ----------------------------------------------------------------------------- the table

TRICKY_TOPICS = [
    "a/b c/#", "$aws/things/x/shadow/update", "100%", "50%25", "a+b/+/c", "~home~/x_y-z.w",
    "température/ü/日本語", "/leading", "double//slash", "trailing/", "q?x=1&y=2",
    "semi;colon,comma", "quote'\"back\\slash", "tab\tand newline\n",
]

PAYLOAD_BINARY = bytes(range(256))

CASES = [("publish topic %r" % t, "publish", {"topic": t, "payload": b"x"}) for t in TRICKY_TOPICS]
CASES += [
    ("publish minimal", "publish", {"topic": "t"}),
    ("publish empty payload", "publish", {"topic": "t", "payload": b""}),
    ("publish qos 0", "publish", {"topic": "t", "qos": 0, "payload": b"p"}),
    ("publish qos 1 retain", "publish", {"topic": "t", "qos": 1, "retain": True, "payload": b"p"}),
    ("publish retain false", "publish", {"topic": "t", "retain": False}),
    ("publish binary payload", "publish", {"topic": "bin", "payload": PAYLOAD_BINARY}),
    ("publish utf-8 payload", "publish", {"topic": "u", "payload": "héllo ✓".encode()}),
    ("publish table payload", "publish", {"topic": "t", "payload": Table({"temp": 21, "ok": True,
                                                                         "tags": ["a", "b"]})}),
    ("publish file payload", "publish", {"topic": "f", "payload": File(PAYLOAD_BINARY * 300)}),
    ("publish contentType", "publish", {"topic": "t", "contentType": "application/json; charset=utf-8"}),
    ("publish responseTopic", "publish", {"topic": "t", "responseTopic": "reply/to me/#"}),
    ("publish utf-8 query values", "publish",
     {"topic": "t", "responseTopic": "réponse/✓/+", "contentType": "text/plain; charset=ü"}),
    ("publish query values with & = + %", "publish",
     {"topic": "t", "responseTopic": "a&b=c+d%e", "contentType": "x=y&z"}),
    ("publish userProperties", "publish", {"topic": "t", "userProperties": [{"a": "1"}, {"b": "two words"}]}),
    ("publish userProperties duplicate keys", "publish",
     {"topic": "t", "userProperties": [{"k": "1"}, {"k": "2"}]}),
    ("publish userProperties utf-8", "publish", {"topic": "t", "userProperties": [{"ключ": "ü"}]}),
    ("publish userProperties as JSON text", "publish",
     {"topic": "t", "userProperties": JsonText('[{"a":"1"}]')}),
    ("publish payloadFormatIndicator UTF8_DATA", "publish",
     {"topic": "t", "payloadFormatIndicator": "UTF8_DATA"}),
    ("publish payloadFormatIndicator UNSPECIFIED_BYTES", "publish",
     {"topic": "t", "payloadFormatIndicator": "UNSPECIFIED_BYTES"}),
    ("publish correlationData", "publish", {"topic": "t", "correlationData": "YWJjZA=="}),
    ("publish messageExpiry", "publish", {"topic": "t", "messageExpiry": 3600}),
    ("publish messageExpiry large", "publish", {"topic": "t", "messageExpiry": 4294967295}),
    ("publish everything", "publish", {
        "topic": "fleet/a b/#", "qos": 1, "retain": True, "payload": b'{"x":1}',
        "userProperties": [{"trace": "t-1"}], "payloadFormatIndicator": "UTF8_DATA",
        "contentType": "application/json", "responseTopic": "fleet/replies",
        "correlationData": "Y29ycg==", "messageExpiry": 60}),
    ("send_direct_message minimal", "send_direct_message", {"clientId": "sensor-42", "topic": "cmd/reboot"}),
    ("send_direct_message confirmation", "send_direct_message",
     {"clientId": "sensor-42", "topic": "cmd/reboot", "payload": b'{"now":true}',
      "confirmation": True, "timeout": 5}),
    ("send_direct_message confirmation false", "send_direct_message",
     {"clientId": "sensor-42", "topic": "t", "confirmation": False}),
    ("send_direct_message tricky topic in query", "send_direct_message",
     {"clientId": "c", "topic": "a/b c/#+%~ü"}),
    ("send_direct_message tricky clientId", "send_direct_message",
     {"clientId": "dev ü/1+%~#?&=", "topic": "t"}),
    ("send_direct_message table payload", "send_direct_message",
     {"clientId": "c", "topic": "t", "payload": Table({"cfg": {"rate": 5}})}),
    ("send_direct_message file payload", "send_direct_message",
     {"clientId": "c", "topic": "t", "payload": File(b"line 1\nline 2\n")}),
    ("send_direct_message everything", "send_direct_message", {
        "clientId": "sensor-42", "topic": "cmd/set", "payload": b"on", "confirmation": True,
        "timeout": 10, "contentType": "text/plain", "responseTopic": "cmd/set/reply",
        "userProperties": [{"op": "set"}, {"by": "qa"}], "payloadFormatIndicator": "UTF8_DATA",
        "correlationData": "MTIz"}),
    ("get_connection", "get_connection", {"clientId": "sensor-42"}),
    ("get_connection includeSocketInformation true", "get_connection",
     {"clientId": "sensor-42", "includeSocketInformation": True}),
    ("get_connection includeSocketInformation false", "get_connection",
     {"clientId": "sensor-42", "includeSocketInformation": False}),
    ("get_connection tricky clientId", "get_connection", {"clientId": "a/b c#?&=+%~日本"}),
    ("list_subscriptions", "list_subscriptions", {"clientId": "sensor-42"}),
    ("list_subscriptions maxResults", "list_subscriptions", {"clientId": "sensor-42", "maxResults": 50}),
    ("list_subscriptions bounds", "list_subscriptions", {"clientId": "s", "maxResults": 200}),
    ("list_subscriptions nextToken", "list_subscriptions",
     {"clientId": "s", "maxResults": 1, "nextToken": "eyJrIjoiYSsvPSJ9+/= x"}),
]


def significant_headers(rec):
    out = {}
    for name, value in rec["headers"]:
        if name.lower() not in VOLATILE:
            out.setdefault(name.lower(), []).append(value)
    return out


def user_properties(value):
    return json.loads(base64.b64decode(value))


def body_bytes(rec):
    return base64.b64decode(rec["body_b64"])


@pytest.mark.parametrize("name,method,params", CASES, ids=[c[0] for c in CASES])
def test_same_request_as_boto3(srv, name, method, params):
    client = boto_client(srv.url)
    getattr(client, method)(**{k: boto_value(v) for k, v in params.items()})
    out = run_iotlua(srv.url, method, params)
    assert out["ok"], out
    recs = srv.requests()
    assert len(recs) == 2, [r["target"] for r in recs]
    boto_rec, lua_rec = recs

    for who, rec in (("boto3", boto_rec), ("iotlua", lua_rec)):
        assert rec["signature"]["verified"], (who, rec["signature"])
    assert lua_rec["method"] == boto_rec["method"]
    assert lua_rec["path"] == boto_rec["path"]
    assert sorted(map(tuple, lua_rec["query_pairs"])) == sorted(map(tuple, boto_rec["query_pairs"]))
    assert lua_rec["signature"]["signed_headers"] == boto_rec["signature"]["signed_headers"]

    lh, bh = significant_headers(lua_rec), significant_headers(boto_rec)
    if "x-amz-mqtt5-user-properties" in bh:        # JSON: compare as values, and exactly
        assert [user_properties(v) for v in lh.pop("x-amz-mqtt5-user-properties", [])] == \
               [user_properties(v) for v in bh.pop("x-amz-mqtt5-user-properties")]
    assert lh == bh

    if isinstance(params.get("payload"), Table):
        assert json.loads(body_bytes(lua_rec)) == json.loads(body_bytes(boto_rec))
    else:
        assert body_bytes(lua_rec) == body_bytes(boto_rec)
    if lua_rec["method"] == "POST":
        assert not lua_rec["chunked"], "iotlua sent a chunked body; boto3 sends Content-Length"
        lengths = [v for k, v in lua_rec["headers"] if k.lower() == "content-length"]
        assert lengths == [str(len(body_bytes(lua_rec)))]


@pytest.mark.parametrize("name", ["publish everything", "send_direct_message everything",
                                  "get_connection tricky clientId", "list_subscriptions nextToken"])
def test_module_on_stock_lua_sends_what_the_host_sends(srv, name):
    _, method, params = next(c for c in CASES if c[0] == name)
    assert run_iotlua(srv.url, method, params, runner="host")["ok"]
    out = run_iotlua(srv.url, method, params, runner="module")
    assert out["ok"], out
    host, module = srv.requests()
    assert module["signature"]["verified"], module["signature"]
    for key in ("method", "target", "body_b64"):
        assert module[key] == host[key]
    assert significant_headers(module) == significant_headers(host)
    assert module["signature"]["signed_headers"] == host["signature"]["signed_headers"]


def test_user_properties_header_is_byte_identical_for_ascii(srv):
    props = [{"a": "1"}, {"b": "two words"}]
    boto_client(srv.url).publish(topic="t", userProperties=props)
    run_iotlua(srv.url, "publish", {"topic": "t", "userProperties": props})
    b, l = [dict((k.lower(), v) for k, v in r["headers"]) for r in srv.requests()]
    assert l["x-amz-mqtt5-user-properties"] == b["x-amz-mqtt5-user-properties"]
    assert base64.b64decode(l["x-amz-mqtt5-user-properties"]) == b'[{"a":"1"},{"b":"two words"}]'


def test_session_token_is_sent_and_signed_like_boto3(srv):
    token = "FwoGZXIvYXdzEXAMPLETOKEN+/=abc"
    boto3.client("iot-data", endpoint_url=srv.url, region_name=REGION, aws_access_key_id=AKID,
                 aws_secret_access_key=SECRET, aws_session_token=token).publish(topic="t")
    out = run_iotlua(srv.url, "publish", {"topic": "t"},
                     credentials=dict(CREDENTIALS, session_token=token))
    assert out["ok"], out
    b, l = srv.requests()
    for rec in (b, l):
        assert rec["signature"]["verified"], rec["signature"]
        assert "x-amz-security-token" in rec["signature"]["signed_headers"]
    assert l["signature"]["signed_headers"] == b["signature"]["signed_headers"]
    assert significant_headers(l)["x-amz-security-token"] == [token]


def test_sequential_calls_reuse_one_connection(srv):
    out = run_iotlua(srv.url, "get_connection", {"clientId": "c"}, times=3)
    assert out["ok"], out
    assert [r["connection"] for r in srv.requests()] == [srv.requests()[0]["connection"]] * 3


RESPONSES = [
    ("get_connection", {"clientId": "sensor-42"},
     {"connected": True, "clientId": "sensor-42", "cleanSession": False, "keepAliveDuration": 60,
      "sourceIp": "10.0.0.7", "sourcePort": 51234, "targetIp": "10.0.0.1", "targetPort": 8883,
      "sessionExpiry": 3600, "thingName": "thing-1", "disconnectReason": "CLIENT_INITIATED_DISCONNECT"}),
    ("list_subscriptions", {"clientId": "sensor-42"},
     {"subscriptions": [{"topicFilter": "cmd/#", "qos": 1}], "nextToken": "n+1/="}),
    ("send_direct_message", {"clientId": "sensor-42", "topic": "t"},
     {"message": "OK", "traceId": "trace-1"}),
]


@pytest.mark.parametrize("method,params,body", RESPONSES, ids=[r[0] for r in RESPONSES])
def test_same_result_as_boto3(srv, method, params, body):
    srv.set_default({"status": 200, "body": json.dumps(body),
                     "headers": {"Content-Type": "application/json"}})
    want = getattr(boto_client(srv.url), method)(**params)
    got = run_iotlua(srv.url, method, params)
    assert got["ok"], got
    meta = got["result"].pop("ResponseMetadata")
    want_meta = want.pop("ResponseMetadata")
    assert got["result"] == json.loads(json.dumps(want))
    assert meta["HTTPStatusCode"] == 200
    boto_rec, lua_rec = srv.requests()
    assert want_meta["RequestId"] == "rec-%d" % boto_rec["id"]
    assert meta["RequestId"] == "rec-%d" % lua_rec["id"]
    assert meta["RetryAttempts"] == 0


# ----------------------------------------------------------------------------- the signer for scripts

LUA_SIGN = """
local cjson = require("cjson")
local spec = cjson.decode(io.read("a"))
if spec.headers == cjson.null then spec.headers = nil end
local headers = require("iotlua").sigv4.sign(spec)
io.write(cjson.encode(headers))
"""

SIGN_CASES = [
    ("GET with query", "GET", "/things/x?b=2&a=1&empty=", {}, "", "us-east-1", "iotdata", None),
    ("POST with body and headers", "POST", "/topics/a%2Fb%20c?qos=1",
     {"Content-Type": "application/json", "X-Custom": "  two   spaces  "}, '{"k":"v"}',
     "us-east-1", "iotdata", None),
    ("session token", "PUT", "/x", {}, "payload", "us-east-1", "iotdata", "FwoGZXIvYXdzEXAMPLE+/="),
    ("another service and region", "POST", "/prod/items?id=7", {"x-api-key": "k"}, "{}",
     "eu-west-1", "execute-api", None),
    ("epoch time", "DELETE", "/items/7", {}, "", "us-east-1", "iotdata", None),
]


@pytest.mark.parametrize("name,method,target,headers,body,region,service,token", SIGN_CASES,
                         ids=[c[0] for c in SIGN_CASES])
def test_sigv4_sign_for_scripts_verifies_with_botocore(name, method, target, headers, body,
                                                       region, service, token):
    """iotlua.sigv4.sign{...} signs any AWS request: the headers it returns, added to the
    request, make a signature botocore accepts."""
    with rs.RecordingServer(region=region, service=service) as srv:
        creds = dict(CREDENTIALS, session_token=token) if token else CREDENTIALS
        now = int(time.time())
        when = now if name == "epoch time" else time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        spec = {"method": method, "url": srv.url + target, "headers": headers or None,
                "body": body, "region": region, "service": service, "credentials": creds,
                "time": when}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        proc = subprocess.run([os.path.join(BUILD, "iotlua"), "-e", LUA_SIGN], env=env,
                              input=json.dumps(spec).encode(), capture_output=True, timeout=30)
        assert proc.returncode == 0, proc.stderr.decode()
        added = json.loads(proc.stdout)
        assert set(added) >= {"Authorization", "X-Amz-Date"}
        assert ("X-Amz-Security-Token" in added) == bool(token)
        assert added["X-Amz-Date"] == time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "127.0.0.1:%d" % srv.port)
        for k, v in list(headers.items()) + list(added.items()):
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body.encode())
        conn.getresponse().read()
        [rec] = srv.requests()
        assert rec["signature"]["verified"], rec["signature"]
        assert (rec["signature"]["region"], rec["signature"]["service"]) == (region, service)


# ----------------------------------------------------------------------------- retries

def test_503_then_200_is_retried_and_resigned(srv):
    # The 503 answer waits 1.1 s so the retry falls in a later second: a fresh X-Amz-Date.
    srv.script({"status": 503, "delay": 1.1, "body": '{"message":"busy"}',
                "headers": {"x-amzn-ErrorType": "ServiceUnavailableException"}})
    out = run_iotlua(srv.url, "publish", {"topic": "t", "payload": b"p"}, "max_attempts = 3")
    assert out["ok"], out
    assert out["result"]["ResponseMetadata"]["RetryAttempts"] == 1
    first, second = srv.requests()
    assert first["signature"]["verified"] and second["signature"]["verified"]
    assert second["signature"]["date"] > first["signature"]["date"]
    assert second["signature"]["signature"] != first["signature"]["signature"]
    assert body_bytes(second) == body_bytes(first) == b"p"


RETRY_DECISIONS = [
    ("500", {"status": 500, "body": "{}"}),
    ("503 ServiceUnavailable", {"status": 503, "body": "{}"}),
    ("429 ThrottlingException", {"status": 429, "body": json.dumps({"message": "slow down"}),
                                 "headers": {"x-amzn-ErrorType": "ThrottlingException"}}),
    ("400 ThrottlingException", {"status": 400, "body": json.dumps(
        {"__type": "ThrottlingException", "message": "slow down"})}),
    ("400 InvalidRequestException", {"status": 400, "body": json.dumps(
        {"__type": "InvalidRequestException", "message": "no"})}),
    ("404 ResourceNotFoundException", {"status": 404, "body": json.dumps(
        {"__type": "ResourceNotFoundException", "message": "no"})}),
]


@pytest.mark.parametrize("name,response", RETRY_DECISIONS, ids=[r[0] for r in RETRY_DECISIONS])
def test_retry_decisions_match_boto3_standard_mode(srv, name, response):
    """Against the same persistent failure, iotlua and boto3 (standard mode, 3 attempts)
    make the same number of attempts."""
    srv.set_default(response)
    client = boto_client(srv.url, attempts=3)
    with pytest.raises(client.exceptions.ClientError):
        client.get_connection(clientId="c")
    boto_attempts = len(srv.requests())
    srv.clear()
    out = run_iotlua(srv.url, "get_connection", {"clientId": "c"}, "max_attempts = 3")
    assert not out["ok"]
    assert out["err"]["attempts"] == len(srv.requests()) == boto_attempts
    assert out["err"]["retryable"] is (boto_attempts > 1)
    assert all(r["signature"]["verified"] for r in srv.requests())


def test_file_payload_is_resent_whole_on_retry(srv):
    srv.script({"status": 500, "body": "{}"})
    out = run_iotlua(srv.url, "publish", {"topic": "t", "payload": File(b"abc" * 1000)},
                     "max_attempts = 2")
    assert out["ok"], out
    first, second = srv.requests()
    assert body_bytes(first) == body_bytes(second) == b"abc" * 1000
    assert second["signature"]["verified"]


def test_throttling_429_is_retried(srv):
    srv.script({"status": 429, "body": json.dumps({"message": "Rate exceeded"}),
                "headers": {"x-amzn-ErrorType": "ThrottlingException"}})
    out = run_iotlua(srv.url, "get_connection", {"clientId": "c"}, "max_attempts = 3")
    assert out["ok"], out
    assert out["result"]["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(srv.requests()) == 2


def test_retries_stop_at_max_attempts(srv):
    srv.script({"status": 503, "body": "{}", "repeat": 10})
    out = run_iotlua(srv.url, "publish", {"topic": "t"}, "max_attempts = 3")
    assert not out["ok"]
    err = out["err"]
    assert (err.get("status"), err["attempts"], err["retryable"]) == (503, 3, True)
    assert err["operation"] == "Publish"
    assert len(srv.requests()) == 3


def test_client_errors_are_not_retried(srv):
    srv.script({"status": 400, "body": json.dumps({"message": "bad topic"}),
                "headers": {"x-amzn-ErrorType": "InvalidRequestException:http://internal"}})
    out = run_iotlua(srv.url, "publish", {"topic": "t"}, "max_attempts = 3")
    err = out["err"]
    assert (err["code"], err["message"], err["status"], err["attempts"]) == \
           ("InvalidRequestException", "bad topic", 400, 1)
    assert err["retryable"] is False
    assert len(srv.requests()) == 1


def test_timeout(srv):
    srv.script({"delay": 3})
    t0 = time.monotonic()
    out = run_iotlua(srv.url, "get_connection", {"clientId": "c"}, "max_attempts = 1, timeout = 1")
    elapsed = time.monotonic() - t0
    assert not out["ok"]
    assert out["err"]["code"] == "TimeoutError", out["err"]
    assert out["err"].get("status") is None
    assert elapsed < 2.9


# ----------------------------------------------------------------------------- error bodies

ERRORS = [
    ("__type with namespace", {"status": 404, "body": json.dumps(
        {"__type": "com.amazonaws.iot#ResourceNotFoundException", "message": "no client x"})},
     ("ResourceNotFoundException", "no client x", 404)),
    ("x-amzn-ErrorType wins over body", {"status": 403, "headers": {
        "x-amzn-ErrorType": "ForbiddenException:http://internal.amazon.com/",
        "x-amzn-RequestId": "req-abc"},
        "body": json.dumps({"__type": "Other", "Message": "capital M message"})},
     ("ForbiddenException", "capital M message", 403)),
    ("body code field", {"status": 401, "body": json.dumps(
        {"code": "UnauthorizedException", "message": "who are you"})},
     ("UnauthorizedException", "who are you", 401)),
    ("504 GatewayTimeout", {"status": 504, "body": json.dumps(
        {"__type": "GatewayTimeoutException", "message": "device did not ack"})},
     ("GatewayTimeoutException", "device did not ack", 504)),
]


@pytest.mark.parametrize("name,response,expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_bodies(srv, name, response, expected):
    srv.script(response)
    out = run_iotlua(srv.url, "get_connection", {"clientId": "x"}, "max_attempts = 1")
    assert not out["ok"]
    err = out["err"]
    assert (err["code"], err["message"], err["status"]) == expected
    rid = "rec-%d" % srv.requests()[0]["id"]
    assert err.get("request_id") == response.get("headers", {}).get("x-amzn-RequestId", rid)
    assert err["operation"] == "GetConnection"
    assert err["code"] in err["text"] and str(expected[2]) in err["text"]
    # boto3 agrees on code and message
    srv.script(response)
    client = boto_client(srv.url)
    with pytest.raises(client.exceptions.ClientError) as exc:
        client.get_connection(clientId="x")
    assert exc.value.response["Error"]["Code"] == expected[0]
    assert exc.value.response["Error"]["Message"] == expected[1]


def test_non_json_error_body(srv):
    srv.script({"status": 502, "body": "<html>Bad Gateway</html>",
                "headers": {"Content-Type": "text/html"}})
    out = run_iotlua(srv.url, "get_connection", {"clientId": "x"}, "max_attempts = 1")
    err = out["err"]
    assert err["code"] == "UnknownError"
    assert err["status"] == 502
    assert "Bad Gateway" in err["message"]


def test_truncated_body(srv):
    srv.script({"status": 200, "action": "truncate",
                "body": json.dumps({"connected": True, "clientId": "x" * 100})})
    out = run_iotlua(srv.url, "get_connection", {"clientId": "x"}, "max_attempts = 1")
    assert not out["ok"]
    assert out["err"]["code"] == "NetworkError", out["err"]


def test_truncated_error_body(srv):
    srv.script({"status": 500, "action": "truncate",
                "body": json.dumps({"__type": "InternalFailureException", "message": "x" * 200})})
    out = run_iotlua(srv.url, "publish", {"topic": "t"}, "max_attempts = 1")
    assert not out["ok"]
    assert out["err"]["code"] == "NetworkError", out["err"]


def test_connection_closed_without_answer_then_usable(srv):
    srv.script({"action": "close"})
    out = run_iotlua(srv.url, "get_connection", {"clientId": "x"}, "max_attempts = 1")
    assert out["err"]["code"] == "NetworkError", out["err"]
    out = run_iotlua(srv.url, "get_connection", {"clientId": "x"}, "max_attempts = 2")
    assert out["ok"], out
