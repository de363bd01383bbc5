-- Tasks: spawn/wait, wait_all, sleep, map, and calls that yield inside a task while the
-- others run (against the recording server, whose scripted delays hold a response).
local iotlua = require("iotlua")
local core = require("iotlua.core")
local progress = require("iotlua.progress")
local servers = require("tools.servers")

local now = core.now

describe("tasks", function()
  it("spawn returns a task; wait returns the function's results", function()
    local t = iotlua.spawn(function(a, b) return a + b, "two", nil, 4 end, 1, 2)
    assert.equals("task", tostring(t):match("^task"))
    local r = table.pack(t:wait())
    assert.same({ n = 4, 3, "two", nil, 4 }, r)
    assert.is_true(t:done())
    assert.same({ 3, "two", nil, 4 }, { t:wait() })   -- waiting again gives the same
  end)

  it("spawn accepts a callable table", function()
    local callable = setmetatable({}, { __call = function(_, x) return x * 2 end })
    assert.equals(42, iotlua.spawn(callable, 21):wait())
  end)

  it("a task that raises: wait returns nil, err with the message and the task's traceback", function()
    local function failing_helper() error("broken part") end
    local t = iotlua.spawn(function() failing_helper() end)
    local r, err = t:wait()
    assert.is_nil(r)
    assert.matches("broken part$", tostring(err))
    assert.matches("^stack traceback:\n", err.traceback)
    assert.matches("failing_helper", err.traceback, 1, true)
    assert.matches("broken part$", err.error)
  end)

  it("a raised error table stays reachable: its fields read through the task error", function()
    local t = iotlua.spawn(function()
      error(setmetatable({ code = "ThrottlingException", status = 429 },
                         { __tostring = function(e) return e.code .. ": slow down" end }))
    end)
    local _, err = t:wait()
    assert.equals("ThrottlingException", err.code)
    assert.equals(429, err.status)
    assert.equals("ThrottlingException: slow down", tostring(err))
  end)

  it("an error in one task does not stop the others", function()
    local done = {}
    local tasks = {}
    for i = 1, 6 do
      tasks[i] = iotlua.spawn(function()
        iotlua.sleep(0.001 * i)
        if i % 2 == 0 then error("task " .. i .. " fails") end
        done[#done + 1] = i
        return i
      end)
    end
    local results, errors = iotlua.wait_all(tasks)
    assert.same({ 1, 3, 5 }, done)
    for i = 1, 6 do
      if i % 2 == 0 then
        assert.is_nil(results[i])
        assert.matches("task " .. i .. " fails", tostring(errors[i]))
      else
        assert.equals(i, results[i])
        assert.is_nil(errors[i])
      end
    end
  end)

  it("wait_all: results[i] and errors[i] in the order of the tasks, nil, err returns included", function()
    local tasks = {
      iotlua.spawn(function() iotlua.sleep(0.03) return "slow" end),
      iotlua.spawn(function() return nil, "soft failure" end),
      iotlua.spawn(function() return "fast" end),
    }
    local results, errors = iotlua.wait_all(tasks)
    assert.equals("slow", results[1])
    assert.is_nil(results[2])
    assert.equals("soft failure", errors[2])
    assert.equals("fast", results[3])
  end)

  it("sleep inside tasks does not block the others", function()
    local order = {}
    local start = now()
    local slow = iotlua.spawn(function() iotlua.sleep(0.3) order[#order + 1] = "slow" end)
    local fast = iotlua.spawn(function()
      for i = 1, 5 do iotlua.sleep(0.05) order[#order + 1] = "fast" .. i end
    end)
    iotlua.wait_all{ slow, fast }
    local elapsed = now() - start
    assert.same({ "fast1", "fast2", "fast3", "fast4", "fast5", "slow" }, order)
    assert.is_true(elapsed >= 0.3, "elapsed " .. elapsed)
    -- one after the other they would take 0.55 s
    assert.is_true(elapsed < 0.5, "sleeps ran one after the other: " .. elapsed)
  end)

  it("sleep outside a task lets the running tasks progress", function()
    local ticks = 0
    local t = iotlua.spawn(function()
      for _ = 1, 5 do iotlua.sleep(0.01) ticks = ticks + 1 end
    end)
    iotlua.sleep(0.1)
    assert.equals(5, ticks)
    assert.is_true(t:done())
  end)

  it("a task can wait for another task", function()
    local inner = iotlua.spawn(function() iotlua.sleep(0.01) return "inner result" end)
    local outer = iotlua.spawn(function() return "got " .. inner:wait() end)
    assert.equals("got inner result", outer:wait())
  end)

  it("a plain coroutine.yield() inside a task gives the other tasks a turn", function()
    local log = {}
    local a = iotlua.spawn(function() for i = 1, 3 do log[#log + 1] = "a" .. i coroutine.yield() end end)
    local b = iotlua.spawn(function() for i = 1, 3 do log[#log + 1] = "b" .. i coroutine.yield() end end)
    iotlua.wait_all{ a, b }
    assert.same({ "a1", "b1", "a2", "b2", "a3", "b3" }, log)
  end)

  it("a task waiting for itself fails; tasks waiting for each other are a deadlock", function()
    local self_task
    self_task = iotlua.spawn(function() return self_task:wait() end)
    local _, err = self_task:wait()
    assert.matches("a task cannot wait for itself", tostring(err))
    local a, b
    a = iotlua.spawn(function() iotlua.sleep(0) return b:wait() end)
    b = iotlua.spawn(function() iotlua.sleep(0) return a:wait() end)
    local ok, msg = pcall(a.wait, a)
    assert.is_false(ok)
    assert.matches("deadlock", msg)
    assert.is_true(a:cancel())
    assert.is_true(b:cancel())
    assert.is_false(a:cancel())
    assert.equals("cancelled", tostring(select(2, a:wait())))
  end)

  it("cancel stops a sleeping task and closes its to-be-closed variables", function()
    local closed, reached = false, false
    local t = iotlua.spawn(function()
      local guard <close> = setmetatable({}, { __close = function() closed = true end })
      iotlua.sleep(10)
      reached = true
    end)
    iotlua.sleep(0)
    assert.is_true(t:cancel())
    iotlua.sleep(0.01)
    assert.is_true(closed)
    assert.is_false(reached)
    assert.is_true(t:done())
  end)

  it("run() returns once every task has finished, and refuses to run inside a task", function()
    local finished = 0
    for i = 1, 3 do iotlua.spawn(function() iotlua.sleep(0.01 * i) finished = finished + 1 end) end
    local inner = iotlua.spawn(function() return pcall(iotlua.run) end)
    iotlua.run()
    assert.equals(3, finished)
    local ok, msg = inner:wait()
    assert.is_false(ok)
    assert.matches("iotlua.run cannot be called inside a task", msg, 1, true)
  end)

  it("runs ten thousand tasks in little memory", function()
    collectgarbage()
    local before = collectgarbage("count")
    local tasks, sum = {}, 0
    for i = 1, 10000 do tasks[i] = iotlua.spawn(function() iotlua.sleep(0.001) sum = sum + 1 end) end
    local peak = collectgarbage("count")
    iotlua.wait_all(tasks)
    assert.equals(10000, sum)
    assert.is_true((peak - before) / 1024 < 64, "KiB used: " .. (peak - before))
  end)

  it("many tasks finishing in scrambled order: each wait returns its own results", function()
    local tasks = {}
    for i = 1, 3000 do
      tasks[i] = iotlua.spawn(function(a, b)
        iotlua.sleep((i * 7919 % 13) / 1000)   -- finish order unrelated to start order
        return a, nil, b, i    -- a nil inside the results is kept too
      end, i, "v" .. i)
    end
    local results, errors = iotlua.wait_all(tasks)
    assert.same({}, errors)
    for i = 1, 3000 do
      assert.equals(i, results[i])
      local got = table.pack(tasks[i]:wait())
      assert.is_true(got.n == 4 and got[1] == i and got[2] == nil and got[3] == "v" .. i
                     and got[4] == i, "task " .. i)
      assert.equals("done", tasks[i].status)
    end
    assert.equals(0, select("#", iotlua.spawn(function() end):wait()))   -- no results
  end)

  it("checks its arguments", function()
    assert.matches("bad argument #1 to 'spawn' %(function expected, got nil%)",
                   select(2, pcall(iotlua.spawn)))
    assert.matches("bad argument #1 to 'sleep' %(number expected, got string%)",
                   select(2, pcall(iotlua.sleep, "1")))
    assert.matches("bad argument #1 to 'sleep' %(non%-negative number expected%)",
                   select(2, pcall(iotlua.sleep, -1)))
    assert.matches("bad argument #1 to 'wait_all' %(task expected at index 2, got string%)",
                   select(2, pcall(iotlua.wait_all, { iotlua.spawn(print), "x" })))
  end)
end)

describe("iotlua.map", function()
  it("returns results in input order, whatever order they finish in", function()
    local items = { 50, 10, 40, 20, 30 }
    local finished = {}
    local results, errors = iotlua.map(items, function(ms, i)
      iotlua.sleep(ms / 1000)
      finished[#finished + 1] = i
      return ms * 2
    end, { concurrency = 5 })
    assert.same({ 100, 20, 80, 40, 60 }, results)
    assert.same({}, errors)
    assert.same({ 2, 4, 5, 3, 1 }, finished)
  end)

  it("runs at most `concurrency` items at once", function()
    local active, peak = 0, 0
    local results = iotlua.map({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, function(x)
      active = active + 1
      peak = math.max(peak, active)
      iotlua.sleep(0.005)
      active = active - 1
      return x
    end, { concurrency = 3 })
    assert.equals(3, peak)
    assert.equals(10, #results)
  end)

  it("isolates errors per item: errors[i] with a traceback, the rest completes", function()
    local function check(x) if x == 3 then error("item three is bad") end return x end
    local results, errors = iotlua.map({ 1, 2, 3, 4 }, function(x)
      if x == 2 then return nil, "two declined" end
      local v = check(x)
      return v
    end, { concurrency = 2 })
    assert.equals(1, results[1])
    assert.is_nil(results[2])
    assert.is_nil(results[3])
    assert.equals(4, results[4])
    assert.equals("two declined", errors[2])
    assert.matches("item three is bad$", tostring(errors[3]))
    assert.matches("in [^\n]*'check'", errors[3].traceback)
    assert.is_nil(errors[1])
    assert.is_nil(errors[4])
  end)

  it("works inside a task and with no items", function()
    local t = iotlua.spawn(function()
      local r = iotlua.map({ "a", "b" }, function(s) iotlua.sleep(0.001) return s:upper() end)
      return table.concat(r)
    end)
    assert.equals("AB", t:wait())
    local r, e = iotlua.map({}, error)
    assert.same({}, r)
    assert.same({}, e)
  end)

  local BAD = {
    { { nil, print }, "bad argument #1 to 'map' (table expected, got nil)" },
    { { {}, "f" }, "bad argument #2 to 'map' (function expected, got string)" },
    { { {}, print, 3 }, "bad argument #3 to 'map' (table expected, got number)" },
    { { {}, print, { concurrency = 0 } }, "option 'concurrency' must be an integer >= 1" },
    { { {}, print, { progress = "yes" } }, "option 'progress' must be a boolean" },
    { { {}, print, { parallel = 2 } }, "unknown option 'parallel'" },
  }
  for _, case in ipairs(BAD) do
    it("raises on misuse: " .. case[2], function()
      local ok, msg = pcall(iotlua.map, table.unpack(case[1], 1, 3))
      assert.is_false(ok)
      assert.matches(case[2], msg, 1, true)
    end)
  end
end)

describe("iotlua.map's start of items", function()
  it("items that wait for no call all start at once, whatever the concurrency", function()
    local stats = require("iotlua.tasks").stats
    local n, peak = 1000, 0
    local items = {}
    for i = 1, n do items[i] = i end
    local start = now()
    local results = iotlua.map(items, function(i)
      peak = math.max(peak, stats().live)
      iotlua.sleep(0.2)
      return i
    end, { concurrency = n })
    local elapsed = now() - start
    assert.equals(n, #results)
    assert.is_true(peak >= n, "tasks alive at most: " .. peak)
    assert.is_true(elapsed < 1.5, "the sleeps did not overlap: " .. elapsed)
  end)
end)

describe("the progress display", function()
  local LINES = {
    { 0, 100, 0, 0, "0/100  0.0/s  errors 0  ETA ?" },
    { 50, 100, 2, 10, "50/100  5.0/s  errors 2  ETA 0:10" },
    { 1000, 10000, 0, 1, "1000/10000  1000.0/s  errors 0  ETA 0:09" },
    { 10, 10000, 0, 1, "10/10000  10.0/s  errors 0  ETA 16:39" },
    { 1, 10000, 0, 1, "1/10000  1.0/s  errors 0  ETA 2:46:39" },
    { 100, 100, 5, 61, "100/100  1.6/s  errors 5  in 1:01" },
  }
  for _, case in ipairs(LINES) do
    it("shows " .. case[5], function()
      assert.equals(case[5], progress.line(case[1], case[2], case[3], case[4]))
    end)
  end

  local function map_script(opts)
    local path = os.tmpname()
    servers.write_file(path, ([[
      local iotlua = require("iotlua")
      local r, e = iotlua.map({ 1, 2, 3, 4, 5, 6, 7, 8 }, function(x)
        iotlua.sleep(0.02)
        if x == 8 then error("last one fails") end
        return x
      end, { concurrency = 2 %s })
      print("results", #r)]]):format(opts or ""))
    return path
  end

  local function on_terminal(args)
    local cmd = servers.shell_quote(servers.build_dir .. "/iotlua") .. " " .. args
    return (servers.run("script -qec " .. servers.shell_quote(cmd) .. " /dev/null 2>&1"):gsub("\r\n", "\n"))
  end

  it("is drawn on a terminal: done/total, rate, errors, then a final line", function()
    local path = map_script()
    local out = on_terminal(servers.shell_quote(path))
    os.remove(path)
    assert.matches("\r8/8  [%d.]+/s  errors 1  in 0:00", out)
    assert.matches("results\t7\n", out, 1, true)
  end)

  it("is silent with --quiet, with progress = false, and when stderr is not a terminal", function()
    local path = map_script()
    local quiet = on_terminal("--quiet " .. servers.shell_quote(path))
    assert.equals(nil, quiet:find("8/8", 1, true))
    local res = servers.run_iotlua(path, {}, {})
    assert.equals("", res.stderr)
    os.remove(path)
    path = map_script(", progress = false")
    local off = on_terminal(servers.shell_quote(path))
    os.remove(path)
    assert.equals(nil, off:find("8/8", 1, true))
    assert.matches("results\t7", off, 1, true)
  end)
end)

describe("calls inside tasks", function()
  local rec, iot
  setup(function()
    rec = servers.recording()
    iot = assert(iotlua.client{ endpoint = rec.url, region = "us-east-1", max_attempts = 1,
      credentials = { access_key_id = servers.access_key_id, secret_access_key = servers.secret_access_key } })
  end)
  teardown(function()
    iot:close()
    servers.stop_all()
  end)
  before_each(function() rec:clear() end)

  it("a call yields its task: the others run while its response is held back", function()
    rec:script{ { status = 200, body = "{}", delay = 0.3 } }
    local ticks = 0
    local caller = iotlua.spawn(function()
      local r = assert(iot:publish{ topic = "slow" })
      return ticks, r.ResponseMetadata.HTTPStatusCode
    end)
    local ticker = iotlua.spawn(function()
      for _ = 1, 5 do iotlua.sleep(0.02) ticks = ticks + 1 end
    end)
    local ticks_when_done, status = caller:wait()
    assert.equals(200, status)
    assert.equals(5, ticks_when_done)
    assert.is_true(ticker:done())
  end)

  it("calls in several tasks run concurrently", function()
    rec:script{ { status = 200, body = "{}", delay = 0.25, ["repeat"] = 4 } }
    local start = now()
    local results, errors = iotlua.map({ "a", "b", "c", "d" }, function(topic)
      return iot:publish{ topic = topic }
    end, { concurrency = 4 })
    local elapsed = now() - start
    assert.same({}, errors)
    assert.equals(4, #results)
    assert.is_true(elapsed < 0.9, "calls ran one after the other: " .. elapsed)
  end)

  it("a call outside any task drives the loop: tasks progress meanwhile", function()
    rec:script{ { status = 200, body = "{}", delay = 0.2 } }
    local ticks = 0
    local ticker = iotlua.spawn(function()
      for _ = 1, 4 do iotlua.sleep(0.02) ticks = ticks + 1 end
    end)
    assert(iot:publish{ topic = "outside" })
    assert.equals(4, ticks)
    assert.is_true(ticker:done())
  end)

  it("the same function works inside and outside a task", function()
    local function check(id)
      local r, err = iot:get_connection{ clientId = id }
      return r and r.ResponseMetadata.HTTPStatusCode or err
    end
    assert.equals(200, check("outside"))
    assert.equals(200, iotlua.spawn(check, "inside"):wait())
  end)

  it("sequential calls reuse one connection", function()
    for i = 1, 3 do assert(iot:publish{ topic = "seq" .. i }) end
    local reqs = rec:requests()
    assert.equals(3, #reqs)
    assert.equals(reqs[1].connection, reqs[2].connection)
    assert.equals(reqs[1].connection, reqs[3].connection)
  end)

  it("many concurrent calls: every caller gets the response to its own request", function()
    local n = 300
    local items = {}
    for i = 1, n do items[i] = i end
    local results, errors = iotlua.map(items, function(i)
      local r, err = iot:publish{ topic = "many/" .. i, payload = tostring(i) }
      if not r then return nil, err end
      return r.ResponseMetadata.RequestId
    end, { concurrency = n })
    assert.same({}, errors)
    local path_of = {}
    for _, req in ipairs(rec:requests()) do path_of["rec-" .. math.tointeger(req.id)] = req.path end
    for i = 1, n do
      assert.equals("/topics/many%2F" .. i, path_of[results[i]], "item " .. i)
    end
  end)

  -- n publishes through client at concurrency n, each item noting the tasks alive as it
  -- starts: the most seen. Every publish must answer 200.
  local function peak_tasks_of_map(client, n, prefix)
    local stats = require("iotlua.tasks").stats
    local peak = 0
    local items = {}
    for i = 1, n do items[i] = i end
    local results, errors = iotlua.map(items, function(i)
      peak = math.max(peak, stats().live)
      return assert(client:publish{ topic = prefix .. i }).ResponseMetadata.HTTPStatusCode
    end, { concurrency = n })
    assert.same({}, errors)
    for i = 1, n do assert.equals(200, results[i], "item " .. i) end
    return peak
  end

  it("map far above the calls it waits for starts items as calls complete", function()
    -- 1,200 items at concurrency 1,200 through a client capped at 64 connections: at most
    -- 64 calls waited for at once (map_room in api.lua), so that many workers and the
    -- starter alive, where all 1,200 used to be (and 512 with room for twice the cap)
    assert.equals(64, core.max_inflight())
    local peak = peak_tasks_of_map(iot, 1200, "room/")
    assert.equals(1200, #rec:requests())
    assert.is_true(peak > 32 and peak <= 64 + 1, "tasks alive at most: " .. peak)
  end)

  it("map keeps as many calls waited for as the engine carries when its cap is raised", function()
    -- a client's max_connections = 400 raises the engine's cap: 400 calls waited for
    -- (64 would leave connections idle), so more than 64 tasks alive, at most 400 + 1
    local creds = { access_key_id = servers.access_key_id, secret_access_key = servers.secret_access_key }
    local wide = assert(iotlua.client{ endpoint = rec.url, region = "us-east-1", max_attempts = 1,
      max_connections = 400, credentials = creds })
    assert.equals(400, core.max_inflight())
    local peak = peak_tasks_of_map(wide, 1200, "wide/")
    assert.is_true(peak > 200 and peak <= 400 + 1, "tasks alive at most: " .. peak)
    wide:close()
    -- the cap the other tests were written for
    assert(iotlua.client{ endpoint = rec.url, region = "us-east-1", max_connections = 64,
      credentials = creds }):close()
    assert.equals(64, core.max_inflight())
  end)

  it("a request awaited again after it completed returns at once", function()
    local tasks_mod = require("iotlua.tasks")
    local req = assert(core.call(iot, "Publish", { topic = "again" }))
    assert.is_false(core.done(req))
    tasks_mod.await(req)
    assert.is_true(core.done(req))
    tasks_mod.await(req)    -- no second wait, no deadlock
    local r = assert(core.result(req))
    assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
  end)

  it("a failed call in one task leaves the others and the client working", function()
    rec:script{ { status = 400, headers = { ["x-amzn-ErrorType"] = "InvalidRequestException" },
                  body = '{"message":"bad topic"}' } }
    local results, errors = iotlua.map({ "x", "y", "z" }, function(topic)
      return iot:publish{ topic = topic }
    end, { concurrency = 1 })
    assert.equals("InvalidRequestException", errors[1].code)
    assert.is_table(results[2])
    assert.is_table(results[3])
  end)
end)
