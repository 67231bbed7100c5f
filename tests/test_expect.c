/* test_expect.c: the expected-lines CSV (cs_expected_lines_read / _load) of
   what spreadsheets write, its refusals, and the lookup of an image's line by
   the name the CLI or the page gives it (cs_expected_line). */
#include <stdlib.h>
#include <string.h>

#include "cellsight.h"
#include "test.h"

static cs_status read_text(cs_expected_lines *ex, const char *csv, cs_error *e) {
    return cs_expected_lines_read(ex, csv, strlen(csv), e);
}

/* line_is(ex, name, want): want NULL when the CSV must not name it. */
static void line_is(const cs_expected_lines *ex, const char *name, const char *want) {
    const char *got = cs_expected_line(ex, name);
    int ok = want ? got && !strcmp(got, want) : !got;
    CHECK(ok);
    if (!ok) fprintf(stderr, "  %s: %s, expected %s\n", name, got ? got : "(none)", want ? want : "(none)");
}

/* refused(csv, words): refused with a message that holds words. */
static void refused(const char *csv, size_t size, const char *words) {
    cs_expected_lines ex;
    cs_error e = {0};
    CHECK(cs_expected_lines_read(&ex, csv, size, &e) == CS_EINPUT);
    CHECK(ex.n == 0 && ex.rows == NULL);
    CHECK(strstr(e.msg, words) != NULL);
    if (!strstr(e.msg, words)) fprintf(stderr, "  \"%s\", expected \"%s\"\n", e.msg, words);
}

static void test_spreadsheets(void) {
    cs_expected_lines ex;
    cs_error e;
    /* A byte-order mark, CRLF, other columns first, a quoted comma, a doubled
       quote, a line break in quotes, a formula's ', a blank row, a last row
       without its line break. */
    const char *csv = "\xEF\xBB\xBFnote,expected,file\r\n"
                      "x,T47D,a.jpg\r\n"
                      "\"y, z\",MDAMB231,\"b,c.jpg\"\r\n"
                      "\r\n"
                      "\"say \"\"hi\"\"\",'-odd line,'=SUM(1).png\r\n"
                      "\"two\nlines\",T47D,run/d.jpg";
    CHECK(read_text(&ex, csv, &e) == CS_OK);
    CHECK(ex.n == 4);
    line_is(&ex, "a.jpg", "T47D");
    line_is(&ex, "b,c.jpg", "MDAMB231");
    line_is(&ex, "=SUM(1).png", "-odd line");
    line_is(&ex, "run/d.jpg", "T47D");
    line_is(&ex, "", NULL);
    line_is(&ex, "x", NULL);
    CHECK(ex.n == 4 && ex.rows[0].row == 5); /* "=SUM..." sorts first; rows count from the header's 1 */
    cs_expected_lines_free(&ex);
    CHECK(ex.n == 0 && ex.rows == NULL);

    /* Old Macs' \r line ends; rows without a file or a line passed over; of
       two rows of one file the last counts. */
    CHECK(read_text(&ex, "file,expected\rp.jpg,A\r,B\rq.jpg,\rp.jpg,C\r", &e) == CS_OK);
    CHECK(ex.n == 1);
    line_is(&ex, "p.jpg", "C");
    line_is(&ex, "q.jpg", NULL);
    cs_expected_lines_free(&ex);

    /* A header alone: no rows, no error. */
    CHECK(read_text(&ex, "file,expected", &e) == CS_OK && ex.n == 0);
    cs_expected_lines_free(&ex);
}

static void test_refusals(void) {
    refused("", 0, "it is empty");
    refused("\xEF\xBB\xBF", 3, "it is empty");
    refused("name,line\na.jpg,T47D\n", 21, "it needs the columns file and expected");
    refused("file\na.jpg\n", 11, "it needs the columns file and expected");
    const char *short_row = "file,x,expected\na.jpg,1,T47D\nb.jpg,2\n";
    refused(short_row, strlen(short_row), "row 3 is not a whole row of file and expected");
    const char *torn = "file,expected\na.jpg,T47D\n\"b.jpg,T47D\nc.jpg,T47D\n";
    refused(torn, strlen(torn), "row 3 opens a quote that is never closed");
    refused("\"file,expected\n", 15, "row 1 opens a quote that is never closed");
    cs_expected_lines ex;
    cs_error e;
    CHECK(cs_expected_lines_read(&ex, "file,expected\n", (size_t)CS_MAX_EXPECT_BYTES + 1, &e) == CS_ELIMIT);
    CHECK(strstr(e.msg, "over the limit of 64 MiB") != NULL);
}

/* The one rule of the CLI and the page: the name, else its base name; a
   page's row ("x.tif#2") then by its file's. */
static void test_lookup(void) {
    cs_expected_lines ex;
    cs_error e;
    const char *csv = "file,expected\n"
                      "a.jpg,BASE\n"
                      "run/a.jpg,PATH\n"
                      "stack.tif,STACK\n"
                      "run/stack.tif#2,PAGE2\n"
                      "odd#x.jpg,ODD\n";
    CHECK(read_text(&ex, csv, &e) == CS_OK);
    line_is(&ex, "run/a.jpg", "PATH");                  /* the name first */
    line_is(&ex, "other/a.jpg", "BASE");                /* else its base name */
    line_is(&ex, "a.jpg", "BASE");
    line_is(&ex, "deep/er/a.jpg", "BASE");
    line_is(&ex, "a.jp", NULL);                         /* no prefix matches */
    line_is(&ex, "a.jpgx", NULL);
    line_is(&ex, "run/stack.tif#2", "PAGE2");
    line_is(&ex, "run/stack.tif#3", "STACK");           /* a page by its file's base name */
    line_is(&ex, "stack.tif#12", "STACK");
    line_is(&ex, "stack.tif#", NULL);                   /* no page number */
    line_is(&ex, "stack.tif#2x", NULL);
    line_is(&ex, "d/odd#x.jpg", "ODD");
    cs_expected_lines_free(&ex);

    CHECK(cs_page_row_file("run/a.tif#2") == 9);
    CHECK(cs_page_row_file("a.tif#10000") == 5);
    CHECK(cs_page_row_file("a.tif") == 5);
    CHECK(cs_page_row_file("a.tif#") == 6);
    CHECK(cs_page_row_file("#2") == 0);
}

/* From a file, as predict --expect-csv reads it; errors name it. */
static void test_load(void) {
    const char *path = "test_expect.tmp.csv";
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs("file,expected\nrun/a.jpg,T47D\nb.jpg\n", f);
    fclose(f);
    cs_expected_lines ex;
    cs_error e;
    CHECK(cs_expected_lines_load(&ex, path, &e) == CS_EINPUT);
    CHECK(strstr(e.msg, path) == e.msg && strstr(e.msg, "row 3 is not a whole row") != NULL);
    f = fopen(path, "wb");
    fputs("file,expected\nrun/a.jpg,T47D\n", f);
    fclose(f);
    CHECK(cs_expected_lines_load(&ex, path, &e) == CS_OK && ex.n == 1);
    line_is(&ex, "run/a.jpg", "T47D");
    cs_expected_lines_free(&ex);
    remove(path);
    CHECK(cs_expected_lines_load(&ex, path, &e) == CS_EIO && strstr(e.msg, path) != NULL);
}

int main(void) {
    test_spreadsheets();
    test_refusals();
    test_lookup();
    test_load();
    return test_summary();
}
