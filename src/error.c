/* error.c: errors are values with a message. */
#include <stdarg.h>
#include <stdio.h>

#include "cellsight.h"

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
