/* cli/table_train.c — PLACEHOLDER table of a serving plan (issue 5 replaces it). */
#include "cli/cli.h"
#include <stdlib.h>
void cli_print_serving_plan(FILE *f, json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s);
    free(s);
}
