"""QA controls under /_emulator/: health, the record of published messages, fault
injection (status, latency, dropped connection) seen through boto3, disconnecting a
client."""

import time

import botocore.exceptions
import pytest


def test_health(emulator):
    status, body = emulator.control("GET", "/_emulator/health")
    assert status == 200 and body["status"] == "ok"


def test_record_holds_http_and_device_publishes(fresh_emulator):
    emu = fresh_emulator
    dev = emu.device("qa-pub")
    dev.publish("qa/t", b"from-device", qos=1)
    emu.iot_data().publish(topic="qa/t", payload=b"from-http")
    deadline = time.monotonic() + 5
    while len(emu.published("qa/t")) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    msgs = emu.published("qa/t")
    assert [(m["payloadText"], m["origin"]) for m in msgs] == [("from-device", "qa-pub"),
                                                              ("from-http", "http")]
    assert all(m["timestamp"] > 0 for m in msgs)
    status, summary = emu.control("GET", "/_emulator/published")
    assert status == 200 and {"topic": "qa/t", "count": 2} in summary["topics"]


def test_record_is_a_bounded_ring_per_topic(fresh_emulator):
    iot = fresh_emulator.iot_data()
    for i in range(105):
        iot.publish(topic="qa/ring", payload=str(i).encode())
    msgs = fresh_emulator.published("qa/ring")
    assert len(msgs) == 100
    assert msgs[0]["payloadText"] == "5" and msgs[-1]["payloadText"] == "104"


def test_reset_one_topic_or_all(fresh_emulator):
    emu = fresh_emulator
    iot = emu.iot_data()
    iot.publish(topic="qa/a", payload=b"1")
    iot.publish(topic="qa/b", payload=b"2")
    assert emu.control("DELETE", "/_emulator/published?topic=qa%2Fa")[0] == 200
    assert emu.published("qa/a") == [] and len(emu.published("qa/b")) == 1
    assert emu.control("DELETE", "/_emulator/published")[0] == 200
    assert emu.published("qa/b") == []


def test_replies_stay_valid_json_when_a_fault_message_is_not_utf8(fresh_emulator):
    emu = fresh_emulator
    status, fault = emu.control(
        "POST", "/_emulator/faults?operation=Publish&status=400&message=bad%FFbyte%22q%0A")
    assert status == 201 and fault["message"] == 'bad\ufffdbyte"q\n'   # U+FFFD for 0xFF
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.iot_data().publish(topic="qa/x", payload=b"1")
    assert e.value.response["Error"]["Message"] == 'bad\ufffdbyte"q\n'


def test_injected_error_for_the_next_n_calls(fresh_emulator):
    emu = fresh_emulator
    status, fault = emu.control(
        "POST", "/_emulator/faults?operation=Publish&count=2&status=503"
                "&errorCode=ServiceUnavailableException&message=try%20later")
    assert status == 201 and fault["remaining"] == 2
    iot = emu.iot_data()
    # other operations are untouched:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_connection(clientId="nobody")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iot.publish(topic="f", payload=b"1")
        err = e.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert (err["Error"]["Code"], err["Error"]["Message"]) == (
            "ServiceUnavailableException", "try later")
    assert iot.publish(topic="f", payload=b"1")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert emu.control("GET", "/_emulator/faults")[1]["faults"] == []


def test_boto3_retries_through_injected_throttling(fresh_emulator):
    emu = fresh_emulator
    emu.control("POST", "/_emulator/faults?operation=Publish&count=2&status=429")
    iot = emu.iot_data(attempts=3)
    r = iot.publish(topic="f", payload=b"1")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ResponseMetadata"]["RetryAttempts"] == 2


def test_injected_latency_then_normal_answer(fresh_emulator):
    emu = fresh_emulator
    emu.device("qa-slow")
    emu.control("POST", "/_emulator/faults?operation=GetConnection&latencyMs=400")
    iot = emu.iot_data()
    start = time.monotonic()
    c = iot.get_connection(clientId="qa-slow")
    assert time.monotonic() - start >= 0.38
    assert c["connected"] is True


def test_injected_latency_then_error_on_any_operation(fresh_emulator):
    emu = fresh_emulator
    emu.control("POST", "/_emulator/faults?operation=*&latencyMs=200&status=500")
    start = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.iot_data().list_subscriptions(clientId="x")
    assert time.monotonic() - start >= 0.18
    assert e.value.response["Error"]["Code"] == "InternalFailureException"


def test_dropped_connection(fresh_emulator):
    emu = fresh_emulator
    emu.control("POST", "/_emulator/faults?operation=Publish&dropConnection=true")
    iot = emu.iot_data()
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        iot.publish(topic="f", payload=b"1")
    assert iot.publish(topic="f", payload=b"1")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_list_and_clear_faults(fresh_emulator):
    emu = fresh_emulator
    emu.control("POST", "/_emulator/faults?operation=Publish&count=3&status=500")
    emu.control("POST", "/_emulator/faults?operation=SendDirectMessage&latencyMs=10")
    status, body = emu.control("GET", "/_emulator/faults")
    ops = [(f["operation"], f["remaining"]) for f in body["faults"]]
    assert status == 200 and ops == [("Publish", 3), ("SendDirectMessage", 1)]
    assert emu.control("DELETE", "/_emulator/faults")[1]["faults"] == []
    assert emu.iot_data().publish(topic="f")["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("query", [
    "operation=Nope&status=500",
    "status=500",
    "operation=Publish&status=200",
    "operation=Publish&count=0",
    "operation=Publish&dropConnection=maybe",
])
def test_bad_fault_requests_are_400(emulator, query):
    status, body = emulator.control("POST", "/_emulator/faults?" + query)
    assert status == 400 and body["message"]


def test_unknown_control_is_404(emulator):
    status, body = emulator.control("GET", "/_emulator/nothing")
    assert status == 404 and "README" in body["message"]
