-- spec/tools/servers.lua — start and stop the processes the end-to-end specs talk to:
-- the recording server (spec/tools/recording_server.py), iotlua-emulator, and MQTT
-- devices (mosquitto_sub, or spec/tools/mute_device.py for a device that never acks).
--
--   local servers = require("tools.servers")      -- LUA_PATH has spec/?.lua (ctest)
--   local rec = servers.recording()               -- rec.url, rec:requests(), rec:script{...}
--   local emu = servers.emulator()                -- emu.http, emu.mqtt_port, emu:control(...)
--   local dev = servers.device(emu, "sensor-1", { topics = { "cmd/#" } })
--   dev:wait_messages(1)                          -- { {topic=, payload=, qos=, properties=}, ... }
--   servers.stop_all()                            -- in teardown: stops everything started
--
-- Processes run in the background with their output in a private temporary directory;
-- readiness is a ready file (servers) or the device's own SUBACK/ready line, polled.
-- Every process started here is recorded and stopped by stop_all() (SIGTERM, then
-- SIGKILL after a grace period), whatever the spec did.  Everything listens on 127.0.0.1
-- with ephemeral ports.
local cjson = require("cjson")

local M = {}

M.source_dir = os.getenv("IOTLUA_SOURCE_DIR") or "."
M.build_dir = os.getenv("IOTLUA_BUILD_DIR") or (M.source_dir .. "/build")
M.python = "/usr/bin/python3"
M.access_key_id = "AKIAIOSFODNN7EXAMPLE"
M.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
M.region = "us-east-1"

local started = {}     -- every process handle not yet stopped

-- ------------------------------------------------------------------ shell helpers

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = q

local function command_line(argv)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = q(a) end
  return table.concat(parts, " ")
end

-- Runs a shell command, returns its whole stdout and its exit status.
function M.run(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

function M.sleep(seconds)
  os.execute("sleep " .. string.format("%.3f", seconds))
end

function M.tmpdir()
  local out = M.run("mktemp -d /tmp/iotlua-spec.XXXXXX")
  return (out:gsub("%s+$", ""))
end

-- A self-signed EC certificate for 127.0.0.1 (CN and IP subjectAltName), valid one day,
-- written to dir/cert.pem and dir/key.pem; returns their paths. Raises with openssl's
-- output when it fails.
function M.self_signed_cert(dir)
  local cert, key = dir .. "/cert.pem", dir .. "/key.pem"
  local out, code = M.run(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 " ..
    "-nodes -keyout %s -out %s -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>&1")
    :format(q(key), q(cert)))
  assert(code == 0, out)
  return cert, key
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  return data
end
M.read_file = read_file

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- A process is alive while /proc/PID exists and is not a zombie.
function M.alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if not stat then return false end
  local state = stat:match("^%d+ %b() (%a)")
  return state ~= nil and state ~= "Z"
end

