-- iotlua.progress — the one-line progress display of iotlua.map on a terminal.
--
--   1234/10000  812.4/s  errors 3  ETA 0:11
--
-- Redrawn in place with \r on stderr, at most ten times a second, and once more with a
-- newline when the work ends. new() returns nil (no display) when stderr is not a
-- terminal or the display is turned off (--quiet in the host, iotlua.quiet = true).

local core = require("iotlua.core")
local now = core.now

local M = {}
local Progress = {}
Progress.__index = Progress

local INTERVAL = 0.1

local function clock(seconds)
  if seconds ~= seconds or seconds == math.huge then return "?" end
  seconds = math.floor(seconds + 0.5)
  local h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, s) end
  return string.format("%d:%02d", m, s)
end
M.clock = clock

-- The text of the line for `done` of `total` items after `elapsed` seconds.
function M.line(done, total, errors, elapsed)
  local rate = elapsed > 0 and done / elapsed or 0
  local eta = rate > 0 and (total - done) / rate or math.huge
  local text = string.format("%d/%d  %.1f/s  errors %d", done, total, rate, errors)
  if done < total then
    text = text .. "  ETA " .. clock(eta)
  else
    text = text .. "  in " .. clock(elapsed)
  end
  return text
end

-- Whether a display should be shown: a terminal on stderr and nobody asked for quiet.
function M.enabled(quiet)
  return not quiet and core.isatty(2)
end

function M.new(total, out)
  local t = now()
  return setmetatable({ total = total, start = t, last = -math.huge, width = 0,
                        out = out or io.stderr, done = 0, errors = 0 }, Progress)
end

function Progress:draw()
  local text = M.line(self.done, self.total, self.errors, now() - self.start)
  local pad = self.width > #text and string.rep(" ", self.width - #text) or ""
  self.width = #text
  self.out:write("\r", text, pad)
  self.out:flush()
end

function Progress:update(done, errors)
  self.done, self.errors = done, errors
  local t = now()
  if t - self.last >= INTERVAL then
    self.last = t
    self:draw()
  end
end

function Progress:finish()
  self:draw()
  self.out:write("\n")
  self.out:flush()
end

return M
