-- examples/qa_device_spec.lua — a QA end-to-end spec (busted) to copy and adapt.
--
-- A device connects, its subscription is listed, a direct message to it is confirmed
-- (the device acknowledged it with an MQTT PUBACK), then the device drops off the network
-- and GetConnection says so, and why.
--
-- The device under test here is mosquitto_sub, started by the spec; put your own
-- device's start and power-off in start_device() and device.drop().
--
-- Run it:   busted examples/qa_device_spec.lua      (with LUA_CPATH finding iotlua.so)
-- Environment:
--   QA_MQTT_URL   where the device connects: mqtt://HOST:PORT (the emulator's "mqtt"
--                 address) or mqtts://YOUR-ATS-ENDPOINT:8883 for AWS IoT Core
--   QA_MQTT_ARGS  extra mosquitto_sub arguments, e.g. for AWS:
--                 "--cafile AmazonRootCA1.pem --cert device.pem.crt --key private.pem.key"
--   QA_DEVICE_ID  the device's client id (default: qa-device-<time>-<random>)
--   AWS_ENDPOINT_URL_IOT_DATA_PLANE, AWS_REGION, AWS_ACCESS_KEY_ID, ... for iotlua, as
--                 for the AWS CLI (unset the endpoint to use AWS's own)
local iotlua = require("iotlua")

local MQTT_URL = os.getenv("QA_MQTT_URL") or error("set QA_MQTT_URL (mqtt://host:port)")
local MQTT_ARGS = os.getenv("QA_MQTT_ARGS") or ""
math.randomseed(os.time())
local DEVICE_ID = os.getenv("QA_DEVICE_ID") or
                  ("qa-device-%d-%04d"):format(os.time(), math.random(0, 9999))
local TOPIC = "qa/" .. DEVICE_ID .. "/#"

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Polls fn every 0.2 s until it returns a true value or `seconds` pass; returns that.
local function eventually(seconds, fn)
  local value
  for _ = 1, seconds * 5 do
    value = fn()
    if value then return value end
    iotlua.sleep(0.2)
  end
  return value
end

-- Starts the device: mosquitto_sub, MQTT 5, subscribed to qa/<id>/# at QoS 1, logging
-- its packets (-d) to a file. Returns { log = fn, drop = fn, stop = fn }.
local function start_device()
  local scheme, host, port = MQTT_URL:match("^(mqtts?)://([^:/]+):?(%d*)")
  assert(scheme, "QA_MQTT_URL must look like mqtt://host:port")
  port = port ~= "" and port or (scheme == "mqtts" and "8883" or "1883")
  local logfile = os.tmpname()
  local cmd = ("stdbuf -oL mosquitto_sub -h %s -p %s -i %s -V mqttv5 -q 1 -d -v -t %s %s"):format(
    quote(host), port, quote(DEVICE_ID), quote(TOPIC), MQTT_ARGS)
  local pid = assert(tonumber(sh(cmd .. " >" .. quote(logfile) .. " 2>&1 </dev/null & echo $!")))
  local device = {}
  function device.log()
    local f = io.open(logfile)
    local text = f and f:read("a") or ""
    if f then f:close() end
    return text
  end
  function device.drop()   -- power cut: no MQTT DISCONNECT, the TCP connection just ends
    os.execute("kill -KILL " .. pid .. " 2>/dev/null")
  end
  function device.stop()
    os.execute("kill -TERM " .. pid .. " 2>/dev/null")
    os.remove(logfile)
  end
  return device
end

describe("device under test", function()
  local iot, device
  local connected = false   -- later steps fail at once when the first one did

  local function require_connected()
    assert(connected, "the device never connected (see the first step)")
  end

  setup(function()
    iot = assert(iotlua.client{})
    device = start_device()
  end)

  teardown(function()
    if device then device.stop() end
  end)

  it("connects", function()
    local conn = eventually(10, function()
      local c = iot:get_connection{ clientId = DEVICE_ID }
      return c and c.connected and c
    end)
    assert.is_table(conn, "device " .. DEVICE_ID .. " never showed as connected\n" .. device.log())
    assert.is_true(conn.connected)
    assert.equals(DEVICE_ID, conn.clientId)
    connected = true
  end)

  it("has its subscription listed", function()
    require_connected()
    local subs = eventually(10, function()
      local s = iot:list_subscriptions{ clientId = DEVICE_ID }
      return s and #(s.subscriptions or {}) > 0 and s.subscriptions
    end)
    assert.is_table(subs, "no subscription listed for " .. DEVICE_ID)
    assert.same({ { topicFilter = TOPIC, qos = 1 } }, subs)
  end)

  it("confirms a direct message", function()
    require_connected()
    local r, err = iot:send_direct_message{
      clientId = DEVICE_ID, topic = "qa/" .. DEVICE_ID .. "/cmd",
      payload = { action = "blink", times = 3 }, confirmation = true, timeout = 5 }
    assert.is_nil(err)
    assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
    -- the device acknowledged the message (PUBACK) and printed it
    assert.truthy(eventually(5, function()
      local log = device.log()
      return log:find("sending PUBACK", 1, true) and log:find('"action":"blink"', 1, true)
    end), device.log())
  end)

  it("drops, and GetConnection says why", function()
    require_connected()
    device.drop()
    local conn = eventually(15, function()
      local c = iot:get_connection{ clientId = DEVICE_ID }
      return c and not c.connected and c
    end)
    assert.is_table(conn, "device still connected after being dropped")
    assert.is_false(conn.connected)
    assert.equals("CONNECTION_LOST", conn.disconnectReason)
    assert.is_not_nil(conn.disconnectedSince)
  end)
end)