-- Starts argv in the background; stdout and stderr go to files in dir; env (optional) is
-- a table of variables to set. Returns a handle { pid, out, err, ... }.
function M.spawn(argv, dir, name, env)
  local out, err = dir .. "/" .. name .. ".out", dir .. "/" .. name .. ".err"
  local prefix = ""
  if env then
    local parts = { "env" }
    for k, v in pairs(env) do parts[#parts + 1] = q(k .. "=" .. v) end
    prefix = table.concat(parts, " ") .. " "
  end
  local text = M.run("exec " .. prefix .. command_line(argv) .. " </dev/null >" .. q(out) ..
                     " 2>" .. q(err) .. " & echo $!")
  local pid = assert(tonumber(text:match("%d+")), "could not start " .. argv[1])
  local proc = { pid = pid, out = out, err = err, name = name, argv = argv, dir = dir }
  started[proc] = true
  return proc
end

function M.signal(proc, sig)
  os.execute("kill -" .. sig .. " " .. proc.pid .. " 2>/dev/null")
end

-- Polls until pred() returns a true value (returned) or about timeout seconds pass (then
-- returns pred()'s last value).  Lua has no sub-second clock: count polls of `step` s.
function M.wait_until(pred, timeout, step)
  step = step or 0.02
  for _ = 1, math.ceil((timeout or 10) / step) do
    local v = pred()
    if v then return v end
    M.sleep(step)
  end
  return pred()
end

-- Stops a process: SIGTERM, wait up to grace seconds, then SIGKILL.
function M.stop(proc, grace)
  if not proc or proc.stopped then return end
  proc.stopped = true
  started[proc] = nil
  if not M.alive(proc.pid) then return end
  M.signal(proc, "TERM")
  if not M.wait_until(function() return not M.alive(proc.pid) end, grace or 5) then
    M.signal(proc, "KILL")
    M.wait_until(function() return not M.alive(proc.pid) end, 5)
  end
end

function M.stop_all()
  local list = {}
  for proc in pairs(started) do list[#list + 1] = proc end
  for _, proc in ipairs(list) do M.stop(proc) end
end

-- For a teardown: stop_all(), then emu:cleanup() and the removal of the temporary
-- directory dir; either may be nil (a setup that failed half way).
function M.cleanup(emu, dir)
  M.stop_all()
  if emu then emu:cleanup() end
  if dir then os.execute("rm -rf " .. q(dir)) end
end

-- Waits for a ready file holding JSON; fails with the process's stderr if it died.
local function wait_ready_file(proc, path, timeout)
  local info = M.wait_until(function()
    local data = read_file(path)
    if data and data:match("}%s*$") then return cjson.decode(data) end
    if not M.alive(proc.pid) then return false end
  end, timeout or 10)
  if not info then
    local why = M.alive(proc.pid) and "not ready in time" or "exited"
    M.stop(proc)
    error(proc.name .. " " .. why .. ":\n" .. (read_file(proc.err) or "") ..
          (read_file(proc.out) or ""), 2)
  end
  return info
end

-- One HTTP request to a local control endpoint; returns status, decoded JSON (or text).
function M.http(method, url, body)
  local input = body == nil and "" or (type(body) == "string" and body or cjson.encode(body))
  local dir = M.tmpdir()
  M.write_file(dir .. "/body", input)
  local out = M.run(command_line{ M.python, M.source_dir .. "/spec/tools/http_call.py",
                                  method, url } .. " <" .. q(dir .. "/body"))
  os.execute("rm -rf " .. q(dir))
  local ok, res = pcall(cjson.decode, out)
  if not ok then error("http_call failed: " .. out, 2) end
  if res.status == nil then return nil, res.error end
  res.status = math.tointeger(res.status) or res.status
  local decoded_ok, decoded = pcall(cjson.decode, res.body)
  return res.status, decoded_ok and decoded or res.body
end

-- ------------------------------------------------------------------ recording server

local Recording = {}
Recording.__index = Recording

-- opts.credentials = { "AKID:SECRET", ... }, opts.region, opts.service (the signing name
-- the signatures must carry; default iotdata)
function M.recording(opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local argv = { M.python, M.source_dir .. "/spec/tools/recording_server.py",
                 "--ready-file", dir .. "/ready.json" }
  for _, c in ipairs(opts.credentials or {}) do
    argv[#argv + 1] = "--credentials"; argv[#argv + 1] = c
  end
  if opts.region then argv[#argv + 1] = "--region"; argv[#argv + 1] = opts.region end
  if opts.service then argv[#argv + 1] = "--service"; argv[#argv + 1] = opts.service end
  local proc = M.spawn(argv, dir, "recording-server")
  local info = wait_ready_file(proc, dir .. "/ready.json")
  return setmetatable({ proc = proc, url = info.url, port = info.port, dir = dir }, Recording)
end

function Recording:control(method, what, body)
  local status, res = M.http(method, self.url .. "/__control/" .. what, body)
  assert(status == 200, "recording server control " .. what .. ": " .. tostring(status))
  return res
end

-- The recorded requests (see recording_server.py for the fields), oldest first.
function Recording:requests()
  local list = self:control("GET", "requests")
  for _, r in ipairs(list) do
    r.header = {}                            -- lower-case name -> value (last wins)
    for _, h in ipairs(r.headers) do r.header[h[1]:lower()] = h[2] end
  end
  return list
end

function Recording:clear()
  self:control("DELETE", "requests")
  self:control("DELETE", "script")
end

-- Queues responses: rec:script{ { status = 503 }, { status = 200, body = "{}" } }
function Recording:script(entries)
  return self:control("POST", "script", entries)
end

function Recording:set_default(entry)
  return self:control("PUT", "default", entry)
end

function Recording:stop()
  M.stop(self.proc)
  os.execute("rm -rf " .. q(self.dir))
end

-- ------------------------------------------------------------------ emulator

local Emulator = {}
Emulator.__index = Emulator

-- opts.args: extra command-line arguments (e.g. { "--credentials", "K:S" }).
function M.emulator(opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local argv = { M.build_dir .. "/iotlua-emulator", "--http-port", "0", "--mqtt-port", "0",
                 "--ready-file", dir .. "/ready.json" }
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  local proc = M.spawn(argv, dir, "emulator")
  local info = wait_ready_file(proc, dir .. "/ready.json")
  local port = tonumber(info.mqtt:match(":(%d+)$"))
  return setmetatable({ proc = proc, dir = dir, http = info.http, mqtt = info.mqtt, ws = info.ws,
                        mqtt_port = port, http_port = tonumber(info.http:match(":(%d+)$")),
                        devices = {} }, Emulator)
end

-- A QA control under /_emulator/: emu:control("POST", "/_emulator/...", {...}).
function Emulator:control(method, path, body)
  return M.http(method, self.http .. path, body)
end

-- Environment assignments for a child iotlua process talking to this emulator.
function Emulator:env(overrides)
  local env = {
    AWS_ENDPOINT_URL_IOT_DATA_PLANE = self.http, AWS_REGION = M.region,
    AWS_ACCESS_KEY_ID = M.access_key_id, AWS_SECRET_ACCESS_KEY = M.secret_access_key,
    AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null",
  }
  for k, v in pairs(overrides or {}) do env[k] = v end
  return env
end

-- Client options for iotlua.client{...} in this Lua state.
function Emulator:client_options(extra)
  local o = { endpoint = self.http, region = M.region,
              credentials = { access_key_id = M.access_key_id,
                              secret_access_key = M.secret_access_key } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

function Emulator:alive()
  return not self.proc.stopped and M.alive(self.proc.pid)
end

-- Stops the emulator (SIGTERM); returns its stderr text.
function Emulator:stop()
  for _, d in ipairs(self.devices) do d:stop() end
  M.stop(self.proc)
  return read_file(self.proc.err) or ""
end

function Emulator:cleanup()
  self:stop()
  os.execute("rm -rf " .. q(self.dir))
  if self.cert_dir then os.execute("rm -rf " .. q(self.cert_dir)) end
end

-- An emulator serving HTTPS with a fresh self-signed certificate (self_signed_cert);
-- emu.cert is the certificate's path (the CA to trust). emu:cleanup() removes it.
-- opts.args: more command-line arguments, as for M.emulator.
function M.https_emulator(opts)
  local dir = M.tmpdir()
  local ok, emu = pcall(function()
    local cert, key = M.self_signed_cert(dir)
    local args = { "--http-tls-cert", cert, "--http-tls-key", key }
    for _, a in ipairs(opts and opts.args or {}) do args[#args + 1] = a end
    return M.emulator{ args = args }
  end)
  if not ok then
    os.execute("rm -rf " .. q(dir))
    error(emu, 0)
  end
  emu.cert, emu.cert_dir = dir .. "/cert.pem", dir
  return emu
end

-- ------------------------------------------------------------------ mosquitto

-- A free TCP port on 127.0.0.1 (the kernel's choice; the socket is closed at once).
function M.free_port()
  local out = M.run(M.python .. [[ -c 'import socket; s = socket.socket(); ]] ..
                    [[s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
  return assert(tonumber(out:match("%d+")), "no free port: " .. out)
end

-- A CA, a server certificate for 127.0.0.1 and a client certificate (CN = client_cn)
-- signed by it, in dir: returns { ca =, server_cert =, server_key =, client_cert =,
-- client_key = } (paths).
function M.pki(dir, client_cn)
  local p = { ca = dir .. "/ca.pem", ca_key = dir .. "/ca.key",
              server_cert = dir .. "/server.pem", server_key = dir .. "/server.key",
              client_cert = dir .. "/client.pem", client_key = dir .. "/client.key" }
  local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  local steps = {
    ("openssl req -x509 %s -keyout %s -out %s -days 1 -subj /CN=iotlua-test-ca")
      :format(ec, q(p.ca_key), q(p.ca)),
    ("openssl req %s -keyout %s -out %s/server.csr -subj /CN=127.0.0.1")
      :format(ec, q(p.server_key), q(dir)),
    ("printf 'subjectAltName=IP:127.0.0.1\n' > %s/server.ext"):format(q(dir)),
    ("openssl x509 -req -in %s/server.csr -CA %s -CAkey %s -CAcreateserial -days 1 " ..
     "-extfile %s/server.ext -out %s"):format(q(dir), q(p.ca), q(p.ca_key), q(dir), q(p.server_cert)),
    ("openssl req %s -keyout %s -out %s/client.csr -subj /CN=%s")
      :format(ec, q(p.client_key), q(dir), q(client_cn or "iotlua-device")),
    ("openssl x509 -req -in %s/client.csr -CA %s -CAkey %s -CAcreateserial -days 1 -out %s")
      :format(q(dir), q(p.ca), q(p.ca_key), q(p.client_cert)),
  }
  for _, cmd in ipairs(steps) do
    local out, code = M.run(cmd .. " 2>&1")
    assert(code == 0, cmd .. "\n" .. out)
  end
  -- mosquitto started as root runs as the user mosquitto: let it read the test files
  os.execute("chmod -R a+rX " .. q(dir))
  return p
end

local Mosquitto = {}
Mosquitto.__index = Mosquitto

-- Debian's mosquitto broker, an MQTT peer independent of ours: a plain listener on
-- broker.port and, with opts.pki (from M.pki), a TLS listener on broker.tls_port that
-- requires a client certificate signed by that CA; with opts.websockets, MQTT over
-- WebSockets on broker.ws_port. Returns once it accepts connections.
function M.mosquitto(opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local port = M.free_port()
  local lines = { "per_listener_settings false",
                  opts.password_file and "allow_anonymous false" or "allow_anonymous true",
                  "persistence false", "log_dest stderr", "log_type all",
                  "listener " .. port .. " 127.0.0.1" }
  if opts.password_file then lines[#lines + 1] = "password_file " .. opts.password_file end
  local tls_port
  if opts.pki then
    tls_port = M.free_port()
    for _, l in ipairs({ "listener " .. tls_port .. " 127.0.0.1", "cafile " .. opts.pki.ca,
                         "certfile " .. opts.pki.server_cert, "keyfile " .. opts.pki.server_key,
                         "require_certificate true" }) do
      lines[#lines + 1] = l
    end
  end
  local ws_port
  if opts.websockets then
    ws_port = M.free_port()
    lines[#lines + 1] = "listener " .. ws_port .. " 127.0.0.1"
    lines[#lines + 1] = "protocol websockets"
  end
  M.write_file(dir .. "/mosquitto.conf", table.concat(lines, "\n") .. "\n")
  os.execute("chmod -R a+rX " .. q(dir))
  local proc = M.spawn({ "/usr/sbin/mosquitto", "-c", dir .. "/mosquitto.conf" }, dir, "mosquitto")
  local broker = setmetatable({ proc = proc, dir = dir, port = port, tls_port = tls_port,
                                ws_port = ws_port, url = "mqtt://127.0.0.1:" .. port }, Mosquitto)
  local up = M.wait_until(function()   -- listening (a refusal of the probe counts)
    local out = M.run(("mosquitto_pub -h 127.0.0.1 -p %d -t iotlua/probe -m up -q 0 2>&1; echo rc=$?")
                      :format(port))
    return out:find("rc=0", 1, true) or out:find("not authori", 1, true)
  end, 10, 0.05)
  if not up then
    local log = read_file(proc.err) or ""
    broker:stop()
    error("mosquitto did not start:\n" .. log, 2)
  end
  return broker
end

-- spec/tools/alpn_proxy.py in front of a plain MQTT port: TLS with cert/key, refusing
-- clients that do not offer ALPN `alpn`. Returns { port =, log = fn, proc = }.
function M.alpn_proxy(upstream_port, cert, key, alpn)
  local dir = M.tmpdir()
  local proc = M.spawn({ M.python, M.source_dir .. "/spec/tools/alpn_proxy.py", "--cert", cert,
                         "--key", key, "--upstream", tostring(upstream_port), "--alpn", alpn,
                         "--ready-file", dir .. "/ready.json" }, dir, "alpn-proxy")
  local info = wait_ready_file(proc, dir .. "/ready.json")
  return { port = math.tointeger(info.port), proc = proc,
           log = function() return read_file(proc.out) or "" end }
end

-- spec/tools/ws_server.py in one of its modes (refuse, bad-accept, close, masked, ping):
-- a WebSocket server that misbehaves on purpose. Returns { url = "ws://127.0.0.1:P",
-- log = fn -> the JSON lines it logged, decoded, proc = }; stop with M.stop(s.proc).
function M.ws_server(mode)
  local dir = M.tmpdir()
  local proc = M.spawn({ M.python, M.source_dir .. "/spec/tools/ws_server.py", "--mode", mode,
                         "--ready-file", dir .. "/ready.json", "--log", dir .. "/log" },
                       dir, "ws-server")
  local info = wait_ready_file(proc, dir .. "/ready.json")
  return { url = "ws://127.0.0.1:" .. math.tointeger(info.port), proc = proc,
           log = function()
             local entries = {}
             for line in (read_file(dir .. "/log") or ""):gmatch("[^\n]+") do
               entries[#entries + 1] = cjson.decode(line)
             end
             return entries
           end }
end

-- A mosquitto that wants a user name and password: user/password (plain text) go into
-- a password file made with mosquitto_passwd. Returns the broker, as M.mosquitto.
function M.mosquitto_with_password(user, password)
  local dir = M.tmpdir()
  local file = dir .. "/passwords"
  local out, code = M.run(("mosquitto_passwd -b -c %s %s %s 2>&1"):format(q(file), q(user), q(password)))
  assert(code == 0, out)
  os.execute("chmod -R a+rX " .. q(dir))
  local broker = M.mosquitto{ password_file = file }
  broker.password_dir = dir
  return broker
end

function Mosquitto:log()
  return read_file(self.proc.err) or ""
end

function Mosquitto:stop()
  M.stop(self.proc)
  os.execute("rm -rf " .. q(self.dir))
  if self.password_dir then os.execute("rm -rf " .. q(self.password_dir)) end
end

-- ------------------------------------------------------------------ devices

local Device = {}
Device.__index = Device

-- A real MQTT device: mosquitto_sub with client id `id`, QoS 1 subscriptions to
-- opts.topics (default: a topic of its own, so it is subscribed to something),
-- opts.mqtt = "5" (default) or "311", opts.persistent = true for a persistent session
-- (-c), opts.mute = true for spec/tools/mute_device.py (never sends PUBACK).
-- Returns once the device is connected and subscribed.
function M.device(emu, id, opts)
  opts = opts or {}
  local topics = opts.topics or { "devices/" .. id .. "/inbox" }
  local argv
  if opts.mute then
    argv = { M.python, M.source_dir .. "/spec/tools/mute_device.py", "--port",
             tostring(emu.mqtt_port), "--id", id, "--mqtt", opts.mqtt or "5" }
    for _, t in ipairs(topics) do argv[#argv + 1] = "--topic"; argv[#argv + 1] = t end
  else
    -- stdbuf: mosquitto_sub's stdout is a file, make it line-buffered so we see SUBACK
    argv = { "stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", tostring(emu.mqtt_port),
             "-i", id, "-q", "1", "-d", "-F", "%j",
             "-V", opts.mqtt == "311" and "mqttv311" or "mqttv5" }
    if opts.persistent then argv[#argv + 1] = "-c" end
    for _, t in ipairs(topics) do argv[#argv + 1] = "-t"; argv[#argv + 1] = t end
  end
  local name = "device-" .. id:gsub("[^%w%-_.]", "_") .. "-" .. tostring(#emu.devices + 1)
  local dev = setmetatable({ id = id, emu = emu, opts = opts,
                             proc = M.spawn(argv, emu.dir, name) }, Device)
  emu.devices[#emu.devices + 1] = dev
  local ready = M.wait_until(function()
    local out = read_file(dev.proc.out) or ""
    if out:find(opts.mute and '"event": "ready"' or "received SUBACK", 1, true) then return true end
    if not M.alive(dev.proc.pid) then return false end
  end, 10)
  if not ready then
    local log = (read_file(dev.proc.out) or "") .. (read_file(dev.proc.err) or "")
    dev:stop()
    error("device " .. id .. " did not connect and subscribe:\n" .. log, 2)
  end
  return dev
end

-- The device's output: raw text (debug lines of mosquitto_sub included).
function Device:log()
  return (read_file(self.proc.out) or "") .. (read_file(self.proc.err) or "")
end

-- Messages received so far: { topic=, payload=, qos=, retain=, properties= } each.
function Device:messages()
  local list = {}
  for line in (read_file(self.proc.out) or ""):gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then
      local ok, m = pcall(cjson.decode, line)
      if ok and (m.topic and (m.event == nil or m.event == "publish")) then
        m.properties = m.properties or {}
        list[#list + 1] = m
      end
    end
  end
  return list
end

-- Number of PUBACKs the device sent (mosquitto_sub's debug output).
function Device:pubacks()
  local n = 0
  for _ in (read_file(self.proc.out) or ""):gmatch("sending PUBACK") do n = n + 1 end
  return n
end

-- Waits until at least n messages arrived (optionally on topic); returns the messages.
function Device:wait_messages(n, topic, timeout)
  local function matching()
    local out = {}
    for _, m in ipairs(self:messages()) do
      if topic == nil or m.topic == topic then out[#out + 1] = m end
    end
    return out
  end
  M.wait_until(function() return #matching() >= n end, timeout or 5)
  return matching()
end

-- Disconnects cleanly (mosquitto_sub sends DISCONNECT on SIGTERM).
function Device:stop()
  M.stop(self.proc)
end

-- Drops the connection without DISCONNECT, like a device losing power.
function Device:kill()
  if self.proc.stopped then return end
  M.signal(self.proc, "KILL")
  M.wait_until(function() return not M.alive(self.proc.pid) end, 5)
  self.proc.stopped = true
  started[self.proc] = nil
end

-- ------------------------------------------------------------------ running iotlua

-- Runs a Lua script with build/iotlua in a child process with the given environment
-- (table) and arguments; returns { status =, stdout =, stderr = }.
function M.run_iotlua(script, args, env, stdin_text)
  local dir = M.tmpdir()
  local parts = { "env" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = q(k .. "=" .. v) end
  parts[#parts + 1] = q(M.build_dir .. "/iotlua")
  parts[#parts + 1] = q(script)
  for _, a in ipairs(args or {}) do parts[#parts + 1] = q(a) end
  M.write_file(dir .. "/stdin", stdin_text or "")
  local cmd = table.concat(parts, " ") .. " <" .. q(dir .. "/stdin") .. " >" ..
              q(dir .. "/stdout") .. " 2>" .. q(dir .. "/stderr") .. "; echo $?"
  local status = tonumber((M.run(cmd)))
  local res = { status = status, stdout = read_file(dir .. "/stdout") or "",
                stderr = read_file(dir .. "/stderr") or "" }
  os.execute("rm -rf " .. q(dir))
  return res
end

return M
