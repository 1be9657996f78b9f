/* tests/library/install_probe.c — built against the INSTALLED library via pkg-config by
 * test_install.sh: opens the built-in catalog, parses a job and checks the version. */
#include <flotilla/flotilla.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    int major = -1;
    fl_version_numbers(&major, NULL, NULL);
    if (major != FL_VERSION_MAJOR || strlen(fl_version()) < 5) {
        fprintf(stderr, "version mismatch: %s\n", fl_version());
        return 1;
    }
    fl_catalog *cat = NULL;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err) != FL_OK) {
        fprintf(stderr, "catalog: %s\n", err.message);
        return 1;
    }
    fl_job *job = NULL;
    if (fl_job_from_json(cat, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64}", &job, &err)) {
        fprintf(stderr, "job: %s\n", err.message);
        fl_catalog_free(cat);
        return 1;
    }
    printf("installed flotilla %s: %zu GPUs, %zu offerings\n", fl_version(), fl_catalog_gpu_count(cat),
           fl_catalog_offering_count(cat));
    fl_job_free(job);
    fl_catalog_free(cat);
    return 0;
}
