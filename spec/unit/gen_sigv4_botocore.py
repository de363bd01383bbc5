#!/usr/bin/python3
"""Generates spec/fixtures/sigv4-botocore/iotdata.json: IoT Data Plane requests signed
by botocore's SigV4Auth at a fixed time, for spec/unit/test_sigv4.c to compare with.

Run with Debian's Python (botocore 1.29):
    /usr/bin/python3 spec/unit/gen_sigv4_botocore.py > spec/fixtures/sigv4-botocore/iotdata.json

Each case gives the request as it goes on the wire (URL with the path percent-encoded
once, as boto3 builds it for non-greedy URI members) and what botocore computed:
canonical request, string to sign and Authorization.
"""
import datetime
import json
import sys
from unittest import mock
from urllib.parse import quote

import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+/=="
WHEN = datetime.datetime(2026, 11, 22, 3, 4, 5)
HOST = "https://data-ats.iot.us-east-1.amazonaws.com"


def uri(member):
    """boto3's encoding of a non-greedy URI member: only A-Za-z0-9-._~ kept."""
    return quote(member, safe="-._~")


def topic_case(name, topic, query="qos=1", body=b'{"x":1}', headers=None):
    return dict(name=name, method="POST", url=f"{HOST}/topics/{uri(topic)}?{query}",
                headers=headers or [], body=body, token=None)


CASES = [
    topic_case("topic-slash-space-hash", "a/b c/#"),
    topic_case("topic-shadow", "$aws/things/x/shadow/update"),
    topic_case("topic-percent", "%"),
    topic_case("topic-plus", "+"),
    topic_case("topic-tilde", "~"),
    topic_case("topic-utf8", "température/é/日本"),
    topic_case("topic-leading-slash", "/a"),
    topic_case("topic-double-slash", "a//b"),
    topic_case("topic-trailing-slash", "a/"),
    topic_case("topic-encoded-looking", "a%2Fb"),
    topic_case("topic-query-chars", "a?b=c&d"),
    topic_case("publish-retain-props", "fleet/alerts",
               query="qos=1&retain=true&contentType=application%2Fjson&messageExpiry=60",
               body=b"raw \x00\xff bytes",
               headers=[("x-amz-mqtt5-user-properties", "W3siYSI6ImIifV0="),
                        ("x-amz-mqtt5-payload-format-indicator", "UTF8_DATA"),
                        ("x-amz-mqtt5-correlation-data", "YWJj"),
                        ("User-Agent", "iotlua/0.1.0")]),
    dict(name="get-connection", method="GET",
         url=f"{HOST}/connections/{uri('sensor-42')}?includeSocketInformation=true",
         headers=[], body=b"", token=None),
    dict(name="list-subscriptions", method="GET",
         url=f"{HOST}/connections/{uri('c:1')}/subscriptions?maxResults=50&nextToken=abc%2Bdef%3D",
         headers=[], body=b"", token=None),
    dict(name="send-direct-message", method="POST",
         url=f"{HOST}/connections/{uri('sensor 42')}/messages?topic={uri('cmd/reboot')}"
             "&confirmation=true&timeout=5",
         headers=[("Content-Type", "application/octet-stream")],
         body=b'{"now":true}', token=None),
    dict(name="session-token", method="POST",
         url=f"{HOST}/topics/{uri('t/1')}?qos=0", headers=[], body=b"hello", token=TOKEN),
    dict(name="header-spaces", method="GET", url=f"{HOST}/connections/x",
         headers=[("X-Custom", "  a   b \t c  "), ("x-custom", "second")],
         body=b"", token=None),
    dict(name="custom-endpoint-port", method="POST",
         url="http://127.0.0.1:8443/topics/t?qos=1", headers=[], body=b"x", token=None),
    dict(name="default-port-dropped", method="POST",
         url="https://example.com:443/topics/t", headers=[], body=b"", token=None),
]


class RecordingSigV4Auth(SigV4Auth):
    """SigV4Auth that keeps the canonical request and string to sign it computed."""

    def canonical_request(self, request):
        self.last_creq = super().canonical_request(request)
        return self.last_creq

    def string_to_sign(self, request, canonical_request):
        self.last_sts = super().string_to_sign(request, canonical_request)
        return self.last_sts


def sign(case):
    creds = Credentials(AKID, SECRET, case["token"])
    req = AWSRequest(method=case["method"], url=case["url"], data=case["body"])
    for name, value in case["headers"]:
        if name in req.headers:          # keep repeated headers, as sent
            req.headers.add_header(name, value)
        else:
            req.headers[name] = value
    auth = RecordingSigV4Auth(creds, "iotdata", "us-east-1")
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = WHEN
        auth.add_auth(req)
    creq, sts = auth.last_creq, auth.last_sts
    return dict(
        name=case["name"], method=case["method"], url=case["url"],
        headers=[list(h) for h in case["headers"]],
        body_hex=case["body"].hex(), token=case["token"],
        time=WHEN.strftime("%Y%m%dT%H%M%SZ"),
        canonical_request=creq, string_to_sign=sts,
        authorization=req.headers["Authorization"],
        x_amz_date=req.headers["X-Amz-Date"])


def main():
    out = dict(generator="spec/unit/gen_sigv4_botocore.py",
               botocore=botocore.__version__, access_key_id=AKID, secret_access_key=SECRET,
               region="us-east-1", service="iotdata", cases=[sign(c) for c in CASES])
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
