/* cli/cmd_place.c — PLACEHOLDER until placement lands (issue 6). */
#include "cli/cli.h"
int cmd_place(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "flotilla: place is not available yet\n");
    return 2;
}
