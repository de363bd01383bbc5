"""Fake credential endpoints on 127.0.0.1 for the credential chain's tests: the EC2
instance metadata service (IMDSv2 tokens), a container credentials endpoint, the SSO portal, and STS
(AssumeRole, whose SigV4 signature is checked with botocore's signer, and
AssumeRoleWithWebIdentity). One HTTP server plays all three; every request is recorded so
that a test can compare what iotlua asked with what boto3 asks.

    fake = CredentialFakes()          # started; fake.url is http://127.0.0.1:PORT
    fake.imds_credentials.append(creds("ASIAIMDS1", "secret-1"))
    ...
    fake.stop()
"""
import datetime
import http.server
import json
import threading
import urllib.parse


def creds(akid, secret, token="token-" + "x" * 40, expires_in=3600):
    """A credentials answer: keys and an expiration `expires_in` seconds from now."""
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires_in)
    return {"AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}


class Request:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def form(self):
        return dict(urllib.parse.parse_qsl(self.body.decode()))

    def __repr__(self):
        return f"{self.method} {self.path}"


class CredentialFakes:
    IMDS_TOKEN = "imds-session-token-1234567890"
    ROLE = "iotlua-test-role"

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        # IMDS
        self.token_status = 200            # 403/404/405: no IMDSv2 here
        self.imds_credentials = []         # answers in turn (the last one repeats)
        self.imds_failures = 0             # how many credential GETs answer 500 first
        self.imds_raw = None               # a body to answer instead of JSON
        # container
        self.container_token = None        # the Authorization value required
        self.container_credentials = None
        # STS
        self.sts_secrets = {}              # access key id -> secret, to verify AssumeRole
        self.sts_answers = []              # (akid, secret, token) per call, in turn
        self.sts_error = None              # (status, code, message)
        self.sts_expires_in = 3600
        self.web_identity_token = None     # the WebIdentityToken required
        # the SSO portal
        self.sso_token = None              # the bearer token required
        self.sso_credentials = None        # (akid, secret, token)
        fakes = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(self.command, self.path, dict(self.headers.items()), body)
                with fakes.lock:
                    fakes.requests.append(req)
                status, ctype, out = fakes.answer(req)
                data = out.encode() if isinstance(out, str) else out
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def seen(self, prefix=""):
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def clear(self):
        with self.lock:
            self.requests.clear()

    # ---- answers

    def answer(self, req):
        path = urllib.parse.urlparse(req.path).path
        if path.startswith("/latest/"):
            return self.imds(req, path)
        if path.startswith("/container"):
            return self.container(req)
        if path == "/" and req.method == "POST":
            return self.sts(req)
        if path == "/federation/credentials":
            return self.sso(req)
        return 404, "text/plain", "not found"

    def imds(self, req, path):
        if path == "/latest/api/token":
            if req.method != "PUT":
                return 405, "text/plain", "method not allowed"
            if self.token_status != 200:
                return self.token_status, "text/plain", "no"
            return 200, "text/plain", self.IMDS_TOKEN
        if self.token_status == 200 and req.headers.get("x-aws-ec2-metadata-token") != self.IMDS_TOKEN:
            return 401, "text/plain", "token required"
        base = "/latest/meta-data/iam/security-credentials/"
        if path == base:
            return 200, "text/plain", self.ROLE
        if path == base + self.ROLE:
            if self.imds_failures > 0:
                self.imds_failures -= 1
                return 500, "text/plain", "busy"
            if self.imds_raw is not None:
                return 200, "application/json", self.imds_raw
            answer = self.imds_credentials.pop(0) if len(self.imds_credentials) > 1 \
                else self.imds_credentials[0]
            return 200, "application/json", json.dumps(dict(answer, Code="Success",
                                                            Type="AWS-HMAC"))
        return 404, "text/plain", "not found"

    def container(self, req):
        if self.container_token and req.headers.get("Authorization") != self.container_token:
            return 401, "application/json", json.dumps({"message": "bad token"})
        return 200, "application/json", json.dumps(self.container_credentials)

    def sso(self, req):
        lower = {k.lower(): v for k, v in req.headers.items()}
        if lower.get("x-amz-sso_bearer_token") != self.sso_token:
            return 401, "application/json", json.dumps({"message": "Session token not found or invalid"})
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(req.path).query))
        akid, secret, token = self.sso_credentials
        exp_ms = int((datetime.datetime.now(datetime.timezone.utc).timestamp() + 3600) * 1000)
        return 200, "application/json", json.dumps({"roleCredentials": {
            "accessKeyId": akid, "secretAccessKey": secret, "sessionToken": token,
            "expiration": exp_ms, "account": query.get("account_id")}})

    def sts_fail(self, status, code, message):
        body = (f"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                f"<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                f"<RequestId>r-1</RequestId></ErrorResponse>")
        return status, "text/xml", body

    def sts(self, req):
        form = req.form()
        action = form.get("Action")
        if self.sts_error:
            return self.sts_fail(*self.sts_error)
        if action == "AssumeRole":
            problem = self.verify_sigv4(req)
            if problem:
                return self.sts_fail(403, "SignatureDoesNotMatch", problem)
        elif action == "AssumeRoleWithWebIdentity":
            if "Authorization" in req.headers:
                return self.sts_fail(400, "InvalidAction", "web identity calls are unsigned")
            if form.get("WebIdentityToken") != self.web_identity_token:
                return self.sts_fail(400, "InvalidIdentityToken", "bad token")
        else:
            return self.sts_fail(400, "InvalidAction", f"unknown action {action}")
        akid, secret, token = self.sts_answers.pop(0)
        exp = (datetime.datetime.now(datetime.timezone.utc)
               + datetime.timedelta(seconds=self.sts_expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = (f"<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                f"<{action}Result><Credentials><AccessKeyId>{akid}</AccessKeyId>"
                f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}"
                f"</SessionToken><Expiration>{exp}</Expiration></Credentials>"
                f"<AssumedRoleUser><Arn>{form.get('RoleArn')}</Arn></AssumedRoleUser>"
                f"</{action}Result></{action}Response>")
        return 200, "text/xml", body

    def verify_sigv4(self, req):
        """None when the request is signed by a key in sts_secrets, else what is wrong."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        authz = req.headers.get("Authorization", "")
        if not authz.startswith("AWS4-HMAC-SHA256 "):
            return "not signed"
        parts = dict(p.strip().split("=", 1) for p in authz[len("AWS4-HMAC-SHA256 "):].split(","))
        akid, date, region, service, _ = parts["Credential"].split("/")
        if service != "sts" or akid not in self.sts_secrets:
            return f"unknown key or service {service}"
        signed = parts["SignedHeaders"].split(";")
        lower = {k.lower(): v for k, v in req.headers.items()}
        headers = {h: lower[h] for h in signed if h in lower}
        aws = AWSRequest(method=req.method, url=f"http://{lower['host']}{req.path}",
                         data=req.body, headers=headers)
        signer = SigV4Auth(Credentials(akid, self.sts_secrets[akid],
                                       lower.get("x-amz-security-token")), service, region)
        aws.context["timestamp"] = lower["x-amz-date"]
        canonical = signer.canonical_request(aws)
        expected = signer.signature(signer.string_to_sign(aws, canonical), aws)
        return None if expected == parts["Signature"] else "signature does not match"
