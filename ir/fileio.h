/* File helpers every stage shares: whole-file reads and atomic writes (write to a temporary name
 * in the same folder, rename on commit) so a failed run never leaves a truncated artifact. */
#ifndef FA_IR_FILEIO_H
#define FA_IR_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ir/status.h"

/* Reads all of |path| ("-" is stdin) into a malloc'ed buffer (NUL-terminated; the caller frees
 * it). Errors name the file. */
fa_status fa_file_read_all(const char *path, char **out_data, size_t *out_len);

typedef struct fa_atomic_file {
    FILE *f;        /* write here */
    char *path;     /* final name */
    char *tmp_path; /* temporary name, NULL for stdout */
} fa_atomic_file;

/* Opens a temporary file beside |path| ("-" means stdout, written directly). */
fa_status fa_atomic_file_open(fa_atomic_file *af, const char *path);
/* Flushes, closes and renames into place; on error removes the temporary file. */
fa_status fa_atomic_file_commit(fa_atomic_file *af);
/* Closes and removes the temporary file; safe on a zeroed or already finished struct. */
void fa_atomic_file_abort(fa_atomic_file *af);

/* The folder part of |path| ("." if none), malloc'ed. */
char *fa_path_dirname(const char *path);

#endif
