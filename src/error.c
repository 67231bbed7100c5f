/* error.c: errors are values with a message. */
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
