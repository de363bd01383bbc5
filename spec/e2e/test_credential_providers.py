"""The credential chain's network providers, end to end: the iotlua host resolves its
credentials from fake endpoints on 127.0.0.1 (credential_fakes.py: the EC2 instance
metadata service, a container endpoint, STS) and signs a Publish that the emulator
verifies against exactly those keys. Where boto3 has the same provider, it is pointed at
the same fakes with the same environment and files, and must make the same requests and
find the same access key (the differential half).
"""
import os
import subprocess
import textwrap

import pytest

from conftest import BUILD_DIR, Emulator
from credential_fakes import CredentialFakes, creds

HOST = os.path.join(BUILD_DIR, "iotlua")
SECRET_MARKERS = ("secret-imds", "secret-ctr", "secret-sts", "secret-base", "secret-env",
                  "wit-token", "container-auth-token", "token-xxxx")

SCRIPT = textwrap.dedent("""
    local iotlua = require("iotlua")
    local mfa = os.getenv("TEST_MFA") and function(serial)
      print("mfa asked for " .. serial)
      return os.getenv("TEST_MFA")
    end
    local iot, err = iotlua.client{ endpoint = os.getenv("TEST_EMULATOR"), region = "us-east-1",
                                     max_attempts = 1, profile = os.getenv("TEST_PROFILE"),
                                     mfa_token = mfa }
    if not iot then io.stderr:write("client: ", tostring(err), "\\n") os.exit(3) end
    print("source=" .. iot.credentials_source)
    local n = tonumber(os.getenv("TEST_CALLS") or "1")
    local items = {}
    for i = 1, n do items[i] = i end
    local results = iotlua.map(items, function(i)
      local r, e = iot:publish{ topic = "creds/t", payload = tostring(i) }
      return r and "ok" or tostring(e)
    end, { concurrency = 64 })
    local failed = 0
    for i = 1, n do
      if results[i] ~= "ok" then failed = failed + 1 print("error=" .. tostring(results[i])) end
    end
    print("published=" .. (n - failed))
    os.exit(failed == 0 and 0 or 4)
""")


