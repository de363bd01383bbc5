-- iotlua.tasks — the scheduler: tasks are coroutines driven by one event loop per state.
--
-- A task is a coroutine started by spawn(). Whatever waits (a request, a timer, another
-- task) yields the task's coroutine when called inside a task, and drives the loop itself
-- when called outside one, so the same code works both ways and a blocking call made
-- outside any task still lets the running tasks progress.
--
-- The loop has three sources of work: the ready queue (tasks to resume), timers (a binary
-- heap of sleeping tasks and deadlines) and the requests in flight in the C engine, polled
-- through core.poll(timeout) with the timeout of the nearest timer. Coroutines are resumed
-- only from this Lua loop, never from C code with curl frames beneath.
--
-- Results and errors: task:wait() returns what the task's function returned. If the
-- function raised, wait returns nil, err, where err is a task error: tostring(err) is
-- the error message, err.traceback the task's traceback, err.error the value raised,
-- and the fields of a raised error table (code, status, ...) read through. A task that
-- fails while nobody waits on it has its error and traceback written to stderr at once;
-- wait still returns it later.

local core = require("iotlua.core")

local coroutine, debug, io, setmetatable, getmetatable, select, table, tostring, type, error =
      coroutine, debug, io, setmetatable, getmetatable, select, table, tostring, type, error
local now, poll, pending, request_done = core.now, core.poll, core.pending, core.done
local pack, unpack = table.pack, table.unpack
local running, yield = coroutine.running, coroutine.yield

local M = {}

-- The token a task yields when it has registered itself as waiting for something.
local WAIT = setmetatable({}, { __name = "iotlua.wait" })

-- No weak tables: an ephemeron table costs the collector a pass over all its entries in
-- every cycle (repeated until nothing changes), which grew with the number of tasks
-- alive. Entries are removed explicitly instead: by_co when a task finishes, requests
-- when the request completes (its handle knows it completed: core.done).
local state = {
  ready = {},        -- tasks to resume, in order
  timers = {},       -- binary heap of { at = deadline, task = t | nil, seq = n }
  timer_seq = 0,
  by_co = {},        -- coroutine -> task, for the tasks not finished
  requests = {},     -- request handle -> task waiting for it (or true when waited outside)
  streams = {},      -- long-lived handle (an MQTT connection) -> function(handle) run
                     -- each time core.poll reports it (until unwatch)
  deadline = core.deadline(),   -- the run's deadline (now() seconds; --deadline,
                                -- iotlua.deadline) or nil
  live = 0,          -- tasks not finished
  awaiting = 0,      -- entries of requests that are tasks (calls some task waits for)
  rooms = {},        -- signals of wait_room, each with its limit
  unhandled = 0,     -- failed tasks whose error nobody has retrieved
  next_id = 0,
}

------------------------------------------------------------------------------------------
-- The run's deadline: the engine ends the calls in flight when it passes (and fails the
-- ones started later); here it bounds every wait for a signal, and map stops there.

function M.deadline()
  return state.deadline
end

function M.set_deadline(at)
  state.deadline = at
  core.set_deadline(at)
end

function M.deadline_passed()
  local d = state.deadline
  return d ~= nil and now() >= d
end

------------------------------------------------------------------------------------------
-- Task errors

local TaskError = { __name = "iotlua.TaskError" }

function TaskError.__index(err, key)
  local raised = rawget(err, "error")
  if type(raised) == "table" then return raised[key] end
  return nil
end

function TaskError.__tostring(err)
  return err.message
end

local function error_message(value)
  if type(value) == "string" then return value end
  local mt = getmetatable(value)
  if mt and mt.__tostring then return tostring(value) end
  return "(error object is a " .. type(value) .. " value)"
end

-- Builds the task error for `value` raised in coroutine `co` (or the running one).
local function task_error(value, co, level)
  local message = error_message(value)
  local tb
  if co then
    tb = debug.traceback(co, nil, level or 0)
  else
    tb = debug.traceback(nil, level or 2)
  end
  return setmetatable({ error = value, message = message, traceback = tb }, TaskError)
end
M.task_error = task_error

function M.is_task_error(v)
  return getmetatable(v) == TaskError
end

------------------------------------------------------------------------------------------
-- Timers: a binary heap ordered by deadline, then by insertion.

local function before(a, b)
  if a.at ~= b.at then return a.at < b.at end
  return a.seq < b.seq
end

local function heap_push(h, item)
  local i = #h + 1
  h[i] = item
  while i > 1 do
    local p = i // 2
    if not before(h[i], h[p]) then break end
    h[i], h[p] = h[p], h[i]
    i = p
  end
