/* profiles/import_offerings.c — SkyPilot catalog CSV (vms.csv layout) → table `offerings`.
 *
 * Applies the rules of data/tools/build_offerings.py (documented in data/SOURCES.md), so that
 * importing the extracts in tests/data/catalogs/ reproduces the built-in rows of that cloud:
 * accelerator names → catalog GPUs (with per-instance-type overrides for PCIe parts), GCP GPU-only
 * rows get a synthesized machine type and the host VM price added, AWS zones are AZ ids, Azure
 * regions become `azure:<region>-1` (plus count fixes such as ND96isr_H100_v5 12 → 8), Lambda zones
 * are `lambda:<region>`; unknown accelerators, empty and placeholder (700.0) prices are dropped;
 * (zone, instance type) duplicates keep the first row. Zones missing from the catalog are created
 * with a continent derived from the region name. The file replaces all offerings of its cloud in
 * one transaction; any bad row rejects the whole file.
 */
#include "profiles/catalog.h"
#include "profiles/csv.h"
#include "common/error.h"
#include "profiles/storage.h"
#include "common/json_util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- mapping tables (same figures as data/tools/build_offerings.py) ---- */

static const struct { const char *acc, *gpu; } gpu_map[] = {
    {"A100", "A100-SXM-40GB"}, {"A100-80GB", "A100-SXM-80GB"}, {"H100", "H100-SXM-80GB"},
    {"H200", "H200-SXM-141GB"}, {"L4", "L4-24GB"}, {"T4", "T4-16GB"}, {"V100", "V100-SXM2-16GB"},
    {"V100-32GB", "V100-SXM2-32GB"}, {"A10G", "A10G-24GB"}, {"L40S", "L40S-48GB"}, {"GH200", "GH200-96GB"},
    {"H100-MEGA", "H100-SXM-80GB"}, /* a3-megagpu-8g carries the same H100 SXM parts */
};

/* Instance types whose generic accelerator name hides a different (PCIe) part. */
static const struct { const char *itype, *gpu, *note; } type_gpu[] = {
    {"gpu_1x_a100", "A100-PCIE-40GB", "Lambda lists gpu_1x_a100 as A100 40GB PCIe"},
    {"gpu_2x_a100", "A100-PCIE-40GB", "Lambda lists gpu_2x_a100 as A100 40GB PCIe"},
    {"gpu_4x_a100", "A100-PCIE-40GB", "Lambda lists gpu_4x_a100 as A100 40GB PCIe"},
    {"gpu_1x_h100_pcie", "H100-PCIE-80GB", "Lambda gpu_1x_h100_pcie is H100 PCIe"},
    {"Standard_NC24ads_A100_v4", "A100-PCIE-80GB", "Azure NC_A100_v4 is A100 80GB PCIe (no NVLink)"},
    {"Standard_NC48ads_A100_v4", "A100-PCIE-80GB", "Azure NC_A100_v4 is A100 80GB PCIe (no NVLink)"},
    {"Standard_NC96ads_A100_v4", "A100-PCIE-80GB", "Azure NC_A100_v4 is A100 80GB PCIe (no NVLink)"},
    {"Standard_NC40ads_H100_v5", "H100-PCIE-80GB", "Azure NCads_H100_v5 is H100 NVL 94GB PCIe; modelled as H100-PCIE-80GB"},
    {"Standard_NC80adis_H100_v5", "H100-PCIE-80GB", "Azure NCads_H100_v5 is H100 NVL 94GB PCIe; modelled as H100-PCIE-80GB"},
};

/* PCIe parts without a PCIe row in gpus.csv: mapping kept, noted in the source column. */
static const struct { const char *itype, *note; } type_note[] = {
    {"Standard_NC6s_v3", "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB"},
    {"Standard_NC12s_v3", "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB"},
    {"Standard_NC24s_v3", "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB"},
    {"Standard_NC24rs_v3", "Azure NCv3 is V100 16GB PCIe (no NVLink); mapped to V100-SXM2-16GB"},
};

