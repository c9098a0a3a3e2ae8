/* freeact: entry point; dispatches to the subcommand named by argv[1]. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"
#include "tools/cli.h"

static const fa_command commands[] = {
    {"import", "import an ONNX model and print or write its IR", fa_cmd_import},
    {"opt", "run a pass pipeline over a .fir file", fa_cmd_opt},
    {"run", "run a model on .npy inputs (planned runtime with generated kernels)", fa_cmd_run},
    {"eval", "score a model's logits on an evaluation set (accuracy, NLL)", fa_cmd_eval},
    {"stats", "activation statistics per linear-layer input and token type", fa_cmd_stats},
    {"compile", "quantize a model (RTN ... FreeAct) into .fir, or a .so / .a / .o library",
     fa_cmd_compile},
    {"report", "per-site, per-token-type errors and clip ratios of a quantized .fir", fa_cmd_report},
    {"bench", "throughput of a model on fixed inputs (tokens/s, JIT time, memory)", fa_cmd_bench},
};
static const unsigned num_commands = sizeof commands / sizeof commands[0];

static void usage(FILE *f) {
    fprintf(f, "usage: freeact <command> [options]\n\n"
               "freeact compiles ONNX transformer models into quantized x86-64 programs.\n\n"
               "commands:\n");
    for (unsigned i = 0; i < num_commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'freeact <command> --help' for a command's options.\n");
}

void fa_cli_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int fa_cli_fail(fa_status s) {
    fprintf(stderr, "freeact: error: %s\n", fa_status_message(s));
    fa_status_free(s);
    return 1;
}

int fa_cli_usage_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "freeact %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'freeact %s --help' for usage.\n", cmd);
    return 2;
}

const char *fa_cli_option_value(const char *name, int argc, char **argv, int *i, bool *out_missing) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    *out_missing = false;
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=')
        return arg + n + 1;
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *out_missing = true;
        return NULL;
    }
    return argv[++*i];
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        char host[512];
        fa_codegen_describe_host(host, sizeof host);
        printf("freeact 0.1.0\nhost: %s\n", host);
        return 0;
    }
    for (unsigned i = 0; i < num_commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "freeact: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
