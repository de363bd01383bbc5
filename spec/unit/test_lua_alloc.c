/* test_lua_alloc.c — the host's Lua allocator (host/lua_alloc.c): blocks keep
 * their bytes across every kind of resize (within a size class, between classes, between
 * small and large), are aligned for any type, never overlap, are reused once freed; and
 * a Lua state allocating through it runs a garbage-heavy script to the right answers. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdint.h>
#include <string.h>

#include "check.h"
#include "lua_alloc.h"

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i * 7);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 31 + i * 7))
            return 0;
    return 1;
}

static int aligned(const void *p)
{
    return (uintptr_t)p % _Alignof(max_align_t) == 0;
}

static void test_resizes_keep_bytes(void)
{
    struct lua_alloc *a = lua_alloc_new();
    CHECK_REQUIRE(a != NULL);
    unsigned char *p = lua_alloc_fn(a, NULL, LUA_TTABLE, 24);   /* osize: a type tag */
    CHECK_REQUIRE(p != NULL);
    CHECK(aligned(p));
    fill(p, 24, 1);
    /* within the 32-byte class: the same block */
    CHECK(lua_alloc_fn(a, p, 24, 30) == p);
    /* to a larger class, to a large block, back to small: the bytes move along */
    unsigned char *q = lua_alloc_fn(a, p, 30, 100);
    CHECK(q != NULL && aligned(q) && intact(q, 24, 1));
    fill(q, 100, 2);
    unsigned char *big = lua_alloc_fn(a, q, 100, 5000);
    CHECK(big != NULL && aligned(big) && intact(big, 100, 2));
    fill(big, 5000, 3);
    unsigned char *bigger = lua_alloc_fn(a, big, 5000, 70000);
    CHECK(bigger != NULL && intact(bigger, 5000, 3));
    unsigned char *small = lua_alloc_fn(a, bigger, 70000, 40);
    CHECK(small != NULL && aligned(small) && intact(small, 40, 3));
    /* a freed block is the next one handed out in its class */
    CHECK(lua_alloc_fn(a, small, 40, 0) == NULL);
    CHECK(lua_alloc_fn(a, NULL, 0, 33) == small);
    CHECK(lua_alloc_fn(a, small, 33, 0) == NULL);
    CHECK(lua_alloc_fn(a, NULL, 0, 0) == NULL);                 /* freeing NULL: nothing */
    lua_alloc_free(a);
    lua_alloc_free(NULL);
}

/* Many live blocks of every small size (and some large ones) across several slabs:
 * writing each one's pattern leaves every other pattern intact. */
static void test_blocks_do_not_overlap(void)
{
    enum { N = 6000 };
    static unsigned char *blocks[N];
    static size_t sizes[N];
    struct lua_alloc *a = lua_alloc_new();
    CHECK_REQUIRE(a != NULL);
    int all_aligned = 1;
    for (size_t i = 0; i < N; i++) {
        sizes[i] = i % 10 == 9 ? 300 + i : 1 + (i * 37) % LUA_ALLOC_SMALL_MAX;
        blocks[i] = lua_alloc_fn(a, NULL, 0, sizes[i]);
        CHECK_REQUIRE(blocks[i] != NULL);
        all_aligned &= aligned(blocks[i]);
        fill(blocks[i], sizes[i], (unsigned)i);
    }
    CHECK(all_aligned);
    /* free every third, allocate again (reusing them), then check everything */
    for (size_t i = 0; i < N; i += 3)
        lua_alloc_fn(a, blocks[i], sizes[i], 0);
    for (size_t i = 0; i < N; i += 3) {
        blocks[i] = lua_alloc_fn(a, NULL, 0, sizes[i]);
        CHECK_REQUIRE(blocks[i] != NULL);
        fill(blocks[i], sizes[i], (unsigned)i);
    }
    size_t damaged = 0;
    for (size_t i = 0; i < N; i++)
        damaged += !intact(blocks[i], sizes[i], (unsigned)i);
    CHECK_INT_EQ((int64_t)damaged, 0);
    for (size_t i = 0; i < N; i++)
        lua_alloc_fn(a, blocks[i], sizes[i], 0);
    lua_alloc_free(a);
}

static const char *const GARBAGE_SCRIPT =
    "local total, parts = 0, {}\n"
    "for round = 1, 200 do\n"
    "  local t = {}\n"
    "  for i = 1, 200 do\n"
    "    t[i] = { id = 'device-' .. i, n = i * round, tags = { 'a', 'b', tostring(i) } }\n"
    "  end\n"
    "  local co = coroutine.wrap(function()\n"
    "    for i = 1, #t do coroutine.yield(t[i].n + #t[i].tags[3]) end\n"
    "  end)\n"
    "  for _ = 1, #t do total = total + co() end\n"
    "  parts[#parts + 1] = string.rep('x', round)\n"
    "  if round % 50 == 0 then collectgarbage('collect') end\n"
    "end\n"
    "return total, #table.concat(parts)\n";

static void test_lua_state_runs_on_it(void)
{
    struct lua_alloc *a = lua_alloc_new();
    CHECK_REQUIRE(a != NULL);
    lua_State *L = lua_newstate(lua_alloc_fn, a);
    CHECK_REQUIRE(L != NULL);
    luaL_openlibs(L);
    int rc = luaL_dostring(L, GARBAGE_SCRIPT);
    if (rc != LUA_OK)
        fprintf(stderr, "script failed: %s\n", lua_tostring(L, -1));
    CHECK_INT_EQ(rc, LUA_OK);
    if (rc == LUA_OK) {
        /* sum over rounds r and i of (i*r + digits(i)) = 20100*20100 + 200*492 */
        CHECK_INT_EQ((int64_t)lua_tointeger(L, -2), 20100LL * 20100 + 200 * 492);
        CHECK_INT_EQ((int64_t)lua_tointeger(L, -1), 20100);
    }
    lua_close(L);
    lua_alloc_free(a);
}

int main(void)
{
    test_resizes_keep_bytes();
    test_blocks_do_not_overlap();
    test_lua_state_runs_on_it();
    return CHECK_SUMMARY();
}
