/* Pieces of the textual IR syntax shared by the printer, the parser and tools. */
#ifndef FA_IR_TEXT_H
#define FA_IR_TEXT_H

#include <stdbool.h>
#include <stdio.h>

#include "ir/ir.h"

/* True if |s| prints without quotes after % or @: [A-Za-z_][A-Za-z0-9_.$]*. */
bool fa_text_is_bare_name(const char *s);
/* Prints |s| quoted with C-style escapes (\" \\ \n \t \xHH). */
void fa_text_print_string(FILE *f, const char *s);
void fa_text_print_float(FILE *f, double v, bool is_f32);
void fa_text_print_type(FILE *f, const fa_type *t);

#endif
