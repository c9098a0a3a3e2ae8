/* The freeact command line: one binary, one file per subcommand (tools/cmd_<name>.c), a table in
 * tools/main.c. Commands return the process exit status (0 ok, 1 error, 2 usage). */
#ifndef FA_TOOLS_CLI_H
#define FA_TOOLS_CLI_H

#include <stdbool.h>

#include "ir/ir.h"

typedef struct fa_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand name */
} fa_command;

int fa_cmd_opt(int argc, char **argv);
int fa_cmd_import(int argc, char **argv);
int fa_cmd_run(int argc, char **argv);
int fa_cmd_eval(int argc, char **argv);
int fa_cmd_stats(int argc, char **argv);
int fa_cmd_compile(int argc, char **argv);
int fa_cmd_report(int argc, char **argv);
int fa_cmd_bench(int argc, char **argv);

/* Prints "freeact: error: <message>" for |s| on stderr, frees it, returns 1. */
int fa_cli_fail(fa_status s);
/* Prints |s| on stdout as a JSON string literal (quotes, backslashes and control bytes escaped). */
void fa_cli_json_string(const char *s);
/* Prints "freeact <cmd>: <message>" and a hint to use --help; returns 2. */
int fa_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* If |arg| is "--name=VALUE" returns VALUE; if it is "--name" takes the next argument (advancing
 * *i), or sets *out_missing. Returns NULL if |arg| is not this option. */
const char *fa_cli_option_value(const char *name, int argc, char **argv, int *i, bool *out_missing);

#endif
