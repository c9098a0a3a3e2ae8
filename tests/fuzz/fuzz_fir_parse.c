/* libFuzzer target: the .fir parser must turn any bytes into a graph or a located error, and a
 * graph it accepts must print and re-parse to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_graph *g = NULL;
    /* No base folder: file<> references are refused, so the fuzzer cannot read the disk. */
    fa_status s = fa_graph_parse((const char *)data, size, "fuzz.fir", "/nonexistent", 0, &g);
    if (s) {
        if (!strstr(fa_status_message(s), "fuzz.fir"))
            abort(); /* every parse diagnostic names the file */
        fa_status_free(s);
        return 0;
    }
    char *a = fa_graph_print_to_string(g, NULL);
    fa_graph *g2 = NULL;
    s = fa_graph_parse(a, strlen(a), "fuzz2.fir", "/nonexistent", 0, &g2);
    if (s)
        abort(); /* printed IR must parse */
    char *b = fa_graph_print_to_string(g2, NULL);
    if (strcmp(a, b) != 0)
        abort(); /* and print the same */
    free(a);
    free(b);
    fa_graph_destroy(g);
    fa_graph_destroy(g2);
    return 0;
}
