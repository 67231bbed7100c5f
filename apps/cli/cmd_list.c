/* cmd_list.c: cellsight list, the images predict would classify, a path a line:
   for workflows that share images out (Snakemake's, workflow/Snakefile) by
   the CLI's own rules for folders and shards. */
#include <stdio.h>

#include "cli.h"

static int cmd_list(args *a) {
    file_list files = {0};
    int rc = select_images(a, &files);
    if (rc != EXIT_USAGE)
        for (int i = 0; i < files.n; i++) printf("%s\n", files.path[i]);
    free_files(&files);
    return rc;
}

const command list_command = {"list", "[--list FILE] [--shard I/N] IMAGE|FOLDER...",
    "The images predict takes from the same arguments, a path a line, in the\n"
    "order of its rows: folders walked as predict walks them, then --shard's share.",
    {{"images", selection_opts}, {0}},
    NULL, cmd_list};
