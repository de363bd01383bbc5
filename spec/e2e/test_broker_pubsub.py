"""MQTT broker: publish/subscribe with real clients (paho-mqtt 1.6.1, mosquitto_pub/sub,
raw sockets), MQTT 5 and 3.1.1: QoS 0/1, wildcards, $-topics, shared subscriptions,
retained messages, MQTT 5 properties forwarded (and stripped for 3.1.1), No Local, and
AWS IoT's QoS 2 behaviour."""

import subprocess
import time

import pytest

from broker_support import Wire, publish_packet, read_disconnect, subscribe_packet


def _publish_props(**kw):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    p = Properties(PacketTypes.PUBLISH)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def _granted(codes):
    return [int(getattr(c, "value", c)) for c in codes]


def _settle(dev, marker_topic, pub):
    """Publishes a marker and waits for it: every earlier message to dev has arrived."""
    pub.publish(marker_topic, b"marker", qos=1)
    dev.wait_message(marker_topic)


@pytest.mark.parametrize("sub_proto,pub_proto", [(5, 5), (4, 4), (5, 4), (4, 5)])
def test_qos0_and_qos1_between_versions(emulator, sub_proto, pub_proto):
    base = f"pubsub/v{sub_proto}{pub_proto}"
    sub = emulator.device(f"sub-{sub_proto}{pub_proto}", protocol=sub_proto)
    pub = emulator.device(f"pub-{sub_proto}{pub_proto}", protocol=pub_proto)
    assert _granted(sub.subscribe(base + "/#", qos=1)) == [1]
    pub.publish(base + "/q0", b"zero", qos=0)
    pub.publish(base + "/q1", b"one", qos=1)
    m0 = sub.wait_message(base + "/q0")
    m1 = sub.wait_message(base + "/q1")
    assert (m0.payload, m0.qos) == (b"zero", 0)
    assert (m1.payload, m1.qos) == (b"one", 1)


def test_granted_qos_is_min_of_subscription_and_message(emulator):
    sub = emulator.device("sub-min-qos")
    pub = emulator.device("pub-min-qos")
    sub.subscribe("minqos/t", qos=0)
    pub.publish("minqos/t", b"x", qos=1)
    assert sub.wait_message("minqos/t").qos == 0


def test_wildcards_plus_and_hash(emulator):
    sub = emulator.device("sub-wild")
    pub = emulator.device("pub-wild")
    sub.subscribe("wild/+/temp")
    sub.subscribe("deep/#")
    for t in ("wild/a/temp", "wild/a/b/temp", "wild/temp", "deep", "deep/x/y/z"):
        pub.publish(t, t.encode(), qos=1)
    _settle(sub, "deep/marker", pub)
    got = sorted(m.topic for m in sub.messages)
    assert got == ["deep", "deep/marker", "deep/x/y/z", "wild/a/temp"]


def _reference_match(flt, topic):
    """MQTT topic matching, written independently of the broker, for the table below."""
    if topic.startswith("$") and flt[:1] in ("+", "#"):
        return False
    f, t = flt.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


MATCH_FILTERS = ["tbl/a/b", "tbl/+/b", "tbl/#", "tbl/a/#", "+/a/b", "#", "tbl/+", "tbl/+/+/d",
                 "tbl/a/b/#", "+/+", "tbl//b", "$tbl/#", "+/#"]
MATCH_TOPICS = ["tbl/a/b", "tbl/a", "tbl", "tbl/x/b", "tbl/a/b/c/d", "tbl/a/c/d", "tbl//b",
                "other/a/b", "$tbl/a/b", "tbl/a/b/"]


def test_wildcard_matching_table(fresh_emulator):
    emu = fresh_emulator
    devs = {}
    for i, flt in enumerate(MATCH_FILTERS):
        devs[flt] = emu.device(f"tbl-{i}", protocol=4 if i % 2 else 5)
        devs[flt].subscribe(flt)
    pub = emu.device("tbl-pub")
    for topic in MATCH_TOPICS:
        pub.publish(topic, topic.encode(), qos=1)
    for flt, dev in devs.items():
        expected = [t for t in MATCH_TOPICS if _reference_match(flt, t)]
        if expected:
            dev.wait_message(expected[-1])
    pub.publish("tbl/zz-end", b"end", qos=1)
    devs["tbl/#"].wait_message("tbl/zz-end")
    time.sleep(0.2)
    for flt, dev in devs.items():
        expected = [t for t in MATCH_TOPICS if _reference_match(flt, t)]
        if _reference_match(flt, "tbl/zz-end"):
            expected.append("tbl/zz-end")
        assert [m.topic for m in dev.messages] == expected, flt


