-- End to end: the page iterators generated from the model's pagination data
-- (iot:<operation>_pages{...} and iot:paginate(name, {...})) against iotlua-emulator:
-- ListSubscriptions, ListRetainedMessages and ListNamedShadowsForThing over several
-- pages, every item once, a failing page ending the loop with (false, err), and call
-- options ({ timeout = s }) applied to each page's call.
local servers = require("tools.servers")
local iotlua = require("iotlua")

describe("paginators", function()
  local emu, iot

  setup(function()
    emu = servers.emulator()
    iot = assert(iotlua.client(emu:client_options{ max_attempts = 1 }))
  end)

  teardown(function() servers.cleanup(emu) end)

  it("walks ListSubscriptions page by page, each subscription once", function()
    local dev = assert(iotlua.mqtt.connect{ url = emu.mqtt, client_id = "pager-dev" })
    for i = 1, 23 do assert(dev:subscribe{ string.format("pager/%02d", i), qos = 1 }) end
    local seen, pages = {}, 0
    for page, err in iot:list_subscriptions_pages{ clientId = "pager-dev", maxResults = 5 } do
      assert(page, err)
      pages = pages + 1
      assert.is_true(#page.subscriptions <= 5)
      for _, s in ipairs(page.subscriptions) do
        assert.is_nil(seen[s.topicFilter])
        seen[s.topicFilter] = true
      end
    end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.equals(23, n)
    assert.equals(5, pages)
    dev:disconnect()
  end)

  it("walks ListRetainedMessages and ListNamedShadowsForThing through paginate", function()
    for i = 1, 7 do
      assert(iot:publish{ topic = "pager/retained/" .. i, payload = "r", retain = true })
      assert(iot:update_thing_shadow{ thingName = "pager-thing", shadowName = "s" .. i,
                                      payload = { state = { reported = { i = i } } } })
    end
    local topics = {}
    for page, err in iot:paginate("list_retained_messages", { maxResults = 3 }) do
      assert(page, err)
      for _, t in ipairs(page.retainedTopics) do topics[#topics + 1] = t.topic end
    end
    local mine = {}
    for _, t in ipairs(topics) do if t:find("^pager/retained/") then mine[#mine + 1] = t end end
    assert.equals(7, #mine)
    local names, pages = {}, 0
    for page in iot:paginate("list_named_shadows_for_thing", { thingName = "pager-thing",
                                                                pageSize = 2 }) do
      pages = pages + 1
      for _, name in ipairs(page.results) do names[#names + 1] = name end
    end
    assert.same({ "s1", "s2", "s3", "s4", "s5", "s6", "s7" }, names)
    assert.equals(4, pages)
  end)

  it("gives each page's call the iterator's { timeout = s }", function()
    local dev = assert(iotlua.mqtt.connect{ url = emu.mqtt, client_id = "pager-slow" })
    for i = 1, 4 do assert(dev:subscribe{ "slow/" .. i, qos = 1 }) end
    local function walk(iterate)
      local results = {}
      for page, err in iterate() do
        results[#results + 1] = { page = page, err = err }
        if #results == 1 then            -- the second page's call waits 3 s at the emulator
          assert.equals(201, emu:control("POST", "/_emulator/faults?operation=" ..
                                         "ListSubscriptions&latencyMs=3000"))
        end
      end
      return results
    end
    local t0 = require("iotlua.core").now()
    for _, iterate in ipairs({
      function() return iot:list_subscriptions_pages({ clientId = "pager-slow", maxResults = 2 },
                                                     { timeout = 0.5 }) end,
      function() return iot:paginate("list_subscriptions", { clientId = "pager-slow",
                                                             maxResults = 2 }, { timeout = 0.5 }) end,
    }) do
      local results = walk(iterate)
      assert.equals(2, #results)
      assert.equals(2, #results[1].page.subscriptions)
      assert.is_false(results[2].page)
      assert.equals("TimeoutError", results[2].err.code)
    end
    assert.is_true(require("iotlua.core").now() - t0 < 2.5)
    emu:control("DELETE", "/_emulator/faults")
    dev:disconnect()
    local ok, msg = pcall(iot.list_subscriptions_pages, iot, {}, { retries = 1 })
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'list_subscriptions_pages' (unknown call option 'retries'",
                   msg, 1, true)
    ok, msg = pcall(iot.paginate, iot, "list_subscriptions", {}, "fast")
    assert.is_false(ok)
    assert.matches("bad argument #3 to 'paginate' (table of call options expected, got string)",
                   msg, 1, true)
  end)

  it("ends with (false, err) when a page fails, and names the paged operations on misuse", function()
    local results = {}
    for page, err in iot:list_subscriptions_pages{ clientId = "nobody-here" } do
      results[#results + 1] = { page, err }
    end
    assert.equals(1, #results)
    assert.is_false(results[1][1])
    assert.equals("ResourceNotFoundException", results[1][2].code)
    assert.has_error(function() iot:paginate("publish", {}) end)
    local ok, msg = pcall(iot.paginate, iot, "publish", {})
    assert.is_false(ok)
    assert.matches("list_subscriptions", msg, 1, true)
  end)
end)
