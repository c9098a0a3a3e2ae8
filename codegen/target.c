/* Target descriptions as plain data (see target.h). */
#include "codegen/target.h"

#include <stdio.h>
#include <string.h>

fa_status fa_jit_target_init(fa_jit_target *out, const char *cpu, const char *features) {
    if (!features)
        features = "";
    if (!cpu || !*cpu || strlen(cpu) >= sizeof out->cpu || strlen(features) >= sizeof out->features)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "jit: bad target cpu '%s'",
                              cpu ? cpu : "(null)");
    snprintf(out->cpu, sizeof out->cpu, "%s", cpu);
    snprintf(out->features, sizeof out->features, "%s", features);
    return FA_OK;
}

bool fa_jit_target_has(const fa_jit_target *t, const char *feature) {
    size_t n = strlen(feature);
    for (const char *p = t->features; (p = strstr(p, feature)) != NULL; p += n) {
        bool starts = p > t->features && p[-1] == '+';
        bool ends = p[n] == '\0' || p[n] == ',';
        if (starts && ends)
            return true;
    }
    return false;
}
