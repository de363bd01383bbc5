"""MQTT broker: AWS IoT limits — topic at most 256 bytes and 7 slashes (not counting a
`$aws/rules/<name>/` prefix), payload at most 128 KiB — and the client's own Maximum
Packet Size; a client over a limit is disconnected (CLIENT_ERROR), others are not."""

import time

import pytest

from broker_support import Wire, publish_packet, read_disconnect


def _wire(emulator, cid, protocol=5):
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect(cid, protocol=protocol)
    return w


@pytest.fixture(scope="module")
def watcher(emulator):
    dev = emulator.device("limits-watch")
    dev.subscribe("lim/#")
    dev.subscribe("$aws/rules/#")
    return dev


@pytest.mark.parametrize("topic", [
    "lim/" + "x" * 252,                          # 256 bytes
    "lim/1/2/3/4/5/6/7",                         # 7 slashes
    "$aws/rules/my_rule/lim/1/2/3/4/5/6",       # 7 slashes after the rules prefix
])
def test_topics_within_limits_are_delivered(emulator, watcher, topic):
    pub = emulator.device("lim-pub-ok")
    pub.publish(topic, b"ok", qos=1)
    assert watcher.wait_message(topic).payload == b"ok"
    pub.close()


@pytest.mark.parametrize("topic", [
    "lim/" + "x" * 253,                          # 257 bytes
    "lim/1/2/3/4/5/6/7/8",                       # 8 slashes
])
@pytest.mark.parametrize("protocol", [5, 4])
def test_topic_over_limits_disconnects(emulator, watcher, topic, protocol):
    cid = f"lim-topic-{protocol}-{len(topic)}"
    w = _wire(emulator, cid, protocol)
    w.send(publish_packet(topic, b"no", qos=1, protocol=protocol))
    if protocol == 5:
        assert read_disconnect(w)[0] == 0x90              # Topic Name invalid
    assert w.closed()
    w.close()
    conn = emulator.iot_data().get_connection(clientId=cid)
    assert conn["connected"] is False and conn["disconnectReason"] == "CLIENT_ERROR"
    watcher.publish("lim/after", b"still", qos=1)
    watcher.wait_message("lim/after")


def test_payload_of_128_kib_is_delivered(emulator, watcher):
    big = bytes(range(256)) * 512                          # 131072 bytes
    pub = emulator.device("lim-big-ok", protocol=4)
    pub.publish("lim/big", big, qos=1)
    assert watcher.wait_message("lim/big").payload == big


@pytest.mark.parametrize("protocol", [5, 4])
def test_payload_over_128_kib_disconnects(emulator, watcher, protocol):
    cid = f"lim-big-{protocol}"
    w = _wire(emulator, cid, protocol)
    w.send(publish_packet("lim/toobig", b"x" * (128 * 1024 + 1), qos=1, protocol=protocol))
    if protocol == 5:
        assert read_disconnect(w)[0] == 0x95              # Packet too large
    assert w.closed()
    w.close()
    assert emulator.iot_data().get_connection(clientId=cid)["disconnectReason"] == "CLIENT_ERROR"


def test_subscription_filter_over_limits_fails_in_suback(emulator):
    dev = emulator.device("lim-sub")
    granted = dev.subscribe("lim/1/2/3/4/5/6/7/+")
    assert int(getattr(granted[0], "value", granted[0])) == 0x8F   # Topic Filter invalid
    dev311 = emulator.device("lim-sub-311", protocol=4)
    assert dev311.subscribe("lim/" + "y" * 300) == (128,)


def test_messages_over_client_maximum_packet_size_are_not_sent(emulator):
    from broker_support import connect_packet, subscribe_packet
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.send(connect_packet("lim-maxpkt", protocol=5, props=b"\x27\x00\x00\x00\x40"))  # 64 bytes
    assert w.read_packet()[0] == 0x20
    w.send(subscribe_packet("lim/maxpkt", options=0, packet_id=1))
    assert w.read_packet()[0] == 0x90
    pub = emulator.device("lim-maxpkt-pub")
    pub.publish("lim/maxpkt", b"L" * 100, qos=1)
    pub.publish("lim/maxpkt", b"small", qos=1)
    first, body = w.read_packet()
    assert first == 0x30 and body.endswith(b"small")
    w.close()


def test_many_subscribers_all_receive(emulator):
    devs = [emulator.device(f"lim-fan-{i}", protocol=4 if i % 2 else 5) for i in range(20)]
    for d in devs:
        d.subscribe("lim/fan")
    pub = emulator.device("lim-fan-pub")
    start = time.monotonic()
    pub.publish("lim/fan", b"all", qos=1)
    for d in devs:
        assert d.wait_message("lim/fan").payload == b"all"
    assert time.monotonic() - start < 5
