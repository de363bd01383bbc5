-- End to end: iotlua.mqtt over WebSockets (ws:// and wss://, the way devices and
-- scripts reach AWS IoT on port 443 with IAM credentials): against iotlua-emulator,
-- which checks the SigV4 query signature as AWS IoT does; against Debian's mosquitto
-- websockets listener, an independent peer; and against spec/tools/ws_server.py, a
-- server that misbehaves on purpose (refusals, a wrong Sec-WebSocket-Accept, a Close
-- frame, masked server frames, a Ping to answer).
local servers = require("tools.servers")
local iotlua = require("iotlua")
local mqtt = iotlua.mqtt

local EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

-- A device publishes to itself through the broker and hears it, small and large.
local function round_trip(dev, topic)
  assert(dev:subscribe{ topic, qos = 1 })
  assert(dev:publish{ topic = topic, payload = "hello", qos = 1 })
  local m = assert(dev:receive{ topic = topic, timeout = 5 })
  assert.equals("hello", m.payload)
  local big = string.rep("0123456789", 7000)          -- 70,000 bytes: several reads
  assert(dev:publish{ topic = topic, payload = big, qos = 1 })
  m = assert(dev:receive{ topic = topic, timeout = 5 })
  assert.equals(big, m.payload)
end

describe("iotlua.mqtt over WebSockets against the emulator", function()
  local emu, iot

  setup(function()
    emu = servers.emulator()
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
  end)

  teardown(function() servers.cleanup(emu) end)

  local function ws_url() return (emu.http:gsub("^http", "ws")) .. "/mqtt" end

  it("connects with a SigV4-signed upgrade, and HTTP publishes reach the device", function()
    local dev = assert(mqtt.connect{ url = ws_url(), client = iot, client_id = "ws-dev" })
    round_trip(dev, "ws/self")
    assert(dev:subscribe{ "ws/from-http", qos = 1 })
    assert(iot:publish{ topic = "ws/from-http", payload = "via http", qos = 1 })
    assert.equals("via http", assert(dev:receive{ topic = "ws/from-http", timeout = 5 }).payload)
    local conn = assert(iot:get_connection{ clientId = "ws-dev" })
    assert.is_true(conn.connected)
    dev:disconnect()
  end)

  it("signs again on reconnect", function()
    local dev = assert(mqtt.connect{ url = ws_url(), client = iot, client_id = "ws-again",
                                     clean_start = false, session_expiry = 60 })
    dev:drop()
    assert(dev:reconnect())
    round_trip(dev, "ws/again")
    dev:disconnect()
  end)

  it("a wrong secret is NotAuthorized (HTTP 403), and no secret or signature is shown", function()
    local bad = assert(iotlua.client(emu:client_options{
      max_attempts = 1,
      credentials = { access_key_id = "AKIAIOSFODNN7EXAMPLE", secret_access_key = "not-it" } }))
    local dev, err = mqtt.connect{ url = ws_url(), client = bad, client_id = "ws-bad" }
    assert.is_nil(dev)
    assert.equals("NotAuthorized", err.code)
    assert.equals(0x87, err.reason_code)             -- as a CONNACK's Not authorized
    assert.matches("HTTP/1.1 403", err.message, 1, true)
    local text = tostring(err)
    assert.is_nil(text:find("not-it", 1, true))
    assert.is_nil(text:find("X-Amz-Signature", 1, true))
    assert.is_nil(text:find("X-Amz-Credential", 1, true))
    -- the client stays usable: a good connection right after
    local ok = assert(mqtt.connect{ url = ws_url(), client = iot, client_id = "ws-after" })
    ok:disconnect()
  end)

  it("sign = false sends no signature: refused unless the emulator accepts unsigned", function()
    local dev, err = mqtt.connect{ url = ws_url(), sign = false, client_id = "ws-unsigned" }
    assert.is_nil(dev)
    assert.equals("NotAuthorized", err.code)
    local open = servers.emulator{ args = { "--ws-allow-unsigned" } }
    local ok, cerr = mqtt.connect{ url = (open.http:gsub("^http", "ws")) .. "/mqtt", sign = false,
                                   client_id = "ws-unsigned" }
    local connected = ok ~= nil
    if ok then ok:disconnect() end
    servers.cleanup(open)
    assert.is_true(connected, tostring(cerr))
  end)

  it("a session token goes after the signature, unsigned, as AWS IoT requires", function()
    local rec = servers.ws_server("refuse")
    local with_token = assert(iotlua.client{
      endpoint = emu.http, region = "eu-west-1", max_attempts = 1,
      credentials = { access_key_id = "ASIAEXAMPLETOKEN", secret_access_key = EXAMPLE_SECRET,
                      session_token = "tok/en+with=chars" } })
    local dev, err = mqtt.connect{ url = rec.url, client = with_token, client_id = "ws-tok" }
    local log = rec.log()
    servers.stop(rec.proc)
    assert.is_nil(dev)
    assert.equals("NotAuthorized", err.code)
    local head = assert(log[1], "no upgrade request recorded").head
    local target = head:match("^GET (%S+) HTTP/1%.1\r\n")
    assert.is_truthy(target, head)
    assert.equals("/mqtt", target:match("^[^?]+"))
    assert.matches("X%-Amz%-Credential=ASIAEXAMPLETOKEN%%2F%d+%%2Feu%-west%-1%%2Fiotdevicegateway", target)
    local sig_at = assert(target:find("&X-Amz-Signature=", 1, true))
    local tok_at = assert(target:find("&X-Amz-Security-Token=tok%2Fen%2Bwith%3Dchars", 1, true))
    assert.is_true(tok_at > sig_at, target)
    assert.matches("X%-Amz%-SignedHeaders=host&", target)
    assert.matches("\r\nHost: 127%.0%.0%.1:%d+\r\n", head)
    assert.matches("\r\nUpgrade: websocket\r\n", head)
    assert.matches("\r\nSec%-WebSocket%-Version: 13\r\n", head)
    assert.matches("\r\nSec%-WebSocket%-Protocol: mqtt$", head)
    assert.matches("\r\nSec%-WebSocket%-Key: [%w+/]+==\r\n", head)
  end)
end)

