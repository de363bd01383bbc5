"""iotlua.mqtt with paho-mqtt on the other side: MQTT 5 properties both ways through the
emulator's broker, each side read by an independent client.

An iotlua script (build/iotlua) is the device; paho-mqtt (Debian's python3-paho-mqtt)
publishes to it and receives from it. Property names on the iotlua side are the data-plane
API's (contentType, responseTopic, correlationData, userProperties, messageExpiry,
payloadFormatIndicator)."""
import json
import os
import subprocess
import textwrap

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import BUILD_DIR

IOTLUA = os.path.join(BUILD_DIR, "iotlua")


def start_script(emulator, tmp_path, source):
    path = tmp_path / "device.lua"
    path.write_text(textwrap.dedent(source))
    env = dict(os.environ, IOTLUA_MQTT_URL=f"mqtt://127.0.0.1:{emulator.mqtt_port}")
    return subprocess.Popen([IOTLUA, "--quiet", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_line(proc, want):
    line = proc.stdout.readline()
    assert line.strip() == want, f"expected {want!r}, got {line!r}; stderr: {proc.stderr.read()}"


def test_paho_publish_received_by_iotlua_with_properties(emulator, tmp_path):
    proc = start_script(emulator, tmp_path, """
        local iotlua = require("iotlua")
        local dev = assert(iotlua.mqtt.connect{ client_id = "paho-peer-in" })
        assert(dev:subscribe{ "paho/in", qos = 1 })
        print("ready") io.stdout:flush()
        local m = assert(dev:receive{ topic = "paho/in", timeout = 10 })
        print(iotlua.json.encode{ topic = m.topic, payload = m.payload, qos = m.qos,
          contentType = m.contentType, responseTopic = m.responseTopic,
          correlationData = m.correlationData, userProperties = m.userProperties,
          messageExpiry = m.messageExpiry, payloadFormatIndicator = m.payloadFormatIndicator })
    """)
    try:
        wait_line(proc, "ready")
        peer = emulator.device("paho-sender")
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        props.ResponseTopic = "paho/replies"
        props.CorrelationData = b"corr-1"
        props.UserProperty = [("site", "north"), ("shift", "2")]
        props.PayloadFormatIndicator = 1
        props.MessageExpiryInterval = 120
        peer.client.publish("paho/in", b'{"t":21}', qos=1, properties=props).wait_for_publish(5)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        m = json.loads(out)
        assert m["topic"] == "paho/in" and m["payload"] == '{"t":21}' and m["qos"] == 1
        assert m["contentType"] == "application/json"
        assert m["responseTopic"] == "paho/replies"
        assert m["correlationData"] == "corr-1"
        assert m["userProperties"] == [{"site": "north"}, {"shift": "2"}]
        assert m["payloadFormatIndicator"] == "UTF8_DATA"
        assert 0 < m["messageExpiry"] <= 120
    finally:
        proc.kill()


def test_iotlua_publish_received_by_paho_with_properties(emulator, tmp_path):
    peer = emulator.device("paho-receiver")
    peer.subscribe("paho/out", qos=1)
    proc = start_script(emulator, tmp_path, """
        local iotlua = require("iotlua")
        local dev = assert(iotlua.mqtt.connect{ client_id = "paho-peer-out" })
        assert(dev:publish{ topic = "paho/out", payload = "hello", qos = 1,
          contentType = "text/plain", responseTopic = "paho/back",
          correlationData = "\\0\\1bytes", userProperties = { { a = "1" }, { a = "2" } },
          payloadFormatIndicator = "UTF8_DATA", messageExpiry = 300 })
        dev:disconnect()
        print("sent")
    """)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.strip() == "sent"
    m = peer.wait_message("paho/out")
    assert m.payload == b"hello" and m.qos == 1
    assert m.properties["ContentType"] == "text/plain"
    assert m.properties["ResponseTopic"] == "paho/back"
    assert m.properties["CorrelationData"] == b"\x00\x01bytes"
    assert m.properties["UserProperty"] == [("a", "1"), ("a", "2")]
    assert m.properties["PayloadFormatIndicator"] == 1
    assert 0 < m.properties["MessageExpiryInterval"] <= 300
