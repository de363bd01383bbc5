-- examples/fleet_healthcheck.lua — a cron runbook: check every device's connection,
-- publish an alert for each device that dropped, log one line per device.
--
--   iotlua examples/fleet_healthcheck.lua FLEET [options]
--     FLEET               a file with one clientId per line (# comments allowed), or a
--                         JSON array of clientIds
--     --alert-topic T     where alerts go (default fleet/alerts), QoS 1
--     --format plain|json log format on stdout (default: iotlua's --log-format, else
--                         plain); --json, --plain for short
--     --lock PATH         lock file (default /tmp/iotlua-fleet-healthcheck.lock), held
--                         with iotlua.lock: an flock the system drops when the run ends,
--                         however it ends
--     --deadline S        stop checking after S seconds (default 240, iotlua.deadline:
--                         checks in flight then end, none starts); devices not
--                         checked by then are logged as "skipped"
--     --concurrency N     devices checked at once (default 32)
--
-- crontab (every 5 minutes; the lock prevents overlapping runs, the deadline keeps a
-- run shorter than the interval):
--   */5 * * * * cd /opt/fleet && AWS_PROFILE=ops iotlua examples/fleet_healthcheck.lua fleet.json --json >> /var/log/fleet-health.log 2>&1
--
-- A device is "connected", "disconnected" (GetConnection says connected = false: an
-- alert is published with its disconnectReason), "unknown" (ResourceNotFoundException:
-- never connected or forgotten: an alert too), "error" (the check itself failed), or
-- "skipped" (the deadline came first). Each line is an iotlua.log line ("device", with
-- clientId, status and reason/since/alert/error as fields): info when connected, warn
-- when dropped, unknown or skipped, error when the check failed.
--
-- Exit status:
--   0  every device connected
--   1  some devices dropped (alerts published)
--   2  bad usage or unreadable fleet file
--   3  another run holds the lock (nothing checked)
--   4  the deadline came before every device was checked
--   5  some checks or alerts failed (network, credentials, service errors)
-- When several apply, the highest wins.
local iotlua = require("iotlua")
local cjson = require("cjson")

local function usage(msg)
  io.stderr:write("fleet_healthcheck: " .. msg .. "\nusage: iotlua examples/fleet_healthcheck.lua" ..
    " FLEET [--alert-topic T] [--format plain|json | --json] [--lock PATH] [--deadline S]" ..
    " [--concurrency N]\n")
  os.exit(2)
end

local function parse_args(argv)
  local opts = { ["alert-topic"] = "fleet/alerts", format = "", deadline = 240,
                 lock = "/tmp/iotlua-fleet-healthcheck.lock", concurrency = 32 }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local key = a:match("^%-%-([%a%-]+)$")
    if a == "--json" or a == "--plain" then
      opts.format, i = a:sub(3), i + 1
    elseif key and opts[key] ~= nil then
      local v = argv[i + 1] or usage(a .. " needs a value")
      if type(opts[key]) == "number" then v = tonumber(v) or usage(a .. " needs a number") end
      opts[key], i = v, i + 2
    elseif a:sub(1, 1) == "-" then
      usage("unknown option " .. a)
    else
      opts.fleet, i = a, i + 1
    end
  end
  if not opts.fleet then usage("no fleet file given") end
  if opts.format ~= "" then
    opts.format = ({ plain = "text", json = "json" })[opts.format] or
                  usage("--format is plain or json")
  else
    opts.format = nil                         -- iotlua.log's own: --log-format, else text
  end
  return opts
end

local function read_fleet(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local ids = {}
  if text:match("^%s*%[") then
    local ok, decoded = pcall(cjson.decode, text)
    if not ok then return nil, path .. ": invalid JSON" end
    for _, id in ipairs(decoded) do ids[#ids + 1] = tostring(id) end
  else
    for line in text:gmatch("[^\r\n]+") do
      local id = line:gsub("#.*", ""):match("^%s*(.-)%s*$")
      if id ~= "" then ids[#ids + 1] = id end
    end
  end
  if #ids == 0 then return nil, path .. ": no devices" end
  return ids
end

-- ------------------------------------------------------------------ checking

local function utc(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

local LEVEL = { connected = "info", disconnected = "warn", unknown = "warn", skipped = "warn",
                error = "error" }

local function log(entry)
  iotlua.log[entry.error and "error" or LEVEL[entry.status]]("device", entry)
end

-- A check the run's deadline ended (in flight, or never started by iotlua.map).
local function cut_by_deadline(err)
  return err.code == "Skipped" or (err.code == "TimeoutError" and iotlua.deadline() == 0)
end

local function check(iot, opts, id)
  local entry = { clientId = id }
  local c, err = iot:get_connection{ clientId = id }
  if c and c.connected then
    entry.status = "connected"
  elseif c then
    entry.status, entry.reason = "disconnected", c.disconnectReason
    entry.since = c.disconnectedSince
  elseif err.code == "ResourceNotFoundException" then
    entry.status, entry.reason = "unknown", "ResourceNotFoundException"
  elseif cut_by_deadline(err) then
    entry.status = "skipped"
  else
    entry.status, entry.error = "error", tostring(err)
  end
  if entry.status == "disconnected" or entry.status == "unknown" then
    -- An alert has its own budget: one found just before the deadline still goes out.
    local _, perr = iot:publish({ topic = opts["alert-topic"], qos = 1, payload = {
      clientId = id, status = entry.status, reason = entry.reason,
      disconnectedSince = entry.since, checkedAt = utc(os.time()) } }, { timeout = 10 })
    entry.alert = perr == nil
    if perr then entry.error = "alert not published: " .. tostring(perr) end
  end
  log(entry)
  return entry
end

local EXIT_OF = { connected = 0, disconnected = 1, unknown = 1, skipped = 4, error = 5 }

local function run(opts, ids)
  iotlua.deadline(opts.deadline)
  local iot = assert(iotlua.client{ timeout = 10 })
  local entries, errs = iotlua.map(ids, function(id) return check(iot, opts, id) end,
                                   { concurrency = opts.concurrency })
  local code = 0
  for i, id in ipairs(ids) do
    local e = entries[i]
    if not e then                           -- not started (skipped) or the check raised
      e = { clientId = id, status = errs[i] and cut_by_deadline(errs[i]) and "skipped"
                                    or "error" }
      log(e)
    end
    code = math.max(code, e.error and 5 or EXIT_OF[e.status])
  end
  return code
end

local opts = parse_args(arg)
local ids, err = read_fleet(opts.fleet)
if not ids then usage(err) end
iotlua.log.configure{ output = io.stdout, format = opts.format }
local lock, lerr = iotlua.lock(opts.lock)
if not lock then
  if lerr.code ~= "LockHeld" then usage(tostring(lerr)) end
  io.stderr:write(("fleet_healthcheck: another run holds %s (pid %s); exiting\n"):format(
    opts.lock, tostring(lerr.holder_pid)))
  os.exit(3)
end
local ok, code = pcall(run, opts, ids)
lock:release()
if not ok then
  io.stderr:write("fleet_healthcheck: " .. tostring(code) .. "\n")
  os.exit(5)
end
os.exit(code)
