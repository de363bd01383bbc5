"""GetConnection and ListSubscriptions through boto3 and the AWS CLI, for real MQTT devices
after connect, subscribe, clean and unclean disconnect, keep-alive expiry and takeover."""

import struct
import time

import botocore.exceptions
import pytest


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def wait_disconnected(iot, client_id, timeout=6):
    """Polls GetConnection until the emulator reports the client offline."""
    deadline = time.monotonic() + timeout
    while True:
        c = iot.get_connection(clientId=client_id)
        if not c["connected"] or time.monotonic() > deadline:
            return c
        time.sleep(0.05)


def now_ms():
    return int(time.time() * 1000)


def test_connected_mqtt5_device_fields(emulator):
    before = now_ms()
    dev = emulator.device("conn-v5", clean=False, keepalive=30, session_expiry=300)
    after = now_ms()
    c = emulator.iot_data().get_connection(clientId="conn-v5")
    assert c["connected"] is True
    assert c["clientId"] == "conn-v5"
    assert c["cleanSession"] is False
    assert c["keepAliveDuration"] == 30
    assert c["sessionExpiry"] == 300
    assert before - 1000 <= c["connectedSince"] <= after + 1000
    for absent in ("sourceIp", "sourcePort", "targetIp", "targetPort", "disconnectReason",
                   "disconnectedSince"):
        assert absent not in c
    s = emulator.iot_data().get_connection(clientId="conn-v5", includeSocketInformation=True)
    local_ip, local_port = dev.client.socket().getsockname()[:2]
    assert (s["sourceIp"], s["sourcePort"]) == (local_ip, local_port)
    assert (s["targetIp"], s["targetPort"]) == (emulator.mqtt_host, emulator.mqtt_port)


def test_mqtt311_clean_session_device(emulator):
    emulator.device("conn-v311", protocol=4, clean=True, keepalive=45)
    c = emulator.iot_data().get_connection(clientId="conn-v311")
    assert (c["connected"], c["cleanSession"], c["keepAliveDuration"]) == (True, True, 45)


