-- The packages (issue 17, point 6): the rockspec built and installed by luarocks into a
-- tree of its own and used from a stock lua5.4 against the emulator; the .deb made by
-- cpack from the build under test, its control fields and files, its binaries run from
-- an unpacked root; the man pages formatted without a warning.
local servers = require("tools.servers")
local q = servers.shell_quote

-- Runs cmd with stderr into stdout; returns the output and the exit status. Without the
-- sanitizer build's LD_PRELOAD (libasan): the tools run here (groff, man, luarocks, cmake,
-- the compiler) are not instrumented, and the binaries under test link libasan themselves.
local function sh(cmd)
  return servers.run("unset LD_PRELOAD; " .. cmd .. " 2>&1")
end

describe("man pages", function()
  for _, page in ipairs{ "iotlua.1", "iotlua-emulator.1" } do
    it(page .. " formats with groff -man -ww without a warning, and man -l reads it", function()
      local path = servers.source_dir .. "/man/" .. page
      local out, code = sh("LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z " .. q(path))
      assert.equals(0, code, out)
      assert.equals("", out)
      out, code = sh("MANWIDTH=80 LC_ALL=C.UTF-8 man -l " .. q(path) .. " | cat")
      assert.equals(0, code, out)
      assert.matches("SYNOPSIS", out)
    end)
  end

  -- Every option the programs' --help prints is in their man page.
  local function options_of(help)
    local seen, list = {}, {}
    for opt in help:gmatch("%-%-[%a][%w%-]*") do
      if not seen[opt] then seen[opt], list[#list + 1] = true, opt end
    end
    return list
  end

  for _, p in ipairs{ { "iotlua", "iotlua.1" }, { "iotlua-emulator", "iotlua-emulator.1" } } do
    it(p[2] .. " documents every long option of " .. p[1] .. " --help", function()
      local help = sh(q(servers.build_dir .. "/" .. p[1]) .. " --help")
      local page = sh("MANWIDTH=200 LC_ALL=C man -l " ..
                      q(servers.source_dir .. "/man/" .. p[2]) .. " | col -b")
      local opts = options_of(help)
      assert.is_true(#opts >= 4, help)
      for _, opt in ipairs(opts) do
        assert.is_truthy(page:find(opt, 1, true), p[2] .. " does not document " .. opt)
      end
    end)
  end
end)

describe("iotlua-dev-1.rockspec", function()
  local emu, dir

  setup(function()
    emu = servers.emulator()
    dir = servers.tmpdir()
  end)
  teardown(function() servers.cleanup(emu, dir) end)

  it("luarocks make installs the module into a tree; stock lua5.4 publishes with it", function()
    -- A copy of the sources, so the build (build.luarocks/) stays out of the checkout.
    local src, tree = dir .. "/src", dir .. "/tree"
    local out, code = sh("mkdir " .. q(src) .. " && cd " .. q(servers.source_dir) ..
      " && git ls-files -co --exclude-standard -z | grep -zv '^build' | " ..
      "xargs -0 cp --parents -t " .. q(src))
    assert.equals(0, code, out)
    out, code = sh("cd " .. q(src) .. " && CMAKE_BUILD_PARALLEL_LEVEL=2 luarocks" ..
      " --lua-version 5.4 --tree " .. q(tree) .. " make --deps-mode none iotlua-dev-1.rockspec")
    assert.equals(0, code, out)
    assert.matches("iotlua dev%-1 is now installed", out)
    local so = tree .. "/lib/lua/5.4/iotlua.so"
    assert.is_truthy(io.open(so), "no " .. so .. "\n" .. out)
    assert.is_truthy(io.open(tree .. "/share/lua/5.4/iotlua/log.lua"))
    local listed = sh("luarocks --lua-version 5.4 --tree " .. q(tree) .. " list --porcelain")
    assert.matches("iotlua\tdev%-1\tinstalled", listed)

    -- Only the tree's module: the environment's LUA_CPATH (the build dir) is cleared.
    local script = dir .. "/publish.lua"
    servers.write_file(script, table.concat({
      "package.cpath = " .. ("%q"):format(tree .. "/lib/lua/5.4/?.so;") .. " .. package.cpath",
      "local iotlua = require('iotlua')",
      "print(package.searchpath('iotlua', package.cpath))",
      "local iot = assert(iotlua.client{})",
      "assert(iot:publish{ topic = 'rock/check', payload = 'from the rock', qos = 1 })",
      "iotlua.log.configure{ output = io.stdout, format = 'json' }",
      "iotlua.log.info('published', { topic = 'rock/check' })",
    }, "\n"))
    local env = { "env", "-u", "LUA_CPATH", "-u", "LUA_PATH", "-u", "LD_PRELOAD" }
    for k, v in pairs(emu:env()) do env[#env + 1] = q(k .. "=" .. v) end
    out, code = sh(table.concat(env, " ") .. " lua5.4 " .. q(script))
    assert.equals(0, code, out)
    assert.matches(tree:gsub("%p", "%%%0") .. "/lib/lua/5%.4/iotlua%.so", out)
    assert.matches('"message":"published"', out)
    local status, rec = emu:control("GET", "/_emulator/published?topic=rock/check")
    assert.equals(200, status)
    assert.equals("from the rock", rec.messages[1].payloadText)
  end)
end)

describe("cpack -G DEB", function()
  local dir, deb

  setup(function()
    dir = servers.tmpdir()
    local out, code = sh("cd " .. q(dir) .. " && cpack -G DEB --config " ..
                         q(servers.build_dir .. "/CPackConfig.cmake") .. " -B " .. q(dir))
    assert(code == 0, out)
    deb = servers.run("ls " .. q(dir) .. "/iotlua_*.deb"):gsub("%s+$", "")
  end)
  teardown(function() servers.cleanup(nil, dir) end)

  it("names the libraries it links and lua-cjson in Depends (dpkg-deb -I)", function()
    local out, code = sh("dpkg-deb -I " .. q(deb))
    assert.equals(0, code, out)
    assert.matches("Package: iotlua\n", out)
    local depends = assert(out:match("\n Depends: ([^\n]+)"), out)
    for _, pkg in ipairs{ "liblua5.4-0", "lua-cjson", "libc6", "libssl3",
                          "libevent-core-2.1-7", "libevent-openssl-2.1-7" } do
      assert.is_truthy(depends:find(pkg .. " ", 1, true) or depends:find(pkg .. ",", 1, true)
                       or depends:sub(-#pkg) == pkg, pkg .. " missing from " .. depends)
    end
    -- Every library the binaries need, as ldd sees them, is in some package it names.
    local unpacked = dir .. "/root"
    assert.equals(0, select(2, sh("dpkg -x " .. q(deb) .. " " .. q(unpacked))))
    local libs = sh("for f in " .. q(unpacked) .. "/usr/bin/* " .. q(unpacked) ..
                    "/usr/lib/lua/5.4/iotlua.so; do objdump -p \"$f\" | awk '/NEEDED/ {print $2}'; done | sort -u")
    local multiarch = sh("gcc -print-multiarch"):gsub("%s+$", "")
    for lib in libs:gmatch("[^\n]+") do
      if not lib:match("^libasan") and not lib:match("^libubsan") then
        local owner = sh("dpkg -S " .. q("*/" .. multiarch .. "/" .. lib) .. " | head -1"):match("^([^:]+):")
        assert.is_truthy(owner, "no package owns " .. lib)
        assert.is_truthy(depends:find(owner, 1, true), lib .. " (" .. owner .. ") not in " .. depends)
      end
    end
  end)

  it("holds the host, the emulator, the module, its Lua sources and the man pages (dpkg-deb -c)", function()
    local out, code = sh("dpkg-deb -c " .. q(deb))
    assert.equals(0, code, out)
    for _, path in ipairs{ "./usr/bin/iotlua\n", "./usr/bin/iotlua-emulator\n",
                           "./usr/lib/lua/5.4/iotlua.so\n", "./usr/share/lua/5.4/iotlua/log.lua\n",
                           "./usr/share/man/man1/iotlua.1.gz\n",
                           "./usr/share/man/man1/iotlua-emulator.1.gz\n" } do
      assert.is_truthy(out:find(path, 1, true), path .. " missing:\n" .. out)
    end
  end)

  it("runs from an unpacked root: iotlua --version, iotlua-emulator --version, man -l", function()
    local root = dir .. "/root2"
    assert.equals(0, select(2, sh("dpkg -x " .. q(deb) .. " " .. q(root))))
    local out, code = sh(q(root .. "/usr/bin/iotlua") .. " --version")
    assert.equals(0, code, out)
    assert.matches("^iotlua %d+%.%d+%.%d+\nLua 5%.4", out)
    out, code = sh(q(root .. "/usr/bin/iotlua-emulator") .. " --version")
    assert.equals(0, code, out)
    assert.matches("^iotlua%-emulator %d", out)
    out, code = sh("MANWIDTH=80 LC_ALL=C.UTF-8 man -l " .. q(root .. "/usr/share/man/man1/iotlua.1.gz") .. " | cat")
    assert.equals(0, code, out)
    assert.matches("log%-format", out)
  end)
end)
