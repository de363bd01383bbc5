-- iotlua.api — the public module table: require("iotlua") returns what this returns.
--
--   iotlua.version                       "0.1.0"
--   iotlua.client{...}                   a client, or nil, err (iotlua.client)
--   iotlua.spawn(fn, ...)                a task; task:wait() -> its results, or nil, err;
--                                        task:done(), task:cancel(), task.id, task.status
--   iotlua.wait_all(tasks)               results, errors (arrays, in the order of tasks)
--   iotlua.sleep(s)                      yields inside a task, drives the loop outside
--   iotlua.map(items, fn, opts)          results, errors in input order
--   iotlua.run()                         runs until every task has finished
--   iotlua.deadline([s])                 the run's deadline: seconds left (or nil)
--   iotlua.sigv4.sign{...}               headers to add (and the signer's working)
--   iotlua.sigv4.presign{...}            a presigned URL
--   iotlua.aws_request{...}              any AWS request, signed and sent (iotlua.aws_request)
--   iotlua.mqtt.connect{...}             an MQTT connection, or nil, err (iotlua.mqtt)
--   iotlua.request{...}                  a request over HTTP, its reply heard over MQTT
--   iotlua.json                          lua-cjson
--   iotlua.quiet                         true: no progress display (--quiet in the host)
--
-- Conventions, as in Lua's own libraries: misuse raises at once with a message naming
-- the argument or parameter; failures of the world return nil, err.

local core = require("iotlua.core")
local tasks = require("iotlua.tasks")
local progress = require("iotlua.progress")

local M = {
  version = core.version,
  spawn = tasks.spawn,
  wait_all = tasks.wait_all,
  sleep = tasks.sleep,
  run = tasks.run,
  quiet = core.quiet(),
  sigv4 = {},
}

-- iotlua.lock(path) -> handle | nil, err: an exclusive lock on path (created if missing)
-- until handle:release(), the end of its <close> scope, its collection or the end of the
-- process, however it ends (flock: no stale lock after a crash). err.code is "LockHeld"
-- (err.holder_pid: the run holding it) or "LockError".
function M.lock(path)
  if type(path) ~= "string" or path == "" then
    error("bad argument #1 to 'lock' (a file path expected, got " .. type(path) .. ")", 2)
  end
  local handle, err = core.lock(path)
  if not handle then return nil, require("iotlua.errors").new(err) end
  return handle
end

-- iotlua.sigv4.sign{...} and presign{...}: credentials may also be a client (what its
-- calls sign with) or a profile name (resolved as a client of that profile would); a
-- failure to get them is nil, err. Returns r itself or a copy with the table of keys.
local function sigv4_credentials(r, fn)
  if type(r) ~= "table" or r.credentials == nil or type(r.credentials) == "table" then
    return r
  end
  local source = r.credentials
  if type(source) == "string" then
    local client, err = M.client{ profile = source ~= "default" and source or nil,
                                  region = type(r.region) == "string" and r.region or nil }
    if not client then return nil, err or "no client" end
    source = client
  elseif (getmetatable(source) or {}).__name ~= "iotlua.client" then
    error("bad argument #1 to '" .. fn .. "' (field 'credentials' must be a table, a " ..
          "client or a profile name, got " .. type(source) .. ")", 3)
  end
  local creds, err = source:credentials()
  if not creds then return nil, err or "no credentials" end
  local copy = {}
  for k, v in pairs(r) do copy[k] = v end
  copy.credentials = { access_key_id = creds.access_key_id,
                       secret_access_key = creds.secret_access_key,
                       session_token = creds.session_token }
  return copy
end

function M.sigv4.sign(r)
  local req, err = sigv4_credentials(r, "sign")
  if err then return nil, err end
  return core.sigv4_sign(req)
end

function M.sigv4.presign(r)
  local req, err = sigv4_credentials(r, "presign")
  if err then return nil, err end
  return core.sigv4_presign(req)
end

-- iotlua.deadline(s) -> seconds left: the run ends its calls s seconds from now (or at
-- the deadline already set, when that comes first: a deadline only moves earlier, so a
-- script cannot outlive the host's --deadline). iotlua.deadline() -> the seconds left
-- (0 once passed), or nil when there is no deadline. When it passes, calls in flight end
-- with TimeoutError, later calls fail at once (unless given their own { timeout = s }),
-- waits for MQTT acks and messages end, and map starts no more items.
function M.deadline(seconds)
  local now = core.now()
  if seconds ~= nil then
    if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
      error("bad argument #1 to 'deadline' (a number of seconds >= 0 expected, got " ..
            (type(seconds) == "number" and tostring(seconds) or type(seconds)) .. ")", 2)
    end
    local at, current = now + seconds, tasks.deadline()
    if current == nil or at < current then tasks.set_deadline(at) end
  end
  local at = tasks.deadline()
  if at == nil then return nil end
  return at > now and at - now or 0
end

local DEFAULT_CONCURRENCY = 16
-- Calls waited for (in flight or queued for a connection) below which map starts more
-- items: what the engine carries at once (its connection cap), so that every call map
-- waits for can be in flight; see starter in map. Calls queued behind those would only
-- wait for a connection to free up, and their tasks' memory would be touched again
-- after every other call's: at concurrency 10,000 with room for twice the cap (256
-- connections, 512 calls) the publishes ran at 76% of the c=64 rate, with room for the
-- cap at 89% (15 interleaved rounds). A worker whose call completes makes its next call
-- before the loop polls again. Before a client has made the engine: EARLY_ROOM.
local EARLY_ROOM = 64
local function map_room()
  local cap = core.max_inflight()
  return cap > 0 and cap or EARLY_ROOM
end

-- The error of an item map did not start because the run's deadline had passed.
local function skipped_error(i)
  return require("iotlua.errors").new({
    code = "Skipped", skipped = true, retryable = false,
    message = "item " .. i .. " skipped: the run's deadline passed before it started" })
end

local function check_map_args(items, fn, opts)
  if type(items) ~= "table" then
    error("bad argument #1 to 'map' (table expected, got " .. type(items) .. ")", 3)
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'map' (function expected, got " .. type(fn) .. ")", 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #3 to 'map' (table expected, got " .. type(opts) .. ")", 3)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "concurrency" and k ~= "progress" then
      error("bad argument #3 to 'map' (unknown option '" .. tostring(k) .. "')", 3)
    end
  end
  local c = opts.concurrency
  if c ~= nil and (math.type(c) ~= "integer" or c < 1) then
    error("bad argument #3 to 'map' (option 'concurrency' must be an integer >= 1)", 3)
  end
  if opts.progress ~= nil and type(opts.progress) ~= "boolean" then
    error("bad argument #3 to 'map' (option 'progress' must be a boolean)", 3)
  end
  return opts
