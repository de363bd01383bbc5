-- examples/provision.lua end to end: the emulator, real devices, the script run by the
-- iotlua host exactly as a user runs it (configuration only from the environment).
local servers = require("tools.servers")
local cjson = require("cjson")
local iotlua = require("iotlua")

local SCRIPT = servers.source_dir .. "/examples/provision.lua"

local function rows(stdout)
  local out = {}
  for line in stdout:gmatch("[^\n]+") do
    local id, status, attempts, detail = line:match("^(%S+)%s+(%S+)%s+(%d+)%s+(.*)$")
    if id and id ~= "DEVICE" then out[id] = { status = status, attempts = tonumber(attempts), detail = detail } end
  end
  return out
end

describe("examples/provision.lua", function()
  local emu, dir, devices

  setup(function()
    emu = servers.emulator()
    dir = servers.tmpdir()
    devices = {
      servers.device(emu, "prov-1", { topics = { "config/#" } }),
      servers.device(emu, "prov-2", { topics = { "config/#" }, mqtt = "311" }),
      servers.device(emu, "prov-3", { topics = { "other/#" } }),
    }
  end)

  teardown(function() servers.cleanup(emu, dir) end)

  it("provisions every device of a JSON list and exits 0", function()
    local list = dir .. "/devices.json"
    servers.write_file(list, cjson.encode{
      { clientId = "prov-1", config = { rate = 5 }, subscription = "config/#" },
      { clientId = "prov-2", topic = "config/set", config = { rate = 7 }, subscription = "config/#" },
    })
    local res = servers.run_iotlua(SCRIPT, { list, "--pause", "0" }, emu:env())
    assert.equals(0, res.status, res.stdout .. res.stderr)
    local t = rows(res.stdout)
    assert.same({ status = "ok", attempts = 1, detail = "ok" }, t["prov-1"])
    assert.same({ status = "ok", attempts = 1, detail = "ok" }, t["prov-2"])
    assert.matches("2 device%(s%), 2 provisioned, 0 failed", res.stdout)
    local m1 = devices[1]:wait_messages(1, "config/apply")[1]
    assert.same({ rate = 5 }, cjson.decode(m1.payload))
    local m2 = devices[2]:wait_messages(1, "config/set")[1]
    assert.same({ rate = 7 }, cjson.decode(m2.payload))
  end)

  it("reports each failure in the table and exits 1 (CSV list)", function()
    local list = dir .. "/devices.csv"
    servers.write_file(list, table.concat({
      "clientId,topic,config,subscription",
      'prov-1,config/apply,"{""mode"":""eco""}",config/#',
      "prov-offline,config/apply,{},",
      "prov-3,config/apply,{},config/#",            -- connected, but not subscribed to it
      "",
    }, "\n"))
    local res = servers.run_iotlua(SCRIPT, { list, "--rounds", "2", "--pause", "0",
                                             "--timeout", "2" }, emu:env())
    assert.equals(1, res.status, res.stdout .. res.stderr)
    local t = rows(res.stdout)
    assert.equals("ok", t["prov-1"].status)
    assert.equals("FAILED", t["prov-offline"].status)
    assert.equals(2, t["prov-offline"].attempts)           -- retried in round 2
    assert.matches("ResourceNotFoundException", t["prov-offline"].detail)
    assert.equals("FAILED", t["prov-3"].status)
    assert.matches("not subscribed to config/#", t["prov-3"].detail)
    assert.matches("3 device%(s%), 1 provisioned, 2 failed", res.stdout)
    local m = devices[1]:wait_messages(2, "config/apply")
    assert.same({ mode = "eco" }, cjson.decode(m[#m].payload))
  end)

  it("retries a device whose first attempt failed, and then succeeds", function()
    -- one injected non-retryable failure: round 1 fails it, round 2 provisions it
    local status = emu:control("POST", "/_emulator/faults?operation=SendDirectMessage" ..
                               "&status=400&errorCode=InvalidRequestException&count=1")
    assert.equals(201, status)
    local list = dir .. "/one.json"
    servers.write_file(list, cjson.encode{ { clientId = "prov-1", config = { n = 1 } } })
    local res = servers.run_iotlua(SCRIPT, { list, "--pause", "0" }, emu:env())
    assert.equals(0, res.status, res.stdout .. res.stderr)
    assert.same({ status = "ok", attempts = 2, detail = "ok" }, rows(res.stdout)["prov-1"])
    assert.matches("round 1: 0 ok, 1 failed", res.stderr)
  end)

  it("finds a subscription on a later page of ListSubscriptions", function()
    local topics = {}
    for i = 1, 30 do topics[i] = ("many/%02d"):format(i) end
    servers.device(emu, "prov-many", { topics = topics })
    local iot = assert(iotlua.client(emu:client_options()))
    local first = servers.wait_until(function()
      local page = iot:list_subscriptions{ clientId = "prov-many" }
      return page and page.nextToken and page
    end, 5, 0.1)
    assert.is_table(first, "ListSubscriptions never came in pages")
    local on_first = {}
    for _, sub in ipairs(first.subscriptions) do on_first[sub.topicFilter] = true end
    local later
    for _, t in ipairs(topics) do if not on_first[t] then later = t end end
    assert.is_string(later)
    local list = dir .. "/many.json"
    servers.write_file(list, cjson.encode{ { clientId = "prov-many", topic = "many/01",
                                             config = { n = 1 }, subscription = later } })
    local res = servers.run_iotlua(SCRIPT, { list, "--pause", "0" }, emu:env())
    assert.equals(0, res.status, res.stdout .. res.stderr)
    assert.same({ status = "ok", attempts = 1, detail = "ok" }, rows(res.stdout)["prov-many"])
    assert.matches("INFO round 1: 1 ok, 0 failed", res.stderr)
  end)

  it("rejects a bad device list with exit status 2", function()
    local list = dir .. "/bad.csv"
    servers.write_file(list, 'clientId,config\n"unterminated,{}\n')
    local res = servers.run_iotlua(SCRIPT, { list }, emu:env())
    assert.equals(2, res.status)
    assert.matches("line 2: unterminated quoted field", res.stderr)
    res = servers.run_iotlua(SCRIPT, {}, emu:env())
    assert.equals(2, res.status)
    assert.matches("usage:", res.stderr)
  end)
end)