def test_overlapping_subscriptions_deliver_once(emulator):
    sub = emulator.device("sub-overlap")
    pub = emulator.device("pub-overlap")
    sub.subscribe("ovl/#", qos=0)
    sub.subscribe("ovl/a", qos=1)
    pub.publish("ovl/a", b"once", qos=1)
    _settle(sub, "ovl/zz", pub)
    got = [m for m in sub.messages if m.topic == "ovl/a"]
    assert len(got) == 1 and got[0].qos == 1


def test_dollar_topics_not_matched_by_leading_wildcards(emulator):
    sub = emulator.device("sub-dollar")
    pub = emulator.device("pub-dollar")
    sub.subscribe("#")
    sub.subscribe("+/sys/x")
    sub.subscribe("$test/#")
    pub.publish("$test/sys/x", b"d", qos=1)
    got = sub.wait_message("$test/sys/x")
    _settle(sub, "dollar-marker", pub)
    assert [m.topic for m in sub.messages].count("$test/sys/x") == 1
    assert got.payload == b"d"


def test_shared_subscription_round_robin(emulator):
    a = emulator.device("share-a")
    b = emulator.device("share-b")
    plain = emulator.device("share-plain")
    pub = emulator.device("share-pub")
    a.subscribe("$share/workers/jobs/+")
    b.subscribe("$share/workers/jobs/+")
    plain.subscribe("jobs/+")
    for i in range(6):
        pub.publish(f"jobs/{i}", str(i).encode(), qos=1)
    plain.wait_message(count=6)
    deadline = time.monotonic() + 5
    while len(a.messages) + len(b.messages) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    got_a = sorted(m.payload for m in a.messages)
    got_b = sorted(m.payload for m in b.messages)
    assert len(got_a) == 3 and len(got_b) == 3, (got_a, got_b)
    assert sorted(got_a + got_b) == [str(i).encode() for i in range(6)]


def test_shared_subscription_skips_offline_member(emulator):
    a = emulator.device("share2-a", protocol=4, clean=False)
    b = emulator.device("share2-b")
    pub = emulator.device("share2-pub")
    a.subscribe("$share/g2/s2/t")
    b.subscribe("$share/g2/s2/t")
    a.disconnect()
    for i in range(4):
        pub.publish("s2/t", str(i).encode(), qos=1)
    b.wait_message("s2/t", count=4)


def test_retained_message_delivered_on_subscribe_and_deleted(emulator):
    pub = emulator.device("ret-pub")
    pub.publish("ret/a", b"kept", qos=1, retain=True)
    pub.publish("ret/b", b"other", qos=1, retain=True)
    late = emulator.device("ret-late")
    late.subscribe("ret/a")
    m = late.wait_message("ret/a")
    assert (m.payload, m.retain) == (b"kept", True)
    # live delivery to an existing subscription carries retain=0 (no Retain As Published)
    pub.publish("ret/a", b"newer", qos=1, retain=True)
    live = late.wait_message("ret/a", count=2)
    assert (live.payload, live.retain) == (b"newer", False)
    # an empty retained payload deletes it
    pub.publish("ret/a", b"", qos=1, retain=True)
    later = emulator.device("ret-later", protocol=4)
    later.subscribe("ret/#")
    got = later.wait_message("ret/b")
    assert got.retain and got.payload == b"other"
    _settle(later, "ret/zz-marker", pub)
    assert [m.topic for m in later.messages if m.retain] == ["ret/b"]


def test_retain_handling_and_retain_as_published(emulator):
    """MQTT 5 subscription options: Retain Handling 0/1/2 and Retain As Published."""
    pub = emulator.device("rh-pub")
    pub.publish("rh/t", b"stored", qos=1, retain=True)
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("rh-sub", protocol=5)

    def subscribe(options, pid):
        w.send(subscribe_packet("rh/t", options=options, packet_id=pid))
        first, body = w.read_packet()
        assert first == 0x90 and body[:2] == bytes([0, pid])

    subscribe(0x21, 1)                  # QoS 1, Retain Handling 2: never
    assert w.silent(0.3)
    subscribe(0x11, 2)                  # Retain Handling 1: only for a new subscription
    assert w.silent(0.3)
    subscribe(0x01, 3)                  # Retain Handling 0: always
    first, body = w.read_packet()
    assert first == 0x33 and body.endswith(b"stored")     # PUBLISH QoS 1, RETAIN
    subscribe(0x09, 4)                  # Retain As Published (and RH 0: retained again)
    first, _ = w.read_packet()
    assert first == 0x33
    pub.publish("rh/t", b"live", qos=1, retain=True)
    first, body = w.read_packet()
    assert first & 0x01 and body.endswith(b"live")        # live delivery keeps RETAIN
    pub.publish("rh/t", b"", qos=1, retain=True)          # tidy up: delete it
    w.close()


