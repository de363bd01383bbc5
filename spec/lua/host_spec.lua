-- The iotlua host (build/iotlua), run as a subprocess: options like lua's, the global
-- `arg`, exit statuses, the one-line error report with a traceback, the REPL, the
-- preloaded modules, and the tasks left running when the script ends.
local servers = require("tools.servers")

local IOTLUA = servers.build_dir .. "/iotlua"
local q = servers.shell_quote

-- Runs iotlua with argv (a list) and stdin text; returns status, stdout, stderr.
local function run(argv, stdin, env)
  local dir = servers.tmpdir()
  servers.write_file(dir .. "/stdin", stdin or "")
  local parts = { "env", "LUA_INIT=" }
  for k, v in pairs(env or {}) do parts[#parts + 1] = q(k .. "=" .. v) end
  parts[#parts + 1] = q(IOTLUA)
  for _, a in ipairs(argv) do parts[#parts + 1] = q(a) end
  local cmd = table.concat(parts, " ") .. " <" .. q(dir .. "/stdin") .. " >" .. q(dir .. "/out") ..
              " 2>" .. q(dir .. "/err") .. "; echo $?"
  local status = tonumber((servers.run(cmd)))
  local out, err = servers.read_file(dir .. "/out"), servers.read_file(dir .. "/err")
  os.execute("rm -rf " .. q(dir))
  return status, out, err
end

local function script_file(text)
  local path = os.tmpname()
  servers.write_file(path, text)
  return path
end

describe("the iotlua host", function()
  local tmp = {}
  local function script(text)
    local path = script_file(text)
    tmp[#tmp + 1] = path
    return path
  end
  teardown(function()
    for _, p in ipairs(tmp) do os.remove(p) end
  end)

  describe("options", function()
    for _, opt in ipairs{ "-v", "--version" } do
      it(opt .. " prints the versions of iotlua, Lua, libcurl and OpenSSL", function()
        local status, out = run{ opt }
        assert.equals(0, status)
        assert.matches("^iotlua %d+%.%d+%.%d+\nLua 5%.4%.%d+, libcurl %d[%d.]*, OpenSSL %d", out)
      end)
    end

    for _, opt in ipairs{ "-h", "--help" } do
      it(opt .. " prints the usage on stdout and exits 0", function()
        local status, out = run{ opt }
        assert.equals(0, status)
        assert.matches("^usage: iotlua %[options%] %[script %[args%]%]", out)
        assert.matches("--quiet", out, 1, true)
      end)
    end

    local BAD = {
      { { "--bogus" }, "iotlua: unrecognized option '--bogus'" },
      { { "-x" }, "iotlua: unrecognized option '-x'" },
      { { "-e" }, "iotlua: '-e' needs an argument" },
      { { "-l" }, "iotlua: '-l' needs an argument" },
    }
    for _, case in ipairs(BAD) do
      it("rejects " .. table.concat(case[1], " ") .. " with status 1 and the usage", function()
        local status, out, err = run(case[1])
        assert.equals(1, status)
        assert.equals("", out)
        assert.equals(case[2], err:match("^[^\n]*"))
        assert.matches("\nusage: iotlua", err, 1, true)
      end)
    end

    it("-e runs statements in order", function()
      local status, out = run{ "-e", "x = 20", "-e", "print(x + 22)", "-eprint('joined')" }
      assert.equals(0, status)
      assert.equals("42\njoined\n", out)
    end)

    it("warn() is off until warn('@on'), joins a message's pieces on one line, and '@off' ends it", function()
      local status, out, err = run{ "-e", "warn('hidden') warn('@on') warn('a', 'b', 'c') " ..
                                          "warn('@off') warn('gone') print('ran')" }
      assert.equals(0, status)
      assert.equals("ran\n", out)
      assert.equals("Lua warning: abc\n", err)
    end)

    it("a script that allocates and collects a great deal gets the right answers", function()
      local status, out = run{ "-e", [[
        local sum, keep = 0, {}
        for round = 1, 300 do
          local t = {}
          for i = 1, 300 do t[i] = { name = "dev-" .. i, n = i, pad = string.rep("p", i % 40) } end
          for i = 1, #t do sum = sum + t[i].n + #t[i].pad end
          keep[round % 7 + 1] = t
          if round % 100 == 0 then collectgarbage() end
        end
        print(sum, #keep[1], keep[1][300].name)]] }
      assert.equals(0, status)
      -- sum over 300 rounds of (1 + ... + 300) and of (i % 40) for i = 1..300
      local pads = 0
      for i = 1, 300 do pads = pads + i % 40 end
      assert.equals(string.format("%d\t300\tdev-300\n", 300 * (45150 + pads)), out)
    end)

    it("-l requires a module into the global of that name", function()
      local status, out = run{ "-l", "cjson", "-liotlua", "-e", "print(cjson.encode{1}, iotlua.version)" }
      assert.equals(0, status)
      assert.matches("^%[1%]\t%d+%.%d+%.%d+\n$", out)
    end)

    it("-l of a missing module fails with one line and status 1", function()
      local status, _, err = run{ "-l", "no_such_module_xyz" }
      assert.equals(1, status)
      assert.matches("^iotlua: module 'no_such_module_xyz' not found", err)
    end)

    it("--quiet sets iotlua.quiet", function()
      local status, out = run{ "--quiet", "-e", "print(require('iotlua').quiet)" }
      assert.equals(0, status)
      assert.equals("true\n", out)
      status, out = run{ "-e", "print(require('iotlua').quiet)" }
      assert.equals("false\n", out)
    end)
  end)

  describe("scripts and arg", function()
    it("runs a script with arg and ... as lua does", function()
      local path = script("print(#arg, arg[0], arg[1], arg[2], arg[-1], arg[-2], arg[-3]) print(...)")
      local status, out = run{ "-e", "x=1", path, "a", "b c" }
      assert.equals(0, status)
      assert.equals(("2\t%s\ta\tb c\tx=1\t-e\t%s\na\tb c\n"):format(path, IOTLUA), out)
    end)

    it("arg[0] is the interpreter when there is no script (the options follow, as in lua)", function()
      local status, out = run{ "-e", "print(arg[0], #arg, arg[1])" }
      assert.equals(0, status)
      assert.equals(IOTLUA .. "\t2\t-e\n", out)
    end)

    it("- runs stdin as the script, with the arguments after it", function()
      local status, out = run({ "-", "x", "y" }, "print('from stdin', ...) print(arg[0])")
      assert.equals(0, status)
      assert.equals("from stdin\tx\ty\n-\n", out)
    end)

    it("with no script and stdin not a terminal, runs stdin", function()
      local status, out = run({}, "print(6 * 7)")
      assert.equals(0, status)
      assert.equals("42\n", out)
    end)

    it("-- ends the options", function()
      local path = script("print(...)")
      local status, out = run{ "--", path, "-v" }
      assert.equals(0, status)
      assert.equals("-v\n", out)
    end)

    it("preloads iotlua and cjson: no files needed at run time", function()
      local status, out = run({ "-e", "print(package.preload.iotlua ~= nil, package.preload.cjson ~= nil, " ..
                                "require('iotlua').json == require('cjson'))" },
                              nil, { LUA_CPATH = "/nonexistent/?.so", LUA_PATH = "/nonexistent/?.lua" })
      assert.equals(0, status)
      assert.equals("true\ttrue\ttrue\n", out)
    end)

    it("does not load the module until it is required (fast start-up)", function()
      local status, out = run{ "-e", "print(package.loaded.iotlua, package.loaded['iotlua.core'])" }
      assert.equals(0, status)
      assert.equals("nil\tnil\n", out)
    end)
  end)

  describe("exit status and errors", function()
    local EXITS = {
      { "success", "local x = 1", 0 },
      { "os.exit(3)", "os.exit(3)", 3 },
      { "os.exit(true)", "os.exit(true)", 0 },
      { "os.exit(false)", "os.exit(false)", 1 },
      { "os.exit(0) after output", "io.write('done') os.exit(0)", 0 },
      { "an error", "error('boom')", 1 },
    }
    for _, case in ipairs(EXITS) do
      it("exits " .. case[3] .. " for " .. case[1], function()
        local status = run{ script(case[2]) }
        assert.equals(case[3], status)
      end)
    end

    local ERRORS = {
      { "a string error", "local function f() error('boom') end\nf()", "^iotlua: [^\n]*:1: boom\n" },
      { "an error table with __tostring",
        "error(setmetatable({}, { __tostring = function() return 'Custom: readable' end }))",
        "^iotlua: Custom: readable\n" },
      { "an error table without __tostring", "error({ code = 1 })",
        "^iotlua: %(error object is a table value%)\n" },
      { "error(nil)", "error(nil)", "^iotlua: %(error object is a nil value%)\n" },
      { "a syntax error", "x = = 1", "^iotlua: [^\n]*:1: unexpected symbol near '='\n" },
    }
    for _, case in ipairs(ERRORS) do
      it("reports " .. case[1] .. " in one line plus a traceback", function()
        local status, out, err = run{ script(case[2]) }
        assert.equals(1, status)
        assert.equals("", out)
        assert.matches(case[3], err)
        if case[1] ~= "a syntax error" then
          assert.matches("\nstack traceback:\n", err, 1, true)
        end
      end)
    end

    it("the traceback names the functions on the way", function()
      local _, _, err = run{ script("local function inner() error('deep') end\nlocal function outer() inner() end\nouter()") }
      assert.matches(":1: in [^\n]*'inner'\n", err)
      assert.matches(":2: in [^\n]*'outer'\n", err)
    end)

    it("a task's error re-raised by the script shows the task's traceback too", function()
      local _, _, err = run{ script("local iotlua = require('iotlua')\n" ..
        "local function helper() error('inner failure') end\n" ..
        "assert(iotlua.spawn(function() helper() end):wait())") }
      assert.matches("^iotlua: [^\n]*:2: inner failure\nin the task: stack traceback:\n", err)
      assert.matches(":2: in [^\n]*'helper'\n", err)
      assert.matches("\nstack traceback:\n[^\n]*in function 'assert'", err)
    end)

    it("a traceback through the embedded module names its files and lines", function()
      -- The module is embedded precompiled (bindings/CMakeLists.txt): its debug
      -- information must survive, or this reads "?" instead of a file and line.
      local status, _, err = run{ "-e", "require('iotlua').map({ 1 }, 5)" }
      assert.equals(1, status)
      assert.matches("bad argument #2 to 'map' %(function expected, got number%)", err)
      assert.matches("\n%s+iotlua/api%.lua:%d+: in ", err)
    end)

    it("a missing script file is one line and status 1", function()
      local status, _, err = run{ "/nonexistent/script.lua" }
      assert.equals(1, status)
      assert.matches("^iotlua: cannot open /nonexistent/script.lua", err)
    end)

    it("an error in -e reports and stops before the script", function()
      local path = script("print('not reached')")
      local status, out, err = run{ "-e", "error('early')", path }
      assert.equals(1, status)
      assert.equals("", out)
      assert.matches("^iotlua: %(command line%):1: early\n", err)
    end)
  end)

  describe("tasks at exit", function()
    it("lets spawned tasks finish after the script returns", function()
      local path = script([[
        local iotlua = require("iotlua")
        iotlua.spawn(function() iotlua.sleep(0.05) print("task done") end)
        print("script done")]])
      local status, out = run{ path }
      assert.equals(0, status)
      assert.equals("script done\ntask done\n", out)
    end)

    it("exits 1 when a task failed and nobody retrieved its error", function()
      local path = script([[
        local iotlua = require("iotlua")
        iotlua.spawn(function() error("task broke") end)
        iotlua.spawn(function() iotlua.sleep(0.01) print("other task still ran") end)]])
      local status, out, err = run{ path }
      assert.equals(1, status)
      assert.equals("other task still ran\n", out)
      assert.matches("^iotlua: task 1 failed: [^\n]*task broke\nstack traceback:\n", err)
    end)

    it("exits 0 when the failed task's error was retrieved with wait", function()
      local path = script([[
        local iotlua = require("iotlua")
        local t = iotlua.spawn(function() error("handled") end)
        local r, err = t:wait()
        print(r, err)]])
      local status, out, err = run{ path }
      assert.equals(0, status, err)
      assert.matches("^nil\t[^\n]*handled\n$", out)
      assert.equals("", err)
    end)
  end)

  describe("the REPL on a terminal", function()
    it("prints expression values, continues incomplete chunks and survives errors", function()
      local input = "x = 20 + 1\nx * 2\nfor i = 1, 2 do\nprint('line', i)\nend\nerror('oops')\nreturn 'still here'\n"
      local dir = servers.tmpdir()
      servers.write_file(dir .. "/in", input)
      local out = servers.run("script -qec " .. q(q(IOTLUA)) .. " /dev/null <" .. q(dir .. "/in") .. " 2>&1")
      os.execute("rm -rf " .. q(dir))
      out = out:gsub("\r", "")
      assert.matches("\niotlua %d+%.%d+%.%d+\n", "\n" .. out)
      assert.matches("> 42\n", out, 1, true)
      assert.matches("line\t1\nline\t2\n", out, 1, true)
      assert.matches("stdin:1: oops\n", out, 1, true)
      assert.matches("still here\n", out, 1, true)
    end)
  end)

  describe("over HTTPS", function()
    -- The host may link its own libcurl and OpenSSL (host/static_curl.cmake):
    -- certificate checks and their error messages must work there as in iotlua.so.
    local emu, cert
    setup(function()
      emu = servers.https_emulator()
      cert = emu.cert
    end)
    teardown(function() servers.cleanup(emu) end)

    it("rejects an unknown CA with a TLSError naming the certificate, then publishes with ca_bundle", function()
      local status, out = run{ script([[
local iotlua = require("iotlua")
local o = { endpoint = arg[1], region = arg[2], max_attempts = 1,
            credentials = { access_key_id = arg[3], secret_access_key = arg[4] } }
local r, err = assert(iotlua.client(o)):publish{ topic = "tls/host", payload = "x" }
print(r, err and err.code, err and err.message)
o.ca_bundle = arg[5]
r, err = assert(iotlua.client(o)):publish{ topic = "tls/host", payload = "x" }
print(r and r.ResponseMetadata.HTTPStatusCode, err)
]]), emu.http, servers.region, servers.access_key_id, servers.secret_access_key, cert }
      assert.equals(0, status)
      local first, second = out:match("^([^\n]*)\n([^\n]*)\n$")
      assert.matches("^nil\tTLSError\t.*certificate", first)
      assert.equals("200\tnil", second)
    end)
  end)
end)
