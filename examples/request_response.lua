-- examples/request_response.lua [DEVICE_ID] — one script plays both sides of a
-- request-response workflow: a device (a task answering the commands sent to it) and a
-- controller that asks it three questions at once with iotlua.request, then checks the
-- device's connection.
--
-- Each question is a SendDirectMessage to the device with a fresh correlationData and a
-- responseTopic the controller is subscribed to; the device answers on that topic with
-- the same correlationData, and iotlua.request returns the matching reply.
--
-- Run it:   IOTLUA_MQTT_URL=mqtt://127.0.0.1:PORT build/iotlua examples/request_response.lua
-- (scripts/demo does, against the emulator). Against AWS IoT Core, leave IOTLUA_MQTT_URL
-- unset (the data endpoint's host on 8883 is used) and give both connections a device
-- certificate: cert = "device.pem.crt", key = "private.pem.key", ca = "AmazonRootCA1.pem".
-- Exit status: 0 when every question was answered, 1 otherwise.
local iotlua = require("iotlua")

local device_id = arg[1] or "thermostat-1"
local iot = assert(iotlua.client())

-- The device side: what it knows, and how it answers.
local started = os.time()
local answers = {
  temperature = function() return { celsius = 21.5 } end,
  firmware = function() return { version = "1.4.2" } end,
  uptime = function() return { seconds = os.time() - started } end,
}

local device = assert(iotlua.mqtt.connect{ client_id = device_id })
device:on_message(function(cmd)
  local question = cmd.topic:match("[^/]+$")
  local answer = answers[question]
  local body = answer and answer() or { error = "unknown question " .. question }
  assert(device:publish{ topic = cmd.responseTopic, correlationData = cmd.correlationData,
                         payload = body, qos = 1, contentType = "application/json" })
end, "cmd/" .. device_id .. "/#")

-- The controller side: three questions in flight at once.
local controller = assert(iotlua.mqtt.connect{ client_id = device_id .. "-controller" })
local questions = { "temperature", "firmware", "uptime" }
local replies, errs = iotlua.map(questions, function(q)
  local reply, err = iotlua.request{ client = iot, via = controller, clientId = device_id,
                                     topic = "cmd/" .. device_id .. "/" .. q,
                                     payload = { ask = q }, timeout = 5 }
  if not reply then return nil, err end
  return reply.payload
end, { progress = false })

local failed = 0
for i, q in ipairs(questions) do
  if replies[i] then
    print(("%-12s -> %s"):format(q, replies[i]))
  else
    failed = failed + 1
    print(("%-12s -> FAILED: %s"):format(q, tostring(errs[i])))
  end
end

local conn, err = iot:get_connection{ clientId = device_id }
print(conn and ("%s connected: %s"):format(device_id, tostring(conn.connected))
           or ("get_connection failed: " .. tostring(err)))

device:disconnect()
controller:disconnect()
os.exit(failed == 0 and conn ~= nil and 0 or 1)