describe("iotlua.mqtt over wss:// (TLS) against the emulator's --ws-port", function()
  local emu, iot

  setup(function()
    emu = servers.https_emulator{ args = { "--ws-port", "0" } }
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1, ca_bundle = emu.cert }))
  end)

  teardown(function() servers.cleanup(emu) end)

  it("connects with the certificate's CA, and refuses a server it cannot verify", function()
    assert.matches("^wss://127%.0%.0%.1:%d+/mqtt$", emu.ws)
    local dev = assert(mqtt.connect{ url = emu.ws, client = iot, ca = emu.cert,
                                     client_id = "wss-dev" })
    round_trip(dev, "wss/self")
    dev:disconnect()
    local no, err = mqtt.connect{ url = emu.ws, client = iot, client_id = "wss-unverified" }
    assert.is_nil(no)
    assert.equals("TLSError", err.code)
  end)
end)

describe("iotlua.mqtt over WebSockets against Debian's mosquitto", function()
  it("publishes and receives through mosquitto's websockets listener", function()
    local broker = servers.mosquitto{ websockets = true }
    local ok, err = pcall(function()
      local url = "ws://127.0.0.1:" .. broker.ws_port .. "/mqtt"
      local dev = assert(mqtt.connect{ url = url, sign = false, client_id = "ws-mosq" })
      round_trip(dev, "mosq/ws")
      -- a plain-TCP client of the same broker hears what the WebSocket device sends
      local plain = assert(mqtt.connect{ url = broker.url, client_id = "tcp-mosq" })
      assert(plain:subscribe{ "mosq/cross", qos = 1 })
      assert(dev:publish{ topic = "mosq/cross", payload = "over ws", qos = 1 })
      assert.equals("over ws", assert(plain:receive{ topic = "mosq/cross", timeout = 5 }).payload)
      plain:disconnect()
      dev:disconnect()
    end)
    broker:stop()
    assert(ok, err)
  end)
end)

describe("iotlua.mqtt over WebSockets against a misbehaving server", function()
  local function connect_to(mode)
    local srv = servers.ws_server(mode)
    local dev, err = mqtt.connect{ url = srv.url, sign = false, client_id = "ws-" .. mode,
                                   timeout = 5 }
    local log = srv.log()
    servers.stop(srv.proc)
    return dev, err, log
  end

  it("a wrong Sec-WebSocket-Accept is a ProtocolError", function()
    local dev, err = connect_to("bad-accept")
    assert.is_nil(dev)
    assert.equals("ProtocolError", err.code)
    assert.matches("Sec-WebSocket-Accept", err.message, 1, true)
  end)

  it("the server's Close frame ends the connection with its code", function()
    local dev, err = connect_to("close")
    assert.is_nil(dev)
    assert.equals("NetworkError", err.code)
    assert.matches("WebSocket close 1008: policy says no", err.message, 1, true)
  end)

  it("a masked frame from the server is a ProtocolError", function()
    local dev, err = connect_to("masked")
    assert.is_nil(dev)
    assert.equals("ProtocolError", err.code)
    assert.matches("server frames must not be masked", err.message, 1, true)
  end)

  it("sends CONNECT in a masked binary frame and answers a Ping with its Pong", function()
    local dev, err, log = connect_to("ping")
    assert.is_nil(dev)
    assert.equals("NetworkError", err.code)             -- the server's Close (1000)
    local frames = assert(log[2], "no frames logged").frames
    local connect, pong
    for _, f in ipairs(frames) do
      if f[1] == 2 then connect = connect or f end
      if f[1] == 10 then pong = f end
    end
    assert.is_truthy(connect, "no binary frame")
    assert.is_true(connect[2], "a client's frame must be masked")
    assert.equals("10", connect[3]:sub(1, 2))           -- an MQTT CONNECT
    assert.is_truthy(pong, "no Pong")
    assert.is_true(pong[2])
    assert.equals((("are-you-there"):gsub(".", function(c) return string.format("%02x", c:byte()) end)),
                  pong[3])
  end)
end)
