/* csv.c: the one rule for every CSV cellsight writes (the CLI's and the
   page's), and its inverse for the CSVs it reads back.

   RFC 4180 quoting, and OWASP's guidance on CSV injection: a spreadsheet
   takes a cell that starts with = + - @, a tab or a carriage return for a
   formula, quoted or not, so such a text cell gets a ' before it (shown as
   text, never run). A cell that starts with ' gets one more, so that reading
   back drops exactly one. Cells holding a separator (, or the ; of some
   locales), a quote, a tab or a line break are quoted: no cell can start in
   the middle of one. Numbers are written as they are (-0.5 stays a number);
   this rule is for text: file names, class names. */
#include <string.h>

#include "internal.h"

void cs_csv_field(FILE *f, const char *s) {
    int quoted = strpbrk(s, ",;\"\t\r\n") != NULL;
    if (quoted) fputc('"', f);
    if (*s && strchr("=+-@\t\r'", *s)) fputc('\'', f);
    for (; *s; s++) *s == '"' ? fputs("\"\"", f) : fputc(*s, f);
    if (quoted) fputc('"', f);
}

const char *cs_csv_text(const char *field) { return field[0] == '\'' ? field + 1 : field; }
