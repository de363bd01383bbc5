-- iotlua.lock(path): one run at a time. Another process (a real iotlua host) is refused
-- while this one holds the lock, and gets it once it is released, or once its holder
-- was killed with SIGKILL (flock: the kernel lets go, no stale lock).
local iotlua = require("iotlua")
local servers = require("tools.servers")

local IOTLUA = servers.build_dir .. "/iotlua"
local q = servers.shell_quote

-- A script that tries the lock and prints what happened.
local TRY = [[
local iotlua = require("iotlua")
local l, err = iotlua.lock(arg[1])
if l then print("got") os.exit(0) end
print(err.code, err.holder_pid or "-", tostring(err))
os.exit(2)
]]

local function try_from_another_process(dir, path)
  servers.write_file(dir .. "/try.lua", TRY)
  local out = servers.run(q(IOTLUA) .. " " .. q(dir .. "/try.lua") .. " " .. q(path) .. " 2>&1")
  return out
end

describe("iotlua.lock", function()
  local dir
  before_each(function() dir = servers.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. q(dir)) end)

  it("refuses another run while held, naming the holder's pid, and lets go on release", function()
    local path = dir .. "/run.lock"
    local l = assert(iotlua.lock(path))
    assert.is_true(l:held())
    local out = try_from_another_process(dir, path)
    assert.matches("^LockHeld", out)
    assert.matches("locked by another run %(pid %d+%)", out)
    l:release()
    assert.is_false(l:held())
    assert.matches("^got", try_from_another_process(dir, path))
    l:release()                       -- twice is fine
  end)

  it("is released at the end of a <close> scope", function()
    local path = dir .. "/scope.lock"
    do
      local l <close> = assert(iotlua.lock(path))
      assert.matches("^LockHeld", try_from_another_process(dir, path))
    end
    assert.matches("^got", try_from_another_process(dir, path))
  end)

  it("leaves no stale lock when its holder is killed with SIGKILL", function()
    local path = dir .. "/crash.lock"
    servers.write_file(dir .. "/hold.lua", [[
      local l = assert(require("iotlua").lock(arg[1]))
      io.open(arg[2], "w"):close()
      while true do require("iotlua").sleep(1) end
    ]])
    local ready = dir .. "/ready"
    local pid = servers.run(q(IOTLUA) .. " " .. q(dir .. "/hold.lua") .. " " .. q(path) .. " " ..
                            q(ready) .. " >/dev/null 2>&1 & echo $!"):match("%d+")
    for _ = 1, 200 do
      if io.open(ready) then break end
      iotlua.sleep(0.02)
    end
    local out = try_from_another_process(dir, path)
    assert.matches("^LockHeld\t" .. pid, out)
    os.execute("kill -9 " .. pid .. "; wait " .. pid .. " 2>/dev/null; sleep 0.1")
    assert.matches("^got", try_from_another_process(dir, path))
  end)

  it("names a path it cannot use, and raises on misuse", function()
    local l, err = iotlua.lock(dir .. "/no/such/dir/x.lock")
    assert.is_nil(l)
    assert.equals("LockError", err.code)
    assert.matches("no/such/dir/x.lock", err.message, 1, true)
    assert.has_error(function() iotlua.lock(42) end, "bad argument #1 to 'lock' (a file path expected, got number)")
  end)
end)
