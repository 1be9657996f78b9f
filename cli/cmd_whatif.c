/* cli/cmd_whatif.c — PLACEHOLDER until whatifment lands (issue 6). */
#include "cli/cli.h"
int cmd_whatif(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "flotilla: whatif is not available yet\n");
    return 2;
}
