/* Whole-file reads and atomic (temp + rename) writes. */
#include "ir/fileio.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fa_status fa_file_read_all(const char *path, char **out_data, size_t *out_len) {
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return fa_status_make(FA_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *nb = cap < (SIZE_MAX >> 1) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int failed = ferror(f);
    if (!is_stdin)
        fclose(f);
    if (!buf)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory reading the file", path);
    if (failed) {
        free(buf);
        return fa_status_make(FA_STATUS_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    *out_data = buf;
    *out_len = len;
    return FA_OK;
}

fa_status fa_atomic_file_open(fa_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    if (strcmp(path, "-") == 0) {
        af->f = stdout;
        return FA_OK;
    }
    af->path = strdup(path);
    af->tmp_path = malloc(strlen(path) + 16);
    if (!af->path || !af->tmp_path) {
        fa_atomic_file_abort(af);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    sprintf(af->tmp_path, "%s.tmpXXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        fa_status s = fa_status_make(FA_STATUS_IO, "%s: cannot create: %s", path, strerror(errno));
        free(af->tmp_path);
        af->tmp_path = NULL;
        fa_atomic_file_abort(af);
        return s;
    }
    /* mkstemp makes the file 0600; give it the mode a plain fopen would (0666 less umask). */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        fa_status s = fa_status_make(FA_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
        fa_atomic_file_abort(af);
        return s;
    }
    return FA_OK;
}

fa_status fa_atomic_file_commit(fa_atomic_file *af) {
    if (!af->tmp_path) { /* stdout */
        if (af->f && fflush(af->f) != 0)
            return fa_status_make(FA_STATUS_IO, "<stdout>: write error");
        af->f = NULL;
        return FA_OK;
    }
    int bad = ferror(af->f);
    if (fclose(af->f) != 0)
        bad = 1;
    af->f = NULL;
    if (bad) {
        fa_status s = fa_status_make(FA_STATUS_IO, "%s: write error", af->path);
        fa_atomic_file_abort(af);
        return s;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        fa_status s = fa_status_make(FA_STATUS_IO, "%s: cannot rename into place: %s", af->path,
                                     strerror(errno));
        fa_atomic_file_abort(af);
        return s;
    }
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
    return FA_OK;
}

void fa_atomic_file_abort(fa_atomic_file *af) {
    if (af->f && af->tmp_path)
        fclose(af->f);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

char *fa_path_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}
