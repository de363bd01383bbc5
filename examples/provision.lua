-- examples/provision.lua — send every device of a list its configuration and check it.
--
--   iotlua examples/provision.lua DEVICES.csv|DEVICES.json [options]
--     --concurrency N   devices handled at once (default 16)
--     --rounds N        passes over the devices that failed (default 3)
--     --pause S         seconds between rounds (default 1)
--     --timeout S       how long each device has to acknowledge (default 5)
--
-- For each device: 1. send_direct_message with confirmation = true on its config topic
-- (the device must acknowledge with an MQTT PUBACK within --timeout), 2. get_connection
-- must say connected, 3. list_subscriptions must list the topic filter it is expected to
-- have subscribed to (if the list names one). Devices that fail any step are tried again
-- in the next round. Logs one iotlua.log line per round (stderr), prints a summary table.
--
-- Device list, CSV (a header line; fields with commas in double quotes, "" for a quote):
--   clientId,topic,config,subscription
--   sensor-1,config/apply,"{""rate"":5}",config/#
-- or JSON: [ { "clientId": "sensor-1", "topic": "config/apply", "config": {"rate": 5},
--              "subscription": "config/#" }, ... ]
-- topic defaults to "config/apply"; config is sent as JSON (a JSON object/array in CSV is
-- sent as is, other text as a string); subscription is optional.
--
-- Exit status: 0 every device provisioned, 1 some device failed, 2 bad usage or device list.
-- Configuration (endpoint, region, credentials) comes from the environment or the AWS
-- config files, as for the AWS CLI.
local iotlua = require("iotlua")
local cjson = require("cjson")

local function usage(msg)
  io.stderr:write("provision: " .. msg .. "\n" ..
    "usage: iotlua examples/provision.lua DEVICES.csv|DEVICES.json [--concurrency N]" ..
    " [--rounds N] [--pause S] [--timeout S]\n")
  os.exit(2)
end

local function parse_args(argv)
  local opts = { concurrency = 16, rounds = 3, pause = 1, timeout = 5 }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local key = a:match("^%-%-(%a+)$")
    if key and opts[key] ~= nil then
      opts[key] = tonumber(argv[i + 1]) or usage(a .. " needs a number")
      i = i + 2
    elseif a:sub(1, 1) == "-" then
      usage("unknown option " .. a)
    elseif opts.file then
      usage("one device list only")
    else
      opts.file, i = a, i + 1
    end
  end
  if not opts.file then usage("no device list given") end
  return opts
end

-- ------------------------------------------------------------------ reading the list

