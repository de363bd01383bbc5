-- End to end: every operation from iotlua (the module, in this busted process) against
-- iotlua-emulator, with real MQTT devices (mosquitto_sub, MQTT 5 and 3.1.1) receiving
-- and acknowledging.
local servers = require("tools.servers")
local iotlua = require("iotlua")

local function find(list, pred)
  for _, v in ipairs(list) do if pred(v) then return v end end
end

describe("iotlua against the emulator with real devices", function()
  local emu, iot, v5, v311

  setup(function()
    emu = servers.emulator()
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
    v5 = servers.device(emu, "e2e-v5", { topics = { "fleet/#", "e2e-v5/cmd/#" }, persistent = true })
    v311 = servers.device(emu, "e2e-v311", { topics = { "fleet/alerts" }, mqtt = "311" })
  end)

  teardown(function() servers.cleanup(emu) end)

  it("resolves the endpoint and region it was given", function()
    assert.equals(emu.http, (iot.endpoint:gsub("/$", "")))
    assert.equals("us-east-1", iot.region)
  end)

  describe("publish", function()
    it("delivers a QoS 1 message with its MQTT 5 properties to every subscriber", function()
      local r, err = iot:publish{
        topic = "fleet/alerts", qos = 1, payload = "battery low",
        contentType = "text/plain", responseTopic = "fleet/replies",
        userProperties = { { severity = "high" }, { site = "lab 2" } },
        payloadFormatIndicator = "UTF8_DATA", correlationData = "YWJj", messageExpiry = 600,
      }
      assert.is_nil(err)
      assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
      assert.is_string(r.ResponseMetadata.RequestId)

      local m = v5:wait_messages(1, "fleet/alerts")[1]
      assert.is_table(m, v5:log())
      assert.equals("battery low", m.payload)
      assert.equals(1, m.qos)
      assert.equals("text/plain", m.properties["content-type"])
      assert.equals("fleet/replies", m.properties["response-topic"])
      assert.same({ severity = "high", site = "lab 2" }, m.properties["user-properties"])
      assert.equals(1, m.properties["payload-format-indicator"])
      assert.equals("abc", m.properties["correlation-data"])

      local old = v311:wait_messages(1, "fleet/alerts")[1]
      assert.is_table(old, v311:log())
      assert.equals("battery low", old.payload)
      assert.same({}, old.properties)                 -- MQTT 3.1.1 has none
    end)

    it("JSON-encodes a table payload and streams a file payload", function()
      assert(iot:publish{ topic = "fleet/table", qos = 1, payload = { temp = 21, ok = true } })
      local path = os.tmpname()
      servers.write_file(path, ("0123456789"):rep(1000))
      local f = assert(io.open(path, "rb"))
      assert(iot:publish{ topic = "fleet/file", qos = 1, payload = f })
      f:close()
      os.remove(path)
      local t = v5:wait_messages(1, "fleet/table")[1]
      assert.same({ temp = 21, ok = true }, require("cjson").decode(t.payload))
      local fm = v5:wait_messages(1, "fleet/file")[1]
      assert.equals(10000, #fm.payload)
    end)

    it("keeps a retained message for devices that subscribe later", function()
      assert(iot:publish{ topic = "fleet/config", qos = 1, retain = true, payload = "v42" })
      v5:wait_messages(1, "fleet/config")
      local late = servers.device(emu, "e2e-late", { topics = { "fleet/config" } })
      local m = late:wait_messages(1, "fleet/config")[1]
      assert.is_table(m, late:log())
      assert.equals("v42", m.payload)
      assert.equals(1, m.retain)
      late:stop()
    end)

    it("publishes from many tasks at once, every message arriving", function()
      local n = 40
      local items = {}
      for i = 1, n do items[i] = i end
      local results = iotlua.map(items, function(i)
        return assert(iot:publish{ topic = "fleet/burst", qos = 1, payload = tostring(i) })
      end, { concurrency = 8 })
      assert.equals(n, #results)
      local got = v5:wait_messages(n, "fleet/burst")
      assert.equals(n, #got)
      local seen = {}
      for _, m in ipairs(got) do seen[tonumber(m.payload)] = true end
      for i = 1, n do assert.is_true(seen[i], "message " .. i .. " missing") end
    end)
  end)

  describe("send_direct_message", function()
    it("is confirmed once the MQTT 5 device acknowledges it", function()
      local before = v5:pubacks()
      local r, err = iot:send_direct_message{
        clientId = "e2e-v5", topic = "e2e-v5/cmd/reboot", payload = '{"now":true}',
        confirmation = true, timeout = 5 }
      assert.is_nil(err)
      assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
      local m = v5:wait_messages(1, "e2e-v5/cmd/reboot")[1]
      assert.is_table(m, v5:log())
      assert.equals('{"now":true}', m.payload)
      assert.equals(1, m.qos)
      assert.is_true(v5:pubacks() > before)
    end)

    it("reaches a device on a topic it did not subscribe to, over MQTT 3.1.1 too", function()
      assert(iot:send_direct_message{ clientId = "e2e-v311", topic = "private/ping",
                                      payload = "ping", confirmation = true, timeout = 5 })
      local m = v311:wait_messages(1, "private/ping")[1]
      assert.is_table(m, v311:log())
      assert.equals("ping", m.payload)
    end)

    it("without confirmation returns at once", function()
      local r = assert(iot:send_direct_message{ clientId = "e2e-v5", topic = "e2e-v5/cmd/fire",
                                                payload = "x" })
      assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
      assert.is_table(v5:wait_messages(1, "e2e-v5/cmd/fire")[1])
    end)
  end)

  describe("get_connection", function()
    it("describes a connected persistent MQTT 5 session", function()
      local c = assert(iot:get_connection{ clientId = "e2e-v5", includeSocketInformation = true })
      assert.is_true(c.connected)
      assert.equals("e2e-v5", c.clientId)
      assert.is_false(c.cleanSession)
      assert.equals(60, c.keepAliveDuration)
      assert.equals("127.0.0.1", c.sourceIp)
      assert.is_number(c.sourcePort)
      assert.equals(emu.mqtt_port, c.targetPort)
      assert.is_number(c.connectedSince)
    end)

    it("shows a clean session over MQTT 3.1.1", function()
      local c = assert(iot:get_connection{ clientId = "e2e-v311" })
      assert.is_true(c.connected)
      assert.is_true(c.cleanSession)
      assert.is_nil(c.sourceIp)                      -- only with includeSocketInformation
    end)
  end)

  describe("list_subscriptions", function()
    it("lists what a device subscribed to, page by page", function()
      local s = assert(iot:list_subscriptions{ clientId = "e2e-v5" })
      table.sort(s.subscriptions, function(a, b) return a.topicFilter < b.topicFilter end)
      assert.same({ { topicFilter = "e2e-v5/cmd/#", qos = 1 }, { topicFilter = "fleet/#", qos = 1 } },
                  s.subscriptions)
      local first = assert(iot:list_subscriptions{ clientId = "e2e-v5", maxResults = 1 })
      assert.equals(1, #first.subscriptions)
      assert.is_string(first.nextToken)
      local second = assert(iot:list_subscriptions{ clientId = "e2e-v5", maxResults = 1,
                                                   nextToken = first.nextToken })
      assert.equals(1, #second.subscriptions)
      assert.are_not.equal(first.subscriptions[1].topicFilter, second.subscriptions[1].topicFilter)
    end)
  end)

  describe("after a device disconnects", function()
    it("reports the reason and keeps the persistent session's subscriptions", function()
      v5:stop()                                      -- SIGTERM: mosquitto_sub sends DISCONNECT
      local c = servers.wait_until(function()
        local r = iot:get_connection{ clientId = "e2e-v5" }
        return r and not r.connected and r
      end, 5)
      assert.is_table(c, "e2e-v5 still shown as connected")
      assert.equals("CLIENT_INITIATED_DISCONNECT", c.disconnectReason)
      assert.is_number(c.disconnectedSince)
      local s = assert(iot:list_subscriptions{ clientId = "e2e-v5" })
      assert.is_table(find(s.subscriptions, function(x) return x.topicFilter == "fleet/#" end))
    end)
  end)
end)
