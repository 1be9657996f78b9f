/* cli/table_train.c — PLACEHOLDER table of a training plan (issue 4 replaces it). */
#include "cli/cli.h"
#include <stdlib.h>
void cli_print_training_plan(FILE *f, json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s);
    free(s);
}
