-- iotlua.sigv4.sign against the published AWS SigV4 test suite (spec/fixtures), with the
-- signing time fixed: the Authorization header, the canonical request and the string to
-- sign must match the vectors byte for byte. Plus the argument checks of sign.
local iotlua = require("iotlua")

local SUITE = (os.getenv("IOTLUA_FIXTURES") or "spec/fixtures") .. "/aws-sigv4-testsuite"
local CREDENTIALS = { access_key_id = "AKIDEXAMPLE",
                      secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" }

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Parses a .req file: request line, headers (folded lines joined), blank line, body.
local function parse_request(text)
  local head, body = text:match("^(.-)\n\n(.*)$")
  head = head or text
  local lines = {}
  for line in (head .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local method, target = lines[1]:match("^(%S+) (.*) HTTP/1%.1$")
  local headers, order = {}, {}
  local last
  for i = 2, #lines do
    local line = lines[i]
    if line == "" then
      -- a trailing newline at the end of the file
    elseif line:match("^%s") and last then
      headers[last] = headers[last] .. "\n" .. line
    else
      local name, value = line:match("^([^:]+):(.*)$")
      if headers[name] then
        headers[name] = headers[name] .. "," .. value   -- repeated header: joined in order
      else
        headers[name] = value
        order[#order + 1] = name
      end
      last = name
    end
  end
  return { method = method, target = target, headers = headers, body = body or "" }
end

-- Vectors: every top-level case, the session-token ones and the normalize-path ones
-- (service "service" normalises the path as botocore does for every service but S3).
local VECTORS = {
  "get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order",
  "get-header-value-trim", "get-unreserved", "get-utf8", "get-vanilla",
  "get-vanilla-empty-query-key", "get-vanilla-query", "get-vanilla-query-order-encoded",
  "get-vanilla-query-order-key", "get-vanilla-query-order-key-case",
  "get-vanilla-query-order-value", "get-vanilla-query-unreserved",
  "get-vanilla-utf8-query", "get-vanilla-with-session-token", "post-header-key-case",
  "post-header-key-sort", "post-header-value-case", "post-vanilla",
  "post-vanilla-empty-query-value", "post-vanilla-query", "post-x-www-form-urlencoded",
  "post-x-www-form-urlencoded-parameters", "post-sts-token/post-sts-header-before",
  "normalize-path/get-relative", "normalize-path/get-relative-relative",
  "normalize-path/get-slash", "normalize-path/get-slash-dot-slash",
  "normalize-path/get-slash-pointless-dot", "normalize-path/get-slashes",
  "normalize-path/get-space", "normalize-path/get-special-character",
}

local function vector_path(name)
  return SUITE .. "/" .. name .. "/" .. name:match("[^/]+$")
end

local function sign_vector(name)
  local base = vector_path(name)
  local req = parse_request(read(base .. ".req"))
  local creq = read(base .. ".creq")
  local creds = { access_key_id = CREDENTIALS.access_key_id,
                  secret_access_key = CREDENTIALS.secret_access_key,
                  session_token = creq:match("\nx%-amz%-security%-token:([^\n]*)") }
  local headers = {}
  for k, v in pairs(req.headers) do
    local lower = k:lower()
    if lower ~= "x-amz-date" and lower ~= "x-amz-security-token" then headers[k] = v end
  end
  local added, working = iotlua.sigv4.sign{
    method = req.method, url = "https://" .. req.headers.Host .. req.target,
    headers = headers, body = req.body, region = "us-east-1", service = "service",
    credentials = creds, time = "20150830T123600Z" }
  return added, working, base, creds
end

describe("iotlua.sigv4.sign", function()
  for _, name in ipairs(VECTORS) do
    it("matches the published vector " .. name, function()
      local added, working, base, creds = sign_vector(name)
      assert.equals(read(base .. ".creq"), working.canonical_request)
      assert.equals(read(base .. ".sts"), working.string_to_sign)
      assert.equals(read(base .. ".authz"), added.Authorization)
      assert.equals("20150830T123600Z", added["X-Amz-Date"])
      assert.equals(creds.session_token, added["X-Amz-Security-Token"])
    end)
  end

  it("accepts the time as epoch seconds (get-vanilla)", function()
    local added = iotlua.sigv4.sign{
      method = "GET", url = "https://example.amazonaws.com/", region = "us-east-1",
      service = "service", credentials = CREDENTIALS, time = 1440938160 }
    assert.equals(read(vector_path("get-vanilla") .. ".authz"), added.Authorization)
  end)

  it("defaults the time to now", function()
    local added = iotlua.sigv4.sign{ method = "GET", url = "https://example.amazonaws.com/",
      region = "us-east-1", service = "iotdata", credentials = CREDENTIALS }
    assert.equals(os.date("!%Y%m%d", os.time()), added["X-Amz-Date"]:sub(1, 8))
    assert.matches("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", added["X-Amz-Date"])
    assert.is_nil(added["X-Amz-Security-Token"])
  end)

  it("signs a request with a percent-encoded path once more (iotdata wire rule)", function()
    local _, working = iotlua.sigv4.sign{ method = "POST",
      url = "https://data-ats.iot.us-east-1.amazonaws.com/topics/a%2Fb%20c%2F%23?qos=1",
      body = "hi", region = "us-east-1", service = "iotdata", credentials = CREDENTIALS,
      time = "20150830T123600Z" }
    assert.equals("/topics/a%252Fb%2520c%252F%2523", working.canonical_request:match("^POST\n([^\n]*)"))
  end)

  local function canonical_uri(fields)
    local r = { method = "GET", region = "us-east-1", credentials = CREDENTIALS,
                time = "20150830T123600Z" }
    for k, v in pairs(fields) do r[k] = v end
    local added, working = iotlua.sigv4.sign(r)
    return working.canonical_request:match("^GET\n([^\n]*)"), added, working
  end

  it("normalises and double-encodes the path for services other than S3", function()
    local url = "https://sqs.us-east-1.amazonaws.com/a/./b//../c%2Fd"
    assert.equals("/a/c%252Fd", (canonical_uri{ url = url, service = "sqs" }))
    assert.equals("/a/./b//../c%252Fd",
                  (canonical_uri{ url = url, service = "sqs", normalize_path = false }))
    assert.equals("/a/c%2Fd",
                  (canonical_uri{ url = url, service = "sqs", double_encode = false }))
  end)

  for _, service in ipairs{ "s3", "s3-object-lambda", "s3-outposts" } do
    it("signs the path as given with X-Amz-Content-Sha256 for " .. service, function()
      local uri, added, working = canonical_uri{ service = service, body = "",
        url = "https://b.s3.amazonaws.com/a/./b//k%20y" }
      assert.equals("/a/./b//k%20y", uri)
      local empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
      assert.equals(empty, added["X-Amz-Content-Sha256"])
      assert.matches("x-amz-content-sha256", working.signed_headers, 1, true)
    end)
  end

  it("signs UNSIGNED-PAYLOAD or a hash given instead of the body's", function()
    local _, added, working = canonical_uri{ service = "s3", body = "data",
      url = "https://b.s3.amazonaws.com/k", payload = "UNSIGNED-PAYLOAD" }
    assert.equals("UNSIGNED-PAYLOAD", added["X-Amz-Content-Sha256"])
    assert.equals("UNSIGNED-PAYLOAD", working.canonical_request:match("([^\n]*)$"))
    local hash = string.rep("ab", 32)
    _, added, working = canonical_uri{ service = "execute-api", payload = hash,
      url = "https://x.execute-api.us-east-1.amazonaws.com/p" }
    assert.is_nil(added["X-Amz-Content-Sha256"])
    assert.equals(hash, working.canonical_request:match("([^\n]*)$"))
    _, added = canonical_uri{ service = "execute-api", content_sha256_header = true,
      url = "https://x.execute-api.us-east-1.amazonaws.com/p" }
    assert.equals(read(vector_path("get-vanilla") .. ".creq"):match("([^\n]*)$"),
                  added["X-Amz-Content-Sha256"])
    _, added = canonical_uri{ service = "s3", content_sha256_header = false,
      url = "https://b.s3.amazonaws.com/k" }
    assert.is_nil(added["X-Amz-Content-Sha256"])
  end)

  local base = { method = "GET", url = "https://example.amazonaws.com/", region = "us-east-1",
                 service = "service", credentials = CREDENTIALS }
  local function with(field, value)
    local t = {}
    for k, v in pairs(base) do t[k] = v end
    t[field] = value
    return t
  end

  local BAD = {
    { "no table", nil, "table expected" },
    { "missing method", with("method", nil), "field 'method' must be a string" },
    { "missing url", with("url", nil), "field 'url' must be a string" },
    { "numeric region", with("region", 1), "field 'region' must be a string" },
    { "missing service", with("service", nil), "field 'service' must be a string" },
    { "missing credentials", with("credentials", nil), "field 'credentials' must be a table" },
    { "credentials without secret", with("credentials", { access_key_id = "A" }),
      "field 'secret_access_key' must be a string" },
    { "bad time string", with("time", "2015-08-30"), "field 'time' must look like" },
    { "fractional time", with("time", 1.5), "field 'time' must be whole epoch seconds" },
    { "boolean time", with("time", true), "field 'time' must be a string or a number" },
    { "headers not a table", with("headers", "Host: x"), "field 'headers' must be a table" },
    { "header value not a string", with("headers", { ["X-A"] = 1 }), "must map names to strings" },
    { "body not a string", with("body", {}), "field 'body' must be a string" },
    { "normalize_path not a boolean", with("normalize_path", "yes"),
      "field 'normalize_path' must be a boolean" },
    { "double_encode not a boolean", with("double_encode", 0),
      "field 'double_encode' must be a boolean" },
    { "content_sha256_header not a boolean", with("content_sha256_header", "x"),
      "field 'content_sha256_header' must be a boolean" },
    { "payload not a hash", with("payload", "abc"),
      "field 'payload' must be \"UNSIGNED-PAYLOAD\" or a SHA-256 as 64 hex digits" },
  }
  for _, case in ipairs(BAD) do
    it("raises on bad input: " .. case[1], function()
      local ok, err = pcall(iotlua.sigv4.sign, case[2])
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'sign'", err, 1, true)
      assert.matches(case[3], err, 1, true)
    end)
  end

  it("never puts the secret in an error message", function()
    local ok, err = pcall(iotlua.sigv4.sign, with("url", "not a url"))
    assert.is_false(ok)
    assert.is_nil(err:find(CREDENTIALS.secret_access_key, 1, true))
  end)
end)

-- iotlua.sigv4.presign: the AWS S3 documentation's presigned example (examplebucket,
-- test.txt, 2013-05-24, 86400 s) reproduced byte for byte; expiry and argument checks.
describe("iotlua.sigv4.presign", function()
  local DOC = { access_key_id = "AKIAIOSFODNN7EXAMPLE",
                secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }
  local function req(fields)
    local r = { method = "GET", url = "https://examplebucket.s3.amazonaws.com/test.txt",
                region = "us-east-1", service = "s3", credentials = DOC,
                time = "20130524T000000Z", expires = 86400 }
    for k, v in pairs(fields or {}) do r[k] = v end
    return r
  end

  it("gives the documented presigned URL", function()
    assert.equals("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=" ..
      "AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3" ..
      "%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=" ..
      "host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
      iotlua.sigv4.presign(req()))
  end)

  it("defaults expires to 3600 and signs a session token in the query", function()
    local r = req{ credentials = { access_key_id = DOC.access_key_id,
                   secret_access_key = DOC.secret_access_key, session_token = "T+K/1" } }
    r.expires = nil
    local url = iotlua.sigv4.presign(r)
    assert.matches("&X-Amz-Expires=3600&", url, 1, true)
    assert.matches("&X-Amz-Security-Token=T%2BK%2F1&X-Amz-Signature=", url, 1, true)
  end)

  it("normalises the path for services other than S3 when signing, keeps it in the URL",
     function()
    local a = iotlua.sigv4.presign(req{ service = "execute-api", url = "https://h/a/./b" })
    local b = iotlua.sigv4.presign(req{ service = "execute-api", url = "https://h/a/b" })
    assert.equals(a:match("X%-Amz%-Signature=(%x+)"), b:match("X%-Amz%-Signature=(%x+)"))
    assert.matches("^https://h/a/%./b%?", a)
  end)

  local BAD = {
    { "expires 0", req{ expires = 0 }, "field 'expires' must be whole seconds from 1 to 604800" },
    { "expires a week and a second", req{ expires = 604801 }, "field 'expires'" },
    { "expires fractional", req{ expires = 1.5 }, "field 'expires'" },
    { "no url", req{ url = false }, "field 'url' must be a string" },
    { "bad url", req{ url = "examplebucket" }, "url must be scheme://host" },
    { "no service", req{ service = 3 }, "field 'service' must be a string" },
    { "credentials a number", req{ credentials = 3 }, "field 'credentials' must be" },
  }
  for _, case in ipairs(BAD) do
    it("raises on bad input: " .. case[1], function()
      local ok, err = pcall(iotlua.sigv4.presign, case[2])
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'presign'", err, 1, true)
      assert.matches(case[3], err, 1, true)
      assert.is_nil(err:find(DOC.secret_access_key, 1, true))
    end)
  end
end)
