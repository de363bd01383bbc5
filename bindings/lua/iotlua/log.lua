-- iotlua.log — leveled log lines for runbooks: iotlua.log.info("checked", { clientId = id,
-- connected = true }). To stderr by default, as plain text or JSON lines, each with an
-- RFC 3339 UTC time. The format and the least level come from the host's --log-format /
-- --log-level, else IOTLUA_LOG_FORMAT / IOTLUA_LOG_LEVEL, else text and info;
-- iotlua.log.configure{ format =, level =, output = file } changes them.
--
-- Redaction: a field whose name says it holds a secret (secret, token, password,
-- signature, authorization, credential, session, private key) is written as
-- "[redacted]", at any depth of nested tables; and any string value that carries a SigV4
-- signature or an Authorization header's credentials is redacted whatever its name.

local core = require("iotlua.core")

local M = {}

local LEVELS = { debug = 1, info = 2, warn = 3, error = 4 }
local NAMES = { "debug", "info", "warn", "error" }

local settings = { format = "text", level = LEVELS.info, output = io.stderr }

local function env_or(flag, var, valid)
  local v = flag or os.getenv(var)
  if v and valid[v] then return v end
  return nil
end

do
  local flag_format, flag_level = core.log_options()
  settings.format = env_or(flag_format, "IOTLUA_LOG_FORMAT", { text = true, json = true })
                    or "text"
  local level = env_or(flag_level, "IOTLUA_LOG_LEVEL", LEVELS)
  settings.level = LEVELS[level or "info"]
end

------------------------------------------------------------------------------------------
-- Redaction

local SECRET_NAME = { "secret", "token", "password", "passwd", "signature", "authorization",
                      "credential", "session", "private" }

local function secret_name(name)
  local lower = tostring(name):lower():gsub("[_%-]", "")
  for _, word in ipairs(SECRET_NAME) do
    if lower:find(word, 1, true) then return true end
  end
  return false
end

local function secret_value(s)
  return s:find("Signature=", 1, true) or s:find("AWS4-HMAC-SHA256", 1, true) or
         s:find("X-Amz-Security-Token", 1, true)
end

local REDACTED = "[redacted]"

local function redact(value, depth)
  if type(value) == "string" then
    return secret_value(value) and REDACTED or value
  end
  if type(value) ~= "table" or depth > 8 then return value end
  local copy = {}
  for k, v in pairs(value) do
    copy[k] = secret_name(k) and REDACTED or redact(v, depth + 1)
  end
  return copy
end

M.redact = function(fields) return redact(fields, 1) end

------------------------------------------------------------------------------------------
-- Lines

local function timestamp()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

local cjson
local function json_line(level, message, fields)
  cjson = cjson or require("cjson")
  local record = { time = timestamp(), level = level, message = message }
  for k, v in pairs(fields) do
    if record[k] == nil then record[k] = v else record["field." .. k] = v end
  end
  local ok, text = pcall(cjson.encode, record)
  if not ok then
    text = cjson.encode({ time = record.time, level = level, message = message,
                          log_error = "fields not encodable: " .. tostring(text) })
  end
  return text
end

local function text_value(v)
  if type(v) == "string" then
    return v:find("[%s\"=]") and string.format("%q", v) or v
  end
  if type(v) == "table" then
    cjson = cjson or require("cjson")
    local ok, text = pcall(cjson.encode, v)
    return ok and text or tostring(v)
  end
  return tostring(v)
end

local function text_line(level, message, fields)
  local keys = {}
  for k in pairs(fields) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local parts = { timestamp(), level:upper(), message }
  for _, k in ipairs(keys) do
    parts[#parts + 1] = k .. "=" .. text_value(fields[k])
  end
  return table.concat(parts, " ")
end

local function emit(level, message, fields)
  if LEVELS[level] < settings.level then return end
  if type(message) ~= "string" then
    error("bad argument #1 to '" .. level .. "' (a message string expected, got " ..
          type(message) .. ")", 3)
  end
  if fields ~= nil and type(fields) ~= "table" then
    error("bad argument #2 to '" .. level .. "' (a table of fields expected, got " ..
          type(fields) .. ")", 3)
  end
  local clean = redact(fields or {}, 1)
  local line = settings.format == "json" and json_line(level, message, clean)
               or text_line(level, message, clean)
  settings.output:write(line, "\n")
  settings.output:flush()
end

for _, name in ipairs(NAMES) do
  M[name] = function(message, fields) return emit(name, message, fields) end
end

-- true when lines of that level are written (to skip building costly fields).
function M.enabled(level)
  return (LEVELS[level] or math.huge) >= settings.level
end

function M.configure(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'configure' (table expected, got " .. type(opts) .. ")", 2)
  end
  if opts.format ~= nil then
    if opts.format ~= "text" and opts.format ~= "json" then
      error("bad argument #1 to 'configure' (format must be \"text\" or \"json\")", 2)
    end
    settings.format = opts.format
  end
  if opts.level ~= nil then
    if not LEVELS[opts.level] then
      error("bad argument #1 to 'configure' (level must be debug, info, warn or error)", 2)
    end
    settings.level = LEVELS[opts.level]
  end
  if opts.output ~= nil then settings.output = opts.output end
end

return M
