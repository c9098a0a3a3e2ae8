/* Links two compiled models (prefixes tiny_a and tiny_b) into one program, runs both on one
 * input and writes each output: aot.test compares them with the JIT's. */
#include <stdio.h>
#include <stdlib.h>

#include "tiny_a.h"
#include "tiny_b.h"
#include "npy_io.h"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: two_models X.npy A_OUT.npy B_OUT.npy\n");
        return 2;
    }
    freeact_tensor x, ya, yb;
    if (npy_read(argv[1], &x) != 0)
        return 1;
    char err[512];
    tiny_a_model *a = tiny_a_create(1, err, sizeof err);
    tiny_b_model *b = a ? tiny_b_create(2, err, sizeof err) : NULL;
    int rc = 1;
    if (!a || !b)
        fprintf(stderr, "two_models: %s\n", err);
    else if (tiny_a_run(a, &x, 1, &ya, 1) != 0)
        fprintf(stderr, "two_models: %s\n", tiny_a_error(a));
    else if (tiny_b_run(b, &x, 1, &yb, 1) != 0)
        fprintf(stderr, "two_models: %s\n", tiny_b_error(b));
    else if (npy_write(argv[2], &ya) == 0 && npy_write(argv[3], &yb) == 0)
        rc = 0;
    tiny_b_destroy(b);
    tiny_a_destroy(a);
    free(x.data);
    return rc;
}