/* Accelerator count per instance type from the public instance specs; disagreeing rows are fixed. */
static const struct { const char *itype; int n; } expected_count[] = {
    {"Standard_ND96isr_H100_v5", 8}, {"Standard_ND96asr_v4", 8}, {"Standard_ND96amsr_A100_v4", 8},
    {"Standard_ND40rs_v2", 8}, {"Standard_NC24ads_A100_v4", 1}, {"Standard_NC48ads_A100_v4", 2},
    {"Standard_NC96ads_A100_v4", 4}, {"Standard_NC40ads_H100_v5", 1}, {"Standard_NC80adis_H100_v5", 2},
    {"Standard_NC4as_T4_v3", 1}, {"Standard_NC8as_T4_v3", 1}, {"Standard_NC16as_T4_v3", 1},
    {"Standard_NC64as_T4_v3", 4}, {"Standard_NC6s_v3", 1}, {"Standard_NC12s_v3", 2},
    {"Standard_NC24s_v3", 4}, {"Standard_NC24rs_v3", 4},
    {"p4d.24xlarge", 8}, {"p4de.24xlarge", 8}, {"p5.48xlarge", 8}, {"p5.4xlarge", 1}, {"p5e.48xlarge", 8},
    {"p5en.48xlarge", 8}, {"p3.8xlarge", 4}, {"p3dn.24xlarge", 8}, {"g4dn.metal", 8}, {"g5.xlarge", 1},
    {"g6.xlarge", 1}, {"g6e.12xlarge", 4}, {"g6e.16xlarge", 1},
};

/* Instance NIC bandwidth in Gbit/s (cloud instance-type pages). */
static const struct { const char *itype; double gbit; } nic[] = {
    {"p4d.24xlarge", 400}, {"p4de.24xlarge", 400}, {"p5.48xlarge", 3200}, {"p5e.48xlarge", 3200},
    {"p5en.48xlarge", 3200}, {"p5.4xlarge", 100}, {"p3.8xlarge", 10}, {"p3dn.24xlarge", 100},
    {"g4dn.metal", 100}, {"g5.xlarge", 10}, {"g6.xlarge", 10}, {"g6e.12xlarge", 100}, {"g6e.16xlarge", 35},
    {"a2-highgpu-1g", 24}, {"a2-highgpu-2g", 32}, {"a2-highgpu-4g", 50}, {"a2-highgpu-8g", 100},
    {"a2-megagpu-16g", 100}, {"a2-ultragpu-1g", 24}, {"a2-ultragpu-2g", 32}, {"a2-ultragpu-4g", 50},
    {"a2-ultragpu-8g", 100}, {"a3-highgpu-8g", 1000}, {"a3-megagpu-8g", 1800}, {"a3-ultragpu-8g", 3600},
    {"g2-standard-4", 10}, {"g2-standard-24", 32}, {"g2-standard-48", 50}, {"g2-standard-96", 100},
    {"Standard_ND96asr_v4", 1600}, {"Standard_ND96amsr_A100_v4", 1600}, {"Standard_ND96isr_H100_v5", 3200},
    {"Standard_ND40rs_v2", 100},
};

/* GCP host VM prices ($/h whole host of `per` GPUs, on-demand / spot) per region: the host rows
 * of the same SkyPilot gcp/vms.csv commit. us-central1 is the fallback. */
typedef struct host_price { const char *region; double od, sp; } host_price;
static const host_price host_a2_high[] = {
    {"asia-northeast1", 0.94803, 0.41783}, {"asia-northeast3", 0.94803, 0.34226},
    {"asia-southeast1", 0.9122, 0.41954}, {"europe-west4", 0.81406, 0.31824}, {"me-west1", 0.81342, 0.33516},
    {"us-central1", 0.73948, 0.36975}, {"us-east1", 0.73948, 0.36975}, {"us-west1", 0.73948, 0.36975},
    {"us-west3", 0.8882, 0.40554}, {"us-west4", 0.8328, 0.33306}, {NULL, 0, 0}};
static const host_price host_a2_mega[] = {
    {"asia-southeast1", 10.85126, 4.99032}, {"europe-west4", 9.68403, 3.78624},
    {"us-central1", 8.79698, 4.39824}, {NULL, 0, 0}};
static const host_price host_a2_ultra[] = {
    {"asia-southeast1", 1.35641, 0.62379}, {"europe-west4", 1.2105, 0.47328}, {"us-central1", 1.09962, 0.54978},
    {"us-east4", 1.23833, 0.49613}, {"us-east5", 1.09962, 0.31193}, {NULL, 0, 0}};
static const host_price host_a3_high[] = {
    {"asia-east1", 10.95381, 2.74269}, {"asia-northeast1", 12.14861, 3.04013}, {"asia-south1", 9.83846, 2.25285},
    {"asia-south2", 11.36248, 2.59792}, {"asia-southeast1", 11.67088, 2.79032},
    {"australia-southeast1", 11.82508, 2.49496}, {"europe-north1", 10.41647, 1.61762},
    {"europe-west1", 10.41647, 2.38181}, {"europe-west3", 11.16287, 2.55632}, {"europe-west4", 9.93306, 2.27469},
    {"europe-west8", 10.97368, 1.9752}, {"europe-west9", 10.97367, 2.25971},
    {"northamerica-northeast2", 10.41647, 1.87408}, {"us-central1", 9.46006, 2.88933},
    {"us-east4", 9.46006, 2.15966}, {"us-east5", 10.65487, 2.32627}, {"us-west1", 9.46006, 2.88933},
    {"us-west4", 10.65487, 2.43734}, {NULL, 0, 0}};