def test_mqtt5_properties_forwarded_and_stripped_for_311(emulator):
    sub5 = emulator.device("props-sub5")
    sub5.subscribe("props/t")
    raw311 = emulator.raw_device("props-raw311", protocol=4, auto_ack=True)
    raw311.subscribe("props/t")
    pub = emulator.device("props-pub")
    props = _publish_props(UserProperty=[("k1", "v1"), ("k2", "v2")],
                           ContentType="application/json", ResponseTopic="props/reply",
                           CorrelationData=b"\x00\x01corr", PayloadFormatIndicator=1,
                           MessageExpiryInterval=120)
    pub.client.publish("props/t", b'{"a":1}', qos=1, properties=props).wait_for_publish(5)
    m = sub5.wait_message("props/t")
    assert m.payload == b'{"a":1}'
    assert m.properties["UserProperty"] == [("k1", "v1"), ("k2", "v2")]
    assert m.properties["ContentType"] == "application/json"
    assert m.properties["ResponseTopic"] == "props/reply"
    assert m.properties["CorrelationData"] == b"\x00\x01corr"
    assert m.properties["PayloadFormatIndicator"] == 1
    assert 118 <= m.properties["MessageExpiryInterval"] <= 120
    r = raw311.wait_message("props/t")
    assert r.payload == b'{"a":1}' and r.properties == {}


def test_message_expiry_counts_down_while_queued(emulator):
    pub = emulator.device("exp-pub")
    sub = emulator.device("exp-sub", clean=False, session_expiry=300)
    sub.subscribe("exp/t")
    sub.disconnect()
    pub.client.publish("exp/t", b"soon", qos=1,
                       properties=_publish_props(MessageExpiryInterval=2)).wait_for_publish(5)
    pub.client.publish("exp/t", b"later", qos=1,
                       properties=_publish_props(MessageExpiryInterval=100)).wait_for_publish(5)
    time.sleep(2.2)
    back = emulator.device("exp-sub", clean=False, session_expiry=300)
    m = back.wait_message("exp/t")
    assert m.payload == b"later"
    assert m.properties["MessageExpiryInterval"] <= 98
    pub.publish("exp/t", b"marker", qos=1)
    back.wait_message("exp/t", count=2)
    assert [x.payload for x in back.messages] == [b"later", b"marker"]


def test_no_local_subscription_option(emulator):
    from paho.mqtt.subscribeoptions import SubscribeOptions
    dev = emulator.device("nolocal")
    other = emulator.device("nolocal-other")
    rc, mid = dev.client.subscribe("nolocal/t", options=SubscribeOptions(qos=1, noLocal=True))
    dev._wait(lambda: mid in dev.suback, 5, "SUBACK")
    dev.publish("nolocal/t", b"mine", qos=1)
    other.publish("nolocal/t", b"theirs", qos=1)
    m = dev.wait_message("nolocal/t")
    assert m.payload == b"theirs"
    time.sleep(0.2)
    assert [x.payload for x in dev.messages] == [b"theirs"]


def test_mosquitto_clients_v5_user_property_to_v311(emulator):
    port = str(emulator.mqtt_port)
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv311",
                            "-t", "mosq/#", "-C", "1", "-F", "%t|%p", "-W", "10",
                            "-i", "mosq-sub"], stdout=subprocess.PIPE, text=True)
    probe = emulator.device("mosq-probe")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:     # wait until mosquitto_sub is subscribed
        out = emulator.aws("iot-data", "list-subscriptions", "--client-id", "mosq-sub",
                           check=False)
        if out.returncode == 0 and out.json and out.json.get("subscriptions"):
            break
        time.sleep(0.05)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-q", "1",
                    "-t", "mosq/a", "-m", "from-mosquitto", "-D", "publish", "user-property",
                    "who", "mosq"], check=True, timeout=10)
    out, _ = sub.communicate(timeout=10)
    assert out.strip() == "mosq/a|from-mosquitto"
    probe.close()


