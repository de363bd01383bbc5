-- iotlua.log from real iotlua processes: JSON lines parsed back field by field, the plain
-- text form, the level filter from --log-level and IOTLUA_LOG_LEVEL, --log-format over
-- IOTLUA_LOG_FORMAT, redaction (the output is searched for the secrets), and the
-- data-plane calls logged at debug level against the emulator.
local servers = require("tools.servers")
local cjson = require("cjson")

local SECRET = "wJalrXUtnFEMI-not-in-any-log"

local SCRIPT = [[
local iotlua = require("iotlua")
local log = iotlua.log
log.debug("starting", { step = 0 })
log.info("checked", { clientId = "sensor-1", connected = true, count = 3,
                      credentials = { access_key_id = "AKIDX", secret_access_key = "]] .. SECRET .. [[" },
                      session_token = "]] .. SECRET .. [[",
                      header = "AWS4-HMAC-SHA256 Credential=AKIDX/x, Signature=]] .. SECRET .. [[" })
log.warn("slow device", { clientId = "sensor 2", latency_ms = 1200 })
log.error("failed", { reason = "timeout" })
if os.getenv("WITH_CALL") then
  local iot = assert(iotlua.client{})
  assert(iot:publish{ topic = "log/t", payload = "x" })
  local _, err = iot:get_connection{ clientId = "nobody" }
  assert(err)
end
]]

local function run(args, env)
  local dir = servers.tmpdir()
  local path = dir .. "/log.lua"
  servers.write_file(path, SCRIPT)
  local argv = {}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local parts = { "env" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = servers.shell_quote(k .. "=" .. v) end
  parts[#parts + 1] = servers.shell_quote(servers.build_dir .. "/iotlua")
  for _, a in ipairs(argv) do parts[#parts + 1] = servers.shell_quote(a) end
  parts[#parts + 1] = servers.shell_quote(path)
  local out = servers.run(table.concat(parts, " ") .. " 2>&1 >/dev/null")
  os.execute("rm -rf " .. servers.shell_quote(dir))
  assert.is_nil(out:find(SECRET, 1, true), "a secret reached the log: " .. out)
  local lines = {}
  for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines, out
end

describe("iotlua.log", function()
  it("writes JSON lines with RFC 3339 UTC times, fields and secrets redacted", function()
    local lines = run({ "--log-format", "json" })
    assert.equals(3, #lines)                       -- info and up by default
    local rec = cjson.decode(lines[1])
    assert.equals("info", rec.level)
    assert.equals("checked", rec.message)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", rec.time)
    assert.equals("sensor-1", rec.clientId)
    assert.is_true(rec.connected)
    assert.equals(3, rec.count)
    assert.equals("[redacted]", rec.credentials)   -- the name says credentials
    assert.equals("[redacted]", rec.session_token)
    assert.equals("[redacted]", rec.header)        -- the value carries a signature
    assert.equals("warn", cjson.decode(lines[2]).level)
    assert.equals(1200, cjson.decode(lines[2]).latency_ms)
    assert.equals("error", cjson.decode(lines[3]).level)
  end)

  it("writes text lines by default, and filters by level (flag over environment)", function()
    local lines = run({}, { IOTLUA_LOG_LEVEL = "warn" })
    assert.equals(2, #lines)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ WARN slow device " ..
                   "clientId=\"sensor 2\" latency_ms=1200$", lines[1])
    assert.matches(" ERROR failed reason=timeout$", lines[2])
    lines = run({ "--log-level", "debug" }, { IOTLUA_LOG_LEVEL = "error" })
    assert.equals(4, #lines)
    assert.matches(" DEBUG starting step=0$", lines[1])
    lines = run({ "--log-format", "text" }, { IOTLUA_LOG_FORMAT = "json" })
    assert.matches(" INFO checked ", lines[1])
    lines = run({}, { IOTLUA_LOG_FORMAT = "json", IOTLUA_LOG_LEVEL = "error" })
    assert.equals(1, #lines)
    assert.equals("failed", cjson.decode(lines[1]).message)
  end)

  it("logs each data-plane call at debug level", function()
    local emu = servers.emulator()
    local env = emu:env{ WITH_CALL = "1" }
    local lines = run({ "--log-format", "json", "--log-level", "debug" }, env)
    local calls = {}
    for _, l in ipairs(lines) do
      local rec = cjson.decode(l)
      if rec.message == "call" then calls[#calls + 1] = rec end
    end
    assert.equals(2, #calls)
    assert.equals("Publish", calls[1].operation)
    assert.equals(200, calls[1].status)
    assert.equals(1, calls[1].attempts)
    assert.is_true(calls[1].duration_ms >= 0)
    assert.equals("GetConnection", calls[2].operation)
    assert.equals(404, calls[2].status)
    assert.equals("ResourceNotFoundException", calls[2].code)
    -- at info level the calls are not logged
    lines = run({ "--log-format", "json" }, env)
    servers.cleanup(emu)
    assert.equals(3, #lines)
    for _, l in ipairs(lines) do assert.not_equals("call", cjson.decode(l).message) end
  end)

  it("refuses a bad --log-format or --log-level, naming the choices", function()
    local out = servers.run(servers.shell_quote(servers.build_dir .. "/iotlua") ..
                            " --log-format yaml -e 'print(1)' 2>&1")
    assert.matches("'%-%-log%-format' needs one of: text, json", out)
  end)
end)
