-- End to end: iotlua.mqtt against iotlua-emulator (with HTTP calls and mosquitto
-- clients on the other side) and against Debian's mosquitto broker, an independent peer.
local servers = require("tools.servers")
local iotlua = require("iotlua")
local mqtt = iotlua.mqtt

local function raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("iotlua.mqtt against the emulator", function()
  local emu, iot

  setup(function()
    emu = servers.emulator()
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
  end)

  teardown(function() servers.cleanup(emu) end)

  local function connect(id, extra)
    local o = { url = emu.mqtt, client_id = id }
    for k, v in pairs(extra or {}) do o[k] = v end
    return mqtt.connect(o)
  end

  for _, version in ipairs({ 5, 4 }) do
    it("connects with MQTT " .. version .. ", subscribes and hears an HTTP publish", function()
      local dev = assert(connect("mq-sub-" .. version, { version = version }))
      assert.equals("connected", dev:state())
      local sub = assert(dev:subscribe{ "fleet/" .. version .. "/#", qos = 1 })
      assert.same({ 1 }, sub.granted)
      assert(iot:publish{ topic = "fleet/" .. version .. "/alerts", qos = 1, payload = "low",
                          contentType = "text/plain", userProperties = { { site = "lab" } },
                          correlationData = "YWJj", responseTopic = "fleet/replies" })
      local m = assert(dev:receive{ topic = "fleet/" .. version .. "/#", timeout = 5 })
      assert.equals("fleet/" .. version .. "/alerts", m.topic)
      assert.equals("low", m.payload)
      assert.equals(1, m.qos)
      if version == 5 then
        assert.equals("text/plain", m.contentType)
        assert.equals("fleet/replies", m.responseTopic)
        assert.equals("abc", m.correlationData)     -- bytes on MQTT, base64 over HTTP
        assert.same({ { site = "lab" } }, m.userProperties)
      else
        assert.is_nil(m.contentType)                 -- MQTT 3.1.1 carries no properties
      end
      dev:close()
    end)
  end

  it("publishes with MQTT 5 properties that a mosquitto_sub device receives", function()
    local watcher = servers.device(emu, "mq-watcher", { topics = { "status/#" } })
    local dev = assert(connect("mq-pub"))
    local r = assert(dev:publish{ topic = "status/mq-pub", payload = "up", qos = 1,
                                  contentType = "text/plain", responseTopic = "status/replies",
                                  correlationData = "\1\2corr", messageExpiry = 120,
                                  payloadFormatIndicator = "UTF8_DATA",
                                  userProperties = { { a = "1" }, { b = "2" } } })
    assert.is_true(r.packet_id > 0)
    assert.equals(0, r.reason_code)
    local m = watcher:wait_messages(1, "status/mq-pub")[1]
    assert.is_table(m, watcher:log())
    assert.equals("up", m.payload)
    assert.equals("text/plain", m.properties["content-type"])
    assert.equals("status/replies", m.properties["response-topic"])
    assert.same({ a = "1", b = "2" }, m.properties["user-properties"])
    assert.equals(1, m.properties["payload-format-indicator"])
    dev:close()
  end)

  it("a device that never acks makes SendDirectMessage with confirmation a 504", function()
    local dev = assert(connect("mq-mute", { auto_ack = false }))
    local _, err = iot:send_direct_message{ clientId = "mq-mute", topic = "cmd/ping",
                                            payload = "x", confirmation = true, timeout = 1 }
    assert.is_table(err)
    assert.equals("GatewayTimeoutException", err.code)
    assert.equals(504, err.status)
    -- the message did arrive; acknowledging it later is the script's choice
    local m = assert(dev:receive{ topic = "cmd/ping", timeout = 5 })
    assert.is_false(m._acked)
    assert(m:ack())
    dev:close()
  end)

  it("acknowledges by default: SendDirectMessage with confirmation succeeds", function()
    local dev = assert(connect("mq-ack"))
    assert(iot:send_direct_message{ clientId = "mq-ack", topic = "cmd/ping", payload = "x",
                                    confirmation = true, timeout = 5 })
    assert.equals("x", assert(dev:receive{ topic = "cmd/ping", timeout = 5 }).payload)
    dev:close()
  end)

  it("iotlua.request: 100 requests in flight to a device task, each reply matched", function()
    local device = assert(connect("mq-responder"))
    local controller = assert(connect("mq-controller"))
    device:on_message(function(m)
      assert(device:publish{ topic = m.responseTopic, correlationData = m.correlationData,
                             payload = "pong " .. m.payload, qos = 1 })
    end, "cmd/ping")
    local results, errs = iotlua.map((function()
      local t = {}
      for i = 1, 100 do t[i] = i end
      return t
    end)(), function(i)
      local reply, err = iotlua.request{ client = iot, via = controller, clientId = "mq-responder",
                                         topic = "cmd/ping", payload = tostring(i), timeout = 10 }
      if not reply then return nil, err end
      return reply.payload
    end, { concurrency = 100 })
    for i = 1, 100 do
      assert.is_nil(errs[i])
      assert.equals("pong " .. i, results[i])
    end
    assert.equals(0, controller:stats().unmatched_replies)
    device:close()
    controller:close()
  end)

  it("iotlua.request times out with TimeoutError when nobody answers", function()
    local controller = assert(connect("mq-lonely-controller"))
    local device = assert(connect("mq-silent"))
    local reply, err = iotlua.request{ client = iot, via = controller, clientId = "mq-silent",
                                       topic = "cmd/ping", payload = "x", timeout = 0.5 }
    assert.is_nil(reply)
    assert.equals("TimeoutError", err.code)
    device:close()
    controller:close()
  end)

  it("drop() is a power cut: the will goes out", function()
    local watcher = assert(connect("mq-will-watcher"))
    assert(watcher:subscribe{ "status/mq-dropper", qos = 1 })
    local dev = assert(connect("mq-dropper", { will = { topic = "status/mq-dropper",
                                                        payload = "offline", qos = 1 } }))
    dev:drop()
    local s, err = dev:state()
    assert.equals("closed", s)
    assert.equals("Dropped", err.code)
    local m = assert(watcher:receive{ topic = "status/mq-dropper", timeout = 5 })
    assert.equals("offline", m.payload)
    dev:close()
    watcher:close()
  end)

  it("disconnect{ will = true } sends the will; a plain disconnect does not", function()
    local watcher = assert(connect("mq-will-watcher2"))
    assert(watcher:subscribe{ "status/mq-leaver/#", qos = 1 })
    local a = assert(connect("mq-leaver-a", { will = { topic = "status/mq-leaver/a", payload = "gone" } }))
    local b = assert(connect("mq-leaver-b", { will = { topic = "status/mq-leaver/b", payload = "gone" } }))
    assert.is_true(a:disconnect{ will = true })
    assert.is_true(b:disconnect())
    local m = assert(watcher:receive{ topic = "status/mq-leaver/#", timeout = 5 })
    assert.equals("status/mq-leaver/a", m.topic)
    local none, err = watcher:receive{ topic = "status/mq-leaver/b", timeout = 0.5 }
    assert.is_nil(none)
    assert.equals("TimeoutError", err.code)
    a:close(); b:close(); watcher:close()
  end)

  it("reconnects with the same session: queued QoS 1 messages arrive", function()
    local dev = assert(connect("mq-session", { clean_start = true, session_expiry = 300 }))
    assert(dev:subscribe{ "inbox/mq-session", qos = 1 })
    dev:drop()
    assert(iot:publish{ topic = "inbox/mq-session", qos = 1, payload = "while away" })
    assert(dev:reconnect())
    assert.is_true(dev:stats().session_present)
    local m = assert(dev:receive{ topic = "inbox/mq-session", timeout = 5 })
    assert.equals("while away", m.payload)
    dev:close()
  end)

  it("bounds the queue of messages nobody takes and counts what it drops", function()
    local dev = assert(connect("mq-queue", { queue_limit = 3 }))
    assert(dev:subscribe{ "burst/#", qos = 1 })
    for i = 1, 5 do assert(iot:publish{ topic = "burst/" .. i, qos = 1, payload = tostring(i) }) end
    iotlua.sleep(0.3)
    local first = assert(dev:receive{ timeout = 5 })
    local st = dev:stats()
    while st.received < 5 do
      iotlua.sleep(0.1)
      st = dev:stats()
    end
    assert.equals(5, st.received)
    assert.equals(2, st.dropped)
    -- the oldest went: what is left is the newest three
    local left = { first.payload }
    for m in dev:messages{ timeout = 0.2 } do left[#left + 1] = m.payload end
    assert.same({ "3", "4", "5" }, left)
    dev:close()
  end)

  it("a lost connection wakes a waiting task with nil, err", function()
    local dev = assert(connect("mq-lost"))
    local t = iotlua.spawn(function() return dev:receive{ topic = "never", timeout = 10 } end)
    iotlua.sleep(0.1)
    assert.equals(200, (emu:control("POST", "/_emulator/connections/mq-lost/disconnect", "{}")))
    local m, err = t:wait()
    assert.is_nil(m)
    assert.is_table(err)
    assert.equals("closed", (dev:state()))
    dev:close()
  end)

  it("reports a refused connection as nil, err with the CONNACK reason", function()
    local _, err = connect(("x"):rep(129))            -- AWS IoT: at most 128 bytes
    assert.is_table(err)
    assert.matches("ClientIdentifierNotValid", tostring(err))
    assert.equals(0x85, err.reason_code)
  end)

  it("connects to a host name, resolved off the loop, trying each of its addresses", function()
    -- localhost may name ::1 first, where the emulator does not listen: the connect
    -- there is refused and the next address, 127.0.0.1, is tried. Two clients at once
    -- share one answer; an HTTP call made meanwhile completes.
    local url = emu.mqtt:gsub("127%.0%.0%.1", "localhost")
    assert.matches("^mqtt://localhost:%d+$", url)
    local devs, published = {}, nil
    local results = iotlua.map({ "a", "b", "http" }, function(what)
      if what == "http" then
        published = assert(iot:publish{ topic = "dns/http", payload = "x" })
        return true
      end
      devs[what] = assert(mqtt.connect{ url = url, client_id = "mq-dns-" .. what })
      return devs[what]:state()
    end, { concurrency = 3 })
    assert.same({ "connected", "connected", true }, results)
    assert.is_table(published)
    local sub = assert(devs.a:subscribe{ "dns/#", qos = 1 })
    assert.same({ 1 }, sub.granted)
    assert(devs.b:publish{ topic = "dns/b", payload = "hello", qos = 1 })
    local m = assert(devs.a:receive{ topic = "dns/#", timeout = 5 })
    assert.equals("hello", m.payload)
    devs.a:close()
    devs.b:close()
  end)

  it("reports nothing listening as NetworkError", function()
    local port = servers.free_port()
    local conn, err = mqtt.connect{ url = "mqtt://127.0.0.1:" .. port, client_id = "x" }
    assert.is_nil(conn)
    assert.equals("NetworkError", err.code)
    assert.matches("refused", err.message)
    assert.matches("connecting to 127.0.0.1:" .. port, err.message, 1, true)
  end)

  it("with no url and no IOTLUA_MQTT_URL, connects to the data endpoint's host on 8883 (TLS)", function()
    local script = os.tmpname()
    servers.write_file(script, [[
      local dev, err = require("iotlua").mqtt.connect{ client_id = "mq-default", timeout = 2 }
      print(dev, err and err.message)
    ]])
    local env = emu:env()
    env.IOTLUA_MQTT_URL = ""
    local res = servers.run_iotlua(script, {}, env)
    os.remove(script)
    assert.equals(0, res.status, res.stderr)
    assert.matches("connecting to 127.0.0.1:8883", res.stdout, 1, true)
  end)

  it("uses IOTLUA_MQTT_URL when no url is given", function()
    local script = os.tmpname()
    servers.write_file(script, [[
      local iotlua = require("iotlua")
      local dev = assert(iotlua.mqtt.connect{ client_id = "mq-env" })
      print(dev:state(), dev:stats().client_id)
      dev:close()
    ]])
    local res = servers.run_iotlua(script, {}, emu:env{ IOTLUA_MQTT_URL = emu.mqtt })
    os.remove(script)
    assert.equals(0, res.status, res.stderr)
    assert.equals("connected\tmq-env\n", res.stdout)
  end)

  it("offers ALPN x-amzn-mqtt-ca to a TLS listener that requires it (AWS IoT on 443)", function()
    local dir = servers.tmpdir()
    local cert, key = servers.self_signed_cert(dir)
    local proxy = servers.alpn_proxy(emu.mqtt_port, cert, key, "x-amzn-mqtt-ca")
    local url = "mqtts://127.0.0.1:" .. proxy.port
    local dev = assert(mqtt.connect{ url = url, client_id = "mq-alpn", ca = cert,
                                     alpn = "x-amzn-mqtt-ca" })
    assert(dev:publish{ topic = "alpn/ok", payload = "x", qos = 1 })
    dev:close()
    assert.matches('"event": "accepted", "alpn": "x%-amzn%-mqtt%-ca"', proxy.log())
    -- without ALPN the listener closes the connection before CONNACK
    local none, err = mqtt.connect{ url = url, client_id = "mq-no-alpn", ca = cert, timeout = 5 }
    assert.is_nil(none)
    assert.equals("TLSError", err.code)
    assert.matches('"event": "refused", "alpn": null', proxy.log())
    servers.stop(proxy.proc)
    os.execute("rm -rf " .. servers.shell_quote(dir))
  end)

  describe("misuse raises at once, naming the parameter", function()
    local dev
    setup(function() dev = assert(connect("mq-misuse")) end)
    teardown(function() dev:close() end)

    it("a bad url scheme", function()
      assert.matches("scheme must be mqtt://, mqtts://, wss:// or ws:// (got http://)",
                     raised(mqtt.connect, { url = "http://127.0.0.1:1", client_id = "x" }), 1, true)
      assert.matches("path must have no query",
                     raised(mqtt.connect, { url = "wss://h/mqtt?x=1", client_id = "x" }), 1, true)
      assert.matches("option 'sign' must be a boolean",
                     raised(mqtt.connect, { url = "wss://h", sign = "no", client_id = "x" }), 1, true)
    end)
    it("an unknown option", function()
      assert.matches("unknown option 'clientid'", raised(mqtt.connect, { clientid = "x" }))
    end)
    it("QoS 2", function()
      assert.matches("'qos' must be 0 or 1", raised(dev.publish, dev, { topic = "a", qos = 2 }))
    end)
    it("a wildcard in a publish topic", function()
      assert.matches("'topic' must not contain the wildcards",
                     raised(dev.publish, dev, { topic = "a/#", payload = "x" }))
    end)
    it("a bad filter", function()
      assert.matches("'filter' must be a topic filter", raised(dev.subscribe, dev, { "a/#/b" }))
    end)
    it("an unknown publish field", function()
      assert.matches("unknown field 'contenttype'",
                     raised(dev.publish, dev, { topic = "a", contenttype = "x" }))
    end)
    it("leaves the connection usable", function()
      assert(dev:publish{ topic = "still/ok", payload = "x", qos = 1 })
    end)
  end)
end)

describe("iotlua.mqtt against Debian's mosquitto broker", function()
  local broker, pki, pki_dir

  setup(function()
    pki_dir = servers.tmpdir()
    pki = servers.pki(pki_dir, "iotlua-device")
    broker = servers.mosquitto{ pki = pki }
  end)

  teardown(function()
    if broker then broker:stop() end
    os.execute("rm -rf " .. servers.shell_quote(pki_dir))
  end)

  it("round-trips MQTT 5 properties with mosquitto_pub", function()
    local dev = assert(mqtt.connect{ url = broker.url, client_id = "mosq-dev" })
    assert(dev:subscribe{ "mosq/in", qos = 1 })
    local out, code = servers.run(("mosquitto_pub -h 127.0.0.1 -p %d -V mqttv5 -q 1 -t mosq/in " ..
      "-m hello -D publish content-type text/plain -D publish response-topic mosq/out " ..
      "-D publish correlation-data c0rr -D publish user-property k v 2>&1"):format(broker.port))
    assert.equals(0, code, out)
    local m = assert(dev:receive{ topic = "mosq/in", timeout = 5 })
    assert.equals("hello", m.payload)
    assert.equals("text/plain", m.contentType)
    assert.equals("mosq/out", m.responseTopic)
    assert.equals("c0rr", m.correlationData)
    assert.same({ { k = "v" } }, m.userProperties)
    dev:close()
  end)

  it("delivers its publishes to mosquitto_sub with their properties", function()
    local dir = servers.tmpdir()
    local sub = servers.spawn({ "mosquitto_sub", "-h", "127.0.0.1", "-p", tostring(broker.port),
                                "-V", "mqttv5", "-t", "mosq/out", "-C", "1", "-F", "%j" },
                              dir, "sub")
    servers.sleep(0.3)
    local dev = assert(mqtt.connect{ url = broker.url, client_id = "mosq-pub" })
    assert(dev:publish{ topic = "mosq/out", payload = "x", qos = 1, contentType = "a/b",
                        userProperties = { { who = "iotlua" } } })
    local line = servers.wait_until(function()
      local t = servers.read_file(sub.out) or ""
      return t:match("{.*}")
    end, 5)
    assert.is_string(line)
    local j = require("cjson").decode(line)
    assert.equals("x", j.payload)
    assert.equals("a/b", j.properties["content-type"])
    assert.same({ who = "iotlua" }, j.properties["user-properties"])
    servers.stop(sub)
    dev:close()
    os.execute("rm -rf " .. servers.shell_quote(dir))
  end)

  it("connects over mutual TLS with a device certificate", function()
    local dev = assert(mqtt.connect{ url = "mqtts://127.0.0.1:" .. broker.tls_port,
                                     client_id = "mosq-tls", ca = pki.ca,
                                     cert = pki.client_cert, key = pki.client_key })
    assert(dev:subscribe{ "tls/echo", qos = 1 })
    assert(dev:publish{ topic = "tls/echo", payload = "over tls", qos = 1 })
    assert.equals("over tls", assert(dev:receive{ topic = "tls/echo", timeout = 5 }).payload)
    dev:close()
  end)

  it("fails with TLSError when the server's certificate is not trusted", function()
    local dev, err = mqtt.connect{ url = "mqtts://127.0.0.1:" .. broker.tls_port,
                                   client_id = "mosq-untrusted",
                                   cert = pki.client_cert, key = pki.client_key }
    assert.is_nil(dev)
    assert.equals("TLSError", err.code)
    assert.matches("certificate", err.message)
  end)

  it("sends a user name and password (custom authorizers), refused when wrong", function()
    local locked = servers.mosquitto_with_password("device-7", "s3cret")
    local dev, err = mqtt.connect{ url = locked.url, client_id = "mosq-auth",
                                   username = "device-7", password = "s3cret" }
    assert(dev, tostring(err))
    assert(dev:publish{ topic = "auth/ok", payload = "x", qos = 1 })
    dev:close()
    local bad, berr = mqtt.connect{ url = locked.url, client_id = "mosq-auth-bad",
                                    username = "device-7", password = "wrong" }
    assert.is_nil(bad)
    assert.is_true(berr.code == "NotAuthorized" or berr.code == "BadUserNameOrPassword", berr.code)
    assert.is_true(berr.reason_code >= 0x80)
    assert.is_nil(tostring(berr):find("wrong", 1, true))   -- the password is never echoed
    locked:stop()
  end)

  it("honours no_local: its own publishes do not come back", function()
    local dev = assert(mqtt.connect{ url = broker.url, client_id = "mosq-nolocal" })
    assert(dev:subscribe{ "nolocal/#", qos = 1, no_local = true })
    assert(dev:publish{ topic = "nolocal/a", payload = "mine", qos = 1 })
    local out, code = servers.run(("mosquitto_pub -h 127.0.0.1 -p %d -V mqttv5 -q 1 -t nolocal/b " ..
                                   "-m theirs 2>&1"):format(broker.port))
    assert.equals(0, code, out)
    local m = assert(dev:receive{ topic = "nolocal/#", timeout = 5 })
    assert.equals("theirs", m.payload)
    dev:close()
  end)

  it("fails with TLSError without a client certificate", function()
    local dev, err = mqtt.connect{ url = "mqtts://127.0.0.1:" .. broker.tls_port,
                                   client_id = "mosq-anon", ca = pki.ca }
    assert.is_nil(dev)
    assert.equals("TLSError", err.code)
  end)
end)
