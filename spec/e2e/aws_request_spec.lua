-- iotlua.aws_request (issue 17, point 5): any AWS request signed with a client's
-- credentials and sent through the event loop. Against iotlua-emulator (iot-data's REST
-- paths: Publish reaching a real MQTT device, GetConnection), and against the recording
-- server, which re-signs every request with botocore (SigV4Auth, S3SigV4Auth for s3) at
-- the request's own X-Amz-Date: `verified` means botocore computed the same signature
-- with the same key. JSON and XML errors, a 500 retried once and counted, a slow answer
-- ended by the call's timeout and by the run's deadline, concurrent requests in
-- iotlua.map, the default credential chain, no secret in any error or log line, and the
-- misuse messages.
local servers = require("tools.servers")
local iotlua = require("iotlua")
local core = require("iotlua.core")
local cjson = require("cjson")

local AKID, SECRET = servers.access_key_id, servers.secret_access_key

local function creds()
  return { access_key_id = AKID, secret_access_key = SECRET }
end

-- The recorded requests whose path starts with prefix.
local function recorded(rec, prefix)
  local out = {}
  for _, r in ipairs(rec:requests()) do
    if r.path:sub(1, #prefix) == prefix then out[#out + 1] = r end
  end
  return out
end

-- Runs `body` as a script with build/iotlua (host args, environment); { status, stdout, stderr }.
local function run_script(body, args, env)
  local dir = servers.tmpdir()
  local path = dir .. "/script.lua"
  servers.write_file(path, body)
  local res = servers.run_iotlua(path, args, env)
  os.execute("rm -rf " .. servers.shell_quote(dir))
  return res
end

describe("iotlua.aws_request against the emulator", function()
  local emu, iot

  setup(function()
    emu = servers.emulator()
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
  end)
  teardown(function() servers.cleanup(emu) end)

  it("publishes over iot-data's REST path: 200 with the body, and the device gets it", function()
    local dev = servers.device(emu, "aws-req-dev", { topics = { "awsreq/#" } })
    local r, err = iotlua.aws_request{ client = iot, service = "iotdata", method = "POST",
                                       url = emu.http .. "/topics/awsreq%2Fone?qos=1",
                                       body = "hello from aws_request" }
    assert.is_nil(err)
    assert.equals(200, r.status)
    assert.equals("OK", cjson.decode(r.body).message)
    assert.equals("application/json", r.headers["content-type"])
    assert.equals(1, r.attempts)
    assert.is_string(r.request_id)
    local got = dev:wait_messages(1, "awsreq/one")
    assert.equals(1, #got)
    assert.equals("hello from aws_request", got[1].payload)
  end)

  it("GetConnection: the JSON answer as text, and a 404 as err with code and body", function()
    servers.device(emu, "aws-req-conn", {})
    local r = assert(iotlua.aws_request{ client = iot, service = "iotdata", method = "GET",
                                         url = emu.http .. "/connections/aws-req-conn" })
    assert.equals(200, r.status)
    assert.is_true(cjson.decode(r.body).connected)

    local none, err = iotlua.aws_request{ client = iot, service = "iotdata", method = "GET",
                                          url = emu.http .. "/connections/nobody-here" }
    assert.is_nil(none)
    assert.equals("ResourceNotFoundException", err.code)
    assert.equals(404, err.status)
    assert.equals("AwsRequest", err.operation)
    assert.is_false(err.retryable)
    assert.equals(1, err.attempts)
    assert.matches("nobody%-here", err.message)
    assert.matches("nobody%-here", err.body)
    assert.is_string(err.headers["x-amzn-requestid"])
    assert.matches("^ResourceNotFoundException: .*HTTP 404, AwsRequest", tostring(err))
  end)

  it("a wrong secret is the emulator's 403, the secret in no error text", function()
    local r, err = iotlua.aws_request{ service = "iotdata", method = "GET", region = "us-east-1",
                                       url = emu.http .. "/connections/x",
                                       credentials = { access_key_id = AKID,
                                                       secret_access_key = "not-the-secret-42" } }
    assert.is_nil(r)
    assert.equals(403, err.status)
    assert.is_nil(tostring(err):find("not-the-secret-42", 1, true))
    assert.is_nil(err.body:find("not-the-secret-42", 1, true))
  end)
end)

describe("iotlua.aws_request over HTTPS", function()
  local emu

  setup(function() emu = servers.https_emulator() end)
  teardown(function() servers.cleanup(emu) end)

  it("verifies the certificate by default: TLSError without the CA, 200 with it", function()
    local request = { service = "iotdata", method = "POST", url = emu.http .. "/topics/tls?qos=0",
                      body = "x" }
    request.client = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
    local r, err = iotlua.aws_request(request)
    assert.is_nil(r)
    assert.equals("TLSError", err.code)
    assert.is_false(err.retryable)
    request.client = assert(iotlua.client(emu:client_options{ ca_bundle = emu.cert }))
    r = assert(iotlua.aws_request(request))
    assert.equals(200, r.status)
  end)
end)

describe("iotlua.aws_request against the recording server (botocore checks)", function()
  local rec, rec_s3, rec_sts, iot

  setup(function()
    rec = servers.recording()
    rec_s3 = servers.recording{ service = "s3" }
    rec_sts = servers.recording{ service = "sts", region = "eu-west-1" }
    iot = assert(iotlua.client{ endpoint = rec.url, region = "us-east-1", credentials = creds() })
  end)
  teardown(function() servers.cleanup() end)

  it("signs as botocore does, the path sent as given and normalised only when signed", function()
    local r = assert(iotlua.aws_request{ client = iot, service = "iotdata", method = "POST",
                                         url = rec.url .. "/sig/a/./b//c%2Fd?qos=1&b=x%20y",
                                         headers = { ["Content-Type"] = "text/plain",
                                                     ["X-Custom"] = "  two  spaces " },
                                         body = "payload" })
    assert.equals(200, r.status)
    local got = recorded(rec, "/sig/")
    assert.equals(1, #got)
    assert.equals("/sig/a/./b//c%2Fd?qos=1&b=x%20y", got[1].target)
    assert.equals("payload", got[1].body)
    assert.equals("text/plain", got[1].header["content-type"])
    assert.is_true(got[1].signature.verified, got[1].signature.reason)
    assert.equals("iotdata", got[1].signature.service)
    assert.equals("us-east-1", got[1].signature.region)
  end)

  it("S3: the path signed as given with X-Amz-Content-Sha256, or UNSIGNED-PAYLOAD", function()
    local s3 = assert(iotlua.client{ endpoint = rec_s3.url, region = "us-east-1",
                                     credentials = creds() })
    assert(iotlua.aws_request{ client = s3, service = "s3", method = "PUT",
                               url = rec_s3.url .. "/bucket/a%20b/./c.txt", body = "object bytes" })
    assert(iotlua.aws_request{ client = s3, service = "s3", method = "PUT",
                               url = rec_s3.url .. "/bucket/unsigned.txt", body = "streamed",
                               headers = { ["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD" } })
    local got = recorded(rec_s3, "/bucket/")
    assert.equals(2, #got)
    assert.equals("/bucket/a%20b/./c.txt", got[1].target)
    assert.matches("^%x+$", got[1].header["x-amz-content-sha256"])
    assert.equals(64, #got[1].header["x-amz-content-sha256"])
    assert.equals("UNSIGNED-PAYLOAD", got[2].header["x-amz-content-sha256"])
    for i = 1, 2 do
      assert.is_true(got[i].signature.verified, got[i].signature.reason)
      assert.matches("x%-amz%-content%-sha256", table.concat(got[i].signature.signed_headers, ";"))
    end
  end)

  it("STS (query protocol): the XML answer as text, an XML error as code and message", function()
    local form = "Action=GetCallerIdentity&Version=2011-06-15"
    local xml = "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012" ..
                "</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
    rec_sts:script{
      { status = 200, body = xml, headers = { ["Content-Type"] = "text/xml" } },
      { status = 403, headers = { ["Content-Type"] = "text/xml" },
        body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>" ..
               "<Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security " ..
               "token included in the request is invalid.</Message></Error>" ..
               "<RequestId>ab-12</RequestId></ErrorResponse>" } }
    local request = { service = "sts", method = "POST", region = "eu-west-1",
                      url = rec_sts.url .. "/", credentials = creds(), body = form,
                      headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }
    local r = assert(iotlua.aws_request(request))
    assert.equals(200, r.status)
    assert.equals(xml, r.body)
    assert.equals("text/xml", r.headers["content-type"])
    local none, err = iotlua.aws_request(request)
    assert.is_nil(none)
    assert.equals("InvalidClientTokenId", err.code)
    assert.equals("The security token included in the request is invalid.", err.message)
    assert.equals(403, err.status)
    assert.matches("<Code>InvalidClientTokenId</Code>", err.body)
    assert.equals(1, err.attempts)        -- a 403 is not retried
    local got = rec_sts:requests()
    assert.equals(2, #got)
    for i = 1, 2 do
      assert.equals(form, got[i].body)
      assert.is_true(got[i].signature.verified, got[i].signature.reason)
      assert.equals("sts", got[i].signature.service)
      assert.equals("eu-west-1", got[i].signature.region)
    end
  end)

  it("a JSON error: code from x-amzn-ErrorType or the body, message, status, headers", function()
    rec:script{
      { status = 400, body = "{\"message\":\"name too long\"}",
        headers = { ["x-amzn-ErrorType"] = "ValidationException:http://internal/" } },
      { status = 409, body = "{\"Code\":\"ConflictException\",\"Message\":\"busy\"}" } }
    local _, err = iotlua.aws_request{ client = iot, service = "iotdata", method = "POST",
                                       url = rec.url .. "/jsonerr/1" }
    assert.equals("ValidationException", err.code)
    assert.equals("name too long", err.message)
    assert.equals(400, err.status)
    assert.equals("ValidationException:http://internal/", err.headers["x-amzn-errortype"])
    assert.matches("^rec%-", err.request_id)
    local _, err2 = iotlua.aws_request{ client = iot, service = "iotdata", method = "POST",
                                        url = rec.url .. "/jsonerr/2" }
    assert.equals("ConflictException", err2.code)
    assert.equals("busy", err2.message)
    assert.equals(1, #recorded(rec, "/jsonerr/1"))     -- 4xx: sent once
  end)

  it("a 500 then a 200: retried once, both attempts signed, attempts counted", function()
    rec:script{ { status = 500, body = "{\"__type\":\"InternalFailure\"}" },
                { status = 200, body = "second" } }
    local r = assert(iotlua.aws_request{ client = iot, service = "iotdata", method = "GET",
                                         url = rec.url .. "/retry/500" })
    assert.equals(200, r.status)
    assert.equals("second", r.body)
    assert.equals(2, r.attempts)
    local got = recorded(rec, "/retry/500")
    assert.equals(2, #got)
    assert.is_true(got[1].signature.verified and got[2].signature.verified)

    -- Out of attempts: the last error, retryable, with the count.
    local once = assert(iotlua.client{ endpoint = rec.url, region = "us-east-1",
                                       credentials = creds(), max_attempts = 2 })
    rec:script{ { status = 503, body = "<Error><Code>SlowDown</Code></Error>" },
                { status = 503, body = "<Error><Code>SlowDown</Code></Error>" } }
    local _, err = iotlua.aws_request{ client = once, service = "s3", method = "GET",
                                       url = rec.url .. "/retry/503" }
    assert.equals("SlowDown", err.code)
    assert.is_true(err.retryable)
    assert.equals(2, err.attempts)
    assert.equals(2, #recorded(rec, "/retry/503"))
  end)

  it("a slow answer ends at the call's timeout with TimeoutError", function()
    rec:script{ { status = 200, body = "late", delay = 3 } }
    local t0 = core.now()
    local r, err = iotlua.aws_request{ client = iot, service = "iotdata", method = "GET",
                                       url = rec.url .. "/slow/1", timeout = 0.5 }
    local took = core.now() - t0
    assert.is_nil(r)
    assert.equals("TimeoutError", err.code)
    assert.matches("call timeout", err.message)
    assert.is_false(err.retryable)
    assert.is_true(took >= 0.45 and took < 2, "took " .. took .. " s")
    assert.equals(1, #recorded(rec, "/slow/1"))
  end)

  it("runs concurrently inside iotlua.map: four 0.6 s answers in well under 4 x 0.6 s", function()
    rec:script{ { status = 200, body = "slowish", delay = 0.6, ["repeat"] = 4 } }
    local t0 = core.now()
    local results, errs = iotlua.map({ 1, 2, 3, 4 }, function(i)
      return iotlua.aws_request{ client = iot, service = "iotdata", method = "GET",
                                 url = rec.url .. "/map/" .. i }
    end, { concurrency = 4, progress = false })
    local took = core.now() - t0
    for i = 1, 4 do
      assert.is_nil(errs[i])
      assert.equals("slowish", results[i].body)
    end
    assert.is_true(took < 1.8, "took " .. took .. " s")
    assert.equals(4, #recorded(rec, "/map/"))
  end)

  it("the default chain (environment), the run's deadline, and no secret in output", function()
    rec:script{ { status = 403, headers = { ["Content-Type"] = "text/xml" },
                  body = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>" },
                { status = 200, body = "never", delay = 5 } }
    local token = "IQoJb3JpZ2luX2VjEXAMPLE-session-token-7"
    local res = run_script(([[
      local iotlua = require("iotlua")
      iotlua.deadline(1.5)
      local URL = %q
      local _, err = iotlua.aws_request{ service = "iotdata", method = "GET", url = URL .. "/env/1" }
      print("code=" .. err.code, "status=" .. err.status)
      print("line=" .. tostring(err))
      local ok, msg = pcall(function()
        iotlua.aws_request{ service = "iotdata", method = "GET", url = URL .. "/env/x",
                            headers = { ["X-Api-Key"] = os.getenv("AWS_SECRET_ACCESS_KEY") .. "\r\n" } }
      end)
      print("misuse=" .. tostring(msg))
      local _, late = iotlua.aws_request{ service = "iotdata", method = "GET", url = URL .. "/env/2" }
      print("late=" .. late.code, late.message)
    ]]):format(rec.url), {}, {
      AWS_ACCESS_KEY_ID = AKID, AWS_SECRET_ACCESS_KEY = SECRET, AWS_SESSION_TOKEN = token,
      AWS_REGION = "us-east-1", AWS_CONFIG_FILE = "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE = "/dev/null", IOTLUA_LOG_LEVEL = "debug" })
    local out = res.stdout .. res.stderr
    assert.matches("code=AccessDenied\tstatus=403", res.stdout)
    assert.matches("line=AccessDenied: Access Denied %(HTTP 403, AwsRequest", res.stdout)
    assert.matches("misuse=.-script%.lua:%d+: bad argument #1 to 'aws_request' %(field 'headers'",
                   res.stdout)
    assert.matches("late=TimeoutError\tdeadline passed", res.stdout, 1, false, res.stderr)
    assert.matches("DEBUG call .*operation=AwsRequest status=403", res.stderr)   -- logged
    local got = recorded(rec, "/env/")
    assert.equals(2, #got)
    assert.is_true(got[1].signature.verified, got[1].signature.reason)
    assert.equals(token, got[1].header["x-amz-security-token"])
    for _, secret in ipairs({ SECRET, token, got[1].signature.signature, "Authorization" }) do
      assert.is_nil(out:find(secret, 1, true), "output shows " .. secret .. ":\n" .. out)
    end
  end)
end)

describe("iotlua.aws_request misuse", function()
  local iot

  setup(function()
    iot = assert(iotlua.client{ endpoint = "http://127.0.0.1:9", region = "us-east-1",
                                credentials = creds() })
  end)

  local base = { service = "iotdata", method = "GET", url = "http://127.0.0.1:9/x" }
  local function with(changes)
    local r = { client = iot }
    for k, v in pairs(base) do r[k] = v end
    for k, v in pairs(changes) do r[k] = v end
    return r
  end
  local NONE = {}
  local cases = {
    { "missing service", { service = NONE }, "field 'service' must be a string, got no value" },
    { "missing method", { method = NONE }, "field 'method' must be a string, got no value" },
    { "missing url", { url = NONE }, "field 'url' must be a string, got no value" },
    { "not http(s)", { url = "ftp://host/x" }, "field 'url' must start with http:// or https://" },
    { "no host", { url = "https:///x" }, "field 'url' cannot be used: url has no host" },
    { "a fragment", { url = "http://h/x#frag" }, "field 'url' must not hold a fragment" },
    { "a space", { url = "http://h/a b" }, "field 'url' must not hold spaces" },
    { "lower-case method", { method = "get" }, "field 'method' must be an HTTP method in upper case" },
    { "bad service", { service = "S3/x" }, "field 'service' must be a signing name" },
    { "bad region", { region = "eu west" }, "field 'region' must be a region name" },
    { "headers not a table", { headers = "x" }, "field 'headers' must be a table" },
    { "a header value not a string", { headers = { a = 1 } },
      "field 'headers' must map names to strings, got string = number" },
    { "a header name not a token", { headers = { ["a b"] = "x" } },
      "a header name must be an HTTP token" },
    { "a header value with LF", { headers = { a = "x\ny" } }, "the value of a must not hold CR or LF" },
    { "Host given", { headers = { host = "x" } }, "Host is added by the runtime" },
    { "Authorization given", { headers = { Authorization = "x" } },
      "Authorization is added by the runtime" },
    { "bad content sha", { headers = { ["X-Amz-Content-Sha256"] = "abc" } },
      "X-Amz-Content-Sha256 must be \"UNSIGNED-PAYLOAD\" or a SHA-256" },
    { "body not a string", { body = {} }, "field 'body' must be a string, got table" },
    { "unknown field", { bogus = true }, "unknown field 'bogus'" },
    { "bad timeout", { timeout = 0 }, "field 'timeout' must be a number of seconds > 0" },
    { "two sources", { profile = "ops" }, "give one of the fields 'client', 'profile' and 'credentials'" },
    { "client not a client", { client = {} }, "field 'client' must be an iotlua client" },
    { "bad credentials", { client = NONE, credentials = { access_key_id = "a" } },
      "field 'credentials' must be a table with both access_key_id and secret_access_key" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " raises at the caller's line, naming the field", function()
      local r = with(c[2])
      for k, v in pairs(r) do if v == NONE then r[k] = nil end end
      local ok, msg = pcall(function() iotlua.aws_request(r) end)
      assert.is_false(ok)
      assert.matches("aws_request_spec%.lua:%d+: bad argument #1 to 'aws_request' %(", msg)
      assert.is_truthy(msg:find(c[3], 1, true), msg)
    end)
  end

  it("a request that is not a table raises", function()
    local ok, msg = pcall(function() iotlua.aws_request("x") end)
    assert.is_false(ok)
    assert.matches("aws_request_spec%.lua:%d+: bad argument #1 to 'aws_request' %(table expected, got string%)", msg)
  end)

  it("a refused connection is a NetworkError (retried), not a raise", function()
    local once = assert(iotlua.client{ endpoint = "http://127.0.0.1:9", region = "us-east-1",
                                       credentials = creds(), max_attempts = 2 })
    local r, err = iotlua.aws_request{ client = once, service = "iotdata", method = "GET",
                                       url = "http://127.0.0.1:9/x" }
    assert.is_nil(r)
    assert.equals("NetworkError", err.code)
    assert.equals(2, err.attempts)
    assert.is_nil(err.status)
    assert.is_nil(err.body)
  end)
end)
