-- iotlua.mqtt — MQTT 3.1.1 / 5 connections for scripts: the device side of a workflow,
-- and the reply half of a request (iotlua.request).
--
--   local dev = assert(iotlua.mqtt.connect{ url = "mqtt://127.0.0.1:1883", client_id = "d1" })
--   assert(dev:subscribe{ "cmd/#", qos = 1 })
--   assert(dev:publish{ topic = "status/d1", payload = "up", qos = 1 })
--   local msg, err = dev:receive{ topic = "cmd/#", timeout = 5 }
--
-- Same loop and rules as the HTTP calls: inside a task a call yields, outside one it
-- drives the loop; misuse raises naming the parameter; failures of the world return
-- nil, err with the error table of iotlua.errors (code: the MQTT reason name, or
-- NetworkError, TLSError, TimeoutError...; reason_code: the MQTT 5 number).
--
-- Messages that arrive while nobody waits for them are queued on the connection (in C),
-- at most queue_limit (default 1000) of them: when the queue is full the oldest goes and
-- is counted in conn:stats().dropped. receive and the handlers of on_message take from
-- that queue by topic filter, oldest first.
--
-- correlationData is bytes on MQTT; the HTTP API carries it base64-encoded.
-- iotlua.request does that conversion: it sends base64 over HTTP and matches the raw
-- bytes of the reply.

local core = require("iotlua.core")
local tasks = require("iotlua.tasks")
local errors = require("iotlua.errors")

local now = core.now
local M = {}

local methods = core.mqtt_methods()

------------------------------------------------------------------------------------------
-- Checking arguments

-- Raises a misuse error naming fname's argument; level 4 is the caller of a method that
-- called a check_* helper (the method itself passes 3).
local function raise(fname, msg, level)
  error("bad argument #1 to '" .. fname .. "' (" .. msg .. ")", level or 4)
end

local function has_wildcard(s)
  return s:find("[#+]") ~= nil
end

local function check_topic_name(fname, field, v)
  if type(v) ~= "string" or v == "" then
    raise(fname, "'" .. field .. "' must be a non-empty string")
  end
  if has_wildcard(v) then
    raise(fname, "'" .. field .. "' must not contain the wildcards + or # (got \"" .. v .. "\")")
  end
end

