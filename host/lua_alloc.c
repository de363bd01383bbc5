/*
 * lua_alloc.c — size-class free lists for the host's Lua state (see lua_alloc.h).
 */
#include "lua_alloc.h"

#include <stdlib.h>
#include <string.h>

#define GRAIN 16                                    /* class width; also the alignment */
#define NCLASSES (LUA_ALLOC_SMALL_MAX / GRAIN)
#define SLAB_BYTES (64 * 1024)

struct free_block {
    struct free_block *next;
};

struct slab {
    struct slab *next;
    size_t used;
    _Alignas(GRAIN) unsigned char data[];
};

struct lua_alloc {
    struct free_block *free_list[NCLASSES];  /* [k]: blocks of (k + 1) * GRAIN bytes */
    struct slab *slabs;                      /* the one being carved first */
};

_Static_assert(GRAIN % _Alignof(max_align_t) == 0, "blocks must suit any type");

struct lua_alloc *lua_alloc_new(void)
{
    return calloc(1, sizeof(struct lua_alloc));
}

void lua_alloc_free(struct lua_alloc *a)
{
    if (!a)
        return;
    while (a->slabs) {
        struct slab *s = a->slabs;
        a->slabs = s->next;
        free(s);
    }
    free(a);
}

static int is_small(size_t size)
{
    return size <= LUA_ALLOC_SMALL_MAX;
}

static size_t class_of(size_t size)
{
    return (size - 1) / GRAIN;              /* size >= 1 */
}

static void *small_alloc(struct lua_alloc *a, size_t size)
{
    size_t k = class_of(size);
    struct free_block *b = a->free_list[k];
    if (b) {
        a->free_list[k] = b->next;
        return b;
    }
    size_t bytes = (k + 1) * GRAIN;
    struct slab *s = a->slabs;
    if (!s || SLAB_BYTES - s->used < bytes) {
        s = malloc(sizeof *s + SLAB_BYTES);
        if (!s)
            return NULL;
        s->next = a->slabs;
        s->used = 0;
        a->slabs = s;
    }
    void *p = s->data + s->used;
    s->used += bytes;
    return p;
}

static void small_free(struct lua_alloc *a, void *p, size_t size)
{
    struct free_block *b = p;
    size_t k = class_of(size);
    b->next = a->free_list[k];
    a->free_list[k] = b;
}

static void release(struct lua_alloc *a, void *p, size_t size)
{
    if (is_small(size))
        small_free(a, p, size);
    else
        free(p);
}

/* A block of nsize bytes holding the first min(osize, nsize) bytes of ptr, which is then
 * released; NULL (ptr untouched) when out of memory. */
static void *move_block(struct lua_alloc *a, void *ptr, size_t osize, size_t nsize)
{
    void *p = is_small(nsize) ? small_alloc(a, nsize) : malloc(nsize);
    if (!p)
        return NULL;
    memcpy(p, ptr, osize < nsize ? osize : nsize);
    release(a, ptr, osize);
    return p;
}

void *lua_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lua_alloc *a = ud;
    if (nsize == 0) {
        if (ptr)
            release(a, ptr, osize);
        return NULL;
    }
    if (!ptr)                               /* osize is then a type tag, not a size */
        return is_small(nsize) ? small_alloc(a, nsize) : malloc(nsize);
    if (is_small(osize) && is_small(nsize) && class_of(osize) == class_of(nsize))
        return ptr;
    if (!is_small(osize) && !is_small(nsize))
        return realloc(ptr, nsize);
    return move_block(a, ptr, osize, nsize);
}
