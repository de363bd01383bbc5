"""The Device Shadow service of iotlua-emulator: boto3's iot-data client for the HTTP
operations (GetThingShadow, UpdateThingShadow, DeleteThingShadow,
ListNamedShadowsForThing) and their errors; paho-mqtt devices on the reserved topics
$aws/things/<thing>/shadow[/name/<shadow>]/... ; and the two joined: an HTTP desired
change reaches a device as update/delta and update/documents, a device's MQTT report
shows in GetThingShadow, a rejected MQTT update reaches /rejected."""

import json
import subprocess
import time

import botocore.exceptions
import pytest


def doc(response):
    """The JSON document of a shadow operation's streaming payload."""
    return json.loads(response["payload"].read())


def error_of(excinfo):
    err = excinfo.value.response
    return (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"],
            err["Error"]["Message"])


def update(iot, thing, body, name=None):
    kw = {"shadowName": name} if name else {}
    return doc(iot.update_thing_shadow(thingName=thing, payload=json.dumps(body), **kw))


def get(iot, thing, name=None):
    kw = {"shadowName": name} if name else {}
    return doc(iot.get_thing_shadow(thingName=thing, **kw))


# --------------------------------------------------------------------------- HTTP

def test_update_get_delete_classic_shadow(emulator):
    iot = emulator.iot_data()
    before = int(time.time())
    a = update(iot, "lamp-1", {"state": {"desired": {"color": "RED", "seq": [1, 2, 3]},
                                         "reported": {"color": "GREEN"}},
                               "clientToken": "tok-1"})
    assert a["state"] == {"desired": {"color": "RED", "seq": [1, 2, 3]},
                          "reported": {"color": "GREEN"}}
    assert a["version"] == 1 and a["clientToken"] == "tok-1"
    assert before - 1 <= a["timestamp"] <= int(time.time()) + 1
    assert set(a["metadata"]["desired"]) == {"color", "seq"}
    g = get(iot, "lamp-1")
    assert g["state"]["delta"] == {"color": "RED", "seq": [1, 2, 3]}
    assert g["metadata"]["reported"]["color"]["timestamp"] == a["timestamp"]
    assert g["version"] == 1
    # merge: nested objects merge, null deletes, arrays are replaced whole
    update(iot, "lamp-1", {"state": {"desired": {"seq": [9], "color": None,
                                                 "lights": {"on": True}}}})
    update(iot, "lamp-1", {"state": {"desired": {"lights": {"level": 3}}}})
    g = get(iot, "lamp-1")
    assert g["state"]["desired"] == {"seq": [9], "lights": {"on": True, "level": 3}}
    assert g["version"] == 3
    d = doc(iot.delete_thing_shadow(thingName="lamp-1"))
    assert d["version"] == 3 and "timestamp" in d
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_thing_shadow(thingName="lamp-1")
    assert error_of(e) == ("ResourceNotFoundException", 404,
                           "No shadow exists with name: 'lamp-1'")
    # re-created at once: the version goes on from the deleted one's
    assert update(iot, "lamp-1", {"state": {"reported": {"on": 1}}})["version"] == 4


