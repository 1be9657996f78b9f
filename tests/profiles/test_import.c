/* tests/profiles/test_import.c — the catalog importers: nvidia-smi XML nodes, SkyPilot offering
 * CSVs (the four extracts must reproduce the built-in rows) and measured JSONL, plus every bad
 * input, each checked to leave the catalog unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB 1048576.0

/* The file's text; fails the test when it cannot be read. */
static char *slurp(const char *path)
{
    char *s = test_read_text(path);
    if (!s)
        fail_msg("cannot read %s", path);
    return s;
}

static fl_catalog *open_builtin(void)
{
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    return cat;
}

/* Counts of every changeable table plus one sample row, to prove a failed import changed nothing. */
typedef struct snap { size_t nodes, offerings, measured, zones; double price0; char zone0[128]; } snap;

static snap take(const fl_catalog *cat)
{
    snap s;
    memset(&s, 0, sizeof s);
    s.nodes = fl_catalog_node_count(cat);
    s.offerings = fl_catalog_offering_count(cat);
    s.measured = fl_catalog_measured_count(cat);
    s.zones = fl_catalog_zone_count(cat);
    if (s.offerings) {
        s.price0 = fl_catalog_offering(cat, 0)->price_per_hour;
        snprintf(s.zone0, sizeof s.zone0, "%s", fl_catalog_offering(cat, 0)->zone);
    }
    return s;
}

static void assert_unchanged(const fl_catalog *cat, const snap *before)
{
    snap now = take(cat);
    assert_int_equal(now.nodes, before->nodes);
    assert_int_equal(now.offerings, before->offerings);
    assert_int_equal(now.measured, before->measured);
    assert_int_equal(now.zones, before->zones);
    assert_true(now.price0 == before->price0);
    assert_string_equal(now.zone0, before->zone0);
}

static size_t cloud_count(const fl_catalog *cat, const char *cloud)
{
    size_t n = 0;
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++)
        n += strcmp(fl_catalog_offering(cat, i)->cloud, cloud) == 0;
    return n;
}

static const fl_node *node_named(const fl_catalog *cat, const char *name)
{
    for (size_t i = 0; i < fl_catalog_node_count(cat); i++)
        if (strcmp(fl_catalog_node(cat, i)->name, name) == 0)
            return fl_catalog_node(cat, i);
    return NULL;
}

/* ================= nvidia-smi ================= */

static const char *fixture_xml(void) { return test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"); }

static void test_nsmi_fixture(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    fl_error err;
    fl_error_clear(&err);
    size_t zones = fl_catalog_zone_count(cat);
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), NULL, NULL, &err), FL_OK);
    assert_int_equal(fl_catalog_node_count(cat), 1);
    const fl_node *n = fl_catalog_node(cat, 0);
    assert_string_equal(n->name, "node-1");
    assert_string_equal(n->zone, "onprem:local");
    assert_string_equal(n->gpu, "H100-SXM-80GB");
    assert_int_equal(n->gpu_count, 1);
    assert_true(n->memory_bytes == 81559 * MIB);
    assert_int_equal(n->nvlink, 1); /* from the GPU type: H100 SXM is NVLink */
    assert_non_null(strstr(n->source, "driver 580.159.04"));
    assert_non_null(strstr(n->source, "nvidia-smi -q -x"));
    assert_int_equal(n->gpu_index, fl_catalog_find_gpu(cat, "H100-SXM-80GB", "g", NULL));
    assert_true(n->zone_index >= 0);
    const fl_zone *z = fl_catalog_zone(cat, (size_t)n->zone_index);
    assert_string_equal(z->cloud, "onprem");
    assert_string_equal(z->region, "local");
    assert_string_equal(z->continent, "na");
    assert_int_equal(fl_catalog_zone_count(cat), zones + 1);
    fl_catalog_free(cat);
}

static void test_nsmi_names_and_replace(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    fl_error err;
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), NULL, "rack1-n1", &err), FL_OK);
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), "onprem:zurich@eu", "rack1-n1", &err), FL_OK);
    assert_int_equal(fl_catalog_node_count(cat), 1); /* same name: replaced */
    const fl_node *n = node_named(cat, "rack1-n1");
    assert_non_null(n);
    assert_string_equal(n->zone, "onprem:zurich");
    assert_string_equal(fl_catalog_zone(cat, (size_t)n->zone_index)->continent, "eu");
    /* unnamed imports get node-1, node-2 */
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), NULL, NULL, &err), FL_OK);
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), NULL, NULL, &err), FL_OK);
    assert_non_null(node_named(cat, "node-1"));
    assert_non_null(node_named(cat, "node-2"));
    assert_int_equal(fl_catalog_node_count(cat), 3);
    /* an existing cloud zone is accepted as is */
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), "gcp:us-central1-a", "cloudbox", &err), FL_OK);
    assert_string_equal(node_named(cat, "cloudbox")->zone, "gcp:us-central1-a");
    fl_catalog_free(cat);
}

/* A synthetic 8-GPU file with a hostname element and explicit <nvlink> flags. */
static void test_nsmi_multi_gpu_hostname_nvlink(void **state)
{
    (void)state;
    char xml[8192];
    size_t off = (size_t)snprintf(xml, sizeof xml, "<?xml version=\"1.0\" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "
                                  "\"nvsmi_device_v12.dtd\">\n<nvidia_smi_log><driver_version>550.1</driver_version>"
                                  "<hostname>dgx-a</hostname><attached_gpus>8</attached_gpus>\n");
    for (int i = 0; i < 8; i++)
        off += (size_t)snprintf(xml + off, sizeof xml - off,
                                "<gpu id=\"0000:%02d:00.0\"><product_name>NVIDIA A100-SXM4-80GB</product_name>"
                                "<product_architecture>Ampere</product_architecture><fb_memory_usage>"
                                "<total>%d MiB</total></fb_memory_usage><nvlink>No</nvlink></gpu>\n",
                                i, i == 3 ? 81000 : 81920);
    snprintf(xml + off, sizeof xml - off, "</nvidia_smi_log>\n");
    const char *p = temp_file(0, ".xml", xml);
    fl_catalog *cat = open_builtin();
    fl_error err;
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, p, NULL, NULL, &err), FL_OK);
    const fl_node *n = node_named(cat, "dgx-a");
    assert_non_null(n);
    assert_string_equal(n->gpu, "A100-SXM-80GB");
    assert_int_equal(n->gpu_count, 8);
    assert_true(n->memory_bytes == 81000 * MIB); /* smallest GPU */
    assert_int_equal(n->nvlink, 0);              /* explicit flag wins over the type */
    fl_catalog_free(cat);
    unlink(p);
}

