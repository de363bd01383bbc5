"""MQTT broker: sessions and connection lifecycle with real clients — persistent sessions
(3.1.1 cleanSession=0, 5.0 session expiry) with queued QoS 1 and DUP redelivery, clean
start, session expiry, receive maximum, will messages, keep-alive enforcement (1.5x),
client-id takeover, and what GetConnection / ListSubscriptions report afterwards."""

import json
import struct
import time

import pytest

from broker_support import Wire, connect_packet, mstr, packet, read_disconnect


def _get(emulator, client_id, sockets=False):
    return emulator.iot_data().get_connection(clientId=client_id,
                                              includeSocketInformation=sockets)


def _subs(emulator, client_id):
    out = emulator.iot_data().list_subscriptions(clientId=client_id)
    return [(s["topicFilter"], s["qos"]) for s in out["subscriptions"]]


def _wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"no {what} within {timeout} s")


def _disconnected(emulator, client_id):
    return lambda: not _get(emulator, client_id)["connected"]


def test_persistent_311_session_queues_qos1_while_offline(emulator):
    dev = emulator.device("p311", protocol=4, clean=False)
    dev.subscribe("sess311/t", qos=1)
    dev.drop()
    _wait_for(_disconnected(emulator, "p311"), what="disconnect")
    conn = _get(emulator, "p311")
    assert conn["disconnectReason"] == "CONNECTION_LOST"
    assert conn["cleanSession"] is False
    assert _subs(emulator, "p311") == [("sess311/t", 1)]
    pub = emulator.device("p311-pub")
    for i in range(3):
        pub.publish("sess311/t", f"q{i}".encode(), qos=1)
    pub.publish("sess311/t", b"qos0-not-queued", qos=0)
    # The broker handles one connection's packets in order: once this QoS 1 publish is
    # acknowledged, the QoS 0 one was dealt with while p311 was still offline.
    pub.publish("sess311/barrier", b"", qos=1)
    back = emulator.device("p311", protocol=4, clean=False)
    assert back.connack[0]["session present"] == 1
    back.wait_message("sess311/t", count=3)
    pub.publish("sess311/t", b"live", qos=1)
    back.wait_message("sess311/t", count=4)
    assert [m.payload for m in back.messages] == [b"q0", b"q1", b"q2", b"live"]


def test_unacknowledged_qos1_redelivered_with_dup(emulator):
    raw = emulator.raw_device("redeliver", protocol=5, clean=True, session_expiry=300)
    raw.subscribe("redeliver/t", qos=1)
    pub = emulator.device("redeliver-pub")
    pub.publish("redeliver/t", b"again", qos=1)
    first = raw.wait_message("redeliver/t")
    assert first.dup is False
    raw.close()
    _wait_for(_disconnected(emulator, "redeliver"), what="disconnect")
    again = emulator.raw_device("redeliver", protocol=5, clean=False, session_expiry=300)
    second = again.wait_message("redeliver/t")
    assert (second.payload, second.dup, second.packet_id) == (b"again", True, first.packet_id)
    again.ack(second.packet_id)
    # acknowledged now: the next session resume sends nothing
    again.disconnect()
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    ack = w.connect("redeliver", protocol=5, clean=False, props=b"\x11\x00\x00\x01\x2c")
    assert ack[0] == 1, "session present"
    assert w.silent(0.5)
    w.close()


def test_expired_message_in_flight_is_not_redelivered(emulator):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    raw = emulator.raw_device("inflight-exp", protocol=5, session_expiry=300)
    raw.subscribe("inflight-exp/t", qos=1)
    pub = emulator.device("inflight-exp-pub")
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = 1
    pub.client.publish("inflight-exp/t", b"short-lived", qos=1,
                       properties=props).wait_for_publish(5)
    assert raw.wait_message("inflight-exp/t").payload == b"short-lived"   # never acked
    raw.close()
    _wait_for(_disconnected(emulator, "inflight-exp"), what="disconnect")
    time.sleep(1.2)          # the message's expiry is what is tested
    pub.publish("inflight-exp/t", b"fresh", qos=1)
    # Receive Maximum 1: a stale slot still counted as in flight would block "fresh"
    again = Wire(emulator.mqtt_host, emulator.mqtt_port)
    ack = again.connect("inflight-exp", protocol=5, clean=False,
                        props=b"\x11\x00\x00\x01\x2c\x21\x00\x01")
    assert ack[0] == 1
    first, body = again.read_packet()
    assert first == 0x32 and body.endswith(b"fresh")      # QoS 1, no DUP
    again.close()