@pytest.fixture
def fakes():
    f = CredentialFakes()
    yield f
    f.stop()


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def base_env(tmp, **extra):
    """No credentials anywhere but what the test adds; files in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "credentials"),
               AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1",
               AWS_DEFAULT_REGION="us-east-1", HOME=str(tmp))
    env.update(extra)
    return env


def run_iotlua(env, emulator, calls=1, timeout=60):
    script = os.path.join(emulator.tmpdir.name, "creds.lua")
    with open(script, "w") as f:
        f.write(SCRIPT)
    full = dict(env, TEST_EMULATOR=emulator.http_url, TEST_CALLS=str(calls))
    p = subprocess.run([HOST, script], env=full, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    for marker in SECRET_MARKERS:
        assert marker not in out, f"a secret or token leaked into the output: {out}"
    return p.returncode, out


def emulator_for(*pairs):
    args = []
    for akid, secret in pairs:
        args += ["--credentials", f"{akid}:{secret}"]
    return Emulator(args)


def boto3_credentials(env, sts_url=None, profile=None, sso_url=None):
    """What botocore's chain finds in env (the process environment swapped for it).
    Debian 12's botocore (1.29) predates AWS_ENDPOINT_URL_STS, so its STS client is
    pointed at sts_url by hand; the requests it makes are its own."""
    import botocore.credentials
    import botocore.session
    import botocore.tokens
    # botocore fixes the SSO token cache's directory from HOME when it is imported
    sso_dir = os.path.join(env.get("HOME", "/nonexistent"), ".aws", "sso", "cache")
    botocore.tokens.SSOTokenProvider._SSO_TOKEN_CACHE_DIR = sso_dir
    botocore.credentials.SSOProvider._SSO_TOKEN_CACHE_DIR = sso_dir
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        session = botocore.session.Session(profile=profile)
        urls = {"sts": sts_url, "sso": sso_url}
        create = session.create_client

        def create_client(service, *args, **kwargs):
            if urls.get(service):
                kwargs["endpoint_url"] = urls[service]
            return create(service, *args, **kwargs)
        session.create_client = create_client
        c = session.get_credentials()
        return c.get_frozen_credentials() if c else None
    finally:
        os.environ.clear()
        os.environ.update(saved)


def write(path, text):
    path.write_text(textwrap.dedent(text))


# --------------------------------------------------------------------------- IMDS

def imds_env(tmp, fakes, **extra):
    return base_env(tmp, AWS_EC2_METADATA_DISABLED="false",
                    AWS_EC2_METADATA_SERVICE_ENDPOINT=fakes.url + "/", **extra)


def request_shape(reqs):
    return [(r.method, r.path, r.headers.get("X-aws-ec2-metadata-token-ttl-seconds"),
             r.headers.get("X-aws-ec2-metadata-token") or r.headers.get("x-aws-ec2-metadata-token"))
            for r in reqs]


def test_imds_v2_token_role_credentials_same_requests_as_boto3(tmp, fakes):
    fakes.imds_credentials.append(creds("ASIAIMDS1", "secret-imds-1"))
    emu = emulator_for(("ASIAIMDS1", "secret-imds-1"))
    try:
        code, out = run_iotlua(imds_env(tmp, fakes), emu)
        assert code == 0, out
        assert "source=imds" in out and "published=1" in out
    finally:
        emu.stop()
    ours = fakes.seen("/latest")
    assert [(r.method, r.path) for r in ours] == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/" + fakes.ROLE)]
    assert {k.lower(): v for k, v in ours[0].headers.items()}[
        "x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    for r in ours[1:]:
        assert {k.lower(): v for k, v in r.headers.items()}[
            "x-aws-ec2-metadata-token"] == fakes.IMDS_TOKEN
    fakes.clear()
    frozen = boto3_credentials(imds_env(tmp, fakes))
    assert frozen.access_key == "ASIAIMDS1"
    theirs = fakes.seen("/latest")
    assert [(r.method, r.path) for r in theirs] == [(r.method, r.path) for r in ours]


@pytest.mark.parametrize("status", [403, 404, 405])
def test_imds_falls_back_to_v1_when_the_token_call_is_refused(tmp, fakes, status):
    fakes.token_status = status
    fakes.imds_credentials.append(creds("ASIAIMDSV1", "secret-imds-v1"))
    emu = emulator_for(("ASIAIMDSV1", "secret-imds-v1"))
    try:
        code, out = run_iotlua(imds_env(tmp, fakes), emu)
        assert code == 0, out
    finally:
        emu.stop()
    gets = [r for r in fakes.seen("/latest/meta-data")]
    assert len(gets) == 2
    assert all("x-aws-ec2-metadata-token" not in {k.lower() for k in r.headers} for r in gets)


def test_imds_v1_disabled_is_a_clear_error(tmp, fakes):
    fakes.token_status = 405
    fakes.imds_credentials.append(creds("ASIAX", "secret-imds-x"))
    emu = emulator_for(("ASIAX", "secret-imds-x"))
    try:
        code, out = run_iotlua(imds_env(tmp, fakes, AWS_EC2_METADATA_V1_DISABLED="true"), emu)
    finally:
        emu.stop()
    assert code == 4, out
    assert "CredentialsError" in out and "IMDSv1 has been disabled" in out
    assert "Unable to locate credentials" in out        # it was the last resort
    assert not fakes.seen("/latest/meta-data")


@pytest.mark.parametrize("body,message", [
    ("{not json", "invalid JSON"),
    ('{"AccessKeyId": "ASIAY"}', "without a SecretAccessKey"),
    ('{"AccessKeyId": "ASIAY", "SecretAccessKey": "secret-imds-y", "Expiration": "soon"}',
     "not an RFC 3339 time"),
])
def test_imds_malformed_answers(tmp, fakes, body, message):
    fakes.imds_raw = body
    emu = emulator_for(("ASIAY", "secret-imds-y"))
    try:
        code, out = run_iotlua(imds_env(tmp, fakes), emu)
    finally:
        emu.stop()
    assert code == 4 and "CredentialsError" in out and message in out, out


def test_imds_500_is_retried_up_to_the_configured_attempts(tmp, fakes):
    fakes.imds_credentials.append(creds("ASIARETRY", "secret-imds-r"))
    fakes.imds_failures = 2
    emu = emulator_for(("ASIARETRY", "secret-imds-r"))
    try:
        code, out = run_iotlua(imds_env(tmp, fakes), emu)          # 1 attempt: fails
        assert code == 4 and "HTTP 500" in out, out
        fakes.imds_failures = 2
        code, out = run_iotlua(imds_env(tmp, fakes, AWS_METADATA_SERVICE_NUM_ATTEMPTS="3"), emu)
        assert code == 0, out
    finally:
        emu.stop()


def test_imds_not_answering_times_out_with_the_places_looked_at(tmp, fakes):
    emu = emulator_for(("ASIAZ", "secret-imds-z"))
    try:
        env = base_env(tmp, AWS_EC2_METADATA_DISABLED="false",
                       AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9/")
        code, out = run_iotlua(env, emu)
    finally:
        emu.stop()
    assert code == 4, out
    assert "Unable to locate credentials" in out and "AWS_ACCESS_KEY_ID" in out
    assert "127.0.0.1:9" in out


def test_one_refresh_for_many_concurrent_calls_and_rotation(tmp, fakes):
    # The first credentials are inside the mandatory window (5 min left): the next calls
    # wait for one refresh, which brings the second pair.
    fakes.imds_credentials += [creds("ASIAROT1", "secret-imds-1", expires_in=300),
                               creds("ASIAROT2", "secret-imds-2")]
    emu = emulator_for(("ASIAROT1", "secret-imds-1"), ("ASIAROT2", "secret-imds-2"))
    try:
        code, out = run_iotlua(imds_env(tmp, fakes), emu, calls=300)
        assert code == 0, out
        assert "published=300" in out
    finally:
        emu.stop()
    fetches = fakes.seen("/latest/meta-data/iam/security-credentials/" + fakes.ROLE)
    # one fetch when nothing was there, one refresh when the first pair turned out due
    assert len(fetches) == 2, fetches
    assert len(fakes.seen("/latest/api/token")) == 1          # the token is kept


def test_environment_keys_come_before_imds(tmp, fakes):
    fakes.imds_credentials.append(creds("ASIAIMDS", "secret-imds-n"))
    emu = emulator_for(("AKIAENV", "secret-env-1"))
    try:
        env = imds_env(tmp, fakes, AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="secret-env-1")
        code, out = run_iotlua(env, emu)
        assert code == 0 and "source=environment" in out, out
    finally:
        emu.stop()
    assert not fakes.seen("/latest")


# --------------------------------------------------------------------------- container

def test_container_full_uri_with_a_token_file(tmp, fakes):
    token_file = tmp / "token"
    token_file.write_text("container-auth-token\n")    # the line break is not sent
    fakes.container_token = "container-auth-token"
    fakes.container_credentials = creds("ASIACTR", "secret-ctr-1")
    env = base_env(tmp, AWS_CONTAINER_CREDENTIALS_FULL_URI=fakes.url + "/container/creds",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file))
    emu = emulator_for(("ASIACTR", "secret-ctr-1"))
    try:
        code, out = run_iotlua(env, emu)
        assert code == 0 and "source=container" in out, out
    finally:
        emu.stop()
    ours = fakes.seen("/container")
    assert len(ours) == 1 and ours[0].headers.get("Authorization") == "container-auth-token"
    # Debian's botocore (1.29) knows the token variable, not yet the token file
    fakes.clear()
    env.pop("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "container-auth-token"
    assert boto3_credentials(env).access_key == "ASIACTR"
    theirs = fakes.seen("/container")
    assert [(r.path, r.headers.get("Authorization")) for r in theirs] == \
        [(r.path, r.headers.get("Authorization")) for r in ours]


def test_container_wrong_token_and_disallowed_host(tmp, fakes):
    fakes.container_token = "container-auth-token"
    fakes.container_credentials = creds("ASIACTR", "secret-ctr-1")
    emu = emulator_for(("ASIACTR", "secret-ctr-1"))
    try:
        env = base_env(tmp, AWS_CONTAINER_CREDENTIALS_FULL_URI=fakes.url + "/container/creds",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong")
        code, out = run_iotlua(env, emu)
        assert code == 4 and "HTTP 401" in out, out
        assert len(fakes.seen("/container")) == 3                # botocore's 3 attempts
        env = base_env(tmp, AWS_CONTAINER_CREDENTIALS_FULL_URI="http://example.com/creds")
        code, out = run_iotlua(env, emu)
        assert code == 3 and "must be https" in out, out
    finally:
        emu.stop()


# --------------------------------------------------------------------------- STS

def sts_env(tmp, fakes, **extra):
    return base_env(tmp, AWS_ENDPOINT_URL_STS=fakes.url, **extra)


def test_assume_role_with_a_source_profile_signed_and_same_as_boto3(tmp, fakes):
    write(tmp / "credentials", """
        [base]
        aws_access_key_id = AKIABASE
        aws_secret_access_key = secret-base-1
    """)
    write(tmp / "config", """
        [profile ops]
        role_arn = arn:aws:iam::123456789012:role/ops
        source_profile = base
        role_session_name = nightly
        external_id = ext-42
        duration_seconds = 1800
    """)
    fakes.sts_secrets["AKIABASE"] = "secret-base-1"
    fakes.sts_answers += [("ASIAOPS", "secret-sts-1", "token-xxxx-1"),
                          ("ASIAOPS", "secret-sts-1", "token-xxxx-1")]
    env = sts_env(tmp, fakes, AWS_PROFILE="ops")
    emu = emulator_for(("ASIAOPS", "secret-sts-1"))
    try:
        code, out = run_iotlua(env, emu)
        assert code == 0, out
        assert "source=assume-role:ops <- shared-credentials-file:base" in out
    finally:
        emu.stop()
    ours = fakes.seen("/")
    assert len(ours) == 1
    form = ours[0].form()
    assert form["Action"] == "AssumeRole" and form["RoleArn"] == "arn:aws:iam::123456789012:role/ops"
    assert form["RoleSessionName"] == "nightly" and form["ExternalId"] == "ext-42"
    assert form["DurationSeconds"] == "1800"
    fakes.clear()
    assert boto3_credentials(env, sts_url=fakes.url).access_key == "ASIAOPS"
    theirs = fakes.seen("/")[0].form()
    assert {k: theirs[k] for k in form} == form


def test_chained_roles_and_credential_source_environment(tmp, fakes):
    write(tmp / "config", """
        [profile top]
        role_arn = arn:aws:iam::1:role/top
        source_profile = mid
        [profile mid]
        role_arn = arn:aws:iam::1:role/mid
        credential_source = Environment
    """)
    fakes.sts_secrets.update(AKIAENV="secret-env-2", ASIAMID="secret-sts-mid")
    fakes.sts_answers += [("ASIAMID", "secret-sts-mid", "token-xxxx-m"),
                          ("ASIATOP", "secret-sts-top", "token-xxxx-t")]
    # the profile is the client's own, so the environment's keys are not used directly
    env = sts_env(tmp, fakes, TEST_PROFILE="top", AWS_ACCESS_KEY_ID="AKIAENV",
                  AWS_SECRET_ACCESS_KEY="secret-env-2")
    emu = emulator_for(("ASIATOP", "secret-sts-top"))
    try:
        code, out = run_iotlua(env, emu)
        assert code == 0, out
        assert "source=assume-role:top <- assume-role:mid <- environment" in out
    finally:
        emu.stop()
    calls = [r.form()["RoleArn"] for r in fakes.seen("/")]
    assert calls == ["arn:aws:iam::1:role/mid", "arn:aws:iam::1:role/top"]
    fakes.clear()
    fakes.sts_answers += [("ASIAMID", "secret-sts-mid", "token-xxxx-m"),
                          ("ASIATOP", "secret-sts-top", "token-xxxx-t")]
    frozen = boto3_credentials(env, sts_url=fakes.url, profile="top")
    assert frozen.access_key == "ASIATOP"
    assert [r.form()["RoleArn"] for r in fakes.seen("/")] == calls


def test_credential_source_instance_metadata_same_as_boto3(tmp, fakes):
    write(tmp / "config", """
        [profile ec2role]
        role_arn = arn:aws:iam::1:role/runbook
        credential_source = Ec2InstanceMetadata
    """)
    fakes.imds_credentials.append(creds("ASIAINST", "secret-imds-i"))
    fakes.sts_secrets["ASIAINST"] = "secret-imds-i"
    fakes.sts_answers += [("ASIARUN", "secret-sts-run", "token-xxxx-r")] * 2
    env = sts_env(tmp, fakes, AWS_PROFILE="ec2role",
                  AWS_EC2_METADATA_SERVICE_ENDPOINT=fakes.url + "/")
    emu = emulator_for(("ASIARUN", "secret-sts-run"))
    try:
        code, out = run_iotlua(env, emu)            # disabled, as botocore reads it
        assert code == 3 and "disabled by AWS_EC2_METADATA_DISABLED" in out, out
        env["AWS_EC2_METADATA_DISABLED"] = "false"
        code, out = run_iotlua(env, emu)
        assert code == 0 and "source=assume-role:ec2role <- imds" in out, out
    finally:
        emu.stop()
    ours = [(r.method, r.path) for r in fakes.requests]
    assert ours[-1] == ("POST", "/") and len(fakes.seen("/latest")) == 3
    fakes.clear()
    assert boto3_credentials(env, sts_url=fakes.url).access_key == "ASIARUN"
    assert [(r.method, r.path) for r in fakes.requests] == ours


def test_mfa_serial_with_an_mfa_token_function(tmp, fakes):
    write(tmp / "credentials", """
        [base]
        aws_access_key_id = AKIABASE
        aws_secret_access_key = secret-base-1
    """)
    write(tmp / "config", """
        [profile mfa]
        role_arn = arn:aws:iam::1:role/admin
        source_profile = base
        mfa_serial = arn:aws:iam::1:mfa/me
    """)
    fakes.sts_secrets["AKIABASE"] = "secret-base-1"
    fakes.sts_answers.append(("ASIAMFA", "secret-sts-mfa", "token-xxxx-a"))
    emu = emulator_for(("ASIAMFA", "secret-sts-mfa"))
    try:
        code, out = run_iotlua(sts_env(tmp, fakes, AWS_PROFILE="mfa", TEST_MFA="123456"), emu)
        assert code == 0, out
        assert "mfa asked for arn:aws:iam::1:mfa/me" in out
    finally:
        emu.stop()
    (call,) = fakes.seen("/")
    form = call.form()
    assert form["SerialNumber"] == "arn:aws:iam::1:mfa/me" and form["TokenCode"] == "123456"


def test_sts_errors_and_profile_mistakes(tmp, fakes):
    write(tmp / "credentials", """
        [base]
        aws_access_key_id = AKIABASE
        aws_secret_access_key = secret-base-1
    """)
    write(tmp / "config", """
        [profile ops]
        role_arn = arn:aws:iam::1:role/ops
        source_profile = base
        [profile both]
        role_arn = arn:aws:iam::1:role/x
        source_profile = base
        credential_source = Environment
        [profile mfa]
        role_arn = arn:aws:iam::1:role/x
        source_profile = base
        mfa_serial = arn:aws:iam::1:mfa/me
        [profile loop1]
        role_arn = arn:aws:iam::1:role/x
        source_profile = loop2
        [profile loop2]
        role_arn = arn:aws:iam::1:role/y
        source_profile = loop1
    """)
    fakes.sts_error = (403, "AccessDenied", "User is not authorized to perform sts:AssumeRole")
    emu = emulator_for(("ASIAOPS", "secret-sts-1"))
    try:
        code, out = run_iotlua(sts_env(tmp, fakes, AWS_PROFILE="ops"), emu)
        assert code == 4 and "CredentialsError" in out, out
        assert "AccessDenied" in out and "not authorized" in out and "HTTP 403" in out
        for profile, message in [("both", "both source_profile and credential_source"),
                                 ("mfa", "mfa_serial"), ("loop1", "Infinite loop")]:
            code, out = run_iotlua(sts_env(tmp, fakes, AWS_PROFILE=profile), emu)
            assert code == 3 and message in out, (profile, out)
    finally:
        emu.stop()


def test_web_identity_from_the_environment_unsigned(tmp, fakes):
    token_file = tmp / "wit"
    token_file.write_text("wit-token-abc")
    fakes.web_identity_token = "wit-token-abc"
    fakes.sts_answers += [("ASIAWEB", "secret-sts-web", "token-xxxx-w")] * 2
    env = sts_env(tmp, fakes, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
                  AWS_ROLE_ARN="arn:aws:iam::1:role/ci", AWS_ROLE_SESSION_NAME="ci-job")
    emu = emulator_for(("ASIAWEB", "secret-sts-web"))
    try:
        code, out = run_iotlua(env, emu)
        assert code == 0 and "source=web-identity:arn:aws:iam::1:role/ci" in out, out
    finally:
        emu.stop()
    (ours,) = fakes.seen("/")
    assert ours.form()["Action"] == "AssumeRoleWithWebIdentity"
    assert ours.form()["RoleSessionName"] == "ci-job"
    assert "Authorization" not in ours.headers
    fakes.clear()
    assert boto3_credentials(env, sts_url=fakes.url).access_key == "ASIAWEB"
    (theirs,) = fakes.seen("/")
    assert theirs.form()["WebIdentityToken"] == ours.form()["WebIdentityToken"]


# --------------------------------------------------------------------------- SSO

def sso_cache(tmp, key, token, expires="2099-01-01T00:00:00Z"):
    import hashlib
    import json
    cache = tmp / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(key.encode()).hexdigest() + ".json"
    (cache / name).write_text(json.dumps({"startUrl": "https://corp.awsapps.com/start",
                                          "region": "eu-west-1", "accessToken": token,
                                          "expiresAt": expires}))


def test_sso_session_profile_same_as_boto3(tmp, fakes):
    write(tmp / "config", """
        [profile dev]
        sso_session = corp
        sso_account_id = 111122223333
        sso_role_name = Developer
        [sso-session corp]
        sso_start_url = https://corp.awsapps.com/start
        sso_region = eu-west-1
    """)
    sso_cache(tmp, "corp", "sso-access-token-wit-token")
    fakes.sso_token = "sso-access-token-wit-token"
    fakes.sso_credentials = ("ASIASSO", "secret-sts-sso", "token-xxxx-s")
    env = base_env(tmp, AWS_PROFILE="dev", AWS_ENDPOINT_URL_SSO=fakes.url)
    emu = emulator_for(("ASIASSO", "secret-sts-sso"))
    try:
        code, out = run_iotlua(env, emu)
        assert code == 0 and "source=sso:corp" in out, out
    finally:
        emu.stop()
    (ours,) = fakes.seen("/federation")
    assert "account_id=111122223333" in ours.path and "role_name=Developer" in ours.path
    fakes.clear()
    assert boto3_credentials(env, sso_url=fakes.url).access_key == "ASIASSO"
    (theirs,) = fakes.seen("/federation")
    assert sorted(theirs.path.split("?")[1].split("&")) == sorted(ours.path.split("?")[1].split("&"))


def test_sso_legacy_profile_and_expired_token(tmp, fakes):
    write(tmp / "config", """
        [profile old]
        sso_start_url = https://corp.awsapps.com/start
        sso_region = eu-west-1
        sso_account_id = 111122223333
        sso_role_name = Developer
        [profile missing]
        sso_session = nowhere
        sso_account_id = 1
        sso_role_name = x
    """)
    fakes.sso_token = "sso-access-token-wit-token"
    fakes.sso_credentials = ("ASIASSO", "secret-sts-sso", "token-xxxx-s")
    emu = emulator_for(("ASIASSO", "secret-sts-sso"))
    try:
        env = base_env(tmp, AWS_PROFILE="old", AWS_ENDPOINT_URL_SSO=fakes.url)
        sso_cache(tmp, "https://corp.awsapps.com/start", "sso-access-token-wit-token")
        code, out = run_iotlua(env, emu)
        assert code == 0 and "source=sso:old" in out, out
        sso_cache(tmp, "https://corp.awsapps.com/start", "sso-access-token-wit-token",
                  expires="2020-01-01T00:00:00Z")
        code, out = run_iotlua(env, emu)
        assert code == 4 and "aws sso login --profile old" in out and "expired" in out, out
        sso_cache(tmp, "https://corp.awsapps.com/start", "a-revoked-wit-token")
        code, out = run_iotlua(env, emu)
        assert code == 4 and "HTTP 401" in out and "aws sso login" in out, out
        code, out = run_iotlua(base_env(tmp, AWS_PROFILE="missing"), emu)
        assert code == 3 and "sso-session does not exist" in out, out
    finally:
        emu.stop()


# --------------------------------------------------------------------------- the chain for other signing

SIGN_SCRIPT = textwrap.dedent("""
    local iotlua = require("iotlua")
    local iot = assert(iotlua.client{ region = "us-east-1" })
    local function sign(credentials)
      local h, err = iotlua.sigv4.sign{ method = "GET", url = "https://sts.amazonaws.com/",
                                        region = "us-east-1", service = "sts",
                                        credentials = credentials }
      if not h then print("error=" .. tostring(err)) return end
      print("authorization=" .. h.Authorization:match("Credential=([^/]+)"))
    end
    -- inside a task (the fetch yields) and outside one (it drives the loop)
    iotlua.spawn(function() sign(iot) end):wait()
    sign(iot)
    sign("default")
    local creds = assert(iot:credentials())
    print("source=" .. creds.source, "token=" .. tostring(creds.session_token ~= nil))
""")


def test_sigv4_sign_with_a_client_or_a_profile_uses_the_chain(tmp, fakes):
    fakes.imds_credentials.append(creds("ASIASIGN", "secret-imds-s"))
    script = tmp / "sign.lua"
    script.write_text(SIGN_SCRIPT)
    p = subprocess.run([HOST, str(script)], env=imds_env(tmp, fakes), capture_output=True,
                       text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert out.count("authorization=ASIASIGN") == 3, out
    assert "source=imds" in out and "token=true" in out
    assert "secret-imds-s" not in out
    # the client fetched once; "default" resolved a client of its own
    assert len(fakes.seen("/latest/meta-data/iam/security-credentials/" + fakes.ROLE)) == 2
