/* cli/main.c — the flotilla program: command dispatch and top-level help. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: flotilla <command> [options]\n"
    "\n"
    "commands:\n"
    "  plan JOB.json [--availability AVAIL.json] [--current PLACEMENT.json] [-o PLAN.json]\n"
    "                          plan a training or serving job (GPU mix + parallelism)\n"
    "  simulate PLAN.json      re-simulate a plan (planner output or hand-written)\n"
    "  estimate --gpu G --model M --phase train|prefill|decode [--tp N] [--batch B] [--seq S] [--context C]\n"
    "                          one-question time/memory estimate\n"
    "  whatif JOB.json --trace AVAIL_TRACE.csv | --scenarios SCEN.json\n"
    "                          replay availability changes\n"
    "  place PLAN.json --nodes NODES.json [--current PLACEMENT.json]\n"
    "                          map a plan onto concrete nodes\n"
    "  export PLAN.json --to skypilot|kubernetes|slurm|megatron|vllm [-o DIR]\n"
    "                          launcher files for a plan\n"
    "  profiles list|show|import|export ...\n"
    "                          catalog management\n"
    "  version                 print the version\n"
    "\n"
    "common options: --json (machine output), --catalog PATH (default: built-in), -o FILE, --help\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("flotilla %s\n", fl_version());
        return 0;
    }
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"plan", cmd_plan},         {"simulate", cmd_simulate}, {"estimate", cmd_estimate},
        {"whatif", cmd_whatif},     {"place", cmd_place},       {"profiles", cmd_profiles},
        {"export", cmd_export},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0) {
            /* --opt=value is --opt value for every option of every command */
            char **av = calloc(2 * (size_t)argc + 1, sizeof *av), *keep[256];
            int n = 0, nk = 0, rc;
            if (!av)
                return cmds[i].fn(argc - 1, argv + 1);
            /* options that take no value stay whole: "--json=yes" is still an unknown option */
            static const char *const flags[] = {"--json", "--pareto", "--marginal", "--pack", "--allow-missing-nodes",
                                                "--help", "--version", NULL};
            for (int k = 1; k < argc; k++) {
                const char *eq = strncmp(argv[k], "--", 2) == 0 ? strchr(argv[k], '=') : NULL;
                for (int q = 0; eq && flags[q]; q++)
                    if (strlen(flags[q]) == (size_t)(eq - argv[k]) && strncmp(argv[k], flags[q], (size_t)(eq - argv[k])) == 0)
                        eq = NULL;
                char *name = eq && nk < 256 ? malloc((size_t)(eq - argv[k]) + 1) : NULL;
                if (!name) {
                    av[n++] = argv[k];
                    continue;
                }
                memcpy(name, argv[k], (size_t)(eq - argv[k]));
                name[eq - argv[k]] = 0;
                keep[nk++] = name;
                av[n++] = name;
                av[n++] = (char *)(eq + 1);
            }
            rc = cmds[i].fn(n, av);
            for (int k = 0; k < nk; k++)
                free(keep[k]);
            free(av);
            return rc;
        }
    fprintf(stderr, "flotilla: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