/* Every bad file or argument fails with the expected code, names the file, changes nothing. */
static void expect_nsmi_fail(fl_catalog *cat, const char *path, const char *zone, fl_status code, const char *needle)
{
    snap before = take(cat);
    fl_error err;
    fl_error_clear(&err);
    fl_status st = fl_catalog_import_nvidia_smi(cat, path, zone, NULL, &err);
    if (st != code)
        fail_msg("%s: got status %d (%s), expected %d", path, st, err.message, code);
    if (needle && !strstr(err.message, needle))
        fail_msg("message '%s' lacks '%s'", err.message, needle);
    assert_unchanged(cat, &before);
}

static void test_nsmi_truncated(void **state)
{
    (void)state;
    char *text = slurp(fixture_xml());
    size_t len = strlen(text);
    size_t cuts[] = {10, 200, 3000, len / 2, len - 30, len - 2};
    fl_catalog *cat = open_builtin();
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char save = text[cuts[i]];
        text[cuts[i]] = '\0';
        const char *p = temp_file(1, ".xml", text);
        expect_nsmi_fail(cat, p, NULL, FL_EPARSE, p);
        unlink(p);
        text[cuts[i]] = save;
    }
    free(text);
    fl_catalog_free(cat);
}

static void test_nsmi_bad_files(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    char *text = slurp(fixture_xml());
    const char *p = temp_file(2, ".xml", "this is not XML at all\n");
    expect_nsmi_fail(cat, p, NULL, FL_EPARSE, p);
    p = temp_file(2, ".xml", "<?xml version=\"1.0\"?><other_log><gpu/></other_log>");
    expect_nsmi_fail(cat, p, NULL, FL_EPARSE, "nvidia_smi_log");
    p = temp_file(2, ".xml", "<?xml version=\"1.0\"?><nvidia_smi_log><attached_gpus>0</attached_gpus></nvidia_smi_log>");
    expect_nsmi_fail(cat, p, NULL, FL_EPARSE, "no <gpu>");
    p = temp_file(2, ".xml", "<nvidia_smi_log><gpu><fb_memory_usage><total>1 MiB</total></fb_memory_usage></gpu>"
                             "</nvidia_smi_log>");
    expect_nsmi_fail(cat, p, NULL, FL_EPARSE, "product_name");
    p = temp_file(2, ".xml", "<nvidia_smi_log><gpu><product_name>NVIDIA L4</product_name><fb_memory_usage><total>"
                             "lots</total></fb_memory_usage></gpu></nvidia_smi_log>");
    expect_nsmi_fail(cat, p, NULL, FL_EPARSE, "fb_memory_usage");
    p = temp_file(2, ".xml", "<nvidia_smi_log><gpu><product_name>NVIDIA L4</product_name><fb_memory_usage><total>"
                             "23034 MiB</total></fb_memory_usage></gpu><gpu><product_name>Tesla T4</product_name>"
                             "<fb_memory_usage><total>15360 MiB</total></fb_memory_usage></gpu></nvidia_smi_log>");
    expect_nsmi_fail(cat, p, NULL, FL_EINVAL, "one GPU type");
    /* unknown product name: FL_ENOTFOUND naming the product */
    char *s = strstr(text, "NVIDIA H100 80GB HBM3");
    assert_non_null(s);
    memcpy(s, "NVIDIA Z999 80GB HBM3", 21);
    p = temp_file(2, ".xml", text);
    expect_nsmi_fail(cat, p, NULL, FL_ENOTFOUND, "NVIDIA Z999 80GB HBM3");
    expect_nsmi_fail(cat, "/nonexistent/nvsmi.xml", NULL, FL_EIO, "/nonexistent/nvsmi.xml");
    /* zone arguments */
    expect_nsmi_fail(cat, fixture_xml(), "mars:olympus-1", FL_ENOTFOUND, "mars:olympus-1");
    expect_nsmi_fail(cat, fixture_xml(), "onprem:bad site", FL_EINVAL, "onprem:bad site");
    expect_nsmi_fail(cat, fixture_xml(), "onprem:x@moon", FL_EINVAL, "moon");
    fl_error err;
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), NULL, "", &err), FL_EINVAL);
    assert_int_equal(fl_catalog_import_nvidia_smi(NULL, fixture_xml(), NULL, NULL, &err), FL_EMISUSE);
    unlink(p);
    free(text);
    fl_catalog_free(cat);
}

/* ================= offerings ================= */

typedef struct off_copy {
    char zone[64], itype[64], gpu[32];
    int n;
    double price, spot, vcpus, mem, nic;
} off_copy;