static const host_price host_a3_ultra[] = {
    {"asia-south1", 12.75664, 2.92129}, {"asia-south2", 14.73269, 3.36872}, {"europe-west1", 13.50609, 3.08825},
    {"europe-west4", 12.8793, 2.94949}, {"us-central1", 12.266, 3.74713}, {"us-east4", 12.266, 2.80034},
    {"us-east5", 13.81519, 3.01627}, {"us-south1", 14.47387, 3.15354}, {"us-west1", 12.266, 3.74713},
    {NULL, 0, 0}};
static const struct { const char *family; int per; const host_price *table; } host_vm[] = {
    {"a2-highgpu", 1, host_a2_high}, {"a2-megagpu", 16, host_a2_mega}, {"a2-ultragpu", 1, host_a2_ultra},
    {"a3-highgpu", 8, host_a3_high}, {"a3-megagpu", 8, host_a3_high}, /* same host shape and SKU prices */
    {"a3-ultragpu", 8, host_a3_ultra},
};
/* g2 / n1 hosts: estimates from GCP us-central1 list prices, $ per GPU-hour. */
#define GCP_G2_1GPU_HOST 0.147
#define GCP_G2_HOST 0.44
#define GCP_N1_HOST 0.38

/* vCPUs and memory (GiB) of the synthesized GCP machine types (n1 computed). */
static const struct { const char *itype; double vcpus, mem; } gcp_shape[] = {
    {"a2-highgpu-1g", 12, 85}, {"a2-highgpu-2g", 24, 170}, {"a2-highgpu-4g", 48, 340},
    {"a2-highgpu-8g", 96, 680}, {"a2-megagpu-16g", 96, 1360}, {"a2-ultragpu-1g", 12, 170},
    {"a2-ultragpu-2g", 24, 340}, {"a2-ultragpu-4g", 48, 680}, {"a2-ultragpu-8g", 96, 1360},
    {"a3-highgpu-8g", 208, 1872}, {"a3-megagpu-8g", 208, 1872}, {"a3-ultragpu-8g", 224, 2952},
    {"g2-standard-4", 4, 16}, {"g2-standard-24", 24, 96}, {"g2-standard-48", 48, 192},
    {"g2-standard-96", 96, 384},
};

#define TABLE_N(t) (sizeof(t) / sizeof((t)[0]))

static const char *map_gpu(const char *acc)
{
    for (size_t i = 0; i < TABLE_N(gpu_map); i++)
        if (strcmp(gpu_map[i].acc, acc) == 0)
            return gpu_map[i].gpu;
    return NULL;
}

/* GCP machine type for acc × n (written to out), or 0 when GCP has no such shape. */
static int gcp_instance(const char *acc, int n, char *out, size_t cap)
{
    const char *t = NULL;
    if (strcmp(acc, "A100") == 0)
        t = n == 1 ? "a2-highgpu-1g" : n == 2 ? "a2-highgpu-2g" : n == 4 ? "a2-highgpu-4g"
          : n == 8 ? "a2-highgpu-8g" : n == 16 ? "a2-megagpu-16g" : NULL;
    else if (strcmp(acc, "A100-80GB") == 0)
        t = n == 1 ? "a2-ultragpu-1g" : n == 2 ? "a2-ultragpu-2g" : n == 4 ? "a2-ultragpu-4g"
          : n == 8 ? "a2-ultragpu-8g" : NULL;
    else if (strcmp(acc, "H100") == 0)
        t = n == 8 ? "a3-highgpu-8g" : NULL;
    else if (strcmp(acc, "H100-MEGA") == 0)
        t = n == 8 ? "a3-megagpu-8g" : NULL;
    else if (strcmp(acc, "H200") == 0)
        t = n == 8 ? "a3-ultragpu-8g" : NULL;
    else if (strcmp(acc, "L4") == 0)
        t = n == 1 ? "g2-standard-4" : n == 2 ? "g2-standard-24" : n == 4 ? "g2-standard-48"
          : n == 8 ? "g2-standard-96" : NULL;
    else if (strcmp(acc, "T4") == 0 || strcmp(acc, "V100") == 0) {
        if ((n == 1 || n == 2 || n == 4 || (n == 8 && strcmp(acc, "V100") == 0))) {
            snprintf(out, cap, "n1-standard-%d+%dx%s", 8 * n, n, acc);
            return 1;
        }
        return 0;
    }
    if (!t)
        return 0;
    snprintf(out, cap, "%s", t);
    return 1;
}

