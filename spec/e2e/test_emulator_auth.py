"""SigV4 verification of every data-plane request: boto3 and botocore's own signer
(signed_request) against the emulator's configured credentials."""

import datetime

import botocore.exceptions
import pytest

OTHER_AKID, OTHER_SECRET = "AKIDEXAMPLEOTHER0001", "otherSecretKeyForTheSecondCredential00"


@pytest.fixture(scope="module")
def emu(request):
    from conftest import Emulator
    e = Emulator(["--credentials", "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  "--credentials", f"{OTHER_AKID}:{OTHER_SECRET}"])
    yield e
    e.stop()


def forbidden(excinfo):
    err = excinfo.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    return err["Error"]["Code"], err["Error"]["Message"]


def test_every_configured_credential_is_accepted(emu):
    assert emu.iot_data().publish(topic="t", payload=b"1")["ResponseMetadata"]["HTTPStatusCode"] == 200
    iot2 = emu.iot_data(access_key=OTHER_AKID, secret_key=OTHER_SECRET)
    assert iot2.publish(topic="t", payload=b"1")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_any_region_in_the_scope_is_accepted(emu):
    iot = emu.iot_data(region="eu-west-1")
    assert iot.publish(topic="t", payload=b"1")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_wrong_secret_gets_403_forbidden(emu):
    iot = emu.iot_data(secret_key="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.publish(topic="t", payload=b"1")
    code, message = forbidden(e)
    assert code == "ForbiddenException"
    assert "signature we calculated does not match" in message
    assert "not-the-secret" not in message


def test_unknown_access_key_gets_403(emu):
    iot = emu.iot_data(access_key="AKIAUNKNOWNKEY000000", secret_key="x")
    for call in (lambda: iot.get_connection(clientId="c"),
                 lambda: iot.list_subscriptions(clientId="c"),
                 lambda: iot.send_direct_message(clientId="c", topic="t")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        code, message = forbidden(e)
        assert code == "ForbiddenException" and "security token" in message


def test_aws_cli_with_wrong_secret_fails_with_403(emu):
    res = emu.aws("iot-data", "get-connection", "--client-id", "c", check=False,
                  env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert res.returncode != 0
    assert "ForbiddenException" in res.stderr


def test_unsigned_request_gets_403(emu):
    r = emu.signed_request("POST", "/topics/t", body=b"x", sign=False)
    assert (r.status, r.error_type) == (403, "ForbiddenException")
    assert r.json["message"] == "Missing Authentication Token"


@pytest.mark.parametrize("authorization", [
    "garbage",
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20200101/us-east-1/iotdata/aws4_request",
    "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=" + "0" * 64,
    "AWS4-HMAC-SHA256 " + "Credential=" + "A" * 5000,
])
def test_malformed_authorization_gets_403_and_the_emulator_keeps_serving(emu, authorization):
    r = emu.signed_request("POST", "/topics/t", sign=False,
                           headers={"Authorization": authorization,
                                    "X-Amz-Date": "20200101T000000Z"})
    assert (r.status, r.error_type) == (403, "ForbiddenException"), r
    assert r.json["message"]
    assert emu.control("GET", "/_emulator/health")[0] == 200


def test_reply_is_valid_json_when_the_key_id_is_not_utf8(emu):
    now = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    r = emu.signed_request("POST", "/topics/t", sign=False, headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID\xff/" + now[:8] +
                         "/us-east-1/iotdata/aws4_request, SignedHeaders=host;x-amz-date, "
                         "Signature=" + "0" * 64,
        "X-Amz-Date": now})
    assert (r.status, r.error_type) == (403, "ForbiddenException"), r
    assert "unknown access key id 'AKID\ufffd'" in r.json["message"]   # U+FFFD for 0xFF


def test_clock_skew_window_is_five_minutes(emu):
    now = datetime.datetime.utcnow()
    ok = emu.signed_request("POST", "/topics/t", body=b"x",
                            when=now - datetime.timedelta(minutes=4))
    assert ok.status == 200, ok
    for delta in (datetime.timedelta(minutes=6), -datetime.timedelta(minutes=6)):
        r = emu.signed_request("POST", "/topics/t", body=b"x", when=now - delta)
        assert (r.status, r.error_type) == (403, "ForbiddenException"), r
        assert "Signature" in r.json["message"]


def test_wrong_service_in_scope_gets_403(emu):
    r = emu.signed_request("POST", "/topics/t", body=b"x", service="iot")
    assert r.status == 403
    assert "iotdata" in r.json["message"]


def test_body_must_match_the_signature(emu):
    # x-amz-content-sha256 that disagrees with the body actually received
    r = emu.signed_request("POST", "/topics/t", body=b"abc",
                           headers={"x-amz-content-sha256": "0" * 64})
    assert r.status == 403 and "x-amz-content-sha256" in r.json["message"]


def test_encoded_path_is_verified_as_received(emu):
    # boto3 sends /topics/a%2Fb%20c and signs /topics/a%252Fb%2520c
    iot = emu.iot_data()
    dev = emu.device("auth-enc")
    dev.subscribe("a/#")
    iot.publish(topic="a/b c/ü", payload=b"1")
    assert dev.wait_message().topic == "a/b c/ü"
    # a client id made of dots: botocore signs the normalised path, the emulator accepts it
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iot.get_connection(clientId="..")
    assert e.value.response["Error"]["Code"] != "ForbiddenException"


def test_qa_controls_need_no_signature(emu):
    assert emu.control("GET", "/_emulator/health")[0] == 200
