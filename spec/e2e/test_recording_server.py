"""The recording server (spec/tools/recording_server.py) is itself tested: it records what
boto3 sends, verifies boto3's signature, rejects a tampered copy, keeps connection ids,
follows its response script, and works as a subprocess with HTTP control."""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "spec", "tools"))
os.environ.setdefault("AWS_DATA_PATH", os.path.join(SOURCE, "spec", "fixtures", "aws-models"))
os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"

import boto3                      # noqa: E402
import botocore.config            # noqa: E402
import recording_server as rs     # noqa: E402

AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def boto(url, **kw):
    cfg = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.client("iot-data", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=kw.get("akid", AKID),
                        aws_secret_access_key=kw.get("secret", SECRET), config=cfg)


@pytest.fixture
def srv():
    with rs.RecordingServer() as s:
        yield s


def raw_request(srv, rec, **change):
    """Replay a recorded request byte for byte on a fresh connection, with changes."""
    headers = [(k, v) for k, v in rec["headers"] if k.lower() != "content-length"]
    headers = [(k, change.get("headers", {}).get(k.lower(), v)) for k, v in headers]
    body = change.get("body", rec["body"]).encode()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.putrequest(rec["method"], change.get("target", rec["target"]),
                    skip_host=True, skip_accept_encoding=True)
    for k, v in headers:
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return srv.requests()[-1]


def test_records_and_verifies_boto3_publish(srv):
    boto(srv.url).publish(topic="a/b c/#", qos=1, payload=b"hello")
    [rec] = srv.requests()
    assert rec["method"] == "POST"
    assert rec["path"] == "/topics/a%2Fb%20c%2F%23"          # raw, never decoded
    assert rec["query"] == "qos=1"
    assert rec["body"] == "hello"
    assert rec["signature"]["verified"] is True, rec["signature"]
    assert rec["signature"]["access_key"] == AKID
    assert "host" in rec["signature"]["signed_headers"]
    assert "/topics/a%252Fb%2520c%252F%2523\n" in rec["signature"]["canonical_request"]


@pytest.mark.parametrize("change,reason", [
    ({"body": "HELLO"}, "signature mismatch"),
    ({"target": "/topics/a%2Fb%20c%2F%24?qos=1"}, "signature mismatch"),
    ({"target": "/topics/a%2Fb%20c%2F%23?qos=0"}, "signature mismatch"),
    ({"headers": {"x-amz-date": "20150830T123600Z"}}, "away from now"),
    ({"headers": {"user-agent": "changed"}}, "ok"),     # user-agent is not signed
])
def test_rejects_tampered_copy(srv, change, reason):
    boto(srv.url).publish(topic="a/b c/#", qos=1, payload=b"hello")
    rec = srv.requests()[0]
    same = raw_request(srv, rec)
    assert same["signature"]["verified"] is True, same["signature"]
    bad = raw_request(srv, rec, **change)
    assert bad["signature"]["verified"] is (reason == "ok")
    assert reason in bad["signature"]["reason"]


def test_rejects_wrong_secret_and_unknown_key(srv):
    c = boto(srv.url, secret="not-the-secret")
    c.publish(topic="t")
    boto(srv.url, akid="AKIDUNKNOWN").publish(topic="t")
    wrong, unknown = srv.requests()
    assert (wrong["signature"]["verified"], wrong["signature"]["reason"]) == (False, "signature mismatch")
    assert unknown["signature"]["verified"] is False
    assert "unknown access key AKIDUNKNOWN" == unknown["signature"]["reason"]


def test_unsigned_request_is_recorded_as_unverified(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/connections/x")
    assert conn.getresponse().read() == b"{}"
    assert srv.requests()[0]["signature"] == {"verified": False, "reason": "no Authorization header"}


def test_connection_ids_show_reuse(srv):
    c = boto(srv.url)
    c.publish(topic="one")
    c.publish(topic="two")
    boto(srv.url).publish(topic="three")
    ids = [r["connection"] for r in srv.requests()]
    assert ids[0] == ids[1] != ids[2]


def test_follows_the_script(srv):
    srv.script({"status": 404, "headers": {"x-amzn-ErrorType": "ResourceNotFoundException:x"},
                "body": json.dumps({"message": "no such client"})},
               {"status": 503, "body": "", "repeat": 2})
    c = boto(srv.url)
    with pytest.raises(c.exceptions.ResourceNotFoundException) as exc:
        c.get_connection(clientId="x")
    assert exc.value.response["Error"]["Message"] == "no such client"
    assert exc.value.response["ResponseMetadata"]["RequestId"] == "rec-1"
    for _ in range(2):
        with pytest.raises(Exception) as exc:
            c.publish(topic="t")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert c.publish(topic="t")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delay_close_and_truncate(srv):
    srv.script({"delay": 0.3}, {"action": "close"},
               {"action": "truncate", "body": json.dumps({"message": "x" * 40})})
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    t0 = time.monotonic()
    conn.request("GET", "/a")
    assert conn.getresponse().read() == b"{}"
    assert time.monotonic() - t0 >= 0.3
    conn.request("GET", "/b")
    with pytest.raises(http.client.RemoteDisconnected):
        conn.getresponse()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/c")
    with pytest.raises(http.client.IncompleteRead):
        conn.getresponse().read()


def test_subprocess_with_http_control():
    with tempfile.TemporaryDirectory() as d:
        ready = os.path.join(d, "ready.json")
        proc = subprocess.Popen([sys.executable, os.path.join(SOURCE, "spec/tools/recording_server.py"),
                                 "--ready-file", ready], stdout=subprocess.PIPE)
        try:
            info = json.loads(proc.stdout.readline())
            with open(ready) as f:
                assert json.load(f) == info
            conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=5)

            def call(method, path, body=None):
                conn.request(method, path, body=json.dumps(body) if body is not None else None)
                r = conn.getresponse()
                return r.status, json.loads(r.read())

            assert call("POST", "/__control/script", [{"status": 418}])[0] == 200
            boto_client = boto(info["url"])
            with pytest.raises(Exception) as exc:
                boto_client.publish(topic="t", payload=b"x")
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 418
            status, recs = call("GET", "/__control/requests")
            assert status == 200 and len(recs) == 1
            assert recs[0]["signature"]["verified"] is True
            assert recs[0]["response"]["status"] == 418
            assert call("DELETE", "/__control/requests")[1] == {"ok": True}
            assert call("GET", "/__control/requests")[1] == []
            assert call("POST", "/__control/shutdown")[0] == 200
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
