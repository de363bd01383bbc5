-- The client API of the contract: iotlua.client{...} resolution and its errors, the
-- operation methods (validation before I/O, Lua types of parameters, results with
-- ResponseMetadata, error objects of failures of the world), close. Requests go to the
-- recording server (spec/tools/recording_server.py), which verifies signatures with
-- botocore.
local iotlua = require("iotlua")
local errors = require("iotlua.errors")
local servers = require("tools.servers")

local AKID, SECRET = servers.access_key_id, servers.secret_access_key
local CREDS = { access_key_id = AKID, secret_access_key = SECRET }

local function client_for(url, extra)
  local opts = { endpoint = url, region = "us-east-1", credentials = CREDS }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return assert(iotlua.client(opts))
end

-- Calls f and returns its error message (the call must raise).
local function raised(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("iotlua.client configuration", function()
  local function resolve(env, opts)
    opts = opts or {}
    opts._env = env
    return iotlua.client(opts)
  end
  local ENV_CREDS = { AWS_ACCESS_KEY_ID = AKID, AWS_SECRET_ACCESS_KEY = SECRET,
                      AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null" }
  local function env(extra)
    local t = {}
    for k, v in pairs(ENV_CREDS) do t[k] = v end
    for k, v in pairs(extra) do t[k] = v end
    return t
  end

  local CASES = {
    { "region from AWS_REGION, endpoint from the rules", env{ AWS_REGION = "eu-west-1" }, {},
      "eu-west-1", "https://data-ats.iot.eu-west-1.amazonaws.com" },
    { "region from AWS_DEFAULT_REGION", env{ AWS_DEFAULT_REGION = "ap-south-1" }, {},
      "ap-south-1", "https://data-ats.iot.ap-south-1.amazonaws.com" },
    { "AWS_REGION wins over AWS_DEFAULT_REGION",
      env{ AWS_REGION = "us-west-2", AWS_DEFAULT_REGION = "ap-south-1" }, {},
      "us-west-2", "https://data-ats.iot.us-west-2.amazonaws.com" },
    { "the client's region wins over the environment", env{ AWS_REGION = "us-west-2" },
      { region = "eu-central-1" }, "eu-central-1", "https://data-ats.iot.eu-central-1.amazonaws.com" },
    { "endpoint from AWS_ENDPOINT_URL_IOT_DATA_PLANE",
      env{ AWS_REGION = "us-east-1", AWS_ENDPOINT_URL_IOT_DATA_PLANE = "http://127.0.0.1:1234",
           AWS_ENDPOINT_URL = "http://127.0.0.1:9999" }, {}, "us-east-1", "http://127.0.0.1:1234" },
    { "endpoint from AWS_ENDPOINT_URL", env{ AWS_REGION = "us-east-1",
      AWS_ENDPOINT_URL = "http://127.0.0.1:9999" }, {}, "us-east-1", "http://127.0.0.1:9999" },
    { "the client's endpoint wins", env{ AWS_REGION = "us-east-1",
      AWS_ENDPOINT_URL = "http://127.0.0.1:9999" }, { endpoint = "https://example.test" },
      "us-east-1", "https://example.test" },
    { "FIPS from AWS_USE_FIPS_ENDPOINT", env{ AWS_REGION = "us-east-1", AWS_USE_FIPS_ENDPOINT = "true" },
      {}, "us-east-1", "https://data.iot-fips.us-east-1.amazonaws.com" },
    { "FIPS from the client", env{ AWS_REGION = "us-east-1" }, { use_fips_endpoint = true },
      "us-east-1", "https://data.iot-fips.us-east-1.amazonaws.com" },
    { "China partition (the rules' special case)", env{ AWS_REGION = "cn-north-1" }, {}, "cn-north-1",
      "https://data.ats.iot.cn-north-1.amazonaws.com.cn" },
  }
  for _, case in ipairs(CASES) do
    it("resolves " .. case[1], function()
      local iot, err = resolve(case[2], case[3])
      assert.is_nil(err)
      assert.equals(case[4], iot.region)
      assert.equals(case[5], iot.endpoint)
      iot:close()
    end)
  end

  it("takes the credentials from the environment", function()
    local iot = assert(resolve(env{ AWS_REGION = "us-east-1" }))
    assert.matches("environment", iot.credentials_source)
  end)

  it("returns nil, ConfigError when there is no region, saying how to set one", function()
    local iot, err = resolve(env{})
    assert.is_nil(iot)
    assert.equals("ConfigError", err.code)
    assert.matches("AWS_REGION", err.message, 1, true)
    assert.matches("^ConfigError: ", tostring(err))
  end)

  it("returns nil, CredentialsError when there are no credentials, naming the places looked at", function()
    local iot, err = resolve({ AWS_REGION = "us-east-1", AWS_CONFIG_FILE = "/dev/null",
                               AWS_SHARED_CREDENTIALS_FILE = "/dev/null",
                               AWS_EC2_METADATA_DISABLED = "true" })
    assert.is_nil(iot)
    assert.equals("CredentialsError", err.code)
    assert.matches("AWS_ACCESS_KEY_ID", err.message, 1, true)
    assert.matches("disabled by AWS_EC2_METADATA_DISABLED", err.message, 1, true)
  end)

  it("falls back to the EC2 instance metadata service, asked on the first call", function()
    local iot = assert(resolve({ AWS_REGION = "us-east-1", AWS_CONFIG_FILE = "/dev/null",
                                 AWS_SHARED_CREDENTIALS_FILE = "/dev/null",
                                 AWS_EC2_METADATA_SERVICE_ENDPOINT = "http://127.0.0.1:9/" }))
    assert.equals("imds", iot.credentials_source)
  end)

  it("returns nil, err for a custom endpoint with FIPS", function()
    local iot, err = resolve(env{ AWS_REGION = "us-east-1" },
                             { endpoint = "https://example.test", use_fips_endpoint = true })
    assert.is_nil(iot)
    assert.equals("ConfigError", err.code)
  end)

  it("never puts a secret in a configuration error", function()
    local _, err = resolve({ AWS_SECRET_ACCESS_KEY = SECRET, AWS_REGION = "us-east-1",
                             AWS_EC2_METADATA_DISABLED = "true",
                             AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null" })
    assert.equals("CredentialsError", err.code)
    assert.is_nil(tostring(err):find(SECRET, 1, true))
  end)

  it("reads the process environment when no _env is given (subprocess)", function()
    local script = os.tmpname()
    servers.write_file(script, 'local iot = assert(require("iotlua").client()) print(iot.region, iot.endpoint)')
    local res = servers.run_iotlua(script, {}, { AWS_REGION = "eu-north-1", AWS_ACCESS_KEY_ID = AKID,
      AWS_SECRET_ACCESS_KEY = SECRET, AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null" })
    os.remove(script)
    assert.equals(0, res.status, res.stderr)
    assert.equals("eu-north-1\thttps://data-ats.iot.eu-north-1.amazonaws.com\n", res.stdout)
  end)

  local BAD_OPTIONS = {
    { "not a table", "x", "bad argument #1 to 'client' (table expected, got string)" },
    { "unknown option", { regoin = "x" }, "unknown option 'regoin'" },
    { "region not a string", { region = 1 }, "option 'region' must be a string" },
    { "timeout not positive", { timeout = 0 }, "option 'timeout' must be a positive number" },
    { "connect_timeout a string", { connect_timeout = "3" }, "option 'connect_timeout' must be a positive number" },
    { "max_attempts zero", { max_attempts = 0 }, "option 'max_attempts' must be an integer >= 1" },
    { "max_attempts fractional", { max_attempts = 2.5 }, "option 'max_attempts' must be an integer >= 1" },
    { "retry_mode unknown", { retry_mode = "fast" }, "option 'retry_mode' must be" },
    { "retry_mode adaptive", { retry_mode = "adaptive" },
      'option \'retry_mode\' must be one of standard, legacy, got "adaptive"' },
    { "verify_tls not boolean", { verify_tls = "no" }, "option 'verify_tls' must be a boolean" },
    { "credentials a string", { credentials = "AKID:SECRET" }, "option 'credentials' must be a table" },
    { "credentials without secret", { credentials = { access_key_id = "A" } },
      "both access_key_id and secret_access_key" },
    { "credentials with unknown field", { credentials = { access_key_id = "A", secret_access_key = "S", token = "T" } },
      "unknown field 'token'" },
    { "max_connections zero", { max_connections = 0 }, "option 'max_connections' must be an integer >= 1" },
  }
  for _, case in ipairs(BAD_OPTIONS) do
    it("raises on misuse: " .. case[1], function()
      local msg = raised(iotlua.client, case[2])
      assert.matches(case[3], msg, 1, true)
    end)
  end

  it("never echoes a mistyped credentials value", function()
    local msg = raised(iotlua.client, { credentials = SECRET })
    assert.is_nil(msg:find(SECRET, 1, true))
  end)
end)

describe("client methods", function()
  local rec, iot
  setup(function()
    rec = servers.recording()
    iot = client_for(rec.url, { max_attempts = 2 })
  end)
  teardown(function()
    if iot then iot:close() end
    servers.stop_all()
  end)
  before_each(function() rec:clear() end)

  it("are generated for the operations of the model, named as in boto3", function()
    for _, name in ipairs{ "publish", "send_direct_message", "list_subscriptions",
                           "get_connection", "get_thing_shadow" } do
      assert.is_function(iot[name], name)
    end
  end)

  -- Misuse raises before any I/O, naming the parameter and the rule.
  local MISUSE = {
    { "publish", nil, "bad argument #1 to 'publish' (table expected, got nil)" },
    { "publish", "topic", "bad argument #1 to 'publish' (table expected, got string)" },
    { "publish", {}, "publish: missing required parameter 'topic'" },
    { "publish", { topic = "t", bogus = 1 }, "publish: unknown parameter 'bogus'" },
    { "publish", { topic = 5 }, "parameter 'topic' must be a string" },
    { "publish", { topic = "t", qos = 2 }, "parameter 'qos' must be between 0 and 1 (got 2)" },
    { "publish", { topic = "t", qos = 1.5 }, "parameter 'qos' must be an integer" },
    { "publish", { topic = "t", retain = "yes" }, "parameter 'retain' must be a boolean" },
    { "publish", { topic = "t", messageExpiry = "1" }, "parameter 'messageExpiry' must be an integer" },
    { "publish", { topic = "t", payload = print }, "parameter 'payload' must be a string, a file handle or a table" },
    { "publish", { topic = "t", payload = { f = print } }, "parameter 'payload' cannot be encoded as JSON" },
    { "publish", { topic = "t", payloadFormatIndicator = "TEXT" }, "parameter 'payloadFormatIndicator' must be one of" },
    { "publish", { topic = "t", userProperties = { { a = 1 } } }, "parameter 'userProperties' must be a JSON string or an array of single-key tables" },
    { "publish", { topic = "t", userProperties = { { a = "1", b = "2" } } }, "exactly one key" },
    { "publish", { topic = "t", userProperties = { x = { a = "1" } } }, "is not an array index" },
    { "publish", { topic = "t", userProperties = "[oops" }, "parameter 'userProperties' must be valid JSON" },
    { "publish", { topic = "t", correlationData = "a\nb" }, "parameter 'correlationData' must not contain control characters" },
    { "publish", { "t" }, "parameter names must be strings" },
    { "get_connection", {}, "get_connection: missing required parameter 'clientId'" },
    { "get_connection", { clientId = "" }, "parameter 'clientId' must be 1 to 128 characters long" },
    { "get_connection", { clientId = ("x"):rep(129) }, "parameter 'clientId' must be 1 to 128 characters long (got 129)" },
    { "get_connection", { clientId = "$aws" }, "parameter 'clientId' must not start with '$'" },
    { "get_connection", { clientId = "c", includeSocketInformation = 1 }, "parameter 'includeSocketInformation' must be a boolean" },
    { "list_subscriptions", { clientId = "c", maxResults = 0 }, "parameter 'maxResults' must be between 1 and 200 (got 0)" },
    { "list_subscriptions", { clientId = "c", maxResults = 201 }, "parameter 'maxResults' must be between 1 and 200 (got 201)" },
    { "send_direct_message", { clientId = "c" }, "send_direct_message: missing required parameter 'topic'" },
    { "send_direct_message", { clientId = "c", topic = "t", confirmation = "true" }, "parameter 'confirmation' must be a boolean" },
    { "send_direct_message", { clientId = "$c", topic = "t" }, "parameter 'clientId' must not start with '$'" },
    { "send_direct_message", { clientId = ("c"):rep(129), topic = "t" }, "parameter 'clientId' must be 1 to 128 characters long" },
    { "send_direct_message", { clientId = "c", topic = "t", payloadFormatIndicator = "utf8" }, "parameter 'payloadFormatIndicator' must be one of UNSPECIFIED_BYTES, UTF8_DATA" },
    { "send_direct_message", { clientId = "c", topic = "t", timeout = "5" }, "parameter 'timeout' must be an integer" },
    { "send_direct_message", { clientId = "c", topic = "t", qos = 1 }, "send_direct_message: unknown parameter 'qos'" },
    { "list_subscriptions", { clientId = "$c" }, "parameter 'clientId' must not start with '$'" },
    { "list_subscriptions", { clientId = "" }, "parameter 'clientId' must be 1 to 128 characters long" },
    { "list_subscriptions", { clientId = "c", nextToken = 5 }, "parameter 'nextToken' must be a string" },
    { "get_connection", { clientId = "c", verbose = true }, "get_connection: unknown parameter 'verbose'" },
  }
  for _, case in ipairs(MISUSE) do
    local method, params, expected = case[1], case[2], case[3]
    it(method .. " raises at the caller's line: " .. expected, function()
      local msg = raised(function() local r = iot[method](iot, params); return r end)
      assert.matches(expected, msg, 1, true)
      assert.matches("client_spec%.lua:%d+: ", msg)
    end)
  end

  it("sent nothing for any of those misuses", function()
    for _, case in ipairs(MISUSE) do pcall(iot[case[1]], iot, case[2]) end
    assert.same({}, rec:requests())
  end)

  it("raises when called with a dot instead of a colon", function()
    local msg = raised(function() return iot.publish{ topic = "t" } end)
    assert.matches("calling 'publish' on bad self", msg, 1, true)
  end)

  it("publish: string payload, query members, signed with the client's credentials", function()
    local r, err = iot:publish{ topic = "a/b c/#", payload = "hello", qos = 1, retain = true }
    assert.is_nil(err)
    local req = rec:requests()[1]
    assert.equals("POST", req.method)
    assert.equals("/topics/a%2Fb%20c%2F%23", req.path)
    assert.same({ { "qos", "1" }, { "retain", "true" } }, req.query_pairs)
    assert.equals("hello", req.body)
    assert.is_true(req.signature.verified, req.signature.reason)
    assert.equals(AKID, req.signature.access_key)
    assert.equals("iotdata", req.signature.service)
    assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
    assert.equals("rec-" .. math.tointeger(req.id), r.ResponseMetadata.RequestId)
    assert.equals(0, r.ResponseMetadata.RetryAttempts)
    assert.equals("application/json", r.ResponseMetadata.HTTPHeaders["content-type"])
  end)

  it("an endpoint with a base path: every attempt goes to and is signed for base path + request path", function()
    local based = client_for(rec.url .. "/base/", { max_attempts = 2 })
    rec:script{ { status = 503, body = '{"message":"busy"}' } }
    local r, err = based:publish{ topic = "a/b", payload = "x", qos = 1 }
    assert.is_nil(err)
    assert.equals(1, r.ResponseMetadata.RetryAttempts)
    local reqs = rec:requests()
    assert.equals(2, #reqs)
    for _, req in ipairs(reqs) do
      assert.equals("/base/topics/a%2Fb", req.path)
      assert.same({ { "qos", "1" } }, req.query_pairs)
      assert.is_true(req.signature.verified, req.signature.reason)
    end
    based:close()
  end)

  it("publish: a table payload is sent as JSON", function()
    assert(iot:publish{ topic = "t", payload = { n = 42, list = { 1, 2 } } })
    local body = rec:requests()[1].body
    assert.same({ n = 42, list = { 1, 2 } }, require("cjson").decode(body))
  end)

  it("publish: a file payload is streamed from its position", function()
    local f = assert(io.tmpfile())
    f:write("skip|", ("x"):rep(100000))
    f:seek("set", 5)
    assert(iot:publish{ topic = "t", payload = f })
    f:close()
    assert.equals(("x"):rep(100000), rec:requests()[1].body)
  end)

  it("publish: a closed file is misuse", function()
    local f = assert(io.tmpfile())
    f:close()
    local msg = raised(function() return iot:publish{ topic = "t", payload = f } end)
    assert.matches("parameter 'payload'", msg, 1, true)
  end)

  it("publish: userProperties as an array of single-key tables or as JSON text", function()
    assert(iot:publish{ topic = "t", userProperties = { { device = "alpha" }, { device = "bravo" } } })
    assert(iot:publish{ topic = "t", userProperties = '[{"k":"v"}]' })
    local reqs = rec:requests()
    local function decoded(req)
      local b64 = req.header["x-amz-mqtt5-user-properties"]
      local out = servers.run("printf %s " .. servers.shell_quote(b64) .. " | base64 -d")
      return require("cjson").decode(out)
    end
    assert.same({ { device = "alpha" }, { device = "bravo" } }, decoded(reqs[1]))
    assert.same({ { k = "v" } }, decoded(reqs[2]))
  end)

  it("get_connection: output members with the model's names", function()
    rec:script{ { status = 200, body = '{"connected":true,"clientId":"sensor-42","sessionExpiry":3600}',
                  headers = { ["Content-Type"] = "application/json", ["x-amzn-RequestId"] = "req-7" } } }
    local r = assert(iot:get_connection{ clientId = "sensor-42", includeSocketInformation = true })
    assert.is_true(r.connected)
    assert.equals("sensor-42", r.clientId)
    assert.equals(3600, r.sessionExpiry)
    assert.equals(math.type(3600), math.type(r.sessionExpiry))
    assert.equals("req-7", r.ResponseMetadata.RequestId)
    local req = rec:requests()[1]
    assert.equals("GET", req.method)
    assert.equals("/connections/sensor-42", req.path)
    assert.same({ { "includeSocketInformation", "true" } }, req.query_pairs)
  end)

  it("a service error returns nil, err with the contract's fields and one readable line", function()
    rec:script{ { status = 404, headers = { ["x-amzn-ErrorType"] = "ResourceNotFoundException:http://internal",
                  ["x-amzn-RequestId"] = "1234-abcd" },
                  body = '{"message":"No connection found for client sensor-42"}', ["repeat"] = 2 } }
    local r, err = iot:get_connection{ clientId = "sensor-42" }
    assert.is_nil(r)
    assert.equals("ResourceNotFoundException", err.code)
    assert.equals("No connection found for client sensor-42", err.message)
    assert.equals(404, err.status)
    assert.equals("1234-abcd", err.request_id)
    assert.equals("GetConnection", err.operation)
    assert.is_false(err.retryable)
    assert.equals(1, err.attempts)
    assert.equals("ResourceNotFoundException: No connection found for client sensor-42 " ..
                  "(HTTP 404, GetConnection, request 1234-abcd, 1 attempt)", tostring(err))
    local ok, msg = pcall(function() return assert(iot:get_connection{ clientId = "sensor-42" }) end)
    assert.is_false(ok)
    assert.equals(tostring(err), tostring(msg))
  end)

  it("retries a 503 and reports the attempts; the client stays usable", function()
    rec:script{ { status = 503, body = '{"message":"busy"}', headers = { ["x-amzn-ErrorType"] = "ServiceUnavailableException" }, ["repeat"] = 2 } }
    local r, err = iot:publish{ topic = "t" }
    assert.is_nil(r)
    assert.equals("ServiceUnavailableException", err.code)
    assert.is_true(err.retryable)
    assert.equals(2, err.attempts)
    assert.matches("2 attempts", tostring(err), 1, true)
    assert.equals(2, #rec:requests())
    local ok = assert(iot:publish{ topic = "t" })
    assert.equals(0, ok.ResponseMetadata.RetryAttempts)
  end)

  -- Failures of the world: nil, err with a distinct code; the next call works.
  local WORLD = {
    -- (the native HTTP/1.1 transport sends the request once; libcurl, used when
    -- IOTLUA_HTTP_TRANSPORT=curl, sends it once more by itself when a reused connection closes)
    { "a connection closed without a response",
      { action = "close", ["repeat"] = os.getenv("IOTLUA_HTTP_TRANSPORT") == "curl" and 2 or 1 },
      "NetworkError", nil },
    { "a truncated success body", { action = "truncate", status = 200, body = '{"connected":true,"clientId":"abc"}' },
      "NetworkError", nil },
    { "a 500 with a body that is not JSON", { status = 500, body = "<html>oops</html>" }, "UnknownError", 500 },
    { "a 200 with a body that is not JSON", { status = 200, body = "not json" }, "InvalidResponse", 200 },
    { "an error code in the body's __type", { status = 400,
      body = '{"__type":"com.amazonaws.iot#InvalidRequestException","message":"bad"}' }, "InvalidRequestException", 400 },
    { "a throttling code", { status = 429, headers = { ["x-amzn-ErrorType"] = "ThrottlingException" },
      body = '{"message":"slow down"}' }, "ThrottlingException", 429 },
  }
  for _, case in ipairs(WORLD) do
    it("returns nil, " .. case[3] .. " for " .. case[1] .. ", and stays usable", function()
      local once = client_for(rec.url, { max_attempts = 1 })
      rec:script{ case[2] }
      local r, err = once:get_connection{ clientId = "abc" }
      assert.is_nil(r)
      assert.equals(case[3], err.code)
      assert.equals(case[4], err.status)
      assert.equals("GetConnection", err.operation)
      assert.equals(1, err.attempts)
      assert.is_nil(tostring(err):find("\n", 1, true))
      assert.is_table(once:get_connection{ clientId = "abc" })
      once:close()
    end)
  end

  it("a refused connection returns nil, NetworkError", function()
    local dead = client_for("http://127.0.0.1:9", { max_attempts = 1 })
    local r, err = dead:publish{ topic = "t" }
    assert.is_nil(r)
    assert.equals("NetworkError", err.code)
    assert.is_nil(err.status)
    assert.equals("Publish", err.operation)
    assert.matches("^NetworkError: .+%(Publish, 1 attempt%)$", tostring(err))
    dead:close()
  end)

  it("a response slower than the timeout returns nil, TimeoutError", function()
    rec:script{ { status = 200, body = "{}", delay = 1.5 } }
    local quick = client_for(rec.url, { timeout = 0.3, max_attempts = 1 })
    local r, err = quick:publish{ topic = "slow" }
    assert.is_nil(r)
    assert.equals("TimeoutError", err.code)
    assert.is_true(err.retryable)
    quick:close()
  end)

  describe("with credentials from files", function()
    local dir
    setup(function()
      dir = servers.tmpdir()
      servers.write_file(dir .. "/credentials", ("[ops]\naws_access_key_id = %s\naws_secret_access_key = %s\n")
                                                :format(AKID, SECRET))
      local json = ('{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s"}'):format(AKID, SECRET)
      servers.write_file(dir .. "/process.json", json)
      servers.write_file(dir .. "/config", table.concat({
        "[profile ops]", "region = us-east-1", "",
        "[profile proc]", "region = us-east-1", "credential_process = cat " .. dir .. "/process.json", "",
        "[profile broken]", "region = us-east-1", "credential_process = sh -c 'exit 3'", "" }, "\n"))
    end)
    teardown(function() os.execute("rm -rf " .. servers.shell_quote(dir)) end)

    local function file_env()
      return { AWS_CONFIG_FILE = dir .. "/config", AWS_SHARED_CREDENTIALS_FILE = dir .. "/credentials",
               HOME = dir }
    end

    it("a profile's region and keys sign the request", function()
      local c = assert(iotlua.client{ profile = "ops", endpoint = rec.url, _env = file_env() })
      assert.equals("us-east-1", c.region)   -- no AWS_REGION in _env: from the profile
      assert.matches("config", c.region_source)
      assert.equals("ops", c.profile)
      assert(c:publish{ topic = "t" })
      local req = rec:requests()[1]
      assert.is_true(req.signature.verified, req.signature.reason)
      assert.equals(AKID, req.signature.access_key)
      c:close()
    end)

    it("credential_process provides the keys", function()
      local env = file_env()
      env.AWS_PROFILE = "proc"
      local c = assert(iotlua.client{ endpoint = rec.url, _env = env })
      assert(c:publish{ topic = "t" })
      assert.is_true(rec:requests()[1].signature.verified)
      c:close()
    end)

    it("a failing credential_process makes the call return nil, CredentialsError", function()
      local c = assert(iotlua.client{ profile = "broken", endpoint = rec.url, _env = file_env() })
      local r, err = c:publish{ topic = "t" }
      assert.is_nil(r)
      assert.equals("CredentialsError", err.code)
      assert.same({}, rec:requests())
      c:close()
    end)
  end)

  it("close is safe twice; a closed client refuses calls; <close> closes", function()
    local c = client_for(rec.url)
    c:close()
    c:close()
    assert.matches("the client is closed", raised(function() return c:publish{ topic = "t" } end))
    assert.matches("closed", tostring(c))
    local kept
    do
      local scoped <close> = client_for(rec.url)
      kept = scoped
      assert.not_matches("closed", tostring(kept))
    end
    assert.matches("closed", tostring(kept))
  end)
end)

describe("error objects", function()
  local CASES = {
    { { code = "ResourceNotFoundException", message = "No connection", status = 404,
        operation = "GetConnection", request_id = "r-1", attempts = 1 },
      "ResourceNotFoundException: No connection (HTTP 404, GetConnection, request r-1, 1 attempt)" },
    { { code = "TimeoutError", message = "timed out\nafter 3 s", operation = "Publish", attempts = 3 },
      "TimeoutError: timed out after 3 s (Publish, 3 attempts)" },
    { { code = "ConfigError", message = "no region", attempts = 0 }, "ConfigError: no region" },
    { { code = "UnknownError" }, "UnknownError" },
    { { code = "UnknownError", message = "line 1\r\n\r\nline 2\n", status = 502 },
      "UnknownError: line 1 line 2  (HTTP 502)" },
    { { code = "InvalidResponse", message = string.rep("x", 700) },   -- longer than C's carrier
      "InvalidResponse: " .. string.rep("x", 700) },
  }
  for _, case in ipairs(CASES) do
    it("formats " .. case[2], function()
      local err = errors.new(case[1])
      assert.equals(case[2], tostring(err))
      assert.is_true(errors.is_error(err))
    end)
  end

  it("an uncaught error object prints its one line in the host", function()
    local script = os.tmpname()
    servers.write_file(script, [[
      local iot = assert(require("iotlua").client{ endpoint = "http://127.0.0.1:9", region = "us-east-1",
        credentials = { access_key_id = "AKID", secret_access_key = "SECRET" }, max_attempts = 1 })
      assert(iot:publish{ topic = "t" })]])
    local res = servers.run_iotlua(script, {}, {})
    os.remove(script)
    assert.equals(1, res.status)
    assert.matches("^iotlua: NetworkError: [^\n]*%(Publish, 1 attempt%)\nstack traceback:\n", res.stderr)
  end)
end)
