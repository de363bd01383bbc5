-- The two examples that are whole programs around real devices: examples/qa_device_spec.lua
-- (a busted spec users copy) run by busted as a user would, and scripts/demo.
local servers = require("tools.servers")

describe("examples/qa_device_spec.lua", function()
  local emu

  setup(function() emu = servers.emulator() end)
  teardown(function() servers.cleanup(emu) end)

  it("passes all five steps against the emulator with a simulated device", function()
    local env = emu:env{ QA_MQTT_URL = emu.mqtt, QA_DEVICE_ID = "qa-example-1" }
    local parts = { "env" }
    for k, v in pairs(env) do parts[#parts + 1] = servers.shell_quote(k .. "=" .. v) end
    local out, code = servers.run(table.concat(parts, " ") ..
      " lua5.4 /usr/bin/busted --output=TAP " ..
      servers.shell_quote(servers.source_dir .. "/examples/qa_device_spec.lua") .. " 2>&1")
    assert.equals(0, code, out)
    for _, name in ipairs{ "connects", "has its subscription listed",
                           "confirms a direct message", "answers a command",
                           "drops, and GetConnection says why" } do
      assert.matches("\nok %d+ %- device under test " .. name:gsub("%p", "%%%0"), "\n" .. out)
    end
    assert.matches("1%.%.5", out)
    assert.is_nil(out:find("not ok", 1, true), out)
  end)

  it("fails, naming the step, when the device cannot connect", function()
    local env = emu:env{ QA_MQTT_URL = "mqtt://127.0.0.1:1", QA_DEVICE_ID = "qa-example-2" }
    local parts = { "env" }
    for k, v in pairs(env) do parts[#parts + 1] = servers.shell_quote(k .. "=" .. v) end
    local out, code = servers.run(table.concat(parts, " ") ..
      " lua5.4 /usr/bin/busted --output=TAP " ..
      servers.shell_quote(servers.source_dir .. "/examples/qa_device_spec.lua") .. " 2>&1")
    assert.are_not.equal(0, code)
    assert.matches("not ok 1 %- device under test connects", out)
    assert.matches("the device could not connect: NetworkError", out)
    assert.matches("not ok 3 %- device under test confirms a direct message", out)
  end)
end)

describe("scripts/demo", function()
  it("runs the round trip with three devices, prints what they received, exits 0", function()
    local out, code = servers.run("cd " .. servers.shell_quote(servers.source_dir) ..
      " && IOTLUA_DEMO_SKIP_BUILD=1 IOTLUA_BUILD_DIR=" .. servers.shell_quote(servers.build_dir) ..
      " scripts/demo 2>&1")
    assert.equals(0, code, out)
    assert.matches("send_direct_message %(confirmation = true%)", out)
    assert.matches("connected: true", out)
    assert.matches("topicFilter: devices/sensor%-1/#", out)
    for _, id in ipairs{ "sensor-1", "sensor-2", "sensor-3" } do
      local section = out:match("%-%- " .. id:gsub("%-", "%%-") .. "\n(.-)\n[%-=][%-=] ")
      assert.is_string(section, "no section for " .. id .. "\n" .. out)
      assert.matches("fleet/alerts sensor%-1 is connected", section)
    end
    local s1 = out:match("%-%- sensor%-1\n(.-)\n%-%- ")
    assert.matches("cmd/hello {", s1)
    assert.matches("%(2 QoS 1 message%(s%) acknowledged", s1)
    -- the request-response example: three answers from the device task, and its connection
    assert.matches("temperature  %-> {\"celsius\":21.5}", out)
    assert.matches("firmware     %-> {\"version\":\"1.4.2\"}", out)
    assert.matches("uptime       %-> {\"seconds\":%d+}", out)
    assert.matches("thermostat%-1 connected: true", out)

    -- it stopped everything it started: no emulator with its ready file, no device on its port
    local port = assert(out:match("MQTT broker mqtt://127%.0%.0%.1:(%d+)"))
    local left = servers.run("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done")
    for line in left:gmatch("[^\n]+") do
      assert.is_nil(line:find("iotlua-demo.", 1, true), "left running: " .. line)
      assert.is_falsy(line:find("mosquitto_sub", 1, true) and line:find("-p " .. port .. " ", 1, true),
                      "left running: " .. line)
    end
  end)

  it("runs examples/direct_message_roundtrip.lua on stock lua5.4 with the module too", function()
    local emu = servers.emulator()
    servers.device(emu, "stock-1", { topics = { "fleet/#" } })
    local parts = { "env" }
    for k, v in pairs(emu:env()) do parts[#parts + 1] = servers.shell_quote(k .. "=" .. v) end
    local out, code = servers.run(table.concat(parts, " ") .. " lua5.4 " ..
      servers.shell_quote(servers.source_dir .. "/examples/direct_message_roundtrip.lua") ..
      " stock-1 fleet/alerts 2>&1")
    assert.equals(0, code, out)
    assert.matches("connected: true", out)
    servers.stop_all()
    emu:cleanup()
  end)
end)