-- A filter: + and # only as whole levels, # only last.
local function filter_valid(f)
  if f == "" then return false end
  local levels = {}
  for level in (f .. "/"):gmatch("(.-)/") do levels[#levels + 1] = level end
  for i, level in ipairs(levels) do
    if level:find("[#+]") and level ~= "+" and level ~= "#" then return false end
    if level == "#" and i ~= #levels then return false end
  end
  return true
end

local function check_filter(fname, field, v)
  if type(v) ~= "string" or not filter_valid(v) then
    raise(fname, "'" .. field .. "' must be a topic filter (+ and # only as whole levels, " ..
          "# last), got " .. (type(v) == "string" and ("\"" .. v .. "\"") or type(v)))
  end
end

local function check_qos(fname, v)
  if v ~= nil and v ~= 0 and v ~= 1 then
    raise(fname, "'qos' must be 0 or 1 (AWS IoT has no QoS 2), got " .. tostring(v))
  end
end

local function check_seconds(fname, field, v)
  if v ~= nil and (type(v) ~= "number" or v ~= v or v < 0) then
    raise(fname, "'" .. field .. "' must be a number of seconds >= 0")
  end
end

local function check_uint(fname, field, v, max)
  if v ~= nil and (math.type(v) ~= "integer" or v < 0 or v > max) then
    raise(fname, "'" .. field .. "' must be an integer from 0 to " .. max)
  end
end

local function check_known(fname, t, known)
  for k in pairs(t) do
    if not known[k] and math.type(k) ~= "integer" then
      raise(fname, "unknown field '" .. tostring(k) .. "'")
    end
  end
end

local FORMATS = { UNSPECIFIED_BYTES = 0, UTF8_DATA = 1 }

-- The MQTT 5 properties of t, named as in the data-plane API, for the C half.
local function message_props(fname, t)
  local p = {}
  for _, k in ipairs({ "contentType", "responseTopic", "correlationData" }) do
    local v = t[k]
    if v ~= nil and type(v) ~= "string" then raise(fname, "'" .. k .. "' must be a string") end
    p[k] = v
  end
  if p.responseTopic then check_topic_name(fname, "responseTopic", p.responseTopic) end
  check_uint(fname, "messageExpiry", t.messageExpiry, 4294967295)
  p.messageExpiry = t.messageExpiry
  local f = t.payloadFormatIndicator
  if f ~= nil then
    if FORMATS[f] == nil then
      raise(fname, "'payloadFormatIndicator' must be \"UNSPECIFIED_BYTES\" or \"UTF8_DATA\"")
    end
    p.payloadFormat = FORMATS[f]
  end
  local up = t.userProperties
  if up ~= nil then
    if type(up) ~= "table" then
      raise(fname, "'userProperties' must be an array of single-key tables such as " ..
            "{ {deviceName = \"alpha\"} }")
    end
    local pairs_ = {}
    for i, item in ipairs(up) do
      local key, value = next(type(item) == "table" and item or {})
      if type(key) ~= "string" or type(value) ~= "string" or next(item, key) ~= nil then
        raise(fname, "'userProperties' item " .. i .. " must be a table of one string key " ..
              "to a string value")
      end
      pairs_[i] = { key, value }
    end
    p.userProperties = pairs_
  end
  return p
end

local function payload_bytes(fname, v)
  if v == nil then return "" end
  if type(v) == "string" then return v end
  if type(v) == "table" then return require("cjson").encode(v) end
  raise(fname, "'payload' must be a string or a table (sent as JSON), got " .. type(v))
end

local MESSAGE_FIELDS = {
  topic = true, payload = true, qos = true, retain = true, timeout = true,
  contentType = true, responseTopic = true, correlationData = true, userProperties = true,
  messageExpiry = true, payloadFormatIndicator = true, delay = true,
}

------------------------------------------------------------------------------------------
-- URLs and options

local DEFAULT_PORTS = { mqtt = 1883, mqtts = 8883, ws = 80, wss = 443 }
local WS_PATH = "/mqtt"                 -- AWS IoT's MQTT over WebSockets path

local function parse_url(url)
  local scheme, rest = url:match("^(%a+)://(.+)$")
  if not scheme then
    return nil, "must look like mqtt://host[:port], mqtts://host[:port] or wss://host[:port][/path]"
  end
  scheme = scheme:lower()
  if not DEFAULT_PORTS[scheme] then
    return nil, "scheme must be mqtt://, mqtts://, wss:// or ws:// (got " .. scheme .. "://)"
  end
  local path = rest:match("^[^/]*(/.*)$")
  if path and path:find("[%s?#]") then return nil, "path must have no query, fragment or space" end
  rest = rest:gsub("/.*$", "")
  local host, port = rest:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = rest:match("^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil, "has no host" end
  port = port ~= "" and tonumber(port) or DEFAULT_PORTS[scheme]
  if port < 1 or port > 65535 then return nil, "port must be 1 to 65535" end
  local ws = scheme == "ws" or scheme == "wss"
  return { tls = scheme == "mqtts" or scheme == "wss", host = host, port = port, ws = ws,
           path = ws and (path or WS_PATH) or nil }
end

local CONNECT_OPTIONS = {
  url = true, client_id = true, username = true, password = true, cert = true, key = true,
  ca = true, alpn = true, server_name = true, verify_tls = true, version = true,
  keepalive = true, clean_start = true, session_expiry = true, will = true, auto_ack = true,
  timeout = true, queue_limit = true, client = true, region = true, profile = true,
  sign = true,
}

local function random_client_id()
  return "iotlua-" .. core.random_hex(8)
end

-- The client whose settings and credentials a connection uses: opts.client, else the
-- one shared for opts.profile and opts.region (the same chain as iotlua.client).
local function settings_client(opts)
  if opts.client ~= nil then return opts.client end
  return require("iotlua.client").shared(opts.profile, opts.region)
end

-- The URL: opts.url, else IOTLUA_MQTT_URL, else the data endpoint's host on 8883.
local function default_url(opts)
  local env = os.getenv("IOTLUA_MQTT_URL")
  if env and env ~= "" then return env end
  local client, err = settings_client(opts)
  if not client then return nil, err end
  local host = client.endpoint:match("^%a+://([^/:]+)")
  return "mqtts://" .. host .. ":8883"
end

local function percent_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local WS_SIGNATURE_EXPIRES = 300        -- seconds: the URL is used at once, for one upgrade

-- The upgrade's request target for u (a ws:// or wss:// URL): the path, SigV4-signed in
-- the query as AWS IoT checks it (service iotdevicegateway) with the credentials and
-- region of the settings client, unless opts.sign is false. As AWS IoT requires, a
-- session token is appended after the signature, not signed.
local function ws_target(u, opts)
  if opts.sign == false then return u.path end
  local client, err = settings_client(opts)
  if not client then return nil, err end
  local creds, cerr = client:credentials()
  if not creds then return nil, cerr end
  local origin = (u.tls and "https://" or "http://") ..
                 (u.host:find(":", 1, true) and "[" .. u.host .. "]" or u.host) .. ":" .. u.port
  local url, serr = core.sigv4_presign({
    method = "GET", url = origin .. u.path, region = opts.region or client.region,
    service = "iotdevicegateway", expires = WS_SIGNATURE_EXPIRES,
    credentials = { access_key_id = creds.access_key_id,
                    secret_access_key = creds.secret_access_key },
  })
  if not url then
    return nil, errors.new({ code = "ConfigError", message = "signing the WebSocket URL: " ..
                             tostring(serr) })
  end
  local target = url:match("^%a+://[^/]+(/.*)$")
  if creds.session_token and creds.session_token ~= "" then
    target = target .. "&X-Amz-Security-Token=" .. percent_encode(creds.session_token)
  end
  return target
end

local function check_will(w)
  if type(w) ~= "table" then raise("connect", "'will' must be a table") end
  check_known("connect", w, MESSAGE_FIELDS)
  check_topic_name("connect", "will.topic", w.topic)
  check_qos("connect", w.qos)
  check_uint("connect", "will.delay", w.delay, 4294967295)
  local c = message_props("connect", w)
  c.topic, c.payload = w.topic, payload_bytes("connect", w.payload)
  c.qos, c.retain, c.delay = w.qos or 0, w.retain == true, w.delay
  return c
end

local function check_connect(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'connect' (table expected, got " .. type(opts) .. ")", 3)
  end
  for k in pairs(opts) do
    if not CONNECT_OPTIONS[k] then raise("connect", "unknown option '" .. tostring(k) .. "'") end
  end
  for _, k in ipairs({ "url", "client_id", "username", "password", "cert", "key", "ca",
                       "alpn", "server_name", "region", "profile" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "string" then
      raise("connect", "option '" .. k .. "' must be a string")
    end
  end
  for _, k in ipairs({ "verify_tls", "clean_start", "auto_ack", "sign" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      raise("connect", "option '" .. k .. "' must be a boolean")
    end
  end
  if opts.version ~= nil and opts.version ~= 4 and opts.version ~= 5 then
    raise("connect", "option 'version' must be 5 (MQTT 5) or 4 (MQTT 3.1.1)")
  end
  check_uint("connect", "keepalive", opts.keepalive, 65535)
  check_uint("connect", "session_expiry", opts.session_expiry, 4294967295)
  if opts.queue_limit ~= nil and (math.type(opts.queue_limit) ~= "integer" or opts.queue_limit < 1) then
    raise("connect", "option 'queue_limit' must be an integer >= 1")
  end
  if opts.timeout ~= nil and (type(opts.timeout) ~= "number" or not (opts.timeout > 0)) then
    raise("connect", "option 'timeout' must be a positive number of seconds")
  end
  if (opts.cert == nil) ~= (opts.key == nil) then
    raise("connect", "options 'cert' and 'key' go together (mutual TLS)")
  end
  if opts.url ~= nil then
    local u, why = parse_url(opts.url)
    if not u then raise("connect", "option 'url' " .. why) end
  end
end

------------------------------------------------------------------------------------------
-- Events: what the C half reports, dispatched to whoever waits

local Message = { __name = "iotlua.mqtt.message" }
Message.__index = Message

-- Acknowledges a QoS 1 message received with auto_ack = false. true, or nil, err.
function Message:ack()
  if self.qos ~= 1 or self._acked then return true end
  local ok, err = self._conn:_ack(self.packet_id, self._generation)
  if not ok then return nil, errors.new(err) end
  self._acked = true
  return true
end

local function wrap(conn, m)
  m._conn = conn
  return setmetatable(m, Message)
end

local function take(conn, filter)
  local m = conn:_take(filter)
  return m and wrap(conn, m)
end

local function remove(list, item)
  for i = 1, #list do
    if list[i] == item then table.remove(list, i) return end
  end
end

local function dispatch_messages(conn, d)
  local replies = d.replies
  if replies then
    while true do
      local m = conn:_take(d.reply_topic)
      if not m then break end
      local w = m.correlationData and replies[m.correlationData]
      if w then
        replies[m.correlationData] = nil
        w.msg = wrap(conn, m)
        tasks.signal(w)
      else
        d.unmatched_replies = d.unmatched_replies + 1
      end
    end
  end
  local receivers = d.receivers
  local i = 1
  while i <= #receivers do
    local w = receivers[i]
    local m = take(conn, w.filter)
    if m then
      table.remove(receivers, i)
      w.msg = m
      tasks.signal(w)
    else
      i = i + 1
    end
  end
  for _, h in ipairs(d.handlers) do
    while true do
      local m = take(conn, h.filter)
      if not m then break end
      tasks.spawn(h.fn, m)
    end
  end
end

local function fail_all(d, err)
  for _, w in pairs(d.ops) do w.error = err; tasks.signal(w) end
  d.ops = {}
  for _, w in ipairs(d.receivers) do w.error = err; tasks.signal(w) end
  d.receivers = {}
  for _, w in pairs(d.replies or {}) do w.error = err; tasks.signal(w) end
  if d.replies then d.replies = {} end
  if d.connect_wait then d.connect_wait.error = err; tasks.signal(d.connect_wait) end
  if d.close_wait then tasks.signal(d.close_wait) end
end

local function on_event(conn)
  local d = conn:_data()
  for _, n in ipairs(conn:_notices()) do
    local kind = n.kind
    if kind == "messages" then
      dispatch_messages(conn, d)
    elseif kind == "connack" then
      d.lost = nil
      if d.connect_wait then d.connect_wait.notice = n; tasks.signal(d.connect_wait) end
    elseif kind == "closed" then
      d.lost = errors.new(n.error)
      fail_all(d, d.lost)
    else
      local w = d.ops[n.packet_id]
      if w then
        d.ops[n.packet_id] = nil
        w.notice = n
        tasks.signal(w)
      end
    end
  end
end

local function deadline_of(timeout)
  return timeout and now() + timeout or nil
end

-- The run's deadline (--deadline, iotlua.deadline) ends every wait before its own timeout.
local function deadline_error(what)
  return errors.new({ code = "TimeoutError", retryable = false,
                      message = "deadline passed: " .. what .. " before the run's deadline" })
end

local function timeout_error(what, timeout)
  if tasks.deadline_passed() then return deadline_error(what) end
  return errors.new({ code = "TimeoutError", retryable = true,
                      message = what .. " within " .. tostring(timeout) .. " s" })
end

-- Waits for the CONNACK (or the end) of a connection being made.
local function await_connected(conn)
  local d = conn:_data()
  local w = {}
  d.connect_wait = w
  tasks.wait_signal(w, nil, "an MQTT connection")
  d.connect_wait = nil
  if w.notice then return true end
  if not w.error and tasks.deadline_passed() then return nil, deadline_error("no CONNACK") end
  local _, err = conn:_state()
  return nil, w.error or errors.new(err or { code = "NetworkError", message = "not connected" })
end

------------------------------------------------------------------------------------------
-- Connecting

-- iotlua.mqtt.connect{...} -> connection | nil, err
function M.connect(opts)
  if opts == nil then opts = {} end
  check_connect(opts)
  local will = opts.will ~= nil and check_will(opts.will) or nil
  local url, uerr = opts.url, nil
  if url == nil then
    url, uerr = default_url(opts)
    if not url then return nil, uerr end
  end
  local u, why = parse_url(url)
  if not u then
    return nil, errors.new({ code = "ConfigError", message = "IOTLUA_MQTT_URL " .. why })
  end
  local target
  if u.ws then
    local terr
    target, terr = ws_target(u, opts)
    if not target then return nil, terr end
  end
  local conn, err = core.mqtt_connect({
    host = u.host, port = u.port, tls = u.tls, ws_target = target,
    ca = opts.ca, cert = opts.cert, key = opts.key, alpn = opts.alpn,
    server_name = opts.server_name, verify = opts.verify_tls ~= false,
    client_id = opts.client_id or random_client_id(),
    username = opts.username, password = opts.password,
    version = opts.version or 5, keepalive = opts.keepalive or 60,
    clean_start = opts.clean_start ~= false, session_expiry = opts.session_expiry,
    auto_ack = opts.auto_ack ~= false, queue_limit = opts.queue_limit,
    timeout_ms = math.floor((opts.timeout or 10) * 1000 + 0.5), will = will,
  })
  if not conn then return nil, errors.new(err) end
  local d = conn:_data()
  d.ops, d.receivers, d.handlers = {}, {}, {}
  d.unmatched_replies = 0
  d.version = opts.version or 5
  if u.ws and opts.sign ~= false then          -- a reconnect signs the upgrade again
    d.resign = function() return ws_target(u, opts) end
  end
  tasks.watch(conn, on_event)
  local ok, cerr = await_connected(conn)
  if not ok then
    tasks.unwatch(conn)
    conn:close()
    return nil, cerr
  end
  return conn
end

------------------------------------------------------------------------------------------
-- Methods

local function check_conn(self, fname)
  local mt = getmetatable(self)
  if type(self) ~= "userdata" or type(mt) ~= "table" or mt.__name ~= "iotlua.mqtt.connection" then
    error("calling '" .. fname .. "' on bad self (mqtt connection expected, got " ..
          type(self) .. "; call it as conn:" .. fname .. "{...})", 3)
  end
end

local function check_table(fname, t)
  if type(t) ~= "table" then
    error("bad argument #1 to '" .. fname .. "' (table expected, got " .. type(t) .. ")", 3)
  end
end

-- Waits for the ack of packet id; returns its notice, or nil, err.
local function await_ack(self, id, timeout, what)
  local d = self:_data()
  local w = {}
  d.ops[id] = w
  tasks.wait_signal(w, deadline_of(timeout), what)
  if w.notice then return w.notice end
  d.ops[id] = nil
  return nil, w.error or timeout_error("no " .. what, timeout)
end

local function reason_error(code, what)
  local name = core.mqtt_reason_name(code)
  return errors.new({ code = name, reason_code = code, retryable = false,
                      message = what .. ": " .. name .. string.format(" (reason 0x%02X)", code) })
end

-- conn:publish{ topic, payload, qos, retain, contentType, ... } -> { packet_id, reason_code }
function methods:publish(p)
  check_conn(self, "publish")
  check_table("publish", p)
  check_known("publish", p, MESSAGE_FIELDS)
  check_topic_name("publish", "topic", p.topic)
  check_qos("publish", p.qos)
  check_seconds("publish", "timeout", p.timeout)
  if p.retain ~= nil and type(p.retain) ~= "boolean" then
    raise("publish", "'retain' must be a boolean", 3)
  end
  local props = message_props("publish", p)
  local qos = p.qos or 0
  local id, err = self:_publish(p.topic, payload_bytes("publish", p.payload), qos,
                                p.retain == true, props)
  if not id then return nil, errors.new(err) end
  if qos == 0 then return { packet_id = 0 } end
  local n, aerr = await_ack(self, id, p.timeout or 30, "PUBACK")
  if not n then return nil, aerr end
  if n.reason >= 0x80 then return nil, reason_error(n.reason, "publish refused") end
  return { packet_id = id, reason_code = n.reason }
end

local SUB_FIELDS = { qos = true, no_local = true, retain_as_published = true,
                     retain_handling = true, subscription_id = true, timeout = true }

local function sub_entry(v, shared)
  local e = type(v) == "table" and v or { filter = v }
  local filter = e.filter or e.topic
  check_filter("subscribe", "filter", filter)
  local qos = e.qos or shared.qos or 0
  check_qos("subscribe", qos)
  local rh = e.retain_handling or shared.retain_handling or 0
  if rh ~= 0 and rh ~= 1 and rh ~= 2 then raise("subscribe", "'retain_handling' must be 0, 1 or 2") end
  local function flag(k) return e[k] == nil and shared[k] == true or e[k] == true end
  return { filter = filter, qos = qos, no_local = flag("no_local"),
           retain_as_published = flag("retain_as_published"), retain_handling = rh }
end

-- conn:subscribe{ "a/#", "b", qos = 1 } -> { granted = {...}, reason_codes = {...} }
function methods:subscribe(s)
  check_conn(self, "subscribe")
  if type(s) == "string" then s = { s } end
  check_table("subscribe", s)
  check_known("subscribe", s, SUB_FIELDS)
  if #s == 0 then raise("subscribe", "no topic filter given", 3) end
  check_uint("subscribe", "subscription_id", s.subscription_id, 268435455)
  check_seconds("subscribe", "timeout", s.timeout)
  local list = {}
  for i = 1, #s do list[i] = sub_entry(s[i], s) end
  local id, err = self:_subscribe(list, s.subscription_id)
  if not id then return nil, errors.new(err) end
  local n, aerr = await_ack(self, id, s.timeout or 30, "SUBACK")
  if not n then return nil, aerr end
  local granted = {}
  for i, code in ipairs(n.codes) do
    if code >= 0x80 then
      local e = reason_error(code, "subscription to '" .. list[i].filter .. "' refused")
      e.reason_codes = n.codes
      return nil, e
    end
    granted[i] = code
  end
  return { granted = granted, reason_codes = n.codes, packet_id = id }
end

-- conn:unsubscribe{ "a/#", ... } -> { reason_codes = {...} }
function methods:unsubscribe(s)
  check_conn(self, "unsubscribe")
  if type(s) == "string" then s = { s } end
  check_table("unsubscribe", s)
  check_known("unsubscribe", s, { timeout = true })
  if #s == 0 then raise("unsubscribe", "no topic filter given", 3) end
  for i = 1, #s do check_filter("unsubscribe", "filter", s[i]) end
  local id, err = self:_unsubscribe(s)
  if not id then return nil, errors.new(err) end
  local n, aerr = await_ack(self, id, s.timeout or 30, "UNSUBACK")
  if not n then return nil, aerr end
  for i, code in ipairs(n.codes) do
    if code >= 0x80 then
      return nil, reason_error(code, "unsubscribe from '" .. s[i] .. "' refused")
    end
  end
  return { reason_codes = n.codes, packet_id = id }
end

local RECEIVE_FIELDS = { topic = true, timeout = true }

-- conn:receive{ topic = FILTER, timeout = s } -> message | nil, err
function methods:receive(r)
  check_conn(self, "receive")
  r = r or {}
  check_table("receive", r)
  check_known("receive", r, RECEIVE_FIELDS)
  if r.topic ~= nil then check_filter("receive", "topic", r.topic) end
  check_seconds("receive", "timeout", r.timeout)
  local m = take(self, r.topic)
  if m then return m end
  local d = self:_data()
  if d.lost then return nil, d.lost end
  local w = { filter = r.topic }
  d.receivers[#d.receivers + 1] = w
  tasks.wait_signal(w, deadline_of(r.timeout), "an MQTT message")
  if w.msg then return w.msg end
  remove(d.receivers, w)
  return nil, w.error or timeout_error("no message on '" .. (r.topic or "#") .. "'", r.timeout)
end

-- for m in conn:messages{ topic = F, timeout = s } do ... end: stops at the first
-- timeout or when the connection is lost (conn:state() tells which).
function methods:messages(r)
  check_conn(self, "messages")
  r = r or {}
  check_table("messages", r)
  check_known("messages", r, RECEIVE_FIELDS)
  if r.topic ~= nil then check_filter("messages", "topic", r.topic) end
  check_seconds("messages", "timeout", r.timeout)
  return function()
    local m = self:receive(r)
    return m
  end
end

-- conn:on_message(fn [, filter]): fn(msg) runs in a task of its own for every message
-- matching filter (default "#") that no receive takes first. Returns a function that
-- removes the handler.
function methods:on_message(fn, filter)
  check_conn(self, "on_message")
  if type(fn) ~= "function" then
    error("bad argument #1 to 'on_message' (function expected, got " .. type(fn) .. ")", 2)
  end
  if filter ~= nil then check_filter("on_message", "filter", filter) end
  local d = self:_data()
  local h = { fn = fn, filter = filter or "#" }
  d.handlers[#d.handlers + 1] = h
  dispatch_messages(self, d)
  return function() remove(d.handlers, h) end
end

-- conn:state() -> "connecting" | "connected" | "closed", err (why it closed)
function methods:state()
  check_conn(self, "state")
  local s, err = self:_state()
  return s, err and errors.new(err)
end

-- conn:stats() -> { received, dropped, queued, queue_limit, unmatched_replies, ... }
function methods:stats()
  check_conn(self, "stats")
  local st = self:_stats()
  st.unmatched_replies = self:_data().unmatched_replies
  return st
end

local function await_closed(self, timeout)
  local d = self:_data()
  if self:_state() == "closed" then return end
  local w = {}
  d.close_wait = w
  tasks.wait_signal(w, deadline_of(timeout), "an MQTT disconnect")
  d.close_wait = nil
  if self:_state() ~= "closed" then self:drop() end
end

local REASON_WITH_WILL = 0x04

-- conn:disconnect{ reason = n, will = true, session_expiry = s, timeout = s } -> true
-- will = true asks the server to send the will anyway (MQTT 5 reason 0x04; for MQTT
-- 3.1.1 the only way is to drop the connection, which this then does).
function methods:disconnect(o)
  check_conn(self, "disconnect")
  o = o or {}
  check_table("disconnect", o)
  check_known("disconnect", o, { reason = true, will = true, session_expiry = true, timeout = true })
  check_uint("disconnect", "reason", o.reason, 255)
  check_uint("disconnect", "session_expiry", o.session_expiry, 4294967295)
  check_seconds("disconnect", "timeout", o.timeout)
  if o.will and self:_data().version == 4 then
    self:drop()
    return true
  end
  self:_disconnect(o.will and REASON_WITH_WILL or o.reason or 0, o.session_expiry or -1)
  await_closed(self, o.timeout or 5)
  return true
end

-- conn:reconnect{ timeout = s } -> true | nil, err: the same options, clean start off,
-- so the session resumes if the server kept it.
function methods:reconnect(o)
  check_conn(self, "reconnect")
  o = o or {}
  check_table("reconnect", o)
  check_known("reconnect", o, {})
  local d = self:_data()
  if self:_state() ~= "closed" then
    error("bad argument #1 to 'reconnect' (the connection is not closed; disconnect or drop it first)", 2)
  end
  local target
  if d.resign then
    local terr
    target, terr = d.resign()
    if not target then return nil, terr end
  end
  local ok, err = self:_reconnect(target)
  if not ok then return nil, errors.new(err) end
  d.lost = nil
  return await_connected(self)
end

local c_close = methods.close
function methods:close()
  tasks.unwatch(self)
  return c_close(self)
end
core.mqtt_metatable().__close = methods.close     -- local conn <close> = ... closes it too

------------------------------------------------------------------------------------------
-- iotlua.request: a request sent over HTTP, its reply heard on a connection

-- The connection's reply topic, subscribed once: requests that come while the first
-- one subscribes wait for that subscription (a signal each).
local function reply_topic(conn, d, timeout)
  if d.reply_topic then return d.reply_topic end
  if d.reply_subscribing then
    local w = {}
    local list = d.reply_subscribing
    list[#list + 1] = w
    tasks.wait_signal(w, deadline_of(timeout), "the reply subscription")
    if d.reply_topic then return d.reply_topic end
    return nil, w.error or timeout_error("no SUBACK for the reply topic", timeout)
  end
  local waiting = {}
  d.reply_subscribing = waiting
  local topic = "iotlua/replies/" .. core.random_hex(8)
  local ok, err = conn:subscribe{ topic, qos = 1, timeout = timeout }
  d.reply_subscribing = nil
  if ok then
    d.reply_topic = topic
    d.replies = d.replies or {}
  end
  for _, w in ipairs(waiting) do w.error = err; tasks.signal(w) end
  if not ok then return nil, err end
  return topic
end

local REQUEST_FIELDS = {
  client = true, via = true, clientId = true, topic = true, payload = true, timeout = true,
  qos = true, contentType = true, userProperties = true, payloadFormatIndicator = true,
}

-- iotlua.request{ client = iot, via = conn, clientId = "sensor-42", topic = "cmd/reboot",
--                 payload = ..., timeout = 5 } -> reply message | nil, err
function M.request(r)
  check_table("request", r)
  check_known("request", r, REQUEST_FIELDS)
  if type(r.client) ~= "userdata" then raise("request", "'client' must be an iotlua client", 3) end
  check_conn(r.via, "request")
  check_topic_name("request", "topic", r.topic)
  if r.clientId ~= nil and type(r.clientId) ~= "string" then
    raise("request", "'clientId' must be a string", 3)
  end
  check_seconds("request", "timeout", r.timeout)
  local timeout = r.timeout or 10
  local conn, d = r.via, r.via:_data()
  local topic, terr = reply_topic(conn, d, timeout)
  if not topic then return nil, terr end
  local corr = core.random_hex(16)
  local w = {}
  d.replies[corr] = w
  local params = {
    topic = r.topic, payload = r.payload, responseTopic = topic,
    correlationData = core.base64_encode(corr), contentType = r.contentType,
    userProperties = r.userProperties, payloadFormatIndicator = r.payloadFormatIndicator,
  }
  local ok, err
  if r.clientId then
    params.clientId = r.clientId
    ok, err = r.client:send_direct_message(params)
  else
    params.qos = r.qos or 1
    ok, err = r.client:publish(params)
  end
  if not ok then
    d.replies[corr] = nil
    return nil, err
  end
  tasks.wait_signal(w, deadline_of(timeout), "a reply")
  if w.msg then return w.msg end
  if d.replies then d.replies[corr] = nil end
  return nil, w.error or timeout_error("no reply on '" .. topic .. "' to '" .. r.topic .. "'",
                                       timeout)
end

return M