end

-- The traceback handler of map's protected calls: a task error for the failing item.
local function item_error(e)
  return tasks.task_error(e, nil, 2)
end

-- iotlua.map(items, fn, opts) -> results, errors
-- Calls fn(item, i) for every item of the array, at most opts.concurrency (default 16)
-- at a time, each in a task. results[i] is fn's first result; errors[i] is the error
-- fn raised (a task error with a traceback) or the second result of a nil, err return.
-- One item's failure does not stop the others. With a terminal on stderr a progress
-- line is shown unless opts.progress is false or iotlua.quiet is set. Once the run's
-- deadline has passed no item is started: each one left gets errors[i] with code
-- "Skipped" (err.skipped is true). Items start while fewer than map_room() calls are
-- waited for (tasks.wait_room), so the concurrency is reached at once by items that wait
-- for no call, and by the others as their calls complete.
function M.map(items, fn, opts)
  opts = check_map_args(items, fn, opts)
  local n = #items
  local results, errs = {}, {}
  local next_index, done, failed = 0, 0, 0
  local bar
  if n > 0 and opts.progress ~= false and progress.enabled(M.quiet) then
    bar = progress.new(n)
  end
  local function skip_rest()
    for i = next_index + 1, n do
      errs[i] = skipped_error(i)
      done, failed = done + 1, failed + 1
    end
    next_index = n
    if bar then bar:update(done, failed) end
  end
  local deadline_passed = tasks.deadline_passed
  local function worker()
    while next_index < n do
      if deadline_passed() then skip_rest() break end
      next_index = next_index + 1
      local i = next_index
      local ok, r, e = xpcall(fn, item_error, items[i], i)
      if ok then
        results[i], errs[i] = r, e
      else
        errs[i] = r
      end
      done = done + 1
      if errs[i] ~= nil then failed = failed + 1 end
      if bar then bar:update(done, failed) end
    end
  end
  local workers, limit = {}, math.min(opts.concurrency or DEFAULT_CONCURRENCY, n)
  -- Workers start while fewer than map_room() calls are waited for: items that call the
  -- service start as calls complete, not all at once to wait in the queue (10,000 tasks
  -- alive cost about 5 KiB each, and the time to touch that memory); items that sleep or
  -- wait for MQTT wait for no call, so all of them start at once as before.
  local function starter()
    while #workers < limit and next_index < n do
      local room = tasks.wait_room(map_room())
      if room == 0 then break end             -- the run's deadline passed: workers skip
      for _ = 1, math.min(room, limit - #workers, n - next_index) do
        workers[#workers + 1] = tasks.start(worker)
      end
      coroutine.yield()                       -- the new workers run and make their calls
    end
  end
  local serr = tasks.join({ tasks.start(starter) })
  local werr = tasks.join(workers) or serr
  if bar then bar:finish() end
  if werr ~= nil then error(werr, 2) end
  return results, errs
end

function M.client(opts)
  return require("iotlua.client").new(opts)
end

function M.request(r)
  return require("iotlua.mqtt").request(r)
end

function M.aws_request(r)
  return require("iotlua.aws_request").request(r)
end

-- For the host, after the script: lets the remaining tasks finish. True when all is well.
function M._finish()
  return tasks.finish()
end

setmetatable(M, {
  __index = function(t, k)
    if k == "json" then
      local cjson = require("cjson")
      rawset(t, "json", cjson)
      return cjson
    end
    if k == "log" then
      local log = require("iotlua.log")
      rawset(t, "log", log)
      return log
    end
    if k == "mqtt" then                 -- loaded on first use: start-up stays as it was
      local mqtt = require("iotlua.mqtt")
      rawset(t, "mqtt", mqtt)
      return mqtt
    end
    return nil
  end,
})

return M