/* Each SkyPilot extract, cloud inferred, reproduces the built-in rows of its cloud exactly. */
static void test_offerings_extracts_match_builtin(void **state)
{
    (void)state;
    static const struct { const char *file, *cloud; } files[] = {
        {"catalogs/aws-gpu-vms-sample.csv", "aws"}, {"catalogs/gcp-gpu-vms.csv", "gcp"},
        {"catalogs/azure-gpu-vms.csv", "azure"}, {"catalogs/lambda-gpu-vms.csv", "lambda"}};
    for (size_t f = 0; f < 4; f++) {
        fl_catalog *cat = open_builtin();
        size_t total = fl_catalog_offering_count(cat), want = cloud_count(cat, files[f].cloud);
        assert_true(want > 50);
        off_copy *ref = calloc(want, sizeof *ref);
        size_t k = 0;
        for (size_t i = 0; i < total; i++) {
            const fl_offering *o = fl_catalog_offering(cat, i);
            if (strcmp(o->cloud, files[f].cloud))
                continue;
            snprintf(ref[k].zone, sizeof ref[k].zone, "%s", o->zone);
            snprintf(ref[k].itype, sizeof ref[k].itype, "%s", o->instance_type);
            snprintf(ref[k].gpu, sizeof ref[k].gpu, "%s", o->gpu);
            ref[k].n = o->gpus_per_instance;
            ref[k].price = o->price_per_hour;
            ref[k].spot = o->spot_price_per_hour;
            ref[k].vcpus = o->vcpus;
            ref[k].mem = o->memory_gib;
            ref[k].nic = o->network_bw;
            k++;
        }
        size_t rows = 0;
        fl_error err;
        fl_error_clear(&err);
        char path[1024];
        snprintf(path, sizeof path, "%s", test_data(files[f].file));
        if (fl_catalog_import_offerings(cat, path, NULL, &rows, &err) != FL_OK)
            fail_msg("%s: %s", path, err.message);
        assert_int_equal(rows, want);
        assert_int_equal(cloud_count(cat, files[f].cloud), want);
        assert_int_equal(fl_catalog_offering_count(cat), total);
        for (size_t r = 0; r < want; r++) {
            const fl_offering *hit = NULL;
            for (size_t i = 0; i < total && !hit; i++) {
                const fl_offering *o = fl_catalog_offering(cat, i);
                if (strcmp(o->zone, ref[r].zone) == 0 && strcmp(o->instance_type, ref[r].itype) == 0)
                    hit = o;
            }
            if (!hit)
                fail_msg("%s: row %s %s missing after import", files[f].cloud, ref[r].zone, ref[r].itype);
            assert_string_equal(hit->gpu, ref[r].gpu);
            assert_int_equal(hit->gpus_per_instance, ref[r].n);
            if (fabs(hit->price_per_hour - ref[r].price) > 1e-9 || fabs(hit->spot_price_per_hour - ref[r].spot) > 1e-9 ||
                hit->vcpus != ref[r].vcpus || hit->memory_gib != ref[r].mem || hit->network_bw != ref[r].nic)
                fail_msg("%s %s: imported %.5f/%.5f/%g/%g/%g, built-in %.5f/%.5f/%g/%g/%g", ref[r].zone, ref[r].itype,
                         hit->price_per_hour, hit->spot_price_per_hour, hit->vcpus, hit->memory_gib, hit->network_bw,
                         ref[r].price, ref[r].spot, ref[r].vcpus, ref[r].mem, ref[r].nic);
            assert_non_null(strstr(hit->source, "SkyPilot catalog CSV"));
        }
        free(ref);
        fl_catalog_free(cat);
    }
}

static const char *small_aws =
    "Region,Price,InstanceType,Extra,AcceleratorCount,AcceleratorName,SpotPrice,AvailabilityZone,MemoryGiB,vCPUs\n"
    "ap-southeast-2,32.77,p4d.24xlarge,x,8.0,A100,12.5,apse2-az9,1152,96\n"
    "us-east-1,50.0,p6-b200.48xlarge,x,8,B200,,use1-az1,2048,192\n"          /* unknown accelerator */
    "us-east-1,,g5.xlarge,x,1,A10G,0.4,use1-az1,16,4\n"                      /* empty price */
    "us-east-1,700.0,g6.xlarge,x,1,L4,,use1-az1,16,4\n"                      /* placeholder price */
    "us-east-1,1.006,g5.xlarge,x,1.0,A10G,,use1-az2,16,4\n";