def test_clean_start_discards_the_session(emulator):
    dev = emulator.device("cleanstart", session_expiry=300)
    dev.subscribe("cleanstart/t")
    dev.disconnect()
    pub = emulator.device("cleanstart-pub")
    pub.publish("cleanstart/t", b"lost", qos=1)
    back = emulator.device("cleanstart", clean=True, session_expiry=300)
    assert back.connack[0]["session present"] == 0
    assert _subs(emulator, "cleanstart") == []
    pub.publish("cleanstart/t", b"after", qos=1)
    time.sleep(0.3)
    assert back.messages == []


def test_session_expiry_interval_ends_the_session(emulator):
    dev = emulator.device("expiring", session_expiry=1)
    dev.subscribe("expiring/t")
    dev.disconnect()
    assert _subs(emulator, "expiring") == [("expiring/t", 1)]
    assert _get(emulator, "expiring")["sessionExpiry"] == 1
    time.sleep(2.2)      # the expiry is what is tested; the sweep runs every second
    back = emulator.device("expiring", clean=False, session_expiry=60)
    assert back.connack[0]["session present"] == 0


def test_receive_maximum_limits_messages_in_flight(emulator):
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("recvmax", protocol=5, props=b"\x21\x00\x02")
    w.send(packet(8, 2, struct.pack("!H", 1) + b"\x00" + struct.pack("!H", 9) + b"recvmax/t"
                  + b"\x01"))
    assert w.read_packet()[0] == 0x90
    pub = emulator.device("recvmax-pub")
    for i in range(4):
        pub.publish("recvmax/t", str(i).encode(), qos=1)
    got = [w.read_packet() for _ in range(2)]
    assert w.silent(0.4), "a third message before any PUBACK exceeds receive maximum 2"
    first_id = struct.unpack_from("!H", got[0][1], 11)[0]
    w.send(packet(4, 0, struct.pack("!H", first_id)))
    first, body = w.read_packet()
    assert first == 0x32 and body.endswith(b"2")
    w.close()


def test_queue_of_offline_session_is_bounded(emulator):
    dev = emulator.device("bounded", protocol=4, clean=False)
    dev.subscribe("bounded/t")
    dev.disconnect()
    pub = emulator.device("bounded-pub")
    infos = [pub.client.publish("bounded/t", str(i).encode(), qos=1) for i in range(1005)]
    for info in infos:
        info.wait_for_publish(10)
    back = emulator.device("bounded", protocol=4, clean=False)
    back.wait_message("bounded/t", count=1000, timeout=15)
    pub.publish("bounded/t", b"end", qos=1)
    back.wait_message("bounded/t", count=1001)
    payloads = [m.payload for m in back.messages]
    assert payloads[:1000] == [str(i).encode() for i in range(1000)]
    assert payloads[1000:] == [b"end"]


