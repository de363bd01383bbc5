-- iotlua.aws_request — one signed request to any AWS service, through the event loop.
--
--   local r, err = iotlua.aws_request{
--     service = "sts", method = "POST", url = "https://sts.eu-west-1.amazonaws.com/",
--     headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
--     body = "Action=GetCallerIdentity&Version=2011-06-15",
--     region = "eu-west-1",          -- else the client's
--     client = iot,                  -- or profile = "ops", or credentials = {...};
--                                    -- else the default chain, as iotlua.client{} has
--     timeout = 5,                   -- the whole call's budget, in place of the run's deadline
--   }
--   -- r = { status = 200, headers = { ["content-type"] = ... }, body = "<...>",
--   --       request_id = "...", attempts = 1 }
--
-- Signed for every attempt with the client's resolved credentials by the service's path
-- rules (runtime/sigv4.h), sent as given, retried and timed like the client's data-plane
-- calls; inside a task only that task waits. A 2xx answer is returned as text whatever
-- its format. Any other answer is nil, err: err.code and err.message read from the JSON
-- or XML error body (runtime/aws_request.h), err.status, err.headers, err.body,
-- err.request_id, err.attempts, err.retryable, err.operation = "AwsRequest". Misuse (a
-- missing or mistyped field, a URL that is not http(s), a header the runtime sets
-- itself) raises at the caller's line, naming the field.

local core = require("iotlua.core")
local tasks = require("iotlua.tasks")
local errors = require("iotlua.errors")
local client_mod = require("iotlua.client")

local M = {}

local FIELDS = { service = true, method = true, url = true, headers = true, body = true,
                 region = true, client = true, profile = true, credentials = true,
                 timeout = true }

local function bad(what)
  error("bad argument #1 to 'aws_request' (" .. what .. ")", 4)
end

-- The fields the C half does not read: unknown names, timeout, the credential source.
local function check(r)
  if type(r) ~= "table" then
    error("bad argument #1 to 'aws_request' (table expected, got " .. type(r) .. ")", 3)
  end
  for k in pairs(r) do
    if not FIELDS[k] then bad("unknown field '" .. tostring(k) .. "'") end
  end
  local t = r.timeout
  if t ~= nil and (type(t) ~= "number" or not (t > 0) or t == math.huge) then
    bad("field 'timeout' must be a number of seconds > 0")
  end
  local sources = (r.client ~= nil and 1 or 0) + (r.profile ~= nil and 1 or 0) +
                  (r.credentials ~= nil and 1 or 0)
  if sources > 1 then bad("give one of the fields 'client', 'profile' and 'credentials'") end
  if r.client ~= nil and (getmetatable(r.client) or {}).__name ~= "iotlua.client" then
    bad("field 'client' must be an iotlua client, got " .. type(r.client))
  end
  if r.profile ~= nil and (type(r.profile) ~= "string" or r.profile == "") then
    bad("field 'profile' must be a profile name")
  end
  if r.credentials ~= nil then
    local ok, what = client_mod.OPTIONS.credentials[1](r.credentials)
    if not ok then bad("field 'credentials' must be " .. what) end
  end
  if r.region ~= nil and type(r.region) ~= "string" then
    bad("field 'region' must be a string, got " .. type(r.region))
  end
end

-- The client whose credentials, retry settings and timeouts the request uses, or nil, err.
local function client_for(r)
  if r.client then return r.client end
  if r.credentials then
    return client_mod.new{ credentials = r.credentials, region = r.region }
  end
  return client_mod.shared(r.profile, r.region)     -- one per profile and region
end

function M.request(r)
  check(r)
  local client, cerr = client_for(r)
  if not client then return nil, cerr end
  local ok, req = pcall(core.aws_request, client, r, r.timeout)
  if not ok then error(req, 2) end
  local started = client_mod.log_calls and core.now()
  tasks.await(req)
  local answer, err = core.aws_result(req)
  if started then
    local e = err or {}
    client_mod.log_call("AwsRequest", started, answer and answer.status or e.status, e.code,
                        answer and answer.attempts or e.attempts)
  end
  if answer then return answer end
  return nil, errors.new(err)
end

return M
