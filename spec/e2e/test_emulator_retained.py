"""GetRetainedMessage and ListRetainedMessages through boto3, read from the store the
broker delivers from: messages retained by HTTP Publish, by mosquitto_pub and paho over
MQTT, and by a will; an empty retained publish deletes (404 after); pages in topic order
that hold when topics come and go between them."""

import json
import subprocess
import time

import botocore.exceptions
import pytest


def now_ms():
    return int(time.time() * 1000)


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait_retained(iot, topic, payload, timeout=5):
    """Polls GetRetainedMessage until topic holds payload (an MQTT publish is async)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = iot.get_retained_message(topic=topic)
            if got["payload"] == payload:
                return got
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        assert time.monotonic() < deadline, f"no retained {payload!r} on {topic}"
        time.sleep(0.02)


def wait_gone(iot, topic, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        try:
            iot.get_retained_message(topic=topic)
        except botocore.exceptions.ClientError as e:
            assert error_of_response(e) == ("ResourceNotFoundException", 404)
            return
        assert time.monotonic() < deadline, f"{topic} still retained"
        time.sleep(0.02)


def error_of_response(e):
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def test_http_retained_publish_fields(emulator):
    iot = emulator.iot_data()
    before = now_ms()
    iot.publish(topic="rm/http/a b", payload=b"\x00\x01on", qos=1, retain=True,
                userProperties=[{"site": "north"}, {"shift": "2"}])
    after = now_ms()
    got = iot.get_retained_message(topic="rm/http/a b")
    assert got["topic"] == "rm/http/a b"
    assert got["payload"] == b"\x00\x01on"
    assert got["qos"] == 1
    assert before <= got["lastModifiedTime"] <= after
    assert json.loads(got["userProperties"]) == [{"site": "north"}, {"shift": "2"}]
    iot.publish(topic="rm/http/plain", payload=b"x", retain=True)
    plain = iot.get_retained_message(topic="rm/http/plain")
    assert plain["qos"] == 0 and "userProperties" not in plain


def test_replaced_then_deleted_by_empty_retained_publish(emulator):
    iot = emulator.iot_data()
    iot.publish(topic="rm/life", payload=b"one", qos=1, retain=True)
    first = iot.get_retained_message(topic="rm/life")["lastModifiedTime"]
    time.sleep(0.01)
    iot.publish(topic="rm/life", payload=b"not retained", qos=1)
    assert iot.get_retained_message(topic="rm/life")["payload"] == b"one"
    iot.publish(topic="rm/life", payload=b"two", qos=0, retain=True)
    second = iot.get_retained_message(topic="rm/life")
    assert (second["payload"], second["qos"]) == (b"two", 0)
    assert second["lastModifiedTime"] > first
    iot.publish(topic="rm/life", payload=b"", qos=1, retain=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_retained_message(topic="rm/life")
    assert error_of(e) == ("ResourceNotFoundException", 404)
    # the subscriber's view agrees: nothing retained on subscribe
    dev = emulator.device("rm-late")
    dev.subscribe("rm/life")
    dev.subscribe("rm/sync")
    iot.publish(topic="rm/sync", payload=b"s")
    dev.wait_message("rm/sync")
    assert [m for m in dev.messages if m.topic == "rm/life"] == []


def test_mosquitto_pub_retained_read_over_http(emulator):
    iot = emulator.iot_data()
    pub = ["mosquitto_pub", "-h", emulator.mqtt_host, "-p", str(emulator.mqtt_port),
           "-V", "5", "-i", "rm-mosq", "-t", "rm/mqtt/state", "-q", "1", "-r"]
    before = now_ms()
    subprocess.run(pub + ["-m", "from mqtt", "-D", "publish", "user-property", "k", "v"],
                   check=True, timeout=20)
    got = wait_retained(iot, "rm/mqtt/state", b"from mqtt")
    assert got["qos"] == 1 and got["topic"] == "rm/mqtt/state"
    assert before <= got["lastModifiedTime"] <= now_ms()
    assert json.loads(got["userProperties"]) == [{"k": "v"}]
    subprocess.run(pub + ["-n"], check=True, timeout=20)        # empty retained: delete
    wait_gone(iot, "rm/mqtt/state")


def test_paho_retained_and_retained_will_read_over_http(emulator):
    iot = emulator.iot_data()
    dev = emulator.device("rm-paho", will={"topic": "rm/will/rm-paho", "payload": b"gone",
                                           "qos": 1, "retain": True})
    dev.publish("rm/paho", b"p", qos=1, retain=True)
    assert wait_retained(iot, "rm/paho", b"p")["qos"] == 1
    dev.drop()                                  # unclean: the will goes out, retained
    will = wait_retained(iot, "rm/will/rm-paho", b"gone")
    assert will["qos"] == 1


def test_get_retained_message_bad_topic(emulator):
    iot = emulator.iot_data()
    for topic in ("rm/+", "rm/#", "x" * 257):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iot.get_retained_message(topic=topic)
        assert error_of(e) == ("InvalidRequestException", 400), topic
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_retained_message(topic="rm/never")
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_list_retained_messages_pages_in_topic_order(fresh_emulator):
    iot = fresh_emulator.iot_data()
    assert iot.list_retained_messages()["retainedTopics"] == []
    topics = ["b/2", "a", "c/1/x", "b/10", "a/b", "b/1", "z"]
    before = now_ms()
    for i, t in enumerate(topics):
        iot.publish(topic=t, payload=b"p" * (i + 1), qos=i % 2, retain=True)
    after = now_ms()
    pages = list(iot.get_paginator("list_retained_messages").paginate(
        PaginationConfig={"PageSize": 3}))
    assert [len(p["retainedTopics"]) for p in pages] == [3, 3, 1]
    assert "nextToken" in pages[0] and "nextToken" not in pages[-1]
    listed = [s for p in pages for s in p["retainedTopics"]]
    assert [s["topic"] for s in listed] == sorted(topics, key=lambda t: t.encode())
    by_topic = {s["topic"]: s for s in listed}
    for i, t in enumerate(topics):
        s = by_topic[t]
        assert (s["payloadSize"], s["qos"]) == (i + 1, i % 2), t
        assert before <= s["lastModifiedTime"] <= after
        assert "payload" not in s
    whole = iot.list_retained_messages()            # default page holds them all
    assert [s["topic"] for s in whole["retainedTopics"]] == [s["topic"] for s in listed]
    assert "nextToken" not in whole


def test_list_retained_messages_cursor_survives_changes(fresh_emulator):
    iot = fresh_emulator.iot_data()
    for t in ("t/1", "t/2", "t/3", "t/4", "t/5"):
        iot.publish(topic=t, payload=b"v", retain=True)
    first = iot.list_retained_messages(maxResults=2)
    assert [s["topic"] for s in first["retainedTopics"]] == ["t/1", "t/2"]
    iot.publish(topic="t/2", payload=b"", retain=True)     # the cursor's own topic goes
    iot.publish(topic="t/0", payload=b"v", retain=True)    # one sorts before the cursor
    iot.publish(topic="t/6", payload=b"v", retain=True)    # one after it
    rest = iot.list_retained_messages(maxResults=10, nextToken=first["nextToken"])
    assert [s["topic"] for s in rest["retainedTopics"]] == ["t/3", "t/4", "t/5", "t/6"]
    assert "nextToken" not in rest


def test_list_retained_messages_bad_parameters(emulator):
    iot = emulator.iot_data()
    for token in ("nope", "t1.61.0000000000000000", "v1." + "0" * 32):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iot.list_retained_messages(nextToken=token)
        assert error_of(e) == ("InvalidRequestException", 400), token
    for bad in ("0", "201", "x"):
        r = emulator.signed_request("GET", "/retainedMessage", query="maxResults=" + bad)
        assert (r.status, r.error_type) == (400, "InvalidRequestException"), bad
    r = emulator.signed_request("POST", "/retainedMessage")
    assert (r.status, r.error_type) == (405, "MethodNotAllowedException")


def test_qa_control_lists_retained_messages(fresh_emulator):
    import base64
    iot = fresh_emulator.iot_data()
    iot.publish(topic="qa/ret/b", payload=b"bee", qos=1, retain=True)
    iot.publish(topic="qa/ret/a", payload=b"ay", qos=0, retain=True)
    iot.publish(topic="qa/ret/live", payload=b"not kept", qos=0)
    status, body = fresh_emulator.control("GET", "/_emulator/retained")
    assert status == 200
    got = [(r["topic"], base64.b64decode(r["payload"]), r["payloadSize"], r["qos"])
           for r in body["retained"]]
    assert got == [("qa/ret/a", b"ay", 2, 0), ("qa/ret/b", b"bee", 3, 1)]
    assert all(r["lastModifiedTime"] > 0 for r in body["retained"])
    iot.publish(topic="qa/ret/a", payload=b"", retain=True)          # deleted
    status, body = fresh_emulator.control("GET", "/_emulator/retained")
    assert [r["topic"] for r in body["retained"]] == ["qa/ret/b"]
