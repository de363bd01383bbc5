-- examples/fleet_healthcheck.lua end to end: a fleet with a connected device, one that
-- dropped and one never seen; the alerts arrive at a real watcher device; the lock, the
-- deadline and the exit codes.
local servers = require("tools.servers")
local cjson = require("cjson")
local iotlua = require("iotlua")

local SCRIPT = servers.source_dir .. "/examples/fleet_healthcheck.lua"

local function json_lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local ok, v = pcall(cjson.decode, line)
    if ok and type(v) == "table" then out[v.clientId] = v end
  end
  return out
end

describe("examples/fleet_healthcheck.lua", function()
  local emu, dir, fleet, lock, watcher

  setup(function()
    emu = servers.emulator()
    dir = servers.tmpdir()
    lock = dir .. "/run.lock"
    fleet = dir .. "/fleet.txt"
    servers.write_file(fleet, "# the fleet\nhc-up\nhc-dropped   # went away\nhc-never\n")
    servers.device(emu, "hc-up")
    local dropped = servers.device(emu, "hc-dropped")
    dropped:kill()                                   -- no DISCONNECT: connection lost
    watcher = servers.device(emu, "hc-watcher", { topics = { "fleet/alerts" } })
  end)

  teardown(function() servers.cleanup(emu, dir) end)

  -- Another iotlua process that takes the lock and keeps it, as an overlapping run would.
  local function hold_lock(name)
    local ready = dir .. "/" .. name .. ".ready"
    local chunk = ("local iotlua = require('iotlua') local l = assert(iotlua.lock(%q)) " ..
                   "io.open(%q, 'w'):close() iotlua.sleep(60)"):format(lock, ready)
    local proc = servers.spawn({ servers.build_dir .. "/iotlua", "-e", chunk }, dir, name)
    assert(servers.wait_until(function() return servers.read_file(ready) ~= nil end, 10, 0.05),
           name .. " never took the lock")
    return proc
  end

  local function run(args)
    local argv = { fleet, "--lock", lock }
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    return servers.run_iotlua(SCRIPT, argv, emu:env())
  end

  it("logs one JSON line per device, alerts for the two missing ones, exits 1", function()
    -- wait until the emulator noticed the dropped connection
    servers.wait_until(function()
      local res = run{ "--format", "json" }
      return json_lines(res.stdout)["hc-dropped"] and
             json_lines(res.stdout)["hc-dropped"].status == "disconnected"
    end, 5, 0.2)
    local before = #watcher:messages()
    local res = run{ "--format", "json" }
    assert.equals(1, res.status, res.stdout .. res.stderr)
    local lines = json_lines(res.stdout)
    assert.equals("connected", lines["hc-up"].status)
    assert.equals("disconnected", lines["hc-dropped"].status)
    assert.equals("CONNECTION_LOST", lines["hc-dropped"].reason)
    assert.is_true(lines["hc-dropped"].alert)
    assert.equals("unknown", lines["hc-never"].status)
    assert.is_true(lines["hc-never"].alert)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", lines["hc-up"].time)
    assert.equals("info", lines["hc-up"].level)            -- iotlua.log's JSON lines
    assert.equals("warn", lines["hc-dropped"].level)
    assert.equals("device", lines["hc-never"].message)
    local _, count = res.stdout:gsub("\n", "")
    assert.equals(3, count)

    local alerts = watcher:wait_messages(before + 2, "fleet/alerts")
    local by_id = {}
    for i = before + 1, #alerts do
      local a = cjson.decode(alerts[i].payload)
      by_id[a.clientId] = a
    end
    assert.equals("disconnected", by_id["hc-dropped"].status)
    assert.equals("unknown", by_id["hc-never"].status)
    assert.is_nil(by_id["hc-up"])
    local again = assert(iotlua.lock(lock), "the lock is released")
    again:release()
  end)

  it("logs plain lines by default", function()
    local res = run()
    assert.equals(1, res.status)
    assert.matches("Z INFO device clientId=hc%-up status=connected\n", res.stdout)
    assert.matches("Z WARN device alert=true clientId=hc%-dropped reason=CONNECTION_LOST " ..
                   "since=%d+ status=disconnected\n", res.stdout)
    assert.matches("Z WARN device alert=true clientId=hc%-never reason=ResourceNotFoundException " ..
                   "status=unknown\n", res.stdout)
  end)

  it("exits 0 when every device is connected (JSON fleet, --json as in the README's crontab)", function()
    local ok_fleet = dir .. "/ok.json"
    servers.write_file(ok_fleet, '["hc-up", "hc-watcher"]')
    local res = servers.run_iotlua(SCRIPT, { ok_fleet, "--json", "--lock", lock }, emu:env())
    assert.equals(0, res.status, res.stdout .. res.stderr)
    local lines = json_lines(res.stdout)
    assert.equals("connected", lines["hc-up"].status)
    assert.equals("connected", lines["hc-watcher"].status)
  end)

  it("never overlaps a running check: exit 3 while another process holds the lock", function()
    -- another iotlua process holds it, as an overlapping run would
    local holder = hold_lock("holder")
    local res = run()
    assert.equals(3, res.status, res.stdout .. res.stderr)
    assert.matches("another run holds .* %(pid " .. holder.pid .. "%)", res.stderr)
    assert.equals("", res.stdout)
    servers.stop(holder)
  end)

  it("runs when the run holding the lock was killed, and when a lock file is left behind", function()
    local holder = hold_lock("killed")
    servers.signal(holder, "KILL")
    servers.wait_until(function() return not servers.alive(holder.pid) end, 5, 0.05)
    assert.is_truthy(io.open(lock), "the lock file is still there")
    local res = run()
    assert.equals(1, res.status, res.stderr)
  end)

  it("exits 2 when the lock path cannot be used", function()
    local res = run{ "--lock", dir .. "/no/such/dir/run.lock" }
    assert.equals(2, res.status)
    assert.matches("LockError", res.stderr)
  end)

  it("stops at the deadline: devices not checked are skipped, exit 4", function()
    local res = run{ "--deadline", "0", "--format", "json" }
    assert.equals(4, res.status)
    local lines = json_lines(res.stdout)
    assert.equals("skipped", lines["hc-up"].status)
    assert.equals("skipped", lines["hc-never"].status)
  end)

  it("exits 5 when the checks themselves fail", function()
    local res = servers.run_iotlua(SCRIPT, { fleet, "--lock", lock },
                                   emu:env{ AWS_SECRET_ACCESS_KEY = "wrong-secret" })
    assert.equals(5, res.status)
    assert.matches("hc%-up error", res.stdout)
    assert.is_nil(res.stdout:find("wrong-secret", 1, true))
  end)

  it("exits 2 on bad usage", function()
    assert.equals(2, run{ "--format", "xml" }.status)
    assert.equals(2, servers.run_iotlua(SCRIPT, { dir .. "/missing.txt" }, emu:env()).status)
  end)
end)
