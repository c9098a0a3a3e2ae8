/* freeact opt: parse .fir, run a pass pipeline, print the result (the mlir-opt of freeact). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/fileio.h"
#include "passes/pass.h"
#include "tools/cli.h"

static const char opt_help[] =
    "usage: freeact opt IN.fir [options]\n"
    "\n"
    "Parses a .fir file (\"-\" reads stdin), verifies it, runs a pass pipeline and prints the\n"
    "resulting IR. With no --passes the IR is printed back unchanged (a round trip).\n"
    "\n"
    "options:\n"
    "  --passes=A,B,C        run these passes in order (see --list-passes)\n"
    "  -o OUT                write the IR to OUT (atomically) instead of stdout\n"
    "  --split-input-file    treat lines '// -----' as separators between independent graphs;\n"
    "                        each is processed on its own and outputs are separated the same way\n"
    "  --verify-each         run the verifier after every pass\n"
    "  --print-after=A,B     print the IR to stderr after the named passes\n"
    "  --print-after-all     print the IR to stderr after every pass\n"
    "  --list-passes         list the available passes and exit\n"
    "  -v                    print one line per pass with its time on stderr\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 on success, 1 if any graph failed to parse, verify or transform, 2 on a\n"
    "usage error. Diagnostics have the form FILE:LINE:COL: error: MESSAGE.\n";

typedef struct opt_args {
    const char *input, *output, *passes;
    bool split;
    fa_pass_ctx ctx;
} opt_args;

static void list_passes(void) {
    for (unsigned i = 0; i < fa_pass_count(); i++) {
        const fa_pass *p = fa_pass_at(i);
        printf("  %-16s %s\n", p->name, p->summary);
    }
}

static int parse_args(int argc, char **argv, opt_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool missing;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(opt_help, stdout);
            return 0;
        } else if (strcmp(arg, "--list-passes") == 0) {
            list_passes();
            return 0;
        } else if ((v = fa_cli_option_value("--passes", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("opt", "--passes needs a value");
            a->passes = v;
        } else if ((v = fa_cli_option_value("-o", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("opt", "-o needs a file name");
            a->output = v;
        } else if ((v = fa_cli_option_value("--print-after", argc, argv, &i, &missing)) ||
                   missing) {
            if (missing)
                return fa_cli_usage_error("opt", "--print-after needs pass names");
            a->ctx.print_after = v;
        } else if (strcmp(arg, "--split-input-file") == 0) {
            a->split = true;
        } else if (strcmp(arg, "--verify-each") == 0) {
            a->ctx.verify_each = true;
        } else if (strcmp(arg, "--print-after-all") == 0) {
            a->ctx.print_after_all = true;
        } else if (strcmp(arg, "-v") == 0) {
            a->ctx.verbose++;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("opt", "unknown option '%s'", arg);
        } else if (a->input) {
            return fa_cli_usage_error("opt", "more than one input file ('%s' and '%s')", a->input,
                                      arg);
        } else {
            a->input = arg;
        }
    }
    if (!a->input)
        return fa_cli_usage_error("opt", "no input file");
    return -1; /* go on */
}

/* Length of the separator line at |p| ("// -----" plus optional trailing blanks), 0 if none. */
static size_t separator_len(const char *p, const char *end) {
    static const char sep[] = "// -----";
    size_t n = sizeof sep - 1;
    if ((size_t)(end - p) < n || memcmp(p, sep, n) != 0)
        return 0;
    const char *q = p + n;
    while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
        q++;
    if (q < end && *q != '\n')
        return 0;
    return (size_t)(q - p) + (q < end);
}

static fa_status process_chunk(const opt_args *a, const char *text, size_t len, const char *base_dir,
                               int line_offset, FILE *out) {
    fa_graph *g;
    FA_TRY(fa_graph_parse(text, len, a->input, base_dir, line_offset, &g));
    fa_pass_ctx ctx = a->ctx;
    fa_status s = FA_OK;
    if (a->passes)
        s = fa_pipeline_run(g, a->passes, &ctx);
    if (!s)
        s = fa_graph_verify(g);
    if (!s)
        s = fa_graph_print(g, NULL, out);
    fa_graph_destroy(g);
    return s;
}

int fa_cmd_opt(int argc, char **argv) {
    opt_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.passes) { /* check names up front: a typo should not cost a parse */
        char *list = strdup(a.passes);
        if (!list)
            return fa_cli_fail(fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"));
        for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
            if (!fa_pass_find(p)) {
                fprintf(stderr, "freeact: error: unknown pass '%s'; 'freeact opt --list-passes' "
                                "lists them\n", p);
                free(list);
                return 1;
            }
        free(list);
    }
    char *text;
    size_t len;
    fa_status s = fa_file_read_all(a.input, &text, &len);
    if (s)
        return fa_cli_fail(s);
    char *base_dir = strcmp(a.input, "-") == 0 ? strdup(".") : fa_path_dirname(a.input);
    fa_atomic_file af;
    s = fa_atomic_file_open(&af, a.output ? a.output : "-");
    if (s) {
        free(text);
        free(base_dir);
        return fa_cli_fail(s);
    }
    bool failed = false;
    const char *p = text, *end = text + len, *chunk = text;
    int line = 0, chunk_line = 0, chunks = 0;
    for (;;) {
        bool at_end = p >= end;
        size_t sep = at_end || !a.split ? 0 : separator_len(p, end);
        if (at_end || sep) {
            if (chunks++)
                fputs("// -----\n", af.f);
            fa_status cs = process_chunk(&a, chunk, (size_t)(p - chunk), base_dir, chunk_line, af.f);
            if (cs) {
                fprintf(stderr, "%s\n", fa_status_message(cs));
                fa_status_free(cs);
                failed = true;
            }
            if (at_end)
                break;
            p += sep;
            line++;
            chunk = p;
            chunk_line = line;
            continue;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
        line++;
    }
    free(text);
    free(base_dir);
    if (failed) {
        fa_atomic_file_abort(&af);
        return 1;
    }
    s = fa_atomic_file_commit(&af);
    return s ? fa_cli_fail(s) : 0;
}
