-- iotlua.errors — the error objects of failures of the world.
--
-- Calls return nil, err when the world fails (network, TLS, credentials, service errors,
-- timeouts, a configuration that cannot be resolved); misuse raises instead. err is a
-- table with code, message, status (HTTP status or nil), request_id, operation,
-- retryable and attempts, and tostring(err) is one readable line:
--   ResourceNotFoundException: No connection found for client sensor-42
--   (HTTP 404, GetConnection, request 1234-abcd, 1 attempt)

local M = {}

local Error = { __name = "iotlua.error" }
Error.__index = Error

local function one_line(s)
  return (tostring(s):gsub("[\r\n]+", " "))
end

function Error.__tostring(err)
  local details = {}
  if err.status then details[#details + 1] = "HTTP " .. tostring(err.status) end
  if err.operation then details[#details + 1] = err.operation end
  if err.request_id and err.request_id ~= "" then
    details[#details + 1] = "request " .. err.request_id
  end
  if err.attempts and err.attempts > 0 then
    details[#details + 1] = err.attempts .. (err.attempts == 1 and " attempt" or " attempts")
  end
  local line = tostring(err.code or "Error")
  if err.message and err.message ~= "" then line = line .. ": " .. one_line(err.message) end
  if #details > 0 then line = line .. " (" .. table.concat(details, ", ") .. ")" end
  return line
end

-- Gives the fields table the error metatable; returns it.
function M.new(fields)
  return setmetatable(fields, Error)
end

function M.is_error(v)
  return getmetatable(v) == Error
end

M.Error = Error
return M
