/* A bump allocator: the one owner of a graph's memory (values, nodes, strings, constants). */
#ifndef FA_IR_ARENA_H
#define FA_IR_ARENA_H

#include <stddef.h>

typedef struct fa_arena_chunk fa_arena_chunk;

typedef struct fa_arena {
    fa_arena_chunk *head;
    size_t total; /* bytes handed out, for statistics */
} fa_arena;

void fa_arena_init(fa_arena *a);
/* Frees every chunk; pointers handed out become invalid. */
void fa_arena_deinit(fa_arena *a);
/* Zeroed memory aligned to |align| (a power of two <= 4096). Out of memory is fatal. */
void *fa_arena_alloc(fa_arena *a, size_t size, size_t align);

#endif
