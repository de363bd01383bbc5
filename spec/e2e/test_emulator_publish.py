"""Publish through the emulator's data-plane API, driven by boto3, the AWS CLI and raw
signed requests, received by real MQTT 5 and 3.1.1 devices (paho-mqtt, mosquitto_sub)."""

import base64
import json
import os
import subprocess

import botocore.exceptions
import pytest


def client_error(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err


def test_publish_reaches_mqtt5_subscriber_with_every_property(emulator):
    dev = emulator.device("pub-v5")
    dev.subscribe("fleet/+/alerts", qos=1)
    iot = emulator.iot_data()
    r = iot.publish(topic="fleet/7/alerts", payload=b'{"level":3}', qos=1,
                    contentType="application/json", responseTopic="fleet/7/replies",
                    userProperties=[{"site": "north"}, {"shift": "2"}],
                    payloadFormatIndicator="UTF8_DATA",
                    correlationData=base64.b64encode(b"\x00corr\xff").decode(),
                    messageExpiry=120)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    msg = dev.wait_message("fleet/7/alerts")
    assert msg.payload == b'{"level":3}'
    assert msg.qos == 1
    assert msg.properties["ContentType"] == "application/json"
    assert msg.properties["ResponseTopic"] == "fleet/7/replies"
    assert msg.properties["UserProperty"] == [("site", "north"), ("shift", "2")]
    assert msg.properties["PayloadFormatIndicator"] == 1
    assert msg.properties["CorrelationData"] == b"\x00corr\xff"
    assert 0 < msg.properties["MessageExpiryInterval"] <= 120


def test_publish_reaches_mqtt311_subscriber_without_properties(emulator):
    dev = emulator.device("pub-v311", protocol=4)
    dev.subscribe("plain/#", qos=0)
    emulator.iot_data().publish(topic="plain/x", payload=b"abc", qos=1,
                                userProperties=[{"a": "b"}], contentType="text/plain")
    msg = dev.wait_message("plain/x")
    assert msg.payload == b"abc"
    assert msg.qos == 0                      # the subscription's QoS caps delivery
    assert msg.properties == {}


def test_topic_is_percent_decoded_from_the_path(emulator):
    dev = emulator.device("pub-enc")
    dev.subscribe("enc/#")
    topic = "enc/a b/ü~*'(x)/%41"
    emulator.iot_data().publish(topic=topic, payload=b"1")
    assert dev.wait_message().topic == topic


def test_retained_message_kept_and_deleted_by_empty_payload(emulator):
    iot = emulator.iot_data()
    iot.publish(topic="ret/state", payload=b"on", qos=1, retain=True)
    late = emulator.device("pub-late")
    late.subscribe("ret/state")
    msg = late.wait_message("ret/state")
    assert (msg.payload, msg.retain) == (b"on", True)
    iot.publish(topic="ret/state", payload=b"", qos=1, retain=True)
    later = emulator.device("pub-later")
    later.subscribe("ret/state")
    later.subscribe("ret/sync")
    iot.publish(topic="ret/sync", payload=b"x")
    later.wait_message("ret/sync")
    assert [m for m in later.messages if m.topic == "ret/state"] == []


def test_aws_cli_publish_with_properties_reaches_mosquitto_sub(emulator):
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", emulator.mqtt_host, "-p", str(emulator.mqtt_port), "-V", "5",
         "-i", "cli-sub", "-t", "cli/#", "-C", "1", "-W", "20", "-v", "-F", "%t %p %P"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # mosquitto_sub has no ready signal: wait until the broker lists its subscription.
    iot = emulator.iot_data()
    for _ in range(200):
        try:
            if iot.list_subscriptions(clientId="cli-sub")["subscriptions"]:
                break
        except botocore.exceptions.ClientError:
            pass
        subprocess.run(["sleep", "0.02"])
    emulator.aws("iot-data", "publish", "--topic", "cli/t", "--qos", "1",
                 "--cli-binary-format", "raw-in-base64-out", "--payload", "from-cli",
                 "--user-properties", '[{"who":"cli"}]')
    out, err = sub.communicate(timeout=20)
    assert sub.returncode == 0, err
    assert out.decode().strip() == "cli/t from-cli who:cli"


def test_aws_cli_publish_error_is_reported(emulator):
    res = emulator.aws("iot-data", "publish", "--topic", "bad/#", check=False)
    assert res.returncode != 0
    assert "InvalidRequestException" in res.stderr and "wildcard" in res.stderr


@pytest.mark.parametrize("topic, ok", [
    ("a/+", False),
    ("a/#", False),
    ("x" * 256, True),
    ("x" * 257, False),
    ("1/2/3/4/5/6/7/8", True),          # 7 slashes
    ("1/2/3/4/5/6/7/8/9", False),       # 8 slashes
    ("$aws/rules/myRule/1/2/3/4/5/6/7/8", True),
    ("$aws/rules/myRule/1/2/3/4/5/6/7/8/9", False),
])
def test_topic_limits(emulator, topic, ok):
    iot = emulator.iot_data()
    if ok:
        assert iot.publish(topic=topic, payload=b"x")["ResponseMetadata"]["HTTPStatusCode"] == 200
        return
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.publish(topic=topic, payload=b"x")
    code, status, err = client_error(e)
    assert (code, status) == ("InvalidRequestException", 400)
    assert err["Error"]["Message"]
    assert err["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_payload_limit_is_128_kib(emulator):
    iot = emulator.iot_data()
    assert iot.publish(topic="big", payload=b"x" * 131072)["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.publish(topic="big", payload=b"x" * 131073)
    code, status, _ = client_error(e)
    assert (code, status) == ("RequestEntityTooLargeException", 413)


@pytest.mark.parametrize("query, headers, body, needle", [
    ("qos=2", {}, b"", "qos"),
    ("qos=one", {}, b"", "qos"),
    ("retain=yes", {}, b"", "retain"),
    ("messageExpiry=-1", {}, b"", "messageExpiry"),
    ("responseTopic=r%2F%2B", {}, b"", "responseTopic"),
    ("", {"x-amz-mqtt5-user-properties": "%%%"}, b"", "base64"),
    ("", {"x-amz-mqtt5-user-properties": base64.b64encode(b'{"a":"b"}').decode()}, b"",
     "array"),
    ("", {"x-amz-mqtt5-user-properties": base64.b64encode(b'[{"a":1}]').decode()}, b"",
     "strings"),
    ("", {"x-amz-mqtt5-user-properties": base64.b64encode(b'[{"a":"b"},"c"]').decode()}, b"",
     "object"),
    ("", {"x-amz-mqtt5-user-properties": base64.b64encode(b'[{"a":"b"}').decode()}, b"",
     "JSON"),
    ("", {"x-amz-mqtt5-user-properties": base64.b64encode(b'[{"a":"\\u0000"}]').decode()}, b"",
     "U+0000"),
    ("", {"x-amz-mqtt5-user-properties": base64.b64encode(b'[{"a":"\xff"}]').decode()}, b"",
     "UTF-8"),
    ("", {"x-amz-mqtt5-user-properties": base64.b64encode(
        b'[' + b','.join([b'{"k":"v"}'] * 129) + b']').decode()}, b"", "too many"),
    ("", {"x-amz-mqtt5-payload-format-indicator": "TEXT"}, b"", "UTF8_DATA"),
    ("", {"x-amz-mqtt5-payload-format-indicator": "UTF8_DATA"}, b"\xff\xfe", "UTF-8"),
    ("", {"x-amz-mqtt5-correlation-data": "not base64!"}, b"", "base64"),
])
def test_invalid_parameters_get_400(emulator, query, headers, body, needle):
    r = emulator.signed_request("POST", "/topics/v", query=query, headers=headers, body=body)
    assert r.status == 400, r
    assert r.error_type == "InvalidRequestException"
    assert needle in r.json["message"]
    assert r.headers["x-amzn-requestid"]


def test_publish_is_recorded_for_qa(emulator):
    emulator.control("DELETE", "/_emulator/published?topic=rec%2F1")
    emulator.iot_data().publish(topic="rec/1", payload=b"\x01\x02", qos=1,
                                userProperties=[{"k": "v"}])
    [m] = emulator.published("rec/1")
    assert base64.b64decode(m["payload"]) == b"\x01\x02"
    assert (m["qos"], m["origin"], m["userProperties"]) == (1, "http", [{"k": "v"}])


def test_user_properties_with_escapes_and_non_ascii(emulator):
    # botocore's json.dumps escapes non-ASCII as \uXXXX (surrogate pairs beyond the BMP)
    dev = emulator.device("pub-props")
    dev.subscribe("props/#")
    props = [{"é": "😀"}, {'q"uote': "back\\slash/\n"}, {"": "empty key"}, {"k": ""}]
    emulator.iot_data().publish(topic="props/x", payload=b"1", userProperties=props)
    msg = dev.wait_message("props/x")
    assert msg.properties["UserProperty"] == [(k, v) for p in props for k, v in p.items()]