def test_will_sent_on_unclean_disconnect_only(emulator):
    watcher = emulator.device("will-watch")
    watcher.subscribe("will/#")
    lost = emulator.device("will-lost", will={"topic": "will/lost", "payload": b"gone", "qos": 1})
    lost.drop()
    m = watcher.wait_message("will/lost")
    assert m.payload == b"gone"
    polite = emulator.device("will-polite", protocol=4,
                             will={"topic": "will/polite", "payload": b"no", "qos": 1})
    polite.disconnect()
    # v5 DISCONNECT with reason 0x04: disconnect *with* will
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("will-04", protocol=5, will=("will/04", b"asked", 1, False))
    w.send(b"\xe0\x02\x04\x00")
    assert w.closed()
    assert watcher.wait_message("will/04").payload == b"asked"
    assert not [x for x in watcher.messages if x.topic == "will/polite"]
    assert _get(emulator, "will-polite")["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"


def test_will_delay_interval(emulator):
    """MQTT 5 Will Delay Interval: the will waits; a reconnect in time cancels it."""
    watcher = emulator.device("wd-watch")
    watcher.subscribe("willdelay/#")
    expiry = b"\x11\x00\x00\x00\x3c"                     # session expiry 60 s
    delay = b"\x18\x00\x00\x00\x01"                      # will delay 1 s
    late = Wire(emulator.mqtt_host, emulator.mqtt_port)
    late.connect("wd-late", protocol=5, props=expiry, will=("willdelay/late", b"late", 1, False),
                 will_props=delay)
    back = Wire(emulator.mqtt_host, emulator.mqtt_port)
    back.connect("wd-back", protocol=5, props=expiry, will=("willdelay/back", b"back", 1, False),
                 will_props=delay)
    lost_at = time.monotonic()
    late.close()
    back.close()
    again = Wire(emulator.mqtt_host, emulator.mqtt_port)
    assert again.connect("wd-back", protocol=5, clean=False, props=expiry)[0] == 1
    m = watcher.wait_message("willdelay/late", timeout=5)
    assert m.payload == b"late"
    assert time.monotonic() - lost_at >= 0.9
    watcher.publish("willdelay/marker", b"m", qos=1)
    watcher.wait_message("willdelay/marker")
    time.sleep(0.5)
    assert not [x for x in watcher.messages if x.topic == "willdelay/back"]
    again.close()


def test_keep_alive_enforced_at_one_and_a_half_times(start_emulator):
    emulator = start_emulator("--keep-alive-range", "1:1200")
    watcher = emulator.device("ka-watch")
    watcher.subscribe("ka/will")
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("ka-idle", protocol=5, keepalive=1, will=("ka/will", b"timeout", 0, False))
    start = time.monotonic()
    assert read_disconnect(w)[0] == 0x8D                     # Keep Alive timeout
    elapsed = time.monotonic() - start
    assert 1.3 <= elapsed <= 2.5, elapsed
    assert w.closed()
    assert watcher.wait_message("ka/will").payload == b"timeout"
    conn = _get(emulator, "ka-idle")
    assert conn["connected"] is False
    assert conn["disconnectReason"] == "MQTT_KEEP_ALIVE_TIMEOUT"
    assert conn["keepAliveDuration"] == 1


def test_keep_alive_satisfied_by_pings(start_emulator):
    emulator = start_emulator("--keep-alive-range", "1:1200")
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("ka-pinger", protocol=4, keepalive=1)
    for _ in range(6):          # 3 s, twice the 1.5 s limit
        time.sleep(0.5)
        w.send(b"\xc0\x00")
        assert w.read_raw_packet() == b"\xd0\x00"
    assert _get(emulator, "ka-pinger")["connected"] is True
    w.close()


@pytest.mark.parametrize("protocol", [5, 4])
def test_client_id_takeover(emulator, protocol):
    cid = f"takeover-{protocol}"
    old = emulator.device(cid, protocol=protocol, will={"topic": f"takeover/{protocol}/will",
                                                        "payload": b"old", "qos": 1})
    watcher = emulator.device(f"takeover-watch-{protocol}")
    watcher.subscribe(f"takeover/{protocol}/#")
    before = _get(emulator, cid)["connectedSince"]
    time.sleep(0.01)
    new = emulator.device(cid, protocol=protocol)
    old._wait(lambda: old.disconnected is not None, 5, "disconnect of the old connection")
    if protocol == 5:   # paho reports the DISCONNECT reason code: Session taken over
        assert int(getattr(old.disconnected, "value", old.disconnected)) == 0x8E
    old.client.loop_stop()
    # the old connection's will goes out (AWS sends LWT on DUPLICATE_CLIENTID)
    assert watcher.wait_message(f"takeover/{protocol}/will").payload == b"old"
    conn = _get(emulator, cid)
    assert conn["connected"] is True
    assert conn["connectedSince"] > before
    new.publish(f"takeover/{protocol}/alive", b"new", qos=1)
    watcher.wait_message(f"takeover/{protocol}/alive")


def test_takeover_disconnect_reason_bytes(emulator):
    # the first connection asked for no problem information: a bare DISCONNECT 0x8E
    first = Wire(emulator.mqtt_host, emulator.mqtt_port)
    first.connect("takeover-raw", protocol=5, props=b"\x17\x00")
    second = Wire(emulator.mqtt_host, emulator.mqtt_port)
    second.connect("takeover-raw", protocol=5)
    assert first.read_raw_packet() == b"\xe0\x02\x8e\x00"    # Session taken over
    assert first.closed()
    second.send(b"\xc0\x00")
    assert second.read_raw_packet() == b"\xd0\x00"
    # the second did not: its DISCONNECT says why in a Reason String
    third = Wire(emulator.mqtt_host, emulator.mqtt_port)
    third.connect("takeover-raw", protocol=5)
    reason, text = read_disconnect(second)
    assert reason == 0x8E and "taken over" in text
    assert second.closed()
    for w in (first, second, third):
        w.close()


def test_get_connection_fields_while_connected(emulator):
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("fields", protocol=5, keepalive=45, props=b"\x11\x00\x00\x0e\x10")
    local_port = w.sock.getsockname()[1]
    conn = _get(emulator, "fields", sockets=True)
    assert conn["connected"] is True
    assert conn["clientId"] == "fields"
    assert conn["keepAliveDuration"] == 45
    assert conn["sessionExpiry"] == 3600
    assert conn["cleanSession"] is True
    assert conn["sourceIp"] == "127.0.0.1" and conn["sourcePort"] == local_port
    assert conn["targetIp"] == "127.0.0.1" and conn["targetPort"] == emulator.mqtt_port
    assert abs(conn["connectedSince"] / 1000 - time.time()) < 60      # epoch ms
    plain = _get(emulator, "fields")
    assert "sourceIp" not in plain and "sourcePort" not in plain
    w.close()
    _wait_for(_disconnected(emulator, "fields"), what="disconnect")
    after = _get(emulator, "fields")
    assert after["disconnectReason"] == "CONNECTION_LOST"
    assert after["disconnectedSince"] >= after["connectedSince"]


def test_protocol_error_recorded_as_client_error(emulator):
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("proto-err", protocol=4)
    w.send(connect_packet("proto-err", protocol=4))       # a second CONNECT
    assert w.closed()
    _wait_for(_disconnected(emulator, "proto-err"), what="disconnect")
    assert _get(emulator, "proto-err")["disconnectReason"] == "CLIENT_ERROR"


def test_list_subscriptions_in_order_and_after_unsubscribe(emulator):
    dev = emulator.device("lister", protocol=4)
    dev.subscribe("list/a", qos=0)
    dev.subscribe("list/+/b", qos=1)
    dev.subscribe("$share/grp/list/c", qos=1)
    assert _subs(emulator, "lister") == [("list/a", 0), ("list/+/b", 1),
                                         ("$share/grp/list/c", 1)]
    rc, mid = dev.client.unsubscribe("list/a")
    _wait_for(lambda: _subs(emulator, "lister") == [("list/+/b", 1), ("$share/grp/list/c", 1)],
              what="unsubscribe")
    dev.disconnect()
    with pytest.raises(Exception) as err:
        _subs(emulator, "lister")       # clean session: nothing left once offline
    assert "ResourceNotFound" in str(err.value)


def test_lifecycle_presence_events(emulator):
    """AWS IoT lifecycle events on $aws/events/presence/{connected,disconnected}/<id>."""
    watch = emulator.device("lc-watch")
    watch.subscribe("$aws/events/presence/+/lc-dev")
    dev = emulator.device("lc-dev", protocol=4)
    first = json.loads(watch.wait_message("$aws/events/presence/connected/lc-dev").payload)
    assert first["clientId"] == "lc-dev" and first["eventType"] == "connected"
    assert first["ipAddress"] == "127.0.0.1"
    assert abs(first["timestamp"] / 1000 - time.time()) < 60
    dev.drop()
    gone = json.loads(watch.wait_message("$aws/events/presence/disconnected/lc-dev").payload)
    assert gone["eventType"] == "disconnected"
    assert gone["disconnectReason"] == "CONNECTION_LOST"
    assert gone["clientInitiatedDisconnect"] is False
    assert gone["sessionIdentifier"] == first["sessionIdentifier"]
    again = emulator.device("lc-dev")
    second = json.loads(watch.wait_message("$aws/events/presence/connected/lc-dev",
                                           count=2).payload)
    assert second["versionNumber"] == first["versionNumber"] + 1
    assert second["sessionIdentifier"] != first["sessionIdentifier"]
    again.disconnect()
    bye = json.loads(watch.wait_message("$aws/events/presence/disconnected/lc-dev",
                                        count=2).payload)
    assert bye["clientInitiatedDisconnect"] is True
    assert bye["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    # a subscription to "#" does not see them ($ topics)
    hashsub = emulator.device("lc-hash")
    hashsub.subscribe("#")
    emulator.device("lc-other").disconnect()      # its connected event precedes the marker
    hashsub.publish("lc/marker", b"m", qos=1)
    hashsub.wait_message("lc/marker")
    assert not [m for m in hashsub.messages if m.topic.startswith("$aws/")]


def test_lifecycle_subscription_events(emulator):
    watch = emulator.device("lcs-watch")
    watch.subscribe("$aws/events/subscriptions/+/lcs-dev")
    w = Wire(emulator.mqtt_host, emulator.mqtt_port)
    w.connect("lcs-dev", protocol=5)
    body = (struct.pack("!H", 1) + b"\x00" + mstr("lc/a") + b"\x01" + mstr("$share/g/lc/b")
            + b"\x00" + mstr("lc/#/bad") + b"\x00")
    w.send(packet(8, 2, body))
    assert w.read_packet() == (0x90, b"\x00\x01\x00\x01\x00\x8f")
    sub = json.loads(watch.wait_message("$aws/events/subscriptions/subscribed/lcs-dev").payload)
    assert sub["eventType"] == "subscribed" and sub["clientId"] == "lcs-dev"
    assert sub["topics"] == ["lc/a", "$share/g/lc/b"]
    w.send(packet(10, 2, struct.pack("!H", 2) + b"\x00" + mstr("lc/a") + mstr("never")))
    assert w.read_packet() == (0xB0, b"\x00\x02\x00\x00\x11")
    unsub = json.loads(
        watch.wait_message("$aws/events/subscriptions/unsubscribed/lcs-dev").payload)
    assert unsub["eventType"] == "unsubscribed" and unsub["topics"] == ["lc/a"]
    w.close()
