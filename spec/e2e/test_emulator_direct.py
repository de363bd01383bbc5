"""SendDirectMessage through boto3 and the AWS CLI to real MQTT devices: delivery without
a subscription, confirmation by PUBACK, 504 when the device never acknowledges, 404 for
unknown or offline clients, and the event loop serving others while a call waits."""

import base64
import threading
import time

import botocore.exceptions
import pytest


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_unconfirmed_message_reaches_an_unsubscribed_device_at_qos0(emulator):
    dev = emulator.device("dm-plain")
    r = emulator.iot_data().send_direct_message(clientId="dm-plain", topic="cmd/reboot",
                                                payload=b'{"now":true}')
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["message"] and r["traceId"] == r["ResponseMetadata"]["RequestId"]
    msg = dev.wait_message("cmd/reboot")
    assert (msg.payload, msg.qos) == (b'{"now":true}', 0)


def test_confirmed_message_waits_for_puback_and_carries_properties(emulator):
    dev = emulator.device("dm-ack")
    r = emulator.iot_data().send_direct_message(
        clientId="dm-ack", topic="cmd/x", payload=b"p", confirmation=True, timeout=5,
        contentType="text/plain", responseTopic="resp/x", userProperties=[{"a": "1"}],
        payloadFormatIndicator="UTF8_DATA", correlationData=base64.b64encode(b"id-1").decode())
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    msg = dev.wait_message("cmd/x")
    assert msg.qos == 1
    assert msg.properties["ContentType"] == "text/plain"
    assert msg.properties["ResponseTopic"] == "resp/x"
    assert msg.properties["UserProperty"] == [("a", "1")]
    assert msg.properties["CorrelationData"] == b"id-1"


def test_device_that_never_acks_gives_504_after_the_timeout(emulator):
    raw = emulator.raw_device("dm-mute", auto_ack=False)
    iot = emulator.iot_data()
    start = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.send_direct_message(clientId="dm-mute", topic="cmd/m", payload=b"?",
                                confirmation=True, timeout=1)
    elapsed = time.monotonic() - start
    assert error_of(e) == ("GatewayTimeoutException", 504)
    assert 0.9 <= elapsed < 4, elapsed
    msg = raw.wait_message("cmd/m")
    assert msg.qos == 1 and msg.packet_id


def test_raw_device_ack_confirms(emulator):
    raw = emulator.raw_device("dm-raw-ack", auto_ack=True)
    r = emulator.iot_data().send_direct_message(clientId="dm-raw-ack", topic="t",
                                                payload=b"1", confirmation=True, timeout=3)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert raw.wait_message("t").payload == b"1"


def test_loop_keeps_serving_while_a_confirmation_waits(emulator):
    raw = emulator.raw_device("dm-slow", auto_ack=False)
    result = {}

    def waiter():
        try:
            emulator.iot_data().send_direct_message(clientId="dm-slow", topic="t",
                                                    payload=b"1", confirmation=True, timeout=2)
        except botocore.exceptions.ClientError as exc:
            result["code"] = exc.response["Error"]["Code"]
    t = threading.Thread(target=waiter)
    t.start()
    raw.wait_message("t")       # the call is now waiting for a PUBACK that never comes
    iot = emulator.iot_data()
    start = time.monotonic()
    for i in range(20):
        iot.publish(topic="busy", payload=str(i).encode())
    assert time.monotonic() - start < 1.5
    t.join(10)
    assert result["code"] == "GatewayTimeoutException"


def test_device_disconnecting_before_puback_ends_the_wait(emulator):
    raw = emulator.raw_device("dm-leaver", auto_ack=False)
    result = {}

    def waiter():
        try:
            emulator.iot_data().send_direct_message(clientId="dm-leaver", topic="t",
                                                    payload=b"1", confirmation=True, timeout=10)
        except botocore.exceptions.ClientError as exc:
            result["code"] = exc.response["Error"]["Code"]
    t = threading.Thread(target=waiter)
    start = time.monotonic()
    t.start()
    raw.wait_message("t")
    raw.close()
    t.join(10)
    assert result["code"] == "GatewayTimeoutException"
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("confirmation", [False, True])
def test_unknown_client_is_404(emulator, confirmation):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.iot_data().send_direct_message(clientId="nobody-here", topic="t",
                                                confirmation=confirmation)
    assert error_of(e) == ("ResourceNotFoundException", 404)