def test_mosquitto_sub_v5_receives_user_property(emulator):
    port = str(emulator.mqtt_port)
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5",
                            "-t", "mosq5/#", "-C", "1", "-F", "%t|%p|%P", "-W", "10",
                            "-i", "mosq5-sub"], stdout=subprocess.PIPE, text=True)
    pub = emulator.device("mosq5-pub")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        out = emulator.aws("iot-data", "list-subscriptions", "--client-id", "mosq5-sub",
                           check=False)
        if out.returncode == 0 and out.json and out.json.get("subscriptions"):
            break
        time.sleep(0.05)
    pub.client.publish("mosq5/a", b"p", qos=1,
                       properties=_publish_props(UserProperty=[("color", "blue")])
                       ).wait_for_publish(5)
    out, _ = sub.communicate(timeout=10)
    assert out.strip() == "mosq5/a|p|color:blue"


def test_subscribe_qos2_gets_no_suback_as_aws_documents(emulator):
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("qos2-sub")
    w.send(subscribe_packet("qos2/t", options=2, packet_id=7))
    assert w.silent(0.7), "a SUBSCRIBE for QoS 2 must get no SUBACK"
    # nothing was subscribed: a publish on the topic does not arrive
    pub = emulator.device("qos2-pub")
    pub.publish("qos2/t", b"x", qos=1)
    assert w.silent(0.3)
    # and the connection still works
    w.send(b"\xc0\x00")
    assert w.read_raw_packet() == b"\xd0\x00"
    w.close()


@pytest.mark.parametrize("protocol", [5, 4])
def test_publish_qos2_disconnects(emulator, protocol):
    watcher = emulator.device(f"qos2-watch-{protocol}")
    watcher.subscribe("qos2pub/#")
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect(f"qos2-pub-{protocol}", protocol=protocol)
    w.send(publish_packet("qos2pub/t", b"two", qos=2, packet_id=3, protocol=protocol))
    if protocol == 5:
        reason, text = read_disconnect(w)
        assert reason == 0x9B and "QoS 2" in text          # QoS not supported
    assert w.closed()
    w.close()
    watcher.publish("qos2pub/alive", b"ok", qos=1)
    assert watcher.wait_message("qos2pub/alive").payload == b"ok"
    assert not [m for m in watcher.messages if m.topic == "qos2pub/t"]


def test_http_publish_reaches_mqtt5_and_311_subscribers(emulator):
    """The broker side of Publish: HTTP publish with properties -> devices."""
    sub5 = emulator.device("http-sub5")
    sub311 = emulator.device("http-sub311", protocol=4)
    sub5.subscribe("httppub/+")
    sub311.subscribe("httppub/+")
    iot = emulator.iot_data()
    iot.publish(topic="httppub/a", qos=1, payload=b"from-http", contentType="text/plain",
                responseTopic="httppub/reply", payloadFormatIndicator="UTF8_DATA",
                messageExpiry=60, userProperties=[{"a": "1"}])
    m5 = sub5.wait_message("httppub/a")
    m3 = sub311.wait_message("httppub/a")
    assert m5.payload == m3.payload == b"from-http"
    assert m5.properties["ContentType"] == "text/plain"
    assert m5.properties["ResponseTopic"] == "httppub/reply"
    assert m5.properties["UserProperty"] == [("a", "1")]
    assert m5.properties["PayloadFormatIndicator"] == 1
    assert 0 < m5.properties["MessageExpiryInterval"] <= 60
    assert m3.properties == {}


def test_qos1_puback_comes_before_the_forwarded_copy(emulator):
    """A QoS 1 PUBLISH is acknowledged before it is forwarded: a client subscribed to its
    own topic hears its PUBACK first (as mosquitto answers; Paho's MQTT 5 suite relies
    on it)."""
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("ack-order", protocol=5)
    w.send(subscribe_packet("ack/order", options=0x01, packet_id=1))
    first, _ = w.read_packet()
    assert first == 0x90
    for pid in range(2, 12):
        w.send(publish_packet("ack/order", b"x%d" % pid, qos=1, packet_id=pid))
        first, body = w.read_packet()
        assert first == 0x40 and body[:2] == pid.to_bytes(2, "big"), hex(first)   # PUBACK
        first, body = w.read_packet()
        assert first & 0xF0 == 0x30 and body.endswith(b"x%d" % pid)          # then PUBLISH
        w.send(bytes([0x40, 2]) + body[2 + int.from_bytes(body[:2], "big"):][:2])
    w.close()
