/* `freeact import`: reads an ONNX model through the frontend and prints its IR (stdout or a .fir
 * file written atomically). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "ir/fileio.h"
#include "tools/cli.h"

/* Also declared in tools/cli.h with the other commands. */
int fa_cmd_import(int argc, char **argv);

static void import_usage(FILE *f) {
    fprintf(f,
            "usage: freeact import MODEL.onnx [-o OUT.fir] [--elide]\n\n"
            "Imports an ONNX model (default-domain opsets 11 to 17) and prints its IR.\n\n"
            "options:\n"
            "  -o, --output OUT.fir  write the IR to OUT.fir (written to a temporary name and\n"
            "                        renamed, so a failed run leaves nothing) instead of stdout\n"
            "  --elide               print constants over 4 KiB as elided<N> (readable, but the\n"
            "                        result can no longer be parsed)\n"
            "  -h, --help            show this help\n\n"
            "Constants print inline (dense<> or hex<>); those stored as ONNX external data print\n"
            "as file<\"name\", offset> references relative to the model's folder, so with -o\n"
            "such a model's .fir must be written into the model's folder.\n");
}

/* External data print as file<> references relative to the model's folder, and the parser reads
 * them relative to the .fir's folder: refuse an output elsewhere rather than write broken
 * references. */
static fa_status check_output_folder(const fa_graph *g, const char *input, const char *output) {
    const fa_value *mapped = NULL;
    for (uint32_t i = 0; i < fa_graph_num_consts(g) && !mapped; i++)
        if (fa_graph_const(g, i)->tensor->storage == FA_STORAGE_MAPPED)
            mapped = fa_graph_const(g, i);
    if (!mapped || strcmp(output, "-") == 0)
        return FA_OK;
    char *din = fa_path_dirname(input), *dout = fa_path_dirname(output);
    char *rin = din ? realpath(din, NULL) : NULL, *rout = dout ? realpath(dout, NULL) : NULL;
    fa_status s = FA_OK;
    if (!rin || !rout || strcmp(rin, rout) != 0)
        s = fa_status_make(FA_STATUS_UNSUPPORTED,
                           "%s: constant '%s' is external data ('%s') referenced relative to the "
                           "model's folder; write the .fir into that folder, not '%s'",
                           input, mapped->name, mapped->tensor->file, output);
    free(din);
    free(dout);
    free(rin);
    free(rout);
    return s;
}

int fa_cmd_import(int argc, char **argv) {
    const char *input = NULL, *output = NULL;
    bool elide = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool missing = false;
        const char *v;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            import_usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--elide") == 0) {
            elide = true;
        } else if ((v = fa_cli_option_value("--output", argc, argv, &i, &missing)) || missing ||
                   (v = fa_cli_option_value("-o", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("import", "%s needs a value", arg);
            if (output)
                return fa_cli_usage_error("import", "-o given twice");
            output = v;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("import", "unknown option '%s'", arg);
        } else {
            if (input)
                return fa_cli_usage_error("import", "more than one model given");
            input = arg;
        }
    }
    if (!input)
        return fa_cli_usage_error("import", "no model given");
    fa_graph *g;
    fa_status s = fa_onnx_import_file(input, &g);
    if (s)
        return fa_cli_fail(s);
    s = check_output_folder(g, input, output ? output : "-");
    if (s) {
        fa_graph_destroy(g);
        return fa_cli_fail(s);
    }
    fa_print_options opts = {.inline_limit = 4096, .elide_large = elide};
    fa_atomic_file af = {0};
    s = fa_atomic_file_open(&af, output ? output : "-");
    if (!s) {
        s = fa_graph_print(g, &opts, af.f);
        if (s)
            fa_atomic_file_abort(&af);
        else
            s = fa_atomic_file_commit(&af);
    }
    fa_graph_destroy(g);
    return s ? fa_cli_fail(s) : 0;
}
