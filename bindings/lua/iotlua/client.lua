-- iotlua.client — iotlua.client{...} and the operation methods of client handles.
--
-- The methods are generated from the runtime's operation descriptions
-- (core.operations(), one per operation of the service model, named as in boto3): no
-- operation is written out here. A method call
--   1. checks its argument and converts the Lua-only forms (a payload table is
--      JSON-encoded; userProperties given as an array of single-key tables becomes JSON),
--   2. hands the parameters to the runtime, which validates every member against the
--      model before any I/O (misuse raises at the caller's line, naming the parameter),
--   3. waits for the call: yielding the task inside a task, driving the loop outside one,
--   4. returns the result table, or nil and an error object (iotlua.errors).

local core = require("iotlua.core")
local tasks = require("iotlua.tasks")
local errors = require("iotlua.errors")

local M = {}

local cjson
local function json()
  if not cjson then cjson = require("cjson") end
  return cjson
end

------------------------------------------------------------------------------------------
-- Options of iotlua.client{...}

local function is_string(v) return type(v) == "string" end
local function is_boolean(v) return type(v) == "boolean" end
local function is_positive(v) return type(v) == "number" and v > 0 and v < math.huge end
local function is_count(v) return math.type(v) == "integer" and v >= 1 end

local function is_credentials(v)
  if type(v) ~= "table" then return false, "a table" end
  for k, x in pairs(v) do
    if k ~= "access_key_id" and k ~= "secret_access_key" and k ~= "session_token" then
      return false, "a table with access_key_id, secret_access_key and session_token " ..
                    "(unknown field '" .. tostring(k) .. "')"
    end
    if type(x) ~= "string" then
      return false, "a table of strings (field '" .. tostring(k) .. "' is a " .. type(x) .. ")"
    end
  end
  if not v.access_key_id or not v.secret_access_key then
    return false, "a table with both access_key_id and secret_access_key"
  end
  return true
end

local function is_env(v)
  if type(v) ~= "table" then return false, "a table" end
  for k, x in pairs(v) do
    if type(k) ~= "string" or type(x) ~= "string" then
      return false, "a table of strings"
    end
  end
  return true
end

local function is_retry_mode(v)
  return type(v) == "string" and core.retry_mode_valid(v)
end

-- option -> { check, what it must be }
local OPTIONS = {
  region = { is_string, "a string" },
  endpoint = { is_string, "a string" },
  profile = { is_string, "a string" },
  credentials = { is_credentials, "a table" },
  timeout = { is_positive, "a positive number of seconds" },
  connect_timeout = { is_positive, "a positive number of seconds" },
  max_attempts = { is_count, "an integer >= 1" },
  retry_mode = { is_retry_mode, "one of " .. core.retry_modes },
  ca_bundle = { is_string, "a string (a PEM file)" },
  verify_tls = { is_boolean, "a boolean" },
  use_fips_endpoint = { is_boolean, "a boolean" },
  use_dualstack_endpoint = { is_boolean, "a boolean" },
  max_connections = { is_count, "an integer >= 1" },
  mfa_token = { function(v) return type(v) == "function" end, "a function" },
  _env = { is_env, "a table" },    -- tests: the environment to resolve from, instead of the process's
}
M.OPTIONS = OPTIONS

-- A value for a message; strings only for options that cannot hold a secret.
local function describe(v, quote)
  if type(v) == "string" then return quote and string.format("%q", v) or "string" end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return type(v)
end

local function check_options(opts)
  for k, v in pairs(opts) do
    local rule = OPTIONS[k]
    if not rule then
      error("bad argument #1 to 'client' (unknown option '" .. tostring(k) .. "')", 3)
    end
    local ok, what = rule[1](v)
    if not ok then
      error("bad argument #1 to 'client' (option '" .. k .. "' must be " .. (what or rule[2]) ..
            (type(v) == "table" and "" or ", got " .. describe(v, k == "retry_mode")) .. ")", 3)
    end
  end
end

-- The clients made here, so a method call checks its self with one table read (weak
-- keys: a client nobody holds can still be collected).
local known_clients = setmetatable({}, { __mode = "k" })

-- iotlua.client(opts) -> client | nil, err
function M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error("bad argument #1 to 'client' (table expected, got " .. type(opts) .. ")", 2)
  end
  check_options(opts)
  local client, err = core.client_new(opts)
  if not client and err.mfa_serial and opts.mfa_token then
    -- an assume-role profile with mfa_serial: the code the caller's function gives
    local code = opts.mfa_token(err.mfa_serial)
    if type(code) ~= "string" or code == "" then
      error("mfa_token must return the MFA code as a string (got " .. type(code) .. ")", 2)
    end
    local with_code = {}
    for k, v in pairs(opts) do with_code[k] = v end
    with_code.mfa_token, with_code._mfa_code = nil, code
    client, err = core.client_new(with_code)
  end
  if not client then return nil, errors.new(err) end
  known_clients[client] = true
  return client
end

------------------------------------------------------------------------------------------
-- Parameters

local function encode_json(method, name, value)
  local ok, text = pcall(json().encode, value)
  if not ok then
    error(method .. ": parameter '" .. name .. "' cannot be encoded as JSON: " ..
          tostring(text):gsub("^.-:%d+: ", ""), 4)
  end
  return text
end

-- userProperties as a Lua array of single-key tables -> JSON text.
local function encode_user_properties(method, name, list)
  local function bad(why)
    error(method .. ": parameter '" .. name .. "' must be a JSON string or an array of " ..
          "single-key tables such as { {deviceName = \"alpha\"} } (" .. why .. ")", 5)
  end
  local n = #list
  for k in pairs(list) do
    if math.type(k) ~= "integer" or k < 1 or k > n then bad("key " .. describe(k, true) .. " is not an array index") end
  end
  local parts = {}
  for i = 1, n do
    local item = list[i]
    if type(item) ~= "table" then bad("item " .. i .. " is a " .. type(item)) end
    local key, value = next(item)
    if key == nil or next(item, key) ~= nil then bad("item " .. i .. " must have exactly one key") end
    if type(key) ~= "string" or type(value) ~= "string" then
      bad("item " .. i .. " must map a string to a string")
    end
    parts[i] = json().encode({ [key] = value })
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- The members a Lua table may stand for: { name, jsonvalue } for the payload blob (a table
-- is JSON-encoded) and the jsonvalue headers (userProperties as an array of tables).
local function table_members(op)
  local list = {}
  for name, member in pairs(op.input) do
    if member.jsonvalue or member.location == "payload" then
      list[#list + 1] = { name, member.jsonvalue }
    end
  end
  return list
end

-- Returns the parameters to hand to the runtime and the set of members given as JSON.
-- The caller's table is copied only when something is converted.
local function prepare(op, members, params)
  local out, json_names = params, nil
  for i = 1, #members do
    local name, jsonvalue = members[i][1], members[i][2]
    local v = params[name]
    if type(v) == "table" then
      local text
      if jsonvalue then
        text = encode_user_properties(op.method, name, v)
      else
        text = encode_json(op.method, name, v)
      end
      if out == params then
        out = {}
        for k, x in pairs(params) do out[k] = x end
      end
      out[name] = text
      json_names = json_names or {}
      json_names[name] = true
    end
  end
  return out, json_names
end

------------------------------------------------------------------------------------------
-- Methods

local function check_self(self, method)
  local mt = getmetatable(self)
  if type(self) ~= "userdata" or type(mt) ~= "table" or mt.__name ~= "iotlua.client" then
    error("calling '" .. method .. "' on bad self (iotlua client expected, got " .. type(self) ..
          "; call it as client:" .. method .. "{...})", 3)
  end
end

-- With the log level at debug (--log-level, IOTLUA_LOG_LEVEL), each call is logged:
-- operation, outcome, attempts, duration. Decided once: calls pay nothing otherwise.
local log_calls = (select(2, core.log_options()) or os.getenv("IOTLUA_LOG_LEVEL")) == "debug"

-- One debug line for a call that took from `started` (core.now()) until now.
local function log_call(operation, started, status, code, attempts)
  local log = require("iotlua.log")
  if not log.enabled("debug") then return end
  log.debug("call", {
    operation = operation, status = status, code = code, attempts = attempts,
    duration_ms = math.floor((core.now() - started) * 1000 + 0.5),
  })
end
M.log_calls, M.log_call = log_calls, log_call   -- iotlua.aws_request logs the same way

-- The options of one call, { timeout = seconds }: its timeout in seconds (> 0), the
-- whole call's budget over every attempt, in place of the run's deadline. argn: which
-- argument of `method` the options are (2 for a call), for the error message.
local function call_timeout(method, opts, argn)
  local bad = "bad argument #" .. (argn or 2) .. " to '" .. method .. "' ("
  if type(opts) ~= "table" then
    error(bad .. "table of call options expected, got " .. type(opts) .. ")", 3)
  end
  for k in pairs(opts) do
    if k ~= "timeout" then
      error(bad .. "unknown call option '" .. tostring(k) .. "'; the options are: timeout)", 3)
    end
  end
  local t = opts.timeout
  if t ~= nil and (type(t) ~= "number" or not (t > 0) or t == math.huge) then
    error(bad .. "option 'timeout' must be a number of seconds > 0)", 3)
  end
  return t
end

local function make_method(op)
  local method, members, index = op.method, table_members(op), op.index
  return function(self, params, opts)
    if not known_clients[self] then check_self(self, method) end
    if type(params) ~= "table" then
      error("bad argument #1 to '" .. method .. "' (table expected, got " ..
            type(params) .. ")", 2)
    end
    local timeout = opts ~= nil and call_timeout(method, opts) or nil
    local given, json_names = prepare(op, members, params)
    local started = log_calls and core.now()
    local req, msg = core.call(self, index, given, json_names, timeout)
    if not req then error(msg, 2) end
    tasks.await(req)
    local result, err = core.result(req)
    if started then
      local meta = result and result.ResponseMetadata
      log_call(op.name, started, meta and meta.HTTPStatusCode or err and err.status,
               err and err.code, meta and meta.RetryAttempts + 1 or err and err.attempts)
    end
    if result then return result end
    return nil, errors.new(err)
  end
end

local methods = core.client_methods()

-- Pages of a paged operation (its pagination from the model: core.operations()): an
-- iterator of (page, nil) for each response, then (false, err) once if a call fails.
-- The request's own nextToken starts it; a token that comes back unchanged ends it.
-- opts ({ timeout = s }, checked by the caller) go with every page's call.
local function pages(self, op, params, opts)
  local p = op.pagination
  local request = {}
  for k, v in pairs(params or {}) do request[k] = v end
  local method, finished = methods[op.method], false
  return function()
    if finished then return nil end
    local page, err = method(self, request, opts)
    if not page then
      finished = true
      return false, err
    end
    local token = page[p.output_token]
    if token == nil or token == "" or token == request[p.input_token] then
      finished = true
    end
    request[p.input_token] = token
    return page
  end
end

-- iot:credentials() -> { access_key_id, secret_access_key, session_token, expiration,
-- source } | nil, err: what the client's calls sign with now (fetched first when a
-- network source has none yet; inside a task only this task waits).
function methods.credentials(self)
  local creds, err = core.client_credentials(self)
  while creds == false do
    local wait = err
    repeat tasks.sleep(0.005) until core.credentials_woken(wait)
    creds, err = core.client_credentials(self, wait)
  end
  if not creds then return nil, errors.new(err) end
  return creds
end
local operations = core.operations()
local paged = {}
for _, op in ipairs(operations) do
  methods[op.method] = make_method(op)
  if op.pagination then
    paged[op.method] = op
    local name = op.method .. "_pages"
    methods[name] = function(self, params, opts)
      if params ~= nil and type(params) ~= "table" then
        error("bad argument #1 to '" .. name .. "' (table expected, got " ..
              type(params) .. ")", 2)
      end
      if opts ~= nil then call_timeout(name, opts, 2) end
      return pages(self, op, params, opts)
    end
  end
end

-- iot:paginate("list_subscriptions", {...}[, { timeout = s }]): the same iterator, by name.
function methods.paginate(self, name, params, opts)
  local op = paged[name]
  if not op then
    local names = {}
    for n in pairs(paged) do names[#names + 1] = n end
    table.sort(names)
    error("bad argument #1 to 'paginate' (" .. tostring(name) .. " is not a paged " ..
          "operation; paged: " .. table.concat(names, ", ") .. ")", 2)
  end
  if opts ~= nil then call_timeout("paginate", opts, 3) end
  return pages(self, op, params, opts)
end
M.operations = operations

-- Clients made for what names none (iotlua.aws_request; iotlua.mqtt's default URL and
-- WebSocket signing), one per profile and region: each resolves its settings and
-- credentials once, and their caches serve every later use. -> client | nil, err
local shared = {}
function M.shared(profile, region)
  local key = (profile or "") .. "\0" .. (region or "")
  local c = shared[key]
  if c then return c end
  local err
  c, err = M.new{ profile = profile, region = region }
  if not c then return nil, err end
  shared[key] = c
  return c
end

return M
