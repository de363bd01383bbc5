-- End to end: every error path a user meets, against iotlua-emulator with real devices.
--   offline device            -> ResourceNotFoundException (404)
--   device that never acks    -> GatewayTimeoutException (504) after the timeout
--   wrong credentials         -> 403, the secret never shown
--   throttling injected       -> retried, then succeeds
--   emulator stopped mid-run  -> NetworkError, and the script carries on
local servers = require("tools.servers")
local iotlua = require("iotlua")

describe("error paths against the emulator", function()
  local emu, iot

  setup(function()
    emu = servers.emulator()
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
  end)

  teardown(function() servers.cleanup(emu) end)

  it("an offline device gives ResourceNotFoundException, and the client stays usable", function()
    local r, err = iot:send_direct_message{ clientId = "nobody-home", topic = "cmd/x",
                                            payload = "x", confirmation = true, timeout = 2 }
    assert.is_nil(r)
    assert.equals("ResourceNotFoundException", err.code)
    assert.equals(404, err.status)
    assert.equals("SendDirectMessage", err.operation)
    assert.is_false(err.retryable)
    assert.equals(1, err.attempts)
    assert.is_string(err.request_id)
    assert.matches("ResourceNotFoundException", tostring(err))

    local c, cerr = iot:get_connection{ clientId = "nobody-home" }
    assert.is_nil(c)
    assert.equals("ResourceNotFoundException", cerr.code)

    assert(iot:publish{ topic = "still/works", payload = "ok" })
  end)

  it("a device that never acknowledges gives GatewayTimeoutException after the timeout", function()
    local mute = servers.device(emu, "mute-1", { mute = true })
    local t0 = os.time()
    local r, err = iot:send_direct_message{ clientId = "mute-1", topic = "cmd/wait",
                                            payload = "are you there", confirmation = true,
                                            timeout = 1 }
    local elapsed = os.time() - t0
    assert.is_nil(r)
    assert.equals("GatewayTimeoutException", err.code)
    assert.equals(504, err.status)
    assert.is_true(elapsed >= 1 and elapsed <= 4, "took " .. elapsed .. " s")
    -- the device did get the message: it just never sent PUBACK
    local m = mute:wait_messages(1, "cmd/wait")[1]
    assert.is_table(m, mute:log())
    assert.equals(1, m.qos)
    mute:stop()
  end)

  it("wrong credentials give 403 and never show the secret", function()
    local secret = "ThisIsNotTheRightSecretKey0000000000000"
    local bad = assert(iotlua.client(emu:client_options{
      max_attempts = 1,
      credentials = { access_key_id = servers.access_key_id, secret_access_key = secret } }))
    local r, err = bad:publish{ topic = "t", payload = "x" }
    assert.is_nil(r)
    assert.equals(403, err.status)
    assert.is_string(err.code)
    assert.is_nil(tostring(err):find(secret, 1, true))
    assert.is_nil(tostring(err.message):find(secret, 1, true))

    local unknown = assert(iotlua.client(emu:client_options{
      max_attempts = 1,
      credentials = { access_key_id = "AKIDUNKNOWN000000000", secret_access_key = secret } }))
    local _, err2 = unknown:get_connection{ clientId = "x" }
    assert.equals(403, err2.status)
  end)

  it("throttling injected by the emulator is retried and then succeeds", function()
    local watcher = servers.device(emu, "throttle-watch", { topics = { "throttled/#" } })
    local status = emu:control("POST", "/_emulator/faults?operation=Publish&status=429" ..
                               "&errorCode=ThrottlingException&count=2")
    assert.equals(201, status)
    local retrying = assert(iotlua.client(emu:client_options{ max_attempts = 3 }))
    local r, err = retrying:publish{ topic = "throttled/one", qos = 1, payload = "once" }
    assert.is_nil(err)
    assert.equals(2, r.ResponseMetadata.RetryAttempts)
    local got = watcher:wait_messages(1, "throttled/one")
    servers.sleep(0.3)
    assert.equals(1, #watcher:messages(), "delivered exactly once")
    assert.equals("once", got[1].payload)

    -- without retries the same fault surfaces as a ThrottlingException
    emu:control("POST", "/_emulator/faults?operation=Publish&status=429&errorCode=ThrottlingException&count=1")
    local _, terr = iot:publish{ topic = "throttled/two", payload = "x" }
    assert.equals("ThrottlingException", terr.code)
    assert.equals(429, terr.status)
    assert.is_true(terr.retryable)
    watcher:stop()
  end)

  it("an emulator stopped mid-run gives NetworkError, and the script continues", function()
    local dir = servers.tmpdir()
    local script = dir .. "/midrun.lua"
    servers.write_file(script, [[
      local iotlua = require("iotlua")
      local go = arg[1]
      local iot = assert(iotlua.client{ max_attempts = 2 })
      local function try(n)
        local r, err = iot:publish{ topic = "midrun", payload = tostring(n) }
        print(n, r and "ok" or err.code)
      end
      try(1)
      io.stdout:flush()
      while not io.open(go) do iotlua.sleep(0.05) end   -- the spec stops the emulator
      try(2)
      try(3)
      print("continued")
    ]])
    local other = servers.emulator()
    local proc = servers.spawn({ servers.build_dir .. "/iotlua", script, dir .. "/go" }, dir,
                               "midrun", other:env())
    local first = servers.wait_until(function()
      local text = servers.read_file(proc.out) or ""
      return text:match("^1%s+ok") and text
    end, 10)
    assert.is_truthy(first, (servers.read_file(proc.out) or "") .. (servers.read_file(proc.err) or ""))
    other:stop()
    servers.write_file(dir .. "/go", "")
    local done = servers.wait_until(function()
      return not servers.alive(proc.pid) and servers.read_file(proc.out)
    end, 20)
    assert.is_string(done, servers.read_file(proc.err))
    assert.matches("2%s+NetworkError", done)
    assert.matches("3%s+NetworkError", done)
    assert.matches("continued", done)
    other:cleanup()
    os.execute("rm -rf " .. servers.shell_quote(dir))
  end)
end)
