/* cli/cmd_export.c — `flotilla export PLAN.json --to FORMAT [-o DIR]`: launcher files from a plan. */
#include "cli/cli.h"
#include "flotilla/fl_export.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *help =
    "usage: flotilla export PLAN.json --to skypilot|kubernetes|slurm|megatron|vllm [-o DIR]\n"
    "                       [--queue KUEUE_QUEUE] [--image IMAGE] [--catalog PATH]\n"
    "\n"
    "Writes the files that launch a plan: SkyPilot task/service YAML, a Kubernetes JobSet\n"
    "(training) or Deployment/LeaderWorkerSet (serving), a Slurm sbatch script with one\n"
    "heterogeneous component per stage, a Megatron-LM torchrun script, or vLLM serve scripts\n"
    "with a router config. Without -o the files are printed, each after a '# ==> NAME <==' line.\n"
    "A plan the format cannot express is refused with the reason (exit 1). See docs/export.md.\n";

/* Make dir (and missing parents, as mkdir -p) or accept an existing directory; 0 on success. */
static int ensure_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return 0;
        fprintf(stderr, "flotilla: -o %s: not a directory\n", dir);
        return 1;
    }
    char *p = strdup(dir);
    if (!p)
        return 4;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "flotilla: cannot create %s: %s\n", p, strerror(errno));
            free(p);
            return 1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "flotilla: cannot create %s: %s\n", p, strerror(errno));
        rc = 1;
    } else if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "flotilla: -o %s: not a directory\n", p);
        rc = 1;
    }
    free(p);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    cli_set_command("export", help);
    cli_common c = {0};
    const char *plan_path = NULL, *format = NULL;
    fl_export_options opts = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
        const char **val = strcmp(argv[i], "--to") == 0 ? &format
                         : strcmp(argv[i], "--queue") == 0 ? &opts.queue
                         : strcmp(argv[i], "--image") == 0 ? &opts.image : NULL;
        if (val) {
            if (i + 1 >= argc)
                return cli_usage_error("export", "%s needs a value", argv[i]);
            *val = argv[++i];
            continue;
        }
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("export", "unknown option '%s'", argv[i]);
        if (plan_path) return cli_usage_error("export", "unexpected argument '%s'", argv[i]);
        plan_path = argv[i];
    }
    if (!plan_path)
        return cli_usage_error("export", "missing PLAN.json");
    if (!format)
        return cli_usage_error("export", "missing --to FORMAT");
    fl_catalog *cat = NULL;
    fl_plan *plan = NULL;
    fl_plan_model *model = NULL;
    fl_export_file *files = NULL;
    size_t n = 0;
    fl_error err;
    fl_error_clear(&err);
    char *text = NULL;
    int rc = cli_open_catalog(&c, &cat);
    if (rc)
        return rc;
    if (!(text = cli_read_file(plan_path, "plan"))) { rc = 1; goto done; }
    /* the library's plan check first (names, layer ranges, tp), then the typed view */
    if (fl_plan_from_json(cat, text, &plan, &err) || fl_plan_model_from_json(text, &model, &err) ||
        fl_export_plan(model, cat, format, &opts, &files, &n, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    if (c.out_path && (rc = ensure_dir(c.out_path)) != 0)
        goto done;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!c.out_path) {
            printf("# ==> %s <==\n%s", files[i].name, files[i].text);
            continue;
        }
        size_t len = strlen(c.out_path) + strlen(files[i].name) + 2;
        char *path = malloc(len);
        if (!path) { rc = cli_out_of_memory("export path"); break; }
        snprintf(path, len, "%s/%s", c.out_path, files[i].name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        rc = ensure_dir(path);
        *slash = '/';
        /* cli_write_output adds a newline: strip the text's own last one */
        size_t tl = strlen(files[i].text);
        if (tl && files[i].text[tl - 1] == '\n')
            files[i].text[tl - 1] = '\0';
        if (rc == 0 && (rc = cli_write_output(path, files[i].text)) == 0)
            fprintf(stderr, "wrote %s\n", path);
        free(path);
    }
done:
    fl_export_files_free(files, n);
    fl_plan_model_free(model);
    fl_plan_free(plan);
    fl_catalog_free(cat);
    free(text);
    return rc;
}