static void test_offerings_small_file_rules(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    size_t zones = fl_catalog_zone_count(cat), total = fl_catalog_offering_count(cat),
           aws = cloud_count(cat, "aws");
    const char *p = temp_file(3, ".csv", small_aws);
    size_t rows = 0;
    fl_error err;
    fl_error_clear(&err);
    if (fl_catalog_import_offerings(cat, p, NULL, &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(rows, 2);
    assert_int_equal(cloud_count(cat, "aws"), 2); /* replaced every aws row */
    assert_int_equal(fl_catalog_offering_count(cat), total - aws + 2);
    int z = fl_catalog_find_zone(cat, "aws:apse2-az9", "z", NULL);
    assert_true(z >= 0); /* new zone created */
    assert_int_equal(fl_catalog_zone_count(cat), zones + 1);
    const fl_zone *zz = fl_catalog_zone(cat, (size_t)z);
    assert_string_equal(zz->cloud, "aws");
    assert_string_equal(zz->region, "ap-southeast-2");
    assert_string_equal(zz->continent, "oceania");
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if (strcmp(o->zone, "aws:apse2-az9") == 0) {
            assert_string_equal(o->gpu, "A100-SXM-40GB");
            assert_int_equal(o->gpus_per_instance, 8);
            assert_true(o->price_per_hour == 32.77 && o->spot_price_per_hour == 12.5);
            assert_true(o->vcpus == 96 && o->memory_gib == 1152 && o->network_bw == 400 * 1.25e8);
        }
        if (strcmp(o->zone, "aws:use1-az2") == 0)
            assert_true(o->spot_price_per_hour < 0); /* empty spot stays unknown */
    }
    fl_catalog_free(cat);
    unlink(p);
}

static void test_offerings_gcp_azure_lambda_rules(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    fl_error err;
    size_t rows = 0;
    const char *g = temp_file(4, ".csv",
                              "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,Region,AvailabilityZone,"
                              "Price,SpotPrice\n"
                              ",,,A100,8,us-central1,us-central1-a,2.0,1.0\n"
                              ",,,H100,4,us-central1,us-central1-a,30.0,10.0\n" /* no a3 shape with 4 GPUs */
                              ",,,T4,2,us-central1,us-central1-b,0.7,0.35\n"
                              ",,,P100,1,us-central1,us-central1-a,1.46,0.5\n");
    if (fl_catalog_import_offerings(cat, g, NULL, &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(rows, 2);
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if (strcmp(o->cloud, "gcp"))
            continue;
        if (strcmp(o->instance_type, "a2-highgpu-8g") == 0) {
            assert_true(fabs(o->price_per_hour - (2.0 + 8 * 0.73948)) < 1e-9);
            assert_true(fabs(o->spot_price_per_hour - (1.0 + 8 * 0.36975)) < 1e-9);
            assert_true(o->vcpus == 96 && o->memory_gib == 680);
            assert_string_equal(o->zone, "gcp:us-central1-a");
        } else {
            assert_string_equal(o->instance_type, "n1-standard-16+2xT4");
            assert_true(fabs(o->price_per_hour - (0.7 + 0.76)) < 1e-9);
            assert_true(fabs(o->spot_price_per_hour - (0.35 + 0.38)) < 1e-9); /* host spot scaled by GPU ratio */
            assert_true(o->vcpus == 16 && o->memory_gib == 60);
        }
    }
    const char *a = temp_file(4, ".csv",
                              "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,"
                              "Region,Generation\n"
                              "Standard_ND96isr_H100_v5,H100,12,96,1900,H100,98.32,98.32,eastus,V2\n"
                              "Standard_NC40ads_H100_v5,H100,1,40,320,H100,6.98,,newzealandnorth,V2\n");
    if (fl_catalog_import_offerings(cat, a, NULL, &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(rows, 2);
    int nz = fl_catalog_find_zone(cat, "azure:newzealandnorth-1", "z", NULL);
    assert_true(nz >= 0);
    assert_string_equal(fl_catalog_zone(cat, (size_t)nz)->continent, "oceania");
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if (strcmp(o->instance_type, "Standard_ND96isr_H100_v5") == 0) {
            assert_int_equal(o->gpus_per_instance, 8); /* 12 -> 8 fix */
            assert_string_equal(o->zone, "azure:eastus-1");
            assert_non_null(strstr(o->source, "12->8"));
        }
        if (strcmp(o->instance_type, "Standard_NC40ads_H100_v5") == 0)
            assert_string_equal(o->gpu, "H100-PCIE-80GB");
    }
    assert_int_equal(cloud_count(cat, "azure"), 2);
    const char *l = temp_file(4, ".csv", "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,"
                                         "SpotPrice\ngpu_1x_a100,A100,1,30,200,1.29,us-west-1,\n");
    /* explicit cloud */
    if (fl_catalog_import_offerings(cat, l, "lambda", &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(cloud_count(cat, "lambda"), 1);
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++)
        if (strcmp(fl_catalog_offering(cat, i)->cloud, "lambda") == 0) {
            assert_string_equal(fl_catalog_offering(cat, i)->zone, "lambda:us-west-1");
            assert_string_equal(fl_catalog_offering(cat, i)->gpu, "A100-PCIE-40GB");
        }
    fl_catalog_free(cat);
    unlink(g);
    unlink(a);
    unlink(l);
}

static void expect_off_fail(fl_catalog *cat, const char *text, const char *cloud, fl_status code, const char *n1,
                            const char *n2)
{
    snap before = take(cat);
    const char *p = text ? temp_file(5, ".csv", text) : "/nonexistent/offerings.csv";
    fl_error err;
    fl_error_clear(&err);
    size_t rows = 12345;
    fl_status st = fl_catalog_import_offerings(cat, p, cloud, &rows, &err);
    if (st != code)
        fail_msg("got status %d (%s), expected %d", st, err.message, code);
    assert_int_equal(rows, 12345);
    assert_non_null(strstr(err.message, p));
    if (n1 && !strstr(err.message, n1))
        fail_msg("message '%s' lacks '%s'", err.message, n1);
    if (n2 && !strstr(err.message, n2))
        fail_msg("message '%s' lacks '%s'", err.message, n2);
    assert_unchanged(cat, &before);
    if (text)
        unlink(p);
}

static void test_offerings_bad_inputs(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    const char *hdr = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,"
                      "AvailabilityZone\n";
    char buf[2048];
    expect_off_fail(cat, "InstanceType,AcceleratorName,AcceleratorCount,Region,AvailabilityZone\n"
                         "p4d.24xlarge,A100,8,us-east-1,use1-az1\n", NULL, FL_EPARSE, "Price", "line 1");
    /* a bad price on line 3 after a good line 2: the whole file is rejected */
    snprintf(buf, sizeof buf, "%sp4d.24xlarge,A100,8,96,1152,32.77,,us-east-1,use1-az1\n"
                              "g5.xlarge,A10G,1,4,16,abc,,us-east-1,use1-az1\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EPARSE, "line 3", "Price");
    snprintf(buf, sizeof buf, "%sp4d.24xlarge,A100,eight,96,1152,32.77,,us-east-1,use1-az1\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EPARSE, "line 2", "AcceleratorCount");
    snprintf(buf, sizeof buf, "%sp4d.24xlarge,A100,8,96,1152,32.77,x1,us-east-1,use1-az1\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EPARSE, "line 2", "SpotPrice");
    snprintf(buf, sizeof buf, "%sp4d.24xlarge,A100,8,96,1152,32.77\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EPARSE, "line 2", "fields");
    snprintf(buf, sizeof buf, "%sp4d.24xlarge,A100,0,96,1152,32.77,,us-east-1,use1-az1\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EINVAL, "line 2", "AcceleratorCount");
    snprintf(buf, sizeof buf, "%sp4d.24xlarge,A100,8,96,1152,32.77,,xx-east-1,xxe1-az1\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EINVAL, "line 2", "xx-east-1");
    snprintf(buf, sizeof buf, "%sp4d.24xlarge,A100,8,96,1152,32.77,,us-east-1,\n", hdr);
    expect_off_fail(cat, buf, "aws", FL_EINVAL, "line 2", "AvailabilityZone");
    snprintf(buf, sizeof buf, "%smystery,A100,8,96,1152,32.77,,us-east-1,zone-x\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EINVAL, "--cloud", NULL);
    snprintf(buf, sizeof buf, "%sp6-b200.48xlarge,B200,8,96,1152,32.77,,us-east-1,use1-az1\n", hdr);
    expect_off_fail(cat, buf, NULL, FL_EINVAL, "no row maps", NULL);
    expect_off_fail(cat, hdr, "aws", FL_EPARSE, "no data rows", NULL);
    expect_off_fail(cat, "", "aws", FL_EPARSE, "header", NULL);
    snprintf(buf, sizeof buf, "%s\"p4d.24xlarge,A100,8,96,1152,32.77,,us-east-1,use1-az1\n", hdr);
    expect_off_fail(cat, buf, "aws", FL_EPARSE, "unterminated", NULL);
    expect_off_fail(cat, "InstanceType,AcceleratorName,AcceleratorCount,Price,Region\n"
                         "p4d.24xlarge,A100,8,32.77,us-east-1\n", "aws", FL_EPARSE, "AvailabilityZone", NULL);
    expect_off_fail(cat, NULL, NULL, FL_EIO, NULL, NULL);
    fl_error err;
    snap before = take(cat);
    assert_int_equal(fl_catalog_import_offerings(cat, test_data("catalogs/aws-gpu-vms-sample.csv"), "oracle", NULL,
                                                 &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "oracle"));
    assert_unchanged(cat, &before);
    fl_catalog_free(cat);
}

/* On a file catalog a rejected import leaves the file unchanged (ROLLBACK), a good one persists. */
static void test_file_catalog_rollback_and_persist(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s", temp_path(6, ".sqlite"));
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    snap before = take(cat);
    const char *bad = temp_file(5, ".csv", "InstanceType,AcceleratorName,AcceleratorCount,Price,Region,"
                                           "AvailabilityZone\np4d.24xlarge,A100,8,32.77,us-east-1,use1-az1\n"
                                           "g5.xlarge,A10G,1,1..0,us-east-1,use1-az1\n");
    assert_int_equal(fl_catalog_import_offerings(cat, bad, NULL, NULL, &err), FL_EPARSE);
    assert_unchanged(cat, &before);
    fl_catalog_free(cat);
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    assert_unchanged(cat, &before);
    assert_int_equal(fl_catalog_import_nvidia_smi(cat, fixture_xml(), NULL, "persisted", &err), FL_OK);
    size_t rows = 0;
    assert_int_equal(fl_catalog_import_measured(cat, test_data("h100-sxm-80gb.layers.jsonl"), &rows, &err), FL_OK);
    fl_catalog_free(cat);
    assert_int_equal(fl_catalog_open(path, &cat, &err), FL_OK);
    assert_non_null(node_named(cat, "persisted"));
    assert_int_equal(fl_catalog_measured_count(cat), rows);
    fl_catalog_free(cat);
    unlink(bad);
    unlink(path);
}

/* ================= measured ================= */

static void test_measured_fixture(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    fl_error err;
    fl_error_clear(&err);
    size_t rows = 0;
    const char *p = test_data("h100-sxm-80gb.layers.jsonl");
    if (fl_catalog_import_measured(cat, p, &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(rows, 39); /* 40 lines, one env */
    assert_int_equal(fl_catalog_measured_count(cat), 39);
    int gemm = 0, layer = 0, memcpy_n = 0;
    int h100 = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "g", NULL);
    for (size_t i = 0; i < rows; i++) {
        const fl_measured *m = fl_catalog_measured(cat, i);
        assert_string_equal(m->gpu, "H100-SXM-80GB");
        assert_int_equal(m->gpu_index, h100);
        assert_non_null(strstr(m->source, "h100-sxm-80gb.layers.jsonl:"));
        assert_non_null(strstr(m->source, "torch 2.11.0+cu130"));
        if (strcmp(m->kind, "gemm") == 0) {
            gemm++;
            assert_true(m->m > 0 && m->n > 0 && m->k > 0 && m->seconds > 0);
        } else if (strcmp(m->kind, "layer") == 0) {
            layer++;
            assert_true(m->h > 0 && m->a > 0 && m->ffn > 0 && m->s > 0 && m->b > 0);
            assert_true(m->fwd_s > 0 && m->fwdbwd_s > m->fwd_s && m->act_bytes > 0);
            assert_string_equal(m->dtype, "bf16");
        } else if (strcmp(m->kind, "memcpy_d2d") == 0) {
            memcpy_n++;
            assert_true(m->bytes == 1073741824.0 && m->seconds > 0);
        }
    }
    assert_int_equal(gemm, 8);
    assert_int_equal(layer, 30);
    assert_int_equal(memcpy_n, 1);
    /* first layer line of the file, checked field by field */
    const fl_measured *l0 = NULL;
    for (size_t i = 0; i < rows && !l0; i++)
        if (strcmp(fl_catalog_measured(cat, i)->kind, "layer") == 0)
            l0 = fl_catalog_measured(cat, i);
    assert_int_equal(l0->h, 2048);
    assert_int_equal(l0->a, 16);
    assert_int_equal(l0->ffn, 8192);
    assert_int_equal(l0->s, 2048);
    assert_int_equal(l0->b, 1);
    assert_true(fabs(l0->fwd_s - 0.00040830400586128234) < 1e-15);
    assert_true(fabs(l0->fwdbwd_s - 0.0017890080213546753) < 1e-15);
    assert_true(l0->act_bytes == 130188288.0);
    /* re-import replaces the earlier rows of the same file */
    assert_int_equal(fl_catalog_import_measured(cat, p, &rows, &err), FL_OK);
    assert_int_equal(fl_catalog_measured_count(cat), 39);
    fl_catalog_free(cat);
}

static void test_measured_env_default_and_decode(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    const char *p = temp_file(7, ".jsonl",
                              "{\"kind\": \"env\", \"gpu\": \"NVIDIA A100-SXM4-80GB\"}\n"
                              "\n"
                              "{\"kind\": \"gemm\", \"m\": 4096, \"n\": 4096, \"k\": 4096, \"dtype\": \"bf16\", "
                              "\"seconds\": 0.0005}\n"
                              "{\"kind\": \"decode\", \"model\": \"llama2-7b\", \"tp\": 2, \"batch\": 8, "
                              "\"context\": 1024, \"seconds\": 0.012}\n"
                              "{\"kind\": \"prefill\", \"model\": \"meta-llama/Llama-2-7b-hf\", \"batch\": 1, "
                              "\"seq\": 512, \"seconds\": 0.05, \"gpu\": \"l4\"}\n"
                              "{\"kind\": \"memcpy_d2d\", \"bytes\": 1e9, \"seconds\": 0.0007}\n");
    fl_error err;
    fl_error_clear(&err);
    size_t rows = 0;
    if (fl_catalog_import_measured(cat, p, &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(rows, 4);
    const fl_measured *g = fl_catalog_measured(cat, 0), *d = fl_catalog_measured(cat, 1),
                      *pf = fl_catalog_measured(cat, 2), *mc = fl_catalog_measured(cat, 3);
    assert_string_equal(g->gpu, "A100-SXM-80GB"); /* from the env line */
    assert_int_equal(g->k, 4096);
    assert_string_equal(d->kind, "decode");
    assert_string_equal(d->gpu, "A100-SXM-80GB");
    assert_int_equal(d->h, 4096);  /* llama2-7b shape */
    assert_int_equal(d->a, 32);
    assert_int_equal(d->ffn, 11008);
    assert_int_equal(d->s, 1024);  /* context */
    assert_int_equal(d->b, 8);
    assert_int_equal(d->m, 2);     /* tp */
    assert_true(d->seconds == 0.012);
    assert_non_null(strstr(d->source, "model llama2-7b tp 2"));
    assert_string_equal(pf->gpu, "L4-24GB"); /* a line's own gpu wins */
    assert_int_equal(pf->s, 512);
    assert_int_equal(pf->m, 1);    /* tp defaults to 1 */
    assert_true(mc->bytes == 1e9);
    fl_catalog_free(cat);
    unlink(p);
}

/* The shared H100 whole-model file imports as it is: train_iter rows (with out-of-memory rows that
 * inherit vocab / grad_accum / framework from the rows before them), prefill and decode_step rows. */
static void test_measured_models_v2(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    fl_error err;
    fl_error_clear(&err);
    size_t rows = 0;
    if (fl_catalog_import_measured(cat, test_data("calibration/h100-sxm-80gb.models.jsonl"), &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(rows, 40);
    int train = 0, oom = 0, prefill = 0, decode = 0, decode_oom = 0;
    for (size_t i = 0; i < fl_catalog_measured_count(cat); i++) {
        const fl_measured *m = fl_catalog_measured(cat, i);
        assert_string_equal(m->gpu, "H100-SXM-80GB");
        assert_non_null(m->json);
        if (strcmp(m->kind, "train_iter") == 0) {
            train++;
            assert_string_equal(m->framework, "torch-amp");
            assert_int_equal(m->vocab, 50304);
            assert_int_equal(m->grad_accum, 2);
            assert_int_equal(m->positions, 4096); /* derived from params and the shape */
            assert_int_equal(m->tied_embeddings, 0);
            assert_int_equal(m->ffn, 4 * m->h);
            if (m->oom) {
                oom++;
                assert_true(m->seconds == 0);
            } else {
                assert_true(m->seconds > 0.05 && m->seconds < 2);
                assert_true(m->peak_reserved_bytes >= m->peak_alloc_bytes && m->peak_alloc_bytes > 1e9);
            }
            if (m->h == 1024 && m->b == 16 && m->recompute) {
                assert_string_equal(m->model, "gpt-350m");
                assert_true(fabs(m->seconds - 0.5901603393554687) < 1e-12);
            }
        } else if (strcmp(m->kind, "prefill") == 0) {
            prefill++;
            assert_string_equal(m->engine, "hf-transformers-eager-sdpa");
            assert_int_equal(m->layers, 32);
            assert_int_equal(m->kv_heads, 32);
            assert_int_equal(m->ffn, 11008);
            assert_int_equal(m->tp, 1);
        } else if (strcmp(m->kind, "decode_step") == 0) {
            decode++;
            assert_string_equal(m->model, "llama2-7b");
            if (m->oom) {
                decode_oom++;
                assert_int_equal(m->b, 128);
                assert_int_equal(m->s, 2048);
            } else {
                assert_true(m->kv_bytes > 0 && m->weight_bytes > 1e10);
            }
        }
    }
    assert_int_equal(train, 24);
    assert_int_equal(oom, 9);
    assert_int_equal(prefill, 6);
    assert_int_equal(decode, 10);
    assert_int_equal(decode_oom, 1);
    fl_catalog_free(cat);
}

/* Richer rows: tp and attention on layers, embedding / LM head / optimizer / collective rows. */
static void test_measured_v2_kinds(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    const char *p = temp_file(7, ".jsonl",
        "{\"kind\": \"layer\", \"gpu\": \"a100\", \"h\": 2048, \"a\": 16, \"s\": 2048, \"b\": 2, \"tp\": 4, "
        "\"attention\": \"standard\", \"dtype\": \"tf32\", \"framework\": \"megatron\", \"fwd_s\": 0.004, "
        "\"fwdbwd_s\": 0.012}\n"
        "{\"kind\": \"lm_head_loss\", \"gpu\": \"a100\", \"vocab\": 50304, \"h\": 2048, \"s\": 2048, \"b\": 2, "
        "\"fwd_s\": 0.01, \"fwdbwd_s\": 0.03}\n"
        "{\"kind\": \"optimizer_step\", \"gpu\": \"a100\", \"params\": 1.3e9, \"optimizer\": \"adamw\", "
        "\"impl\": \"foreach\", \"seconds\": 0.02}\n"
        "{\"kind\": \"allreduce\", \"gpu\": \"a100\", \"bytes\": 1e8, \"gpus\": 8, \"seconds\": 0.001}\n"
        "{\"kind\": \"p2p\", \"gpu\": \"a100\", \"bytes\": 1e8, \"seconds\": 0.0005}\n");
    fl_error err;
    fl_error_clear(&err);
    size_t rows = 0;
    if (fl_catalog_import_measured(cat, p, &rows, &err))
        fail_msg("%s", err.message);
    assert_int_equal(rows, 5);
    const fl_measured *l = fl_catalog_measured(cat, 0), *hd = fl_catalog_measured(cat, 1),
                      *op = fl_catalog_measured(cat, 2), *ar = fl_catalog_measured(cat, 3),
                      *pp = fl_catalog_measured(cat, 4);
    assert_int_equal(l->tp, 4);
    assert_string_equal(l->attention, "standard");
    assert_string_equal(l->dtype, "tf32");
    assert_string_equal(l->framework, "megatron");
    assert_int_equal(l->ffn, 8192); /* 4h by default */
    assert_int_equal(hd->vocab, 50304);
    assert_true(hd->fwdbwd_s == 0.03);
    assert_string_equal(op->impl, "foreach");
    assert_true(op->params == 1.3e9);
    assert_int_equal(ar->gpus, 8);
    assert_int_equal(pp->gpus, 2);
    fl_catalog_free(cat);
    unlink(p);
}

static void expect_meas_fail(fl_catalog *cat, const char *text, fl_status code, const char *n1, const char *n2)
{
    snap before = take(cat);
    const char *p = text ? temp_file(7, ".jsonl", text) : "/nonexistent/m.jsonl";
    fl_error err;
    fl_error_clear(&err);
    fl_status st = fl_catalog_import_measured(cat, p, NULL, &err);
    if (st != code)
        fail_msg("got status %d (%s), expected %d", st, err.message, code);
    assert_non_null(strstr(err.message, p));
    if (n1 && !strstr(err.message, n1))
        fail_msg("message '%s' lacks '%s'", err.message, n1);
    if (n2 && !strstr(err.message, n2))
        fail_msg("message '%s' lacks '%s'", err.message, n2);
    assert_unchanged(cat, &before);
    if (text)
        unlink(p);
}

static void test_measured_bad_inputs(void **state)
{
    (void)state;
    fl_catalog *cat = open_builtin();
    size_t rows;
    fl_error err;
    assert_int_equal(fl_catalog_import_measured(cat, test_data("h100-sxm-80gb.layers.jsonl"), &rows, &err), FL_OK);
    const char *ok = "{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"seconds\": 0.1, \"gpu\": \"h100\"}\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s{\"kind\": \"gemm\", \"m\": 1,\n", ok, ok);
    expect_meas_fail(cat, buf, FL_EPARSE, "line 3", "malformed JSON");
    snprintf(buf, sizeof buf, "%s[1, 2, 3]\n", ok);
    expect_meas_fail(cat, buf, FL_EPARSE, "line 2", "object");
    expect_meas_fail(cat, "{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"seconds\": 0.1, \"gpu\": \"TPU v5e\"}\n",
                     FL_ENOTFOUND, "TPU v5e", "line 1");
    expect_meas_fail(cat, "{\"kind\": \"env\", \"gpu\": \"Quantum 9000\"}\n", FL_ENOTFOUND, "Quantum 9000", NULL);
    expect_meas_fail(cat, "{\"kind\": \"decode\", \"model\": \"gpt-9\", \"batch\": 1, \"context\": 8, \"seconds\": 1, "
                          "\"gpu\": \"h100\"}\n", FL_ENOTFOUND, "gpt-9", NULL);
    expect_meas_fail(cat, "{\"m\": 1, \"gpu\": \"h100\"}\n", FL_EINVAL, "\"kind\"", NULL);
    expect_meas_fail(cat, "{\"kind\": \"warp\", \"gpu\": \"h100\"}\n", FL_EINVAL, "warp", NULL);
    expect_meas_fail(cat, "{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"gpu\": \"h100\"}\n", FL_EINVAL,
                     "\"seconds\"", NULL);
    expect_meas_fail(cat, "{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"seconds\": -1, \"gpu\": \"h100\"}\n",
                     FL_EINVAL, "seconds", "positive");
    expect_meas_fail(cat, "{\"kind\": \"gemm\", \"m\": 1.5, \"n\": 2, \"k\": 3, \"seconds\": 1, \"gpu\": \"h100\"}\n",
                     FL_EINVAL, "\"m\"", NULL);
    expect_meas_fail(cat, "{\"kind\": \"layer\", \"h\": \"big\", \"gpu\": \"h100\"}\n", FL_EINVAL, "\"h\"", NULL);
    expect_meas_fail(cat, "{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"seconds\": 1, \"gpu\": 7}\n", FL_EINVAL,
                     "gpu", NULL);
    expect_meas_fail(cat, "{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"seconds\": 1}\n", FL_EINVAL,
                     "no \"gpu\"", NULL);
    expect_meas_fail(cat, "{\"kind\": \"env\", \"gpu\": \"h100\"}\n\n", FL_EINVAL, "no measurement", NULL);
    expect_meas_fail(cat, "", FL_EINVAL, "no measurement", NULL);
    expect_meas_fail(cat, NULL, FL_EIO, NULL, NULL);
    /* schema v2 rows */
    const char *ti = "{\"kind\": \"train_iter\", \"gpu\": \"h100\", \"model\": \"g\", \"layers\": 2, \"h\": 64, "
                     "\"a\": 4, \"s\": 128, \"b\": 1, ";
    snprintf(buf, sizeof buf, "%s\"vocab\": 100, \"grad_accum\": 1, \"framework\": \"jax\", \"iter_s\": 1}\n", ti);
    expect_meas_fail(cat, buf, FL_EINVAL, "framework", "jax");
    snprintf(buf, sizeof buf, "%s\"grad_accum\": 1, \"framework\": \"megatron\", \"iter_s\": 1}\n", ti);
    expect_meas_fail(cat, buf, FL_EINVAL, "\"vocab\"", "line 1");
    snprintf(buf, sizeof buf, "%s\"vocab\": 100, \"grad_accum\": 1, \"framework\": \"megatron\", \"oom\": true, "
             "\"iter_s\": 1}\n", ti);
    expect_meas_fail(cat, buf, FL_EINVAL, "iter_s", "out-of-memory");
    snprintf(buf, sizeof buf, "%s\"vocab\": 100, \"grad_accum\": 1, \"framework\": \"megatron\"}\n", ti);
    expect_meas_fail(cat, buf, FL_EINVAL, "\"iter_s\"", NULL);
    snprintf(buf, sizeof buf, "%s\"vocab\": 100, \"grad_accum\": 1, \"framework\": \"megatron\", \"iter_s\": 1, "
             "\"recompute\": \"yes\"}\n", ti);
    expect_meas_fail(cat, buf, FL_EINVAL, "recompute", "true or false");
    expect_meas_fail(cat, "{\"kind\": \"layer\", \"gpu\": \"h100\", \"h\": 64, \"a\": 4, \"s\": 8, \"b\": 1, "
                          "\"tp\": 3, \"fwd_s\": 1}\n", FL_EINVAL, "tp 3", NULL);
    expect_meas_fail(cat, "{\"kind\": \"layer\", \"gpu\": \"h100\", \"h\": 64, \"a\": 4, \"s\": 8, \"b\": 1, "
                          "\"attention\": \"sparse\", \"fwd_s\": 1}\n", FL_EINVAL, "attention", "sparse");
    expect_meas_fail(cat, "{\"kind\": \"layer\", \"gpu\": \"h100\", \"h\": 64, \"a\": 4, \"s\": 8, \"b\": 1, "
                          "\"fwd_s\": 1, \"fwdbwd_s\": 0.5}\n", FL_EINVAL, "fwdbwd_s_per_layer", NULL);
    expect_meas_fail(cat, "{\"kind\": \"gemm\", \"gpu\": \"h100\", \"m\": 1, \"n\": 2, \"k\": 3, \"dtype\": \"fp13\", "
                          "\"seconds\": 1}\n", FL_EINVAL, "dtype", "fp13");
    expect_meas_fail(cat, "{\"kind\": \"allreduce\", \"gpu\": \"h100\", \"bytes\": 8, \"gpus\": 1, \"seconds\": 1}\n",
                     FL_EINVAL, "gpus", NULL);
    expect_meas_fail(cat, "{\"kind\": \"optimizer_step\", \"gpu\": \"h100\", \"params\": 0, \"seconds\": 1}\n",
                     FL_EINVAL, "params", NULL);
    expect_meas_fail(cat, "{\"kind\": \"optimizer_step\", \"gpu\": \"h100\", \"params\": 10, \"impl\": \"turbo\", "
                          "\"seconds\": 1}\n", FL_EINVAL, "impl", "turbo");
    expect_meas_fail(cat, "{\"kind\": \"decode_step\", \"gpu\": \"h100\", \"model\": \"llama2-7b\", \"batch\": 1, "
                          "\"context\": 8, \"oom\": true, \"seconds\": 1}\n", FL_EINVAL, "seconds", "out-of-memory");
    expect_meas_fail(cat, "{\"kind\": \"prefill\", \"gpu\": \"h100\", \"model\": \"llama2-7b\", \"b\": 1, "
                          "\"prompt\": 8, \"tp\": 3, \"seconds\": 1}\n", FL_EINVAL, "tp 3", NULL);
    expect_meas_fail(cat, "{\"kind\": \"train_iter\", \"gpu\": \"h100\", \"model\": \"g\", \"layers\": 2, \"h\": 0, "
                          "\"a\": 4, \"s\": 128, \"b\": 1, \"vocab\": 9, \"grad_accum\": 1, \"iter_s\": 1, "
                          "\"framework\": \"megatron\"}\n", FL_EINVAL, "\"h\"", NULL);
    expect_meas_fail(cat, "{\"kind\": \"layer\", \"gpu\": \"h100\", \"h\": 64, \"a\": 4, \"s\": 8, \"b\": 1, "
                          "\"activation\": \"relu\", \"fwd_s\": 1}\n", FL_EINVAL, "activation", "relu");
    assert_int_equal(fl_catalog_import_measured(NULL, "x", NULL, &err), FL_EMISUSE);
    fl_catalog_free(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nsmi_fixture),
        cmocka_unit_test(test_nsmi_names_and_replace),
        cmocka_unit_test(test_nsmi_multi_gpu_hostname_nvlink),
        cmocka_unit_test(test_nsmi_truncated),
        cmocka_unit_test(test_nsmi_bad_files),
        cmocka_unit_test(test_offerings_extracts_match_builtin),
        cmocka_unit_test(test_offerings_small_file_rules),
        cmocka_unit_test(test_offerings_gcp_azure_lambda_rules),
        cmocka_unit_test(test_offerings_bad_inputs),
        cmocka_unit_test(test_file_catalog_rollback_and_persist),
        cmocka_unit_test(test_measured_fixture),
        cmocka_unit_test(test_measured_env_default_and_decode),
        cmocka_unit_test(test_measured_bad_inputs),
        cmocka_unit_test(test_measured_models_v2),
        cmocka_unit_test(test_measured_v2_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