def test_offline_client_is_404(emulator):
    dev = emulator.device("dm-offline")
    dev.disconnect()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.iot_data().send_direct_message(clientId="dm-offline", topic="t")
    assert error_of(e) == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize("query, needle", [
    ("topic=t&timeout=0", "timeout"),
    ("topic=t&timeout=16", "timeout"),
    ("topic=t&confirmation=maybe", "confirmation"),
    ("topic=a%2F%23", "wildcard"),
    ("", "topic"),
    ("topic=t&responseTopic=r%2F%2B", "responseTopic"),
])
def test_invalid_parameters_are_400(emulator, query, needle):
    emulator.device("dm-valid")
    r = emulator.signed_request("POST", "/connections/dm-valid/messages", query=query)
    assert (r.status, r.error_type) == (400, "InvalidRequestException"), r
    assert needle in r.json["message"]


@pytest.mark.parametrize("client_id", ["$bad", "x" * 129])
def test_client_id_constraints(emulator, client_id):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.iot_data().send_direct_message(clientId=client_id, topic="t")
    assert error_of(e) == ("InvalidRequestException", 400)


def test_payload_over_128_kib_is_413(emulator):
    emulator.device("dm-big")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emulator.iot_data().send_direct_message(clientId="dm-big", topic="t",
                                                payload=b"x" * (128 * 1024 + 1))
    assert error_of(e) == ("RequestEntityTooLargeException", 413)


def test_aws_cli_send_direct_message(emulator):
    dev = emulator.device("dm-cli")
    out = emulator.aws("iot-data", "send-direct-message", "--client-id", "dm-cli",
                       "--topic", "cli/cmd", "--confirmation", "--timeout", "3",
                       "--cli-binary-format", "raw-in-base64-out", "--payload", "go").json
    assert out["message"] and out["traceId"]
    assert dev.wait_message("cli/cmd").payload == b"go"
    res = emulator.aws("iot-data", "send-direct-message", "--client-id", "dm-nobody",
                       "--topic", "t", check=False)
    assert res.returncode != 0 and "ResourceNotFoundException" in res.stderr


def test_aws_cli_504_for_a_mute_device(emulator):
    emulator.raw_device("dm-cli-mute")
    res = emulator.aws("iot-data", "send-direct-message", "--client-id", "dm-cli-mute",
                       "--topic", "t", "--confirmation", "--timeout", "1", check=False)
    assert res.returncode != 0 and "GatewayTimeoutException" in res.stderr


def test_sigterm_while_a_confirmation_waits_exits_cleanly(start_emulator):
    import signal
    emu = start_emulator()
    raw = emu.raw_device("dm-shutdown", auto_ack=False)
    iot = emu.iot_data()
    result = {}

    def waiter():
        try:
            iot.send_direct_message(clientId="dm-shutdown", topic="t", payload=b"1",
                                    confirmation=True, timeout=10)
        except Exception as exc:        # 503 or a closed connection, both fine
            result["error"] = exc
    t = threading.Thread(target=waiter)
    t.start()
    raw.wait_message("t")
    start = time.monotonic()
    emu.proc.send_signal(signal.SIGTERM)
    assert emu.proc.wait(timeout=10) == 0, emu.stderr_text()
    t.join(10)
    assert "error" in result
    assert time.monotonic() - start < 5


def test_confirmed_message_to_an_mqtt311_device(emulator):
    dev = emulator.device("dm-v311", protocol=4)
    r = emulator.iot_data().send_direct_message(clientId="dm-v311", topic="cmd/old",
                                                payload=b"hi", confirmation=True, timeout=3,
                                                userProperties=[{"a": "b"}])
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    msg = dev.wait_message("cmd/old")
    assert (msg.payload, msg.qos, msg.properties) == (b"hi", 1, {})