/* Host VM price to add to a GCP GPU row: on-demand, spot (< 0 when unknown) and a note. */
static void gcp_host(const char *itype, const char *region, int n, double gpu_od, double gpu_spot, double *od,
                     double *sp, char *note, size_t cap)
{
    for (size_t i = 0; i < TABLE_N(host_vm); i++) {
        size_t fl = strlen(host_vm[i].family);
        if (strncmp(itype, host_vm[i].family, fl) != 0 || itype[fl] != '-')
            continue;
        const host_price *hit = NULL, *fallback = NULL;
        for (const host_price *h = host_vm[i].table; h->region; h++) {
            if (strcmp(h->region, region) == 0)
                hit = h;
            if (strcmp(h->region, "us-central1") == 0)
                fallback = h;
        }
        const host_price *h = hit ? hit : fallback;
        *od = h->od / host_vm[i].per * n;
        *sp = h->sp / host_vm[i].per * n;
        if (hit)
            snprintf(note, cap, "host VM %s $%.4f/GPU-h (SkyPilot gcp host row, %s)", host_vm[i].family, *od / n,
                     region);
        else
            snprintf(note, cap, "host VM %s estimate $%.4f/GPU-h (us-central1 host row; region not listed)",
                     host_vm[i].family, *od / n);
        return;
    }
    int g2 = strncmp(itype, "g2-", 3) == 0;
    double per_gpu = g2 ? (n == 1 ? GCP_G2_1GPU_HOST : GCP_G2_HOST) : GCP_N1_HOST;
    *od = per_gpu * n;
    *sp = gpu_spot >= 0 && gpu_od > 0 ? *od * gpu_spot / gpu_od : -1.0;
    snprintf(note, cap, "host VM %s estimate $%.3f/GPU-h (us-central1 list; spot host scaled by GPU spot ratio)",
             g2 ? "g2" : "n1", per_gpu);
}

/* Continent of a region name (same rule as build_offerings.py), or NULL when unknown. */
static const char *continent_of(const char *cloud, const char *region)
{
    char r[128];
    size_t i;
    for (i = 0; region[i] && i + 1 < sizeof r; i++)
        r[i] = (char)tolower((unsigned char)region[i]);
    r[i] = '\0';
    size_t len = strlen(r);
    if (strcmp(cloud, "azure") == 0) {
        static const struct { const char *k, *v; } t[] = {
            {"canada", "na"}, {"mexico", "na"}, {"brazil", "sa"}, {"chile", "sa"}, {"europe", "eu"}, {"uk", "eu"},
            {"france", "eu"}, {"germany", "eu"}, {"norway", "eu"}, {"sweden", "eu"}, {"switzerland", "eu"},
            {"poland", "eu"}, {"italy", "eu"}, {"spain", "eu"}, {"australia", "oceania"},
            {"newzealand", "oceania"}, {"japan", "asia"}, {"korea", "asia"}, {"india", "asia"}, {"asia", "asia"},
            {"uae", "me"}, {"qatar", "me"}, {"israel", "me"}, {"southafrica", "africa"}};
        if ((len >= 2 && strcmp(r + len - 2, "us") == 0) || (len >= 3 && strcmp(r + len - 3, "us2") == 0) ||
            (len >= 3 && strcmp(r + len - 3, "us3") == 0) || strstr(r, "centralus"))
            return "na";
        for (i = 0; i < TABLE_N(t); i++)
            if (strstr(r, t[i].k))
                return t[i].v;
        return NULL;
    }
    char pre[64];
    size_t p = 0;
    while (r[p] && r[p] != '-' && p + 1 < sizeof pre) {
        pre[p] = r[p];
        p++;
    }
    pre[p] = '\0';
    if (strcmp(cloud, "aws") == 0) {
        if (strcmp(r, "ap-southeast-2") == 0 || strcmp(r, "ap-southeast-4") == 0 || strcmp(r, "ap-southeast-6") == 0)
            return "oceania";
        static const struct { const char *k, *v; } t[] = {
            {"us", "na"}, {"ca", "na"}, {"mx", "na"}, {"sa", "sa"}, {"eu", "eu"}, {"ap", "asia"},
            {"me", "me"}, {"il", "me"}, {"af", "africa"}};
        for (i = 0; i < TABLE_N(t); i++)
            if (strcmp(pre, t[i].k) == 0)
                return t[i].v;
        return NULL;
    }
    static const struct { const char *k, *v; } t[] = {
        {"us", "na"}, {"northamerica", "na"}, {"southamerica", "sa"}, {"europe", "eu"}, {"asia", "asia"},
        {"australia", "oceania"}, {"me", "me"}, {"africa", "africa"}};
    for (i = 0; i < TABLE_N(t); i++)
        if (strcmp(pre, t[i].k) == 0)
            return t[i].v;
    return NULL;
}

