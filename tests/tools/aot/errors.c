/* The run-time errors of a compiled model: wrong input counts, dtypes and shapes give a message
 * naming the input and -1, never a crash; the model stays usable. Prints each message. */
#include <stdio.h>
#include <string.h>

#include "tiny.h"

/* Whether running |m| on |n| inputs |in| is refused; prints the message under |label|. */
static int refused(tiny_model *m, const freeact_tensor *in, size_t n, const char *label) {
    freeact_tensor y;
    int r = tiny_run(m, in, n, &y, 1) == -1;
    printf("%s: %s\n", label, tiny_error(m));
    return r;
}

int main(void) {
    char err[512];
    tiny_model *m = tiny_create(0, err, sizeof err);
    if (!m) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t ids[6] = {0, 1, 2, 3, 4, 0}; /* the tiny model has 5 token ids */
    float wrong[6] = {0};
    freeact_tensor x = {FREEACT_I64, 2, {2, 3}, ids}, y;
    freeact_tensor bad_dtype = {FREEACT_F32, 2, {2, 3}, wrong};
    freeact_tensor bad_rank = {FREEACT_I64, 1, {6}, ids};
    freeact_tensor bad_code = {99, 2, {2, 3}, ids};
    int fails = refused(m, &x, 0, "count") + refused(m, &bad_dtype, 1, "dtype") +
                refused(m, &bad_rank, 1, "rank") + refused(m, &bad_code, 1, "code");
    int ok = tiny_run(m, &x, 1, &y, 1) == 0 && y.dtype == FREEACT_F32 && y.rank == 3 &&
             y.dims[0] == 2 && y.dims[1] == 3 && y.dims[2] == 8 && !strcmp(tiny_error(m), "");
    if (!ok)
        printf("run: %s\n", tiny_error(m));
    printf("after the errors: %s, %d of 4 refused\n", ok ? "runs" : "broken", fails);
    tiny_destroy(m);
    return ok && fails == 4 ? 0 : 1;
}
