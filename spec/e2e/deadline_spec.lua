-- Deadlines (issue 17, point 3), from real iotlua processes: --deadline ends a slow call
-- in flight against a test server with TimeoutError, the script's cleanup still runs
-- (a <close> handler, a call with its own timeout) and the exit status is 124; map
-- starts no item after the deadline and reports the rest as skipped; iotlua.deadline
-- moves the deadline earlier, never later; a call's own { timeout = s } ends it alone;
-- an MQTT wait ends at the deadline; the hard stop after --deadline-grace; bad values.
local servers = require("tools.servers")

local PRELUDE = [[
local iotlua = require("iotlua")
local function client(extra)
  local o = { endpoint = os.getenv("ENDPOINT"), region = "us-east-1", max_attempts = 1,
              credentials = { access_key_id = "AKIDEXAMPLE", secret_access_key = "s" } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return assert(iotlua.client(o))
end
local t0 = require("iotlua.core").now()
local function elapsed() return require("iotlua.core").now() - t0 end
]]

-- Runs PRELUDE .. body with build/iotlua and the host options given; returns
-- { status =, stdout =, stderr =, seconds = } (seconds: the wall time of the process).
local function run(host_args, body, env)
  local dir = servers.tmpdir()
  local path = dir .. "/script.lua"
  servers.write_file(path, PRELUDE .. body)
  local parts = { "env" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = servers.shell_quote(k .. "=" .. v) end
  parts[#parts + 1] = servers.shell_quote(servers.build_dir .. "/iotlua")
  for _, a in ipairs(host_args) do parts[#parts + 1] = servers.shell_quote(a) end
  parts[#parts + 1] = servers.shell_quote(path)
  local out_file, err_file = dir .. "/stdout", dir .. "/stderr"
  local clock = io.popen("date +%s.%N"):read("a")
  local status = tonumber((servers.run(table.concat(parts, " ") .. " >" ..
                                       servers.shell_quote(out_file) .. " 2>" ..
                                       servers.shell_quote(err_file) .. "; echo $?")))
  local seconds = tonumber(io.popen("date +%s.%N"):read("a")) - tonumber(clock)
  local function slurp(f)
    local h = io.open(f, "r")
    local s = h and h:read("a") or ""
    if h then h:close() end
    return s
  end
  local res = { status = status, stdout = slurp(out_file), stderr = slurp(err_file),
                seconds = seconds }
  os.execute("rm -rf " .. servers.shell_quote(dir))
  return res
end

local function lines_of(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^(%S+)=(.*)$")
    if k then t[k] = v end
  end
  return t
end

describe("deadlines", function()
  local rec

  setup(function() rec = servers.recording() end)
  teardown(function() servers.cleanup() end)
  before_each(function() rec:clear() end)

  it("--deadline ends a slow call with TimeoutError; cleanup runs; exit status 124", function()
    rec:set_default({ status = 200, body = "{}" })
    rec:script({ { delay = 8 } })
    local r = run({ "--deadline", "1" }, [[
local iot = client()
do
  local guard <close> = setmetatable({}, { __close = function() print("closed=yes") end })
  local ok, err = iot:publish{ topic = "slow/1", payload = "x" }
  print("ok=" .. tostring(ok))
  print("code=" .. err.code)
  print("message=" .. err.message)
  print("retryable=" .. tostring(err.retryable))
  print("attempts=" .. tostring(err.attempts))
  print("elapsed=" .. string.format("%.2f", elapsed()))
end
local _, late = iot:publish{ topic = "late/1", payload = "x" }
print("late_code=" .. late.code)
print("late_attempts=" .. tostring(late.attempts))
print("left=" .. tostring(iotlua.deadline()))
local ok = iot:publish({ topic = "cleanup/1", payload = "done" }, { timeout = 5 })
print("cleanup=" .. tostring(ok ~= nil))
]], { ENDPOINT = rec.url })
    local out = lines_of(r.stdout)
    assert.equals(124, r.status, r.stderr)
    assert.equals("nil", out.ok)
    assert.equals("TimeoutError", out.code)
    assert.matches("^deadline passed", out.message)
    assert.equals("false", out.retryable)
    assert.equals("1", out.attempts)
    assert.is_true(tonumber(out.elapsed) >= 0.9 and tonumber(out.elapsed) < 3, out.elapsed)
    assert.equals("yes", out.closed)
    assert.equals("TimeoutError", out.late_code)
    assert.equals("0", out.late_attempts)          -- failed at once: nothing was sent
    assert.equals("0", out.left)
    assert.equals("true", out.cleanup)
    -- the server saw the slow publish and the cleanup, never the late one
    local topics = {}
    for _, q in ipairs(rec:requests()) do topics[#topics + 1] = q.path end
    local joined = table.concat(topics, " ")
    assert.matches("slow%%2F1", joined)
    assert.matches("cleanup%%2F1", joined)
    assert.is_nil(joined:find("late%2F1", 1, true))
  end)

  it("map starts no item after the deadline and reports the rest as skipped", function()
    rec:set_default({ status = 200, body = "{}", delay = 0.4 })
    local r = run({ "--deadline", "1.5", "--quiet" }, [[
local iot = client()
local items = {}
for i = 1, 30 do items[i] = i end
local results, errs = iotlua.map(items, function(i)
  return iot:publish{ topic = "map/" .. i, payload = "x" }
end, { concurrency = 2 })
local done, timed_out, skipped, first_skipped = 0, 0, 0, nil
for i = 1, 30 do
  if results[i] then done = done + 1
  elseif errs[i].code == "Skipped" then
    skipped = skipped + 1
    assert(errs[i].skipped == true)
    first_skipped = first_skipped or errs[i].message
  elseif errs[i].code == "TimeoutError" then timed_out = timed_out + 1 end
end
print("done=" .. done)
print("timed_out=" .. timed_out)
print("skipped=" .. skipped)
print("skipped_message=" .. tostring(first_skipped))
print("elapsed=" .. string.format("%.2f", elapsed()))
]], { ENDPOINT = rec.url })
    local out = lines_of(r.stdout)
    assert.equals(124, r.status, r.stderr)
    local done, timed_out, skipped = tonumber(out.done), tonumber(out.timed_out),
                                     tonumber(out.skipped)
    assert.equals(30, done + timed_out + skipped, r.stdout)
    -- ~3 rounds of 2 in 1.5 s; the (at most two) items in flight at the deadline end
    -- with TimeoutError; on a loaded machine one may finish just before it
    assert.is_true(done >= 1 and done <= 8, r.stdout)
    assert.is_true(timed_out >= 1 and timed_out <= 2, r.stdout)
    assert.is_true(skipped >= 20, r.stdout)
    assert.matches("skipped: the run's deadline passed", out.skipped_message)
    assert.is_true(tonumber(out.elapsed) < 4, out.elapsed)
    assert.equals(done + timed_out, #rec:requests())      -- skipped items sent nothing
  end)

  it("iotlua.deadline moves the deadline earlier, never later, and reports what is left", function()
    rec:set_default({ status = 200, body = "{}" })
    rec:script({ { delay = 8 } })
    local r = run({ "--deadline", "30" }, [[
print("initial_ok=" .. tostring(iotlua.deadline() > 29 and iotlua.deadline() <= 30))
print("later_ignored=" .. tostring(iotlua.deadline(100) <= 30))
local left = iotlua.deadline(0.5)
print("earlier=" .. tostring(left > 0.4 and left <= 0.5))
local _, err = client():publish{ topic = "slow/2", payload = "x" }
print("code=" .. err.code)
print("elapsed=" .. string.format("%.2f", elapsed()))
]], { ENDPOINT = rec.url })
    local out = lines_of(r.stdout)
    assert.equals(124, r.status, r.stderr)
    assert.equals("true", out.initial_ok)
    assert.equals("true", out.later_ignored)
    assert.equals("true", out.earlier)
    assert.equals("TimeoutError", out.code)
    assert.is_true(tonumber(out.elapsed) < 2, out.elapsed)
  end)

  it("without --deadline there is none until iotlua.deadline sets one", function()
    rec:set_default({ status = 200, body = "{}" })
    local r = run({}, [[
print("none=" .. tostring(iotlua.deadline() == nil))
assert(client():publish{ topic = "fast/1", payload = "x" })
print("published=yes")
]], { ENDPOINT = rec.url })
    local out = lines_of(r.stdout)
    assert.equals(0, r.status, r.stderr)
    assert.equals("true", out.none)
    assert.equals("yes", out.published)
  end)

  it("iotlua.deadline refuses what is not a number of seconds >= 0, naming it", function()
    local r = run({}, [[
for _, bad in ipairs({ -1, 0/0, "10", true }) do
  local ok, err = pcall(iotlua.deadline, bad)
  print(type(bad) .. tostring(bad) .. "=" .. tostring(ok) .. "|" .. tostring(err))
end
print("still_none=" .. tostring(iotlua.deadline() == nil))
]])
    assert.equals(0, r.status, r.stderr)
    local out = lines_of(r.stdout)
    for key, shown in pairs({ ["number-1"] = "got %-1", ["string10"] = "got string",
                              ["booleantrue"] = "got boolean" }) do
      assert.is_truthy(out[key], r.stdout)
      assert.matches("^false|.*bad argument #1 to 'deadline' %(a number of seconds >= 0 " ..
                     "expected, " .. shown, out[key])
    end
    local nan_line = r.stdout:match("number%-?nan=([^\n]*)")
    assert.is_truthy(nan_line, r.stdout)
    assert.matches("^false|.*seconds >= 0 expected, got %-?nan", nan_line)
    assert.equals("true", out.still_none)
  end)

  it("a call's own timeout ends that call, counting its attempts", function()
    rec:set_default({ status = 200, body = "{}" })
    rec:script({ { status = 503, body = "{}" }, { delay = 8 } })
    local r = run({}, [[
local iot = client{ max_attempts = 5 }
local _, err = iot:publish({ topic = "budget/1", payload = "x" }, { timeout = 2.5 })
print("code=" .. err.code)
print("message=" .. err.message)
print("attempts=" .. tostring(err.attempts))
print("elapsed=" .. string.format("%.2f", elapsed()))
local ok, bad = pcall(iot.publish, iot, { topic = "x", payload = "x" }, { timout = 1 })
print("misuse=" .. tostring(not ok and bad:match("unknown call option 'timout'") ~= nil))
ok, bad = pcall(iot.publish, iot, { topic = "x", payload = "x" }, { timeout = -1 })
print("negative=" .. tostring(not ok and bad:match("'timeout' must be a number") ~= nil))
assert(iot:publish{ topic = "after/1", payload = "x" })
print("usable=yes")
]], { ENDPOINT = rec.url })
    local out = lines_of(r.stdout)
    assert.equals(0, r.status, r.stderr)
    assert.equals("TimeoutError", out.code)
    assert.matches("^call timeout: the call's timeout of 2500 ms passed", out.message)
    -- the 503, then (after a backoff of at most 1 s) the slow retry: both in the budget
    assert.equals("2", out.attempts)
    assert.is_true(tonumber(out.elapsed) >= 2.4 and tonumber(out.elapsed) < 4.5, out.elapsed)
    assert.equals("true", out.misuse)
    assert.equals("true", out.negative)
    assert.equals("yes", out.usable)
  end)

  it("the hard stop ends a script still running --deadline-grace after the deadline", function()
    local r = run({ "--deadline", "0.3", "--deadline-grace", "0.4" }, [[
print("started=yes")
io.stdout:flush()
while true do end
]])
    assert.equals(124, r.status)
    assert.equals("yes", lines_of(r.stdout).started)
    assert.matches("had not ended 0.4 s after its deadline of 0.3 s", r.stderr)
    assert.is_true(r.seconds < 3, tostring(r.seconds))
  end)

  it("refuses bad --deadline values with a message naming the option", function()
    for _, args in ipairs({ { "--deadline", "soon" }, { "--deadline", "0" },
                            { "--deadline", "-3" }, { "--deadline-grace", "x" },
                            { "--deadline" } }) do
      local r = run(args, "print('ran')")
      assert.equals(1, r.status, table.concat(args, " "))
      local wanted = "'" .. args[1] .. "' needs a number of seconds > 0"
      assert.is_truthy(r.stderr:find(wanted, 1, true), r.stderr)
      assert.equals("", r.stdout)
    end
  end)
end)

describe("deadlines and MQTT waits", function()
  local emu

  setup(function() emu = servers.emulator() end)
  teardown(function() servers.cleanup(emu) end)

  it("a receive with a long timeout ends at the deadline with TimeoutError", function()
    local r = run({ "--deadline", "1" }, [[
local conn = assert(iotlua.mqtt.connect{ url = os.getenv("MQTT_URL"), client_id = "dl-1" })
assert(conn:subscribe{ "dl/#", qos = 1 })
local m, err = conn:receive{ topic = "dl/#", timeout = 30 }
print("code=" .. err.code)
print("message=" .. err.message)
print("elapsed=" .. string.format("%.2f", elapsed()))
conn:close()
]], { MQTT_URL = emu.mqtt })
    local out = lines_of(r.stdout)
    assert.equals(124, r.status, r.stderr)
    assert.equals("TimeoutError", out.code)
    assert.matches("^deadline passed: no message on 'dl/#'", out.message)
    assert.is_true(tonumber(out.elapsed) >= 0.9 and tonumber(out.elapsed) < 3, out.elapsed)
  end)
end)
