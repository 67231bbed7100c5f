/* test_summary.c: the well and plate a file's name gives (cs_well_of), the
   groups and their majority (cs_summary_*), and the CSV field rule. */
#include <stdlib.h>
#include <string.h>

#include "cellsight.h"
#include "test.h"

/* well_is(file, well, plate): "" well for a name that gives none. */
static void well_is(const char *file, const char *well, const char *plate) {
    char w[4], p[256];
    int found = cs_well_of(file, w, p, sizeof p);
    CHECK(found == (well[0] != 0));
    CHECK(strcmp(w, well) == 0);
    CHECK(strcmp(p, plate) == 0);
    if (strcmp(w, well) || strcmp(p, plate)) fprintf(stderr, "  %s: well %s, plate %s\n", file, w, p);
}

static void test_wells(void) {
    well_is("run/VID12_B3_1_00d04h00m.tif", "B03", "run/VID12");  /* Incucyte */
    well_is("plate7/A01_f1.png", "A01", "plate7");                  /* nothing before the well */
    well_is("P24.jpg", "P24", ".");
    well_is("s/P1_A01_1.png", "A01", "s/P1");                       /* the last well-like token */
    well_is("s/T47D_F6_1_05d21h00m.jpg", "F06", "s/T47D");          /* AZGCB names */
    well_is("s/A25_x.png", "", "s");                                /* 25: past a 384-well plate */
    well_is("s/Q01_x.png", "", "s");                                /* Q: past row P */
    well_is("s/b3_x.png", "", "s");                                 /* lower case is not a well */
    well_is("s/A549_x.png", "", "s");
    well_is("a/b/c-H12.tif#3", "H12", "a/b/c");                     /* a TIFF's page */
}

static void test_groups(void) {
    const char *classes[] = {"A", "B"};
    const float a[] = {0.9f, 0.1f}, b[] = {0.3f, 0.7f}, tie_a[] = {0.6f, 0.4f};
    cs_summary s;
    cs_error e;
    CHECK(cs_summary_init(&s, CS_BY_WELL, classes, 2, 1, &e) == CS_OK);
    CHECK(cs_summary_add(&s, "p/x_B02_1.png", 0, a, 1, &e) == CS_OK);
    CHECK(cs_summary_add(&s, "p/x_A01_1.png", 1, b, 0, &e) == CS_OK);
    CHECK(cs_summary_add(&s, "p/x_A01_2.png", 0, tie_a, 1, &e) == CS_OK);
    CHECK(cs_summary_add(&s, "p/x_A01_3.png", 2, a, 1, &e) == CS_EINPUT); /* no class 2 */
    cs_summary_sort(&s);
    CHECK(s.ngroups == 2);
    CHECK(strcmp(s.groups[0].well, "A01") == 0 && s.groups[0].images == 2 && s.groups[0].unknown == 1);
    CHECK(cs_group_majority(&s, &s.groups[0]) == 1); /* 1 A, 1 B: B's mean 0.55 over A's 0.45 */
    CHECK_NEAR(s.groups[0].sum_p[1] / 2, 0.55, 1e-6);
    CHECK(cs_group_majority(&s, &s.groups[1]) == 0 && strcmp(s.groups[1].plate, "p/x") == 0);
    cs_summary_free(&s);
}

/* s as cs_csv_field writes it. */
static char *field(const char *s) {
    char *text = NULL;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    cs_csv_field(f, s);
    fclose(f);
    return text;
}

static void expect_field(const char *s, const char *want) {
    char *got = field(s);
    CHECK(strcmp(got, want) == 0);
    if (strcmp(got, want)) fprintf(stderr, "  cs_csv_field(%s): %s, not %s\n", s, got, want);
    free(got);
}

static void test_csv_field(void) {
    expect_field("plain", "plain");
    expect_field("a,b", "\"a,b\"");
    expect_field("say \"hi\"", "\"say \"\"hi\"\"\"");
    expect_field("two\nlines", "\"two\nlines\"");
    /* OWASP: no text cell starts a formula, quoted or not. */
    expect_field("=1+1.jpg", "'=1+1.jpg");
    expect_field("+cmd.jpg", "'+cmd.jpg");
    expect_field("@SUM(1).jpg", "'@SUM(1).jpg");
    expect_field("-2+3.jpg", "'-2+3.jpg");
    expect_field("\tx", "\"'\tx\"");
    expect_field("\rx", "\"'\rx\"");
    expect_field("=HYPERLINK(\"a\",\"b\")", "\"'=HYPERLINK(\"\"a\"\",\"\"b\"\")\"");
    expect_field("a;=1+1", "\"a;=1+1\""); /* ; separates cells in some locales */
    expect_field("'quoted", "''quoted");
    expect_field("x=1", "x=1");
    expect_field("", "");
    /* Read back (once unquoted), each is the text it was. */
    const char *names[] = {"=1+1.jpg", "+cmd.jpg", "'quoted", "''", "plain", "a-b", ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *got = field(names[i]);
        CHECK(strcmp(cs_csv_text(got), names[i]) == 0);
        free(got);
    }
}

int main(void) {
    test_csv_field();
    test_wells();
    test_groups();
    return test_summary();
}
