-- TLS settings of iotlua.client against the emulator serving HTTPS with a self-signed
-- certificate: verification is on by default (TLSError), ca_bundle / AWS_CA_BUNDLE make
-- it pass, verify_tls = false turns it off.
local iotlua = require("iotlua")
local servers = require("tools.servers")

describe("iotlua.client over HTTPS", function()
  local emu, cert
  setup(function()
    emu = servers.https_emulator()
    cert = emu.cert
  end)
  teardown(function() servers.cleanup(emu) end)

  local function client(extra)
    return assert(iotlua.client(emu:client_options(extra)))
  end

  it("serves https", function()
    assert.matches("^https://127%.0%.0%.1:%d+$", emu.http)
  end)

  it("verifies the certificate by default: an unknown CA is a TLSError", function()
    local iot = client{ max_attempts = 1 }
    local r, err = iot:publish{ topic = "tls/a", payload = "x" }
    assert.is_nil(r)
    assert.equals("TLSError", err.code)
    iot:close()
  end)

  it("ca_bundle names the CA to trust", function()
    local iot = client{ ca_bundle = cert }
    local r = assert(iot:publish{ topic = "tls/a", payload = "x" })
    assert.equals(200, r.ResponseMetadata.HTTPStatusCode)
    iot:close()
  end)

  it("AWS_CA_BUNDLE names it too", function()
    local opts = emu:client_options()
    opts._env = { AWS_CA_BUNDLE = cert, AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null" }
    local iot = assert(iotlua.client(opts))
    assert(iot:publish{ topic = "tls/a", payload = "x" })
    iot:close()
  end)

  it("verify_tls = false accepts any certificate", function()
    local iot = client{ verify_tls = false }
    assert(iot:publish{ topic = "tls/a", payload = "x" })
    iot:close()
  end)
end)
