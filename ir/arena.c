/* Bump allocator in chunks of 64 KiB; bigger requests get a chunk of their own. */
#include "ir/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/status.h"

#define CHUNK_SIZE ((size_t)64 * 1024)

struct fa_arena_chunk {
    fa_arena_chunk *next;
    size_t size, used;
    _Alignas(64) unsigned char data[];
};

void fa_arena_init(fa_arena *a) {
    a->head = NULL;
    a->total = 0;
}

void fa_arena_deinit(fa_arena *a) {
    fa_arena_chunk *c = a->head;
    while (c) {
        fa_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

static fa_arena_chunk *chunk_new(size_t size) {
    if (size > SIZE_MAX - sizeof(fa_arena_chunk) - 64)
        fa_fatal(__FILE__, __LINE__, "out of memory (arena request of %zu bytes)", size);
    fa_arena_chunk *c = aligned_alloc(64, (sizeof(fa_arena_chunk) + size + 63) & ~(size_t)63);
    if (!c)
        fa_fatal(__FILE__, __LINE__, "out of memory (arena chunk of %zu bytes)", size);
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

void *fa_arena_alloc(fa_arena *a, size_t size, size_t align) {
    FA_ASSERT(align && (align & (align - 1)) == 0 && align <= 4096);
    if (size == 0)
        size = 1;
    fa_arena_chunk *c = a->head;
    if (c) {
        size_t off = (c->used + align - 1) & ~(align - 1);
        if (off <= c->size && size <= c->size - off) {
            c->used = off + size;
            a->total += size;
            return memset(c->data + off, 0, size);
        }
    }
    if (size + align > CHUNK_SIZE / 4) {
        /* A big block: its own chunk, linked behind the head so the head keeps its free space. */
        fa_arena_chunk *big = chunk_new(size + align);
        size_t off = (((uintptr_t)big->data + align - 1) & ~(uintptr_t)(align - 1)) - (uintptr_t)big->data;
        big->used = big->size;
        if (a->head) {
            big->next = a->head->next;
            a->head->next = big;
        } else {
            a->head = big;
        }
        a->total += size;
        return memset(big->data + off, 0, size);
    }
    fa_arena_chunk *n = chunk_new(CHUNK_SIZE);
    n->next = a->head;
    a->head = n;
    size_t off = (((uintptr_t)n->data + align - 1) & ~(uintptr_t)(align - 1)) - (uintptr_t)n->data;
    n->used = off + size;
    a->total += size;
    return memset(n->data + off, 0, size);
}
