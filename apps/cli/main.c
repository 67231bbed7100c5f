/* main.c: the cellsight program. It parses arguments, calls the library and
   prints: results on stdout, progress and errors on stderr. Exit codes: 0 ok,
   1 bad input (an image, a model file, a data folder), 2 usage. A file per
   command (cmd_*.c) over args.c, output.c, files.c and training.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const command *const commands[] = {&train_command, &eval_command, &predict_command, &list_command, &summarize_command,
                                          &info_command, &finetune_command, &calibrate_command};

static void print_usage(FILE *f) {
    fprintf(f, "usage: cellsight COMMAND [options]   (cellsight COMMAND --help for more)\n\n"
               "Cell-line classification of brightfield images (ScaffoldNet, Akogo & Palmer 2019).\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  cellsight %s %s\n", commands[i]->name, commands[i]->usage);
    fprintf(f, "\nResults go to stdout, progress and errors to stderr.\n"
               "Exit codes: 0 ok, 1 bad input (an image, a model file, a data folder), 2 usage.\n");
}

int main(int argc, char **argv) {
#ifdef __wasi__
    /* WASI has no current folder; relative paths mean the caller's (tools/wasi-run.mjs passes PWD). */
    const char *pwd = getenv("PWD");
    if (pwd) chdir(pwd);
#endif
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("cellsight %s\n", CS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i]->name) != 0) continue;
        args a;
        int rc = parse_args(&a, commands[i], argc - 2, argv + 2);
        if (rc < 0) {
            /* Every core unless told otherwise: the library's own default is 1. */
            cs_set_threads(has_opt(&a, "threads") ? (int)get_int(&a, "threads", 0, 0, 1024) : 0);
            rc = a.bad ? EXIT_USAGE : commands[i]->run(&a);
        }
        free(a.pos);
        return rc;
    }
    fprintf(stderr, "cellsight: unknown command %s\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
