-- End to end: the Device Shadow methods of an iotlua client (update_thing_shadow,
-- get_thing_shadow, list_named_shadows_for_thing, delete_thing_shadow) against
-- iotlua-emulator, with an iotlua.mqtt device on the shadow topics hearing the delta.
local servers = require("tools.servers")
local iotlua = require("iotlua")
local json = iotlua.json

describe("shadows from a Lua script", function()
  local emu, iot

  setup(function()
    emu = servers.emulator()
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
  end)

  teardown(function() servers.cleanup(emu) end)

  it("updates (a table payload), gets, lists and deletes, and a device hears the delta", function()
    local dev = assert(iotlua.mqtt.connect{ url = emu.mqtt, client_id = "lua-shadow-dev" })
    local delta_topic = "$aws/things/lua-thing/shadow/name/cfg/update/delta"
    assert(dev:subscribe{ delta_topic, qos = 1 })

    local r = assert(iot:update_thing_shadow{ thingName = "lua-thing", shadowName = "cfg",
      payload = { state = { desired = { fan = "HIGH" }, reported = { fan = "LOW" } } } })
    assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
    assert.equals(1, json.decode(r.payload).version)

    local m = assert(dev:receive{ topic = delta_topic, timeout = 5 })
    local delta = json.decode(m.payload)
    assert.same({ fan = "HIGH" }, delta.state)
    assert.equals(1, delta.version)

    local g = assert(iot:get_thing_shadow{ thingName = "lua-thing", shadowName = "cfg" })
    local shadow = json.decode(g.payload)
    assert.same({ fan = "HIGH" }, shadow.state.delta)
    assert.same({ fan = "LOW" }, shadow.state.reported)

    local l = assert(iot:list_named_shadows_for_thing{ thingName = "lua-thing" })
    assert.same({ "cfg" }, l.results)

    assert(iot:delete_thing_shadow{ thingName = "lua-thing", shadowName = "cfg" })
    local none, err = iot:get_thing_shadow{ thingName = "lua-thing", shadowName = "cfg" }
    assert.is_nil(none)
    assert.equals("ResourceNotFoundException", err.code)
    assert.equals(404, err.status)
    assert.equals("No shadow exists with name: 'cfg'", err.message)
    dev:disconnect()
  end)

  it("gets the 409 of a stale version as an error table", function()
    assert(iot:update_thing_shadow{ thingName = "lua-ver",
                                    payload = '{"state":{"reported":{"x":1}}}' })
    local r, err = iot:update_thing_shadow{ thingName = "lua-ver",
                                            payload = '{"state":{"reported":{"x":2}},"version":5}' }
    assert.is_nil(r)
    assert.equals("ConflictException", err.code)
    assert.equals(409, err.status)
    assert.equals("Version conflict", err.message)
  end)
end)
