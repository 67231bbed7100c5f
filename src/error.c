/* error.c: errors are values with a message. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

cs_status cs_fail(cs_error *err, cs_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

cs_status cs_fail_in(cs_error *err, const char *what, const cs_error *e) {
    cs_error copy = *e;
    if (strstr(copy.msg, what)) {
        if (err) *err = copy;
        return copy.code;
    }
    return cs_fail(err, copy.code, "%s: %s", what, copy.msg);
}

const char *cs_mib(char *buf, size_t size, long long bytes) {
    double tenths = ceil((double)bytes / (1024.0 * 1024.0) * 10.0); /* up: never below the true size */
    if (fmod(tenths, 10.0) == 0) snprintf(buf, size, "%.0f MiB", tenths / 10);
    else snprintf(buf, size, "%.1f MiB", tenths / 10);
    return buf;
}