-- Splits one CSV line into fields (RFC 4180 quoting; no newlines inside fields).
local function csv_fields(line)
  local fields, pos = {}, 1
  while true do
    if line:sub(pos, pos) == '"' then
      local value, i = {}, pos + 1
      while true do
        local q = line:find('"', i, true)
        if not q then return nil, "unterminated quoted field" end
        value[#value + 1] = line:sub(i, q - 1)
        if line:sub(q + 1, q + 1) == '"' then
          value[#value + 1] = '"'
          i = q + 2
        else
          pos = q + 1
          break
        end
      end
      fields[#fields + 1] = table.concat(value)
      if pos > #line then return fields end
      if line:sub(pos, pos) ~= "," then return nil, "text after a quoted field" end
      pos = pos + 1
    else
      local comma = line:find(",", pos, true)
      fields[#fields + 1] = line:sub(pos, (comma or #line + 1) - 1)
      if not comma then return fields end
      pos = comma + 1
    end
  end
end

local function read_csv(text)
  local devices, header = {}, nil
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    line = line:gsub("\r$", "")
    if line:match("%S") and not line:match("^%s*#") then
      local fields, err = csv_fields(line)
      if not fields then return nil, ("line %d: %s"):format(n, err) end
      if not header then
        header = fields
      else
        local d = {}
        for i, name in ipairs(header) do
          if fields[i] and fields[i] ~= "" then d[name] = fields[i] end
        end
        if type(d.config) == "string" and d.config:match("^%s*[%[{]") then
          local ok, decoded = pcall(cjson.decode, d.config)
          if not ok then return nil, ("line %d: config is not valid JSON"):format(n) end
          d.config = decoded
        end
        d.line = n
        devices[#devices + 1] = d
      end
    end
  end
  return devices
end

local function read_devices(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local devices
  if path:match("%.json$") or text:match("^%s*%[") then
    local ok, decoded = pcall(cjson.decode, text)
    if not ok or type(decoded) ~= "table" then return nil, path .. ": not a JSON array" end
    devices = decoded
  else
    devices, err = read_csv(text)
    if not devices then return nil, path .. ": " .. err end
  end
  for i, d in ipairs(devices) do
    if type(d) ~= "table" or type(d.clientId) ~= "string" or d.clientId == "" then
      return nil, ("%s: device #%d has no clientId"):format(path, i)
    end
    d.topic = d.topic or "config/apply"
    if d.config == nil or d.config == cjson.null then d.config = {} end
  end
  if #devices == 0 then return nil, path .. ": no devices" end
  return devices
end

-- ------------------------------------------------------------------ one device

-- Returns true, or false and a one-line reason. Never raises for a failure of the world.
local function provision(iot, d, opts)
  local payload = type(d.config) == "table" and d.config or cjson.encode(d.config)
  local _, err = iot:send_direct_message{ clientId = d.clientId, topic = d.topic,
                                          payload = payload, confirmation = true,
                                          timeout = opts.timeout }
  if err then return false, "send_direct_message: " .. err.code .. ": " .. tostring(err.message) end
  local conn
  conn, err = iot:get_connection{ clientId = d.clientId }
  if err then return false, "get_connection: " .. err.code end
  if not conn.connected then
    return false, "not connected (" .. tostring(conn.disconnectReason) .. ")"
  end
  if not d.subscription then return true, "ok" end
  for page, perr in iot:list_subscriptions_pages{ clientId = d.clientId } do
    if not page then return false, "list_subscriptions: " .. perr.code end
    for _, s in ipairs(page.subscriptions or {}) do
      if s.topicFilter == d.subscription then return true, "ok" end
    end
  end
  return false, "not subscribed to " .. d.subscription
end

-- ------------------------------------------------------------------ main

local function main(argv)
  local opts = parse_args(argv)
  local devices, err = read_devices(opts.file)
  if not devices then usage(err) end
  local iot = assert(iotlua.client{ timeout = opts.timeout + 10 })

  local state = {}                      -- clientId -> { ok, reason, attempts }
  local pending = devices
  for round = 1, opts.rounds do
    local results = iotlua.map(pending, function(d)
      return { provision(iot, d, opts) }
    end, { concurrency = opts.concurrency })
    local failed = {}
    for i, d in ipairs(pending) do
      local r = results[i] or { false, "task failed" }
      local s = state[d.clientId] or { attempts = 0 }
      s.ok, s.reason, s.attempts = r[1], r[2], s.attempts + 1
      state[d.clientId] = s
      if not s.ok then failed[#failed + 1] = d end
    end
    iotlua.log.info(("round %d: %d ok, %d failed"):format(round, #pending - #failed, #failed))
    pending = failed
    if #pending == 0 then break end
    if round < opts.rounds then iotlua.sleep(opts.pause) end
  end

  local width = 8
  for _, d in ipairs(devices) do width = math.max(width, #d.clientId) end
  local row = "%-" .. width .. "s  %-6s  %8s  %s"
  print(row:format("DEVICE", "STATUS", "ATTEMPTS", "DETAIL"))
  local failures = 0
  for _, d in ipairs(devices) do
    local s = state[d.clientId]
    if not s.ok then failures = failures + 1 end
    print(row:format(d.clientId, s.ok and "ok" or "FAILED", s.attempts, s.reason))
  end
  print(("%d device(s), %d provisioned, %d failed"):format(#devices, #devices - failures, failures))
  return failures == 0 and 0 or 1
end

os.exit(main(arg))