end

local function heap_pop(h)
  local top, n = h[1], #h
  local last = h[n]
  h[n] = nil
  n = n - 1
  if n == 0 then return top end
  h[1] = last
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and before(h[l], h[m]) then m = l end
    if r <= n and before(h[r], h[m]) then m = r end
    if m == i then break end
    h[i], h[m] = h[m], h[i]
    i = m
  end
  return top
end

local function add_timer(at, task)
  state.timer_seq = state.timer_seq + 1
  local t = { at = at, task = task, seq = state.timer_seq }
  heap_push(state.timers, t)
  return t
end

------------------------------------------------------------------------------------------
-- Tasks

local Task = { __name = "iotlua.task" }
Task.__index = Task

function Task:__tostring()
  return "task " .. self.id .. " (" .. self.status .. ")"
end

local function make_ready(task)
  task.status = "ready"
  state.ready[#state.ready + 1] = task
end

-- The task the running coroutine belongs to, or nil outside any task.
local function current()
  local co = coroutine.running()
  return state.by_co[co]
end
M.current = current

local function report_failure(task)
  local err = task.err
  io.stderr:write("iotlua: task ", tostring(task.id), " failed: ", err.message, "\n",
                  err.traceback, "\n")
  io.stderr:flush()
end

-- Records the end of a task and wakes whoever waits on it.
local function finish(task, ok, results)
  state.by_co[task.co] = nil
  task.co = nil
  state.live = state.live - 1
  if ok then
    task.status, task.results = "done", results
  else
    task.status, task.err = "failed", results
    if not task.observed then
      state.unhandled = state.unhandled + 1
      task.unhandled = true
      report_failure(task)
    end
  end
  local waiters = task.waiters
  task.waiters = nil
  if waiters then
    for i = 1, #waiters do
      if waiters[i].status == "waiting" then make_ready(waiters[i]) end
    end
  end
end

-- The results of a task that returned nothing (shared: results are never modified).
local NO_RESULTS = { n = 0 }

-- What coroutine.resume returned, taken as varargs: a task that only yielded (every
-- call it makes) costs no table, nor does one that returned nothing.
local function resumed(task, ok, ...)
  if ok and (...) == WAIT then return end   -- the usual case: it waits (WAIT is private,
                                            -- so a task's function cannot return it)
  if coroutine.status(task.co) == "dead" then
    if ok then
      finish(task, true, select("#", ...) == 0 and NO_RESULTS or pack(...))
    else
      local err = task_error((...), task.co)
      coroutine.close(task.co)   -- runs the pending __close handlers of the dead task
      finish(task, false, err)
    end
  elseif (...) ~= WAIT then
    make_ready(task)    -- a plain coroutine.yield(): give the others a turn
  end
end

-- Resumes a ready task until it yields or ends.
local function resume(task)
  task.status = "running"
  local args = task.args
  if args then
    task.args = nil
    return resumed(task, coroutine.resume(task.co, unpack(args, 1, args.n)))
  end
  return resumed(task, coroutine.resume(task.co))
end

-- A ready task running fn (a function) with the packed args (or none).
local function new_task(fn, args)
  state.next_id = state.next_id + 1
  local co = coroutine.create(fn)
  -- Every field a task gets in its life is named here, so the table is made at its final
  -- size once (the nil ones only reserve room: growing a table rehashes it).
  local task = setmetatable({ id = state.next_id, status = "ready", co = co, args = args,
                              results = nil, observed = nil, waiters = nil, err = nil }, Task)
  state.by_co[co] = task
  state.live = state.live + 1
  make_ready(task)
  return task
end

-- For iotlua.map: spawn(fn) for a function known to be one, with no arguments.
M.start = function(fn) return new_task(fn, nil) end

function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    local mt = getmetatable(fn)
    if type(mt) ~= "table" or not mt.__call then
      error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
    end
    local callable = fn
    fn = function(...) return callable(...) end
  end
  return new_task(fn, select("#", ...) > 0 and pack(...) or nil)
end

------------------------------------------------------------------------------------------
-- The loop

local function run_ready()
  local q = state.ready
  state.ready = {}
  for i = 1, #q do
    local task = q[i]
    if task.status == "ready" then resume(task) end
  end
end

local function fire_timers(t)
  local h = state.timers
  while h[1] and h[1].at <= t do
    local timer = heap_pop(h)
    if timer.task and timer.task.status == "waiting" then make_ready(timer.task) end
  end
end

local function wake_requests(completed)
  local requests, streams = state.requests, state.streams
  for i = 1, #completed do
    local req = completed[i]
    local waiter = requests[req]
    if waiter ~= nil then
      requests[req] = nil
      if waiter ~= true then
        state.awaiting = state.awaiting - 1
        if waiter.status == "waiting" then make_ready(waiter) end
      end
    else
      local on_event = streams[req]
      if on_event then on_event(req) end
    end
  end
end

-- One turn of the loop. `deadline` (monotonic seconds or nil) bounds the wait for I/O;
-- when `done` (a function, or nil) is true once the ready tasks have run, the turn ends
-- there instead of waiting. Returns false when nothing at all could make progress.
local function step(deadline, done)
  run_ready()
  if done and done() then return true end
  local timers = state.timers
  while timers[1] and (timers[1].task == nil or timers[1].task.status ~= "waiting") do
    heap_pop(timers)   -- a timer nobody needs any more: its task was cancelled or signalled
  end
  local timeout
  if #state.ready > 0 then
    timeout = 0
  else
    local at = state.timers[1] and state.timers[1].at
    if deadline and (not at or deadline < at) then at = deadline end
    if at then
      timeout = at - now()
      if timeout < 0 then timeout = 0 end
    elseif pending() > 0 then
      timeout = -1   -- block until a request completes
    else
      return false
    end
  end
  wake_requests(poll(timeout))
  if timers[1] then fire_timers(now()) end
  if state.rooms[1] then M.wake_rooms() end
  return true
end

-- Drives the loop until done() is true. `what` names the wait in a deadlock error.
local function drive(done, what, deadline)
  while not done() do
    if not step(deadline, done) and not done() then
      error("deadlock: nothing left to run while waiting for " .. what, 3)
    end
  end
end

-- Suspends the current task until something makes it ready again.
local function suspend(task)
  task.status = "waiting"
  coroutine.yield(WAIT)
end

------------------------------------------------------------------------------------------
-- Waiting

-- Waits for a request handle of the C engine to complete.
function M.await(req)
  if request_done(req) then return end
  local task = state.by_co[running()]
  if task then
    state.requests[req] = task
    state.awaiting = state.awaiting + 1
    task.status = "waiting"     -- suspend(task), inline: one frame less on the task's stack
    yield(WAIT)
  else
    state.requests[req] = true
    drive(function() return request_done(req) end, "a request")
  end
end

-- Long-lived handles: fn(handle) runs from the loop (never inside C) each time the
-- engine reports the handle; it must not yield. It usually signals waiters.
function M.watch(handle, fn)
  state.streams[handle] = fn
end

function M.unwatch(handle)
  state.streams[handle] = nil
end

-- Signals: a table w that one side waits on (wait_signal) and the other completes
-- (signal), such as an MQTT operation waiting for its ack. wait_signal returns true when
-- signalled, false when the deadline (monotonic seconds, or nil for none) or the run's
-- deadline passed first.
function M.signal(w)
  w.signalled = true
  local timer = w.timer
  if timer then timer.task = nil; w.timer = nil end   -- the deadline no longer wakes anyone
  local task = w.task
  if task and task.status == "waiting" then make_ready(task) end
end

function M.wait_signal(w, deadline, what)
  if w.signalled then return true end
  local run_deadline = state.deadline
  if run_deadline and (not deadline or run_deadline < deadline) then deadline = run_deadline end
  local task = current()
  if task then
    w.task = task
    if deadline then w.timer = add_timer(deadline, task) end
    while not w.signalled and not (deadline and now() >= deadline) do
      suspend(task)
    end
    w.task = nil
    if w.timer then w.timer.task = nil; w.timer = nil end
  else
    drive(function() return w.signalled or (deadline ~= nil and now() >= deadline) end,
          what or "a signal", deadline)
  end
  return w.signalled == true
end

-- Room for more calls: wait_room(limit), in a task, returns how many more calls may start
-- (limit minus the calls tasks wait for) once that is above 0, or 0 when the run's
-- deadline passed first. iotlua.map starts its items with it, so that with a concurrency
-- far above what the connections can carry its tasks do not all wait in the queue at once.
function M.wait_room(limit)
  while state.awaiting >= limit do
    local w = { limit = limit }
    state.rooms[#state.rooms + 1] = w
    if not M.wait_signal(w, nil, "room for calls") then return 0 end
  end
  return limit - state.awaiting
end

-- Signals the rooms whose limit the calls waited for are now below (from step).
function M.wake_rooms()
  local rooms, keep = state.rooms, {}
  for i = 1, #rooms do
    local w = rooms[i]
    if state.awaiting < w.limit then M.signal(w) elseif not w.signalled then keep[#keep + 1] = w end
  end
  state.rooms = keep
end

function M.sleep(seconds)
  if type(seconds) ~= "number" then
    error("bad argument #1 to 'sleep' (number expected, got " .. type(seconds) .. ")", 2)
  end
  if seconds ~= seconds or seconds < 0 then
    error("bad argument #1 to 'sleep' (non-negative number expected)", 2)
  end
  local at = now() + seconds
  local task = current()
  if task then
    add_timer(at, task)
    suspend(task)
  else
    step(at)   -- even sleep(0) gives the tasks a turn
    drive(function() return now() >= at end, "a sleep", at)
  end
end

-- A task's outcome, marking its error as retrieved.
local function outcome(task)
  if task.unhandled then
    task.unhandled = false
    state.unhandled = state.unhandled - 1
  end
  if task.status == "done" then
    return unpack(task.results, 1, task.results.n)
  end
  return nil, task.err
end

local function finished(task)
  return task.status == "done" or task.status == "failed"
end

local function wait_for(task)
  task.observed = true
  if finished(task) then return end
  local me = current()
  if me == task then error("a task cannot wait for itself", 3) end
  if me then
    task.waiters = task.waiters or {}
    task.waiters[#task.waiters + 1] = me
    suspend(me)
  else
    drive(function() return finished(task) end, tostring(task))
  end
end

function Task:wait()
  if getmetatable(self) ~= Task then
    error("bad argument #1 to 'wait' (task expected, got " .. type(self) .. ")", 2)
  end
  wait_for(self)
  return outcome(self)
end

function Task:done()
  return finished(self)
end

-- Stops a task that has not finished: its coroutine is closed (pending to-be-closed
-- variables are closed) and wait returns nil, err with the message "cancelled". A call
-- it was waiting for still completes; its result is dropped. Returns true if the task
-- was stopped, false if it had already finished.
function Task:cancel()
  if getmetatable(self) ~= Task then
    error("bad argument #1 to 'cancel' (task expected, got " .. type(self) .. ")", 2)
  end
  if finished(self) then return false end
  if current() == self then error("a task cannot cancel itself; return or error instead", 2) end
  local co = self.co
  self.observed = true
  self.status = "cancelled"
  coroutine.close(co)
  local err = setmetatable({ error = "cancelled", message = "cancelled",
                             traceback = "stack traceback:\n\t(cancelled)" }, TaskError)
  self.co = co
  finish(self, false, err)
  return true
end

local function check_tasks(tasks, fname)
  if type(tasks) ~= "table" then
    error("bad argument #1 to '" .. fname .. "' (table expected, got " .. type(tasks) .. ")", 3)
  end
  for i = 1, #tasks do
    if getmetatable(tasks[i]) ~= Task then
      error("bad argument #1 to '" .. fname .. "' (task expected at index " .. i .. ", got "
            .. type(tasks[i]) .. ")", 3)
    end
  end
end

-- Waits for every task; returns results, errors: results[i] is the first value task i
-- returned, errors[i] its error (raised, or the second value of a nil, err return).
function M.wait_all(tasks)
  check_tasks(tasks, "wait_all")
  for i = 1, #tasks do tasks[i].observed = true end
  local results, errors = {}, {}
  for i = 1, #tasks do
    local r, e = tasks[i]:wait()
    results[i], errors[i] = r, e
  end
  return results, errors
end

-- For iotlua.map: waits for every task of `list` (all made by spawn: no checks, no result
-- arrays, unlike wait_all) and returns the first error one of them raised, or nil.
function M.join(list)
  for i = 1, #list do list[i].observed = true end
  local first
  for i = 1, #list do
    local task = list[i]
    wait_for(task)
    if task.status ~= "done" then
      local _, err = outcome(task)
      if first == nil then first = err end
    end
  end
  return first
end

-- Runs until every task has finished. Returns true when no task error went unretrieved.
function M.run()
  if current() then error("iotlua.run cannot be called inside a task", 2) end
  drive(function() return state.live == 0 end, "the remaining tasks")
  return state.unhandled == 0
end

-- For the host at exit: like run, without raising a deadlock for tasks stuck forever.
function M.finish()
  while state.live > 0 and step() do end
  if state.live > 0 then
    io.stderr:write("iotlua: ", tostring(state.live), " task(s) still waiting at exit\n")
    return false
  end
  return state.unhandled == 0
end

function M.stats()
  return { live = state.live, unhandled = state.unhandled, pending = pending(),
           timers = #state.timers }
end

M.Task = Task
return M
