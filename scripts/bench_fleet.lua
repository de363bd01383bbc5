-- scripts/bench_fleet.lua DEVICES CONCURRENCY ROUNDS — run by scripts/bench-fleet with
-- build/iotlua, against the emulator in IOTLUA_MQTT_URL / AWS_ENDPOINT_URL_IOT_DATA_PLANE.
--
-- Connects DEVICES simulated devices from this one process (CONCURRENCY connects in
-- flight), each subscribed at QoS 0 to fleet/all; then, ROUNDS times, one iot:publish to
-- fleet/all and the time until every device has it (the fan-out); then a burst of ten
-- publishes in a row and the messages/s delivered to the devices. Prints one JSON line.
local iotlua = require("iotlua")
local now = require("iotlua.core").now

local n = tonumber(arg[1]) or 10000
local concurrency = tonumber(arg[2]) or 256
local rounds = tonumber(arg[3]) or 5

local function peak_rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local status = f:read("a")
  f:close()
  return tonumber(status:match("VmHWM:%s*(%d+)"))
end

local iot = assert(iotlua.client())
local devices, received = {}, 0
local ids = {}
for i = 1, n do ids[i] = i end

local t0 = now()
local _, errs = iotlua.map(ids, function(i)
  local dev, err = iotlua.mqtt.connect{ client_id = "fleet-" .. i, keepalive = 600 }
  if not dev then return nil, err end
  local ok, serr = dev:subscribe{ "fleet/all", qos = 0 }
  if not ok then return nil, serr end
  dev:on_message(function() received = received + 1 end, "fleet/all")
  devices[i] = dev
  return true
end, { concurrency = concurrency, progress = false })
local connect_s = now() - t0
for i = 1, n do
  if errs[i] then error("device " .. i .. ": " .. tostring(errs[i])) end
end
local rss_connected = peak_rss_kib()

-- Waits until `target` messages were received in all; returns the seconds it took from t.
local function until_received(target, t, limit)
  while received < target do
    iotlua.sleep(0.001)
    if now() - t > limit then
      error(("only %d of %d messages arrived in %g s"):format(received, target, limit))
    end
  end
  return now() - t
end

local fanout = {}
for r = 1, rounds do
  local start = now()
  assert(iot:publish{ topic = "fleet/all", qos = 0, payload = "round " .. r })
  fanout[r] = until_received(n * r, start, 30)
end
table.sort(fanout)

local burst = 10
local base = received
local start = now()
for b = 1, burst do
  assert(iot:publish{ topic = "fleet/all", qos = 0, payload = "burst " .. b })
end
local burst_s = until_received(base + burst * n, start, 60)

for _, dev in ipairs(devices) do dev:close() end
print(iotlua.json.encode({
  devices = n, concurrency = concurrency, connect_seconds = connect_s,
  connections_per_second = n / connect_s, rss_connected_kib = rss_connected,
  fanout_median_seconds = fanout[(#fanout + 1) // 2], fanout_max_seconds = fanout[#fanout],
  delivered_per_second = burst * n / burst_s, peak_rss_kib = peak_rss_kib(),
}))
