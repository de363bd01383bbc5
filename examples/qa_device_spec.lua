-- examples/qa_device_spec.lua — a QA end-to-end spec (busted) to copy and adapt.
--
-- A simulated device connects over MQTT (iotlua.mqtt, in this same script), its
-- subscription is listed, a direct message to it is confirmed and received, it answers
-- a command (iotlua.request), then it drops off the network (a power cut: no DISCONNECT)
-- and GetConnection says so, and why.
--
-- To test a real device instead, replace the connect in setup with your device's start,
-- and device:drop() with its power-off.
--
-- Run it:   busted examples/qa_device_spec.lua      (with LUA_CPATH finding iotlua.so)
-- Environment:
--   QA_MQTT_URL   where the device connects: mqtt://HOST:PORT (the emulator's "mqtt"
--                 address) or mqtts://YOUR-ATS-ENDPOINT:8883 for AWS IoT Core; unset:
--                 IOTLUA_MQTT_URL, else the data endpoint's host on 8883
--   QA_CERT, QA_KEY, QA_CA  the device certificate, its key and the CA (AWS IoT Core)
--   QA_DEVICE_ID  the device's client id (default: qa-device-<time>-<random>)
--   AWS_ENDPOINT_URL_IOT_DATA_PLANE, AWS_REGION, AWS_ACCESS_KEY_ID, ... for iotlua, as
--                 for the AWS CLI (unset the endpoint to use AWS's own)
local iotlua = require("iotlua")

local DEVICE_ID = os.getenv("QA_DEVICE_ID") or
                  ("qa-device-%d-%s"):format(os.time(), require("iotlua.core").random_hex(2))
local TOPIC = "qa/" .. DEVICE_ID .. "/#"

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

local function mqtt_options(client_id)
  return { url = os.getenv("QA_MQTT_URL"), client_id = client_id, cert = os.getenv("QA_CERT"),
           key = os.getenv("QA_KEY"), ca = os.getenv("QA_CA"), timeout = 5 }
end

describe("device under test", function()
  local iot, device, connect_err

  local function require_connected()
    assert(device, "the device could not connect: " .. tostring(connect_err))
  end

  setup(function()
    iot = assert(iotlua.client{})
    device, connect_err = iotlua.mqtt.connect(mqtt_options(DEVICE_ID))
    if device then
      -- the device's own behaviour: it answers pings on qa/<id>/ping
      device:on_message(function(m)
        device:publish{ topic = m.responseTopic, correlationData = m.correlationData,
                        payload = "pong", qos = 1 }
      end, "qa/" .. DEVICE_ID .. "/ping")
    end
  end)

  teardown(function()
    if device then device:close() end
  end)

  it("connects", function()
    require_connected()
    assert(device:subscribe{ TOPIC, qos = 1 })
    local conn = eventually(10, function()
      local c = iot:get_connection{ clientId = DEVICE_ID }
      return c and c.connected and c
    end)
    assert.is_table(conn, "device " .. DEVICE_ID .. " never showed as connected")
    assert.equals(DEVICE_ID, conn.clientId)
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
    -- the device acknowledged it (PUBACK: that is what confirmed it) and has it
    local m = assert(device:receive{ topic = "qa/" .. DEVICE_ID .. "/cmd", timeout = 5 })
    assert.same({ action = "blink", times = 3 }, iotlua.json.decode(m.payload))
  end)

  it("answers a command", function()
    require_connected()
    local controller = assert(iotlua.mqtt.connect(mqtt_options(DEVICE_ID .. "-qa")))
    local reply, err = iotlua.request{ client = iot, via = controller, clientId = DEVICE_ID,
                                       topic = "qa/" .. DEVICE_ID .. "/ping", payload = "ping",
                                       timeout = 5 }
    controller:close()
    assert.is_table(reply, tostring(err))
    assert.equals("pong", reply.payload)
  end)

  it("drops, and GetConnection says why", function()
    require_connected()
    device:drop()
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
