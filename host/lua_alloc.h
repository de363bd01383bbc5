/*
 * lua_alloc.h — the memory allocator of the host's Lua state.
 *
 * Most of what a script allocates per call is small and short-lived: the parameter and
 * result tables, their hash parts, strings, coroutine frames. With 64 calls in flight
 * these come and go in waves larger than glibc's per-thread cache, and each then goes
 * through malloc's bins. Here blocks of up to LUA_ALLOC_SMALL_MAX bytes come from
 * per-size free lists carved out of 64 KiB slabs; Lua tells the allocator each block's
 * size when it frees or resizes it, so blocks carry no header. Larger blocks go to
 * malloc. Small blocks once freed stay in their list for reuse (memory held is the peak
 * of small blocks in use); the slabs are released by lua_alloc_free after lua_close.
 */
#ifndef IOTLUA_HOST_LUA_ALLOC_H
#define IOTLUA_HOST_LUA_ALLOC_H

#include <stddef.h>

#define LUA_ALLOC_SMALL_MAX 256

struct lua_alloc;

/* NULL when out of memory. */
struct lua_alloc *lua_alloc_new(void);
/* After lua_close of the state that used it. NULL is fine. */
void lua_alloc_free(struct lua_alloc *a);
/* A lua_Alloc: lua_newstate(lua_alloc_fn, a). */
void *lua_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