/* ---- the importer ---- */

enum { C_ITYPE, C_ACC, C_COUNT, C_VCPUS, C_MEM, C_PRICE, C_SPOT, C_REGION, C_AZ, C_N };
static const char *const col_names[C_N] = {"InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs",
                                           "MemoryGiB", "Price", "SpotPrice", "Region", "AvailabilityZone"};
static const int col_required[C_N] = {1, 1, 1, 0, 0, 1, 0, 1, 0};

typedef struct imp_ctx {
    fl_catalog *cat;
    const char *path, *base, *cloud;
    int col[C_N];
    sqlite3_stmt *ins_zone, *ins_off;
    size_t rows, dropped, skipped;
} imp_ctx;

static const char *field(const fl_csv *csv, const imp_ctx *c, int col)
{
    return c->col[col] >= 0 ? csv->fields[c->col[col]] : "";
}

/* Parse an optional number: empty → *present = 0; otherwise it must be a finite decimal. */
static fl_status number(const imp_ctx *c, const fl_csv *csv, int col, double *out, int *present, fl_error *err)
{
    const char *s = field(csv, c, col);
    while (isspace((unsigned char)*s))
        s++;
    *present = 0;
    *out = 0;
    if (!*s)
        return FL_OK;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return fl_fail(err, FL_EPARSE, col_names[col], "%s line %d column %s: '%s' is not a number", c->path,
                       csv->line, col_names[col], field(csv, c, col));
    *out = v;
    *present = 1;
    return FL_OK;
}

static const char *lookup_note(const char *itype)
{
    for (size_t i = 0; i < TABLE_N(type_note); i++)
        if (strcmp(type_note[i].itype, itype) == 0)
            return type_note[i].note;
    return NULL;
}

/* Round a price to 5 decimals exactly as the generator prints it ("%.5f" of the binary value). */
static double money(double x)
{
    char b[64];
    snprintf(b, sizeof b, "%.5f", x);
    return strtod(b, NULL);
}

/* Guess the cloud from the columns and the first data row. */
static const char *infer_cloud(const imp_ctx *c, const fl_csv *row)
{
    const char *it = field(row, c, C_ITYPE), *az = field(row, c, C_AZ), *region = field(row, c, C_REGION);
    if (strncmp(it, "Standard_", 9) == 0)
        return "azure";
    if (strncmp(it, "gpu_", 4) == 0)
        return "lambda";
    if (*az && strstr(az, "-az"))
        return "aws";
    size_t rl = strlen(region);
    if (!*it && *az && rl && strncmp(az, region, rl) == 0 && az[rl] == '-')
        return "gcp";
    return NULL;
}

/* A second row for the same (zone, instance type): an error naming both lines (the first row's
 * line is read back from its source note). */
static fl_status duplicate_row(const imp_ctx *c, const char *zone, const char *itype, int line, fl_error *err)
{
    int first = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(c->cat->db, "SELECT source FROM offerings WHERE zone = ? AND instance_type = ?", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, zone, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, itype, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            const char *src = (const char *)sqlite3_column_text(q, 0), *l = src ? strstr(src, " line ") : NULL;
            if (l)
                first = atoi(l + 6);
        }
        sqlite3_finalize(q);
    }
    if (first > 0)
        return fl_fail(err, FL_EINVAL, "InstanceType", "%s line %d: duplicate offering: %s in %s is already on line %d",
                       c->path, line, itype, zone, first);
    return fl_fail(err, FL_EINVAL, "InstanceType", "%s line %d: duplicate offering: %s in %s is already in the catalog",
                   c->path, line, itype, zone);
}

