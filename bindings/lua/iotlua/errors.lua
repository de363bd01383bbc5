-- iotlua.errors — the error objects of failures of the world.
--
-- Calls return nil, err when the world fails (network, TLS, credentials, service errors,
-- timeouts, a configuration that cannot be resolved); misuse raises instead. err is a
-- table with code, message, status (HTTP status or nil), request_id, operation,
-- retryable and attempts, and tostring(err) is one readable line:
--   ResourceNotFoundException: No connection found for client sensor-42
--   (HTTP 404, GetConnection, request 1234-abcd, 1 attempt)
-- with line breaks in the message turned into spaces.

local core = require("iotlua.core")

local M = {}

local Error = { __name = "iotlua.error" }
Error.__index = Error

-- One line from the fields, built by the runtime (the same line C callers print).
Error.__tostring = core.error_line

-- Gives the fields table the error metatable; returns it.
function M.new(fields)
  return setmetatable(fields, Error)
end

function M.is_error(v)
  return getmetatable(v) == Error
end

M.Error = Error
return M
