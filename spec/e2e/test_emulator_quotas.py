"""AWS IoT's quotas in the emulator (issue 15, point 7), each where it applies: retained
messages per account (--retained-max, over MQTT 5, MQTT 3.1.1 and HTTP), the shadow
document size for classic and named shadows, and named shadows per thing (no quota is
documented: many are accepted). Topic and payload limits: test_broker_limits.py; our
Maximum Packet Size and the client's: test_broker_mqtt5.py."""

import json
import os
import subprocess

import botocore.exceptions
import pytest

from broker_support import Wire, publish_packet
from conftest import BUILD_DIR


def _stats(emu):
    status, body = emu.control("GET", "/_emulator/stats")
    assert status == 200
    return body["mqtt"]


def _retained_topics(iot):
    return sorted(t["topic"] for t in iot.list_retained_messages()["retainedTopics"])


def _puback(w, topic, payload, packet_id, protocol=5, retain=True):
    w.send(publish_packet(topic, payload, qos=1, packet_id=packet_id, protocol=protocol,
                          retain=retain))
    return w.read_raw_packet()


def test_retained_quota(start_emulator):
    emu = start_emulator("--retained-max", "3")
    iot = emu.iot_data()
    watcher = emu.device("rq-watch")
    watcher.subscribe("rq/#")
    w = Wire(emu.mqtt_host, emu.mqtt_port)
    w.connect("rq-5", protocol=5)
    for i in (1, 2, 3):
        assert _puback(w, f"rq/{i}", b"v", i) == b"\x40\x02\x00" + bytes([i])
    # the store is full: a new topic is refused, 0x97 Quota exceeded, and not delivered
    assert _puback(w, "rq/4", b"v", 4) == b"\x40\x03\x00\x04\x97"
    # replacing a held topic, a plain publish and a delete are still fine
    assert _puback(w, "rq/1", b"v2", 5) == b"\x40\x02\x00\x05"
    assert _puback(w, "rq/4", b"plain", 6, retain=False) == b"\x40\x02\x00\x06"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.publish(topic="rq/5", payload=b"http", retain=True)
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == \
        ("ThrottlingException", 429)
    iot.publish(topic="rq/2", payload=b"http", retain=True)          # a replacement
    assert _retained_topics(iot) == ["rq/1", "rq/2", "rq/3"]
    iot.publish(topic="rq/3", payload=b"", retain=True)              # a delete
    iot.publish(topic="rq/5", payload=b"http", retain=True)          # room again
    # MQTT 3.1.1 has no reason code: PUBACK as usual, nothing kept, counted
    w311 = Wire(emu.mqtt_host, emu.mqtt_port)
    w311.connect("rq-311", protocol=4)
    assert _puback(w311, "rq/6", b"v", 1, protocol=4) == b"\x40\x02\x00\x01"
    assert _retained_topics(iot) == ["rq/1", "rq/2", "rq/5"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_retained_message(topic="rq/6")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert _stats(emu)["retainedQuotaExceeded"] == 3                  # rq/4, rq/5, rq/6
    watcher.publish("rq/end", b"end", qos=1)
    watcher.wait_message("rq/end")
    got = [(m.topic, m.payload) for m in watcher.messages]
    assert ("rq/4", b"v") not in got and ("rq/6", b"v") not in got
    assert ("rq/4", b"plain") in got and ("rq/5", b"http") in got
    w.close()
    w311.close()


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "5x", "100000001"])
def test_retained_max_flag_refused_when_malformed(bad):
    r = subprocess.run([os.path.join(BUILD_DIR, "iotlua-emulator"), "--retained-max", bad],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "--retained-max" in r.stderr and bad in r.stderr


def _update(iot, thing, state, name=None):
    kw = {"shadowName": name} if name else {}
    body = json.dumps({"state": {"reported": state}}).encode()
    return json.loads(iot.update_thing_shadow(thingName=thing, payload=body, **kw)["payload"]
                      .read())


@pytest.mark.parametrize("name", [None, "big-named"])
def test_shadow_document_size_limit_classic_and_named(emulator, name):
    """8 KB of desired + reported per shadow (each named shadow its own), metadata not
    counted: a merged document over it is 413 and the stored one stays."""
    iot = emulator.iot_data()
    _update(iot, "quota-size", {"a": "x" * 4000}, name)
    _update(iot, "quota-size", {"b": "y" * 4000}, name)          # about 8,020 bytes: fits
    with pytest.raises(botocore.exceptions.ClientError) as e:
        _update(iot, "quota-size", {"c": "z" * 200}, name)       # merged over 8 KB
    err = e.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == \
        ("RequestEntityTooLargeException", 413)
    kw = {"shadowName": name} if name else {}
    doc = json.loads(iot.get_thing_shadow(thingName="quota-size", **kw)["payload"].read())
    assert sorted(doc["state"]["reported"]) == ["a", "b"]


def test_named_shadows_per_thing_not_limited(emulator):
    """AWS documents no quota on named shadows per thing ("multiple named shadows"): 60
    of them (more than any cap seen quoted) all exist and list."""
    iot = emulator.iot_data()
    names = [f"s{i:02d}" for i in range(60)]
    for n in names:
        _update(iot, "quota-many", {"n": n}, n)
    listed, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = iot.list_named_shadows_for_thing(thingName="quota-many", pageSize=25, **kw)
        listed += page["results"]
        token = page.get("nextToken")
        if not token:
            break
    assert listed == names