/* Map, validate and insert one data row. */
static fl_status import_row(imp_ctx *c, const fl_csv *csv, fl_error *err)
{
    int line = csv->line;
    const char *acc = field(csv, c, C_ACC), *region = field(csv, c, C_REGION), *az = field(csv, c, C_AZ);
    char itype[128];
    snprintf(itype, sizeof itype, "%s", field(csv, c, C_ITYPE));
    double count, vcpus, mem, price, spot;
    int has_count, has_vcpus, has_mem, has_price, has_spot;
    fl_status rc;
    if ((rc = number(c, csv, C_COUNT, &count, &has_count, err)) || (rc = number(c, csv, C_VCPUS, &vcpus, &has_vcpus, err)) ||
        (rc = number(c, csv, C_MEM, &mem, &has_mem, err)) || (rc = number(c, csv, C_PRICE, &price, &has_price, err)) ||
        (rc = number(c, csv, C_SPOT, &spot, &has_spot, err)))
        return rc;
    if (!*region)
        return fl_fail(err, FL_EINVAL, "Region", "%s line %d column Region: empty region", c->path, line);
    /* accelerator → GPU (per-instance-type overrides first) */
    const char *gpu = map_gpu(acc), *note = NULL;
    for (size_t i = 0; i < TABLE_N(type_gpu); i++)
        if (*itype && strcmp(type_gpu[i].itype, itype) == 0) {
            gpu = type_gpu[i].gpu;
            note = type_gpu[i].note;
        }
    if (!gpu) {
        c->dropped++;
        return FL_OK;
    }
    if (!has_count || count < 1 || count > 1024)
        return fl_fail(err, FL_EINVAL, "AcceleratorCount", "%s line %d column AcceleratorCount: '%s' is not a GPU "
                       "count in [1, 1024]", c->path, line, field(csv, c, C_COUNT));
    int n = (int)count;
    if (has_price && price < 0)
        return fl_fail(err, FL_EINVAL, "Price", "%s line %d column Price: '%s' is a negative price", c->path, line,
                       field(csv, c, C_PRICE));
    if (has_spot && spot < 0)
        return fl_fail(err, FL_EINVAL, "SpotPrice", "%s line %d column SpotPrice: '%s' is a negative price", c->path,
                       line, field(csv, c, C_SPOT));
    if (!has_price || price <= 0 || price == 700.0) { /* empty or SkyPilot placeholder price */
        c->skipped++;
        return FL_OK;
    }
    if (!has_spot || spot <= 0)
        spot = -1.0;
    char notes[512] = "", zone[192], host_note[192];
    size_t nl = 0;
#define ADD_NOTE(...) (nl += (size_t)snprintf(notes + nl, nl < sizeof notes ? sizeof notes - nl : 0, __VA_ARGS__))
    if (strcmp(c->cloud, "gcp") == 0) {
        if (!*az)
            return fl_fail(err, FL_EINVAL, "AvailabilityZone", "%s line %d column AvailabilityZone: empty zone",
                           c->path, line);
        if (!*itype) { /* GPU-only row: synthesize the machine type and add the host VM */
            if (!gcp_instance(acc, n, itype, sizeof itype)) {
                c->skipped++;
                return FL_OK;
            }
            double hod, hsp;
            gcp_host(itype, region, n, price, spot, &hod, &hsp, host_note, sizeof host_note);
            ADD_NOTE("; GPU price $%.5g + %s", price, host_note);
            price += hod;
            spot = spot >= 0 && hsp >= 0 ? spot + hsp : -1.0;
            has_vcpus = has_mem = 1;
            vcpus = mem = 0;
            for (size_t i = 0; i < TABLE_N(gcp_shape); i++)
                if (strcmp(gcp_shape[i].itype, itype) == 0) {
                    vcpus = gcp_shape[i].vcpus;
                    mem = gcp_shape[i].mem;
                }
            if (vcpus == 0) { /* n1-standard-N: 3.75 GiB per vCPU */
                vcpus = atoi(itype + strlen("n1-standard-"));
                mem = vcpus * 3.75;
            }
        }
        snprintf(zone, sizeof zone, "gcp:%s", az);
    } else if (strcmp(c->cloud, "aws") == 0) {
        if (!*az)
            return fl_fail(err, FL_EINVAL, "AvailabilityZone", "%s line %d column AvailabilityZone: empty zone",
                           c->path, line);
        snprintf(zone, sizeof zone, "aws:%s", az);
    } else if (strcmp(c->cloud, "azure") == 0) {
        snprintf(zone, sizeof zone, "azure:%s-1", region);
    } else {
        snprintf(zone, sizeof zone, "lambda:%s", region);
    }
    if (!*itype)
        return fl_fail(err, FL_EINVAL, "InstanceType", "%s line %d column InstanceType: empty instance type",
                       c->path, line);
    if (note)
        ADD_NOTE("; %s", note);
    const char *tn = lookup_note(itype);
    if (tn)
        ADD_NOTE("; %s", tn);
    for (size_t i = 0; i < TABLE_N(expected_count); i++)
        if (strcmp(expected_count[i].itype, itype) == 0 && expected_count[i].n != n) {
            ADD_NOTE("; accelerator count fixed %d->%d per instance spec", n, expected_count[i].n);
            n = expected_count[i].n;
        }
    price = money(price);
    if (spot >= 0)
        spot = money(spot);
    if (spot >= 0 && spot >= price)
        ADD_NOTE("; spot >= on-demand in source; kept as given");
#undef ADD_NOTE
    const char *cont = continent_of(c->cloud, region);
    if (!cont)
        return fl_fail(err, FL_EINVAL, "Region", "%s line %d column Region: no continent rule for %s region '%s'",
                       c->path, line, c->cloud, region);
    char src[768];
    snprintf(src, sizeof src, "SkyPilot catalog CSV %s line %d (flotilla profiles import)%s", c->base, line, notes);
    sqlite3_stmt *z = c->ins_zone, *o = c->ins_off;
    sqlite3_reset(z);
    sqlite3_bind_text(z, 1, zone, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(z, 2, c->cloud, -1, SQLITE_STATIC);
    sqlite3_bind_text(z, 3, region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(z, 4, cont, -1, SQLITE_STATIC);
    char zsrc[256];
    snprintf(zsrc, sizeof zsrc, "SkyPilot catalog CSV %s (flotilla profiles import); continent from region name",
             c->base);
    sqlite3_bind_text(z, 5, zsrc, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(z) != SQLITE_DONE)
        return fl_catalog_fail(c->cat, err, FL_ECATALOG, "zone", "%s line %d: cannot add zone %s: %s", c->path, line, zone,
                       sqlite3_errmsg(c->cat->db));
    double nic_bw = -1;
    for (size_t i = 0; i < TABLE_N(nic); i++)
        if (strcmp(nic[i].itype, itype) == 0)
            nic_bw = nic[i].gbit * 1.25e8;
    sqlite3_reset(o);
    sqlite3_bind_text(o, 1, c->cloud, -1, SQLITE_STATIC);
    sqlite3_bind_text(o, 2, region, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(o, 3, zone, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(o, 4, itype, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(o, 5, gpu, -1, SQLITE_STATIC);
    sqlite3_bind_int(o, 6, n);
    if (has_vcpus) sqlite3_bind_double(o, 7, vcpus); else sqlite3_bind_null(o, 7);
    if (has_mem) sqlite3_bind_double(o, 8, mem); else sqlite3_bind_null(o, 8);
    sqlite3_bind_double(o, 9, price);
    if (spot >= 0) sqlite3_bind_double(o, 10, spot); else sqlite3_bind_null(o, 10);
    if (nic_bw > 0) sqlite3_bind_double(o, 11, nic_bw); else sqlite3_bind_null(o, 11);
    sqlite3_bind_text(o, 12, src, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(o) != SQLITE_DONE)
        return fl_catalog_fail(c->cat, err, FL_ECATALOG, "offerings", "%s line %d: rejected by table offerings: %s", c->path, line,
                       sqlite3_errmsg(c->cat->db));
    if (sqlite3_changes(c->cat->db) == 0)
        return duplicate_row(c, zone, itype, line, err);
    else
        c->rows++;
    return FL_OK;
}

/* Header, cloud, then every row, inside the caller's transaction. */
static fl_status import_text(imp_ctx *c, const char *text, size_t len, const char *cloud_arg, fl_error *err)
{
    fl_csv csv;
    fl_csv_init(&csv, text, len);
    fl_status rc = FL_OK;
    int r = fl_csv_next(&csv);
    if (r != 1) {
        fl_csv_free(&csv);
        return fl_fail(err, FL_EPARSE, "header", "%s: empty file or malformed CSV header", c->path);
    }
    size_t ncol = csv.n_fields;
    if (ncol > 1024) {
        fl_csv_free(&csv);
        return fl_fail(err, FL_EPARSE, "header", "%s line 1: %zu columns (at most 1024)", c->path, ncol);
    }
    for (size_t i = 0; i < ncol; i++) /* a column named twice would make the first one win silently */
        for (size_t j = i + 1; j < ncol; j++)
            if (csv.fields[i][0] && strcasecmp(csv.fields[i], csv.fields[j]) == 0) {
                rc = fl_fail(err, FL_EPARSE, csv.fields[j], "%s line 1: column %s appears twice (columns %zu and %zu)",
                             c->path, csv.fields[j], i + 1, j + 1);
                fl_csv_free(&csv);
                return rc;
            }
    for (int i = 0; i < C_N; i++) {
        c->col[i] = fl_csv_col(&csv, col_names[i]);
        if (c->col[i] < 0 && col_required[i]) {
            rc = fl_fail(err, FL_EPARSE, col_names[i], "%s line 1: missing required column %s (SkyPilot vms.csv "
                         "layout: InstanceType, AcceleratorName, AcceleratorCount, Price, Region, ...)", c->path,
                         col_names[i]);
            fl_csv_free(&csv);
            return rc;
        }
    }
    /* rows are read one at a time; the cloud is decided on the first one */
    int first = 1;
    while ((r = fl_csv_next(&csv)) == 1) {
        if (csv.n_fields != ncol) {
            rc = fl_fail(err, FL_EPARSE, "row", "%s line %d: %zu fields, the header has %zu", c->path, csv.line,
                         csv.n_fields, ncol);
            break;
        }
        if (first) {
            first = 0;
            c->cloud = cloud_arg ? cloud_arg : infer_cloud(c, &csv);
            if (!c->cloud) {
                rc = fl_fail(err, FL_EINVAL, "cloud", "%s line %d: cannot tell which cloud this catalog is for; pass "
                             "--cloud aws|gcp|azure|lambda", c->path, csv.line);
                break;
            }
            if ((strcmp(c->cloud, "aws") == 0 || strcmp(c->cloud, "gcp") == 0) && c->col[C_AZ] < 0) {
                rc = fl_fail(err, FL_EPARSE, "AvailabilityZone", "%s line 1: missing column AvailabilityZone "
                             "(required for %s)", c->path, c->cloud);
                break;
            }
            sqlite3_stmt *del;
            if (sqlite3_prepare_v2(c->cat->db, "DELETE FROM offerings WHERE cloud = ?", -1, &del, NULL) != SQLITE_OK) {
                rc = fl_catalog_fail(c->cat, err, FL_ECATALOG, "offerings", "catalog %s: %s", c->cat->path, sqlite3_errmsg(c->cat->db));
                break;
            }
            sqlite3_bind_text(del, 1, c->cloud, -1, SQLITE_STATIC);
            int s = sqlite3_step(del);
            sqlite3_finalize(del);
            if (s != SQLITE_DONE) {
                rc = fl_catalog_fail(c->cat, err, FL_ECATALOG, "offerings", "catalog %s: %s", c->cat->path, sqlite3_errmsg(c->cat->db));
                break;
            }
        }
        if ((rc = import_row(c, &csv, err)))
            break;
    }
    if (rc == FL_OK && r == -1)
        rc = fl_fail(err, FL_EPARSE, "row", "%s line %d: unterminated quoted field", c->path, csv.line);
    if (rc == FL_OK && first)
        rc = fl_fail(err, FL_EPARSE, "row", "%s: no data rows", c->path);
    if (rc == FL_OK && c->rows == 0)
        rc = fl_fail(err, FL_EINVAL, "AcceleratorName", "%s: no row maps to a catalog GPU (%zu dropped, %zu skipped); "
                     "nothing imported", c->path, c->dropped, c->skipped);
    fl_csv_free(&csv);
    return rc;
}

fl_status fl_catalog_import_offerings(fl_catalog *cat, const char *csv_path, const char *cloud,
                                      size_t *rows_out, fl_error *err)
{
    if (!cat || !csv_path)
        return fl_fail(err, FL_EMISUSE, "offerings", "fl_catalog_import_offerings: catalog or path is NULL");
    if (cloud && strcmp(cloud, "aws") && strcmp(cloud, "gcp") && strcmp(cloud, "azure") && strcmp(cloud, "lambda"))
        return fl_fail(err, FL_EINVAL, "cloud", "unknown cloud '%s' (aws, gcp, azure, lambda)", cloud);
    size_t len = 0;
    char *text = NULL;
    /* at most FL_INPUT_MAX bytes of UTF-8 text (the error gives the line and column of a bad byte) */
    fl_status rrc = fl_read_file(csv_path, "offerings", &text, &len, err);
    if (rrc)
        return rrc;
    imp_ctx c;
    memset(&c, 0, sizeof c);
    c.cat = cat;
    c.path = csv_path;
    const char *slash = strrchr(csv_path, '/');
    c.base = slash ? slash + 1 : csv_path;
    fl_status rc = fl_catalog_exec(cat, "BEGIN", err);
    if (rc) {
        free(text);
        return rc;
    }
    if (sqlite3_prepare_v2(cat->db, "INSERT OR IGNORE INTO zones(zone, cloud, region, continent, source) "
                           "VALUES(?,?,?,?,?)", -1, &c.ins_zone, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(cat->db, "INSERT OR IGNORE INTO offerings(cloud, region, zone, instance_type, gpu, "
                           "gpus_per_instance, vcpus, memory_gib, price_per_hour, spot_price_per_hour, "
                           "network_bw_bytes_per_s, source) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &c.ins_off, NULL) != SQLITE_OK)
        rc = fl_catalog_fail(cat, err, FL_ECATALOG, "offerings", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    if (rc == FL_OK)
        rc = import_text(&c, text, len, cloud, err);
    sqlite3_finalize(c.ins_zone);
    sqlite3_finalize(c.ins_off);
    free(text);
    if ((rc = fl_catalog_end_import(cat, rc, err)))
        return rc;
    if (rows_out)
        *rows_out = c.rows;
    return FL_OK;
}