def test_named_shadows_and_listing(emulator):
    iot = emulator.iot_data()
    for name in ["cfg-3", "cfg-1", "cfg-2", "$ota", "cfg-4"]:
        update(iot, "multi", {"state": {"reported": {"n": name}}}, name=name)
    update(iot, "multi", {"state": {"reported": {"classic": True}}})
    assert get(iot, "multi", "cfg-2")["state"]["reported"] == {"n": "cfg-2"}
    assert get(iot, "multi")["state"]["reported"] == {"classic": True}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_thing_shadow(thingName="multi", shadowName="nope")
    assert error_of(e) == ("ResourceNotFoundException", 404, "No shadow exists with name: 'nope'")
    iot.delete_thing_shadow(thingName="multi", shadowName="cfg-4")
    first = iot.list_named_shadows_for_thing(thingName="multi", pageSize=2)
    assert first["results"] == ["$ota", "cfg-1"] and first["nextToken"]
    assert isinstance(first["timestamp"], int)
    second = iot.list_named_shadows_for_thing(thingName="multi", pageSize=2,
                                              nextToken=first["nextToken"])
    assert second["results"] == ["cfg-2", "cfg-3"] and "nextToken" not in second
    assert iot.list_named_shadows_for_thing(thingName="none")["results"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.list_named_shadows_for_thing(thingName="multi", nextToken="not-a-token")
    assert error_of(e)[:2] == ("InvalidRequestException", 400)
    for size in ("0", "101", "x"):
        r = emulator.signed_request("GET", "/api/things/shadow/ListNamedShadowsForThing/multi",
                                    query=f"pageSize={size}")
        assert (r.status, r.error_type) == (400, "InvalidRequestException"), size


@pytest.mark.parametrize("body,status,code,message", [
    (b'{"state":', 400, "InvalidRequestException", "Invalid JSON"),
    (b'{"desired":{}}', 400, "InvalidRequestException", "Missing required node: state"),
    (b'{"state":{"desired":1}}', 400, "InvalidRequestException",
     "Desired node must be an object"),
    (b'{"state":{"other":{}}}', 400, "InvalidRequestException", "State contains an invalid node"),
    (b'{"state":{},"clientToken":"' + b"x" * 65 + b'"}', 400, "InvalidRequestException",
     "Invalid clientToken"),
    (b'{"state":{"reported":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}}', 400,
     "InvalidRequestException", "JSON contains too many levels of nesting; maximum is 6"),
    (b'{"state":{"reported":{"big":"' + b"x" * 9000 + b'"}}}', 413,
     "RequestEntityTooLargeException", "The payload exceeds the maximum size allowed"),
])
def test_update_errors(emulator, body, status, code, message):
    iot = emulator.iot_data()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.update_thing_shadow(thingName="bad-doc", payload=body)
    assert error_of(e) == (code, status, message)


def test_version_conflict_and_bad_names(emulator):
    iot = emulator.iot_data()
    update(iot, "ver", {"state": {"desired": {"x": 1}}})
    update(iot, "ver", {"state": {"desired": {"x": 2}}})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        update(iot, "ver", {"state": {"desired": {"x": 3}}, "version": 1})
    assert error_of(e) == ("ConflictException", 409, "Version conflict")
    assert update(iot, "ver", {"state": {"desired": {"x": 3}}, "version": 2})["version"] == 3
    r = emulator.signed_request("GET", "/things/bad%20name/shadow")
    assert (r.status, r.error_type) == (400, "InvalidRequestException")
    r = emulator.signed_request("GET", "/things/ver/shadow", query="name=a%2Fb")
    assert (r.status, r.error_type) == (400, "InvalidRequestException")


# --------------------------------------------------------------------------- MQTT

PREFIX = "$aws/things/{}/shadow"


def subscribe_all(dev, prefix, ops=("update/accepted", "update/rejected", "update/delta",
                                    "update/documents", "get/accepted", "get/rejected",
                                    "delete/accepted", "delete/rejected")):
    for op in ops:
        dev.subscribe(f"{prefix}/{op}", qos=1)


def payload(msg):
    return json.loads(msg.payload)


def test_http_desired_change_reaches_the_device_as_delta(emulator):
    prefix = PREFIX.format("heater")
    dev = emulator.device("heater")
    subscribe_all(dev, prefix)
    iot = emulator.iot_data()
    update(iot, "heater", {"state": {"reported": {"temp": 18, "mode": "eco"}}})
    update(iot, "heater", {"state": {"desired": {"temp": 21, "mode": "eco"}},
                           "clientToken": "app-7"})
    delta = payload(dev.wait_message(f"{prefix}/update/delta"))
    assert delta["state"] == {"temp": 21}
    assert delta["version"] == 2 and delta["clientToken"] == "app-7"
    assert set(delta["metadata"]) == {"temp"}
    docs = payload(dev.wait_message(f"{prefix}/update/documents", count=2))
    assert docs["previous"]["version"] == 1 and docs["current"]["version"] == 2
    assert docs["previous"]["state"] == {"reported": {"temp": 18, "mode": "eco"}}
    assert docs["current"]["state"]["desired"] == {"temp": 21, "mode": "eco"}
    accepted = payload(dev.wait_message(f"{prefix}/update/accepted", count=2))
    assert accepted["state"] == {"desired": {"temp": 21, "mode": "eco"}}
    # the first update (reported only, nothing desired) sent no delta
    assert len([m for m in dev.messages if m.topic == f"{prefix}/update/delta"]) == 1


def test_device_report_over_mqtt_shows_in_http_get(emulator):
    prefix = PREFIX.format("pump") + "/name/status"
    dev = emulator.device("pump")
    subscribe_all(dev, prefix)
    dev.publish(f"{prefix}/update",
                json.dumps({"state": {"reported": {"rpm": 1200}}, "clientToken": "dev-1"}),
                qos=1)
    accepted = payload(dev.wait_message(f"{prefix}/update/accepted"))
    assert accepted["state"] == {"reported": {"rpm": 1200}} and accepted["version"] == 1
    assert accepted["clientToken"] == "dev-1"
    g = get(emulator.iot_data(), "pump", "status")
    assert g["state"] == {"reported": {"rpm": 1200}} and g["version"] == 1
    # get over MQTT, with its clientToken echoed
    dev.publish(f"{prefix}/get", json.dumps({"clientToken": "g-1"}), qos=1)
    got = payload(dev.wait_message(f"{prefix}/get/accepted"))
    assert got["state"] == {"reported": {"rpm": 1200}} and got["clientToken"] == "g-1"


def test_rejected_updates_and_gets_reach_rejected(emulator):
    prefix = PREFIX.format("valve")
    dev = emulator.device("valve")
    subscribe_all(dev, prefix)
    dev.publish(f"{prefix}/update", b'{"state": nope}', qos=1)
    rej = payload(dev.wait_message(f"{prefix}/update/rejected"))
    assert rej["code"] == 400 and rej["message"] == "Invalid JSON" and "timestamp" in rej
    dev.publish(f"{prefix}/update", json.dumps({"state": {"reported": {"a": 1}}}), qos=1)
    dev.wait_message(f"{prefix}/update/accepted")
    dev.publish(f"{prefix}/update", json.dumps({"state": {"reported": {"a": 2}},
                                                "version": 7, "clientToken": "c-9"}), qos=1)
    rej = payload(dev.wait_message(f"{prefix}/update/rejected", count=2))
    assert (rej["code"], rej["message"], rej["clientToken"]) == (409, "Version conflict", "c-9")
    dev.subscribe(PREFIX.format("nothing-here") + "/get/rejected")
    dev.publish(PREFIX.format("nothing-here") + "/get", b"", qos=1)
    rej = payload(dev.wait_message(PREFIX.format("nothing-here") + "/get/rejected"))
    assert rej["code"] == 404
    assert rej["message"] == "No shadow exists with name: 'nothing-here'"


def test_mqtt_delete_and_http_delete_are_published(emulator):
    prefix = PREFIX.format("door")
    dev = emulator.device("door")
    subscribe_all(dev, prefix)
    iot = emulator.iot_data()
    update(iot, "door", {"state": {"reported": {"open": False}}})
    dev.publish(f"{prefix}/delete", b"", qos=1)
    deleted = payload(dev.wait_message(f"{prefix}/delete/accepted"))
    assert deleted["version"] == 1
    with pytest.raises(botocore.exceptions.ClientError):
        iot.get_thing_shadow(thingName="door")
    dev.publish(f"{prefix}/delete", b"", qos=1)
    assert payload(dev.wait_message(f"{prefix}/delete/rejected"))["code"] == 404
    update(iot, "door", {"state": {"reported": {"open": True}}})
    iot.delete_thing_shadow(thingName="door")
    assert payload(dev.wait_message(f"{prefix}/delete/accepted", count=2))["version"] == 2


def test_mosquitto_clients_on_the_shadow_topics(emulator):
    """MQTT 3.1.1 through Debian's mosquitto clients: mosquitto_pub sends the update,
    mosquitto_sub hears the delta, boto3 reads the result."""
    port, prefix = str(emulator.mqtt_port), PREFIX.format("mosq-thing")
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv311",
                            "-q", "1", "-t", f"{prefix}/update/delta", "-C", "1", "-W", "10",
                            "-i", "mosq-shadow-sub"], stdout=subprocess.PIPE, text=True)
    iot = emulator.iot_data()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:     # until mosquitto_sub has subscribed
        try:
            if iot.list_subscriptions(clientId="mosq-shadow-sub")["subscriptions"]:
                break
        except botocore.exceptions.ClientError:
            pass
        time.sleep(0.05)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv311", "-q", "1",
                    "-t", f"{prefix}/update",
                    "-m", json.dumps({"state": {"desired": {"led": "on"}}})],
                   check=True, timeout=10)
    out, _ = sub.communicate(timeout=10)
    delta = json.loads(out)
    assert delta["state"] == {"led": "on"} and delta["version"] == 1
    assert get(iot, "mosq-thing")["state"]["desired"] == {"led": "on"}