def test_clean_disconnect_reason(emulator):
    iot = emulator.iot_data()
    dev = emulator.device("conn-clean")
    since = iot.get_connection(clientId="conn-clean")["connectedSince"]
    dev.disconnect()
    c = wait_disconnected(iot, "conn-clean")
    assert c["connected"] is False
    assert c["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert c["disconnectedSince"] >= since
    assert c["connectedSince"] == since


def test_unclean_disconnect_reason(emulator):
    iot = emulator.iot_data()
    dev = emulator.device("conn-lost")
    dev.drop()
    c = wait_disconnected(iot, "conn-lost")
    assert (c["connected"], c["disconnectReason"]) == (False, "CONNECTION_LOST")


def test_keep_alive_expiry_reason(start_emulator):
    emulator = start_emulator("--keep-alive-range", "1:1200")
    iot = emulator.iot_data()
    raw = emulator.raw_device("conn-idle", keepalive=1)
    start = time.monotonic()
    assert raw.wait_closed(timeout=5)
    assert time.monotonic() - start >= 1.0
    c = wait_disconnected(iot, "conn-idle")
    assert (c["connected"], c["disconnectReason"]) == (False, "MQTT_KEEP_ALIVE_TIMEOUT")


def test_takeover_closes_the_old_connection(emulator):
    iot = emulator.iot_data()
    old = emulator.raw_device("conn-dup")
    new = emulator.raw_device("conn-dup")
    assert old.wait_closed(timeout=5)
    ptype, _, body = old.wait_packet(14)           # MQTT 5 DISCONNECT
    assert body[0] == 0x8E                          # Session taken over
    c = iot.get_connection(clientId="conn-dup", includeSocketInformation=True)
    assert c["connected"] is True
    assert c["sourcePort"] == new.sock.getsockname()[1]


def test_qa_disconnect_reason(emulator):
    iot = emulator.iot_data()
    raw = emulator.raw_device("conn-kick")
    status, body = emulator.control("POST", "/_emulator/connections/conn-kick/disconnect")
    assert (status, body["disconnected"]) == (200, True)
    assert raw.wait_closed(timeout=5)
    c = wait_disconnected(iot, "conn-kick")
    assert (c["connected"], c["disconnectReason"]) == (False, "SERVER_INITIATED_DISCONNECT")
    assert emulator.control("POST", "/_emulator/connections/conn-kick/disconnect")[0] == 404


def test_unknown_client_is_404_for_both_operations(emulator):
    iot = emulator.iot_data()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_connection(clientId="never-connected")
    assert error_of(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.list_subscriptions(clientId="never-connected")
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_aws_cli_get_connection(emulator):
    emulator.device("conn-cli", keepalive=40)
    out = emulator.aws("iot-data", "get-connection", "--client-id", "conn-cli",
                       "--include-socket-information").json
    assert (out["clientId"], out["connected"], out["keepAliveDuration"]) == ("conn-cli", True, 40)
    assert out["targetPort"] == emulator.mqtt_port
    res = emulator.aws("iot-data", "get-connection", "--client-id", "conn-none", check=False)
    assert res.returncode != 0 and "ResourceNotFoundException" in res.stderr


# ------------------------------------------------------------------ ListSubscriptions

def test_subscriptions_are_listed_with_qos_in_order(emulator):
    dev = emulator.device("subs-basic")
    dev.subscribe("a/+/c", qos=1)
    dev.subscribe("b/#", qos=0)
    dev.subscribe("$share/g/jobs", qos=1)
    r = emulator.iot_data().list_subscriptions(clientId="subs-basic")
    assert r["subscriptions"] == [{"topicFilter": "a/+/c", "qos": 1},
                                  {"topicFilter": "b/#", "qos": 0},
                                  {"topicFilter": "$share/g/jobs", "qos": 1}]
    assert "nextToken" not in r


def test_pagination_default_20_and_paginator(emulator):
    raw = emulator.raw_device("subs-many")
    filters = [f"many/{i:02d}" for i in range(45)]
    for i, f in enumerate(filters):
        raw.subscribe(f, qos=i % 2)
    iot = emulator.iot_data()
    first = iot.list_subscriptions(clientId="subs-many")
    assert len(first["subscriptions"]) == 20 and first["nextToken"]
    pages = iot.get_paginator("list_subscriptions").paginate(
        clientId="subs-many", PaginationConfig={"PageSize": 7})
    got = [(s["topicFilter"], s["qos"]) for p in pages for s in p["subscriptions"]]
    assert got == [(f, i % 2) for i, f in enumerate(filters)]
    out = emulator.aws("iot-data", "list-subscriptions", "--client-id", "subs-many").json
    assert [s["topicFilter"] for s in out["subscriptions"]] == filters


@pytest.mark.parametrize("query, needle", [
    ("maxResults=0", "maxResults"),
    ("maxResults=201", "maxResults"),
    ("maxResults=x", "maxResults"),
    ("nextToken=bogus", "nextToken"),
    ("nextToken=v1.00000000000000010000000000000000", "nextToken"),
])
def test_bad_paging_parameters_are_400(emulator, query, needle):
    emulator.device("subs-bad")
    r = emulator.signed_request("GET", "/connections/subs-bad/subscriptions", query=query)
    assert (r.status, r.error_type) == (400, "InvalidRequestException"), r
    assert needle in r.json["message"]


def test_token_of_another_client_is_rejected(emulator):
    a = emulator.raw_device("subs-tok-a")
    emulator.raw_device("subs-tok-b")
    for i in range(3):
        a.subscribe(f"t/{i}")
    iot = emulator.iot_data()
    token = iot.list_subscriptions(clientId="subs-tok-a", maxResults=1)["nextToken"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.list_subscriptions(clientId="subs-tok-b", nextToken=token)
    assert error_of(e) == ("InvalidRequestException", 400)


def test_offline_persistent_session_keeps_its_subscriptions(emulator):
    iot = emulator.iot_data()
    dev = emulator.device("subs-persist", clean=False, session_expiry=600)
    dev.subscribe("keep/me", qos=1)
    dev.disconnect()
    c = wait_disconnected(iot, "subs-persist")
    assert c["connected"] is False and c["sessionExpiry"] == 600
    r = iot.list_subscriptions(clientId="subs-persist")
    assert r["subscriptions"] == [{"topicFilter": "keep/me", "qos": 1}]


# --------------------------------------------------------------------------- DeleteConnection

def test_delete_connection_disconnects_and_sends_the_will(emulator):
    iot = emulator.iot_data()
    watcher = emulator.device("del-watcher")
    watcher.subscribe("status/del-a")
    emulator.device("del-a", will={"topic": "status/del-a", "payload": b"gone", "qos": 1})
    r = iot.delete_connection(clientId="del-a")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    c = wait_disconnected(iot, "del-a")
    assert c["connected"] is False
    assert c["disconnectReason"] == "API_INITIATED_DISCONNECT"
    assert watcher.wait_message("status/del-a").payload == b"gone"


def test_delete_connection_prevent_will_message(emulator):
    iot = emulator.iot_data()
    watcher = emulator.device("del-watcher-2")
    watcher.subscribe("status/del-b")
    emulator.device("del-b", will={"topic": "status/del-b", "payload": b"gone", "qos": 1})
    iot.delete_connection(clientId="del-b", preventWillMessage=True)
    assert wait_disconnected(iot, "del-b")["connected"] is False
    time.sleep(0.5)
    assert [m for m in watcher.messages if m.topic == "status/del-b"] == []


def test_delete_connection_clean_session_drops_the_persistent_session(emulator):
    iot = emulator.iot_data()
    keep = emulator.device("del-keep", clean=False, session_expiry=600)
    keep.subscribe("keep/#")
    drop = emulator.device("del-drop", clean=False, session_expiry=600)
    drop.subscribe("drop/#")
    iot.delete_connection(clientId="del-keep")
    iot.delete_connection(clientId="del-drop", cleanSession=True)
    wait_disconnected(iot, "del-keep")
    wait_disconnected(iot, "del-drop")
    kept = iot.list_subscriptions(clientId="del-keep")["subscriptions"]
    assert kept == [{"topicFilter": "keep/#", "qos": 1}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.list_subscriptions(clientId="del-drop")
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_delete_connection_of_a_client_not_connected(emulator):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.iot_data().delete_connection(clientId="del-nobody")
    assert error_of(e) == ("ResourceNotFoundException", 404)
