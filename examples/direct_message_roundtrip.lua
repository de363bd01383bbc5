-- examples/direct_message_roundtrip.lua — the four data-plane operations, once each.
--
--   iotlua examples/direct_message_roundtrip.lua [clientId] [topic-the-fleet-watches]
--
-- 1. sends `clientId` a direct message on cmd/hello with confirmation (waits for the
--    device's MQTT PUBACK), 2. reads its connection, 3. lists its subscriptions,
-- 4. publishes an alert on a topic the devices watch. Prints what each call returned.
--
-- Configuration comes from the environment, as for the AWS CLI, so the same script runs
-- against the local emulator (scripts/demo sets AWS_ENDPOINT_URL_IOT_DATA_PLANE) and
-- against AWS IoT Core (leave the endpoint unset, set AWS_REGION and credentials).
-- Exit status: 0 when all four calls succeeded, 1 otherwise (the failing call is named).
local iotlua = require("iotlua")

local client_id = arg[1] or "sensor-1"
local watched = arg[2] or "fleet/alerts"

-- Prints a result table as indented "key: value" lines, keys sorted.
local function show(value, indent)
  indent = indent or "    "
  local keys = {}
  for k in pairs(value) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local v = value[k]
    if k == "HTTPHeaders" then
      -- too long for a demo; the request id is shown in ResponseMetadata.RequestId
    elseif type(v) == "table" then
      print(indent .. tostring(k) .. ":")
      show(v, indent .. "  ")
    else
      print(indent .. tostring(k) .. ": " .. tostring(v))
    end
  end
end

local function step(title, result, err)
  print(title)
  if not result then
    print("    FAILED: " .. tostring(err))
    os.exit(1)
  end
  show(result)
  return result
end

local iot = assert(iotlua.client{})
print(("endpoint %s, region %s, device %s"):format(iot.endpoint, iot.region, client_id))

step("send_direct_message (confirmation = true):", iot:send_direct_message{
  clientId = client_id, topic = "cmd/hello",
  payload = { greeting = "hello from iotlua", sent_at = os.time() },
  confirmation = true, timeout = 5,
})

local conn = step("get_connection:", iot:get_connection{
  clientId = client_id, includeSocketInformation = true,
})

local subs = step("list_subscriptions:", iot:list_subscriptions{ clientId = client_id, maxResults = 50 })

step("publish to " .. watched .. ":", iot:publish{
  topic = watched, qos = 1,
  payload = ("%s is %s with %d subscription(s)"):format(
    client_id, conn.connected and "connected" or "disconnected", #(subs.subscriptions or {})),
  userProperties = { { source = "direct_message_roundtrip" } },
})
